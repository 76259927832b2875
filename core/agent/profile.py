"""cProfile of the watched program's threads, for the agent's ``profile_start`` / ``profile_stop``.

cProfile sees only the thread that enabled it, and a thread's profile hook can be set only from
that thread (``sys.setprofile``) or, through ``threading.setprofile``, for threads started from
now on; Python 3.10 and 3.11 have no way to reach a thread already running. So a profile covers
the threads the program starts while it runs (each gets a profiler of its own on its first
call), not those already running (the main thread, long-lived workers), nor the agent's. A
thread started meanwhile and still running at the stop keeps its profiler until it ends (only
its own thread can switch it off); what it does after the stop is not reported. From Python
3.12 cProfile is built on ``sys.monitoring`` (one profiler per interpreter) and this per-thread
scheme does not apply: ``start`` refuses there.
"""

from __future__ import annotations

import cProfile
import pstats
import sys
import threading
from typing import Any

MAX_ROWS = 500
SUPPORTED = sys.version_info < (3, 12)


class StatsSnapshot:
    """What ``pstats.Stats`` accepts (``create_stats()`` and ``stats``), read without
    disabling another thread's profiler (also ``core.diagnostics.ThreadProfiler``'s)."""

    def __init__(self, profiler: cProfile.Profile) -> None:
        profiler.snapshot_stats()
        self.stats = profiler.stats

    def create_stats(self) -> None:
        pass


class ThreadsProfile:
    def __init__(self) -> None:
        if not SUPPORTED:
            raise RuntimeError("profiling threads needs Python 3.10 or 3.11 in the program")
        self._profilers: list[cProfile.Profile] = []
        self._lock = threading.Lock()
        self._on = True
        threading.setprofile(self._hook)

    def _hook(self, *_args: Any) -> None:
        """In a program thread, on its first call: never raises, never stays when stopped."""
        try:
            if not self._on:
                sys.setprofile(None)
                return
            profiler = cProfile.Profile()
            with self._lock:
                self._profilers.append(profiler)
            profiler.enable()  # replaces this hook for the rest of the thread's life
        except Exception:
            sys.setprofile(None)

    def stop(self, limit: Any) -> dict[str, Any]:
        """The top ``limit`` functions by cumulative time, merged over the threads profiled."""
        self._on = False
        threading.setprofile(None)
        with self._lock:
            profilers = list(self._profilers)
        wanted = max(1, min(limit, MAX_ROWS)) if isinstance(limit, int) else 50
        if not profilers:
            return {"threads": 0, "total_calls": 0, "total_tt": 0.0, "rows": []}
        stats = pstats.Stats(StatsSnapshot(profilers[0]))  # type: ignore[arg-type]
        for profiler in profilers[1:]:
            stats.add(StatsSnapshot(profiler))  # type: ignore[arg-type]
        entries = stats.stats.items()  # type: ignore[attr-defined]
        top = sorted(entries, key=lambda item: item[1][3], reverse=True)[:wanted]
        return {
            "threads": len(profilers),
            "total_calls": stats.total_calls,  # type: ignore[attr-defined]
            "total_tt": stats.total_tt,  # type: ignore[attr-defined]
            "rows": [
                {"file": f, "line": ln, "name": n, "ncalls": nc, "primitive_calls": cc,
                 "tottime": tt, "cumtime": ct}
                for (f, ln, n), (cc, nc, tt, ct, _callers) in top
            ],
        }  # fmt: skip
