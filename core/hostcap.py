"""Requests in flight per host, at most ``per_host_threads``, where no frontier keeps the cap.

``bounded``'s frontier keeps this cap in its own per-host records, where it is part of choosing
the next host. ``pool``, ``recursive`` and ``thread-per-url`` schedule URLs themselves: a thread
takes a slot of the URL's host (its origin) before the URL goes into the pipeline and gives it
back when the pipeline returns, so a host never has more than ``cap`` requests in flight
(its robots.txt read and turn wait included). Taking never blocks: a strategy holding URLs of
several hosts takes a slot of one below its cap; only a thread with nothing else to do waits
for one of its hosts (``wait``), and ``wake()`` cuts every wait short (stop, pause).

A slot given back while threads wait for its host passes straight to the one that has waited
longest (each waiter sleeps on its own condition): one wake-up per slot, not one per waiter
(``thread-per-url`` can have dozens of finders waiting for one busy host).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Collection


class _Waiter:
    """A thread in ``HostSlots.wait``: the host whose slot it was handed, once it has one."""

    __slots__ = ("cond", "done", "granted")

    def __init__(self, lock: threading.Lock) -> None:
        self.cond = threading.Condition(lock)
        self.granted: str | None = None
        self.done = False  # left the wait: skipped in the other hosts' queues


class HostSlots:
    """``cap`` slots per host; thread-safe. A host with none taken is forgotten."""

    def __init__(self, cap: int) -> None:
        if cap < 1:
            raise ValueError(f"cap must be 1 or more, got {cap}")
        self.cap = cap
        self._taken: dict[str, int] = {}
        self._lock = threading.Lock()
        self._queues: dict[str, deque[_Waiter]] = {}  # host -> its waiters, longest first
        self._waiters: set[_Waiter] = set()
        self._wakeups = 0

    def take(self, host: str) -> bool:
        """Take one of ``host``'s slots if one is free; never blocks."""
        with self._lock:
            return self._take(host)

    def _take(self, host: str) -> bool:
        taken = self._taken.get(host, 0)
        if taken >= self.cap:
            return False
        self._taken[host] = taken + 1
        return True

    def full(self, host: str) -> bool:
        """Whether every slot of ``host`` is taken now (a peek without the lock)."""
        return self._taken.get(host, 0) >= self.cap

    def give_back(self, host: str) -> bool:
        """Free one of ``host``'s slots, or pass it to a thread waiting for one; True if the
        host was at its cap and now has a free slot."""
        with self._lock:
            queue = self._queues.get(host)
            if queue is not None:
                while queue:
                    waiter = queue.popleft()
                    if not waiter.done:
                        waiter.done = True
                        waiter.granted = host
                        waiter.cond.notify()
                        return False
                del self._queues[host]
            taken = self._taken[host]
            if taken > 1:
                self._taken[host] = taken - 1
            else:
                del self._taken[host]
            return taken >= self.cap

    def wait(self, hosts: Collection[str], since: int) -> str | None:
        """Wait for a slot of one of ``hosts``: returns the host whose slot the caller now
        holds, or None after a ``wake()`` later than ``since``.

        ``since``: a ``wakeups`` value read before the caller checked its own flags, so a
        wake-up that lands between the check and the wait is never lost.
        """
        with self._lock:
            for host in hosts:
                if self._take(host):
                    return host
            if self._wakeups != since:
                return None
            waiter = _Waiter(self._lock)
            for host in hosts:
                self._queues.setdefault(host, deque()).append(waiter)
            self._waiters.add(waiter)
            try:
                while waiter.granted is None and self._wakeups == since:
                    waiter.cond.wait()
            finally:
                waiter.done = True
                self._waiters.discard(waiter)
            return waiter.granted

    def wake(self) -> None:
        """Make every current ``wait`` return so its caller re-checks its own flags."""
        with self._lock:
            self._wakeups += 1
            for waiter in self._waiters:
                waiter.cond.notify()

    @property
    def wakeups(self) -> int:
        return self._wakeups
