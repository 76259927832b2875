"""The cyclic garbage collector: what a collection frees, and generation counts over time."""

from __future__ import annotations

import gc
import threading
import time
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CollectResult:
    collected_by_generation: tuple[int, int, int]  # unreachable objects found per generation
    counts_before: tuple[int, int, int]
    counts_after: tuple[int, int, int]
    uncollectable: int
    elapsed_ms: float

    @property
    def collected(self) -> int:
        return sum(self.collected_by_generation)


def collect() -> CollectResult:
    """Collect generation 0, then 1, then 2, so each figure says where the garbage lived."""
    before = gc.get_count()
    uncollectable_before = len(gc.garbage)
    start = time.perf_counter()
    found = (gc.collect(0), gc.collect(1), gc.collect(2))
    elapsed = (time.perf_counter() - start) * 1000
    return CollectResult(
        collected_by_generation=found,
        counts_before=before,
        counts_after=gc.get_count(),
        uncollectable=len(gc.garbage) - uncollectable_before,
        elapsed_ms=elapsed,
    )


class GcHistory:
    """A ring buffer of ``(t, gen0, gen1, gen2)`` counts; call :meth:`sample` on a timer."""

    def __init__(self, capacity: int = 3_600) -> None:
        self._samples: deque[tuple[float, int, int, int]] = deque(maxlen=capacity)
        self._start = time.monotonic()
        self._lock = threading.Lock()

    def sample(self) -> tuple[float, int, int, int]:
        row = (time.monotonic() - self._start, *gc.get_count())
        with self._lock:
            self._samples.append(row)
        return row

    def samples(self) -> list[tuple[float, int, int, int]]:
        with self._lock:
            return list(self._samples)
