"""Per-host scheduling against several embedded sites on several ports (issue 11).

Times come from the servers' own request logs (``/__stats?log=1``, ``time.monotonic``, one
clock for every process of the machine), concurrency from the servers' own counts.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack

import pytest
from conftest import wait_until

from core.engine import Crawler
from core.events import CrawlState, WorkerState
from core.settings import CrawlSettings
from core.testsite import TestSite


def page_times(site: TestSite) -> list[float]:
    """When the site received each request for a page (not robots.txt), in order."""
    return [t for t, path in site.stats(log=True)["log"] if path != "/robots.txt"]


@pytest.fixture(scope="module")
def fast_hosts() -> Iterator[list[TestSite]]:
    with ExitStack() as stack:
        yield [stack.enter_context(TestSite(pages=400)) for _ in range(2)]


def crawl(settings: CrawlSettings, timeout: float = 60) -> Crawler:
    crawler = Crawler(settings)
    crawler.start()
    assert crawler.join(timeout)
    return crawler


def test_fast_hosts_are_not_slowed_by_a_slow_one(fast_hosts):
    """The issue's scenario: a Crawl-delay: 1 host links to two fast hosts of 400 pages each."""
    for site in fast_hosts:
        site.reset_stats()
    links = tuple(site.url for site in fast_hosts)
    with TestSite(pages=4, crawl_delay=1, links_to=links) as slow:
        crawler = crawl(CrawlSettings(slow.url, threads=16))
        slow_times = page_times(slow)
    assert crawler.reason == "finished"
    assert crawler.stats().pages == 4 + 2 * 400
    for site in fast_hosts:
        times = page_times(site)
        assert len(times) == 400
        assert times[-1] - times[0] < 2.0  # alone it takes ~0.3 s; in FIFO order it took 6-12 s
    assert len(slow_times) == 4
    gaps = [b - a for a, b in itertools.pairwise(slow_times)]
    assert min(gaps) >= 0.95  # Crawl-delay: 1 held between consecutive requests


def test_crawl_delay_gaps_between_consecutive_requests_to_one_host():
    with TestSite(pages=6, crawl_delay=0.2, latency_ms=5) as site:
        crawler = crawl(CrawlSettings(site.url, threads=8))
        times = page_times(site)
    assert crawler.stats().pages == 6
    assert len(times) == 6
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 0.19, gaps


@pytest.mark.parametrize("cap", [1, 3])
def test_per_host_cap_is_never_exceeded(cap):
    with TestSite(pages=120, latency_ms=30) as site:
        crawler = crawl(CrawlSettings(site.url, threads=12, per_host_threads=cap))
        stats = site.stats()
    assert crawler.stats().pages == 120
    assert stats["max_in_progress"] == cap  # reached, never passed (the server counts)


def test_max_time_ends_the_crawl_on_time_with_its_reason():
    with TestSite(pages=100_000, latency_ms=20) as site:
        began = time.monotonic()
        crawler = crawl(CrawlSettings(site.url, threads=4, max_time=0.5), timeout=10)
        took = time.monotonic() - began
        served = site.stats()["pages_served"]
    assert crawler.reason == "time_limit"
    assert crawler.state is CrawlState.FINISHED
    assert 0.5 <= took < 3.0
    assert 0 < crawler.stats().pages <= served


def test_max_time_from_the_command_line_exits_0_with_time_limit(tmp_path):
    with TestSite(pages=100_000, latency_ms=20) as site:
        out = tmp_path / "results.jsonl"
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "core.cli",
                "crawl",
                site.url,
                "--max-time",
                "0.5",
                "--quiet",
                "--out",
                str(out),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 0, done.stderr
    assert "finished: time_limit" in done.stdout
    assert out.read_text().count("\n") > 0


def all_waiting_for_host(crawler: Crawler, n: int) -> bool:
    workers = crawler.workers()
    return len(workers) == n and all(w.state is WorkerState.WAITING_HOST for w in workers)


def test_pause_resize_and_stop_while_every_host_waits():
    with TestSite(pages=50, crawl_delay=30) as site:
        crawler = Crawler(CrawlSettings(site.url, threads=4))
        crawler.start()
        wait_until(lambda: all_waiting_for_host(crawler, 4))
        assert crawler.workers()[0].url == site.url.rstrip("/")  # the host they wait for
        assert crawler.stats().in_flight == 0
        crawler.pause()
        wait_until(lambda: crawler.parked == 4)
        crawler.resume()
        wait_until(lambda: all_waiting_for_host(crawler, 4))
        crawler.set_threads(2)
        wait_until(lambda: len(crawler.workers()) == 2)
        crawler.set_threads(5)
        wait_until(lambda: all_waiting_for_host(crawler, 5))
        began = time.monotonic()
        crawler.stop()
        assert crawler.join(5)
        assert time.monotonic() - began < 2.0  # not the 30 s turn
        assert crawler.reason == "stopped"
        assert crawler.stats().pages == 1


