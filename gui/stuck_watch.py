"""Which threads have stopped moving: crawl workers by their engine state, others by stack.

A worker is stuck when it has been busy (fetching, parsing, waiting) on the same URL for longer
than the threshold: the engine's ``state_since`` says since when. Any other thread is stuck when
its stack has not changed for that long (:class:`core.diagnostics.StuckDetector`), except
threads idle by design: ours (``threadscope-*``, the engine's ``crawl-*`` helpers, the
experiment monitor), which wait on the same line between their periodic ticks, and thread-pool
workers waiting for a task. Plain Python, no Qt: the diagnostics panel calls :meth:`check` on a
timer. With a lock snapshot, :func:`lock_waits` says which stuck threads only wait behind another
stuck thread's lock, so one problem is reported once, not once per thread.
"""

from __future__ import annotations

import linecache
import os
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from core.agent.frames import current_stacks
from core.agent.waitgraph import lock_text
from core.diagnostics import StuckDetector
from core.diagnostics.threads import FrameInfo, stack_of
from core.events import WorkerState
from core.stats import WorkerInfo

IDLE_BY_DESIGN = ("threadscope-", "crawl-", "experiment-monitor")
BUSY_STATES = (WorkerState.FETCHING, WorkerState.PARSING, WorkerState.WAITING_HOST)
WHERE_FRAMES = 4  # innermost frames quoted in the log and the tooltip

WorkerKey = tuple[WorkerState, str | None, int]  # what a moving worker changes: state, url, pages


@dataclass(frozen=True, slots=True)
class StuckMark:
    name: str
    ident: int | None
    native_id: int | None
    daemon: bool
    stuck_for_s: float
    where: str  # innermost frames, innermost last
    worker: bool
    at: str  # one line: a worker's state and URL, another thread's innermost frame


def lock_waits(
    marks: Sequence[StuckMark], snap: Mapping[str, Any], reported: Collection[str] = ()
) -> dict[str, tuple[str, str]]:
    """Stuck waiter's name -> (the stuck thread heading its problem, one line saying why).

    A thread stuck in ``acquire`` on a lock held by another stuck thread is part of that
    thread's problem: "worker-2 waits for Lock created at app.py:12 [lock-3] held by worker-1
    (stuck 3.1 s)". Chains lead to their first thread; in a deadlock (a ring) a member already
    in ``reported`` heads it, else the one with the smallest name. Locks used as signals or
    held by several threads are skipped, as in the wait-for graph.
    """
    by_ident = {m.ident: m for m in marks if m.ident is not None}
    direct: dict[str, tuple[str, str]] = {}
    for lock in snap.get("locks", ()):
        owners = lock["owners"]
        holder = by_ident.get(owners[0]["ident"]) if len(owners) == 1 else None
        if holder is None or lock.get("handoff"):
            continue
        for waiting in lock["waiters"]:
            waiter = by_ident.get(waiting["ident"])
            if waiter is not None and waiter is not holder:
                direct[waiter.name] = (
                    holder.name,
                    f"{waiter.name} waits for {lock_text(lock)} held by {holder.name} "
                    f"(stuck {holder.stuck_for_s:.1f} s)",
                )
    grouped = {}
    for name, (head, line) in direct.items():
        chain = [name]
        while head in direct and head not in chain:
            chain.append(head)
            head = direct[head][0]
        if head in chain:  # a ring
            head = min(chain[chain.index(head) :], key=lambda n: (n not in reported, n))
        if head != name:
            grouped[name] = (head, line)
    return grouped


def _where(frames: Sequence[FrameInfo]) -> str:
    """The innermost frames like a traceback, each with its source line when readable (a
    blocking call in C, such as ``lock.acquire``, shows only as the line that called it)."""
    lines = []
    for frame in frames[-WHERE_FRAMES:]:
        lines.append(str(frame))
        source = linecache.getline(frame.filename, frame.lineno).strip()
        if source:
            lines.append(f"    {source}")
    return "\n".join(lines)


def _at(frames: Sequence[FrameInfo]) -> str:
    if not frames:
        return "no Python frame"
    inner = frames[-1]
    return f"in {inner.function} ({os.path.basename(inner.filename)}:{inner.lineno})"


def _idle_pool_worker(frames: Sequence[FrameInfo]) -> bool:
    """A ``ThreadPoolExecutor`` thread waiting for its next task (the queue's get is C code,
    so ``_worker`` is the innermost Python frame)."""
    if not frames:
        return False
    inner = frames[-1]
    return inner.function == "_worker" and inner.filename.endswith(
        ("concurrent/futures/thread.py", "concurrent\\futures\\thread.py")
    )


class StuckWatch:
    def __init__(self, threshold_s: float = 5.0, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self.detector = StuckDetector(threshold_s, clock=clock)
        # worker name -> ((state, url, pages), first seen with it): ``state_since`` moves only
        # when the state changes, so a worker going from URL to URL in one state still moves.
        self._workers: dict[str, tuple[WorkerKey, float]] = {}

    @property
    def threshold_s(self) -> float:
        return self.detector.threshold_s

    @threshold_s.setter
    def threshold_s(self, value: float) -> None:
        self.detector.threshold_s = value  # ValueError unless above 0

    def check(self, workers: Sequence[WorkerInfo] = ()) -> list[StuckMark]:
        """Every thread stuck now; call it periodically (each call is a fresh observation)."""
        now = self._clock()
        marks = self._stuck_workers(workers, now)
        # The main thread runs Qt's event loop: between events its Python stack never changes.
        idents = [w.ident for w in workers]
        idents.append(threading.main_thread().ident)
        idents.extend(t.ident for t in threading.enumerate() if t.name.startswith(IDLE_BY_DESIGN))
        ignore = {ident for ident in idents if ident is not None}
        for stuck in self.detector.check(ignore=ignore):
            frames = stuck.stack.frames
            if _idle_pool_worker(frames):
                continue
            marks.append(
                StuckMark(
                    name=stuck.name,
                    ident=stuck.ident,
                    native_id=stuck.stack.native_id,
                    daemon=stuck.stack.daemon,
                    stuck_for_s=stuck.stuck_for_s,
                    where=_where(frames),
                    worker=False,
                    at=_at(frames),
                )
            )
        return marks

    def _stuck_workers(self, workers: Sequence[WorkerInfo], now: float) -> list[StuckMark]:
        seen = {}
        marks = []
        stacks = None
        for info in workers:
            key = (info.state, info.url, info.pages)
            previous = self._workers.get(info.name)
            first_seen = previous[1] if previous and previous[0] == key else now
            seen[info.name] = (key, first_seen)
            if info.state not in BUSY_STATES:
                continue
            stuck_for = now - max(info.state_since, first_seen)
            if stuck_for <= self.threshold_s:
                continue
            stacks = stacks if stacks is not None else current_stacks()
            raw = stacks.get(info.ident, ()) if info.ident is not None else ()
            stack = stack_of(raw)
            at = f"{info.state} {info.url or ''}".strip()
            marks.append(
                StuckMark(
                    name=info.name,
                    ident=info.ident,
                    native_id=info.native_id,
                    daemon=info.daemon,
                    stuck_for_s=stuck_for,
                    where="\n".join(filter(None, (at, _where(stack)))),
                    worker=True,
                    at=at,
                )
            )
        self._workers = seen
        return marks
