"""A langchain-openai chain inside @agent is captured with its section path."""

from __future__ import annotations

import llmobserve
import pytest

from .helpers import drain

pytestmark = pytest.mark.timeout(60)


def test_langchain_chain_inside_agent(sdk, providers):
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate
    from langchain_core.tools import tool as lc_tool
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(model="gpt-4o-mini", base_url=providers["openai"].url + "/v1", api_key="sk-test", max_retries=0)
    chain = ChatPromptTemplate.from_messages([("user", "{q}")]) | llm | StrOutputParser()

    @lc_tool
    def summarise(text: str) -> str:
        """Summarise text with the LLM."""
        return llm.invoke(text).content

    (summarise_wrapped,) = llmobserve.wrap_all_tools([summarise])

    @llmobserve.agent("research")
    def research() -> str:
        out = chain.invoke({"q": "hi"})
        summarise_wrapped.invoke({"text": out})
        return out

    assert research() == "Hello there!"
    events = drain(sdk, 2)
    assert sorted(e["section_path"] for e in events) == ["agent:research", "agent:research/tool:summarise"]
    assert all(e["usage"]["input_tokens"] == 19 for e in events)
    assert len({e["run_id"] for e in events}) == 1
