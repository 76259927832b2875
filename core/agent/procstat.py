"""Per-thread CPU time and OS state, and process RSS, from ``/proc`` (Linux; elsewhere None).

Used inside the target (pid = itself) and by ``threadscope attach`` for another process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096

# /proc/<pid>/stat state letters, spelled out.
OS_STATES = {
    "R": "running",
    "S": "sleeping",
    "D": "disk sleep",
    "T": "stopped",
    "t": "tracing stop",
    "Z": "zombie",
    "X": "dead",
    "I": "idle",
}


@dataclass(frozen=True, slots=True)
class TaskStat:
    tid: int
    state: str  # one letter as the kernel writes it: R, S, D, ...
    cpu_s: float  # user + system


def task_stat(pid: int, tid: int) -> TaskStat | None:
    """One thread's state and CPU seconds; None when it is gone or /proc is missing."""
    try:
        with open(f"/proc/{pid}/task/{tid}/stat", "rb") as f:
            raw = f.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    fields = raw[raw.rfind(b")") + 2 :].split()
    try:
        return TaskStat(tid, fields[0].decode(), (int(fields[11]) + int(fields[12])) / _TICKS)
    except (IndexError, ValueError):
        return None


@dataclass(frozen=True, slots=True)
class SchedStat:
    """The kernel's scheduler counters of one thread (``/proc/<pid>/task/<tid>/schedstat``)."""

    run_ns: int  # on a CPU, in nanoseconds (exact where /proc's CPU seconds count 10 ms ticks)
    wait_ns: int  # runnable but waiting for a CPU
    runs: int  # times the kernel put it on a CPU


def schedstat(pid: int, tid: int) -> SchedStat | None:
    """One thread's scheduler counters; None when it is gone or the kernel keeps none."""
    try:
        with open(f"/proc/{pid}/task/{tid}/schedstat", "rb") as f:
            run_ns, wait_ns, runs = (int(n) for n in f.read().split()[:3])
    except (OSError, ValueError):
        return None
    return SchedStat(run_ns, wait_ns, runs)


def task_ids(pid: int) -> list[int]:
    try:
        return sorted(int(name) for name in os.listdir(f"/proc/{pid}/task"))
    except (OSError, ValueError):
        return []


def rss_bytes(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return None
