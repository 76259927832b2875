"""The crawl engine against the embedded test site over real loopback HTTP."""

from __future__ import annotations

import gc
import logging
import statistics
import subprocess
import sys
import threading
import time
import weakref

import pytest
from conftest import SITE_PAGES, TRAP_SITE_PAGES, start_hung_crawl, wait_until
from conftest import crawl_to_end as run

import core.engine as engine
import core.pipeline as pipeline
from core.budget import Budget
from core.engine import Crawler
from core.events import (
    CrawlState,
    CrawlStateChanged,
    EventStream,
    FetchFinished,
    Notice,
    ThreadsChanged,
    WorkerStarted,
    WorkerState,
    WorkerStateChanged,
    WorkerStopped,
)
from core.fetcher import Fetcher
from core.results import ResultsWriter, read_results
from core.sampler import MetricsSampler
from core.settings import CrawlSettings
from core.settings_error import SettingsError
from core.strategies import Bounded
from core.testsite import TestSite
from core.testsite.site import Site, SiteConfig


def results_of(events: list) -> list:
    return [e.result for e in events if isinstance(e, FetchFinished)]


def test_full_crawl_fetches_every_page_exactly_once(site, tmp_path):
    site.reset_stats()
    out = tmp_path / "results.jsonl"
    crawler, events = run(CrawlSettings(site.url, threads=8, results_path=str(out)))
    served = site.stats()
    assert crawler.reason == "finished"
    assert served["pages_served"] == SITE_PAGES  # the server's own count: nothing fetched twice
    assert served["pages_distinct"] == SITE_PAGES
    stats = crawler.stats()
    assert stats.pages == SITE_PAGES
    assert stats.frontier == 0
    assert stats.in_flight == 0
    assert stats.visited >= SITE_PAGES
    results = results_of(events)
    assert len({r.url for r in results}) == len(results) == SITE_PAGES  # deduped
    records = read_results(str(out))
    assert len(records) == SITE_PAGES
    assert set(records[0]) == {
        "url",
        "parent",
        "depth",
        "status",
        "bytes",
        "elapsed_ms",
        "links",
        "error",
        "truncated",
    }
    assert {r["url"] for r in records} == {r.url for r in results}
    depths = [r.depth for r in results]
    assert depths[0] == 0
    assert max(depths) > 1
    states = [e.state for e in events if isinstance(e, CrawlStateChanged)]
    assert states == [CrawlState.RUNNING, CrawlState.FINISHED]
    started = {e.name for e in events if isinstance(e, WorkerStarted)}
    stopped = {e.name for e in events if isinstance(e, WorkerStopped)}
    assert started == stopped == {f"crawl-worker-{n}" for n in range(1, 9)}


def test_a_page_is_two_events_its_result_saying_when_parsing_began(site):
    crawler, events = run(CrawlSettings(site.url, threads=4, max_pages=40))
    assert crawler.stats().pages == 40
    states = [e for e in events if isinstance(e, WorkerStateChanged)]
    assert WorkerState.PARSING not in {e.state for e in states}  # carried by FetchFinished
    fetching = {(e.name, e.url): e.t for e in states if e.state == WorkerState.FETCHING}
    finished = [e for e in events if isinstance(e, FetchFinished)]
    assert len(finished) == len(fetching) == 40
    for e in finished:  # every page is HTML with links: each was parsed
        assert e.parse_started is not None
        assert fetching[(e.worker, e.result.url)] <= e.parse_started <= e.t
        assert e.result.links > 0


def test_max_depth_limits_to_the_root_and_its_links(site):
    site.reset_stats()
    crawler, _ = run(CrawlSettings(site.url, threads=4, max_depth=1))
    expected = {0} | set(Site(SiteConfig(pages=SITE_PAGES)).links(0))
    assert crawler.stats().pages == len(expected)
    assert site.stats()["pages_served"] == len(expected)


def test_max_pages_stops_scheduling(site):
    site.reset_stats()
    crawler, _ = run(CrawlSettings(site.url, threads=8, max_pages=37))
    assert crawler.reason == "max_pages"
    assert crawler.stats().pages == 37
    assert site.stats()["pages_served"] == 37
    assert crawler.stats().skipped > 0


def test_scope_keeps_the_crawl_on_allowed_hosts(site):
    site.reset_stats()
    # The start URL is always fetched; its links point at 127.0.0.1, which is out of scope.
    crawler, _ = run(CrawlSettings(site.url, allowed_hosts=("localhost",)))
    assert crawler.stats().pages == 1
    assert site.stats()["pages_served"] == 1


