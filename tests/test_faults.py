"""Faults (issue 6): the server dying, hung requests at stop, the memory guard, crashes in a
worker's or the engine's own code, and a killed process, all over real loopback HTTP."""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import time

import psutil
import pytest
from conftest import crawl_threads, start_hung_crawl, wait_until

import core.pipeline as pipeline
from core.engine import Crawler
from core.events import CrawlState, CrawlStateChanged, EventStream, FetchFinished, Notice
from core.results import read_results
from core.settings import CrawlSettings
from core.testsite import TestSite


def finished(events: list) -> list:
    return [e.result for e in events if isinstance(e, FetchFinished)]


# -- the target server dies ---------------------------------------------------------------------
def start_dying_crawl(tmp_path, retries: int) -> tuple[TestSite, Crawler, object, float]:
    """A crawl of a slowish 3 000-page site whose server is killed after 60 pages."""
    site = TestSite(pages=3000, latency_ms=5).start()
    out = tmp_path / "results.jsonl"
    settings = CrawlSettings(site.url, threads=8, retries=retries, results_path=str(out))
    crawler = Crawler(settings, EventStream())
    sub = crawler.events.subscribe(maxlen=1_000_000)
    crawler.start()
    wait_until(lambda: crawler.stats().pages >= 60)
    site.stop()  # SIGTERM: the child resets every open connection and exits
    return site, crawler, sub, time.monotonic()


def test_server_death_fails_fast_ends_the_crawl_and_keeps_every_record(tmp_path):
    _, crawler, sub, died = start_dying_crawl(tmp_path, retries=0)
    assert crawler.join(10), "the crawl did not end after its server died"
    ended_after = time.monotonic() - died
    assert crawler.reason == "finished"
    results = finished(sub.drain())
    failed = [r for r in results if r.error is not None]
    assert failed, "nothing failed after the server died"
    assert {r.error.kind for r in failed} <= {"connection", "reset", "incomplete"}
    assert max(r.elapsed_ms for r in failed) < 1000  # refused at once, no timeout waited out
    assert ended_after < 5.0
    records = read_results(tmp_path / "results.jsonl")
    assert [r["url"] for r in records] == [r.url for r in results]  # every one, in order
    assert len(records) == crawler.stats().pages  # no robots rows on this site


def test_server_death_with_retries_keeps_retrying_until_stopped(tmp_path):
    _, crawler, sub, _ = start_dying_crawl(tmp_path, retries=2)
    wait_until(lambda: crawler.stats().errors >= 8)
    began = time.monotonic()
    crawler.stop()  # workers are sleeping in back-off: stop must cut that short
    assert crawler.join(2.0)
    assert time.monotonic() - began < 1.0
    failed = [
        r for r in finished(sub.drain()) if r.error is not None and r.error.kind != "interrupted"
    ]
    assert failed
    assert min(r.elapsed_ms for r in failed) >= 700
    assert crawler.reason == "stopped"


# -- stop with every worker hung ----------------------------------------------------------------
def test_stop_within_half_a_second_with_64_requests_hung():
    """p50/p99 of stop() + join() over a few trials, 64 workers on a never-answering route."""
    took = []
    with TestSite(pages=1) as site:
        for trial in range(5):
            crawler = start_hung_crawl(site, 64, tag=f"t{trial}-n")
            began = time.perf_counter()
            crawler.stop()
            assert crawler.join(2.0)
            took.append(time.perf_counter() - began)
            assert crawl_threads() == []
            assert crawler.reason == "stopped"
    took.sort()
    p50, p99 = statistics.median(took), took[-1]
    print(f"\nstop + join with 64 hung: p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms")
    assert p50 < 0.5, took
    assert p99 < 1.0, took  # CI machines hiccup; the bench holds p99 to 0.5 s over 20 trials


