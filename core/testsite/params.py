"""The embedded test site's knobs that the window exposes (``TestSite`` takes them)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SiteParams:
    """What the window asks of the embedded site (defaults: the form's); a change restarts it.

    The defaults make a crawl worth watching: at the default 16 threads a 150 ms site serves
    about 16 / 0.15 ≈ 107 pages/s (Little's law), so 5 000 pages take about 48 s (measured:
    48.3 s), long enough to press Start, watch, and change the thread count mid-crawl."""

    pages: int = 5_000
    latency_ms: int = 150
    error_rate: float = 0.02  # 0..1
