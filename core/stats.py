"""Snapshots of a crawl's counters and workers, safe to hand to any thread."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.events import WorkerState


@dataclass(frozen=True, slots=True)
class CrawlStats:
    """Counters at one instant; cheap enough to take ten times a second.

    ``pages`` counts fetched URLs (errors included), ``errors`` those with an error,
    ``skipped`` links refused by a limit or rule (depth, URL length, query parameters,
    per-host cap, max pages, robots.txt), ``dropped_links`` links lost because the frontier
    could not spill them to disk.
    """

    pages: int = 0
    errors: int = 0
    bytes: int = 0
    visited: int = 0
    frontier: int = 0
    in_flight: int = 0
    dropped_links: int = 0
    skipped: int = 0
    threads_target: int = 0
    workers_by_state: dict[WorkerState, int] = field(default_factory=dict)
    started_at: float = 0.0
    elapsed: float = 0.0


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    """One worker thread as the window shows it; ``state_since`` is ``time.monotonic()``."""

    name: str
    ident: int | None
    native_id: int | None
    daemon: bool
    state: WorkerState
    url: str | None
    pages: int
    last_error: str | None
    state_since: float
