"""The real window crawling the real embedded test site over loopback, offscreen."""

from __future__ import annotations

import csv
import json
import logging

import psutil
import pytest

pytest.importorskip("pytestqt")

from conftest import crawl_threads
from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QFileDialog, QToolBar

from core.affinity import crawl_cpu
from core.events import CrawlState
from gui.window import MainWindow


def make_window(qtbot, path, **knobs) -> MainWindow:
    window = MainWindow(QSettings(str(path), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    window.show()
    controls = window.controls
    controls.site_radio.setChecked(True)
    controls.pages.setValue(knobs.get("pages", 3_000))
    controls.latency_ms.setValue(knobs.get("latency_ms", 40))
    controls.error_rate.setValue(knobs.get("error_rate", 5.0))
    controls.fields["threads"].setValue(knobs.get("threads", 4))
    controls.fields["max_pages"].setValue(knobs.get("max_pages", 100_000))
    controls.obey_robots.setChecked(False)
    return window


@pytest.fixture
def window(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path / "threadscope.ini")
    yield window
    window.close()
    assert not crawl_threads()


def actions(window: MainWindow) -> tuple[bool, bool, bool, str]:
    return (
        window.start_action.isEnabled(),
        window.pause_action.isEnabled(),
        window.stop_action.isEnabled(),
        window.pause_action.text(),
    )


def start_and_wait_running(qtbot, window: MainWindow) -> None:
    window.start_action.trigger()
    qtbot.waitUntil(lambda: window.phase == "running", timeout=15_000)
    qtbot.waitUntil(lambda: window.session.crawler.stats().pages > 10, timeout=10_000)


def busy_workers_recently(window: MainWindow, samples: int = 3) -> float:
    values = window.session.sampler.series("busy_workers")
    return float(values[-samples:].min()) if len(values) >= samples else 0.0


def test_start_pause_resume_stop_with_live_data(qtbot, window):
    assert window.windowTitle().startswith("Threadscope")
    phases: list[str] = []
    window.phaseChanged.connect(phases.append)
    assert actions(window) == (True, False, False, "Pause")
    start_and_wait_running(qtbot, window)
    assert actions(window) == (False, True, True, "Pause")
    qtbot.waitUntil(lambda: window.threads_model.rowCount() == 4, timeout=5_000)
    qtbot.waitUntil(lambda: window.results_model.rowCount() > 0, timeout=5_000)
    qtbot.waitUntil(lambda: busy_workers_recently(window) > 0, timeout=5_000)
    x, y = window.charts.curves["busy_workers"].getData()
    assert x is not None
    assert len(x) > 0
    assert y.max() > 0
    assert window.threads_model.index(0, 0).data().startswith("crawl-worker-")

    window.pause_action.trigger()
    qtbot.waitUntil(lambda: window.session.crawler.state == CrawlState.PAUSED, timeout=5_000)
    assert actions(window) == (False, True, True, "Resume")
    qtbot.waitUntil(lambda: window.session.crawler.parked == 4, timeout=5_000)
    paused_at = window.session.crawler.stats().pages

    window.pause_action.trigger()
    assert actions(window) == (False, True, True, "Pause")
    qtbot.waitUntil(lambda: window.session.crawler.stats().pages > paused_at + 4, timeout=5_000)

    window.stop_action.trigger()
    assert window.phase == "stopping"
    assert window.status_labels["state"].text() == "Stopping…"
    assert actions(window)[:3] == (False, False, True)
    qtbot.waitUntil(lambda: window.phase == "finished", timeout=5_000)
    assert actions(window) == (True, False, False, "Pause")
    assert not crawl_threads()
    actions_marked = [t for _t, t in window.charts.markers() if not t.startswith("GC gen")]
    assert actions_marked[:4] == [  # automatic gc passes are marked too, wherever they fall
        "Start (4 threads)",
        "Pause",
        "Resume",
        "Stop",
    ]
    assert "stopped" in window.status_labels["state"].text()
    assert phases == ["starting", "running", "paused", "running", "stopping", "finished"]
    lanes = window.timeline._lanes.values()  # parsing comes in each page's FetchFinished
    assert any(window.timeline._codes["parsing"] in lane.codes for lane in lanes)


def test_stop_button_ends_a_crawl_whose_requests_never_answer(qtbot, window, trap_site):
    n = 8
    hung = tuple(f"{trap_site.url}trap/never-answer?window={i}" for i in range(n))
    options = {"threads": n, "obey_robots": False, "retries": 0, "read_timeout": 60}
    trap_site.reset_stats()
    window.launch(window.controls.settings().replace(start_urls=hung, deadline=60, **options))
    assert window.phase == "running"
    qtbot.waitUntil(lambda: trap_site.stats()["by_route"].get("/trap/never-answer", 0) >= n)
    assert window.session.crawler.stats().in_flight == n
    stop = window.findChild(QToolBar, "crawl-toolbar").widgetForAction(window.stop_action)
    with qtbot.waitSignal(window.phaseChanged, check_params_cb="finished".__eq__, timeout=5_000):
        qtbot.mouseClick(stop, Qt.MouseButton.LeftButton)
    assert not crawl_threads()  # the window says finished only once every crawl thread ended
    assert window.status_labels["state"].text() == "Finished (stopped)"
    assert [text for _t, text in window.charts.markers()][:2] == [f"Start ({n} threads)", "Stop"]


def test_thread_count_changed_mid_crawl_shows_in_busy_workers(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path / "t.ini", threads=2, latency_ms=60)
    try:
        start_and_wait_running(qtbot, window)
        qtbot.waitUntil(lambda: busy_workers_recently(window) == 2, timeout=5_000)
        window.controls.fields["threads"].setValue(8)  # debounced, like a person typing
        qtbot.waitUntil(lambda: busy_workers_recently(window) >= 6, timeout=5_000)
        assert window.session.crawler.stats().threads_target == 8
        assert "threads 2→8" in [text for _t, text in window.charts.markers()]
        qtbot.waitUntil(lambda: window.threads_model.rowCount() == 8, timeout=5_000)
        window.stop_action.trigger()
        assert window.stop_action.text() == "Stop now"
        assert window.stop_action.isEnabled()
        window.stop_action.trigger()  # a second Stop abandons in-flight requests
        qtbot.waitUntil(lambda: window.phase == "finished", timeout=5_000)
        assert not crawl_threads()
        texts = [text for _t, text in window.charts.markers()]
        assert texts[-3:-1] == ["Stop", "Abandon in-flight"]
    finally:
        window.close()


PINNABLE = pytest.mark.skipif(crawl_cpu(True) is None, reason="cannot pin threads here")


@pytest.mark.parametrize(
    ("pin", "notice"),
    [
        pytest.param(True, "crawl threads share CPU", marks=PINNABLE, id="pinned"),
        pytest.param(False, None, id="unpinned"),
    ],
)
def test_status_bar_shows_the_core_the_crawl_threads_run_on(qtbot, window, caplog, pin, notice):
    caplog.set_level(logging.INFO, logger="gui")  # as gui.app sets it
    window.controls.pin_workers.setChecked(pin)
    start_and_wait_running(qtbot, window)
    crawler = window.session.crawler
    assert crawler.settings.pin_workers is pin
    assert crawler.cpu == (crawl_cpu(True) if pin else None)
    where = window.status_labels["cpu"]
    expected = f"threads on CPU {crawler.cpu}" if pin else "threads on any CPU"
    qtbot.waitUntil(lambda: where.text() == expected, timeout=2_000)
    window.stop_action.trigger()
    qtbot.waitUntil(lambda: window.phase == "finished", timeout=5_000)
    assert where.text() == ""

    def shown(text: str) -> list[tuple[str, object]]:
        rows = range(window.log_filter.rowCount())  # what the Log tab shows at level INFO
        cells = [(window.log_filter.index(r, 2), window.log_filter.index(r, 3)) for r in rows]
        return [
            (level.data(), level.data(Qt.ItemDataRole.BackgroundRole))
            for level, message in cells
            if text in message.data()
        ]

    # The notice comes through the bridge before the crawl ends and "crawl ended" is logged.
    qtbot.waitUntil(lambda: bool(shown("crawl ended")), timeout=2_000)
    notices = shown("crawl threads")
    assert notices == ([("INFO", None)] if notice else [])  # plain lines, not a warning's colour
    assert notice is None or shown(notice) == notices


def test_invalid_url_disables_start_and_says_why(qtbot, window):
    window.controls.url_radio.setChecked(True)
    window.controls.url.setText("ftp://example.com/files")
    assert not window.start_action.isEnabled()
    label = window.controls.error_label("start_urls")
    assert label.isVisible()
    assert "only http and https" in label.text()
    window.crawl.start()  # F5 with a bad form starts nothing
    assert window.session.crawler is None
    assert window.phase == "idle"
    window.controls.url.setText("http://127.0.0.1:1/")
    assert window.start_action.isEnabled()
    assert not label.isVisible()


def test_close_during_a_crawl_ends_every_thread_and_the_site(qtbot, tmp_path):
    before = set(psutil.Process().children(recursive=True))  # other tests' shared sites
    window = make_window(qtbot, tmp_path / "c.ini")
    start_and_wait_running(qtbot, window)
    site = psutil.Process(window.session.site_pid)
    assert site in psutil.Process().children()
    window.close()
    assert not crawl_threads()
    assert window.session.sampler.join(0)
    assert set(psutil.Process().children(recursive=True)) <= before
    assert not site.is_running() or site.status() == psutil.STATUS_ZOMBIE


def test_settings_round_trip(qtbot, tmp_path):
    path = tmp_path / "round.ini"
    first = make_window(qtbot, path, pages=777, latency_ms=12, threads=24)
    first.controls.url.setText("http://127.0.0.1:8123/start")
    first.controls.fields["frontier_size"].setValue(4321)
    first.controls.pin_workers.setChecked(False)  # on by default
    first.resize(760, 560)  # inside the offscreen screen (800x800): restoreGeometry clamps to it
    first.main_splitter.setSizes([300, 400])
    saved_sizes = first.main_splitter.sizes()
    values = first.controls.values()
    first.close()

    second = MainWindow(QSettings(str(path), QSettings.Format.IniFormat))
    qtbot.addWidget(second)
    second.show()
    try:
        assert second.controls.values() == values
        assert second.controls.values()["site_pages"] == 777
        assert not second.controls.pin_workers.isChecked()
        assert second.controls.settings().pin_workers is False
        assert second.size() == first.size()
        assert second.main_splitter.sizes() == saved_sizes
    finally:
        second.close()


def test_exports_are_written_and_parse(qtbot, window, tmp_path):
    window.controls.pages.setValue(60)
    window.controls.latency_ms.setValue(0)
    window.start_action.trigger()
    qtbot.waitUntil(lambda: window.phase == "finished", timeout=20_000)
    assert window.session.crawler.reason == "finished"
    qtbot.waitUntil(lambda: window.session.sampler.latest().get("pages") == 60, timeout=2_000)

    window.export_menu.write_metrics(str(tmp_path / "metrics.csv"))
    with open(tmp_path / "metrics.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows
    assert float(rows[-1]["rss_mib"]) > 0
    assert float(rows[-1]["pages"]) == 60

    window.export_menu.write_results(str(tmp_path / "results.jsonl"))
    lines = (tmp_path / "results.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert len(records) == 60
    assert {"url", "status", "error", "depth"} <= set(records[0])

    window.charts.export_png("memory", str(tmp_path / "memory.png"))
    assert window.charts.export_all_png(str(tmp_path / "all.png"))
    for name in ("memory.png", "all.png"):
        image = QImage(str(tmp_path / name))
        assert not image.isNull()
        assert image.width() >= 400


def test_an_export_menu_entry_asks_for_a_file_and_writes_it(qtbot, window, tmp_path):
    target = tmp_path / "chart.png"

    def answer_the_dialog() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, QFileDialog):
            QTimer.singleShot(10, answer_the_dialog)  # not open yet
            return
        dialog.selectFile(str(target))
        dialog.accept()

    entry = next(a for a in window.export_menu.actions() if a.text() == "Memory chart as PNG…")
    QTimer.singleShot(0, answer_the_dialog)
    entry.trigger()  # the dialog runs its own event loop until answered
    assert not QImage(str(target)).isNull()
    assert window.notice.full_text == f"Wrote {target}"
