"""The embedded test site's knobs that the window exposes (``TestSite`` takes them)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SiteParams:
    """What the window asks of the embedded site (defaults: the form's); a change restarts it."""

    pages: int = 500
    latency_ms: int = 20
    error_rate: float = 0.02  # 0..1
