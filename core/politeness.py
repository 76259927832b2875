"""Politeness per host: how far apart two requests to one host must be, and whose turn is next.

A host's delay is the longer of ``host_delay`` and its robots.txt ``Crawl-delay``, looked up
once per host. A request to a host with a delay reserves the host's next free turn (turns are
handed out in order, one delay apart) and waits for it; the pipeline does the waiting, so a
stop can cut it short. With no delay there is no turn to take and no lock to pass.
"""

from __future__ import annotations

import threading
import time

from core.robots import RobotsCache


class HostTurns:
    """Each host's delay and next free turn; thread-safe."""

    def __init__(self, host_delay: float, robots: RobotsCache | None) -> None:
        self._host_delay = host_delay
        self._robots = robots
        self._delay: dict[str, float] = {}
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def delay_for(self, host: str) -> float:
        """Seconds between two requests to ``host`` (``host[:port]``); 0 for none."""
        delay = self._delay.get(host)
        if delay is None:
            delay = self._host_delay
            if self._robots is not None:
                delay = max(delay, self._robots.crawl_delay(host) or 0.0)
            self._delay[host] = delay
        return delay

    def reserve(self, host: str, delay: float) -> float:
        """Take ``host``'s next free turn; returns the seconds until it starts (0: now)."""
        with self._lock:
            now = time.monotonic()
            turn = max(now, self._next.get(host, now))
            self._next[host] = turn + delay
        return turn - now
