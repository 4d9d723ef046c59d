"""Who/what a call is made for: customer, section path, run — carried in one ContextVar.

A single immutable ``State`` keeps set/reset cheap and lets us carry it into threads.
Contexts flow through asyncio tasks natively; ``ThreadPoolExecutor.submit`` is taught to
carry it (see ``install_thread_propagation``). Every reset tolerates being done from another
context (generators resumed elsewhere), so leaving a context never raises.
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import functools
import inspect
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from typing import Any, NamedTuple, TypeVar

from .ids import new_id

F = TypeVar("F", bound=Callable[..., Any])


class State(NamedTuple):
    customer_id: str | None = None
    path: tuple[str, ...] = ()
    run_id: str | None = None
    parent_span_id: str | None = None

    @property
    def section_path(self) -> str | None:
        return "/".join(self.path) if self.path else None

    def agents(self) -> Iterator[str]:
        for seg in self.path:
            if seg.startswith("agent:"):
                yield seg[6:]


_EMPTY = State()
_state: contextvars.ContextVar[State] = contextvars.ContextVar("llmobserve_state", default=_EMPTY)


def current() -> State:
    return _state.get()


def _set(state: State) -> tuple[contextvars.Token[State], State]:
    return _state.set(state), _state.get()


def _restore(token: contextvars.Token[State], previous: State) -> None:
    """Reset, falling back to setting the old value if the token belongs to another context."""
    try:
        _state.reset(token)
    except (ValueError, RuntimeError):
        with suppress(Exception):  # never raise into the host
            _state.set(previous)


@contextmanager
def _scoped(state: State) -> Iterator[State]:
    previous = _state.get()
    token = _state.set(state)
    try:
        yield state
    finally:
        _restore(token, previous)


# ---- customer ---------------------------------------------------------------------------------


def set_customer_id(customer_id: str | None) -> None:
    """Attribute subsequent calls in this context (thread / task and its children) to a customer."""
    _state.set(_state.get()._replace(customer_id=None if customer_id is None else str(customer_id)))


def customer(customer_id: str | None) -> AbstractContextManager[State]:
    """``with customer("acme"):`` attribute calls inside the block to a customer."""
    return _scoped(_state.get()._replace(customer_id=None if customer_id is None else str(customer_id)))


# ---- sections, runs ---------------------------------------------------------------------------


def _push(state: State, segment: str, new_span: bool) -> State:
    return state._replace(
        path=(*state.path, segment),
        parent_span_id=new_id() if new_span else state.parent_span_id,
    )


AGENT_PREFIX = "agent:"


def section(name: str) -> AbstractContextManager[State]:
    """``with section("batch:nightly"):`` append a segment to the section path.

    ``section("agent:research")`` is an agent exactly like ``@agent("research")``: outside a run it starts one.
    """
    name = str(name)
    if name.startswith(AGENT_PREFIX):
        return _scoped(_enter_state("agent", name[len(AGENT_PREFIX):]))
    return _scoped(_push(_state.get(), name, new_span=False))


def run(run_id: str | None = None) -> AbstractContextManager[State]:
    """``with run():`` group every call inside into one run (a fresh id unless given)."""
    return _scoped(_state.get()._replace(run_id=run_id or new_id()))


def _enter_state(kind: str, name: str) -> State:
    state = _push(_state.get(), f"{kind}:{name}", new_span=True)
    if kind == "agent" and state.run_id is None:
        state = state._replace(run_id=new_id())  # a fresh run per top-level agent call
    return state


def _wrap_sync_gen(gen: Any, state: State) -> Any:
    """Drive ``gen`` step by step, entering ``state`` only while it runs (never across a yield)."""
    send_value: Any = None
    throw_exc: BaseException | None = None
    while True:
        previous = _state.get()
        token = _state.set(state)
        try:
            if throw_exc is not None:
                exc, throw_exc = throw_exc, None
                item = gen.throw(exc)
            else:
                item = gen.send(send_value)
        except StopIteration as stop:
            return stop.value
        finally:
            _restore(token, previous)
        try:
            send_value = yield item
        except GeneratorExit:
            gen.close()
            raise
        except BaseException as exc:  # forwarded into the wrapped generator
            throw_exc = exc


async def _wrap_async_gen(agen: Any, state: State) -> Any:
    send_value: Any = None
    throw_exc: BaseException | None = None
    while True:
        previous = _state.get()
        token = _state.set(state)
        try:
            if throw_exc is not None:
                exc, throw_exc = throw_exc, None
                item = await agen.athrow(exc)
            else:
                item = await agen.asend(send_value)
        except StopAsyncIteration:
            return
        finally:
            _restore(token, previous)
        try:
            send_value = yield item
        except GeneratorExit:
            await agen.aclose()
            raise
        except BaseException as exc:  # forwarded into the wrapped generator
            throw_exc = exc


def _decorator(kind: str, name: str | Callable[..., Any] | None) -> Any:
    def decorate(fn: F, label: str | None = None) -> F:
        label = label or getattr(fn, "__name__", None) or kind
        if inspect.isasyncgenfunction(fn):

            @functools.wraps(fn)
            def agen_wrapper(*args: Any, **kwargs: Any) -> Any:
                state = _enter_state(kind, label)
                with _scoped(state):
                    agen = fn(*args, **kwargs)
                return _wrap_async_gen(agen, state)

            return agen_wrapper  # type: ignore[return-value]
        if inspect.isgeneratorfunction(fn):

            @functools.wraps(fn)
            def gen_wrapper(*args: Any, **kwargs: Any) -> Any:
                state = _enter_state(kind, label)
                with _scoped(state):
                    gen = fn(*args, **kwargs)
                return (yield from _wrap_sync_gen(gen, state))

            return gen_wrapper  # type: ignore[return-value]
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                with _scoped(_enter_state(kind, label)):
                    return await fn(*args, **kwargs)

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with _scoped(_enter_state(kind, label)):
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    if callable(name):  # used bare: @agent
        return decorate(name)
    return lambda fn: decorate(fn, name)


def agent(name: str | None = None) -> Callable[[F], F]:
    """``@agent("research")``: calls inside are under ``agent:research``; starts a run if none."""
    return _decorator("agent", name)


def tool(name: str | None = None) -> Callable[[F], F]:
    """``@tool("web_search")``: calls inside are under ``.../tool:web_search``."""
    return _decorator("tool", name)


def wrap_all_tools(tools: Any) -> list[Any]:
    """Wrap plain callables and LangChain-style tool objects so their calls get ``tool:<name>``.

    Plain callables are returned wrapped; tool objects (with ``_run``/``_arun`` or ``func``/
    ``coroutine``) are patched in place and returned, so ``isinstance`` checks still hold.
    """
    out = []
    for t in tools:
        name = getattr(t, "name", None) or getattr(t, "__name__", None) or type(t).__name__
        attrs = ("_run", "_arun") if hasattr(t, "_run") or hasattr(t, "_arun") else ("invoke", "ainvoke")
        patched = False
        if hasattr(t, attrs[0]) or hasattr(t, attrs[1]):
            for attr in attrs:
                impl = getattr(t, attr, None)
                if callable(impl) and not getattr(impl, "__llmobserve__", False):
                    wrapped = tool(name)(impl)
                    wrapped.__llmobserve__ = True
                    with suppress(Exception):
                        object.__setattr__(t, attr, wrapped)
                        patched = True
        if patched or not callable(t):
            out.append(t)
        else:
            out.append(tool(name)(t))
    return out


# ---- threads ----------------------------------------------------------------------------------

_patched_submit: Any = None


def _carry(state: State, fn: Callable[..., Any]) -> Callable[..., Any]:
    def run_with_state(*args: Any, **kwargs: Any) -> Any:
        with _scoped(state):
            return fn(*args, **kwargs)

    return run_with_state


def install_thread_propagation() -> None:
    """Make ``ThreadPoolExecutor.submit`` run the work in the submitter's llmobserve state."""
    global _patched_submit
    pool = concurrent.futures.ThreadPoolExecutor
    if _patched_submit is not None and pool.submit is _patched_submit:
        return
    original = pool.submit  # captured in the closure: a stale reference keeps working

    def submit(self: Any, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        state = _state.get()
        if state is not _EMPTY:
            fn = _carry(state, fn)
        return original(self, fn, *args, **kwargs)

    submit.__wrapped__ = original  # type: ignore[attr-defined]
    pool.submit = submit  # type: ignore[method-assign]
    _patched_submit = submit


def uninstall_thread_propagation() -> None:
    global _patched_submit
    pool = concurrent.futures.ThreadPoolExecutor
    if _patched_submit is not None and pool.submit is _patched_submit:
        pool.submit = _patched_submit.__wrapped__  # type: ignore[method-assign]
    _patched_submit = None
