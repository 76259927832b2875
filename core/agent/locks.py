"""Lock tracking: who holds each lock, since when, and who waits for it from where.

Runs inside a watched program (as ``threadscope_agent.locks``) as well as here, so: standard
library only, relative imports only, and a tracked lock must behave exactly like the one it
stands for. ``install()`` swaps ``threading.Lock``, ``RLock``, ``Condition``, ``Semaphore`` and
``BoundedSemaphore`` for tracked ones; ``Event``, ``Barrier`` and ``queue.Queue`` look those
names up when they are created, so theirs are tracked too. Locks made before stay as they are,
and ``threading._allocate_lock`` (the private waiter locks of every Condition, handed from
thread to thread) is left alone.

No global lock on the hot path: each lock's owner fields are written by the thread holding it,
waiters by the waiting thread as single dict stores (atomic under the GIL, and per-dict locked
on free-threaded builds), and live locks sit in a dict of weak references. An uncontended
acquire is one non-blocking try of the real lock and three attribute stores; only a thread that
must wait records where it waits, and counts its wait into the histogram of its kind
(``wait_histogram()``: fixed buckets, every wait since the process started, dead locks' too).

A residual gap, the same as CPython's own ``with lock:`` (bpo-29988): a KeyboardInterrupt that
lands between the real lock's acquire returning and the tracked acquire returning leaves the
lock held.
"""

from __future__ import annotations

import _thread
import contextlib
import os
import queue
import sys
import threading
import weakref
from bisect import bisect_left
from collections.abc import Callable, Iterator
from itertools import count
from time import monotonic
from typing import Any

from .waitgraph import dump_fields, find_deadlocks, format_deadlocks, thread_lines, thread_locks

__all__ = [
    "DeadlockWatch",
    "dump_fields",
    "find_deadlocks",
    "format_deadlocks",
    "install",
    "installed",
    "snapshot",
    "thread_lines",
    "thread_locks",
    "tracking",
    "uninstall",
    "wait_histogram",
]

_get_ident = _thread.get_ident
_OriginalCondition = threading.Condition
_OriginalSemaphore = threading.Semaphore
_OriginalBoundedSemaphore = threading.BoundedSemaphore

# Frames in these files are the machinery; a lock's site is the first frame outside them.
_MACHINERY = frozenset(
    {
        threading.Condition.__init__.__code__.co_filename,
        queue.Queue.__init__.__code__.co_filename,
        (lambda: None).__code__.co_filename,
    }
)


def _caller() -> tuple[str, str]:
    """``("file:line", function)`` of the first frame outside threading, queue and this file."""
    frame: Any = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename in _MACHINERY:
        frame = frame.f_back
    if frame is None:
        return "?:0", "?"
    return f"{frame.f_code.co_filename}:{frame.f_lineno}", frame.f_code.co_name


_serial = count(1)
_live: dict[int, weakref.ref[_Tracked]] = {}
# Per creation site, what its dead locks did: [locks, acquisitions, contended, wait total,
# wait max, hold max]. Added to by whichever thread drops a lock, without a lock (two dying at
# the same instant in two threads may lose a count: totals, not accounts).
_site_totals: dict[tuple[str, str, str], list[float]] = {}
# Upper bounds (seconds) of the lock-wait histogram's buckets.
WAIT_BUCKETS = (0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0)


