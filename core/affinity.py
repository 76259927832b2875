"""Keeping a crawl's threads on one CPU core, where that makes them faster.

Under the GIL only one thread runs Python at a time, and every blocking call (each ``send``
and ``recv``) hands the GIL to a waiting thread. When the waiter sleeps on another core the
hand-off is a cross-core wake-up, and with many busy threads the process spends more on
those than it gains from running system calls on two cores at once. Measured on this
project's 2-core bench machine, 16 threads on nginx: ~1 900 pages/s spread over both cores,
~2 800 on one (``threadscope experiment gil-cores`` replays it). Linux only; elsewhere, with
one usable CPU, or on a free-threaded build, threads are left where the OS puts them.
"""

from __future__ import annotations

import os
import sys


def crawl_cpu(pin: bool) -> int | None:
    """The core a crawl's threads should share, or None to leave them unpinned.

    The highest-numbered usable core: interrupt handling tends to land on the first ones,
    and the scheduler moves unpinned work (the GUI, a local server) off a busy core.
    """
    if not pin or not hasattr(os, "sched_setaffinity") or not _gil_enabled():
        return None
    usable = os.sched_getaffinity(0)
    return max(usable) if len(usable) > 1 else None


def pin_current_thread(cpu: int | None) -> None:
    """Run the calling thread on ``cpu`` only (Linux sets affinity per thread)."""
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})


def _gil_enabled() -> bool:
    check = getattr(sys, "_is_gil_enabled", None)  # Python 3.13+; before it, always a GIL
    return True if check is None else bool(check())
