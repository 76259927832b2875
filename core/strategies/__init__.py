"""How a crawl schedules URLs on threads; ``CrawlSettings.strategy`` picks one.

Every strategy runs the engine's one per-URL pipeline (``StrategyHost.handle``) and only decides
which thread handles which URL when, and when the crawl has run out of work:

- ``bounded``: fixed workers around a bounded frontier (the engine's own design);
- ``pool``: a dispatcher feeding an unbounded ``queue.Queue`` into a ``ThreadPoolExecutor``;
- ``recursive``: a few threads recursing depth-first, no pool, no queue;
- ``thread-per-url``: a new thread per discovered link, up to a hard cap.
"""

from __future__ import annotations

from core.strategies.base import Strategy, StrategyHost
from core.strategies.bounded import Bounded
from core.strategies.pool import Pool
from core.strategies.recursive import Recursive
from core.strategies.thread_per_url import ThreadPerUrl

STRATEGIES: dict[str, type[Strategy]] = {
    cls.name: cls for cls in (Bounded, Pool, Recursive, ThreadPerUrl)
}


def make_strategy(name: str, crawl: StrategyHost) -> Strategy:
    return STRATEGIES[name](crawl)


__all__ = [
    "STRATEGIES",
    "Bounded",
    "Pool",
    "Recursive",
    "Strategy",
    "StrategyHost",
    "ThreadPerUrl",
    "make_strategy",
]
