"""pin_workers: every thread a crawl runs Python on shares one core; off, they go anywhere."""

from __future__ import annotations

import os
import threading

import pytest
from conftest import crawl_to_end, start_hung_crawl

from core.affinity import crawl_cpu
from core.events import Notice
from core.settings import CrawlSettings
from core.testsite import TestSite

pytestmark = pytest.mark.skipif(
    not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2,
    reason="needs Linux thread affinity and two usable CPUs",
)


def _worker_affinities(prefix: str) -> dict[str, set[int]]:
    return {
        t.name: os.sched_getaffinity(t.native_id)
        for t in threading.enumerate()
        if t.name.startswith(prefix)
    }


@pytest.mark.parametrize("strategy", ["bounded", "pool", "thread-per-url"])
def test_pinned_crawl_threads_share_one_core(trap_site: TestSite, strategy: str) -> None:
    usable = os.sched_getaffinity(0)
    crawler = start_hung_crawl(trap_site, 4, tag=f"pin-{strategy}", strategy=strategy)
    try:
        assert crawler.cpu == max(usable)
        affinities = _worker_affinities("crawl-")
        workers = {n: a for n, a in affinities.items() if "watchdog" not in n}
        assert len(workers) >= 4, affinities
        assert all(a == {crawler.cpu} for a in workers.values()), workers
        assert os.sched_getaffinity(0) == usable  # the caller's own thread is left alone
    finally:
        crawler.stop()
        crawler.join()


def test_unpinned_crawl_threads_may_run_anywhere(trap_site: TestSite) -> None:
    usable = os.sched_getaffinity(0)
    crawler = start_hung_crawl(trap_site, 4, tag="unpinned", pin_workers=False)
    try:
        assert crawler.cpu is None
        workers = _worker_affinities("crawl-worker")
        assert len(workers) == 4, workers
        assert all(a == usable for a in workers.values()), workers
    finally:
        crawler.stop()
        crawler.join()


def test_the_log_says_where_the_threads_run(site: TestSite) -> None:
    settings = CrawlSettings((site.url,), threads=2, max_pages=5, obey_robots=False)
    crawler, events = crawl_to_end(settings)
    notices = [e.message for e in events if isinstance(e, Notice)]
    assert any(f"CPU {crawler.cpu}" in m and "GIL" in m for m in notices), notices


def test_no_pinning_when_asked_not_to() -> None:
    assert crawl_cpu(False) is None
    assert crawl_cpu(True) in os.sched_getaffinity(0)
