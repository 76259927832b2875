"""The Diagnostics panel on real threads, a real heap and a real crawl of the test site."""

from __future__ import annotations

import gc
import logging
import pstats
import threading
import time
from dataclasses import replace

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QGuiApplication

from core.diagnostics import STOP_IS_RACY, is_tracing
from core.engine import Crawler
from core.events import WorkerState
from core.settings import CrawlSettings
from core.stats import WorkerInfo
from gui.diagnostics.page import DiagnosticsPage
from gui.diagnostics_panel import DiagnosticsPanel
from gui.threads_table import STUCK_BRUSH, STUCK_COLUMN, ThreadsModel, row_from_worker
from gui.window import MainWindow


@pytest.fixture
def panel(qtbot):
    workers: list[WorkerInfo] = []
    panel = DiagnosticsPanel(ThreadsModel(), lambda: workers, time.monotonic())
    panel.fake_workers = workers  # what the running crawl reports, set by a test
    qtbot.addWidget(panel)
    panel.resize(1000, 500)
    panel.show()
    yield panel
    panel.shutdown()
    assert not is_tracing()
    assert not [t for t in threading.enumerate() if t.name == "threadscope-jobs"]


def _parked(names: list[str], release: threading.Event) -> list[threading.Thread]:
    threads = [threading.Thread(target=release.wait, args=(10,), name=n) for n in names]
    for thread in threads:
        thread.start()
    return threads


def test_thread_dump_names_every_live_thread_and_the_filter_narrows_it(qtbot, panel):
    release = threading.Event()
    threads = _parked(["diag-alpha", "diag-beta"], release)
    try:
        qtbot.mouseClick(panel.stacks.dump_button, Qt.MouseButton.LeftButton)
        text = panel.stacks.dump_text.toPlainText()
        for thread in threading.enumerate():
            assert f'Thread "{thread.name}"' in text
        assert panel.stacks.dump_text.isReadOnly()
        panel.stacks.dump_filter.setText("DIAG-BETA")
        text = panel.stacks.dump_text.toPlainText()
        assert 'Thread "diag-beta"' in text
        assert "in wait" in text
        assert "diag-alpha" not in text
        assert "MainThread" not in text
        assert panel.stacks.dump_count.text().startswith("1 of ")
        qtbot.mouseClick(panel.stacks.copy_button, Qt.MouseButton.LeftButton)
        assert QGuiApplication.clipboard().text() == text
    finally:
        release.set()
        for thread in threads:
            thread.join(5)


def test_a_thread_blocked_on_a_held_lock_is_flagged_and_logged_once(qtbot, panel, caplog):
    caplog.set_level(logging.WARNING, logger="gui.diagnostics.stacks")
    panel.stacks.set_stuck_threshold(0.3)
    lock = threading.Lock()
    release = threading.Event()

    def hold() -> None:
        with lock:
            release.wait(10)

    def blocked() -> None:
        if lock.acquire(timeout=10):
            lock.release()

    holder = threading.Thread(target=hold, name="diag-holder")
    holder.start()
    waiter = threading.Thread(target=blocked, name="diag-blocked")
    waiter.start()
    model = panel.stacks.threads_model
    try:
        qtbot.waitUntil(lambda: model.stuck().get("diag-blocked", 0) > 0.6, timeout=5_000)
        row = model.row("diag-blocked")
        assert row is not None
        assert row.state == "blocked"
        i = model.rows().index(row)
        assert float(model.index(i, STUCK_COLUMN).data()) > 0.3
        assert model.index(i, 0).data(Qt.ItemDataRole.BackgroundRole) == STUCK_BRUSH
        tooltip = model.index(i, 0).data(Qt.ItemDataRole.ToolTipRole)
        assert "in blocked" in tooltip
        assert "lock.acquire(timeout=10)" in tooltip
        assert "diag-blocked" in panel.stacks.stuck_label.text()
        warnings = [r.getMessage() for r in caplog.records if "diag-blocked" in r.getMessage()]
        assert len(warnings) == 1  # once, saying where it is blocked
        line = blocked.__code__.co_firstlineno + 1  # the acquire() call
        assert warnings[0].splitlines()[0].endswith(f"in blocked (test_gui_diagnostics.py:{line})")
    finally:
        release.set()
        holder.join(5)
        waiter.join(5)
    qtbot.waitUntil(lambda: model.row("diag-blocked").state == "exited", timeout=5_000)
    assert "diag-blocked" not in model.stuck()


