"""``track_locks`` ("Track locks", ``--track-locks``): a crawl's own locks are tracked while it
runs, tracking ends with the crawl (unless someone else had it on), and off changes nothing.
Real crawls of the embedded site over loopback; hung requests keep a crawl running."""

from __future__ import annotations

import threading
from pathlib import Path

from test_observe_metrics import scrape

from core import cli
from core.agent import locks
from core.engine import Crawler
from core.observe.metrics import (
    CrawlMetricsSource,
    MetricsServer,
    ThreadscopeCollector,
    make_registry,
)
from core.settings import CrawlSettings
from tests.conftest import start_hung_crawl

CORE = str(Path(__file__).resolve().parent.parent / "core") + "/"


def engine_sites(snap: dict[str, object]) -> set[str]:
    """Creation sites (file:line) in core/ of the tracked locks alive now."""
    return {
        str(lock["created_at"])
        for lock in snap["locks"]  # type: ignore[attr-defined]
        if str(lock["created_at"]).startswith(CORE)
    }


def test_a_crawl_with_track_locks_tracks_its_own_locks_until_it_ends(trap_site) -> None:
    assert not locks.installed()
    crawler = start_hung_crawl(trap_site, 2, tag="locks", track_locks=True)
    try:
        assert locks.installed()
        sites = engine_sites(locks.snapshot())
        assert any(site.startswith(CORE + "engine.py:") for site in sites), sites
        assert len(sites) >= 3  # the engine's, its pool's and frontier's, ...
        assert isinstance(crawler._lock, locks.TrackedLock)  # the engine's own
    finally:
        crawler.stop()
        crawler.stop()
        assert crawler.join(10)
    assert not locks.installed()  # it installed tracking, so it took it away


def test_track_locks_off_leaves_threading_lock_untouched(site) -> None:
    plain = threading.Lock
    crawler = Crawler(CrawlSettings((site.url,), threads=2))
    assert threading.Lock is plain
    assert not locks.installed()
    crawler.start()
    assert crawler.join(30)
    assert threading.Lock is plain
    assert not isinstance(crawler._lock, locks.TrackedLock)


def test_tracking_someone_else_turned_on_stays_on(site) -> None:
    with locks.tracking():  # an experiment, or the agent inside a watched program
        crawler = Crawler(CrawlSettings((site.url,), threads=2, track_locks=True))
        crawler.start()
        assert crawler.join(30)
        assert locks.installed()
    assert not locks.installed()


def test_a_crawl_never_started_gives_tracking_back_when_stopped() -> None:
    crawler = Crawler(CrawlSettings(("http://127.0.0.1:9/",), track_locks=True))
    assert locks.installed()
    crawler.stop()
    assert not locks.installed()


def test_the_cli_switch_tracks_and_gives_tracking_back(site) -> None:
    argv = ["crawl", site.url, "--threads", "4", "--quiet", "--no-history", "--track-locks"]
    assert cli.build_parser(argv).parse_args(argv).track_locks is True
    assert cli.main(argv) == 0
    assert not locks.installed()


def test_a_tracked_crawl_serves_the_lock_wait_histogram(trap_site) -> None:
    crawler = start_hung_crawl(trap_site, 2, tag="histogram", track_locks=True)
    source = CrawlMetricsSource(crawler)
    server = MetricsServer(make_registry(ThreadscopeCollector(source)), 0)
    server.start()
    try:
        _type, samples = scrape(server.url)
    finally:
        crawler.stop()
        crawler.stop()
        assert crawler.join(10)
        assert server.stop()
        source.close()
    counts = samples["threadscope_lock_wait_seconds_count"]
    assert {dict(labels)["kind"] for labels in counts} == set(locks.wait_histogram()["kinds"])
    assert (("kind", "Lock"), ("le", "+Inf")) in samples["threadscope_lock_wait_seconds_bucket"]


def test_the_window_s_track_locks_shows_the_engine_s_locks_on_the_locks_page(
    qtbot, tmp_path, trap_site
) -> None:
    """ "Track locks" checked in the form: the Locks page lists locks created in core/engine.py
    while the crawl runs; after it, tracking is off again."""
    from PySide6.QtCore import QSettings
    from test_gui_locks import rows

    from gui.window import MainWindow

    window = MainWindow(QSettings(str(tmp_path / "t.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    window.show()
    try:
        controls = window.controls
        controls.url_radio.setChecked(True)
        controls.url.setText(f"{trap_site.url}trap/never-answer?window=locks")
        controls.obey_robots.setChecked(False)
        controls.fields["threads"].setValue(2)
        controls.checks["track_locks"].setChecked(True)
        diagnostics = window.diagnostics
        window.views.setCurrentWidget(diagnostics)
        diagnostics.setCurrentWidget(diagnostics.locks)
        page = diagnostics.locks
        window.start_action.trigger()
        qtbot.waitUntil(lambda: window.phase == "running", timeout=10_000)
        assert locks.installed()
        qtbot.waitUntil(
            lambda: any(r["Created at"].startswith("engine.py:") for r in rows(page)),
            timeout=10_000,
        )
        assert page.hint.isHidden()
        with qtbot.waitSignal(window.crawl.saved, timeout=15_000):
            window.stop_action.trigger()
            window.stop_action.trigger()
        assert not locks.installed()
    finally:
        window.close()
