"""The window as a lab (issue 15): compare strategies, markers, its own cost, the details.

Real window, offscreen, crawling the embedded test site over loopback.
"""

from __future__ import annotations

import gc
import threading
import time

import pytest

pytest.importorskip("pytestqt")

from conftest import crawl_threads
from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtWidgets import QToolBar
from test_gui_window import make_window

from core.events import Notice
from core.history import list_runs, load_details, save_run, summarize_metrics
from core.settings import CrawlSettings
from core.testsite.params import SiteParams
from gui.charts import PEAK_RSS
from gui.history_view import HistoryView
from gui.window import MainWindow


@pytest.fixture
def window(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path / "lab.ini", pages=150, latency_ms=0, error_rate=0.0)
    yield window
    window.close()
    assert not crawl_threads()


def test_compare_runs_strategies_in_turn_overlays_them_and_saves_each(qtbot, window: MainWindow):
    assert window.compare_action in window.findChild(QToolBar, "crawl-toolbar").actions()
    view = window.open_compare()
    assert "one after the other on purpose" in view.why.text()
    view.pick("bounded", "pool")
    view.run_button.click()
    assert view.running
    assert not window.start_action.isEnabled()  # no crawl while comparing
    qtbot.waitUntil(lambda: not view.running, timeout=60_000)
    assert view.comparison is not None
    assert not view.comparison.stopped
    assert [run.strategy for run in view.comparison.runs] == ["bounded", "pool"]
    assert all(run.pages == 150 for run in view.comparison.runs)
    headers = view.table_model.headers()
    assert headers[1:3] == ("bounded", "pool")
    assert headers[-2:] == ("winner", "rule")
    rows = {view.table_model.row(i)[0]: view.table_model.row(i) for i in range(5)}
    assert rows["Pages/s (1/s)"][-1] == "higher is better"
    assert rows["Pages/s (1/s)"][-2] in ("bounded", "pool", "bounded, pool")
    assert view.charts.legends["frontier"].items  # the queue is overlaid too
    assert view.charts.curve_count() >= 2 * 5
    assert window.start_action.isEnabled()
    titles = [run.title for run in list_runs()]
    assert sum("compare" in t for t in titles) == 2
    qtbot.waitUntil(lambda: window.history.model.rowCount() == 2, timeout=5_000)


def test_compare_stop_ends_the_current_run_and_skips_the_rest(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path / "s.ini", pages=3_000, latency_ms=40, threads=2)
    try:
        view = window.open_compare()
        view.pick("bounded", "pool", "recursive")
        view.run_button.click()
        qtbot.waitUntil(
            lambda: view._runner is not None and view._runner.current_sampler is not None,
            timeout=15_000,
        )
        qtbot.waitUntil(lambda: view.charts.curve_count() > 0, timeout=5_000)  # live
        view.stop_button.click()
        qtbot.waitUntil(lambda: not view.running, timeout=15_000)
        assert view.comparison is not None
        assert view.comparison.stopped
        assert [run.reason for run in view.comparison.runs] == ["stopped"]
        assert "Stopped" in view.status.text()
    finally:
        window.close()
    assert not crawl_threads()


def _saved(threads: int, markers: list[tuple[float, str]]) -> str:
    t = [0.1 * i for i in range(20)]
    metrics = {
        "t": t,
        "os_threads": [threads + 3.0] * 20,
        "frontier": [100.0 - i for i in range(20)],
        "rss_mib": [60.0 + i for i in range(20)],
        "pages_per_s": [10.0 * threads] * 20,
        "cpu_percent": [50.0] * 20,
    }
    settings = CrawlSettings(start_urls=("http://127.0.0.1:1/",), threads=threads)
    summary = summarize_metrics(metrics, duration_s=2.0, pages=20 * threads, errors=0)
    details = {"markers": [list(m) for m in markers]}
    return save_run("crawl", f"{threads} threads", settings, summary, metrics, details).id