def test_a_worker_busy_on_one_url_past_the_threshold_is_flagged(qtbot, panel):
    panel.stacks.set_stuck_threshold(0.2)
    busy = WorkerInfo(
        name="crawl-worker-1",
        ident=threading.get_ident(),
        native_id=threading.get_native_id(),
        daemon=False,
        state=WorkerState.FETCHING,
        url="http://127.0.0.1:9/slow",
        pages=3,
        last_error=None,
        state_since=time.monotonic() - 30,
    )
    idle = replace(busy, name="crawl-worker-2", state=WorkerState.IDLE, url=None)
    panel.fake_workers[:] = [busy, idle]
    panel.stacks.threads_model.update([row_from_worker(w, {}) for w in (busy, idle)])
    panel.stacks.check_stuck()  # the first sighting of this (state, url, pages) starts the clock
    assert panel.stacks.threads_model.stuck() == {}
    qtbot.waitUntil(lambda: "crawl-worker-1" in panel.stacks.threads_model.stuck(), timeout=5_000)
    assert "crawl-worker-2" not in panel.stacks.threads_model.stuck()  # idle by design
    assert "http://127.0.0.1:9/slow" in panel.stacks.source.check(panel.fake_workers)[0].where
    panel.fake_workers[0] = replace(busy, pages=4)  # it moved on
    panel.stacks.check_stuck()
    assert panel.stacks.threads_model.stuck() == {}


class CountingPage(DiagnosticsPage):
    """A page the way a new one (Locks) slots in: it only counts what the panel asks of it."""

    title = "Counting"

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def tick(self) -> None:
        self.calls.append("tick")

    def refresh(self) -> None:
        self.calls.append("refresh")

    def shutdown(self) -> None:
        self.calls.append("shutdown")


def test_a_page_added_to_the_panel_is_ticked_always_and_refreshed_only_when_shown(qtbot, panel):
    page = CountingPage()
    panel.add_page(page)
    assert panel.tabText(panel.indexOf(page)) == "Counting"
    assert [panel.tabText(i) for i in range(4)] == [
        "Threads && stuck",
        "Memory (tracemalloc)",
        "Garbage collector",
        "Profile",
    ]
    qtbot.waitUntil(lambda: page.calls.count("tick") >= 2, timeout=5_000)
    assert "refresh" not in page.calls  # another page is on screen
    panel.setCurrentWidget(page)
    assert page.calls[-1] == "refresh"  # at once when shown
    ticks = page.calls.count("tick")
    qtbot.waitUntil(lambda: page.calls.count("tick") > ticks, timeout=5_000)
    assert page.calls[-2:] == ["tick", "refresh"]
    panel.shutdown()
    assert page.calls[-1] == "shutdown"


def test_collect_shows_what_each_generation_held(qtbot, panel):
    class Node:
        pass

    gc.disable()
    try:
        for _ in range(500):
            a, b = Node(), Node()
            a.other, b.other = b, a
        del a, b
        with qtbot.waitSignal(panel.garbageCollected) as blocker:
            qtbot.mouseClick(panel.gc.collect_button, Qt.MouseButton.LeftButton)
    finally:
        gc.enable()
    result = blocker.args[0]
    assert result.collected >= 1_000
    text = panel.gc.result.text()
    assert f"Collected {result.collected:,} objects" in text
    assert "gen 0 / 1 / 2" in text
    panel.setCurrentIndex(2)
    qtbot.waitUntil(lambda: len(panel.gc.source.samples()) >= 2, timeout=5_000)
    panel.tick()
    x, _y = panel.gc.curves[0].getData()
    assert x is not None
    assert len(x) >= 2
    assert len(panel.gc.curves) == 3


