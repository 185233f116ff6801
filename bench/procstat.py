"""What a server process costs, from /proc: CPU seconds (utime+stime, children included) and memory."""

from __future__ import annotations

import os
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_split(pid: int) -> tuple[float, float]:
    """(utime, stime) of `pid` in seconds ((0, 0) if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0, 0.0
    # After the ")" the fields restart at #3 (state): utime is #14, stime #15.
    return int(fields[11]) / TICKS, int(fields[12]) / TICKS


def cpu_seconds(pid: int) -> float:
    """utime + stime of `pid`, in seconds (0 if it is gone)."""
    return sum(cpu_split(pid))


def tree_sys_seconds(pid: int) -> float:
    return sum(cpu_split(p)[1] for p in tree(pid))


def tree(pid: int) -> list[int]:
    """`pid` and its descendants (LiteLLM and uvicorn --workers fork children)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        todo += children.get(current, [])
    return out


def tree_cpu_seconds(pid: int) -> float:
    return sum(cpu_seconds(p) for p in tree(pid))


def status_kb(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def peak_rss_mb(pid: int) -> float:
    """VmHWM of the busiest process of the tree (the worker), in MB."""
    return max(status_kb(p, "VmHWM") for p in tree(pid)) / 1024


def rss_mb(pid: int) -> float:
    return max(status_kb(p, "VmRSS") for p in tree(pid)) / 1024


def postgres_backends(database: str) -> list[int]:
    """PostgreSQL backend processes serving `database` (their title names it)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        if title.startswith("postgres: ") and f" {database} " in title:
            pids.append(int(entry.name))
    return pids


def postgres_cpu_seconds(database: str) -> float:
    return sum(cpu_seconds(p) for p in postgres_backends(database))


def run_delay_seconds(pid: int) -> float:
    """Seconds the main thread of `pid` (uvicorn's event loop) spent runnable but waiting for a CPU
    (/proc/<pid>/schedstat, second field, ns): on a shared machine, the time others took from it."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[1]) / 1e9
    except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
        return 0.0
