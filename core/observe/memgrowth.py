"""The memory-growth warning: traced memory that keeps growing, with the sites that grew.

While tracemalloc traces, ``check()`` reads the traced total every ``interval_s`` (cheap) and
counts consecutive readings that each grew by at least ``min_step_bytes``. The first growing
reading takes a snapshot; after ``consecutive`` of them a second snapshot is compared with
it, and the warning lists the allocation sites (file:line) that grew most. One warning per
episode: a reading that does not grow ends it.

Defaults: 0.1 s, 4 readings, 512 KiB each, i.e. at least 5 MiB/s sustained for 0.4 s. The
growing dict cache of ``cache-and-generators`` (bad) grows ~70 MiB/s for ~0.7 s at scale 1
and trips it; a steady crawl (its visited set, frontier and result rows grow a few KiB per
reading) does not. Snapshots are taken only during a growing episode, so a steady process
pays one ``get_traced_memory()`` per reading.
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass

from core.diagnostics import AllocationDiffRow, diff_snapshots, take_snapshot, traced_memory

INTERVAL_S = 0.1
CONSECUTIVE = 4
MIN_STEP_BYTES = 512 * 1024


@dataclass(frozen=True, slots=True)
class GrowthWarning:
    grown_bytes: int
    over_s: float
    readings: int
    top: tuple[AllocationDiffRow, ...]

    def text(self) -> str:
        head = (
            f"memory growth: traced memory grew {self.grown_bytes / 1024:,.0f} KiB over "
            f"{self.over_s:.1f} s ({self.readings} readings in a row); top growing sites:"
        )
        rows = [f"  {row.location}  +{row.size_diff / 1024:,.0f} KiB" for row in self.top]
        return "\n".join([head, *rows])


class MemoryGrowthWatcher:
    """See the module docstring; ``on_warning`` gets each warning (the CLI prints it)."""

    def __init__(
        self,
        on_warning: Callable[[GrowthWarning], None],
        interval_s: float = INTERVAL_S,
        consecutive: int = CONSECUTIVE,
        min_step_bytes: int = MIN_STEP_BYTES,
        top: int = 5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if consecutive < 1:
            raise ValueError(f"consecutive must be 1 or more, got {consecutive}")
        self.interval_s = interval_s
        self.consecutive = consecutive
        self.min_step_bytes = min_step_bytes
        self._top = top
        self._on_warning = on_warning
        self._clock = clock
        self._due = clock()
        self._last: int | None = None
        self._streak = 0
        self._start: tuple[float, int, tracemalloc.Snapshot] | None = None
        self._warned = False
        self.warnings: list[GrowthWarning] = []

    def check(self) -> GrowthWarning | None:
        """Take a reading when one is due; a no-op while tracemalloc is off."""
        now = self._clock()
        if now < self._due or not tracemalloc.is_tracing():
            return None
        self._due = now + self.interval_s
        current = traced_memory()[0]
        last, self._last = self._last, current
        if last is None or current - last < self.min_step_bytes:
            self._streak, self._start, self._warned = 0, None, False
            return None
        self._streak += 1
        if self._start is None:
            self._start = (now, last, take_snapshot())
        if self._warned or self._streak < self.consecutive:
            return None
        self._warned = True
        started, base, old = self._start
        rows = [r for r in diff_snapshots(old, take_snapshot(), self._top * 4) if r.size_diff > 0]
        warning = GrowthWarning(
            current - base, now - started, self._streak, tuple(rows[: self._top])
        )
        self.warnings.append(warning)
        self._on_warning(warning)
        return warning
