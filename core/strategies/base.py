"""What a scheduling strategy provides to the engine."""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from core.engine import Crawler, _Worker
    from core.frontier import Item

MAX_RECURSIVE_DEPTH = 500
"""Recursing once per link level, this keeps clear of Python's recursion limit."""


class Strategy:
    """A scheduling policy for one crawl: which thread handles which URL, and when it is over.

    The engine calls ``start`` once with the deduplicated start URLs; the strategy starts its
    threads through the crawler (``spawn_workers``, ``start_worker``, ``start_thread`` or
    ``adopt_worker``), runs ``crawl.handle(worker, item)`` for each URL, schedules the items
    it returns, calls ``crawl.checkpoint(worker)`` before each URL (pause and stop), and calls
    ``crawl.finish()`` when no URL is queued or in hand. Shutdown (grace, socket shut-down,
    joins) is the engine's, for every strategy.
    """

    name: ClassVar[str]
    summary: ClassVar[str]
    """What a user sees about it (the Strategy box's tooltip, ``--strategy`` help)."""
    resizable: ClassVar[bool] = False
    """Whether ``set_threads`` works while running (workers run ``work``)."""
    depth_limit: ClassVar[int | None] = None
    """The highest ``max_depth`` it can run (strategies that recurse once per link level)."""

    def __init__(self, crawl: Crawler) -> None:
        # The crawler owns its strategy; a weak proxy back keeps the pair out of a reference
        # cycle, so a finished crawl is freed at once instead of at the next gc pass.
        self.crawl = weakref.proxy(crawl)

    def threads_target(self) -> int:
        return self.crawl.settings.threads

    def start(self, items: list[Item]) -> None:
        raise NotImplementedError

    def work(self, w: _Worker) -> None:
        """The body of one worker of a resizable strategy (``set_threads`` spawns more)."""
        raise NotImplementedError

    def wake(self) -> None:
        """Pause, stop or a retirement happened: wake any thread waiting for work."""

    def backlog(self) -> int:
        """URLs waiting to be handled (``CrawlStats.frontier``)."""
        return 0

    def dropped(self) -> int:
        """Links lost for lack of room (``CrawlStats.dropped_links``)."""
        return 0

    def close(self) -> None:
        """The crawl is over and its threads have exited: free what the strategy holds."""
