"""Hostile sites (issue 6): every kind of bad input over loopback, crawled by the real engine.

Each crawl starts at a small clean site (20 pages, no trap links) *and* one trap URL, so every
test also proves the point of it all: the bad URL becomes one clear result (an error kind, a
status, a truncated body or a documented skip), the wall time stays bounded, and every good
page is still fetched. Size routes also sample the process RSS while they run.
"""

from __future__ import annotations

import threading
import time

import psutil
import pytest

import core.pipeline as pipeline
from core.engine import Crawler
from core.events import CrawlState, EventStream, FetchFinished, PageResult
from core.links import MAX_LINKS_PER_PAGE, extract_links
from core.settings import CrawlSettings
from core.testsite import TestSite

PAGES = 20  # all within depth 2 (5 links down per page)
GOOD = ("", *(f"page/{n}" for n in range(1, PAGES)))
CAP = 2 * 1024 * 1024
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def hostile() -> TestSite:
    with TestSite(pages=PAGES) as running:
        yield running


class PeakRss:
    """Samples this process's RSS every few milliseconds on a small thread."""

    def __init__(self) -> None:
        self._process = psutil.Process()
        self.start_rss = self.peak_rss = self._process.memory_info().rss
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="test-rss", daemon=True)

    def _run(self) -> None:
        while not self._done.wait(0.005):
            self.peak_rss = max(self.peak_rss, self._process.memory_info().rss)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()

    @property
    def growth_mib(self) -> float:
        return (self.peak_rss - self.start_rss) / MIB


class Crawl:
    """One finished crawl: results by path (relative to the site), timing and memory."""

    def __init__(self, site: TestSite, crawler: Crawler, results: list[PageResult], took, rss):
        self.crawler = crawler
        self.results = results
        self.by_path = {r.url.removeprefix(site.url): r for r in results}
        self.took = took
        self.rss = rss


def crawl(site: TestSite, *paths: str, timeout: float = 20.0, **options) -> Crawl:
    """Crawl the clean site plus ``paths``; check the good pages all came through."""
    settings = dict(
        threads=4,
        max_depth=2,
        deadline=1.0,
        connect_timeout=1.0,
        read_timeout=5.0,  # longer than the deadline: only the total deadline can stop a trickle
        retries=0,
        max_body_bytes=CAP,
    )
    settings.update(options)
    start = (site.url, *(site.url + p for p in paths))
    events = EventStream()
    sub = events.subscribe(maxlen=1_000_000)
    site.reset_stats()
    crawler = Crawler(CrawlSettings(start, **settings), events)
    with PeakRss() as rss:
        began = time.monotonic()
        crawler.start()
        assert crawler.join(timeout), f"the crawl did not end within {timeout} s"
        took = time.monotonic() - began
    assert crawler.state is CrawlState.FINISHED
    results = [e.result for e in sub.drain() if isinstance(e, FetchFinished)]
    done = Crawl(site, crawler, results, took, rss)
    for path in GOOD:
        page = done.by_path.get(path)
        assert page is not None, path
        assert (page.status, page.error) == (200, None), (path, page)
    assert site.stats()["pages_distinct"] == PAGES
    return done


# -- redirects ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("trap/redirect-loop", "redirect_loop"),
        ("trap/redirect-chain/30", "too_many_redirects"),
        ("trap/redirect-scheme/file", "redirect_refused"),
        ("trap/redirect-scheme/ftp", "redirect_refused"),
        ("trap/redirect-scheme/data", "redirect_refused"),
        ("trap/redirect-scheme/javascript", "redirect_refused"),
        ("trap/redirect-scheme/mailto", "redirect_refused"),
        ("trap/redirect-offsite", "redirect_refused"),
    ],
)
def test_bad_redirects_are_refused_and_reported(hostile, path, kind):
    done = crawl(hostile, path, max_redirects=5)
    bad = done.by_path[path]
    assert bad.status is None
    assert bad.error.kind == kind
    assert done.crawler.reason == "finished"
    assert done.took < 5.0
    assert len(done.results) == PAGES + 1  # the target was never fetched as a page of its own