class _Tracked:
    """What every tracked lock records: identity, creation site, waiters, totals."""

    __slots__ = (
        "__weakref__",
        "acquisitions",
        "contended",
        "created_at",
        "function",
        "handoff",
        "hold_max",
        "id",
        "kind",
        "notify_waiters",
        "wait_max",
        "wait_total",
        "waiters",
    )

    def _register(self, kind: str) -> None:
        serial = next(_serial)  # itertools.count: atomic under the GIL
        self.id = f"lock-{serial}"
        self.kind = kind
        self.created_at, self.function = _caller()
        self.waiters: dict[int, tuple[float, str]] = {}
        self.notify_waiters: dict[int, tuple[float, str]] = {}
        self.acquisitions = self.contended = 0
        self.wait_total = self.wait_max = self.hold_max = 0.0
        self.handoff = False  # released by a thread other than its acquirer at least once

        def forget(_ref: object, key: int = serial) -> None:
            _live.pop(key, None)

        _live[serial] = weakref.ref(self, forget)

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # interpreter shutdown may have torn globals down
            acquisitions, contended, wait_total, wait_max, hold_max = self._totals()
            sums = _site_totals.setdefault(self._site(), [0, 0, 0, 0.0, 0.0, 0.0])
            sums[0] += 1
            sums[1] += acquisitions
            sums[2] += contended
            sums[3] += wait_total
            sums[4] = max(sums[4], wait_max)
            sums[5] = max(sums[5], hold_max)

    def _site(self) -> tuple[str, str, str]:
        return (self.kind, self.created_at, self.function)

    def _totals(self) -> tuple[float, ...]:
        return (self.acquisitions, self.contended, self.wait_total, self.wait_max, self.hold_max)

    def _waited(self, waited: float) -> None:
        """Count a wait; called by the thread that now holds the lock. Its kind's histogram
        row takes it too: one bisect, one increment, the seconds added. Under the GIL a
        ``row[i] += 1`` is never split by a thread switch (the eval breaker is checked only
        at calls and backward jumps since 3.10), so no count is lost; a free-threaded build
        may lose one when two threads count the same bucket at once."""
        self.contended += 1
        self.wait_total += waited
        if waited > self.wait_max:
            self.wait_max = waited
        row = _waits[self.kind]
        row[bisect_left(WAIT_BUCKETS, waited)] += 1
        row[-1] += waited

    def _held_for(self, since: float, by: int) -> None:
        held = monotonic() - since
        if held > self.hold_max:
            self.hold_max = held
        if by != _get_ident():
            self.handoff = True

    def _wait_begin(self, waiters: dict[int, tuple[float, str]]) -> tuple[int, float]:
        me, start = _get_ident(), monotonic()
        waiters[me] = (start, _caller()[0])
        return me, start

    def owners(self) -> list[tuple[int, float, int]]:
        """``(ident, since, count)`` per owning thread (``since`` on the monotonic clock)."""
        raise NotImplementedError

    def describe(self, now: float) -> dict[str, Any]:
        def waits(table: dict[int, tuple[float, str]]) -> list[dict[str, Any]]:
            return [
                {"ident": ident, "since_s": round(now - since, 4), "where": where}
                for ident, (since, where) in list(table.items())
            ]

        return {
            "id": self.id,
            "kind": self.kind,
            "created_at": self.created_at,
            "function": self.function,
            "owners": [
                {"ident": ident, "since_s": round(now - since, 4), "count": n}
                for ident, since, n in self.owners()
            ],
            "waiters": waits(self.waiters),
            "notify_waiters": waits(self.notify_waiters),
            "acquisitions": self.acquisitions,
            "contended": self.contended,
            "wait_total_s": round(self.wait_total, 6),
            "wait_max_s": round(self.wait_max, 6),
            "hold_max_s": round(self.hold_max, 6),
            "handoff": self.handoff,
        }


