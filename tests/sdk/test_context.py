"""customer / section / agent / tool / run: nesting, async, generators, threads."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars

import llmobserve
import openai
import pytest
from llmobserve import context

from .helpers import drain

pytestmark = pytest.mark.timeout(30)
MSG = [{"role": "user", "content": "hi"}]


def path() -> str | None:
    return context.current().section_path


def test_nesting_sync_path_and_run():
    @llmobserve.tool("web_search")
    def search() -> tuple[str | None, str | None]:
        return path(), context.current().run_id

    @llmobserve.agent("research")
    def research() -> tuple[str | None, str | None]:
        return search()

    p, run_id = research()
    assert p == "agent:research/tool:web_search" and run_id
    _, run2 = research()
    assert run2 != run_id  # fresh run per top-level agent call
    with llmobserve.run("r-1"):
        assert research()[1] == "r-1"
    assert path() is None and context.current().run_id is None


def test_customer_and_section():
    with llmobserve.customer("acme"), llmobserve.section("batch:nightly"):
        assert context.current().customer_id == "acme" and path() == "batch:nightly"
    assert context.current().customer_id is None
    ctx = contextvars.copy_context()
    ctx.run(llmobserve.set_customer_id, "globex")
    assert ctx.run(lambda: context.current().customer_id) == "globex"
    assert context.current().customer_id is None


def test_decorators_async_and_generators():
    @llmobserve.tool
    async def fetch() -> str | None:
        await asyncio.sleep(0)
        return path()

    @llmobserve.agent("a")
    async def agent_async() -> str | None:
        return await fetch()

    @llmobserve.agent("gen")
    def agent_gen():
        x = yield path()
        yield f"{x}:{path()}"

    @llmobserve.agent("agen")
    async def agent_agen():
        yield path()
        await asyncio.sleep(0)
        yield path()

    assert asyncio.run(agent_async()) == "agent:a/tool:fetch"
    g = agent_gen()
    assert next(g) == "agent:gen"
    assert path() is None  # not leaked across the yield
    assert g.send("sent") == "sent:agent:gen"
    g.close()

    async def consume() -> list[str | None]:
        return [p async for p in agent_agen()]

    assert asyncio.run(consume()) == ["agent:agen", "agent:agen"]


def test_generator_resumed_in_other_context_never_raises():
    def gen():
        with llmobserve.section("s"):
            yield 1
            yield 2

    g = gen()
    contextvars.copy_context().run(next, g)
    # resume and finish it from a different Context: a plain token reset would raise ValueError
    ctx = contextvars.copy_context()
    ctx.run(next, g)
    ctx.run(g.close)

    @llmobserve.tool("t")
    def tool_gen():
        yield 1
        raise KeyError("boom")

    tg = tool_gen()
    next(tg)
    with pytest.raises(KeyError):
        contextvars.copy_context().run(next, tg)


def test_thread_pool_and_tasks_carry_context(sdk, providers):
    client = openai.OpenAI(base_url=providers["openai"].url + "/v1", api_key="k")

    @llmobserve.tool("parallel")
    def fan_out() -> None:
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda _: client.chat.completions.create(model="m", messages=MSG), range(2)))

    async def in_task() -> None:
        aclient = openai.AsyncOpenAI(base_url=providers["openai"].url + "/v1", api_key="k")
        with llmobserve.section("task"):
            await asyncio.gather(
                *(asyncio.create_task(aclient.chat.completions.create(model="m", messages=MSG)) for _ in range(2))
            )
        await aclient.close()

    with llmobserve.customer("acme"), llmobserve.run("run-7"):
        llmobserve.agent("boss")(fan_out)()
        asyncio.run(in_task())
    events = drain(sdk, 4)
    paths = sorted(e["section_path"] for e in events)
    assert paths == ["agent:boss/tool:parallel"] * 2 + ["task"] * 2
    assert {e["customer_id"] for e in events} == {"acme"}
    assert {e["run_id"] for e in events} == {"run-7"}
    parents = {e["parent_span_id"] for e in events if e["section_path"].startswith("agent")}
    assert len(parents) == 1 and None not in parents


def test_wrap_all_tools_plain_and_object():
    def lookup(q: str) -> str | None:
        return path()

    class FakeTool:  # LangChain-style: name + _run
        name = "calc"

        def _run(self, x: int) -> str | None:
            return path()

        def invoke(self, x: int) -> str | None:
            return self._run(x)

    class Runnable:  # invoke-only object (a LangChain Runnable, say)
        name = "rnbl"

        def invoke(self, x: int) -> str | None:
            return path()

    wrapped_fn, obj, rn = llmobserve.wrap_all_tools([lookup, FakeTool(), Runnable()])
    assert wrapped_fn("q") == "tool:lookup"
    assert obj.invoke(1) == "tool:calc"
    assert isinstance(obj, FakeTool)
    assert rn.invoke(1) == "tool:rnbl" and isinstance(rn, Runnable)
    assert llmobserve.wrap_all_tools([obj])[0].invoke(1) == "tool:calc"  # wrapping twice: no double segment


def test_a_top_level_agent_section_is_an_agent_with_its_own_run():
    @llmobserve.agent("research")
    def decorated() -> context.State:
        return context.current()

    with llmobserve.section("agent:research") as first:
        inside = context.current()
    with llmobserve.section("agent:research") as second:
        pass
    by_decorator = decorated()
    assert inside.section_path == by_decorator.section_path == "agent:research"
    assert first.run_id and second.run_id and first.run_id != second.run_id  # a fresh run each time, like @agent
    assert first.parent_span_id and first.parent_span_id != second.parent_span_id
    with llmobserve.run("r-9"), llmobserve.section("agent:research") as in_run:
        assert in_run.run_id == "r-9"  # inside run(): that run, as @agent
    with llmobserve.section("batch:nightly") as plain:
        assert plain.run_id is None  # other sections do not start runs
    assert context.current().run_id is None and path() is None


def test_calls_in_an_agent_section_carry_its_run(sdk, providers):
    client = openai.OpenAI(base_url=providers["openai"].url + "/v1", api_key="k")
    with llmobserve.section("agent:writer"):
        client.chat.completions.create(model="gpt-4o-mini", messages=MSG)
    with llmobserve.section("agent:writer"):
        client.chat.completions.create(model="gpt-4o-mini", messages=MSG)
    events = drain(sdk, 2)
    assert [e["section_path"] for e in events] == ["agent:writer", "agent:writer"]
    assert all(e["run_id"] for e in events) and events[0]["run_id"] != events[1]["run_id"]
