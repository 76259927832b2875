"""The window's parts on their own: bridge, capped models, threads model, controls, charts."""

from __future__ import annotations

import logging
import os
import threading
import time

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from core.affinity import crawl_cpu
from core.events import (
    CrawlState,
    CrawlStateChanged,
    ErrorInfo,
    EventStream,
    FetchFinished,
    Notice,
    PageResult,
    WorkerStarted,
    WorkerState,
    WorkerStateChanged,
    WorkerStopped,
)
from core.stats import WorkerInfo
from gui.bridge import MAX_EVENTS_PER_TICK, EventBridge, LogBuffer
from gui.capped_model import PredicateFilter
from gui.charts import ChartPanel
from gui.controls import ControlPanel
from gui.results_table import ResultsModel
from gui.threads_table import EXITED, ThreadsModel, row_from_worker
from gui.timeline import TimelineView


def page(i: int, status: int | None = 200) -> PageResult:
    error = None if status == 200 else ErrorInfo("http", f"status {status}")
    return PageResult(f"http://x/{i}", None, 1, status, 100, 1.5, 3, error)


def test_bridge_batches_events_published_from_worker_threads(qtbot):
    stream = EventStream()
    bridge = EventBridge()
    bridge.attach(stream)
    n = 3_000

    def publish():
        stream.publish(WorkerStarted(name="w1", ident=1, native_id=1))
        for i in range(n):
            stream.publish(FetchFinished(worker="w1", result=page(i)))
        stream.publish(CrawlStateChanged(state=CrawlState.FINISHED, reason="finished"))
        stream.publish(Notice(level="warning", message="careful"))

    received: list[PageResult] = []
    batches = []
    bridge.pagesFinished.connect(lambda rows: (received.extend(rows), batches.append(len(rows))))
    states = []
    bridge.stateChanged.connect(lambda state, reason: states.append((state, reason)))
    notices = []
    bridge.notice.connect(lambda *args: notices.append(args))
    workers = []
    bridge.workerEvents.connect(workers.extend)
    thread = threading.Thread(target=publish, name="publisher")
    thread.start()
    thread.join()
    qtbot.waitUntil(lambda: len(received) == n and bool(states), timeout=5_000)
    assert [r.url for r in received] == [f"http://x/{i}" for i in range(n)]
    assert max(batches) <= MAX_EVENTS_PER_TICK
    assert states == [("finished", "finished")]
    assert notices == [("warning", "careful", "publisher")]  # the thread that raised it
    assert isinstance(workers[0], WorkerStarted)
    bridge.stop()


def test_bridge_reports_events_a_slow_subscriber_lost(qtbot, monkeypatch):
    monkeypatch.setattr("gui.bridge.SUBSCRIPTION_MAXLEN", 10)
    stream = EventStream()
    bridge = EventBridge()
    bridge.attach(stream)
    for i in range(25):
        stream.publish(FetchFinished(worker="w", result=page(i)))
    with qtbot.waitSignal(bridge.dropped, timeout=2_000) as blocker:
        pass
    assert blocker.args == [15]
    bridge.stop()


def test_log_records_from_any_thread_reach_the_bridge(qtbot):
    buffer = LogBuffer(maxlen=100)
    logger = logging.getLogger("test_gui_parts.worker")
    logger.addHandler(buffer)
    logger.setLevel(logging.INFO)
    bridge = EventBridge(buffer)
    try:
        args = ("hello from %s", "a worker")
        thread = threading.Thread(target=logger.info, args=args, name="w-7")
        with qtbot.waitSignal(bridge.logRecords, timeout=2_000) as blocker:
            thread.start()
            thread.join()
        (record,) = blocker.args[0]
        assert record.getMessage() == "hello from a worker"
        assert record.threadName == "w-7"
    finally:
        logger.removeHandler(buffer)
        bridge.stop()


def test_results_model_keeps_the_newest_rows_and_counts_the_rest(qtbot):
    model = ResultsModel(capacity=100)
    hidden = []
    model.hiddenChanged.connect(hidden.append)
    model.append([page(i) for i in range(80)])
    model.append([page(i) for i in range(80, 150)])
    assert model.rowCount() == 100
    assert model.hidden == 50
    assert hidden[-1] == 50
    assert model.item(0).url == "http://x/50"
    model.append([page(i) for i in range(1000, 1250)])  # one batch bigger than the cap
    assert model.rowCount() == 100
    assert model.item(99).url == "http://x/1249"
    assert model.hidden == 300


def test_error_filter_shows_only_failed_rows(qtbot):
    model = ResultsModel(capacity=10)
    proxy = PredicateFilter()
    proxy.setSourceModel(model)
    model.append([page(0), page(1, 500), page(2), page(3, None)])
    assert proxy.rowCount() == 4
    proxy.set_predicate(lambda r: r.failed)
    assert proxy.rowCount() == 2
    assert proxy.index(0, 5).data() == "http: status 500"
    model.append([page(4, 404)])
    assert proxy.rowCount() == 3


