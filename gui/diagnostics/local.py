"""The Diagnostics pages' sources for this process: :mod:`core.diagnostics` read in-process.

Each page reads its data through a small source (declared as a Protocol in the page's module)
so the same page can show what another source reports; these are the ones the window uses.
No Qt here.
"""

from __future__ import annotations

import threading
import tracemalloc
from collections.abc import Callable
from typing import Any

from core.agent import locks
from core.diagnostics import (
    STOP_IS_RACY,
    AllocationDiffRow,
    AllocationRow,
    CollectResult,
    GcHistory,
    ThreadStack,
    clear_traces,
    collect,
    diff_snapshots,
    dump_threads,
    is_tracing,
    start_tracing,
    stop_tracing,
    take_snapshot,
    top_allocations,
    traced_memory,
)
from gui.stuck_watch import StuckWatch

GC_HISTORY = 2_400  # 10 minutes at 4 Hz


class LocalThreads(StuckWatch):
    """This process's threads: stacks from ``sys._current_frames``, stuck ones by the watch."""

    def dump(self) -> list[ThreadStack]:
        return dump_threads()

    def alive(self) -> set[str]:
        return {t.name for t in threading.enumerate()}


class LocalLocks:
    """This process's tracked locks (:mod:`core.agent.locks`; tracked only while tracking is
    on, as in an experiment) and its threads' stacks for a deadlock's report."""

    def snapshot(self) -> dict[str, Any]:
        return locks.snapshot()

    def stacks(self) -> dict[int, str]:
        return {stack.ident: "\n".join(map(str, stack.frames)) for stack in dump_threads()}


class LocalTracemalloc:
    """tracemalloc in this process. ``busy()`` says a crawl's workers are running: on Python
    3.11 stopping tracemalloc while they allocate can crash them (CPython gh-128679), so then
    the traces are cleared and the stop waits until they have ended."""

    def __init__(self, busy: Callable[[], bool]) -> None:
        self._busy = busy
        self._started = False
        self.stop_pending = False

    def tracing(self) -> bool:
        return is_tracing()

    def start(self) -> None:
        start_tracing()
        self._started = True

    def stop(self) -> None:
        if STOP_IS_RACY and self._busy():
            clear_traces()
            self.stop_pending = True
            return
        stop_tracing()
        self._started = False

    def finish_stop(self) -> bool:
        if not self.stop_pending or self._busy():
            return False
        self.stop_pending = False
        if is_tracing():
            stop_tracing()
            self._started = False
        return True

    def traced(self) -> tuple[int, int]:
        return traced_memory()

    def snapshot(self, limit: int) -> tuple[tracemalloc.Snapshot, list[AllocationRow]]:
        snapshot = take_snapshot()
        return snapshot, top_allocations(snapshot, limit)

    def diff(
        self, old: tracemalloc.Snapshot, new: tracemalloc.Snapshot, limit: int
    ) -> list[AllocationDiffRow]:
        return diff_snapshots(old, new, limit)

    def close(self) -> None:
        if self._started and is_tracing():
            stop_tracing()
        self._started = False


class LocalGc(GcHistory):
    """This process's collector: the generations' counts over time, and a full collection."""

    def __init__(self, capacity: int = GC_HISTORY) -> None:
        super().__init__(capacity)

    def collect(self) -> CollectResult:
        return collect()
