"""The embedded test site, over real loopback HTTP against its child process."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
import zlib
from collections import deque
from pathlib import Path
from urllib.parse import urljoin, urlsplit, urlunsplit

import psutil
import pytest
import urllib3

from core.settings_error import SettingsError
from core.testsite import TestSite
from core.testsite.cli import add_arguments, config_from_args, config_to_argv, main
from core.testsite.export import export_site
from core.testsite.site import TRAPS, Site, SiteConfig

REPO = Path(__file__).resolve().parents[1]
HREF = re.compile(rb'href="([^"]*)"')


def _norm(href: str, base: str) -> str:
    parts = urlsplit(urljoin(base, href))
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path, parts.query, ""))


def _wait_for(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


@pytest.fixture(scope="module")
def trap_site():
    with TestSite(pages=30, traps=True, seed=7) as site:
        yield site


@pytest.fixture
def http():
    pool = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=2, read=5))
    yield pool
    pool.clear()


def test_cli_prints_url_first_and_exits_cleanly_on_sigterm():
    proc = subprocess.Popen(
        [sys.executable, "-m", "core.testsite", "--pages", "5", "--port", "0"],
        stdout=subprocess.PIPE,
        cwd=REPO,
    )
    try:
        line = proc.stdout.readline().decode()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/\n", line)
        with urllib3.PoolManager(retries=False) as pool:
            assert pool.request("GET", line.strip(), timeout=5).status == 200
    finally:
        proc.terminate()
        assert proc.wait(timeout=5) == 0
        proc.stdout.close()


def test_child_exits_when_its_parent_closes_stdin():
    proc = subprocess.Popen(
        [sys.executable, "-m", "core.testsite", "--exit-on-stdin-eof"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=REPO,
    )
    assert proc.stdout.readline().startswith(b"http://")
    proc.stdin.close()
    assert proc.wait(timeout=5) == 0
    proc.stdout.close()


def test_bad_flag_names_the_field(capsys):
    assert main(["--pages", "0"]) == 2
    assert "pages" in capsys.readouterr().err
    with pytest.raises(SettingsError, match="traps"):
        SiteConfig(traps=("no-such-trap",))


def test_same_seed_same_bytes_and_served_bytes_match_the_model(http):
    config = SiteConfig(pages=40, seed=11, error_rate=0.2)
    first, second = Site(config), Site(SiteConfig(pages=40, seed=11, error_rate=0.2))
    assert all(first.render_page(n) == second.render_page(n) for n in range(40))
    other = Site(SiteConfig(pages=40, seed=12))
    assert first.render_page(3) != other.render_page(3)
    with TestSite(pages=40, seed=11, error_rate=0.2) as site:
        origin = site.url.rstrip("/")
        for n in (0, 1, 17, 39):
            reply = http.request("GET", f"{site.url}page/{n}" if n else site.url, redirect=False)
            assert reply.data == first.render_page(n, origin)
            assert reply.status == (500 if first.is_error(n) else 200)


def test_page_size_follows_page_bytes():
    site = Site(SiteConfig(pages=10, page_bytes=20_000))
    sizes = [len(site.render_page(n)) for n in range(10)]
    assert all(20_000 <= size < 21_000 for size in sizes)


def test_full_crawl_reaches_exactly_every_page_and_stats_agree(http):
    pages = 150
    with TestSite(pages=pages, seed=5, error_rate=0.15, links_per_page=6) as site:
        seen = {site.url}
        queue = deque([site.url])
        hrefs: list[bytes] = []
        while queue:
            url = queue.popleft()
            reply = http.request("GET", url, redirect=False)
            assert reply.status in (200, 500)
            if reply.status != 200:
                continue
            for href in HREF.findall(reply.data):
                hrefs.append(href)
                target = _norm(href.decode(), url)
                if target not in seen:
                    seen.add(target)
                    queue.append(target)
        expected = {site.url} | {f"{site.url}page/{n}" for n in range(1, pages)}
        assert seen == expected
        stats = site.stats()
    assert stats["requests"] == stats["pages_served"] == stats["pages_distinct"] == pages
    assert stats["by_status"]["500"] > 0  # error pages exist, yet everything was reachable
    # the spellings that make dedupe work are all present
    assert any(b"#" in h for h in hrefs)
    assert any(h.startswith(b"HTTP://") for h in hrefs)
    assert any(not h.startswith((b"/", b"HTTP")) for h in hrefs)
    assert len(hrefs) > len(set(hrefs))


def test_stats_count_routes_connections_and_reset(http):
    with TestSite(pages=10) as site:
        for n in range(1, 4):
            http.request("GET", f"{site.url}page/{n}")
        http.request("GET", site.url + "robots.txt")
        http.request("GET", site.url + "nope")
        stats = site.stats()
        assert stats["requests"] == 5
        assert stats["pages_served"] == 3
        assert stats["by_route"] == {"/page": 3, "/robots.txt": 1, "other": 1}
        assert stats["by_status"] == {"200": 4, "404": 1}
        assert stats["open_connections"] >= 1  # the pool's keep-alive connection
        site.reset_stats()
        assert site.stats()["requests"] == 0


def test_page_zero_is_only_root_and_private_pages_follow_robots(http):
    with TestSite(pages=5, private_pages=3, crawl_delay=2) as site:
        assert http.request("GET", site.url + "page/0", redirect=False).headers["Location"] == "/"
        robots = http.request("GET", site.url + "robots.txt").data.decode()
        assert "Disallow: /private/" in robots
        assert "Crawl-delay: 2" in robots
        assert b'href="/private/0"' in http.request("GET", site.url).data
        assert http.request("GET", site.url + "private/2").status == 200
        assert http.request("GET", site.url + "private/3").status == 404
        assert site.stats()["private_served"] == 1


@pytest.mark.parametrize(("mode", "status"), [("5xx", 503), ("404", 404)])
def test_robots_modes(http, mode, status):
    with TestSite(pages=2, robots=mode) as site:
        assert http.request("GET", site.url + "robots.txt").status == status


def test_huge_robots_is_over_a_mebibyte_with_the_real_rules_first():
    body = Site(SiteConfig(robots="huge")).robots_txt()
    assert len(body) > 1024 * 1024
    assert body.startswith(b"User-agent: *\nDisallow: /private/\n")


def test_plain_site_links_no_traps_and_trap_index_lists_them_all(trap_site, http):
    assert b"/trap/" not in Site(SiteConfig(pages=30, seed=7)).render_page(0)
    assert b'href="/trap/"' in http.request("GET", trap_site.url).data
    index = http.request("GET", trap_site.url + "trap/").data.decode()
    for path, _ in TRAPS.values():
        assert f'href="{path}"' in index


def test_named_traps_are_linked_alone():
    page = Site(SiteConfig(pages=3, traps=("never-answer", "pdf"))).render_page(0)
    assert b'href="/trap/never-answer"' in page
    assert b'href="/trap/pdf"' in page
    assert b'href="/trap/"' not in page


def test_never_answer_holds_until_the_client_leaves(trap_site):
    before = trap_site.stats()["open_connections"]
    with urllib3.PoolManager(retries=False) as pool:
        started = time.monotonic()
        with pytest.raises(urllib3.exceptions.ReadTimeoutError):
            pool.request("GET", trap_site.url + "trap/never-answer", timeout=0.3)
        assert time.monotonic() - started < 2
    assert _wait_for(lambda: trap_site.stats()["open_connections"] <= before)


def test_redirect_loop_and_chain(trap_site, http):
    hops = []
    url = trap_site.url + "trap/redirect-loop"
    for _ in range(5):
        location = http.request("GET", url, redirect=False).headers["Location"]
        hops.append(location)
        url = urljoin(url, location)
    assert hops[1:] == ["/trap/redirect-loop/b", "/trap/redirect-loop/a"] * 2
    with pytest.raises(urllib3.exceptions.MaxRetryError):
        urllib3.request("GET", trap_site.url + "trap/redirect-loop", retries=urllib3.Retry(10))
    reply = urllib3.request("GET", trap_site.url + "trap/redirect-chain/5", retries=10)
    assert reply.status == 200
    assert reply.retries.history[-1].redirect_location.endswith("/0")
    assert len(reply.retries.history) == 5


@pytest.mark.parametrize("scheme", ["file", "ftp", "data", "javascript"])
def test_redirects_to_other_schemes(trap_site, http, scheme):
    reply = http.request("GET", f"{trap_site.url}trap/redirect-scheme/{scheme}", redirect=False)
    assert reply.status == 302
    assert reply.headers["Location"].startswith(f"{scheme}:")


def test_bombs_are_small_on_the_wire_and_inflate_to_the_size_asked(trap_site, http):
    for name, wbits in (("gzip", 31), ("deflate", 15)):
        url = f"{trap_site.url}trap/{name}-bomb?mib=32"
        reply = http.request("GET", url, decode_content=False)
        assert reply.headers["Content-Encoding"] == name
        wire = reply.data
        assert len(wire) < 64 * 1024
        inflated, rest = 0, wire
        while rest:  # gzip: one member per MiB
            inflater = zlib.decompressobj(wbits)
            inflated += len(inflater.decompress(rest))
            assert inflater.eof
            rest = inflater.unused_data
        assert inflated == 32 * 1024 * 1024
        decoded = http.request("GET", f"{trap_site.url}trap/{name}-bomb?mib=1").data
        assert decoded == b" " * 1024 * 1024  # a stock client inflates it


def test_huge_body_streams_and_lying_lengths(trap_site, http):
    reply = http.request("GET", trap_site.url + "trap/huge", preload_content=False)
    assert int(reply.headers["Content-Length"]) == 4096 * 1024 * 1024
    assert len(reply.read(1024 * 1024)) == 1024 * 1024
    reply.close()
    with pytest.raises(urllib3.exceptions.ProtocolError):
        http.request("GET", trap_site.url + "trap/length-long")
    short = http.request("GET", trap_site.url + "trap/length-short")
    assert len(short.data) == 512  # the client stops at the promised length
    with pytest.raises(urllib3.exceptions.ProtocolError):
        http.request("GET", trap_site.url + "trap/reset")


def test_trickle_and_slow_headers_time_out_on_the_client(trap_site):
    with urllib3.PoolManager(retries=False) as pool:
        with pytest.raises(urllib3.exceptions.ReadTimeoutError):
            pool.request("GET", trap_site.url + "trap/slow-headers", timeout=0.3)
        reply = pool.request(
            "GET", trap_site.url + "trap/trickle?bytes=50&interval_ms=10", timeout=2
        )
        assert len(reply.data) == 50


def test_retry_routes_fail_first_then_succeed(trap_site, http):
    url = trap_site.url + "trap/retry/429?fail=2&after=3"
    first, second, third = (http.request("GET", url) for _ in range(3))
    assert [first.status, second.status, third.status] == [429, 429, 200]
    assert first.headers["Retry-After"] == "3"


def test_flaky_fails_about_half_and_is_deterministic(trap_site, http):
    statuses = [http.request("GET", f"{trap_site.url}trap/flaky/{i}").status for i in range(40)]
    assert 8 <= statuses.count(500) <= 32
    assert set(statuses) == {200, 500}
    trap_site.reset_stats()
    again = [http.request("GET", f"{trap_site.url}trap/flaky/{i}").status for i in range(40)]
    assert again == statuses


def test_crawler_traps_generate_new_urls(trap_site, http):
    calendar = http.request("GET", trap_site.url + "trap/calendar/2000/12").data
    assert b'href="/trap/calendar/2001/01"' in calendar
    first = HREF.findall(http.request("GET", trap_site.url + "trap/session").data)
    second = HREF.findall(http.request("GET", trap_site.url + "trap/session").data)
    assert first
    assert not set(first) & set(second)
    page = http.request("GET", trap_site.url + "trap/long-url").data
    long_href = max(HREF.findall(page), key=len)
    assert len(long_href) > 100_000
    assert http.request("GET", urljoin(trap_site.url, long_href.decode())).status == 200


def test_content_traps(trap_site, http):
    def get(name):
        return http.request("GET", trap_site.url + "trap/" + name)

    assert get("pdf").headers["Content-Type"] == "application/pdf"
    assert get("png").data.startswith(b"\x89PNG")
    with pytest.raises(UnicodeDecodeError):
        get("bad-utf8").data.decode("utf-8")
    assert get("binary-html").headers["Content-Type"].startswith("text/html")
    assert get("deep-nesting").data.count(b"<div>") == 100_000
    assert b"javascript:" in get("odd-links").data
    assert [get(f"status/{code}").status for code in (404, 410)] == [404, 410]
    assert get("burst/3").status == 500


def test_million_links_streams(trap_site, http):
    reply = http.request("GET", trap_site.url + "trap/million-links?n=20000")
    assert reply.data.count(b"<a href=") == 20000


def test_stop_leaves_no_process():
    site = TestSite(pages=3).start()
    pid = site.pid
    assert psutil.pid_exists(pid)
    assert site.stop() == 0
    assert not psutil.pid_exists(pid)  # reaped, not a zombie
    assert site.stop() is None  # idempotent


def test_export_writes_the_same_site(tmp_path):
    config = SiteConfig(pages=12, seed=3, error_rate=0.3, private_pages=2)
    count = export_site(config, tmp_path, origin="http://127.0.0.1:8080/", nginx_port=8081)
    site = Site(config)
    assert count == 12 + 2 + 2
    assert (tmp_path / "index.html").read_bytes() == site.render_page(0, "http://127.0.0.1:8080")
    assert (tmp_path / "page" / "11").read_bytes() == site.render_page(11, "http://127.0.0.1:8080")
    assert (tmp_path / "private" / "1").exists()
    conf = (tmp_path / "nginx.conf").read_text()
    assert "listen 127.0.0.1:8081;" in conf
    errors = [n for n in range(12) if site.is_error(n)]
    assert errors
    assert all(f"location = /page/{n} {{ return 500; }}" in conf for n in errors)


def test_config_round_trips_through_the_child_flags():
    config = SiteConfig(
        pages=9,
        links_per_page=3,
        page_bytes=100,
        latency_ms=2.5,
        jitter_ms=1,
        error_rate=0.25,
        seed=4,
        traps=("pdf", "calendar"),
        private_pages=2,
        robots="huge",
        robots_disallow=(),
        crawl_delay=0.5,
        port=0,
    )
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert config_from_args(parser.parse_args(config_to_argv(config))) == config


def test_export_subcommand(tmp_path, capsys):
    assert main(["export", str(tmp_path), "--pages", "3"]) == 0
    assert sorted(p.name for p in (tmp_path / "page").iterdir()) == ["1", "2"]
    assert "wrote" in capsys.readouterr().out


def test_forged_host_header_stays_out_of_the_page():
    with TestSite(pages=50, seed=1) as site:
        host = urlsplit(site.url).netloc
        pool = urllib3.HTTPConnectionPool(host.split(":")[0], int(host.split(":")[1]))
        good = pool.request("GET", "/", headers={"Host": host}).data
        forged = pool.request("GET", "/", headers={"Host": '"><script>x</script>'}).data
        pool.close()
    assert b"<script>" not in forged
    assert host.upper().encode() in good
