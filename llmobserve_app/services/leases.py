"""Database leases: one holder at a time for a name, on any number of processes and machines.

A lease is one ``job_leases`` row (name, holder, expires_at). ``claim`` takes it when it is free or expired,
renews it when the caller already holds it, and refuses otherwise, in ONE statement (INSERT … ON CONFLICT DO
UPDATE … WHERE): PostgreSQL locks the row for the upsert and re-checks the condition on its latest version,
SQLite writes one statement at a time, so two claimants can never both succeed. On PostgreSQL times come from
the database's clock, so machines whose clocks disagree still agree on who holds a lease.
"""

from __future__ import annotations

import os
import secrets
import socket
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from llmobserve_app.db import insert_for
from llmobserve_app.models import JobLease, UTCDateTime

LEASES = JobLease.__table__


def new_holder() -> str:
    """A name for this process, unique across machines and restarts (host:pid:random)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def claim(engine: sa.Engine, name: str, holder: str, ttl: timedelta) -> bool:
    """Take or renew the lease ``name`` for ``holder`` until ``ttl`` from now; False when another holds it."""
    insert = insert_for(engine.dialect.name)
    if engine.dialect.name == "postgresql":
        now: sa.ColumnElement[datetime] = sa.func.clock_timestamp()
        expires: sa.ColumnElement[datetime] = now + sa.literal(ttl, sa.Interval())
    else:
        moment = datetime.now(UTC)
        now, expires = sa.literal(moment, UTCDateTime()), sa.literal(moment + ttl, UTCDateTime())
    statement = insert(LEASES).values(name=name, holder=holder, expires_at=expires)
    statement = statement.on_conflict_do_update(
        index_elements=[LEASES.c.name],
        set_={"holder": statement.excluded.holder, "expires_at": statement.excluded.expires_at},
        where=(LEASES.c.holder == holder) | (LEASES.c.expires_at <= now),
    ).returning(LEASES.c.holder)  # a row when inserted or updated (rowcount is not reported for upserts)
    with engine.begin() as connection:
        return connection.execute(statement).first() is not None


def release(engine: sa.Engine, name: str, holder: str) -> None:
    """Give the lease up (if ``holder`` still holds it), so another process can take it at once."""
    with engine.begin() as connection:
        connection.execute(sa.delete(LEASES).where(LEASES.c.name == name, LEASES.c.holder == holder))


def current_holder(engine: sa.Engine, name: str) -> str | None:
    """The holder of an unexpired lease ``name``, if any (for tests and diagnostics)."""
    with engine.connect() as connection:
        row = connection.execute(sa.select(LEASES.c.holder, LEASES.c.expires_at).where(LEASES.c.name == name)).first()
    return row.holder if row is not None and row.expires_at > datetime.now(UTC) else None


def held_count(engine: sa.Engine, prefix: str) -> int:
    """How many unexpired leases have a name starting with ``prefix`` (e.g. running background jobs)."""
    with engine.connect() as connection:
        return connection.execute(sa.select(sa.func.count()).where(
            LEASES.c.name.startswith(prefix, autoescape=True),
            LEASES.c.expires_at > datetime.now(UTC))).scalar_one()