def test_robots_disallow_is_honoured():
    with TestSite(pages=20, private_pages=5) as private_site:
        crawler, events = run(CrawlSettings(private_site.url, threads=4))
        served = private_site.stats()
    assert served["by_route"].get("/robots.txt") == 1
    assert served["private_served"] == 0
    skipped = [r for r in results_of(events) if r.error and r.error.kind == "robots"]
    assert skipped
    assert all("/private/" in r.url for r in skipped)
    assert crawler.stats().pages == 20


def test_per_host_cap_and_query_parameter_limit(site, trap_site):
    capped, _ = run(CrawlSettings(site.url, threads=4, per_host_max_pages=10))
    assert capped.stats().pages == 10
    assert capped.stats().skipped > 0
    session = f"{trap_site.url}trap/session"  # every visit links two new ?sid= URLs
    none, _ = run(CrawlSettings(session, max_depth=2, max_query_params=0, obey_robots=False))
    assert none.stats().pages == 1
    assert none.stats().skipped == 2
    some, _ = run(CrawlSettings(session, max_depth=2, max_query_params=1, obey_robots=False))
    assert some.stats().pages == 1 + 2 + 4


def test_crawl_delay_spaces_requests_to_a_host():
    with TestSite(pages=4, crawl_delay=0.05) as slow_site:
        _crawler, events = run(CrawlSettings(slow_site.url, threads=4))
    began = next(e.t for e in events if isinstance(e, CrawlStateChanged))
    fetching = [e for e in events if isinstance(e, WorkerStateChanged) and e.state == "fetching"]
    starts = sorted({e.url: e.t for e in fetching}.values())  # after robots.txt and the wait
    assert len(starts) == 4
    # Each fetch waits for its host slot: the 4th cannot start before 3 delays have passed
    # (a lower bound, so a slow machine cannot make it fail).
    assert starts[-1] - began >= 3 * 0.05
    waits = [
        e for e in events if isinstance(e, WorkerStateChanged) and e.state == "waiting for host"
    ]
    assert waits


def test_frontier_spill_keeps_the_crawl_complete(site):
    site.reset_stats()
    crawler = Crawler(CrawlSettings(site.url, threads=4, frontier_size=4))
    crawler.start()
    assert crawler.join(30)
    assert crawler.stats().pages == SITE_PAGES
    assert crawler._strategy.frontier.spilled_total > 0
    assert site.stats()["pages_served"] == SITE_PAGES


def test_stop_is_prompt_with_every_worker_hung(trap_site):
    """64 requests to a route that never answers: stop() + join() well inside a second."""
    crawler = start_hung_crawl(trap_site, 64)
    began = time.perf_counter()
    crawler.stop()
    returned = time.perf_counter() - began
    assert crawler.join(2.0)
    took = time.perf_counter() - began
    assert returned < 0.1  # stop() itself never waits
    assert took < 2.0, f"stop + join took {took:.3f} s"
    assert crawler.reason == "stopped"
    assert crawler.state is CrawlState.FINISHED


def test_second_stop_abandons_in_flight_work_at_once(trap_site):
    crawler = start_hung_crawl(trap_site, 8, tag="m")
    began = time.perf_counter()
    crawler.stop()
    crawler.stop()
    assert crawler.join(2.0)
    assert time.perf_counter() - began < engine.STOP_GRACE + 1.0


def test_pause_parks_workers_and_resume_completes(site):
    site.reset_stats()
    crawler = Crawler(CrawlSettings(site.url, threads=4, frontier_size=50))
    crawler.start()
    wait_until(lambda: crawler.stats().pages >= 20 or crawler.state is CrawlState.FINISHED)
    crawler.pause()
    if crawler.state is CrawlState.FINISHED:  # pragma: no cover - a very fast machine
        pytest.skip("crawl finished before it could be paused")
    wait_until(lambda: crawler.parked == 4)
    assert crawler.state is CrawlState.PAUSED
    assert all(w.state is WorkerState.IDLE for w in crawler.workers())
    before = site.stats()["requests"]
    pages = crawler.stats().pages
    threading.Event().wait(0.1)  # an observation window (not synchronisation): nothing moves
    assert site.stats()["requests"] == before
    assert crawler.stats().pages == pages < SITE_PAGES
    crawler.resume()
    assert crawler.join(30)
    assert crawler.reason == "finished"
    assert site.stats()["pages_served"] == SITE_PAGES


