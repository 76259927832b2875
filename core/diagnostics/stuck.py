"""Flag threads whose stack (and engine worker state, when given) has stopped moving.

A thread blocked on a lock nobody will release sits on the same line of the same stack for
ever; a healthy worker's stack changes as it fetches, parses and waits. The detector compares
successive snapshots and reports threads unchanged for longer than ``threshold_s``. Idle pool
workers parked on ``queue.get`` look the same as deadlocked ones from the stack alone, so
callers pass worker states and ``ignore`` the threads they know are idle by design.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass

from core.agent.frames import current_stacks
from core.diagnostics.threads import ThreadStack, stack_of


@dataclass(frozen=True, slots=True)
class StuckThread:
    ident: int
    name: str
    stuck_for_s: float
    stack: ThreadStack
    state: Hashable | None = None


class StuckDetector:
    """Call :meth:`check` periodically (the experiment monitor does it at ~10 Hz)."""

    def __init__(self, threshold_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.threshold_s = threshold_s
        self._clock = clock
        self._seen: dict[int, tuple[Hashable, float]] = {}
        self._lock = threading.Lock()

    @property
    def threshold_s(self) -> float:
        return self._threshold_s

    @threshold_s.setter
    def threshold_s(self, value: float) -> None:
        if value <= 0:
            raise ValueError("threshold_s: must be > 0")
        self._threshold_s = value

    def check(
        self,
        states: Mapping[int, Hashable] | None = None,
        ignore: Iterable[int] = (),
    ) -> list[StuckThread]:
        """Threads unchanged for longer than the threshold; ``states`` maps ident -> state."""
        now = self._clock()
        skip = {threading.get_ident(), *ignore}
        threads = {t.ident: t for t in threading.enumerate()}
        stacks = current_stacks()
        stuck = []
        with self._lock:
            seen: dict[int, tuple[Hashable, float]] = {}
            for ident, raw in stacks.items():
                if ident in skip:
                    continue
                stack = stack_of(raw)
                state = states.get(ident) if states else None
                signature = (stack, state)
                previous = self._seen.get(ident)
                since = previous[1] if previous and previous[0] == signature else now
                seen[ident] = (signature, since)
                if now - since > self.threshold_s:
                    named = ThreadStack.of(ident, threads.get(ident), stack)
                    stuck.append(
                        StuckThread(
                            ident=ident,
                            name=named.name,
                            stuck_for_s=now - since,
                            stack=named,
                            state=state,
                        )
                    )
            self._seen = seen
        return stuck
