"""The embedded test site's knobs that the window exposes (``TestSite`` takes them)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SiteParams:
    """What the window asks of the embedded site; a change restarts it."""

    pages: int
    latency_ms: int
    error_rate: float  # 0..1