class _TrackedMutex(_Tracked):
    """A tracked Lock or RLock: wraps the real one and records who holds it."""

    __slots__ = ("_held", "_lock")

    def __init__(self, kind: str, real: Any) -> None:
        self._lock = real
        self._held: tuple[int, float, int] | None = None  # (ident, since, depth): one store
        self._register(kind)

    # The fast path (in each subclass's acquire): valid arguments try the real lock without
    # waiting first; odd ones reach the real acquire here, which raises as it would have.
    def _acquire_waiting(self, blocking: bool, timeout: float) -> bool:
        if not blocking and timeout == -1:
            return False
        me, start = self._wait_begin(self.waiters)
        try:
            got: bool = self._lock.acquire(blocking, timeout)
        finally:
            self.waiters.pop(me, None)
        if got:  # after a wait this thread holds it at depth 1, even an RLock
            now = monotonic()
            self._held = (me, now, 1)
            self.acquisitions += 1
            self._waited(now - start)
        return got

    def __exit__(self, kind: object, value: object, tb: object) -> None:
        self.release()

    def _at_fork_reinit(self) -> None:
        self._lock._at_fork_reinit()
        self._held = None
        self.waiters.clear()
        self.notify_waiters.clear()

    def __getattr__(self, name: str) -> Any:  # the rest of the real lock's API, as it is
        if name == "_lock":
            raise AttributeError(name)
        return getattr(self._lock, name)

    def __repr__(self) -> str:
        return repr(self._lock)

    def owners(self) -> list[tuple[int, float, int]]:
        held = self._held
        return [] if held is None else [held]


class TrackedLock(_TrackedMutex):
    """``threading.Lock()`` while tracking is on. Any thread may release it, as before."""

    __slots__ = ()

    def __init__(self, kind: str = "Lock") -> None:
        super().__init__(kind, _thread.allocate_lock())

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if (timeout == -1 or (blocking and timeout >= 0)) and self._lock.acquire(False):
            self._held = (_get_ident(), monotonic(), 1)
            self.acquisitions += 1
            return True
        return self._acquire_waiting(blocking, timeout)

    __enter__ = acquire

    def release(self) -> None:
        held = self._held
        if held is not None:  # _held_for(), inlined: this is the hot path
            self._held = None
            hold = monotonic() - held[1]
            if hold > self.hold_max:
                self.hold_max = hold
            if held[0] != _get_ident():
                self.handoff = True
        self._lock.release()

    def locked(self) -> bool:
        return bool(self._lock.locked())

    def _is_owned(self) -> bool:
        # What Condition's fallback computes with acquire(False)/release(), without counting
        # a fake acquisition.
        return bool(self._lock.locked())


class TrackedRLock(_TrackedMutex):
    """``threading.RLock()`` while tracking is on, recursion depth counted."""

    __slots__ = ()

    def __init__(self, kind: str = "RLock") -> None:
        super().__init__(kind, _thread.RLock())

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if (timeout == -1 or (blocking and timeout >= 0)) and self._lock.acquire(False):
            me, held = _get_ident(), self._held
            if held is not None and held[0] == me:
                self._held = (me, held[1], held[2] + 1)
            else:
                self._held = (me, monotonic(), 1)
            self.acquisitions += 1
            return True
        return self._acquire_waiting(blocking, timeout)

    __enter__ = acquire

    def _drop_all(self) -> None:
        held = self._held
        if held is not None and held[0] == _get_ident():
            self._held = None
            self._held_for(held[1], held[0])

    def release(self) -> None:
        held = self._held
        if held is not None and held[0] == _get_ident():
            if held[2] > 1:
                self._held = (held[0], held[1], held[2] - 1)
            else:  # _drop_all(), inlined: this is the hot path
                self._held = None
                hold = monotonic() - held[1]
                if hold > self.hold_max:
                    self.hold_max = hold
        self._lock.release()  # raises, as before, if this thread does not own it

    def _is_owned(self) -> bool:
        return bool(self._lock._is_owned())

    def _release_save(self) -> Any:
        """Condition.wait: give up every level, ownership recorded as released."""
        self._drop_all()
        return self._lock._release_save()

    def _acquire_restore(self, state: Any) -> None:
        """Condition.wait: take it back at the saved depth, a wait recorded if it must wait."""
        self.acquire()
        for _ in range(state[0] - 1):
            self.acquire()  # recursion: never waits


class TrackedCondition(_OriginalCondition):
    """``threading.Condition`` while tracking is on: its own lock is a tracked "Condition"."""

    def __init__(self, lock: Any = None) -> None:
        own: Any = TrackedRLock("Condition") if lock is None else lock
        super().__init__(own)

    def wait(self, timeout: float | None = None) -> bool:
        lock = self._lock  # type: ignore[attr-defined]
        if not isinstance(lock, _Tracked):
            return super().wait(timeout)
        me, _ = lock._wait_begin(lock.notify_waiters)
        try:
            return super().wait(timeout)
        finally:
            lock.notify_waiters.pop(me, None)


