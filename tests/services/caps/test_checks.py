"""After-batch checks of a tenant are coalesced: batches stored while an evaluation runs share the next one,
which starts only after all of them were stored (so none misses its own crossing)."""

from __future__ import annotations

import threading
import time

from llmobserve_app.services.caps.checks import CheckResult, Coalescer

KEY = ("db", 1)


def _wait(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.005)


def test_batches_stored_during_an_evaluation_share_the_next_one() -> None:
    coalescer: Coalescer[str] = Coalescer()
    release = threading.Event()
    evaluated: list[list[str]] = []
    results: dict[str, CheckResult] = {}

    def evaluate(batches: list[str]) -> CheckResult:
        evaluated.append(batches)
        if len(evaluated) == 1:
            release.wait(10)
        return CheckResult()

    def batch(customer: str) -> None:
        results[customer] = coalescer.run(KEY, customer, evaluate)

    first = threading.Thread(target=batch, args=("a",))
    first.start()
    _wait(lambda: len(evaluated) == 1)
    later = [threading.Thread(target=batch, args=(c,)) for c in ("b", "c")]
    for thread in later:
        thread.start()
    _wait(lambda: KEY in coalescer._waiting and len(coalescer._waiting[KEY].items) == 2)
    assert len(evaluated) == 1  # b and c wait: their evaluation must start after they were stored
    release.set()
    for thread in [first, *later]:
        thread.join(10)
    assert [set(batches) for batches in evaluated] == [{"a"}, {"b", "c"}]
    assert results["b"] is results["c"] and results["a"] is not results["b"]
    results.clear()
    batch("d")  # nothing running: evaluated at once, alone
    assert evaluated[-1] == ["d"]
    assert coalescer.keys() == 0  # no tenant is being checked: no lock is kept for any


def test_an_error_reaches_every_batch_of_the_round() -> None:
    coalescer: Coalescer[str] = Coalescer()

    def fail(_batches: list[str]) -> CheckResult:
        raise RuntimeError("database gone")

    try:
        coalescer.run(KEY, "a", fail)
    except RuntimeError as error:
        assert str(error) == "database gone"
    else:
        raise AssertionError("the error was swallowed")
    assert coalescer.run(KEY, "b", lambda _batches: CheckResult()).statuses == []
    assert coalescer.keys() == 0


def test_locks_of_idle_tenants_are_dropped_and_rounds_of_a_tenant_never_overlap() -> None:
    """Thousands of tenants leave no lock behind, and two rounds of one tenant never run at once even while
    locks come and go (a dropped lock must not let a round start beside the running one)."""
    coalescer: Coalescer[int] = Coalescer()
    running: dict[tuple[str, int], int] = {}
    overlaps: list[tuple[str, int]] = []
    guard = threading.Lock()

    def evaluate(key: tuple[str, int]):
        def run(_batches: list[int]) -> CheckResult:
            with guard:
                running[key] = running.get(key, 0) + 1
                if running[key] > 1:
                    overlaps.append(key)
            time.sleep(0.0005)
            with guard:
                running[key] -= 1
            return CheckResult()
        return run

    def worker(number: int) -> None:
        for batch in range(200):
            key = ("db", (number + batch) % 3)
            coalescer.run(key, batch, evaluate(key))
        for tenant in range(1000):
            coalescer.run(("db", 100 + tenant), tenant, evaluate(("db", 100 + tenant)))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert overlaps == []
    assert coalescer.keys() == 0