def test_history_overlays_any_number_of_runs_with_queue_depth_and_markers(qtbot):
    ids = [_saved(n, [(0.0, f"Start ({n} threads)"), (1.0, "GC gen 2")]) for n in (2, 4, 8)]
    view = HistoryView()
    qtbot.addWidget(view)
    view.select(*ids)
    assert "Comparing 3 runs" in view.hint.text()
    assert view.charts.curve_count() == 3 * 5  # threads, queue, memory, throughput, CPU
    assert len(view.charts.legends["frontier"].items) == 3
    texts = view.charts.marker_texts()
    assert texts.count("GC gen 2") == 3
    assert {"Start (2 threads)", "Start (4 threads)", "Start (8 threads)"} <= set(texts)
    headers = [view.summary_model.headerData(c, Qt.Orientation.Horizontal) for c in range(5)]
    assert headers == ["Figure", "A", "B", "C", "Unit"]
    pages = next(
        view.summary_model.row(r) for r in range(6) if view.summary_model.row(r)[0] == "Pages/s"
    )
    # A is the oldest (within one second the history orders by id)
    by_age = sorted(list_runs(), key=lambda r: (r.created, r.id))
    assert pages[1:4] == tuple(str(int(r.summary.pages_per_s)) for r in by_age)


def test_a_crawl_is_saved_with_its_markers_and_history_shows_them(qtbot, window):
    window.start_action.trigger()
    qtbot.waitUntil(lambda: window.phase == "finished", timeout=20_000)
    qtbot.waitUntil(lambda: window.history.model.rowCount() == 1, timeout=5_000)
    run = window.history.model.run(0)
    markers = load_details(run.id)["markers"]
    texts = [text for _t, text in markers]
    assert texts[0] == "Start (4 threads)"
    assert texts[-1].startswith("Done")
    assert 0 <= markers[0][0] < 1.0  # time from the crawl's start
    window.history.select(run.id)
    assert "Start (4 threads)" in window.history.charts.marker_texts()


def test_memory_chart_shows_peak_rss_next_to_current(qtbot, window):
    window.start_action.trigger()
    qtbot.waitUntil(lambda: window.phase == "finished", timeout=20_000)
    charts = window.charts
    qtbot.waitUntil(lambda: "MiB" in charts.legend_text(PEAK_RSS), timeout=5_000)
    peak = charts.curves[PEAK_RSS].yData  # all the data, not the downsampled view
    rss = charts.curves["rss_mib"].yData
    assert peak[-1] == pytest.approx(rss.max())
    assert (peak >= rss).all()
    assert (peak[1:] >= peak[:-1]).all()  # a running maximum
    assert charts.legend_text(PEAK_RSS) == f"peak RSS {peak[-1]:,.0f} MiB"
    assert charts.legend_text("rss_mib") == f"process RSS {rss[-1]:,.0f} MiB"


def marker_texts(window: MainWindow) -> list[str]:
    return [text for _t, text in window.charts.markers()]


def test_automatic_gc_passes_are_marked_manual_ones_once(qtbot, window):
    gc.collect()  # not through the window's action: an automatic pass for the window
    qtbot.waitUntil(
        lambda: any(t.startswith("GC gen 2 (") for t in marker_texts(window)), timeout=5_000
    )
    before = len(marker_texts(window))
    window.gc_action.trigger()
    qtbot.waitUntil(lambda: len(marker_texts(window)) > before, timeout=5_000)
    window.crawl.poll()  # drains the watch again
    new = marker_texts(window)[before:]
    assert len(new) == 1
    assert new[0].startswith("GC (")


def test_memory_warning_is_a_marker_and_notices_show_their_thread_in_the_log(qtbot, window, site):
    settings = window.controls.settings().replace(
        start_urls=(site.url,), memory_warning_mb=1, obey_robots=False
    )
    window.launch(settings)
    qtbot.waitUntil(lambda: window.phase == "finished", timeout=20_000)
    qtbot.waitUntil(
        lambda: any(t.startswith("memory warning (") for t in marker_texts(window)),
        timeout=5_000,
    )
    qtbot.waitUntil(
        lambda: any("passed 1 MiB" in r.getMessage() for r in window.log_model.items()),
        timeout=5_000,
    )
    record = next(r for r in window.log_model.items() if "passed 1 MiB" in r.getMessage())
    assert record.threadName == "crawl-watchdog"  # who raised it, not the GUI thread
    row = window.log_model.items().index(record)
    assert window.log_model.index(row, 1).data() == "crawl-watchdog"  # the Thread column
    assert record.levelname == "WARNING"
    qtbot.waitUntil(lambda: window.history.model.rowCount() == 1, timeout=5_000)
    run = window.history.model.run(0)
    saved = [text for _t, text in load_details(run.id)["markers"]]
    assert any(t.startswith("memory warning (") for t in saved)


