"""robots.txt rules, error handling and fetch-once caching."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from core.events import ErrorInfo
from core.fetcher import Fetcher, FetchOutcome
from core.robots import RobotsCache
from core.settings import CrawlSettings
from core.testsite import TestSite

AGENT = "Threadscope-test"


def _outcome(status: int | None, body: bytes = b"", kind: str | None = None) -> FetchOutcome:
    error = ErrorInfo(kind, "test") if kind else None
    return FetchOutcome("u", status, "u", "text/plain", body, len(body), 1.0, error)


class _Server:
    """A fetch function that answers from a script and counts calls."""

    def __init__(self, *answers: FetchOutcome) -> None:
        self.answers = list(answers)
        self.calls: list[str] = []

    def __call__(self, url: str) -> FetchOutcome:
        self.calls.append(url)
        return self.answers[min(len(self.calls), len(self.answers)) - 1]


def test_rules_and_crawl_delay_apply_per_site() -> None:
    rules = b"User-agent: *\nDisallow: /private/\nCrawl-delay: 2.5\n"
    server = _Server(_outcome(200, rules))
    robots = RobotsCache(server, AGENT)
    assert robots.allowed("http://a.test/page")
    assert not robots.allowed("http://a.test/private/x")
    assert robots.allowed("http://a.test/?q=/private/")
    assert robots.crawl_delay("a.test") == 2.5
    assert robots.crawl_delay("http://a.test/anything") == 2.5
    assert server.calls == ["http://a.test/robots.txt"]  # fetched once
    robots.allowed("https://a.test/")
    robots.allowed("http://a.test:8080/")
    assert len(server.calls) == 3  # scheme and port make another site


@pytest.mark.parametrize("status", [401, 403, 404, 410])
def test_client_errors_allow_everything(status: int) -> None:
    robots = RobotsCache(_Server(_outcome(status)), AGENT)
    assert robots.allowed("http://a.test/private/x")
    assert robots.crawl_delay("a.test") is None


@pytest.mark.parametrize(
    "answer",
    [_outcome(500), _outcome(503), _outcome(429), _outcome(None, kind="connection")],
)
def test_server_errors_disallow_for_a_while_then_retry(answer: FetchOutcome) -> None:
    server = _Server(answer, _outcome(404))
    robots = RobotsCache(server, AGENT, error_ttl=3600)
    assert not robots.allowed("http://a.test/")
    assert not robots.allowed("http://a.test/other")
    assert len(server.calls) == 1  # remembered for error_ttl
    robots = RobotsCache(_Server(answer, _outcome(404)), AGENT, error_ttl=0.0)
    assert not robots.allowed("http://b.test/")
    assert robots.allowed("http://b.test/")  # the ttl passed: fetched again, now a 404


def test_redirects_that_never_reach_a_file_allow_everything() -> None:
    robots = RobotsCache(_Server(_outcome(None, kind="too_many_redirects")), AGENT)
    assert robots.allowed("http://a.test/x")


def test_an_interrupted_fetch_is_not_remembered() -> None:
    server = _Server(_outcome(None, kind="interrupted"), _outcome(404))
    robots = RobotsCache(server, AGENT)
    assert not robots.allowed("http://a.test/")
    assert robots.allowed("http://a.test/")
    assert len(server.calls) == 2


def test_a_failing_fetch_function_disallows() -> None:
    def broken(url: str) -> FetchOutcome:
        raise RuntimeError("boom")

    assert not RobotsCache(broken, AGENT).allowed("http://a.test/")


def test_a_huge_robots_txt_is_cut_at_a_line() -> None:
    rules = b"User-agent: *\nDisallow: /private/\n" + b"Disallow: /noise/xxxxxxxxxx/\n" * 50_000
    robots = RobotsCache(_Server(_outcome(200, rules)), AGENT, max_bytes=64 * 1024)
    assert not robots.allowed("http://a.test/private/1")
    assert robots.allowed("http://a.test/noise/xxxxxxxxxx")  # the cut line is not half-parsed


def test_concurrent_callers_share_one_fetch() -> None:
    release = threading.Event()
    calls: list[str] = []
    waiting = threading.Semaphore(0)

    def slow(url: str) -> FetchOutcome:
        calls.append(url)
        release.wait(10)
        return _outcome(200, b"User-agent: *\nDisallow: /no/\n")

    robots = RobotsCache(slow, AGENT)
    results: list[bool] = []

    def ask() -> None:
        waiting.release()
        results.append(robots.allowed("http://a.test/no/x"))

    threads = [threading.Thread(target=ask) for _ in range(12)]
    for t in threads:
        t.start()
    for _ in threads:
        assert waiting.acquire(timeout=10)
    release.set()
    for t in threads:
        t.join(timeout=10)
    assert calls == ["http://a.test/robots.txt"]
    assert results == [False] * 12


# -- over loopback, through the real Fetcher -------------------------------------------------


@pytest.fixture(scope="module")
def odd_robots_sites() -> Iterator[dict[str, TestSite]]:
    sites = {
        "5xx": TestSite(pages=3, robots="5xx"),
        "404": TestSite(pages=3, robots="404"),
        "huge": TestSite(pages=3, robots="huge", crawl_delay=0.25),
    }
    for site in sites.values():
        site.__enter__()
    yield sites
    for site in sites.values():
        site.__exit__(None, None, None)


def _cache_for(site: TestSite) -> tuple[Fetcher, RobotsCache]:
    fetcher = Fetcher(CrawlSettings(start_urls=(site.url,), retries=0))
    return fetcher, RobotsCache(fetcher.fetch, AGENT)


def test_the_test_sites_robots_txt_over_http(trap_site: TestSite) -> None:
    fetcher, robots = _cache_for(trap_site)
    try:
        assert robots.allowed(trap_site.url + "page/1")
        assert not robots.allowed(trap_site.url + "private/1")
        assert robots.crawl_delay(trap_site.url) is None
    finally:
        fetcher.close()


def test_odd_robots_txt_over_http(odd_robots_sites: dict[str, TestSite]) -> None:
    for mode, allowed in (("5xx", False), ("404", True), ("huge", True)):
        site = odd_robots_sites[mode]
        fetcher, robots = _cache_for(site)
        try:
            assert robots.allowed(site.url + "page/1") is allowed, mode
        finally:
            fetcher.close()
    huge = odd_robots_sites["huge"]
    fetcher, robots = _cache_for(huge)
    try:
        assert not robots.allowed(huge.url + "private/1")  # the real rules come first
        host = huge.url.split("//")[1].rstrip("/")
        assert robots.crawl_delay(host) == 0.25
    finally:
        fetcher.close()
