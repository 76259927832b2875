"""Politeness per host: how far apart two requests to one host must be, and whose turn is next.

A host is an origin, ``scheme://host[:port]`` (``core.frontier.origin``). Its delay is the
longer of ``host_delay`` and its robots.txt ``Crawl-delay``, looked up once per host (after the
robots.txt check, so the lookup never fetches). The ``bounded`` strategy's frontier schedules
hosts itself from ``known`` and never makes a worker wait for a turn; for the other strategies
a request to a host with a delay reserves the host's next free turn (turns are handed out in
order, one delay apart) and the pipeline waits for it, so a stop can cut it short. Either
way the request itself starts only a delay after the host's last one started (``begin``), so
a late wake-up never shortens a gap. With
``autothrottle`` the delay in force is ``core.autothrottle``'s, that floor its lower bound;
the pipeline reports each response through ``observe``.
"""

from __future__ import annotations

import threading
import time

from core.autothrottle import AutoThrottle, DelayChange
from core.robots import RobotsCache


class HostTurns:
    """Each host's delay and next free turn; thread-safe."""

    def __init__(
        self, host_delay: float, robots: RobotsCache | None, autothrottle: bool = False
    ) -> None:
        self._host_delay = host_delay
        self._robots = robots
        self._throttle = AutoThrottle() if autothrottle else None
        self._delay: dict[str, float] = {}
        self._next: dict[str, float] = {}
        self._started: dict[str, float] = {}
        self._lock = threading.Lock()

    def delay_for(self, host: str) -> float:
        """Seconds between two requests to ``host`` (an origin) now; 0 for none.

        With robots.txt obeyed this may read it: call it after the robots.txt check.
        """
        floor = self._floor(host)
        throttle = self._throttle
        return floor if throttle is None else throttle.delay(host, floor)

    def _floor(self, host: str) -> float:
        """The longer of ``host_delay`` and robots.txt's Crawl-delay, looked up once."""
        delay = self._delay.get(host)
        if delay is None:
            delay = self._host_delay
            if self._robots is not None:
                delay = max(delay, self._robots.crawl_delay(host) or 0.0)
            self._delay[host] = delay
        return delay

    def known(self, host: str) -> float | None:
        """``host``'s delay now if it is known without reading anything, else None."""
        if host not in self._delay and self._robots is not None:
            return None
        return self.delay_for(host)

    def observe(
        self, host: str, latency: float, status: int | None, failed: bool
    ) -> DelayChange | None:
        """Autothrottle: adapt ``host``'s delay to one response; a big change is returned."""
        throttle = self._throttle
        if throttle is None:
            return None
        floor = self._floor(host)
        with self._lock:
            return throttle.observe(host, floor, latency, status, failed)

    def reserve(self, host: str, delay: float) -> float:
        """Take ``host``'s next free turn; returns the seconds until it starts (0: now)."""
        with self._lock:
            now = time.monotonic()
            turn = max(now, self._next.get(host, now))
            self._next[host] = turn + delay
        return turn - now

    def begin(self, host: str, delay: float) -> float:
        """A request to ``host`` starts now if the last one started ``delay`` ago: returns 0 and
        records it; else the seconds still to wait (a late wake-up never shortens a gap)."""
        with self._lock:
            now = time.monotonic()
            last = self._started.get(host)
            if last is not None and last + delay > now:
                return last + delay - now
            self._started[host] = now
        return 0.0

    def turn_in(self, host: str) -> float:
        """Seconds until ``host``'s next free turn without taking it (0: now, or unknown)."""
        turn = self._next.get(host)
        return 0.0 if turn is None else max(0.0, turn - time.monotonic())