@pytest.mark.parametrize("strategy", ["pool", "recursive", "thread-per-url"])
def test_other_strategies_keep_the_delay_and_serve_fast_hosts(fast_hosts, strategy):
    """Each keeps its own scheduling; the slow host's gaps hold and the fast hosts finish."""
    for site in fast_hosts:
        site.reset_stats()
    links = tuple(site.url for site in fast_hosts)
    with TestSite(pages=3, crawl_delay=0.5, links_to=links) as slow:
        settings = CrawlSettings(slow.url, threads=8, strategy=strategy, max_spawned_threads=64)
        crawler = crawl(settings)
        slow_times = page_times(slow)
    assert crawler.reason == "finished"
    assert len(slow_times) == 3
    gaps = [b - a for a, b in itertools.pairwise(slow_times)]
    assert min(gaps) >= 0.45
    for site in fast_hosts:
        times = page_times(site)
        assert len(times) >= 390  # recursive's depth-first may miss a few
        assert times[-1] - times[0] < 4.0


def test_host_report_counts_each_host(fast_hosts):
    for site in fast_hosts:
        site.reset_stats()
    with TestSite(
        pages=30, error_rate=0.2, private_pages=2, links_to=(fast_hosts[0].url,), latency_ms=5
    ) as main:
        crawler = crawl(CrawlSettings(main.url, threads=8, host_delay=0.001))
        served = main.stats()
    rows = {row.host: row for row in crawler.hosts()}
    main_row = rows[main.url.rstrip("/")]
    fast_row = rows[fast_hosts[0].url.rstrip("/")]
    assert set(rows) == {main_row.host, fast_row.host}
    assert main_row.pages == served["pages_served"]
    assert fast_row.pages == 400
    assert main_row.errors == main_row.errors_by_kind["HTTP 500"] == served["by_status"]["500"]
    assert main_row.robots_excluded == 1  # /private/0, disallowed
    assert main_row.bytes > 0
    assert 5 <= main_row.mean_ms <= main_row.p95_ms * 1.1
    assert main_row.delay_s == 0.001
    assert main_row.in_flight == 0
    assert crawler.hosts()[0] == fast_row  # most pages first


def test_hosts_csv_and_the_table_from_the_command_line(tmp_path, fast_hosts):
    out = tmp_path / "hosts.csv"
    with TestSite(pages=5, links_to=(fast_hosts[1].url,)) as main:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "core.cli",
                "crawl",
                main.url,
                "--quiet",
                "--no-history",
                "--hosts",
                str(out),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 0, done.stderr
    lines = out.read_text().splitlines()
    assert lines[0] == "host,pages,bytes,errors,robots_excluded,redirects,mean_ms,p95_ms,delay_s"
    assert lines[1].startswith(fast_hosts[1].url.rstrip("/") + ",400,")
    assert lines[2].startswith(main.url.rstrip("/") + ",5,")
    assert fast_hosts[1].url.rstrip("/") in done.stdout  # the table at the end


def test_the_host_report_is_saved_with_the_run_in_history(fast_hosts):
    from core.history import list_runs, load_details

    with TestSite(pages=5, links_to=(fast_hosts[0].url,)) as main:
        done = subprocess.run(
            [sys.executable, "-m", "core.cli", "crawl", main.url, "--quiet"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 0, done.stderr
    (run,) = list_runs(kind="crawl")
    details = load_details(run.id)
    assert details is not None
    hosts = {row["host"]: row for row in details["hosts"]}
    assert hosts[main.url.rstrip("/")]["pages"] == 5
    assert hosts[fast_hosts[0].url.rstrip("/")]["pages"] == 400


def test_a_slow_host_flooding_links_past_the_memory_bound_does_not_slow_fast_hosts(fast_hosts):
    """The slow host's 9 000 links fill the in-memory bound; the fast hosts' links spill and
    are read back per host, so they are still crawled at full speed."""
    for site in fast_hosts:
        site.reset_stats()
    links = tuple(site.url for site in fast_hosts)
    with TestSite(pages=10_000, links_per_page=9_000, crawl_delay=1, links_to=links) as slow:
        crawler = Crawler(CrawlSettings(slow.url, threads=16, frontier_size=1000))
        crawler.start()
        try:
            wait_until(
                lambda: all(s.stats()["pages_served"] == 400 for s in fast_hosts), timeout=30
            )
            assert crawler._strategy.frontier.spilled_total > 0
        finally:
            crawler.stop()
            assert crawler.join(10)
    for site in fast_hosts:
        times = page_times(site)
        assert times[-1] - times[0] < 2.0
