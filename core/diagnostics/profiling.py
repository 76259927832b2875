"""cProfile for a callable or for every thread of a crawl, as top-function rows and ``.prof``.

cProfile only sees the thread that enabled it, so :class:`ThreadProfiler` gives each thread
started while it is active a profiler of its own (through ``threading.setprofile``) and merges
them. Threads already running when it starts are not seen: start it before the crawl. A thread
still running at :meth:`ThreadProfiler.stop` keeps paying the profiling overhead until it exits,
because a profiler can only be switched off from its own thread.
"""

from __future__ import annotations

import cProfile
import pstats
import threading
from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class FunctionRow:
    function: str  # "file:line(name)"
    ncalls: int
    primitive_calls: int
    tottime_s: float
    cumtime_s: float


_SORT_FIELDS = {"cumulative": "cumtime_s", "tottime": "tottime_s", "ncalls": "ncalls"}


class StatsSnapshot:
    """What ``pstats.Stats`` accepts (``create_stats()`` and ``stats``), read without
    disabling another thread's profiler."""

    def __init__(self, profiler: cProfile.Profile) -> None:
        profiler.snapshot_stats()
        self.stats = profiler.stats

    def create_stats(self) -> None:
        pass


def top_functions(
    stats: pstats.Stats, limit: int = 30, sort: str = "cumulative"
) -> list[FunctionRow]:
    """Rows sorted like ``pstats`` (``"cumulative"``, ``"tottime"``, ``"ncalls"``)."""
    rows = [
        FunctionRow(f"{filename}:{line}({name})", nc, cc, tt, ct)
        for (filename, line, name), (cc, nc, tt, ct, _callers) in stats.stats.items()  # type: ignore[attr-defined]
    ]
    rows.sort(key=attrgetter(_SORT_FIELDS[sort]), reverse=True)
    return rows[:limit]


def export_prof(stats: pstats.Stats, path: str | Path) -> Path:
    """Write a ``.prof`` file that ``pstats.Stats(path)`` and snakeviz open."""
    path = Path(path)
    stats.dump_stats(str(path))
    return path


def profile_call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, pstats.Stats]:
    """Run ``fn`` under cProfile in this thread; return its result and the stats."""
    profiler = cProfile.Profile()
    result = profiler.runcall(fn, *args, **kwargs)
    return result, pstats.Stats(profiler)


class ThreadProfiler:
    """Profile this thread and every thread started until :meth:`stop`."""

    def __init__(self) -> None:
        self._profilers: list[cProfile.Profile] = []
        self._lock = threading.Lock()
        self._own: cProfile.Profile | None = None

    def _hook(self, *_args: Any) -> None:
        profiler = cProfile.Profile()
        with self._lock:
            self._profilers.append(profiler)
        profiler.enable()  # replaces this hook for the rest of the thread's life

    def start(self) -> None:
        threading.setprofile(self._hook)
        self._own = cProfile.Profile()
        self._own.enable()

    def stop(self) -> pstats.Stats:
        threading.setprofile(None)
        assert self._own is not None, "start() first"
        self._own.disable()
        stats = pstats.Stats(self._own)
        with self._lock:
            others = list(self._profilers)
        for profiler in others:
            stats.add(StatsSnapshot(profiler))  # type: ignore[arg-type]  # duck-typed
        return stats
