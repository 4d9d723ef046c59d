"""AutoGen (autogen-agentchat with autogen-ext's OpenAI client), the real packages against the local fake provider:
an AssistantAgent's model calls and its tool's calls are attributed to the agent and its tool, in one run."""

from __future__ import annotations

import asyncio

import llmobserve
import openai
import pytest

from .helpers import drain

pytestmark = pytest.mark.timeout(60)


def test_autogen_assistant_inside_an_agent_section(sdk, providers):
    from autogen_agentchat.agents import AssistantAgent
    from autogen_ext.models.openai import OpenAIChatCompletionClient

    base_url = providers["openai"].url + "/v1"
    lookup_client = openai.OpenAI(base_url=base_url, api_key="sk-test", max_retries=0)

    def look_up(question: str) -> str:
        """Look something up with the LLM."""
        return lookup_client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": question}]).choices[0].message.content

    (look_up_tool,) = llmobserve.wrap_all_tools([look_up])

    async def main() -> str:
        model = OpenAIChatCompletionClient(model="gpt-4o-mini", base_url=base_url, api_key="sk-test", max_retries=0)
        assistant = AssistantAgent("planner", model_client=model)
        with llmobserve.section("agent:planner"):
            result = await assistant.run(task="Plan my day")
            look_up_tool("what is on today?")
        await model.close()
        return result.messages[-1].content

    assert asyncio.run(main()) == "Hello there!"
    events = drain(sdk, 2)
    assert sorted(e["section_path"] for e in events) == ["agent:planner", "agent:planner/tool:look_up"]
    assert all(e["provider"] == "openai" and e["usage"]["input_tokens"] == 19 for e in events)
    assert len({e["run_id"] for e in events}) == 1 and events[0]["run_id"]
