"""``INSERT … ON CONFLICT`` for the database at hand (SQLite and PostgreSQL spell it the same)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.dialects import postgresql, sqlite


def insert_for(dialect_name: str) -> Callable:
    return postgresql.insert if dialect_name == "postgresql" else sqlite.insert