class _TrackedSemaphore(_Tracked):
    """Owners are the threads holding permits; a release from elsewhere marks a handoff."""

    KIND = "Semaphore"

    def __init__(self, value: int = 1) -> None:
        if value < 0:
            raise ValueError("semaphore initial value must be >= 0")
        # The inner Condition and Lock are machinery: kept untracked, as in threading.py.
        self._cond = _OriginalCondition(_thread.allocate_lock())
        self._value = value
        self._initial_value = value
        self._holders: dict[int, tuple[float, int]] = {}
        self._register(self.KIND)

    def _took(self, now: float) -> None:
        me = _get_ident()
        held = self._holders.get(me)
        self._holders[me] = (now, 1) if held is None else (held[0], held[1] + 1)
        self.acquisitions += 1

    def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool:
        base: Any = super()
        if (timeout is None or blocking) and base.acquire(False):
            self._took(monotonic())
            return True
        if not blocking:
            return bool(base.acquire(blocking, timeout))  # raises as before if timeout given
        me, start = self._wait_begin(self.waiters)
        try:
            got = bool(base.acquire(blocking, timeout))
        finally:
            self.waiters.pop(me, None)
        if got:
            now = monotonic()
            self._took(now)
            self._waited(now - start)
        return got

    __enter__ = acquire

    def release(self, n: int = 1) -> None:
        base: Any = super()
        base.release(n)  # raises, as before, for n < 1 or a bounded semaphore over-released
        for _ in range(n):
            self._give_back()

    def _give_back(self) -> None:
        """One permit back: the releasing thread's own if it holds one, else the oldest."""
        me = _get_ident()
        ident = me if me in self._holders else next(iter(list(self._holders)), None)
        if ident != me:
            self.handoff = True
        held = None if ident is None else self._holders.pop(ident, None)
        if ident is None or held is None:
            return
        since, permits = held
        self._held_for(since, ident)
        if permits > 1:
            self._holders[ident] = (since, permits - 1)

    def __exit__(self, *exc: object) -> None:
        self.release()

    def owners(self) -> list[tuple[int, float, int]]:
        return [(ident, since, n) for ident, (since, n) in list(self._holders.items())]


class TrackedSemaphore(_TrackedSemaphore, _OriginalSemaphore):
    """``threading.Semaphore`` while tracking is on."""


class TrackedBoundedSemaphore(_TrackedSemaphore, _OriginalBoundedSemaphore):
    """``threading.BoundedSemaphore`` while tracking is on."""

    KIND = "BoundedSemaphore"


_FACTORIES: dict[str, Any] = {
    "Lock": TrackedLock,
    "RLock": TrackedRLock,
    "Condition": TrackedCondition,
    "Semaphore": TrackedSemaphore,
    "BoundedSemaphore": TrackedBoundedSemaphore,
}
# Per lock kind, every wait so far: a count per bucket of WAIT_BUCKETS, one for longer waits,
# then their seconds. Written by the waiting threads without a lock: see _Tracked._waited.
_waits: dict[str, list[float]] = {kind: [0] * len(WAIT_BUCKETS) + [0, 0.0] for kind in _FACTORIES}
_saved: dict[str, Any] = {}
_state_lock = _thread.allocate_lock()  # install/uninstall/snapshot only, never the hot path
_tracking_users = [0, False]  # tracking(): nesting depth, whether it installed
_fork_hook = [False]


def _forget_waiters_in_child() -> None:
    """After fork only the forking thread exists: nobody else waits for anything."""
    for ref in list(_live.values()):
        lock = ref()
        if lock is not None:
            lock.waiters.clear()
            lock.notify_waiters.clear()