def test_set_threads_grows_and_shrinks_while_running(site):
    site.reset_stats()
    events = EventStream()
    sub = events.subscribe()
    crawler = Crawler(CrawlSettings(site.url, threads=2), events)
    crawler.start()
    crawler.pause()
    crawler.set_threads(6)
    wait_until(lambda: len(crawler.workers()) == 6)
    assert sorted(w.name for w in crawler.workers()) == [f"crawl-worker-{n}" for n in range(1, 7)]
    crawler.set_threads(3)
    wait_until(lambda: len(crawler.workers()) == 3)
    assert crawler.stats().threads_target == 3
    crawler.resume()
    assert crawler.join(30)
    assert crawler.stats().pages == SITE_PAGES
    changes = [(e.old, e.new) for e in sub.drain() if isinstance(e, ThreadsChanged)]
    assert changes == [(2, 6), (6, 3)]
    with pytest.raises(SettingsError, match="threads"):
        crawler.set_threads(0)


def test_misbehaving_routes_become_error_rows_and_the_crawl_completes(trap_site):
    trap_site.reset_stats()
    settings = CrawlSettings(
        trap_site.url,
        threads=16,
        max_depth=2,  # the site's pages, the /trap/ index and each trap, not the traps' links
        deadline=1.0,
        read_timeout=1.0,
        connect_timeout=1.0,
        retries=0,
        max_body_bytes=256 * 1024,
    )
    crawler, events = run(settings, timeout=40)
    assert crawler.reason == "finished"
    results = {r.url.removeprefix(trap_site.url): r for r in results_of(events)}
    assert trap_site.stats()["pages_distinct"] == TRAP_SITE_PAGES
    assert results["trap/status/404"].status == 404
    assert results["trap/status/410"].status == 410
    for path in ("trap/never-answer", "trap/redirect-loop", "trap/redirect-scheme/file"):
        assert results[path].error is not None, path
    assert crawler.stats().errors >= 5


def test_a_crash_on_one_url_is_that_urls_error(site, monkeypatch):
    real = pipeline.extract_links

    def flaky(body, base_url, **kwargs):
        if base_url.endswith(f"/page/{SITE_PAGES - 1}"):  # a leaf: nothing depends on it
            raise RuntimeError("parser exploded")
        return real(body, base_url, **kwargs)

    monkeypatch.setattr(pipeline, "extract_links", flaky)
    site.reset_stats()
    crawler, events = run(CrawlSettings(site.url, threads=4))
    assert crawler.reason == "finished"
    bad = [r for r in results_of(events) if r.error]
    assert [(r.error.kind, r.error.message) for r in bad] == [
        ("unexpected", "RuntimeError: parser exploded")
    ]
    assert crawler.stats().pages == SITE_PAGES


def test_an_engine_error_ends_the_crawl_with_its_reason(site, monkeypatch):
    def broken(self, links, parent, depth):
        raise ValueError("bookkeeping broke")

    monkeypatch.setattr(Budget, "admit", broken)
    crawler, events = run(CrawlSettings(site.url, threads=4))
    assert crawler.reason == "error: ValueError: bookkeeping broke"
    assert any(isinstance(e, Notice) and e.level == "error" for e in events)


@pytest.mark.parametrize("failing", ["strategy", "fetcher", "results"])
def test_a_close_that_raises_leaves_the_other_closes_and_finished(
    site, tmp_path, monkeypatch, caplog, failing
):
    """Each part's close runs in its own guard: one that raises is logged and noticed, the
    parts after it still close, and the crawl still reaches FINISHED."""
    closed = []

    def spy(name, cls, method):
        real = getattr(cls, method)

        def close(self):
            real(self)  # the real close runs (no thread or file is left behind) ...
            closed.append(name)
            if name == failing:  # ... and then it raises
                raise RuntimeError(f"{name} close broke")

        monkeypatch.setattr(cls, method, close)

    spy("strategy", Bounded, "close")
    spy("fetcher", Fetcher, "close")
    spy("results", ResultsWriter, "close")
    caplog.set_level(logging.ERROR, logger="core.shutdown")
    out = tmp_path / "results.jsonl"
    crawler, events = run(CrawlSettings(site.url, threads=4, results_path=str(out)))
    assert closed == ["strategy", "fetcher", "results"]
    assert crawler.reason == "finished"
    assert [e.state for e in events if isinstance(e, CrawlStateChanged)][-1] is CrawlState.FINISHED
    errors = [e.message for e in events if isinstance(e, Notice) and e.level == "error"]
    assert len(errors) == 1
    assert errors[0].endswith(f"failed: RuntimeError: {failing} close broke")
    assert [r.exc_info[1].args[0] for r in caplog.records] == [f"{failing} close broke"]
    assert len(read_results(str(out))) == SITE_PAGES


