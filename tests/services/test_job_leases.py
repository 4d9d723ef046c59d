"""The job lease: one holder at a time for a name, renewed by its holder, taken over once expired."""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from llmobserve_app.jobs import LEASE_NAME, JobLeaseHolder
from llmobserve_app.models import JobLease
from llmobserve_app.services import leases

LONG = timedelta(minutes=5)


def _name() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


def test_one_holder_at_a_time_until_it_releases(engine) -> None:
    name = _name()
    assert leases.claim(engine, name, "a", LONG)
    assert not leases.claim(engine, name, "b", LONG)
    assert leases.claim(engine, name, "a", LONG)  # the holder renews
    assert leases.current_holder(engine, name) == "a"
    leases.release(engine, name, "b")  # not b's to give up
    assert leases.current_holder(engine, name) == "a"
    leases.release(engine, name, "a")
    assert leases.claim(engine, name, "b", LONG)
    assert not leases.claim(engine, name, "a", LONG)


def test_an_expired_lease_is_taken_over_and_the_old_holder_cannot_renew_it(engine) -> None:
    name = _name()
    assert leases.claim(engine, name, "a", timedelta(seconds=0.3))
    assert not leases.claim(engine, name, "b", LONG)
    time.sleep(0.5)
    assert leases.current_holder(engine, name) is None
    assert leases.claim(engine, name, "b", LONG)
    assert not leases.claim(engine, name, "a", LONG)
    assert leases.current_holder(engine, name) == "b"


def _race(engine: sa.Engine, name: str, claimants: int = 8) -> list[str]:
    """``claimants`` threads (one connection each) claim ``name`` at the same instant; returns the winners."""
    barrier = threading.Barrier(claimants)

    def attempt(holder: str) -> str | None:
        barrier.wait(timeout=10)
        return holder if leases.claim(engine, name, holder, LONG) else None

    with ThreadPoolExecutor(claimants) as pool:
        return [holder for holder in pool.map(attempt, [f"h{n}" for n in range(claimants)]) if holder]


def test_claimants_racing_for_a_new_lease_never_both_win(engine) -> None:
    for _ in range(5):
        assert len(_race(engine, _name())) == 1


def test_claimants_racing_for_an_expired_lease_never_both_win(engine) -> None:
    for _ in range(5):
        name = _name()
        with engine.begin() as connection:
            connection.execute(sa.insert(JobLease.__table__).values(
                name=name, holder="dead", expires_at=datetime.now(UTC) - timedelta(seconds=1)))
        winners = _race(engine, name)
        assert len(winners) == 1 and leases.current_holder(engine, name) == winners[0]


def test_scheduled_jobs_run_in_the_one_process_holding_the_lease(engine) -> None:
    runs: list[str] = []
    first, second = JobLeaseHolder(engine), JobLeaseHolder(engine)
    try:
        first.run(lambda: runs.append("first"))
        second.run(lambda: runs.append("second"))
        first.run(lambda: runs.append("first"))
        assert runs == ["first", "first"] and first.held and not second.held
        first.release()  # a worker that stops hands over at once
        second.run(lambda: runs.append("second"))
        first.run(lambda: runs.append("first"))
        assert runs == ["first", "first", "second"]
    finally:
        first.release()
        second.release()
    assert leases.current_holder(engine, LEASE_NAME) is None
