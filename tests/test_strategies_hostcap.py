"""Every strategy keeps ``per_host_threads`` (issue 11), against embedded sites on two ports.

Concurrency is the slow server's own count of requests between their arrival and their
answer (``max_in_progress``); times are its request log (``/__stats?log=1``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from conftest import wait_until

from core.engine import Crawler
from core.events import WorkerState
from core.hostcap import HostSlots
from core.settings import CrawlSettings
from core.strategies import STRATEGIES
from core.testsite import TestSite

CAP = 2


def page_times(site: TestSite) -> list[float]:
    """When the site received each request for a page (not robots.txt), in order."""
    return [t for t, path in site.stats(log=True)["log"] if path != "/robots.txt"]


@pytest.fixture(scope="module")
def fast_host() -> Iterator[TestSite]:
    with TestSite(pages=200) as site:
        yield site


@pytest.mark.parametrize("strategy", list(STRATEGIES))
def test_each_strategy_keeps_the_cap_on_a_slow_host_and_serves_a_fast_one(fast_host, strategy):
    """Twelve threads, a cap of 2: the slow host (100 ms a page) never sees a third request
    at once, and the fast host, linked last from the slow root after its 40 own links, is
    served at once (those 40 take 2 s at the cap) and done before the slow host."""
    fast_host.reset_stats()
    with TestSite(pages=60, links_per_page=40, latency_ms=100, links_to=(fast_host.url,)) as slow:
        settings = CrawlSettings(
            slow.url,
            threads=12,
            per_host_threads=CAP,
            strategy=strategy,
            max_spawned_threads=64,
            max_depth=500,
        )
        crawler = Crawler(settings)
        crawler.start()
        assert crawler.join(60)
        slow_stats = slow.stats()
        slow_times = page_times(slow)
    assert crawler.reason == "finished"
    assert slow_stats["max_in_progress"] == CAP  # reached, never passed (the server counts)
    assert len(slow_times) == 60
    assert slow_times[-1] - slow_times[0] >= 2.5  # 60 pages, 2 at a time, 100 ms each
    fast_times = page_times(fast_host)
    assert len(fast_times) == 200
    assert fast_times[0] - slow_times[0] < 1.0  # not behind the root's 40 slow links
    assert fast_times[-1] < slow_times[-1]
    assert fast_host.stats()["max_in_progress"] <= CAP


# Of 12 URLs of one host that never answer in time, 2 are in flight; the threads that wait
# for the host's slot: recursive's 10 others (one URL each), thread-per-url's finder (holding
# the 10 links), bounded's 10 workers (no host ready). Pool's dispatcher holds the 10 back.
WAITING = {"bounded": 10, "pool": 0, "recursive": 10, "thread-per-url": 1}


def start_at_the_cap(site: TestSite, strategy: str) -> Crawler:
    urls = tuple(f"{site.url}page/{i}" for i in range(1, 13))
    settings = CrawlSettings(
        urls,
        threads=12,
        per_host_threads=CAP,
        strategy=strategy,
        obey_robots=False,
        read_timeout=60,
        deadline=60,
        max_depth=500,
    )
    crawler = Crawler(settings)
    site.reset_stats()
    crawler.start()
    wait_until(lambda: site.stats()["in_progress"] == CAP)
    wait_until(lambda: fetching(crawler) == CAP)
    return crawler


def fetching(crawler: Crawler) -> int:
    return sum(w.state is WorkerState.FETCHING for w in crawler.workers())


def waiting_host(crawler: Crawler) -> int:
    return sum(w.state is WorkerState.WAITING_HOST for w in crawler.workers())


@pytest.mark.parametrize("strategy", list(STRATEGIES))
def test_pause_and_stop_wake_threads_waiting_at_the_cap(strategy):
    with TestSite(pages=50, latency_ms=30_000) as site:
        crawler = start_at_the_cap(site, strategy)
        try:
            waiting = WAITING[strategy]
            if strategy == "pool":
                wait_until(lambda: crawler.stats().frontier == 10)  # held by the dispatcher
            elif strategy != "bounded":  # bounded's waiters show IDLE: no host's turn to show
                wait_until(lambda: waiting_host(crawler) == waiting)
            crawler.pause()
            wait_until(lambda: crawler.parked == waiting)  # woken from the slot wait at once
            crawler.resume()
            wait_until(lambda: crawler.parked == 0 and fetching(crawler) == CAP)
            began = time.monotonic()
            crawler.stop()
            assert crawler.join(5)
            assert time.monotonic() - began < 2.0  # not the 30 s answer
        finally:
            crawler.stop()
            crawler.join(10)
        assert crawler.reason == "stopped"
        assert site.stats()["max_in_progress"] == CAP  # the waiters took nothing on the way out


def test_host_slots_cap_each_host_and_pass_a_slot_given_back_to_its_waiter():
    slots = HostSlots(2)
    assert slots.take("a")
    assert slots.take("a")
    assert not slots.take("a")
    assert slots.full("a")
    assert slots.take("b")  # another host's slots are its own
    got: list[str | None] = []

    def waiter() -> None:
        got.append(slots.wait({"a"}, slots.wakeups))

    thread = threading.Thread(target=waiter)
    thread.start()
    try:
        wait_until(lambda: slots._waiters)
        assert got == []  # both of a's slots are taken
        assert not slots.give_back("a")  # passed on to the waiter: a stays at its cap
        wait_until(lambda: got == ["a"])
        assert not slots.take("a")
    finally:
        slots.wake()
        thread.join(5)
    assert slots.give_back("a")  # a was at its cap: now one is free
    assert not slots.full("a")
    assert slots.wait(["b"], slots.wakeups) == "b"  # b has a free slot: taken at once
    assert slots.full("b")


def test_host_slots_wake_ends_a_wait_even_one_that_starts_after_it():
    slots = HostSlots(1)
    assert slots.take("a")
    since = slots.wakeups  # read before the caller checked its flags
    slots.wake()  # lands between the check and the wait
    assert slots.wait({"a"}, since) is None  # returns: the wake-up is not lost
    with pytest.raises(ValueError, match="cap must be 1 or more"):
        HostSlots(0)
