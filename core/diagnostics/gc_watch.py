"""Automatic garbage-collection passes worth a chart marker, recorded from ``gc.callbacks``.

The callback runs inside every collection, on whichever thread triggered it, with the GIL
held and every other Python thread stopped, so it does as little as possible: a clock read on
"start", and on "stop" one comparison and, for a pass worth marking, one append to a bounded
deque. A GUI drains the deque from its own timer; nothing here knows about Qt. Only passes
worth marking are kept (a full, generation-2 collection, or one that took at least
``min_ms``): young-generation passes happen many times a second and would bury the charts.
"""

from __future__ import annotations

import gc
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

FULL_GENERATION = 2
MIN_MS = 10.0
CAPACITY = 256


@dataclass(frozen=True, slots=True)
class GcPass:
    """One collection: when it started (``time.monotonic()``), its generation, the objects
    it freed, those it could not, and how long it stopped every thread."""

    t: float
    generation: int
    collected: int
    uncollectable: int
    duration_ms: float

    def label(self) -> str:
        return f"GC gen {self.generation} ({self.collected:,} freed, {self.duration_ms:.1f} ms)"


class GcWatch:
    """``install()`` adds the callback, ``uninstall()`` removes it; :meth:`drain` takes the
    recorded passes, oldest first. Past ``capacity`` undrained passes the oldest go."""

    def __init__(
        self,
        min_ms: float = MIN_MS,
        capacity: int = CAPACITY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.min_ms = min_ms
        self._passes: deque[GcPass] = deque(maxlen=capacity)
        self._clock = clock
        self._started = 0.0
        self.seen = 0  # every pass, marked or not

    def install(self) -> None:
        if self._callback not in gc.callbacks:
            gc.callbacks.append(self._callback)

    def uninstall(self) -> None:
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)

    @property
    def installed(self) -> bool:
        return self._callback in gc.callbacks

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = self._clock()
            return
        self.seen += 1
        duration_ms = 1000.0 * (self._clock() - self._started)
        generation = info["generation"]
        if generation >= FULL_GENERATION or duration_ms >= self.min_ms:
            self._passes.append(
                GcPass(
                    self._started,
                    generation,
                    info["collected"],
                    info["uncollectable"],
                    duration_ms,
                )
            )

    def drain(self) -> list[GcPass]:
        passes = self._passes
        return [passes.popleft() for _ in range(len(passes))]
