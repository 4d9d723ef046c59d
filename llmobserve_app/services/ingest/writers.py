"""Who else writes spend into this database: what lets a process trust spend it tracked in memory.

The after-batch caps check (``services/caps/headroom``) may answer from memory only while every change to a
tenant's spend since its last exact evaluation went through THIS process's own batches. Two signals, both
per database and both a syscall or two (no SQL):

- ``serve`` / ``alone``: a process that stores ingest batches for a SQLite file (the ingest API: every
  Granian worker) holds a shared POSIX lock on ``<database>-writers`` from before its first batch until it
  exits (the kernel drops it then, even on ``kill -9``). ``alone`` is true when no OTHER process holds it:
  a second worker, or a second server on the same file, makes it false before that process stores anything.
  PostgreSQL is never ``alone``: other machines cannot be seen, so every batch is evaluated exactly there.
  An in-memory SQLite database is private to its process: always ``alone``.
- ``stamp`` / ``changed_after_commit``: writes outside the ingest API (``ingest_events`` — the demo data and
  scripts —, a price recalculation, a rollup rebuild), in this process or another, write a new random stamp
  into that file once they commit; a stamp different from the one read before an exact evaluation means
  spend changed in a way this process did not add up.
"""

from __future__ import annotations

import fcntl
import os
import threading
import uuid
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event
from sqlmodel import Session

_STAMP_OFFSET, _STAMP_SIZE = 8, 16  # the lock covers byte 0; the stamp lives after it


@dataclass(eq=False)
class _WritersFile:
    """The open ``<database>-writers`` file of one database. Never closed: closing any descriptor of a file
    drops every POSIX lock the process holds on it."""

    fd: int
    pid: int  # a forked child inherits the descriptor but none of the locks: it opens its own
    serving: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


_files: dict[str, _WritersFile] = {}
_files_lock = threading.Lock()


@lru_cache(maxsize=64)
def _database_file(engine: sa.Engine) -> str | None:
    """The resolved path of a SQLite database file, None for PostgreSQL and in-memory SQLite."""
    url = engine.url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:") or "mode=memory" in str(url):
        return None
    return str(Path(url.database).resolve())


def _writers_file(engine: sa.Engine) -> _WritersFile | None:
    """None for a database without a file; OSError when the file cannot be opened (no such directory: the
    database cannot be written either)."""
    path = _database_file(engine)
    if path is None:
        return None
    found = _files.get(path)
    if found is None or found.pid != os.getpid():
        with _files_lock:
            found = _files.get(path)
            if found is None or found.pid != os.getpid():
                fd = os.open(path + "-writers", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
                found = _files[path] = _WritersFile(fd, os.getpid())
    return found


def serve(engine: sa.Engine) -> None:
    """Declare this process a writer of ingest batches for ``engine``'s database, for the rest of its life.
    Call before storing the first batch (then other processes stop answering from memory before it stores
    anything). Cheap when already declared."""
    try:
        writers = _writers_file(engine)
    except OSError:
        return  # the batch cannot be stored either: its write fails with the database's own error
    if writers is None or writers.serving:
        return
    with writers.lock:
        if not writers.serving:
            fcntl.lockf(writers.fd, fcntl.LOCK_SH, 1, 0)  # waits while another process tests ``alone``
            writers.serving = True


def alone(engine: sa.Engine) -> bool:
    """Whether no other process declared itself a writer of ingest batches for this database (``serve``)."""
    if engine.url.get_backend_name() != "sqlite":
        return False
    try:
        writers = _writers_file(engine)
    except OSError:
        return False  # cannot tell
    if writers is None:
        return True
    with writers.lock:  # this process's own lock must not change mode under another thread's test
        try:  # an exclusive lock is refused while another process holds its shared one
            fcntl.lockf(writers.fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 0)
        except OSError:
            return False
        # Back to what we held (POSIX converts in place, atomically): a shared lock, or none.
        fcntl.lockf(writers.fd, fcntl.LOCK_SH if writers.serving else fcntl.LOCK_UN, 1, 0)
        return True


def stamp(engine: sa.Engine) -> bytes:
    """The database's current write stamp (changes whenever ``changed`` runs, in any process)."""
    writers = _writers_file(engine)  # (``alone`` answered first: the file opens)
    return b"" if writers is None else os.pread(writers.fd, _STAMP_SIZE, _STAMP_OFFSET)


def changed(engine: sa.Engine) -> None:
    """Spend changed outside the ingest API's batches: write a new stamp."""
    try:
        writers = _writers_file(engine)
    except OSError:
        return  # then no process can open it, and none answers from memory (``alone`` is False)
    if writers is not None:
        os.pwrite(writers.fd, uuid.uuid4().bytes, _STAMP_OFFSET)


_PENDING, _LISTENING = "writers_changed_after_commit", "writers_listening"


def changed_after_commit(session: Session) -> None:
    """``changed`` for the session's database once ``session`` commits (what it wrote is visible then)."""
    session.info[_PENDING] = True
    if not session.info.get(_LISTENING):
        session.info[_LISTENING] = True
        event.listen(session, "after_commit", _after_commit)
        event.listen(session, "after_rollback", lambda session_: session_.info.pop(_PENDING, None))


def _after_commit(session: Session) -> None:
    if session.info.pop(_PENDING, False):
        changed(session.get_bind().engine)