# -- slow and silent servers -------------------------------------------------------------------
@pytest.mark.parametrize(
    "path",
    [
        "trap/never-answer",
        "trap/slow-headers?interval_ms=100",  # every header line well inside the read timeout
        "trap/trickle?interval_ms=100&bytes=100000",  # every byte too
    ],
)
def test_slow_and_silent_servers_hit_the_total_deadline(hostile, path):
    done = crawl(hostile, path, deadline=1.0)
    slow = done.by_path[path]
    assert slow.error.kind == "deadline"
    assert 1000 <= slow.elapsed_ms < 1600
    assert done.took < 4.0  # the other workers fetched the site meanwhile


def test_a_reset_mid_body_is_that_pages_error(hostile):
    done = crawl(hostile, "trap/reset")
    assert done.by_path["trap/reset"].error.kind == "reset"


def test_content_length_lies_either_way(hostile):
    done = crawl(hostile, "trap/length-long", "trap/length-short")
    assert done.by_path["trap/length-long"].error.kind == "incomplete"  # promised 1 MiB, sent 4 KiB
    short = done.by_path["trap/length-short"]  # says 512, sends 16 KiB: the header is believed
    assert (short.status, short.error, short.truncated) == (200, None, False)


# -- size ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["trap/huge", "trap/gzip-bomb", "trap/deflate-bomb"])
def test_huge_bodies_and_bombs_are_truncated_with_bounded_memory(hostile, path):
    """4 GiB of HTML, or 1 GiB inflated from ~1 MiB: the 2 MiB cap holds, decoded size counted."""
    done = crawl(hostile, path, deadline=10.0)
    big = done.by_path[path]
    assert (big.status, big.error, big.truncated) == (200, None, True)
    assert big.as_dict()["truncated"] is True
    assert done.rss.growth_mib < 64, f"peak RSS grew {done.rss.growth_mib:.1f} MiB"
    assert all(not r.truncated for r in done.results if r is not big)


def test_a_million_links_keep_frontier_and_memory_bounded(hostile):
    """A page of 1 000 000 links: the body cap, the per-page link cap and the page budget
    bound it; the frontier spills what does not fit in memory."""
    path = "trap/million-links"
    settings = CrawlSettings(
        (hostile.url + path,),
        threads=4,
        max_depth=1,
        max_pages=300,
        frontier_size=100,
        max_body_bytes=CAP,
        retries=0,
    )
    crawler = Crawler(settings, EventStream())
    sub = crawler.events.subscribe(maxlen=100_000)
    with PeakRss() as rss:
        crawler.start()
        assert crawler.join(30)
    results = {
        e.result.url.removeprefix(hostile.url): e.result
        for e in sub.drain()
        if isinstance(e, FetchFinished)
    }
    page = results[path]
    assert page.truncated
    assert page.error is None
    assert page.links == MAX_LINKS_PER_PAGE  # of the ~50 000 in the first 2 MiB
    stats = crawler.stats()
    assert crawler.reason == "max_pages"
    assert stats.pages == 300
    assert stats.skipped == page.links - 299  # refused by the page budget, counted
    assert rss.growth_mib < 64, f"peak RSS grew {rss.growth_mib:.1f} MiB"


def test_a_link_flood_is_parsed_only_up_to_the_link_cap():
    """Links past the cap are counted, not parsed (a 2 MiB tree of links costs ~32 MiB)."""
    body = b"<html><body>" + b"".join(b'<a href="/l/%d">%d</a>\n' % (i, i) for i in range(50_000))
    links = extract_links(body, "http://site.test/", max_links=1000)
    assert len(links) == 1000
    assert links[-1] == "http://site.test/l/999"
    assert links.cut == 49_000


# -- content ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "links"),
    [
        ("trap/malformed", 4),  # /page/1..4 from the tag soup; none from a comment or script
        ("trap/deep-nesting", 1),  # 100 000 unclosed <div>: bounded scan, the link still found
        ("trap/binary-html", 0),
        ("trap/bad-utf8", 2),
        ("trap/wrong-charset", 1),
        ("trap/codec-label", 1),  # charset=base64 names a codec, not an encoding: ignored
    ],
)
def test_bad_html_is_parsed_as_well_as_it_can_be(hostile, path, links):
    done = crawl(hostile, path)
    page = done.by_path[path]
    assert (page.status, page.error) == (200, None)
    assert page.links >= links
    assert done.took < 10.0


