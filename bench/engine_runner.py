"""Threadscope's engine as a bench crawler: ``core.engine.Crawler`` through its Python API.

Monitoring off (the throughput runs): nobody subscribes to the event stream, so the engine
skips building events, and no sampler runs. Monitoring on: a MetricsSampler at its default
100 ms and a subscriber drained every 50 ms, as the window's bridge does.
"""

from __future__ import annotations

import threading

from core.engine import Crawler
from core.settings import CrawlSettings

DRAIN_INTERVAL_S = 0.05  # the GUI bridge's tick


def settings_for(
    start_url: str, concurrency: int, max_pages: int, pin_workers: bool = True
) -> CrawlSettings:
    """The bench's crawl of one host: ``concurrency`` threads, all of them on that host."""
    return CrawlSettings(
        start_urls=(start_url,),
        threads=concurrency,
        per_host_threads=concurrency,  # one host, like the baselines' per-domain limit
        max_pages=max_pages,
        obey_robots=False,
        pin_workers=pin_workers,
    )


def run_drained(crawler: Crawler, interval_s: float = DRAIN_INTERVAL_S) -> int:
    """Run ``crawler`` to its end with one subscriber drained every ``interval_s`` on a thread
    of its own, as the window's bridge does; the events it drained."""
    subscription = crawler.events.subscribe(maxlen=100_000)
    finished = threading.Event()
    drained = [0]

    def drain() -> None:
        while not finished.wait(interval_s):
            drained[0] += len(subscription.drain())
        drained[0] += len(subscription.drain())

    drainer = threading.Thread(target=drain, name="bench-drain")
    drainer.start()
    crawler.start()
    crawler.join()
    finished.set()
    drainer.join()
    return drained[0]


def crawl(
    start_url: str,
    concurrency: int,
    max_pages: int,
    monitoring: bool = False,
    metrics_path: str | None = None,
    pin_workers: bool = True,
) -> int:
    """Pages fetched without error; ``metrics_path`` (monitoring on) gets the sampler's CSV."""
    crawler = Crawler(settings_for(start_url, concurrency, max_pages, pin_workers))
    if not monitoring:
        crawler.start()
        crawler.join()
        return crawler.stats().pages - crawler.stats().errors

    from core.sampler import MetricsSampler

    sampler = MetricsSampler(source=crawler)
    sampler.start()
    run_drained(crawler)
    sampler.stop()
    sampler.join(2.0)
    if metrics_path:
        sampler.to_csv(metrics_path)
    stats = crawler.stats()
    return stats.pages - stats.errors
