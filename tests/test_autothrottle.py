"""--autothrottle: per-host delay from measured latency, floors, back-off, markers (issue 11)."""

from __future__ import annotations

import pytest
from conftest import wait_until

from core.autothrottle import MAX_DELAY, START_DELAY, AutoThrottle
from core.engine import Crawler
from core.events import Marker
from core.settings import CrawlSettings
from core.testsite import TestSite

HOST = "http://127.0.0.1:8001"


def settle(throttle: AutoThrottle, latency: float, floor: float = 0.0, n: int = 30) -> float:
    for _ in range(n):
        throttle.observe(HOST, floor, latency, 200, failed=False)
    return throttle.delay(HOST, floor)


def test_starts_gently_and_aims_at_latency_over_target():
    throttle = AutoThrottle()
    assert throttle.delay(HOST, 0.0) == START_DELAY
    assert settle(throttle, 0.04) == pytest.approx(0.04, rel=0.01)
    assert settle(throttle, 0.4) == pytest.approx(0.4, rel=0.01)  # slower server, longer delay


def test_never_below_the_floor_never_above_the_cap():
    throttle = AutoThrottle()
    assert settle(throttle, 0.001, floor=0.3) == 0.3
    for _ in range(40):
        throttle.observe(HOST, 0.0, 0.001, 503, failed=False)
    assert throttle.delay(HOST, 0.0) == MAX_DELAY


@pytest.mark.parametrize(
    ("status", "failed"), [(503, False), (429, False), (500, False), (None, True)]
)
def test_backs_off_on_overload_and_fast_errors_never_speed_it_up(status, failed):
    throttle = AutoThrottle()
    before = settle(throttle, 0.05)
    throttle.observe(HOST, 0.0, 0.001, status, failed)
    assert throttle.delay(HOST, 0.0) == pytest.approx(max(2 * before, START_DELAY))
    calm = AutoThrottle()
    before = settle(calm, 0.05)
    calm.observe(HOST, 0.0, 0.0001, 404, failed=False)  # a fast 404: not lower
    assert calm.delay(HOST, 0.0) >= before


def test_a_change_of_one_and_a_half_times_is_reported_with_its_label():
    throttle = AutoThrottle()
    changes = [throttle.observe(HOST, 0.0, 0.05, 200, False) for _ in range(10)]
    shown = [c for c in changes if c is not None]
    assert shown
    assert all(c.old / c.new >= 1.5 for c in shown)
    assert shown[0].text() == f"autothrottle 127.0.0.1:8001 {shown[0].old:.2g}→{shown[0].new:.2g} s"


def host_delay(crawler: Crawler) -> float:
    rows = crawler.hosts()
    return rows[0].delay_s if rows else START_DELAY


def test_follows_latency_that_changes_and_backs_off_on_a_503_burst():
    with TestSite(pages=20_000, latency_ms=5) as site:
        crawler = Crawler(
            CrawlSettings(site.url, threads=4, autothrottle=True, retries=0, obey_robots=False)
        )
        markers = crawler.events.subscribe()
        crawler.start()
        try:
            wait_until(lambda: host_delay(crawler) < 0.03)  # fast server: delay came down
            site.set(latency_ms=200)
            wait_until(lambda: host_delay(crawler) > 0.1)  # slow server: delay went up
            site.set(latency_ms=5)
            wait_until(lambda: host_delay(crawler) < 0.03)
            site.set(burst_503=6)
            wait_until(lambda: host_delay(crawler) >= 0.2)  # 503s doubled it past the start
        finally:
            crawler.stop()
            assert crawler.join(10)
    row = crawler.hosts()[0]
    assert row.errors_by_kind["HTTP 503"] >= 1
    texts = [e.text for e in markers.drain() if isinstance(e, Marker)]
    assert texts
    assert all(t.startswith(f"autothrottle {site.url[7:-1]} ") for t in texts)
    ups = [t for t in texts if _new(t) > _old(t)]
    downs = [t for t in texts if _new(t) < _old(t)]
    assert len(ups) >= 2  # the slow phase and the 503 burst
    assert downs


def _old(text: str) -> float:
    return float(text.split()[2].split("→")[0])


def _new(text: str) -> float:
    return float(text.split()[2].split("→")[1])


def test_the_window_marks_an_autothrottle_change_on_the_charts(qtbot):
    from core.events import EventStream
    from gui.bridge import EventBridge

    stream = EventStream()
    bridge = EventBridge()
    bridge.attach(stream)
    try:
        with qtbot.waitSignal(bridge.marker, timeout=5000) as signal:
            stream.publish(Marker(text="autothrottle 127.0.0.1:8001 0.05→0.2 s"))
        assert signal.args == ["autothrottle 127.0.0.1:8001 0.05→0.2 s"]
    finally:
        bridge.stop()
