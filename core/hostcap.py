"""Requests in flight per host, at most ``per_host_threads``, where no frontier keeps the cap.

``bounded``'s frontier keeps this cap in its own per-host records, where it is part of choosing
the next host. ``pool``, ``recursive`` and ``thread-per-url`` schedule URLs themselves: a thread
takes a slot of the URL's host (its origin) before the URL goes into the pipeline and gives it
back when the pipeline returns, so a host never has more than ``cap`` requests in flight
(its robots.txt read and turn wait included). Taking never blocks: a strategy holding URLs of
several hosts takes a slot of one below its cap; only a thread with nothing else to do waits
for one of its hosts (``wait``), and ``wake()`` cuts every wait short (stop, pause).
"""

from __future__ import annotations

import threading
from collections.abc import Collection


class HostSlots:
    """``cap`` slots per host; thread-safe. A host with none taken is forgotten."""

    def __init__(self, cap: int) -> None:
        if cap < 1:
            raise ValueError(f"cap must be 1 or more, got {cap}")
        self.cap = cap
        self._taken: dict[str, int] = {}
        self._cond = threading.Condition(threading.Lock())
        self._waiters = 0  # in wait(): no notify (and its cost) when nobody waits
        self._wakeups = 0

    def take(self, host: str) -> bool:
        """Take one of ``host``'s slots if one is free; never blocks."""
        with self._cond:
            taken = self._taken.get(host, 0)
            if taken >= self.cap:
                return False
            self._taken[host] = taken + 1
            return True

    def full(self, host: str) -> bool:
        """Whether every slot of ``host`` is taken now (a peek without the lock)."""
        return self._taken.get(host, 0) >= self.cap

    def give_back(self, host: str) -> bool:
        """Free one of ``host``'s slots; True if the host was at its cap until now."""
        with self._cond:
            taken = self._taken[host]
            if taken > 1:
                self._taken[host] = taken - 1
            else:
                del self._taken[host]
            was_full = taken >= self.cap
            if was_full and self._waiters:
                self._cond.notify_all()
        return was_full

    def wait(self, hosts: Collection[str], since: int) -> None:
        """Wait until one of ``hosts`` has a free slot, or for a ``wake()`` after ``since``.

        ``since``: a ``wakeups`` value read before the caller checked its own flags, so a
        wake-up that lands between the check and the wait is never lost.
        """
        with self._cond:
            self._waiters += 1
            try:
                while self._wakeups == since and all(map(self.full, hosts)):
                    self._cond.wait()
            finally:
                self._waiters -= 1

    def wake(self) -> None:
        """Make every current ``wait`` return so its caller re-checks its own flags."""
        with self._cond:
            self._wakeups += 1
            self._cond.notify_all()

    @property
    def wakeups(self) -> int:
        return self._wakeups
