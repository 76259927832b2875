"""tracemalloc as data rows: start/stop, snapshots, top allocations by file:line, diffs."""

from __future__ import annotations

import sys
import tracemalloc
from dataclasses import dataclass

_NOISE = (
    tracemalloc.Filter(False, tracemalloc.__file__),
    tracemalloc.Filter(False, "<frozen importlib._bootstrap>"),
    tracemalloc.Filter(False, "<frozen importlib._bootstrap_external>"),
    tracemalloc.Filter(False, "<unknown>"),
)


@dataclass(frozen=True, slots=True)
class AllocationRow:
    location: str  # "file:line"
    size_bytes: int
    count: int


@dataclass(frozen=True, slots=True)
class AllocationDiffRow:
    location: str
    size_bytes: int
    size_diff: int
    count: int
    count_diff: int


def start_tracing(frames: int = 1) -> None:
    """Start tracing; a no-op when already tracing (tracemalloc is process-wide)."""
    if not tracemalloc.is_tracing():
        tracemalloc.start(frames)


# Before 3.12, tracemalloc.stop() frees its tables while a thread may be allocating without
# the GIL, which can crash that thread (CPython gh-128679): stop only with no worker running.
STOP_IS_RACY = sys.version_info < (3, 12)


def stop_tracing() -> None:
    tracemalloc.stop()


def clear_traces() -> None:
    """Forget what was traced so far; safe while other threads run, unlike stopping."""
    tracemalloc.clear_traces()


def is_tracing() -> bool:
    return tracemalloc.is_tracing()


def traced_memory() -> tuple[int, int]:
    """(current, peak) bytes allocated since tracing started; (0, 0) when not tracing."""
    return tracemalloc.get_traced_memory()


def take_snapshot() -> tracemalloc.Snapshot:
    """A snapshot without tracemalloc's and the import system's own allocations."""
    if not tracemalloc.is_tracing():
        raise RuntimeError("tracemalloc is not tracing: call start_tracing() first")
    return tracemalloc.take_snapshot().filter_traces(_NOISE)


def _location(trace_frame: tracemalloc.Frame) -> str:
    return f"{trace_frame.filename}:{trace_frame.lineno}"


def top_allocations(snapshot: tracemalloc.Snapshot, limit: int = 20) -> list[AllocationRow]:
    stats = snapshot.statistics("lineno")[:limit]
    return [AllocationRow(_location(s.traceback[0]), s.size, s.count) for s in stats]


def diff_snapshots(
    old: tracemalloc.Snapshot, new: tracemalloc.Snapshot, limit: int = 20
) -> list[AllocationDiffRow]:
    """Largest growth first (by absolute size change)."""
    stats = new.compare_to(old, "lineno")[:limit]
    return [
        AllocationDiffRow(_location(s.traceback[0]), s.size, s.size_diff, s.count, s.count_diff)
        for s in stats
    ]
