"""tracemalloc inside the watched program, for the agent's ``trace_*`` / ``memory_*`` requests.

Replies are plain JSON-able dicts with at most ``MAX_TOP`` rows. Rows are grouped by file:line;
tracemalloc's own, the import system's and the agent's allocations are left out of the grouped
rows (filtering the traces themselves takes seconds per 100 000 traces). Before Python 3.12
stopping tracemalloc while another thread allocates can crash that thread (CPython gh-128679),
and the program's threads never stop for us: there ``trace_stop`` clears the traces and keeps
tracing (``stop_pending``), so memory is given back but nothing can crash.
"""

from __future__ import annotations

import os
import sys
import tracemalloc
from typing import Any

MAX_TOP = 500
STOP_IS_RACY = sys.version_info < (3, 12)
_NOISE = (
    tracemalloc.__file__,
    "<frozen importlib._bootstrap",
    "<unknown>",
    os.path.dirname(os.path.abspath(__file__)) + os.sep,
)


def start(frames: int = 1) -> dict[str, Any]:
    if not tracemalloc.is_tracing():
        tracemalloc.start(frames)
    return status()


def stop() -> dict[str, Any]:
    if not tracemalloc.is_tracing():
        return status()
    if STOP_IS_RACY:
        tracemalloc.clear_traces()
        return {**status(), "stop_pending": True}
    tracemalloc.stop()
    return status()


def status() -> dict[str, Any]:
    """Tracing or not, traced bytes now and at peak."""
    current, peak = tracemalloc.get_traced_memory()
    return {"tracing": tracemalloc.is_tracing(), "current": current, "peak": peak}


def _limit(value: Any) -> int:
    return max(1, min(int(value), MAX_TOP)) if isinstance(value, int) else 25


def _noise(frame: tracemalloc.Frame) -> bool:
    return frame.filename.startswith(_NOISE)


def snapshot() -> tracemalloc.Snapshot:
    if not tracemalloc.is_tracing():
        raise RuntimeError("tracemalloc is not tracing in the program: start it first")
    return tracemalloc.take_snapshot()


def top(snap: tracemalloc.Snapshot, limit: Any) -> dict[str, Any]:
    """The ``limit`` biggest sites: ``{"rows": [{"location", "size", "count"}], ...status}``."""
    rows: list[dict[str, Any]] = []
    wanted = _limit(limit)
    for stat in snap.statistics("lineno"):
        frame = stat.traceback[0]
        if _noise(frame):
            continue
        rows.append(
            {"location": f"{frame.filename}:{frame.lineno}", "size": stat.size, "count": stat.count}
        )
        if len(rows) == wanted:
            break
    return {**status(), "rows": rows}


def diff(old: tracemalloc.Snapshot, new: tracemalloc.Snapshot, limit: Any) -> dict[str, Any]:
    """What changed most from ``old`` to ``new`` (by absolute size change), biggest first."""
    rows: list[dict[str, Any]] = []
    wanted = _limit(limit)
    for stat in new.compare_to(old, "lineno"):
        frame = stat.traceback[0]
        if _noise(frame) or not (stat.size_diff or stat.count_diff):
            continue
        rows.append(
            {
                "location": f"{frame.filename}:{frame.lineno}",
                "size": stat.size,
                "size_diff": stat.size_diff,
                "count": stat.count,
                "count_diff": stat.count_diff,
            }
        )
        if len(rows) == wanted:
            break
    return {**status(), "rows": rows}
