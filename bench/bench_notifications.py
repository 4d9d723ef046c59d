"""Notification delivery: webhooks sent per second to a local receiver that answers at once or after 50 ms
(a real receiver's latency), one at a time vs 4 in flight, by one deliverer and by two racing; and the cost of
the idle poll the job makes every 5 seconds (nothing due). SQLite, and PostgreSQL with --postgres.

    .venv/bin/python bench/bench_notifications.py                 # 500 webhooks a case, SQLite (make bench)
    .venv/bin/python bench/bench_notifications.py --rows 1000 --postgres
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("LLMOBSERVE_DATA_DIR", tempfile.mkdtemp(prefix="llmo-bench-notify-"))
os.environ.setdefault("JWT_SECRET", "bench-" + uuid.uuid4().hex * 2)

import sqlalchemy as sa  # noqa: E402

from llmobserve_app.db import get_engine, migrate, session_scope  # noqa: E402
from llmobserve_app.models import Notification, User, utcnow  # noqa: E402
from llmobserve_app.services.notifications import DeliveryConfig, deliver_due, enqueue  # noqa: E402
from tests.services.notifications.fakes import FakeReceiver  # noqa: E402

POSTGRES_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def _fill(engine: sa.Engine, tenant: int, url: str, rows: int, offset: int) -> None:
    now = utcnow()
    with session_scope(engine) as session:
        for n in range(rows):
            enqueue(session, tenant_id=tenant, source_kind="bench", source_id=offset + n, channel="webhook",
                    target=url, subject="Cap exceeded", payload={"cap_id": n, "spend_usd": "0.11"}, now=now)


def _deliver(engine: sa.Engine, deliverers: int, concurrency: int) -> tuple[float, int]:
    config = DeliveryConfig(timeout_seconds=5)
    sent = [0] * deliverers
    barrier = threading.Barrier(deliverers)

    def work(index: int) -> None:
        barrier.wait()
        while (report := deliver_due(engine, config, utcnow(), max_rows=10_000, budget_seconds=600,
                                           concurrency=concurrency)).handled:
            sent[index] += report.sent

    threads = [threading.Thread(target=work, args=(i,)) for i in range(deliverers)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, sum(sent)


def run(url: str, rows: int) -> None:
    migrate(url)
    engine = get_engine(url)
    with session_scope(engine) as session:
        user = User(email=f"bench-{uuid.uuid4().hex[:8]}@example.com", name="Bench", password_hash="-")
        session.add(user)
        session.flush()
        tenant = user.id
    print(f"== {engine.dialect.name}")
    offset = 0
    for delay in (0.0, 0.05):
        with FakeReceiver(delay_seconds=delay) as receiver:
            for deliverers, concurrency in ((1, 1), (1, 4), (2, 4)):
                count = rows if delay == 0 else rows // 5
                _fill(engine, tenant, receiver.url, count, offset)
                offset += count
                seconds, sent = _deliver(engine, deliverers, concurrency)
                assert sent == count, "a row was not sent"
                print(f"receiver {delay * 1e3:.0f} ms, {deliverers} deliverer(s) x {concurrency} in flight: "
                      f"{sent} in {seconds:.2f} s = {sent / seconds:,.0f}/s")
            assert len({r.headers["x-llmobserve-delivery"] for r in receiver.requests}) == len(receiver.requests)
    config = DeliveryConfig()
    polls = 500
    started = time.perf_counter()
    for _ in range(polls):
        deliver_due(engine, config, utcnow())
    print(f"idle poll (nothing due, {offset} sent rows in the table): "
          f"{(time.perf_counter() - started) / polls * 1e6:,.0f} µs")
    with engine.begin() as connection:
        connection.execute(sa.delete(Notification.__table__))
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=500)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="llmo-bench-notify-") as folder:
        run(f"sqlite:///{folder}/bench.db", args.rows)
    if args.postgres:
        name = f"llmo_caps_delivery_bench_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            run(POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}", args.rows)
        finally:
            with admin.connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
