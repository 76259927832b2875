"""The per-host report: pages, bytes, errors, robots refusals, redirects and response times.

:class:`HostLedger` keeps one small record per host (an origin, ``scheme://host[:port]``);
the pipeline records each URL's result in it under the pipeline's own lock (the ledger has
none, so a URL costs no extra lock). Response times go into a log-bucket histogram (buckets
10 % apart, stored sparsely), so the mean is exact, the p95 is within 10 % and a host costs a
few hundred bytes however many pages it has. :meth:`HostLedger.rows` gives frozen
:class:`HostRow` snapshots; the delay in force and the requests in flight come from the
crawl at that instant (see ``Crawler.hosts``).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

CSV_COLUMNS = (
    "host",
    "pages",
    "bytes",
    "errors",
    "robots_excluded",
    "redirects",
    "mean_ms",
    "p95_ms",
    "delay_s",
)
_RATIO = 1.1
_PER_LOG = 1 / math.log(_RATIO)
_log = math.log


@dataclass(frozen=True, slots=True)
class HostRow:
    """One host's figures at one instant."""

    host: str
    pages: int = 0
    bytes: int = 0
    errors: int = 0
    errors_by_kind: Mapping[str, int] = field(default_factory=dict)
    robots_excluded: int = 0
    redirects: int = 0
    mean_ms: float = 0.0
    p95_ms: float = 0.0
    delay_s: float = 0.0
    in_flight: int = 0

    def csv_row(self) -> list[str]:
        return [
            self.host,
            str(self.pages),
            str(self.bytes),
            str(self.errors),
            str(self.robots_excluded),
            str(self.redirects),
            f"{self.mean_ms:.1f}",
            f"{self.p95_ms:.1f}",
            f"{self.delay_s:g}",
        ]


class _Record:
    __slots__ = ("buckets", "bytes", "errors", "pages", "redirects", "robots", "total_ms")

    def __init__(self) -> None:
        self.pages = self.bytes = self.robots = self.redirects = 0
        self.total_ms = 0.0
        self.errors: dict[str, int] | None = None
        self.buckets: dict[int, int] = {}


class HostLedger:
    """Per-host counters; not thread-safe: the caller serialises (the pipeline's lock)."""

    def __init__(self) -> None:
        self._hosts: dict[str, _Record] = {}

    def _record(self, host: str) -> _Record:
        record = self._hosts.get(host)
        if record is None:
            record = self._hosts[host] = _Record()
        return record

    def robots_excluded(self, host: str) -> None:
        self._record(host).robots += 1

    def fetched(
        self, host: str, nbytes: int, elapsed_ms: float, redirects: int, error: str | None
    ) -> None:
        """One fetched URL; ``error``: its kind (``HTTP 404`` for an error answer) or None."""
        record = self._hosts.get(host) or self._record(host)
        record.pages += 1
        record.bytes += nbytes
        if redirects:
            record.redirects += redirects
        record.total_ms += elapsed_ms
        bucket = int(_log(elapsed_ms) * _PER_LOG) if elapsed_ms > 1 else 0
        buckets = record.buckets
        buckets[bucket] = buckets.get(bucket, 0) + 1
        if error is not None:
            if record.errors is None:
                record.errors = {}
            record.errors[error] = record.errors.get(error, 0) + 1

    def rows(
        self,
        delay_of: Callable[[str], float | None] = lambda host: None,
        in_flight: Mapping[str, int] | None = None,
    ) -> list[HostRow]:
        """Every host's row, most pages first."""
        flying = in_flight or {}
        rows = [
            _row(host, record, delay_of(host) or 0.0, flying.get(host, 0))
            for host, record in self._hosts.items()
        ]
        rows.sort(key=lambda row: (-row.pages, row.host))
        return rows


def _row(host: str, record: _Record, delay: float, in_flight: int) -> HostRow:
    errors = dict(record.errors or {})
    pages = record.pages
    return HostRow(
        host=host,
        pages=pages,
        bytes=record.bytes,
        errors=sum(errors.values()),
        errors_by_kind=errors,
        robots_excluded=record.robots,
        redirects=record.redirects,
        mean_ms=record.total_ms / pages if pages else 0.0,
        p95_ms=_quantile(record.buckets, 0.95),
        delay_s=delay,
        in_flight=in_flight,
    )


def _quantile(buckets: Mapping[int, int], q: float) -> float:
    """The upper edge of the bucket holding quantile ``q`` (within 10 % of the true value)."""
    total = sum(buckets.values())
    if not total:
        return 0.0
    rank = q * total
    seen = 0
    for bucket in sorted(buckets):
        seen += buckets[bucket]
        if seen >= rank:
            return float(_RATIO ** (bucket + 1)) if bucket else 1.0
    return 0.0  # not reached


def write_csv(rows: Iterable[HostRow], out: IO[str]) -> None:
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    writer.writerows(row.csv_row() for row in rows)


def save_csv(rows: Iterable[HostRow], path: str | Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as out:
        write_csv(rows, out)


def format_table(rows: list[HostRow], top: int = 20) -> str:
    """The top ``top`` hosts by pages as a fixed-width table (``threadscope crawl``'s end)."""
    head = ("host", "pages", "MiB", "errors", "robots", "redir", "mean ms", "p95 ms", "delay s")
    body = [
        (
            r.host,
            str(r.pages),
            f"{r.bytes / 1_048_576:.1f}",
            str(r.errors),
            str(r.robots_excluded),
            str(r.redirects),
            f"{r.mean_ms:.1f}",
            f"{r.p95_ms:.1f}",
            f"{r.delay_s:g}",
        )
        for r in rows[:top]
    ]
    widths = [max(len(line[i]) for line in (head, *body)) for i in range(len(head))]
    lines = [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(line, widths, strict=True))
        )
        for line in (head, *body)
    ]
    if len(rows) > top:
        lines.append(f"... and {len(rows) - top} more hosts")
    return "\n".join(lines)
