"""The Experiments tab in the real window: real experiments, run from the panel, offscreen."""

from __future__ import annotations

import os
import threading
import time

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QSettings, Qt

from core.experiments import EXPERIMENTS, Experiment, MeasureSpec
from core.history import list_runs, load_details
from gui.crawl_controller import Phase
from gui.experiments_panel import ExperimentsPanel
from gui.window import MainWindow


def experiment_threads() -> list[str]:
    """Threads of a run: the runner, the monitor, and every variant's exp-* threads."""
    return [t.name for t in threading.enumerate() if t.name.startswith("exp")]


@pytest.fixture
def window(qtbot, tmp_path):
    window = MainWindow(QSettings(str(tmp_path / "t.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    window.show()
    window.views.setCurrentWidget(window.experiments)
    yield window
    window.close()
    assert not experiment_threads()


def test_run_from_the_panel_charts_live_compares_and_saves(qtbot, window):
    panel = window.experiments
    panel.select("counter-race")
    assert "Claim under test" in panel.claim.text()
    assert "increments" in panel.claim.text()
    panel.scale.setValue(0.1)
    panel.trials.setValue(1)
    assert window.start_action.isEnabled()

    with qtbot.waitSignal(panel.runSaved, timeout=30_000) as saved:
        qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
        assert panel.running
        assert not panel.run_button.isEnabled()
        assert panel.stop_button.isEnabled()
        assert not window.start_action.isEnabled()  # no crawl while an experiment measures
    assert not panel.running
    assert panel.run_button.isEnabled()
    assert window.start_action.isEnabled()

    # the live chart got the monitor's samples of both variants, probes included
    assert [variant for variant, _start, _end in panel.live.segments] == ["bad", "fixed"]
    assert len(panel.live.series("rss_mib")) >= 2
    assert panel.live.series("rss_mib").min() > 0
    assert len(panel.live.series("py_threads")) >= 2
    assert "lost_so_far" in panel.live.curves

    # bad and fixed side by side, with units, and the verdict in words
    model = panel.results_model
    headers = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())]
    assert headers[:4] == ["Measure", "Unit", "Bad", "Fixed"]
    rows = {model.row(r)[0]: model.row(r) for r in range(model.rowCount())}
    lost = rows["increments lost (read/call/write)"]
    assert lost[1] == "updates"
    assert lost[3] == "0"  # the lock loses none
    assert lost[2] not in ("", "—")
    assert lost[5] == "not significant"  # one trial: no spread
    text = panel.verdict.toPlainText()
    assert "Verdict: not significant" in text
    assert "one trial cannot show spread" in text
    assert panel.result.verdict == "not significant"

    # the run is in the history, and the History tab shows it
    runs = list_runs()
    assert [(r.id, r.kind, r.title) for r in runs] == [
        (saved.args[0], "experiment", "counter-race")
    ]
    assert load_details(runs[0].id)["verdict"] == "not significant"
    assert window.history.model.rowCount() == 1
    assert not experiment_threads()


def test_stop_ends_a_run_promptly_and_leaves_no_thread(qtbot, window):
    panel = window.experiments
    panel.select("thread-explosion")
    panel.scale.setValue(1.0)
    panel.trials.setValue(20)  # tens of seconds if nobody stopped it
    panel.run_button.click()
    qtbot.waitUntil(lambda: len(panel.live.series("py_threads")) >= 3, timeout=10_000)

    stopped_at = time.monotonic()
    with qtbot.waitSignal(panel.runningChanged, timeout=5_000) as ended:
        panel.stop_button.click()
        assert "Stopping" in panel.status.text()
        assert not panel.stop_button.isEnabled()
    assert ended.args == [False]
    took = time.monotonic() - stopped_at
    assert not experiment_threads(), f"left behind after {took:.2f} s"
    assert panel.result.verdict == "stopped"
    assert "Verdict: stopped" in panel.verdict.toPlainText()
    assert list_runs() == []  # a stopped run has no verdict to keep
    assert panel.run_button.isEnabled()


def test_no_experiment_while_a_crawl_runs(qtbot, window):
    panel = window.experiments
    window.crawl._set_phase(Phase.RUNNING)  # what a started crawl does to the window
    assert not panel.run_button.isEnabled()
    assert "crawl is running" in panel.run_button.toolTip()
    panel.run()
    assert not panel.running
    window.crawl._set_phase(Phase.FINISHED)
    assert panel.run_button.isEnabled()


def test_strategy_choice_reaches_the_settings(qtbot, window):
    controls = window.controls
    combo = controls.strategy
    names = [combo.itemText(i) for i in range(combo.count())]
    assert names == ["bounded", "pool", "recursive", "thread-per-url"]
    for i in range(combo.count()):
        assert len(combo.itemData(i, Qt.ItemDataRole.ToolTipRole)) > 40
    assert controls.settings().strategy == "bounded"
    combo.setCurrentText("thread-per-url")
    assert controls.settings().strategy == "thread-per-url"
    assert "cap" in combo.toolTip()
    assert controls.values()["strategy"] == "thread-per-url"
    # only the bounded pool can be resized mid-crawl: the threads knob locks for the others
    controls.set_running(True)
    assert not controls.fields["threads"].isEnabled()
    assert not combo.isEnabled()
    controls.set_running(False)
    combo.setCurrentText("bounded")
    controls.set_running(True)
    assert controls.fields["threads"].isEnabled()
    controls.set_running(False)


def test_thread_sweep_plots_pages_per_s_and_rss_against_threads(qtbot, window):
    panel = window.experiments
    panel.select("thread-sweep")
    assert panel.live.compact
    assert panel.sweep_chart.isVisibleTo(panel)
    panel.scale.setValue(0.05)  # 1, 2 and 4 threads, half a second each
    panel.trials.setValue(1)
    with qtbot.waitSignal(panel.runSaved, timeout=40_000):
        panel.run_button.click()
    xs, rate = panel.sweep_chart.means("pages_per_s")
    assert list(xs) == [1.0, 2.0, 4.0]
    assert rate.min() > 0
    _xs, bound = panel.sweep_chart.means("latency_bound")
    assert list(bound) == [50.0, 100.0, 200.0]  # threads / 20 ms
    assert len(panel.sweep_chart.curves["latency_bound"].getData()[0]) == 3
    _xs, rss = panel.sweep_chart.means("peak_rss_mib")
    assert len(rss) == 3
    assert rss.min() > 0
    assert [v for v, _s, _e in panel.live.segments] == ["threads=1", "threads=2", "threads=4"]
    model = panel.results_model
    assert [model.row(r)[0] for r in range(model.rowCount())] == ["1", "2", "4"]
    assert model.headerData(1, Qt.Orientation.Horizontal).endswith("(pages/s)")
    assert panel.verdict.toPlainText().startswith("Verdict: ")
    assert window.history.model.rowCount() == 1


def test_closing_the_window_mid_run_stops_the_experiment(qtbot, tmp_path):
    window = MainWindow(QSettings(str(tmp_path / "c.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    panel = window.experiments
    panel.select("thread-explosion")
    panel.trials.setValue(20)
    panel.run_button.click()
    qtbot.waitUntil(lambda: len(panel.live.series("py_threads")) >= 2, timeout=10_000)
    window.close()
    assert not experiment_threads()
    assert list_runs() == []


def test_an_experiment_that_fails_says_why_and_ends(qtbot, monkeypatch):
    def body(variant, ctx):
        raise RuntimeError(f"the {variant} variant broke")

    broken = Experiment(
        name="broken",
        summary="raises at once",
        claim="an error in a variant ends the run and is shown",
        measures=(MeasureSpec("x", "", "x", key=True),),
        body=body,
        bad="raises",
        fixed="raises",
    )
    monkeypatch.setitem(EXPERIMENTS, "broken", broken)
    panel = ExperimentsPanel()
    qtbot.addWidget(panel)
    panel.select("broken")
    with qtbot.waitSignal(panel.runningChanged, check_params_cb=lambda on: not on):
        panel.run_button.click()
    assert panel.status.text().startswith("Failed")
    assert "RuntimeError: the bad variant broke" in panel.verdict.toPlainText()
    assert panel.run_button.isEnabled()
    assert not experiment_threads()
    assert list_runs() == []


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs Linux thread affinity")
def test_an_experiment_this_machine_cannot_test_says_so_in_words(qtbot, window):
    """gil-cores on one usable CPU: nothing runs, and the verdict explains why."""
    panel = window.experiments
    panel.select("gil-cores")
    usable = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(usable)})  # the runner thread inherits it
    try:
        with qtbot.waitSignal(panel.runSaved, timeout=30_000):
            qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    finally:
        os.sched_setaffinity(0, usable)
    assert panel.result.verdict == "unavailable"
    text = panel.verdict.toPlainText()
    assert "Verdict: unavailable" in text
    assert "nothing was run" in text
    assert "only one CPU" in text