def _worker(name: str, state=WorkerState.FETCHING, pages=0, native_id=None) -> WorkerInfo:
    return WorkerInfo(
        name=name,
        ident=1,
        native_id=native_id or threading.get_native_id(),
        daemon=True,
        state=state,
        url="http://x/",
        pages=pages,
        last_error=None,
        state_since=time.monotonic(),
    )


def test_threads_model_changes_rows_in_place(qtbot):
    model = ThreadsModel()
    resets = []
    model.modelReset.connect(lambda: resets.append(1))
    inserted = []
    model.rowsInserted.connect(lambda _p, first, last: inserted.append((first, last)))
    cpu = {threading.get_native_id(): 1.25}
    model.update([row_from_worker(_worker("w1"), cpu), row_from_worker(_worker("w2"), cpu)])
    assert inserted == [(0, 1)]
    with qtbot.waitSignal(model.dataChanged, timeout=1_000):
        model.update([row_from_worker(_worker("w1", WorkerState.PARSING, pages=3), cpu)])
    assert inserted == [(0, 1)]
    assert not resets
    assert model.index(0, 4).data() == "parsing"
    assert model.index(0, 7).data() == 3
    assert model.index(0, 8).data() == "1.25"
    assert model.row("w2").state == EXITED


def test_invalid_url_shows_the_error_inline_and_reports_invalid(qtbot):
    panel = ControlPanel()
    qtbot.addWidget(panel)
    panel.show()
    panel.url_radio.setChecked(True)
    with qtbot.waitSignal(panel.validityChanged) as blocker:
        panel.url.setText("ftp://example.com/")
    assert blocker.args == [False]
    label = panel.error_label("start_urls")
    assert label.isVisible()
    assert "http" in label.text()
    with qtbot.waitSignal(panel.validityChanged) as blocker:
        panel.url.setText("http://127.0.0.1:8000/")
    assert blocker.args == [True]
    assert not label.isVisible()
    panel.fields["threads"].setValue(0)
    assert panel.error is not None
    assert panel.error.field == "threads"
    assert panel.error_label("threads").isVisible()


def test_control_values_round_trip(qtbot):
    panel = ControlPanel()
    qtbot.addWidget(panel)
    panel.url_radio.setChecked(True)
    panel.url.setText("http://127.0.0.1:9/")
    panel.fields["threads"].setValue(32)
    panel.fields["read_timeout"].setValue(2.5)
    panel.obey_robots.setChecked(False)
    panel.pin_workers.setChecked(False)
    # QSettings hands everything back as strings in INI files.
    values = {key: str(value) for key, value in panel.values().items()}
    other = ControlPanel()
    qtbot.addWidget(other)
    other.set_values(values)
    assert other.values() == panel.values()
    settings = other.settings()
    assert settings.threads == 32
    assert settings.read_timeout == 2.5
    assert not settings.obey_robots
    assert settings.pin_workers is False
    assert not other.pin_workers.isChecked()


@pytest.mark.skipif(crawl_cpu(True) is None, reason="threads cannot be pinned here")
def test_workers_on_one_core_is_on_by_default_and_flows_into_the_settings(qtbot):
    panel = ControlPanel()
    qtbot.addWidget(panel)
    box = panel.pin_workers
    assert box.isEnabled()
    assert box.isChecked()
    assert panel.settings().pin_workers is True
    assert "GIL" in box.toolTip()
    assert "gil-cores" in box.toolTip()
    box.setChecked(False)
    assert panel.settings().pin_workers is False
    assert panel.values()["pin_workers"] is False
    panel.set_running(True)  # a crawl's threads are pinned when they start: fixed while it runs
    assert not box.isEnabled()
    panel.set_running(False)
    assert box.isEnabled()


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs Linux thread affinity")
def test_workers_on_one_core_is_disabled_where_threads_cannot_be_pinned(qtbot):
    usable = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(usable)})  # one usable CPU: nothing to gain from pinning
    try:
        panel = ControlPanel()
    finally:
        os.sched_setaffinity(0, usable)
    qtbot.addWidget(panel)
    box = panel.pin_workers
    assert not box.isEnabled()
    assert not box.isChecked()
    assert box.toolTip().startswith("Not available here")
    assert panel.settings().pin_workers is False
    assert "pin_workers" not in panel.values()  # a preference saved where it worked is kept
    panel.set_values({"pin_workers": "true"})
    panel.set_running(True)
    panel.set_running(False)
    assert not box.isEnabled()
    assert not box.isChecked()