def install() -> None:
    """Track every lock created from now on (idempotent)."""
    with _state_lock:
        if _saved:
            return
        _saved.update({name: getattr(threading, name) for name in _FACTORIES})
        for name, factory in _FACTORIES.items():
            setattr(threading, name, factory)
        if not _fork_hook[0] and hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=_forget_waiters_in_child)
            _fork_hook[0] = True


def uninstall() -> None:
    """Put threading's own factories back; tracked locks made meanwhile keep working."""
    with _state_lock:
        for name, original in _saved.items():
            setattr(threading, name, original)
        _saved.clear()


def installed() -> bool:
    return bool(_saved)


@contextlib.contextmanager
def tracking() -> Iterator[None]:
    """Tracking on for the block (nestable, from several threads); off after the last one
    ends, unless someone else had installed it before."""
    with _state_lock:
        if _tracking_users[0] == 0:
            _tracking_users[1] = not _saved
        _tracking_users[0] += 1
    install()
    try:
        yield
    finally:
        with _state_lock:
            _tracking_users[0] -= 1
            last = _tracking_users[0] == 0 and _tracking_users[1]
        if last:
            uninstall()


def _fold(site: dict[str, Any], totals: tuple[float, ...] | list[float]) -> None:
    acquisitions, contended, wait_total, wait_max, hold_max = totals
    site["acquisitions"] += int(acquisitions)
    site["contended"] += int(contended)
    site["wait_total_s"] = round(site["wait_total_s"] + wait_total, 6)
    site["wait_max_s"] = max(site["wait_max_s"], round(wait_max, 6))
    site["hold_max_s"] = max(site["hold_max_s"], round(hold_max, 6))


def _sites(locks: list[_Tracked]) -> list[dict[str, Any]]:
    """Per creation site: live and total lock counts and totals (for many short-lived locks)."""
    sites: dict[tuple[str, str, str], dict[str, Any]] = {}

    def site(key: tuple[str, str, str]) -> dict[str, Any]:
        kind, created_at, function = key
        return sites.setdefault(
            key,
            {
                "kind": kind,
                "created_at": created_at,
                "function": function,
                "alive": 0,
                "created": 0,
                "acquisitions": 0,
                "contended": 0,
                "wait_total_s": 0.0,
                "wait_max_s": 0.0,
                "hold_max_s": 0.0,
            },
        )

    for key, (dead, *dead_totals) in list(_site_totals.items()):
        entry = site(key)
        entry["created"] += int(dead)
        _fold(entry, dead_totals)
    for lock in locks:
        entry = site(lock._site())
        entry["alive"] += 1
        entry["created"] += 1
        _fold(entry, lock._totals())
    return list(sites.values())


def snapshot(per_site: bool = True, in_use_only: bool = False) -> dict[str, Any]:
    """Every live tracked lock, plain JSON-able data; reads per-lock state, never waits on it.

    ``since_s`` is how long ago (seconds) an owner took the lock or a waiter began to wait;
    ``monotonic`` is the snapshot's own time on the monotonic clock; ``threads`` names idents.
    ``per_site=False`` leaves out ``sites`` (folding every site's totals was a fifth of an
    agent sample's cost, and a sample reports locks, not sites). ``in_use_only``: only locks
    held or waited for, as a thread dump lists them (an idle lock says nothing of any thread;
    describing every one was most of the tracker's part of a sample).
    """
    with _state_lock:
        now = monotonic()
        locks = [lock for ref in list(_live.values()) if (lock := ref()) is not None]
        sites = _sites(locks) if per_site else None
    if in_use_only:
        locks = [lock for lock in locks if lock.waiters or lock.notify_waiters or lock.owners()]
    snap = {
        "monotonic": now,
        "pid": os.getpid(),
        "tracking": installed(),
        "threads": [{"ident": t.ident, "name": t.name} for t in threading.enumerate()],
        "locks": [lock.describe(now) for lock in locks],
    }
    if sites is not None:
        snap["sites"] = sites
    return snap


