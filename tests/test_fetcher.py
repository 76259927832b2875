"""Fetcher against the embedded test site's pages and traps, over real loopback HTTP."""

from __future__ import annotations

import itertools
import socket
import threading
import time
from collections.abc import Iterator

import psutil
import pytest
from conftest import wait_until

from core.fetcher import ERROR_KINDS, Fetcher, parse_retry_after
from core.settings import CrawlSettings
from core.testsite import TestSite

_unique = itertools.count()


def _fresh(url: str) -> str:
    """The URL with a query no earlier test used (trap counters are per target)."""
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}t={next(_unique)}-{time.monotonic_ns()}"


@pytest.fixture
def fetcher_for(trap_site: TestSite) -> Iterator:
    made: list[Fetcher] = []

    def make(**changes: object) -> Fetcher:
        settings = CrawlSettings(start_urls=(trap_site.url,), **{"retries": 0, **changes})
        made.append(Fetcher(settings))
        return made[-1]

    yield make
    for fetcher in made:
        fetcher.close()


def test_a_page_is_fetched_whole(fetcher_for, trap_site: TestSite) -> None:
    fetcher = fetcher_for()
    out = fetcher.fetch(trap_site.url + "page/3")
    assert out.status == 200
    assert out.error is None
    assert out.content_type.startswith("text/html")
    assert out.body.startswith(b"<!DOCTYPE html>") or b"<html" in out.body[:200].lower()
    assert out.bytes == len(out.body)
    assert not out.truncated
    assert out.final_url == out.url == trap_site.url + "page/3"
    assert out.redirects == 0
    assert out.elapsed_ms > 0


def test_http_error_statuses_are_statuses_not_errors(fetcher_for, trap_site: TestSite) -> None:
    fetcher = fetcher_for()
    for code in (404, 410, 500):
        out = fetcher.fetch(trap_site.url + f"trap/status/{code}")
        assert (out.status, out.error) == (code, None)


@pytest.mark.parametrize("route", ["gzip-bomb", "deflate-bomb"])
def test_compression_bombs_are_capped_by_decoded_size(
    fetcher_for, trap_site: TestSite, route: str
) -> None:
    cap = 1024 * 1024
    fetcher = fetcher_for(max_body_bytes=cap)
    rss_before = psutil.Process().memory_info().rss
    out = fetcher.fetch(trap_site.url + f"trap/{route}?mib=1024")  # 1 GiB once decoded
    rss_growth = psutil.Process().memory_info().rss - rss_before
    assert out.error is None
    assert out.truncated
    assert len(out.body) == cap
    assert set(out.body) == {ord(" ")}
    assert out.bytes < cap // 4  # far fewer compressed bytes on the wire
    assert rss_growth < 64 * 1024 * 1024


def test_a_huge_body_is_truncated_at_the_cap(fetcher_for, trap_site: TestSite) -> None:
    fetcher = fetcher_for(max_body_bytes=300_000)
    out = fetcher.fetch(trap_site.url + "trap/huge?mib=4096")
    assert (out.status, out.error, out.truncated, len(out.body)) == (200, None, True, 300_000)


def test_content_length_lies_are_reported(fetcher_for, trap_site: TestSite) -> None:
    fetcher = fetcher_for()
    longer = fetcher.fetch(trap_site.url + "trap/length-long")  # promises 1 MiB, sends 4 KiB
    assert longer.error is not None
    assert longer.error.kind == "incomplete"
    shorter = fetcher.fetch(trap_site.url + "trap/length-short")  # says 512, sends 16 KiB
    assert (shorter.error, len(shorter.body)) == (None, 512)
    again = fetcher.fetch(trap_site.url + "page/1")  # the leftover bytes poison nothing
    assert (again.status, again.error) == (200, None)


def test_a_connection_reset_mid_body_is_an_error(fetcher_for, trap_site: TestSite) -> None:
    out = fetcher_for().fetch(trap_site.url + "trap/reset")
    assert out.error is not None
    assert out.error.kind == "reset"


def test_a_closed_port_is_a_connection_error(trap_site: TestSite) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    fetcher = Fetcher(CrawlSettings(start_urls=(f"http://127.0.0.1:{port}/",), retries=0))
    try:
        out = fetcher.fetch(f"http://127.0.0.1:{port}/")
        assert (out.status, out.error.kind) == (None, "connection")
        assert fetcher.fetch("not a url").error.kind == "invalid_url"
    finally:
        fetcher.close()


@pytest.mark.parametrize(
    ("route", "kind"),
    [
        ("redirect-loop/a", "redirect_loop"),
        ("redirect-chain/30", "too_many_redirects"),
        ("redirect-scheme/file", "redirect_refused"),
        ("redirect-scheme/ftp", "redirect_refused"),
        ("redirect-scheme/data", "redirect_refused"),
        ("redirect-scheme/javascript", "redirect_refused"),
        ("redirect-scheme/mailto", "redirect_refused"),
        ("redirect-offsite", "redirect_refused"),
    ],
)
def test_bad_redirects_are_refused(fetcher_for, trap_site: TestSite, route: str, kind: str) -> None:
    out = fetcher_for(max_redirects=5).fetch(trap_site.url + f"trap/{route}")
    assert out.status is None
    assert out.error is not None
    assert out.error.kind == kind
    assert kind in ERROR_KINDS
    assert out.redirects <= 6


def test_allowed_redirects_are_followed(fetcher_for, trap_site: TestSite) -> None:
    out = fetcher_for(max_redirects=5).fetch(trap_site.url + "trap/redirect-chain/3")
    assert (out.status, out.error, out.redirects) == (200, None, 3)
    assert out.final_url == trap_site.url + "trap/redirect-chain/0"