def test_non_html_types_are_not_parsed(hostile, monkeypatch):
    parsed: list[str] = []
    real = pipeline.extract_links

    def spy(body, base_url, **kwargs):
        parsed.append(base_url)
        return real(body, base_url, **kwargs)

    monkeypatch.setattr(pipeline, "extract_links", spy)
    done = crawl(hostile, "trap/pdf", "trap/png")
    for path in ("trap/pdf", "trap/png"):
        assert (done.by_path[path].status, done.by_path[path].links) == (200, 0)
        assert hostile.url + path not in parsed
    assert hostile.url in parsed


def test_a_100_kb_url_is_refused_not_fetched(hostile):
    done = crawl(hostile, "trap/long-url")
    assert done.by_path["trap/long-url"].links == 0  # max_url_length (2048) refuses it
    assert hostile.stats()["by_route"]["/trap/long-url"] == 1  # the page, never the target
    assert max(len(r.url) for r in done.results) <= 2048


def test_odd_links_are_resolved_deduped_or_rejected(hostile):
    done = crawl(hostile, "trap/odd-links")
    fetched = [r.url for r in done.results]
    assert len(fetched) == len(set(fetched))  # fragment and spelling variants fetched once
    assert all(u.startswith(hostile.url) for u in fetched)  # no mailto:, data:, offsite, [::1]
    odd = {u.removeprefix(hostile.url) for u in fetched} - set(GOOD) - {"trap/odd-links"}
    assert odd == {
        "PAGE/1",  # paths are case-sensitive: a different URL (a 404)
        "trap/echo/~user",  # %7E decoded (unreserved), so the same as ~user
        "trap/echo/caf%C3%A9",  # é escaped, so the same as caf%C3%A9
        "trap/echo/a%2Fb",  # an escaped slash stays escaped
        "trap/echo/space%20here",
        "trap/echo/100%25",  # a bare % escaped
    }
    assert done.by_path["PAGE/1"].status == 404
    # 29 hrefs, 14 distinct crawlable URLs: /page/1 (also via "../" past the root), 2, 3 (%33),
    # the five echo paths above, PAGE/1, the page itself ("", "?") and four off-site URLs that
    # scope kept out (both spellings of bücher.example are one punycode host).
    assert done.by_path["trap/odd-links"].links == 14


# -- crawler traps ------------------------------------------------------------------------------
def test_an_infinite_calendar_is_stopped_by_the_depth_limit(hostile):
    done = crawl(hostile, "trap/calendar/2000/01", max_depth=4)
    months = [r for r in done.results if "/calendar/" in r.url]
    assert 5 <= len(months) <= 3**4 + 1
    assert max(r.depth for r in months) == 4
    assert done.crawler.reason == "finished"


def test_an_infinite_calendar_is_stopped_by_the_per_host_cap(hostile):
    done = crawl(hostile, "trap/calendar/2000/01", max_depth=10_000, per_host_max_pages=60)
    assert len(done.results) == 60
    assert done.crawler.stats().skipped > 0


def test_session_ids_are_stopped_by_the_query_parameter_limit(hostile):
    done = crawl(hostile, "trap/session", max_depth=10_000, max_query_params=0)
    sessions = [r for r in done.results if "sid=" in r.url]
    assert sessions == []
    assert done.crawler.stats().skipped == 2


def test_session_ids_are_stopped_by_the_url_length_limit(hostile):
    """?sid=<16 hex digits> makes each session URL 45+ characters long on this site."""
    limit = len(hostile.url + "trap/session?sid=") + 8
    done = crawl(hostile, "trap/session", max_depth=10_000, max_url_length=limit)
    assert [r for r in done.results if "sid=" in r.url] == []


# -- statuses -----------------------------------------------------------------------------------
def test_404_and_410_are_recorded_statuses(hostile):
    done = crawl(hostile, "trap/status/404", "trap/status/410")
    assert (done.by_path["trap/status/404"].status, done.by_path["trap/status/404"].error) == (
        404,
        None,
    )
    assert done.by_path["trap/status/410"].status == 410
    assert done.crawler.stats().errors == 2  # 4xx/5xx rows count as errors (PageResult.failed)


