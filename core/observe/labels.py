"""Bounded label sets for Prometheus counters.

A counter's label values must be few and stable: every distinct value is a time series that
Prometheus keeps for weeks, and ``rate()`` over a series only works while the series exists.
So a label value is admitted the first time it is seen, while fewer than ``limit`` are
admitted, and keeps its series for the life of the exporter; everything after that is counted
under ``"other"``. Pool threads (``crawl-worker-7``) and the first hosts of a crawl get their
own series; ten thousand one-shot thread names end up in one.
"""

from __future__ import annotations

OTHER = "other"


class BoundedLabels:
    """Maps raw names to at most ``limit`` label values plus ``"other"``. Not thread-safe:
    callers hold their own lock."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"limit must be 1 or more, got {limit}")
        self.limit = limit
        self._admitted: set[str] = set()

    def label(self, name: str) -> str:
        if name in self._admitted:
            return name
        if len(self._admitted) < self.limit and name != OTHER:
            self._admitted.add(name)
            return name
        return OTHER

    def __len__(self) -> int:
        return len(self._admitted)