def test_tracemalloc_top_allocations_and_diff_arrive_from_the_background(qtbot, panel):
    panel.setCurrentIndex(1)
    qtbot.mouseClick(panel.memory.trace_button, Qt.MouseButton.LeftButton)
    assert is_tracing()
    assert panel.memory.trace_button.text() == "Stop tracing"
    try:
        qtbot.mouseClick(panel.memory.snapshot_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: panel.memory.allocations_model.rowCount() > 0, timeout=10_000)
        assert not panel.memory.diff_button.isEnabled()  # one snapshot: nothing to compare yet
        hoard = [bytes(1024) for _ in range(3_000)]  # ~3 MiB from this line
        qtbot.mouseClick(panel.memory.snapshot_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(panel.memory.diff_button.isEnabled, timeout=10_000)
        top = panel.memory.allocations_model.rows()
        assert top[0].size_bytes >= 3_000_000
        assert top[0].location.startswith(__file__)
        qtbot.mouseClick(panel.memory.diff_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: panel.memory.diff_model.rowCount() > 0, timeout=10_000)
        first = panel.memory.diff_model.rows()[0]
        assert first.location.startswith(__file__)
        assert first.size_diff > 2_500_000
        assert not panel.memory.diff_view.isHidden()
        assert panel.memory.allocations_view.isHidden()
        assert "growth #1 → #2" in panel.memory.status.text()
        assert panel.memory.diff_model.index(0, 2).data().startswith("+")
        del hoard
    finally:
        qtbot.mouseClick(panel.memory.trace_button, Qt.MouseButton.LeftButton)
    assert not is_tracing()


def test_profile_of_a_small_crawl_exports_a_prof_pstats_loads(qtbot, panel, site, tmp_path):
    qtbot.mouseClick(panel.profile.profile_button, Qt.MouseButton.LeftButton)
    assert panel.profile.profile_button.text() == "Stop profile"
    crawler = Crawler(CrawlSettings(site.url, threads=4, max_pages=60, obey_robots=False))
    crawler.start()
    qtbot.waitUntil(lambda: crawler.join(0), timeout=20_000)
    qtbot.mouseClick(panel.profile.profile_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.profile.functions_model.rowCount() > 0, timeout=10_000)
    functions = [row.function for row in panel.profile.functions_model.rows()]
    assert any("extract_links" in f for f in functions)  # seen in the worker threads
    rows = panel.profile.functions_model.rows()
    assert rows == sorted(rows, key=lambda r: r.cumtime_s, reverse=True)
    path = panel.profile.export_profile(tmp_path / "crawl.prof")
    loaded = pstats.Stats(str(path))
    assert loaded.total_calls > 0  # type: ignore[attr-defined]
    assert any(name == "extract_links" for (_f, _l, name) in loaded.stats)  # type: ignore[attr-defined]


def test_the_window_collects_through_the_panel_and_marks_the_charts(qtbot, tmp_path):
    window = MainWindow(QSettings(str(tmp_path / "w.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    window.show()
    try:
        assert window.views.indexOf(window.diagnostics) >= 0
        window.gc_action.trigger()
        (marker,) = [text for _t, text in window.charts.markers() if text.startswith("GC (")]
        assert marker.endswith(" freed)")
        assert window.diagnostics.gc.result.text().startswith("Collected ")
    finally:
        window.close()
    assert not [t for t in threading.enumerate() if t.name == "threadscope-jobs"]


@pytest.mark.skipif(not STOP_IS_RACY, reason="only Python < 3.12 defers stopping tracemalloc")
def test_stopping_tracemalloc_waits_for_the_crawl_to_end(qtbot, panel):
    panel.fake_workers.append(
        WorkerInfo("crawl-worker-1", 1, 1, False, WorkerState.FETCHING, "http://x/", 0, None, 0.0)
    )
    panel.memory.set_tracing(True)
    panel.memory.set_tracing(False)
    assert is_tracing(), "stopped while a worker ran (CPython gh-128679 can crash it)"
    assert not panel.memory.trace_button.isEnabled()
    panel.fake_workers.clear()  # the crawl ended
    qtbot.waitUntil(lambda: not is_tracing(), timeout=5000)
    button = panel.memory.trace_button
    assert button.isEnabled()
    assert button.text() == "Start tracing"
