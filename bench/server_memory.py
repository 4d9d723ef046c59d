"""Memory of every process of a server, from /proc: RSS, PSS, anonymous and file-backed memory per process.

    .venv/bin/python bench/server_memory.py PID [DATABASE_FILE]   # PID: e.g. the `reflex run` of `make run`

RSS counts a page in every process that maps it, so summing it over processes counts twice what a forked
backend worker still shares with the launcher it was forked from (Reflex imports the app in the launcher, then
forks the workers). PSS (``/proc/PID/smaps_rollup``) splits each shared page between the processes sharing it:
the sum of PSS is the physical memory the server's processes hold, each page counted once. It is split into
anonymous memory (Python's heap, SQLite's page caches: only the process can free it) and file-backed memory
(code, libraries, and the database file if SQLite maps it: page cache the kernel can drop and re-read).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from pathlib import Path


@dataclass(frozen=True)
class ProcessMemory:
    """One process's memory, MiB."""

    pid: int
    role: str
    rss: float
    pss: float
    pss_anon: float
    pss_file: float  # file-backed pages (code, libraries, a memory-mapped database) and shared memory
    database_rss: float  # resident pages of mappings of the database's files (the file, its -shm, -wal)
    peak_rss: float  # VmHWM

    @property
    def command(self) -> str:
        return _command(self.pid)


def _command(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "?"
    return " ".join(Path(part).name if part.startswith("/") else part
                    for part in raw.replace(b"\0", b" ").decode(errors="replace").split()[:5])


def tree(root: int) -> list[int]:
    """``root`` and every process descended from it (any session), parents before children."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # the process ended meanwhile
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))  # field 4: parent pid
    found, queue = [], [root]
    while queue:
        pid = queue.pop(0)
        found.append(pid)
        queue.extend(sorted(children.get(pid, ())))
    return found


def _role(pid: int, root: int, commands: dict[int, str]) -> str:
    command = commands[pid]
    if pid == root:
        return "launcher (reflex run, granian supervisor)"
    if "writer_process" in command:
        return "SQLite writer"
    if command == commands[root]:
        return "backend worker (forked)"
    return command


def measure(pid: int, database: Path | None = None) -> ProcessMemory | None:
    """The memory of one process, or None if it ended meanwhile."""
    proc = Path(f"/proc/{pid}")
    try:
        rollup = {line.split(":")[0]: int(line.split()[1]) / 1024
                  for line in (proc / "smaps_rollup").read_text().splitlines()[1:]}
        status = (proc / "status").read_text()
        database_rss = 0.0
        if database is not None:
            names = {str(database), f"{database}-shm", f"{database}-wal"}
            mapping = ""
            for line in (proc / "smaps").read_text().splitlines():
                head = line.split(maxsplit=5)
                if "-" in head[0] and len(head) >= 5:  # a mapping's header line: address range … [path]
                    mapping = head[5] if len(head) == 6 else ""
                elif head[0] == "Rss:" and mapping in names:
                    database_rss += int(head[1]) / 1024
    except (OSError, IndexError, ValueError):
        return None
    peak = next((int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith("VmHWM:")), 0.0)
    return ProcessMemory(pid, "", rollup["Rss"], rollup["Pss"], rollup["Pss_Anon"],
                         rollup["Pss_File"] + rollup["Pss_Shmem"], database_rss, peak)


def server_memory(root: int, database: Path | None = None) -> list[ProcessMemory]:
    """Every process of the server started as ``root``, with its role."""
    pids = tree(root)
    commands = {pid: _command(pid) for pid in pids}
    found = []
    for pid in pids:
        memory = measure(pid, database)
        if memory is not None:
            found.append(replace(memory, role=_role(pid, root, commands)))
    return found


def table(processes: list[ProcessMemory]) -> str:
    """A Markdown table, one row per process and a total row."""
    lines = ["| process | pid | RSS | PSS | PSS anon | PSS file | database file RSS | peak RSS |",
             "|---|---|---|---|---|---|---|---|"]
    for p in processes:
        lines.append(f"| {p.role} | {p.pid} | {p.rss:.0f} | {p.pss:.0f} | {p.pss_anon:.0f} | {p.pss_file:.0f} "
                     f"| {p.database_rss:.0f} | {p.peak_rss:.0f} |")
    total = {name: sum(getattr(p, name) for p in processes)
             for name in ("rss", "pss", "pss_anon", "pss_file", "database_rss")}
    lines.append(f"| **all {len(processes)} processes** (MiB) | | {total['rss']:.0f} | **{total['pss']:.0f}** "
                 f"| {total['pss_anon']:.0f} | {total['pss_file']:.0f} | {total['database_rss']:.0f} | |")
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        raise SystemExit(__doc__)
    print(table(server_memory(int(sys.argv[1]), Path(sys.argv[2]).resolve() if len(sys.argv) == 3 else None)))