def test_a_stuck_episode_is_a_marker_where_it_began(qtbot, window):
    stacks = window.diagnostics.stacks
    stacks.set_stuck_threshold(0.3)
    release = threading.Event()
    thread = threading.Thread(target=release.wait, args=(10,), name="lab-stuck")
    started = window.session.now()
    thread.start()
    try:
        qtbot.waitUntil(
            lambda: any(t == "stuck: lab-stuck" for t in marker_texts(window)), timeout=5_000
        )
    finally:
        release.set()
        thread.join(5)
    t = next(t for t, text in window.charts.markers() if text == "stuck: lab-stuck")
    assert started - 0.1 <= t <= started + 1.0  # when it stopped moving, not when noticed


def test_cost_readout_shows_sampler_charts_lateness_drops_and_fps(qtbot, window):
    window.start_action.trigger()
    cost = window.cost
    qtbot.waitUntil(lambda: cost.label.text().startswith("cost: sampler"), timeout=5_000)
    qtbot.waitUntil(lambda: cost.measure().fps > 0, timeout=5_000)
    qtbot.waitUntil(lambda: cost.measure().chart_refresh_ms > 0, timeout=5_000)
    assert cost.measure().sampler_cpu_ms_per_s > 0
    assert "event-loop lateness p99" in cost.label.toolTip()

    def hold_the_gui_thread() -> None:  # what a slow slot does to every timer
        end = time.perf_counter() + 0.4
        while time.perf_counter() < end:
            pass

    QTimer.singleShot(0, hold_the_gui_thread)
    qtbot.waitUntil(lambda: cost.measure().lateness_p99_ms > 200, timeout=5_000)
    window.bridge.dropped.emit(7)
    assert cost.measure().events_dropped == 7
    qtbot.waitUntil(lambda: window.phase == "finished", timeout=20_000)


def test_a_long_notice_elides_before_the_permanent_labels_full_text_in_tooltip_and_log(
    qtbot, window, site
):
    window.resize(900, 600)
    long_text = "robots.txt says " + "very long reason " * 40
    window.launch(window.controls.settings().replace(start_urls=(site.url,), obey_robots=False))
    events = window.session.crawler.events
    publisher = threading.Thread(
        target=events.publish, args=(Notice(level="warning", message=long_text),), name="lab-pub"
    )
    publisher.start()
    publisher.join()
    notice = window.notice
    qtbot.waitUntil(lambda: notice.full_text.startswith("robots.txt says"), timeout=5_000)
    assert notice.full_text == " ".join(long_text.split())
    assert notice.toolTip() == notice.full_text
    qtbot.waitUntil(lambda: notice.text().endswith("…"), timeout=5_000)
    first_permanent = min(
        label.geometry().left()
        for label in window.status_labels.values()
        if label.isVisible() and label.text()
    )
    assert notice.geometry().right() < first_permanent  # never under the permanent labels
    qtbot.waitUntil(
        lambda: any(r.getMessage() == long_text for r in window.log_model.items()), timeout=5_000
    )
    qtbot.waitUntil(lambda: window.phase == "finished", timeout=20_000)


def test_the_default_site_crawl_lasts_half_a_minute_to_a_minute(qtbot, tmp_path):
    """Measured, not computed: the form's defaults untouched, a few seconds of the real crawl,
    extrapolated to the site's page count (latency-bound, so the rate is steady)."""
    window = MainWindow(QSettings(str(tmp_path / "d.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    window.show()
    try:
        site = SiteParams()
        assert window.controls.site_params() == site
        assert window.controls.uses_site
        settings = window.controls.settings()
        assert settings.threads == 16
        in_flight = min(settings.threads, settings.per_host_threads)  # the site is one host
        bound_s = site.pages * site.latency_ms / 1000 / in_flight  # Little's law
        assert 30 <= bound_s <= 60
        window.start_action.trigger()
        qtbot.waitUntil(lambda: window.phase == "running", timeout=15_000)
        crawler = window.session.crawler
        qtbot.waitUntil(lambda: crawler.stats().elapsed >= 4.0, timeout=15_000)
        stats = crawler.stats()
        estimate_s = site.pages / (stats.pages / stats.elapsed)
        assert 30 <= estimate_s <= 75, estimate_s
    finally:
        window.close()
    assert not crawl_threads()
