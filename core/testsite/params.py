"""The embedded test site's knobs that the window exposes (``TestSite`` takes them)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SiteParams:
    """What the window asks of the embedded site (defaults: the form's); a change restarts it.

    The defaults make a crawl worth watching: the site is one host, so at most
    ``per_host_threads`` (8) requests are in flight whatever the thread count; a 75 ms site then
    serves about 8 / 0.075 ≈ 107 pages/s (Little's law) and 5 000 pages take about 47 s, long
    enough to press Start, watch, and change the thread count mid-crawl (workers past the cap
    show as "waiting for host")."""

    pages: int = 5_000
    latency_ms: int = 75
    error_rate: float = 0.02  # 0..1
