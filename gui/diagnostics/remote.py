"""The Diagnostics pages' sources for a watched program: what its latest sample says. No Qt.

:class:`RemoteThreads` is the stacks page's :class:`ThreadsSource` for a program watched
through the agent or py-spy: the dump is the newest sample's stacks, each annotated with its
state, CPU and the locks it holds or waits for (searchable like the frames); stuck threads
are the session's (same stack and no CPU for ``threshold_s``). ``check`` runs on the jobs
thread and only reads the session's ``stuck`` tuple, which the GUI thread replaces whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core.diagnostics import ThreadStack
from core.diagnostics.threads import FrameInfo
from core.stats import WorkerInfo
from core.watch.model import Sample, WatchedThread
from gui.stuck_watch import StuckMark
from gui.watch_session import WatchSession, thread_key


@dataclass(frozen=True, slots=True)
class AnnotatedStack(ThreadStack):
    """A thread's stack with lines below it: its state, CPU, the locks it holds and waits for."""

    notes: tuple[str, ...] = ()

    def text(self) -> str:
        return "\n".join([ThreadStack.text(self), *(f"  - {note}" for note in self.notes)])


def _lock_label(locks: dict[str, dict[str, Any]], lock_id: str) -> str:
    lock = locks.get(lock_id)
    if lock is None:
        return f"<{lock_id}>"
    where = f" created at {lock['created_at']}" if lock.get("created_at") else ""
    owner = f", held by {lock['owner']}" if lock.get("owner") else ""
    return f"<{lock_id}> ({lock.get('kind') or 'lock'}{where}{owner})"


def annotated(thread: WatchedThread, sample: Sample) -> AnnotatedStack:
    locks = {lock["id"]: lock for lock in sample.locks}
    cpu = f", {thread.cpu_s:.2f} s CPU" if thread.cpu_s is not None else ""
    notes = [f"state: {thread.state}{cpu}"]
    if thread.waiting_for is not None:
        notes.append(f"waiting for {_lock_label(locks, thread.waiting_for)}")
    notes.extend(f"holds {_lock_label(locks, lock_id)}" for lock_id in thread.holds)
    notes.extend(
        "in a deadlock with " + ", ".join(n for n in cycle if n != thread.name)
        for cycle in sample.deadlocks
        if thread.name in cycle
    )
    return AnnotatedStack(
        ident=thread.ident or 0,
        name=thread_key(thread),
        native_id=thread.native_id,
        daemon=bool(thread.daemon),
        frames=tuple(FrameInfo(f.file, f.line, f.function) for f in thread.stack),
        notes=tuple(notes),
    )


class RemoteThreads:
    def __init__(self, session: WatchSession) -> None:
        self.session = session

    @property
    def threshold_s(self) -> float:
        return self.session.stuck_after_s

    @threshold_s.setter
    def threshold_s(self, value: float) -> None:
        if value <= 0:
            raise ValueError("threshold_s: must be > 0")
        self.session.stuck_after_s = value

    def dump(self) -> list[ThreadStack]:
        sample = self.session.latest
        if sample is None:
            return []
        stacks = [annotated(t, sample) for t in sample.threads if not t.agent]
        return sorted(stacks, key=lambda s: s.name)

    def check(self, workers: Sequence[WorkerInfo] = ()) -> list[StuckMark]:
        """``worker=True``: the rows are the session's already, the page need not add them."""
        return [
            StuckMark(
                name=s.name,
                ident=s.ident,
                native_id=s.native_id,
                daemon=s.daemon,
                stuck_for_s=s.stuck_for_s,
                where=s.where,
                worker=True,
                at=s.where.rsplit("\n", 1)[-1],
            )
            for s in self.session.stuck
        ]

    def alive(self) -> set[str]:
        return {key for key, track in self.session.tracks.items() if track.alive}


class SampleLocks:
    """The stacks page's ``LocksSource`` for a watched program. The agent sends its lock view
    per thread (holds, waiting_for, deadlock cycles), which :func:`annotated` puts in each
    stack already; there is no tracker snapshot on this side to add."""

    def snapshot(self) -> dict[str, Any]:
        return {}

    def stacks(self) -> dict[int, str]:
        return {}
