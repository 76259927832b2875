"""The window as a lab (issue 15): compare strategies, markers, its own cost, the details.

Real window, offscreen, crawling the embedded test site over loopback.
"""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

from conftest import crawl_threads
from PySide6.QtWidgets import QToolBar
from test_gui_window import make_window

from core.history import list_runs
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
    assert view.comparison is not None and not view.comparison.stopped
    assert [run.strategy for run in view.comparison.runs] == ["bounded", "pool"]
    assert all(run.pages == 150 for run in view.comparison.runs)
    headers = view.table_model.headers()
    assert headers[1:3] == ("bounded", "pool") and headers[-2:] == ("winner", "rule")
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
        assert view.comparison is not None and view.comparison.stopped
        assert [run.reason for run in view.comparison.runs] == ["stopped"]
        assert "Stopped" in view.status.text()
    finally:
        window.close()
    assert not crawl_threads()
