"""The memory-growth warning: traced memory that keeps growing, with the sites that grew.

While tracemalloc traces, ``check()`` reads the traced total every ``interval_s`` (cheap) and
counts consecutive readings that each grew by at least ``min_step_bytes``. The reading before
the last of ``consecutive`` takes a snapshot, the last one a second, and the warning lists
the allocation sites (file:line) that grew most in between. One warning per episode: a
reading that does not grow ends it. (A snapshot of 100 000 traces costs ~0.2 s, so a short
burst, such as building one big list, never takes one.)

Defaults: a reading every 0.05 s, 4 growing readings of 1 MiB each, i.e. at least 20 MiB/s
sustained for 0.2 s and 4 MiB in all. The growing dict cache of ``cache-and-generators``
(bad) grows ~80 MiB/s for ~0.3 s at scale 1 (~1 s at scale 3) and trips it, naming
``memory_shapes.py:25`` (the cached page bodies). The weakref cache (fixed) does not: its
only growth is the futures ``pool.map`` creates at once (~2 MiB, ~3 MiB with the experiment's
lock tracking: each future's Condition is tracked), which on a loaded machine spreads over 3
readings of 256 KiB to 1 MiB, so a smaller step or a shorter streak trips on it (3 readings
did, once, in a loaded CI run). Nor does a
steady crawl (its visited set, frontier and result rows grow a few KiB per reading). A
steady process pays one ``get_traced_memory()`` per reading.

What is read is a :class:`TracedMemory`: this process's tracemalloc (``LocalTracedMemory``, the
default) or a watched program's, through its agent (``core.observe.agent_memory``).
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from core.diagnostics import AllocationDiffRow, traced_memory

_NOISE = (tracemalloc.__file__, "<frozen importlib._bootstrap", "<unknown>")

INTERVAL_S = 0.05
CONSECUTIVE = 4
MIN_STEP_BYTES = 1024 * 1024


def growing_sites(
    old: tracemalloc.Snapshot, new: tracemalloc.Snapshot, limit: int
) -> list[AllocationDiffRow]:
    """The ``limit`` file:line sites that grew most. Unlike ``core.diagnostics.diff_snapshots``
    the noise (tracemalloc's and the import system's own allocations) is dropped from the
    grouped rows, not from the traces: ``filter_traces`` takes seconds per 100 000 traces,
    too slow to run while a leak is still growing."""
    rows = []
    for stat in new.compare_to(old, "lineno"):
        frame = stat.traceback[0]
        if stat.size_diff <= 0 or frame.filename.startswith(_NOISE):
            continue
        location = f"{frame.filename}:{frame.lineno}"
        rows.append(
            AllocationDiffRow(location, stat.size, stat.size_diff, stat.count, stat.count_diff)
        )
        if len(rows) == limit:
            break
    return rows


class TracedMemory(Protocol):
    """Where the watcher reads traced memory."""

    def traced(self) -> int | None:
        """Bytes traced now; None while nothing traces."""
        ...

    def mark(self) -> None:
        """Take the snapshot the next ``growing`` compares with."""
        ...

    def growing(self, limit: int) -> list[AllocationDiffRow]:
        """The ``limit`` sites that grew most since ``mark`` (a new snapshot)."""
        ...


class LocalTracedMemory:
    """This process's tracemalloc."""

    def __init__(self) -> None:
        self._baseline: tracemalloc.Snapshot | None = None

    def traced(self) -> int | None:
        return traced_memory()[0] if tracemalloc.is_tracing() else None

    def mark(self) -> None:
        self._baseline = tracemalloc.take_snapshot()

    def growing(self, limit: int) -> list[AllocationDiffRow]:
        new = tracemalloc.take_snapshot()
        old, self._baseline = self._baseline, None
        return growing_sites(old or new, new, limit)


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
    """See the module docstring; ``on_warning`` gets each warning (the CLI prints it);
    ``memory``: what to read (default: this process's tracemalloc)."""

    def __init__(
        self,
        on_warning: Callable[[GrowthWarning], None],
        interval_s: float = INTERVAL_S,
        consecutive: int = CONSECUTIVE,
        min_step_bytes: int = MIN_STEP_BYTES,
        top: int = 5,
        clock: Callable[[], float] = time.monotonic,
        memory: TracedMemory | None = None,
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
        self._start: tuple[float, int] | None = None  # (time, traced bytes) of the episode
        self.memory = memory or LocalTracedMemory()
        self._warned = False
        self.warnings: list[GrowthWarning] = []
        self.readings = 0

    def check(self) -> GrowthWarning | None:
        """Take a reading when one is due; a no-op while nothing traces."""
        now = self._clock()
        if now < self._due:
            return None
        current = self.memory.traced()
        if current is None:
            return None
        self._due = now + self.interval_s
        self.readings += 1
        last, self._last = self._last, current
        if last is None or current - last < self.min_step_bytes:
            self._streak, self._start, self._warned = 0, None, False
            return None
        self._streak += 1
        if self._streak == 1:
            self._start = (now - self.interval_s, last)
        if self._streak == self.consecutive - 1 and not self._warned:
            self.memory.mark()
        if self._warned or self._streak < self.consecutive:
            return None
        self._warned = True
        started, base = self._start or (now, current)
        rows = self.memory.growing(self._top)
        warning = GrowthWarning(current - base, now - started, self._streak, tuple(rows))
        self.warnings.append(warning)
        self._on_warning(warning)
        return warning