def wait_histogram() -> dict[str, Any]:
    """Every wait for a tracked lock since the process started, per lock kind, plain JSON-able
    data: ``bounds`` (seconds, ascending), and per kind ``counts`` (waits up to each bound, not
    cumulative, then the longer ones: one more than ``bounds``) and ``sum_s``. Nothing is read
    from the locks themselves, so a lock gone since keeps its waits here, and it costs the
    same with 10 locks or 100 000. Each count only grows (a wait is counted before its
    seconds: a reading may see the count of a wait whose seconds come in the next one)."""
    rows = {kind: list(row) for kind, row in list(_waits.items())}
    return {
        "bounds": list(WAIT_BUCKETS),
        "kinds": {
            kind: {"counts": [int(n) for n in row[:-1]], "sum_s": row[-1]}
            for kind, row in rows.items()
        },
    }


def _cycle_key(snap: dict[str, Any], cycle: list[int]) -> tuple[tuple[int, str, float], ...]:
    """The waits that make a cycle: (thread, lock, when its wait began)."""
    waits = {
        waiter["ident"]: (lock["id"], round(snap["monotonic"] - waiter["since_s"], 2))
        for lock in snap["locks"]
        for waiter in lock["waiters"]
    }
    return tuple((ident, *waits.get(ident, ("", 0.0))) for ident in cycle)


DeadlockCallback = Callable[[list[int], dict[str, Any]], object]


class DeadlockWatch:
    """A daemon thread that checks the wait-for graph every ``interval`` s and calls
    ``on_deadlock(cycle, snapshot)`` once per cycle.

    A cycle counts when two checks in a row see it made of the same waits (a snapshot reads
    locks one after another, so one check alone could join waits that never coexisted); a new
    cycle is checked again after ``CONFIRM_S``, so a deadlock is named 0.05-0.3 s after it
    forms at the default interval. Its own failures are counted in ``errors``, never raised.
    """

    CONFIRM_S = 0.05

    def __init__(self, interval: float = 0.25, on_deadlock: DeadlockCallback | None = None):
        self.interval = interval
        self.on_deadlock = on_deadlock
        self.reported: list[list[int]] = []
        self.errors = 0  # callbacks that raised; the watch goes on
        self._seen: set[tuple[tuple[int, str, float], ...]] = set()
        self._previous: set[tuple[tuple[int, str, float], ...]] = set()
        self._pending = False  # a cycle seen once, not yet confirmed
        self._stop = _thread.allocate_lock()  # raw: the watch's own lock stays out of the graph
        self._thread: threading.Thread | None = None

    def check(self, snap: dict[str, Any] | None = None) -> list[list[int]]:
        """One check of ``snap`` (a fresh snapshot when None: another process's may be given);
        returns (and reports) the cycles confirmed for the first time."""
        snap = snapshot() if snap is None else snap
        current = {_cycle_key(snap, cycle): cycle for cycle in find_deadlocks(snap)}
        fresh = [key for key in current if key in self._previous and key not in self._seen]
        self._previous = set(current)
        self._seen = (self._seen | set(fresh)) & self._previous  # a gone cycle never returns
        self._pending = bool(self._previous - self._seen)
        cycles = [current[key] for key in fresh]
        for cycle in cycles:
            self.reported.append(cycle)
            if self.on_deadlock is not None:
                try:
                    self.on_deadlock(cycle, snap)
                except Exception:
                    self.errors += 1
        return cycles

    def _run(self) -> None:
        while not self._stop.acquire(timeout=self.CONFIRM_S if self._pending else self.interval):
            try:
                self.check()
            except Exception:
                self.errors += 1
        self._stop.release()

    def start(self) -> DeadlockWatch:
        self._stop.acquire()
        self._thread = threading.Thread(
            target=self._run, name="threadscope-deadlock-watch", daemon=True
        )
        self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        if self._thread is not None:
            self._stop.release()
            self._thread.join(timeout)
            self._thread = None

    def __enter__(self) -> DeadlockWatch:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
