"""Per-thread CPU time and OS state, and process RSS, from ``/proc`` (Linux; elsewhere None).

Used inside the target (pid = itself) and by ``threadscope attach`` for another process.
Inside the target a thread's CPU comes from its own CPU clock instead (``thread_cpu_clock``:
exact nanoseconds, one system call that keeps the GIL, where /proc counts 10 ms ticks and costs
an open, a read and a close). Files are read by ``gilheld.read_small``: one open, one read,
one close, the GIL kept (``open()`` made nine calls, each releasing the GIL: fstat, ioctl,
lseek, a second read for EOF).
"""

from __future__ import annotations

import os
import sys
import time
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


def thread_cpu_clock(native_id: int | None) -> int | None:
    """A thread of this process's CPU clock id (Linux: ``CPUCLOCK_PERTHREAD | CPUCLOCK_SCHED``
    of its kernel id, as glibc's ``pthread_getcpuclockid`` builds it); None elsewhere. Built
    from the kernel id, not the pthread handle, so a thread gone fails cleanly (``EINVAL``,
    also for a reused id: the kernel only reads clocks of its caller's own threads)."""
    if native_id is None or not sys.platform.startswith("linux"):
        return None
    return (~native_id << 3) | 6


def thread_cpu_ns(clock: int | None) -> int | None:
    """CPU nanoseconds on ``clock`` (``thread_cpu_clock``); None when there is none or its
    thread is gone."""
    if clock is None:
        return None
    try:
        return time.clock_gettime_ns(clock)
    except OSError:
        return None


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