@pytest.mark.parametrize("strategy", ["bounded", "pool", "recursive", "thread-per-url"])
def test_a_finished_crawl_is_freed_without_the_garbage_collector(site, strategy):
    """No reference cycle between the crawler and its parts (strategy, pool): freed at once."""
    crawler, _ = run(CrawlSettings(site.url, threads=4, strategy=strategy))
    freed = weakref.ref(crawler)
    gc.disable()
    try:
        del crawler
        assert freed() is None
    finally:
        gc.enable()


def test_memory_limit_stops_and_warning_is_noticed_once(site):
    crawler, events = run(CrawlSettings(site.url, threads=2, memory_limit_mb=1))
    assert crawler.reason == "memory_limit"
    assert [e.level for e in events if isinstance(e, Notice) and e.level != "info"] == ["error"]
    warn, events = run(CrawlSettings(site.url, threads=2, memory_warning_mb=1, max_pages=50))
    assert warn.reason == "max_pages"
    notices = [e for e in events if isinstance(e, Notice) and e.level != "info"]
    assert len(notices) == 1
    assert notices[0].level == "warning"
    assert "MiB" in notices[0].message


def test_sampler_reads_a_live_crawl(site):
    crawler = Crawler(CrawlSettings(site.url, threads=4))
    sampler = MetricsSampler(source=crawler)
    sampler.sample_once()
    crawler.start()
    assert crawler.join(30)
    m = sampler.sample_once()
    assert m["pages"] == SITE_PAGES
    assert m["pages_per_s"] > 0
    assert m["busy_workers"] == 0
    assert m["frontier"] == 0


def test_a_forgotten_crawl_does_not_keep_the_process_alive(trap_site):
    script = (
        "from core.engine import Crawler\n"
        "from core.settings import CrawlSettings\n"
        f"urls = tuple('{trap_site.url}trap/never-answer?x=' + str(i) for i in range(4))\n"
        "Crawler(CrawlSettings(urls, threads=4, obey_robots=False, deadline=60)).start()\n"
        "print('started', flush=True)\n"
    )
    began = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=20
    )
    assert proc.returncode == 0, proc.stderr
    assert "started" in proc.stdout, proc.stderr
    assert time.perf_counter() - began < 10


def test_unwritable_results_path_starts_nothing(site, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    crawler = Crawler(CrawlSettings(site.url, results_path=str(blocker / "results.jsonl")))
    with pytest.raises(OSError, match=r"\[Errno \d+\]"):  # the OS's own refusal, any kind
        crawler.start()
    assert crawler.state is CrawlState.IDLE
    assert crawler.join(0)


def test_stop_before_start_and_restart_is_refused(site):
    crawler = Crawler(CrawlSettings(site.url))
    crawler.stop()
    assert crawler.join(0.1)
    assert crawler.state is CrawlState.FINISHED
    with pytest.raises(RuntimeError):
        crawler.start()


def stop_latency_trials(url: str, trials: int, threads: int = 64) -> list[float]:
    """Benchmark helper (not a test): stop()+join() seconds with ``threads`` hung requests."""
    out = []
    for trial in range(trials):
        hung = tuple(f"{url}trap/never-answer?t={trial}&i={i}" for i in range(threads))
        crawler = Crawler(CrawlSettings(hung, threads=threads, obey_robots=False, deadline=60))
        crawler.start()
        wait_until(lambda c=crawler: c.stats().in_flight == threads)
        began = time.perf_counter()
        crawler.stop()
        assert crawler.join(5)
        out.append(time.perf_counter() - began)
    return out


if __name__ == "__main__":  # python tests/test_engine.py: stop-latency figures
    with TestSite(pages=10, traps=("all",)) as trap:
        figures = sorted(stop_latency_trials(trap.url, 20))
        print(
            f"stop+join with 64 hung: p50 {statistics.median(figures) * 1000:.0f} ms, "
            f"max {figures[-1] * 1000:.0f} ms"
        )
