"""Per-thread CPU time and OS state, and process RSS, from ``/proc`` (Linux; elsewhere None).

Used inside the target (pid = itself) and by ``threadscope attach`` for another process.
Files are read by ``gilheld.read_small``: one open, one read, one close, the GIL kept (``open()``
made nine calls, each releasing the GIL: fstat, ioctl, lseek, a second read for EOF).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from .gilheld import read_small

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
    raw = read_small(f"/proc/{pid}/task/{tid}/stat")
    if raw is None:
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
    raw = read_small(f"/proc/{pid}/task/{tid}/schedstat")
    if raw is None:
        return None
    try:
        run_ns, wait_ns, runs = (int(n) for n in raw.split()[:3])
    except ValueError:
        return None
    return SchedStat(run_ns, wait_ns, runs)


def task_ids(pid: int) -> list[int]:
    try:
        return sorted(int(name) for name in os.listdir(f"/proc/{pid}/task"))
    except (OSError, ValueError):
        return []


def rss_bytes(pid: int) -> int | None:
    raw = read_small(f"/proc/{pid}/statm")
    try:
        return int(raw.split()[1]) * _PAGE if raw is not None else None
    except (IndexError, ValueError):
        return None