@pytest.mark.parametrize("code", [429, 503])
def test_429_and_503_are_retried_honouring_retry_after_up_to_the_cap(hostile, code):
    path = f"trap/retry/{code}?fail=2&after=30"  # asks for 30 s; the cap allows 0.2 s
    done = crawl(hostile, path, retries=2, retry_after_cap=0.2, deadline=5.0)
    page = done.by_path[path]
    assert (page.status, page.error) == (200, None)
    assert hostile.stats()["by_route"]["/trap/retry"] == 3  # two refusals, then the page
    assert 400 <= page.elapsed_ms < 3000  # waited the capped 0.2 s twice, not 30 s


def test_retries_stop_at_the_configured_count(hostile):
    path = "trap/retry/503?fail=10&after=0"
    done = crawl(hostile, path, retries=2, deadline=5.0)
    assert done.by_path[path].status == 503
    assert hostile.stats()["by_route"]["/trap/retry"] == 3


def test_a_burst_of_500s_and_a_flaky_route_do_not_stall_the_pool(hostile):
    done = crawl(hostile, "trap/burst", "trap/flaky")
    burst = [r for r in done.results if "/trap/burst/" in r.url]
    flaky = [r for r in done.results if "/trap/flaky/" in r.url]
    assert len(burst) == 50
    assert {r.status for r in burst} == {500}
    assert len(flaky) == 20
    assert {r.status for r in flaky} == {200, 500}
    assert done.crawler.reason == "finished"
    assert done.took < 5.0


# -- robots.txt ---------------------------------------------------------------------------------
def robots_crawl(site: TestSite, **options) -> tuple[Crawler, list[PageResult]]:
    events = EventStream()
    sub = events.subscribe(maxlen=100_000)
    crawler = Crawler(CrawlSettings(site.url, threads=4, retries=0, **options), events)
    crawler.start()
    assert crawler.join(20)
    return crawler, [e.result for e in sub.drain() if isinstance(e, FetchFinished)]


def test_robots_disallow_and_crawl_delay_are_honoured():
    with TestSite(pages=4, private_pages=3, crawl_delay=0.15) as site:
        crawler, results = robots_crawl(site)
        stats = site.stats()
    assert stats["private_served"] == 0
    (refused,) = [r for r in results if r.error is not None]
    assert refused.url.endswith("/private/0")
    assert refused.error.kind == "robots"
    assert refused.error.message == "disallowed by robots.txt"
    assert crawler.stats().pages == 4
    assert crawler.stats().skipped == 1
    assert crawler.stats().elapsed >= 3 * 0.15  # four pages, spaced by the Crawl-delay


def test_a_huge_robots_txt_is_capped_and_its_first_rules_apply():
    with TestSite(pages=4, private_pages=2, robots="huge") as site:
        crawler, results = robots_crawl(site)
        assert site.stats()["private_served"] == 0
    assert [r.error.kind for r in results if r.error] == ["robots"]
    assert crawler.stats().pages == 4


def test_a_5xx_robots_txt_disallows_everything_for_a_while():
    with TestSite(pages=4, robots="5xx") as site:
        crawler, results = robots_crawl(site)
        assert site.stats()["pages_served"] == 0
    (root,) = results
    assert root.error.kind == "robots"
    assert root.error.message == "robots.txt answered 503: disallow all per RFC 9309"
    assert (crawler.stats().pages, crawler.stats().skipped) == (0, 1)


def test_a_404_robots_txt_allows_everything():
    with TestSite(pages=4, private_pages=2, robots="404") as site:
        crawler, results = robots_crawl(site)
        assert site.stats()["private_served"] == 2
    assert all(r.error is None for r in results)
    assert crawler.stats().pages == 6


def test_an_unreachable_robots_txt_says_so():
    with TestSite(pages=1) as site:
        url = site.url
    # the site has stopped: nothing listens on its port now
    events = EventStream()
    sub = events.subscribe()
    crawler = Crawler(CrawlSettings(url, retries=0), events)
    crawler.start()
    assert crawler.join(10)
    (row,) = [e.result for e in sub.drain() if isinstance(e, FetchFinished)]
    assert row.error.kind == "robots"
    assert row.error.message == (
        "robots.txt unreachable (connection refused): disallow all per RFC 9309"
    )
    assert (crawler.stats().pages, crawler.stats().errors, crawler.stats().skipped) == (0, 0, 1)
