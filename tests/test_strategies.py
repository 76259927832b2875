"""Every crawl strategy against the embedded test site over loopback: same pages, same
events, same limits, prompt stop, and the thread-per-url cap."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from conftest import SITE_PAGES, crawl_threads, start_hung_crawl, wait_until
from conftest import crawl_to_end as run

from core.engine import Crawler
from core.events import (
    CrawlState,
    CrawlStateChanged,
    EventStream,
    FetchFinished,
    Notice,
    WorkerStarted,
    WorkerStateChanged,
    WorkerStopped,
)
from core.results import read_results
from core.settings import STRATEGIES, CrawlSettings
from core.settings_error import SettingsError
from core.strategies import STRATEGIES as IMPLEMENTED
from core.strategies import Pool
from core.testsite import TestSite

ALL = list(STRATEGIES)
SLOW_PAGES = 100


def test_settings_name_every_implemented_strategy_and_refuse_others(site):
    assert set(IMPLEMENTED) == set(STRATEGIES)
    with pytest.raises(SettingsError) as err:
        CrawlSettings(site.url, strategy="fork-bomb")
    assert err.value.field == "strategy"
    assert "thread-per-url" in err.value.message
    with pytest.raises(SettingsError, match="max_spawned_threads"):
        CrawlSettings(site.url, max_spawned_threads=0)
    with pytest.raises(SettingsError, match="max_depth"):
        CrawlSettings(site.url, strategy="recursive", max_depth=10_000)


@pytest.mark.parametrize("strategy", ALL)
def test_each_strategy_crawls_the_whole_site_once_with_the_same_events(site, tmp_path, strategy):
    site.reset_stats()
    out = tmp_path / "results.jsonl"
    settings = CrawlSettings(
        site.url, threads=4, strategy=strategy, max_spawned_threads=16, results_path=str(out)
    )
    crawler, events = run(settings)
    served = site.stats()
    assert crawler.reason == "finished"
    assert served["pages_served"] == served["pages_distinct"] == SITE_PAGES
    stats = crawler.stats()
    assert stats.pages == SITE_PAGES
    assert stats.frontier == 0
    assert stats.in_flight == 0
    results = [e.result for e in events if isinstance(e, FetchFinished)]
    assert len({r.url for r in results}) == len(results) == SITE_PAGES
    assert len(read_results(str(out))) == SITE_PAGES
    fetches = [e for e in events if isinstance(e, WorkerStateChanged) and e.state == "fetching"]
    assert len(fetches) == len({e.url for e in fetches}) == SITE_PAGES  # one event per fetch
    states = [e.state for e in events if isinstance(e, CrawlStateChanged)]
    assert states == [CrawlState.RUNNING, CrawlState.FINISHED]
    started = [e.name for e in events if isinstance(e, WorkerStarted)]
    stopped = [e.name for e in events if isinstance(e, WorkerStopped)]
    assert started
    assert sorted(started) == sorted(stopped)
    workers = {e.worker for e in events if isinstance(e, FetchFinished)}
    assert workers <= set(started)
    assert crawler.workers() == []


@pytest.mark.parametrize("strategy", ALL)
def test_each_strategy_honours_max_pages_and_depth(site, strategy):
    crawler, _ = run(CrawlSettings(site.url, threads=4, strategy=strategy, max_pages=50))
    assert crawler.reason == "max_pages"
    assert crawler.stats().pages == 50
    shallow, events = run(CrawlSettings(site.url, threads=4, strategy=strategy, max_depth=1))
    depths = {e.result.depth for e in events if isinstance(e, FetchFinished)}
    assert depths == {0, 1}
    assert shallow.reason == "finished"


def test_thread_per_url_never_has_more_spawned_threads_alive_than_the_cap(site):
    cap = 8
    crawler = Crawler(CrawlSettings(site.url, strategy="thread-per-url", max_spawned_threads=cap))
    seen = [0]
    done = threading.Event()

    def sample() -> None:  # an independent look at the live threads, beside the counter
        while not done.is_set():
            alive = sum(t.name.startswith("crawl-spawn-") for t in threading.enumerate())
            seen[0] = max(seen[0], alive)
            done.wait(0.001)

    sampler = threading.Thread(target=sample, name="test-sampler")
    sampler.start()
    crawler.start()
    try:
        assert crawler.join(30)
    finally:
        done.set()
        sampler.join()
    strategy = crawler._strategy
    assert crawler.stats().pages == SITE_PAGES
    assert crawler.reason == "finished"
    assert strategy.peak_alive == cap  # the cap was reached ...
    assert strategy.inline > 0  # ... so finders crawled links themselves
    # a thread leaves the count in its last line; the interpreter's own teardown after it
    # is the only moment enumerate() can list one more
    assert 2 <= seen[0] <= cap + 1
    assert crawler.stats().threads_target == cap


@pytest.mark.parametrize("strategy", ALL)
def test_each_strategy_stops_promptly_with_requests_hung(trap_site, strategy):
    crawler = start_hung_crawl(trap_site, 4, tag=strategy, strategy=strategy)
    began = time.perf_counter()
    crawler.stop()
    assert crawler.join(2.0)
    assert time.perf_counter() - began < 2.0
    assert crawler.reason == "stopped"
    assert crawler.state is CrawlState.FINISHED
    assert crawl_threads() == []


@pytest.fixture(scope="module")
def slow_site() -> Iterator[TestSite]:
    with TestSite(pages=SLOW_PAGES, latency_ms=10) as running:
        yield running


def holding_a_url(crawler: Crawler) -> int:
    """Workers that hold a URL: all of them, except pool threads waiting for a task."""
    strategy = crawler._strategy
    return strategy.running if isinstance(strategy, Pool) else len(crawler.workers())


@pytest.mark.parametrize("strategy", ALL)
def test_each_strategy_pauses_and_resumes(slow_site, strategy):
    slow_site.reset_stats()
    crawler = Crawler(CrawlSettings(slow_site.url, threads=4, strategy=strategy))
    crawler.start()
    try:
        wait_until(lambda: crawler.stats().pages >= 12)  # past the seeding: threads are busy
        crawler.pause()
        wait_until(lambda: crawler.parked == holding_a_url(crawler) > 0)
        requests = slow_site.stats()["requests"]
        pages = crawler.stats().pages
        threading.Event().wait(0.05)  # an observation window (not synchronisation)
        assert slow_site.stats()["requests"] == requests
        assert crawler.stats().pages == pages < SLOW_PAGES
        assert crawler.stats().in_flight == 0
        crawler.resume()
        assert crawler.join(30)
    finally:
        crawler.stop()
        crawler.join(5)
    assert crawler.reason == "finished"
    assert slow_site.stats()["pages_served"] == SLOW_PAGES


@pytest.mark.parametrize("strategy", [s for s in ALL if s != "bounded"])
def test_set_threads_is_refused_with_a_notice_where_unsupported(site, strategy):
    events = EventStream()
    sub = events.subscribe()
    crawler = Crawler(CrawlSettings(site.url, threads=2, strategy=strategy), events)
    assert not crawler.resizable
    target = crawler.stats().threads_target
    crawler.start()
    crawler.pause()
    crawler.set_threads(6)
    assert crawler.stats().threads_target == target
    crawler.resume()
    assert crawler.join(30)
    notices = [e.message for e in sub.drain() if isinstance(e, Notice)]
    assert any("cannot change its thread count" in m for m in notices)
    assert Crawler(CrawlSettings(site.url)).resizable  # bounded: see test_engine


def test_cli_crawl_takes_a_strategy(site, capsys):
    from core.cli import main

    assert main(["crawl", site.url, "--strategy", "recursive", "--threads", "3", "--quiet"]) == 0
    assert f"pages     {SITE_PAGES} in" in capsys.readouterr().out