def test_the_deadline_holds_against_a_trickling_body(fetcher_for, trap_site: TestSite) -> None:
    fetcher = fetcher_for(deadline=0.5, read_timeout=5.0)
    started = time.monotonic()
    out = fetcher.fetch(trap_site.url + "trap/trickle?interval_ms=20&bytes=100000")
    assert out.error is not None
    assert out.error.kind == "deadline"
    assert time.monotonic() - started < 2.0  # each read is fast: only the deadline can stop it


def test_the_deadline_holds_against_endless_headers(fetcher_for, trap_site: TestSite) -> None:
    fetcher = fetcher_for(deadline=0.5, read_timeout=5.0)
    started = time.monotonic()
    out = fetcher.fetch(trap_site.url + "trap/slow-headers?interval_ms=20")
    assert out.error is not None
    assert out.error.kind == "deadline"
    assert time.monotonic() - started < 2.0


def test_a_silent_server_hits_the_read_timeout(fetcher_for, trap_site: TestSite) -> None:
    out = fetcher_for(read_timeout=0.3).fetch(trap_site.url + "trap/never-answer")
    assert (out.status, out.error.kind) == (None, "timeout")


def test_interrupt_all_frees_16_hung_requests_at_once(fetcher_for, trap_site: TestSite) -> None:
    fetcher = fetcher_for(read_timeout=60.0, deadline=60.0)
    route = "/trap/never-answer"
    before = trap_site.stats()["by_route"].get(route, 0)
    outcomes = []
    threads = [
        threading.Thread(target=lambda: outcomes.append(fetcher.fetch(trap_site.url + route[1:])))
        for _ in range(16)
    ]
    for t in threads:
        t.start()
    wait_until(lambda: trap_site.stats()["by_route"].get(route, 0) >= before + 16)
    started = time.monotonic()
    fetcher.interrupt_all()
    for t in threads:
        t.join(timeout=5)
    assert time.monotonic() - started < 0.5
    assert [o.error.kind for o in outcomes] == ["interrupted"] * 16
    late = fetcher.fetch(trap_site.url + "page/1")  # the fetcher stays stopped
    assert late.error.kind == "interrupted"


def test_retry_after_is_honoured(fetcher_for, trap_site: TestSite) -> None:
    fetcher = fetcher_for(retries=2, retry_after_cap=5.0)
    started = time.monotonic()
    out = fetcher.fetch(_fresh(trap_site.url + "trap/retry/503?fail=1&after=1"))
    assert (out.status, out.error) == (200, None)
    assert time.monotonic() - started >= 0.9  # waited the second the server asked for


def test_retry_after_is_capped_and_retries_are_limited(fetcher_for, trap_site: TestSite) -> None:
    fetcher = fetcher_for(retries=2, retry_after_cap=0.05)
    started = time.monotonic()
    ok = fetcher.fetch(_fresh(trap_site.url + "trap/retry/429?fail=2&after=3600"))
    assert (ok.status, ok.error) == (200, None)
    gave_up = fetcher.fetch(_fresh(trap_site.url + "trap/retry/503?fail=5&after=3600"))
    assert (gave_up.status, gave_up.error) == (503, None)
    assert time.monotonic() - started < 5.0


def test_a_wait_past_the_deadline_is_not_started(fetcher_for, trap_site: TestSite) -> None:
    fetcher = fetcher_for(retries=3, retry_after_cap=30.0, deadline=1.0)
    started = time.monotonic()
    out = fetcher.fetch(_fresh(trap_site.url + "trap/retry/503?fail=5&after=20"))
    assert out.status == 503
    assert time.monotonic() - started < 1.0


def test_a_back_off_wait_is_interrupted(fetcher_for, trap_site: TestSite) -> None:
    fetcher = fetcher_for(retries=3, retry_after_cap=30.0)
    url = _fresh(trap_site.url + "trap/retry/503?fail=5&after=20")
    before = trap_site.stats()["by_route"].get("/trap/retry", 0)
    outcomes = []
    worker = threading.Thread(target=lambda: outcomes.append(fetcher.fetch(url)))
    worker.start()
    wait_until(lambda: trap_site.stats()["by_route"].get("/trap/retry", 0) > before)
    fetcher.interrupt_all()  # while it reads the 503 or (usually) waits the 20 s it asked for
    worker.join(timeout=2)
    assert not worker.is_alive()
    assert outcomes[0].error.kind == "interrupted"


def test_close_leaves_no_thread_behind(trap_site: TestSite) -> None:
    fetcher = Fetcher(CrawlSettings(start_urls=(trap_site.url,)))
    workers = [threading.Thread(target=fetcher.fetch, args=(trap_site.url,)) for _ in range(4)]
    for t in workers:
        t.start()
    for t in workers:
        t.join(timeout=10)
    assert any(t.name == "crawl-fetch-watchdog" for t in threading.enumerate())
    fetcher.close()
    fetcher.close()  # idempotent
    assert not any(t.name == "crawl-fetch-watchdog" for t in threading.enumerate())


@pytest.mark.parametrize(
    ("value", "expected"),
    [("7", 7.0), (" 0 ", 0.0), ("soon", None), ("", None), (None, None), ("-3", None)],
)
def test_parse_retry_after_seconds(value, expected) -> None:
    assert parse_retry_after(value) == expected


def test_parse_retry_after_http_date() -> None:
    from email.utils import formatdate

    assert 8 <= parse_retry_after(formatdate(time.time() + 10, usegmt=True)) <= 10
    assert parse_retry_after(formatdate(time.time() - 100, usegmt=True)) == 0.0
