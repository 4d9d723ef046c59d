"""Engine, sessions and migrations. ``python -m llmobserve_app.db upgrade`` brings a database up to date."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlmodel import Session, create_engine

from llmobserve_app.settings import get_settings

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


# WAL with synchronous=NORMAL (SQLite's recommended setting for WAL): a commit is written to the WAL file
# before COMMIT returns, so it survives a crash of the process (the OS keeps the written pages), but the WAL
# is fsynced only when a checkpoint starts, so a power cut (or a kernel crash) can roll back the last
# transactions — acknowledged ingest batches included. SQLITE_SYNCHRONOUS=FULL fsyncs the WAL at every
# commit (one per group of batches on the ingest writer): nothing acknowledged is lost to a power cut either.
# Checkpointing every 10,000 pages (default 1,000) lets a busy ingest write the WAL in long sequential runs
# instead of copying it back to the database every few batches (docs/BENCHMARKS.md).
# SQLite's page cache is private to each connection and stays allocated while the connection is open. The
# ingest writer's one connection gets 32 MiB, which keeps the hot index pages of ingest in memory. Every other
# connection keeps SQLite's default 2 MiB: the web process's pool holds one connection per thread that ran a
# query (up to 5 idle ones), the OS page cache already holds the file's hot pages once for all of them, and at
# 32 MiB each they grew the backend worker by ~100 MiB after a round of the analytics pages at 1M events with
# no faster page queries (docs/BENCHMARKS.md, issue 14).
SQLITE_PRAGMAS = ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=10000",
                  "cache_size=-2000", "wal_autocheckpoint=10000")
WRITER_CACHE_PRAGMA = "cache_size=-32768"


def sqlite_pragmas(*, writer: bool = False) -> tuple[str, ...]:
    """The pragmas every SQLite connection of the app runs, ``synchronous`` as configured; ``writer``: the
    ingest writer's connection, with the larger page cache."""
    replaced = {"synchronous": f"synchronous={get_settings().sqlite_synchronous}"}
    if writer:
        replaced["cache_size"] = WRITER_CACHE_PRAGMA
    return tuple(replaced.get(pragma.split("=")[0], pragma) for pragma in SQLITE_PRAGMAS)


def _enable_sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in sqlite_pragmas():
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


@lru_cache(maxsize=8)
def get_engine(database_url: str | None = None) -> sa.Engine:
    """One engine per URL (the app uses the settings' URL; tests pass their own)."""
    url = make_url(database_url or get_settings().database_url)
    if url.get_backend_name() == "sqlite":
        if url.database:
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})
        sa.event.listen(engine, "connect", _enable_sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


@contextmanager
def session_scope(engine: sa.Engine | None = None) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error: nothing is half-written."""
    with Session(engine or get_engine(), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def _alembic_config(database_url: str):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def migrate(database_url: str | None = None) -> None:
    """Apply every Alembic migration (idempotent)."""
    from alembic import command

    url = database_url or get_settings().database_url
    get_engine(url)  # creates the SQLite folder if needed
    command.upgrade(_alembic_config(url), "head")


def insert_for(dialect_name: str) -> Callable:
    """``INSERT … ON CONFLICT`` for the database at hand (SQLite and PostgreSQL spell it the same)."""
    return postgresql.insert if dialect_name == "postgresql" else sqlite.insert


def _main(argv: list[str]) -> int:
    from alembic import command

    usage = "usage: python -m llmobserve_app.db upgrade | revision MESSAGE"
    if not argv:
        print(usage, file=sys.stderr)
        return 2
    url = get_settings().database_url
    if argv[0] == "upgrade":
        migrate(url)
        print(f"database is up to date: {make_url(url).render_as_string(hide_password=True)}")
        return 0
    if argv[0] == "revision" and len(argv) == 2:
        migrate(url)
        command.revision(_alembic_config(url), message=argv[1], autogenerate=True)
        return 0
    print(usage, file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
