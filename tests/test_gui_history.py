"""The History tab: real runs saved by the window and by core.history, listed, compared,
deleted and exported through the view's own buttons, offscreen."""

from __future__ import annotations

import zipfile

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox

from core.history import list_runs, load_metrics, save_run, summarize_metrics
from core.settings import CrawlSettings
from gui.history_view import HistoryView
from gui.window import MainWindow


def saved_crawl(threads: int, rss: float, pages: int) -> str:
    t = [0.1 * i for i in range(30)]
    metrics = {
        "t": t,
        "os_threads": [threads + 3.0] * 30,
        "rss_mib": [rss + i for i in range(30)],
        "pages_per_s": [pages / 3.0] * 30,
        "cpu_percent": [50.0] * 30,
    }
    settings = CrawlSettings(start_urls=("http://127.0.0.1:1/",), threads=threads)
    summary = summarize_metrics(metrics, duration_s=3.0, pages=pages, errors=threads)
    return save_run("crawl", f"{threads} threads", settings, summary, metrics).id


@pytest.fixture
def view(qtbot):
    view = HistoryView()
    qtbot.addWidget(view)
    view.resize(1200, 700)
    view.show()
    return view


def test_lists_compares_deletes_and_exports(qtbot, view, tmp_path, monkeypatch):
    assert view.model.rowCount() == 0
    older, newer = saved_crawl(4, 80.0, 300), saved_crawl(32, 120.0, 900)
    view.refresh_button.click()
    assert view.model.rowCount() == 2
    rows = {view.model.run(r).title: r for r in range(2)}
    cells = [view.model.index(rows["32 threads"], c).data() for c in range(8)]
    assert cells[0] == "crawl"
    assert cells[3:] == ["3.0 s", "300", "35", "149.0 MiB", "32"]

    view.select(older, newer)
    assert {r.id for r in view.selected_runs()} == {older, newer}
    assert "Comparing A" in view.hint.text()
    assert view.charts.curve_count() == 8  # four charts, two runs each
    # A is the older run (saved first; within one second the history orders by id)
    a, b = sorted(list_runs(), key=lambda r: (r.created, r.id))
    threads = {older: "7", newer: "35"}  # peak OS threads: threads + 3
    summary = view.summary_model
    figures = {summary.row(r)[0]: summary.row(r) for r in range(summary.rowCount())}
    assert figures["Peak threads"][1:3] == (threads[a.id], threads[b.id])
    assert figures["Peak threads"][3] in ("+28", "-28")
    assert sorted(figures["Pages/s"][1:3]) == ["100", "300"]
    assert figures["Peak RSS"][4] == "MiB"
    assert view.caption.text().index(a.title) < view.caption.text().index(b.title)
    assert "4 threads" in view.caption.text()
    assert "32 threads" in view.caption.text()

    view.select(newer)
    assert view.charts.curve_count() == 4
    headers = [view.summary_model.headerData(c, Qt.Orientation.Horizontal) for c in range(3)]
    assert headers == ["Figure", "A", "Unit"]

    monkeypatch.setattr(
        QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(tmp_path))
    )
    view.export_button.click()
    archive = tmp_path / f"{newer}.zip"
    with zipfile.ZipFile(archive) as opened:
        assert opened.testzip() is None
        opened.extractall(tmp_path / "unzipped")
    assert (tmp_path / "unzipped" / newer / "run.json").is_file()
    assert (tmp_path / "unzipped" / newer / "metrics.csv").is_file()

    monkeypatch.setattr(
        QMessageBox, "question", staticmethod(lambda *a, **k: QMessageBox.StandardButton.No)
    )
    view.delete_button.click()
    assert view.model.rowCount() == 2  # declined
    monkeypatch.setattr(
        QMessageBox, "question", staticmethod(lambda *a, **k: QMessageBox.StandardButton.Yes)
    )
    with qtbot.waitSignal(view.message) as message:
        view.delete_button.click()
    assert message.args == ["Deleted 1 run(s)"]
    assert [r.id for r in list_runs()] == [older]
    assert view.model.rowCount() == 1
    assert not view.selected_runs()
    assert not view.delete_button.isEnabled()


def test_a_finished_crawl_is_saved_with_its_strategy_and_listed(qtbot, tmp_path):
    window = MainWindow(QSettings(str(tmp_path / "h.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    window.show()
    try:
        controls = window.controls
        controls.site_radio.setChecked(True)
        controls.pages.setValue(40)
        controls.latency_ms.setValue(0)
        controls.error_rate.setValue(0.0)
        controls.obey_robots.setChecked(False)
        controls.strategy.setCurrentText("pool")
        window.start_action.trigger()
        qtbot.waitUntil(lambda: window.phase == "finished", timeout=20_000)
        assert window.session.crawler.settings.strategy == "pool"
        qtbot.waitUntil(lambda: window.history.model.rowCount() == 1, timeout=5_000)
        run = window.history.model.run(0)
        assert run.kind == "crawl"
        assert "pool" in run.title
        assert run.settings["strategy"] == "pool"
        assert run.summary.pages == 40
        assert run.summary.errors == 0
        assert run.summary.peak_rss_mib > 0
        assert run.summary.pages_per_s > 0
        assert run.summary.peak_threads >= 2
        metrics = load_metrics(run.id)
        assert metrics["t"][0] >= 0
        assert len(metrics["t"]) == len(metrics["rss_mib"]) > 0
        assert max(metrics["pages"]) <= 40
    finally:
        window.close()
