"""Adaptive per-host delay (``--autothrottle``), after Scrapy's AutoThrottle.

Per host, aim at ``TARGET_CONCURRENCY`` requests in flight: by Little's law the delay
between requests that keeps that many in flight is ``latency / target``. Each response moves
the delay halfway towards that value, starting gently at ``START_DELAY`` and never below the
floor (``--delay`` / robots.txt ``Crawl-delay``) or above ``MAX_DELAY``. Error answers come
back fast (Scrapy's docs warn of exactly that), so they never lower the delay: 429, 5xx and
transport failures (timeouts, resets) double it instead, a 4xx keeps it. A change of ×1.5 or
more since the last one shown is returned as a :class:`DelayChange` for a chart marker.

Not thread-safe: ``HostTurns`` calls it under its lock.
"""

from __future__ import annotations

from dataclasses import dataclass

TARGET_CONCURRENCY = 1.0
START_DELAY = 0.25
MAX_DELAY = 10.0
SHOWN_RATIO = 1.5
SHOWN_FLOOR = 0.01
"""Delays below this count as this for markers: halving 1 ms to 0.5 ms is not news."""


@dataclass(frozen=True, slots=True)
class DelayChange:
    host: str
    old: float
    new: float

    def text(self) -> str:
        return f"autothrottle {_netloc(self.host)} {self.old:.2g}→{self.new:.2g} s"


class AutoThrottle:
    """Each host's adapted delay; see the module docstring."""

    def __init__(self) -> None:
        self._delay: dict[str, float] = {}
        self._shown: dict[str, float] = {}

    def delay(self, host: str, floor: float) -> float:
        """``host``'s delay now (``START_DELAY`` before its first response)."""
        return max(floor, self._delay.get(host, START_DELAY))

    def observe(
        self, host: str, floor: float, latency: float, status: int | None, failed: bool
    ) -> DelayChange | None:
        """One response (``failed``: a transport error, no answer); returns a big change."""
        old = self.delay(host, floor)
        if failed or status == 429 or (status or 0) >= 500:
            new = max(old * 2, START_DELAY)
        elif status is None:  # refused before an answer (a redirect, a decode error)
            return None
        else:
            new = (old + latency / TARGET_CONCURRENCY) / 2
            if status >= 400:  # a fast error answer must not speed the crawl up
                new = max(new, old)
        new = min(MAX_DELAY, max(floor, new))
        self._delay[host] = new
        shown = self._shown.get(host, START_DELAY)
        big = max(new, SHOWN_FLOOR) / max(shown, SHOWN_FLOOR)
        if big >= SHOWN_RATIO or big <= 1 / SHOWN_RATIO:
            self._shown[host] = new
            return DelayChange(host, shown, new)
        return None


def _netloc(origin: str) -> str:
    return origin.partition("://")[2] or origin