# -- memory guard -------------------------------------------------------------------------------
def test_the_memory_guard_warns_then_stops_a_crawl_of_bombs():
    rss = psutil.Process().memory_info().rss / 1_048_576
    limit = int(rss) + 96
    bombs = tuple(f"trap/gzip-bomb?mib=1024&n={i}" for i in range(200))
    with TestSite(pages=1) as site:
        settings = CrawlSettings(
            tuple(site.url + b for b in bombs),
            threads=4,
            obey_robots=False,
            max_body_bytes=64 * 1_048_576,  # four bodies of 64 MiB at once pass the limit
            memory_warning_mb=int(rss) + 16,
            memory_limit_mb=limit,
        )
        events = EventStream()
        sub = events.subscribe(maxlen=100_000)
        crawler = Crawler(settings, events)
        crawler.start()
        assert crawler.join(30)
    got = sub.drain()
    assert crawler.reason == "memory_limit"
    notices = [e for e in got if isinstance(e, Notice) and e.level != "info"]
    assert [n.level for n in notices][:2] == ["warning", "error"]
    assert f"reached the limit of {limit} MiB" in notices[1].message
    final = [e for e in got if isinstance(e, CrawlStateChanged)][-1]
    assert (final.state, final.reason) == (CrawlState.FINISHED, "memory_limit")
    assert len(finished(got)) < len(bombs)  # stopped early, not after the whole list


# -- crashes ------------------------------------------------------------------------------------
def test_a_crash_handling_one_url_is_that_urls_error_and_the_worker_survives(monkeypatch):
    """The link extractor blows up on one page (as a bug or a hostile input could make it):
    that page gets an ``unexpected`` error row and the same worker goes on with others."""
    real = pipeline.extract_links

    def exploding(body, base_url, **kwargs):
        if base_url.endswith("/page/3"):
            raise RecursionError("maximum recursion depth exceeded")
        return real(body, base_url, **kwargs)

    monkeypatch.setattr(pipeline, "extract_links", exploding)
    with TestSite(pages=200) as site:
        events = EventStream()
        sub = events.subscribe(maxlen=100_000)
        crawler = Crawler(CrawlSettings(site.url, threads=2, max_depth=10), events)
        crawler.start()
        assert crawler.join(20)
    got = sub.drain()
    assert crawler.reason == "finished"
    done = [e for e in got if isinstance(e, FetchFinished)]
    (boom,) = [e for e in done if e.result.error is not None]
    assert boom.result.url.endswith("/page/3")
    assert boom.result.error.kind == "unexpected"
    assert "RecursionError" in boom.result.error.message
    later = done[done.index(boom) + 1 :]
    assert any(e.worker == boom.worker for e in later)  # the same worker kept going
    # page 3's own links were lost with it, but its children are linked from elsewhere too
    assert crawler.stats().pages >= 190


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
def test_an_engine_error_stops_the_crawl_with_the_error_shown():
    """The results file cannot be written (disk full): the engine's own failure, not a page's.
    The crawl stops with the error as its reason, a Notice says it, and nothing hangs."""
    with TestSite(pages=50) as site:
        events = EventStream()
        sub = events.subscribe(maxlen=100_000)
        crawler = Crawler(CrawlSettings(site.url, threads=4, results_path="/dev/full"), events)
        crawler.start()
        assert crawler.join(10), "an engine error must never hang the crawl"
    got = sub.drain()
    assert crawler.reason.startswith("error: OSError: [Errno 28]")
    assert crawler.state is CrawlState.FINISHED
    assert any(
        isinstance(e, Notice) and e.level == "error" and "Errno 28" in e.message for e in got
    )
    final = [e for e in got if isinstance(e, CrawlStateChanged)][-1]
    assert final.reason == crawler.reason


# -- a killed process ---------------------------------------------------------------------------
def test_a_killed_crawl_leaves_valid_jsonl(tmp_path):
    out = tmp_path / "results.jsonl"
    with TestSite(pages=5000, latency_ms=5) as site:
        proc = subprocess.Popen(
            [sys.executable, "-m", "core.cli", "crawl", site.url, "--threads", "8", "--quiet",
             "--out", str(out)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            wait_until(lambda: out.exists() and out.stat().st_size > 20_000, timeout=30)
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == -signal.SIGKILL
    data = out.read_bytes()
    lines = data.split(b"\n")
    complete = lines[:-1]  # the last piece is b"" or a line torn by the kill
    assert all(isinstance(json.loads(line), dict) for line in complete)
    assert len(read_results(out)) == len(complete) > 100
    with out.open("ab") as f:  # as if killed in the middle of a write: half a record
        f.write(complete[0][: len(complete[0]) // 2])
    assert len(read_results(out)) == len(complete)