def test_charts_follow_new_data_until_the_user_pans(qtbot):
    panel = ChartPanel()
    qtbot.addWidget(panel)
    panel.resize(800, 500)
    panel.show()
    times = np.arange(0.0, 300.0, 0.1)
    panel.set_source(lambda: times, lambda key: np.sin(times))
    panel.refresh()
    left, right = panel.first_plot.getViewBox().viewRange()[0]
    assert right >= 299
    assert left > 100
    assert panel.curves["rss_mib"].getData()[0] is not None
    with qtbot.waitSignal(panel.followingChanged) as blocker:
        panel.first_plot.getViewBox().sigRangeChangedManually.emit([True, False])
    assert blocker.args == [False]
    assert not panel.following
    panel.first_plot.setXRange(10, 20, padding=0)
    times = np.arange(0.0, 400.0, 0.1)
    panel.refresh()
    assert panel.first_plot.getViewBox().viewRange()[0][1] < 100
    panel.follow()
    assert panel.following
    assert panel.first_plot.getViewBox().viewRange()[0][1] >= 399
    panel.add_marker(350.0, "threads 8→32")
    assert panel.markers() == [(350.0, "threads 8→32")]


def test_timeline_segments_answer_hover_queries(qtbot):
    t0 = time.monotonic()
    view = TimelineView(lambda t: t - t0)
    qtbot.addWidget(view)
    view.show()
    view.add_events(
        [
            WorkerStarted(name="w1", ident=1, native_id=1, t=t0 + 1),
            WorkerStateChanged(name="w1", state=WorkerState.FETCHING, url="http://x/1", t=t0 + 2),
            WorkerStateChanged(name="w1", state=WorkerState.PARSING, url="http://x/1", t=t0 + 3.5),
            WorkerStopped(name="w1", t=t0 + 4),
        ]
    )
    view.set_now(10.0)
    view.plot.setXRange(0, 10)
    view.refresh()
    assert view.lane_names() == ["w1"]
    state, url, start, end = view.segment_at("w1", 2.5)
    assert (state, url) == ("fetching", "http://x/1")
    assert start == pytest.approx(2.0)
    assert end == pytest.approx(3.5)
    assert view.segment_at("w1", 0.5) is None
    assert view.segment_at("w1", 9.0) is None  # the worker stopped at 4 s
    assert len(view._bars["fetching"].opts["x0"]) == 1


def test_timeline_draws_parsing_from_the_pages_result(qtbot):
    t0 = time.monotonic()
    view = TimelineView(lambda t: t - t0)
    qtbot.addWidget(view)
    view.show()
    bridge = EventBridge()
    bridge.workerEvents.connect(view.add_events)
    stream = EventStream()
    bridge.attach(stream)
    pages: list[PageResult] = []
    bridge.pagesFinished.connect(pages.extend)
    fetched = PageResult("http://x/1", None, 1, 200, 100, 1.5, 3)
    failed = PageResult("http://x/2", None, 1, None, 0, 1.0, 0, ErrorInfo("timeout", "slow"))
    for event in (
        WorkerStateChanged(name="w1", state=WorkerState.FETCHING, url="http://x/1", t=t0 + 2),
        FetchFinished(worker="w1", result=fetched, parse_started=t0 + 3, t=t0 + 3.5),
        WorkerStateChanged(name="w1", state=WorkerState.FETCHING, url="http://x/2", t=t0 + 4),
        FetchFinished(worker="w1", result=failed, t=t0 + 5),  # nothing parsed
        WorkerStateChanged(name="w1", state=WorkerState.IDLE, t=t0 + 6),
    ):
        stream.publish(event)
    qtbot.waitUntil(lambda: len(pages) == 2, timeout=2_000)
    view.set_now(10.0)
    state, url, start, end = view.segment_at("w1", 2.5)
    assert (state, url) == ("fetching", "http://x/1")
    assert (start, end) == (pytest.approx(2.0), pytest.approx(3.0))
    state, url, start, end = view.segment_at("w1", 3.7)
    assert (state, url) == ("parsing", "http://x/1")
    assert (start, end) == (pytest.approx(3.0), pytest.approx(4.0))
    state, url, start, end = view.segment_at("w1", 5.5)
    assert (state, url) == ("fetching", "http://x/2")  # no parsing for the failed page
    assert (start, end) == (pytest.approx(4.0), pytest.approx(6.0))
    bridge.stop()


def test_timeline_memory_is_shared_out_across_lanes(qtbot, monkeypatch):
    monkeypatch.setattr("gui.timeline.TOTAL_SEGMENTS", 1_000)
    view = TimelineView(lambda t: t)
    qtbot.addWidget(view)
    events = [WorkerStarted(name=f"w{i}", ident=i, native_id=i, t=1.0) for i in range(10)]
    events += [
        WorkerStateChanged(name="w0", state=WorkerState.FETCHING, url=f"u{i}", t=2.0 + i)
        for i in range(500)
    ]
    view.add_events(events)
    lane = view._lanes["w0"]
    assert lane.starts.maxlen == 100
    assert len(lane.starts) == 100
    assert lane.urls[-1] == "u499"  # the newest are kept
