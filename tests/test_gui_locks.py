"""The Locks page, the annotated dump and lock-aware stuck reports, on real tracked locks.

Real threads block on real tracked locks; states other threads must reach are awaited with
Events, Barriers and ``qtbot.waitUntil``, never a sleep. Every lock a test holds is released
(or its waits time out) before the test ends.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QSettings, Qt

from core.agent import locks
from gui.diagnostics.locks import (
    CYCLE_BRUSH,
    TRACKING_OFF,
    WAITED_BRUSH,
    LocksPage,
)
from gui.diagnostics_panel import DiagnosticsPanel
from gui.threads_table import DEADLOCK_BRUSH, ThreadsModel
from gui.window import MainWindow

THIS_FILE = "test_gui_locks.py"


@pytest.fixture
def tracked() -> Iterator[None]:
    with locks.tracking():
        yield


@pytest.fixture
def panel(qtbot):
    panel = DiagnosticsPanel(ThreadsModel(), lambda: [], time.monotonic())
    qtbot.addWidget(panel)
    panel.resize(1100, 600)
    panel.show()
    panel.setCurrentWidget(panel.locks)
    yield panel
    panel.shutdown()


def start(target: Callable[[], object], name: str) -> threading.Thread:
    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    return thread


def record(lock: Any) -> dict[str, Any]:
    return next(entry for entry in locks.snapshot()["locks"] if entry["id"] == lock.id)


def rows(page: LocksPage) -> list[dict[str, Any]]:
    """What the table shows, in the proxy's (sorted, filtered) order, by header."""
    proxy = page.proxy
    headers = [proxy.headerData(c, Qt.Orientation.Horizontal) for c in range(proxy.columnCount())]
    return [
        {headers[c]: proxy.index(r, c).data() for c in range(proxy.columnCount())}
        for r in range(proxy.rowCount())
    ]


def row_of(page: LocksPage, label: str) -> int:
    return next(r for r in range(page.proxy.rowCount()) if page.proxy.index(r, 0).data() == label)


class Held:
    """``holder`` takes a tracked lock and keeps it until ``release()``; ``waiter`` blocks on it
    (with a long timeout, so nothing outlives the test)."""

    def __init__(self, prefix: str) -> None:
        self.lock = threading.Lock()
        self.line = Held.__init__.__code__.co_firstlineno + 1  # the line above
        self._release = threading.Event()
        taken = threading.Event()

        def hold() -> None:
            with self.lock:
                taken.set()
                self._release.wait(20)

        def wait() -> None:
            if self.lock.acquire(timeout=20):
                self.lock.release()

        self.holder = start(hold, f"{prefix}-holder")
        assert taken.wait(10)
        self.waiter = start(wait, f"{prefix}-waiter")
        deadline = time.monotonic() + 10
        while not record(self.lock)["waiters"] and time.monotonic() < deadline:
            self._release.wait(0.005)  # the waiter is on its way into acquire()

    def release(self) -> None:
        self._release.set()
        self.holder.join(10)
        self.waiter.join(10)
        assert not self.holder.is_alive()
        assert not self.waiter.is_alive()


class Deadlock:
    """Two threads, each holding one tracked lock and waiting (20 s timeout) for the other's.

    ``unwind()`` releases a's lock on its behalf, so b finishes and a backs off without
    releasing it again.
    """

    def __init__(self, prefix: str) -> None:
        self.first, self.second = threading.Lock(), threading.Lock()
        self.line = Deadlock.__init__.__code__.co_firstlineno + 1
        self.robbed = threading.Event()
        barrier = threading.Barrier(2)

        def member(mine: Any, theirs: Any, victim: bool) -> None:
            mine.acquire()
            barrier.wait(10)
            if theirs.acquire(timeout=20):
                theirs.release()
            if not (victim and self.robbed.is_set()):
                mine.release()

        self.a = start(lambda: member(self.first, self.second, True), f"{prefix}-a")
        self.b = start(lambda: member(self.second, self.first, False), f"{prefix}-b")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not (
            record(self.first)["waiters"] and record(self.second)["waiters"]
        ):
            self.robbed.wait(0.005)

    def unwind(self) -> None:
        self.robbed.set()
        self.first.release()
        self.a.join(10)
        self.b.join(10)
        assert not self.a.is_alive()
        assert not self.b.is_alive()


def test_a_held_lock_with_a_waiter_shows_its_owner_and_waiter(qtbot, panel, tracked):
    held = Held("lk1")
    page = panel.locks
    try:
        qtbot.waitUntil(lambda: held.lock.id in [r["Lock"] for r in rows(page)], timeout=5_000)
        qtbot.waitUntil(lambda: rows(page)[row_of(page, held.lock.id)]["Waiters"] == "1")
        row = rows(page)[row_of(page, held.lock.id)]
        assert row["Kind"] == "Lock"
        assert row["Created at"] == f"{THIS_FILE}:{held.line}"
        assert row["Owner now"].startswith("lk1-holder for ")
        assert row["Acquisitions"] == "1"
        r = row_of(page, held.lock.id)
        assert page.proxy.index(r, 0).data(Qt.ItemDataRole.BackgroundRole) == WAITED_BRUSH
        tooltip = page.proxy.index(r, 4).data(Qt.ItemDataRole.ToolTipRole)
        assert tooltip == "Waiting now: lk1-waiter"
        assert page.hint.isHidden()  # tracking is on
        # the graph: lk1-waiter -> the lock -> lk1-holder
        graph = page.graph.graph
        labels = {node.key: node.label for node in graph.nodes}
        edges = {(labels[e.source], labels[e.target], e.waits) for e in graph.edges}
        node = f"Lock [{held.lock.id}]\n{THIS_FILE}:{held.line}"  # type: ignore[attr-defined]
        assert ("lk1-waiter", node, True) in edges
        assert (node, "lk1-holder", False) in edges
        assert not any(node.in_cycle for node in graph.nodes)
    finally:
        held.release()
    qtbot.waitUntil(lambda: rows(page)[row_of(page, held.lock.id)]["Owner now"] == "")
    assert rows(page)[row_of(page, held.lock.id)]["Contended %"] == "50.0"


def test_rows_sort_by_any_column_and_the_search_box_filters(qtbot, panel, tracked):
    page = panel.locks
    made = [threading.Lock(), threading.RLock(), threading.Lock()]
    for n, lock in zip((3, 1, 2), made, strict=True):
        for _ in range(n):
            with lock:
                pass
    ids = [lock.id for lock in made]  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: set(ids) <= {r["Lock"] for r in rows(page)}, timeout=5_000)
    page.search.setText(THIS_FILE.upper())  # case-insensitive, over every column
    assert {r["Lock"] for r in rows(page)} == set(ids)
    assert page.count_label.text() == f"3 of {page.model.rowCount()} rows"
    page.view.sortByColumn(5, Qt.SortOrder.DescendingOrder)  # Acquisitions
    assert [r["Acquisitions"] for r in rows(page)] == ["3", "2", "1"]
    page.view.sortByColumn(1, Qt.SortOrder.AscendingOrder)  # Kind
    assert [r["Kind"] for r in rows(page)] == ["Lock", "Lock", "RLock"]
    page.view.sortByColumn(0, Qt.SortOrder.AscendingOrder)  # Lock: by serial, not as text
    serials = [int(r["Lock"].removeprefix("lock-")) for r in rows(page)]
    assert serials == sorted(serials)
    page.search.setText("rlock")
    assert [r["Lock"] for r in rows(page)] == [ids[1]]


def test_by_creation_site_sums_many_short_lived_locks(qtbot, panel, tracked):
    page = panel.locks
    kept = []
    line = test_by_creation_site_sums_many_short_lived_locks.__code__.co_firstlineno + 5
    for i in range(50):
        lock = threading.Lock()
        for _ in range(2):
            with lock:
                pass
        if i % 5 == 0:
            kept.append(lock)
    del lock
    gc.collect()
    site = f"{THIS_FILE}:{line}"
    page.by_site.setChecked(True)
    page.search.setText(site)
    qtbot.waitUntil(lambda: len(rows(page)) == 1, timeout=5_000)
    (row,) = rows(page)
    assert row["Lock"] == "10 alive of 50"
    assert row["Acquisitions"] == "100"
    assert row["Created at"] == site
    assert row["Owner now"] == ""
    assert row["Waiters"] == "0"
    page.by_site.setChecked(False)
    qtbot.waitUntil(lambda: len(rows(page)) == 10)
    assert len(kept) == 10


def test_a_real_deadlock_is_reported_once_drawn_red_and_flagged_in_threads(
    qtbot, panel, tracked, caplog, tmp_path
):
    caplog.set_level(logging.WARNING, logger="gui.diagnostics.locks")
    page = panel.locks
    reports: list[str] = []
    panel.deadlockFound.connect(reports.append)
    with qtbot.waitSignal(panel.deadlockFound, timeout=5_000):
        deadlock = Deadlock("lk4")
    try:
        (report,) = reports
        assert report.startswith("Found one Python-level deadlock:")
        assert '"lk4-a"' in report
        assert '"lk4-b"' in report
        assert "held by lk4-" in report
        assert "in member" in report  # each thread's stack
        assert report.endswith("Found 1 deadlock.")
        ids = {deadlock.first.id, deadlock.second.id}  # type: ignore[attr-defined]
        qtbot.waitUntil(lambda: ids <= {r["Lock"] for r in rows(page)})
        qtbot.waitUntil(lambda: page.alert.text() != "")
        for lock_id in ids:
            r = row_of(page, lock_id)
            assert page.proxy.index(r, 3).data(Qt.ItemDataRole.BackgroundRole) == CYCLE_BRUSH
        assert page.alert.text() in ("Deadlock: lk4-a ↔ lk4-b", "Deadlock: lk4-b ↔ lk4-a")
        red = [node.label for node in page.graph.graph.nodes if node.in_cycle]
        assert sorted(red) == sorted(
            [f"Lock [{lock_id}]\n{THIS_FILE}:{deadlock.line}" for lock_id in ids]
            + ["lk4-a", "lk4-b"]
        )
        assert all(e.in_cycle for e in page.graph.graph.edges if e.source in ids)
        threads = panel.stacks.threads_model
        assert threads.deadlocked() == {"lk4-a", "lk4-b"}
        row = threads.row("lk4-a")
        assert row is not None
        assert row.state == "deadlocked"
        i = threads.rows().index(row)
        assert threads.index(i, 0).data(Qt.ItemDataRole.BackgroundRole) == DEADLOCK_BRUSH
        shot = tmp_path / "locks.png"
        assert page.grab().save(str(shot))
        assert shot.stat().st_size > 10_000
        # more checks see the same cycle: still one report, one log record
        seen = page.reading
        for _ in range(3):
            qtbot.waitUntil(lambda seen=seen: page.reading is not seen)
            seen = page.reading
        assert len(reports) == 1
        assert page.deadlocks == [report]
        logged = [r for r in caplog.records if "Python-level deadlock" in r.getMessage()]
        assert len(logged) == 1
        assert logged[0].levelno == logging.WARNING
    finally:
        deadlock.unwind()
    qtbot.waitUntil(lambda: page.alert.text() == "" and not threads.deadlocked())
    # a snapshot taken while they were leaving shows them running; the next, exited
    qtbot.waitUntil(lambda: threads.row("lk4-a").state == "exited")
    assert not any(n.in_cycle for n in page.graph.graph.nodes)


def test_the_dump_says_what_each_thread_holds_and_waits_for(qtbot, panel, tracked):
    held = Held("lk5")
    try:
        panel.stacks.dump_stacks()
        text = panel.stacks.dump_text.toPlainText()
        site = f"Lock created at {THIS_FILE}:{held.line} [{held.lock.id}]"  # type: ignore[attr-defined]
        waiter = text[text.index('Thread "lk5-waiter"') :].split("\n\n")[0]
        assert f"  - waiting for {site}, held by lk5-holder for " in waiter.splitlines()[1]
        holder = text[text.index('Thread "lk5-holder"') :].split("\n\n")[0]
        assert any(line.startswith(f"  - holds {site} for ") for line in holder.splitlines())
        panel.stacks.dump_filter.setText(held.lock.id)  # type: ignore[attr-defined]
        assert panel.stacks.dump_count.text().startswith("2 of ")
    finally:
        held.release()


@pytest.fixture
def stuck_reports(qtbot, panel, caplog) -> Callable[..., list[str]]:
    """``stuck_reports(*names)`` waits until those threads are flagged stuck (after 0.3 s) and
    returns what the stacks page logged."""
    caplog.set_level(logging.WARNING, logger="gui.diagnostics.stacks")
    panel.stacks.set_stuck_threshold(0.3)
    model = panel.stacks.threads_model

    def reports(*names: str) -> list[str]:
        qtbot.waitUntil(lambda: set(names) <= set(model.stuck()), timeout=5_000)
        return [r.getMessage() for r in caplog.records]

    return reports


def test_a_thread_stuck_behind_a_stuck_holder_is_part_of_its_problem(tracked, stuck_reports):
    held = Held("lk6")
    try:
        messages = stuck_reports("lk6-holder", "lk6-waiter")
        assert len([m for m in messages if m.startswith("thread lk6-holder has not moved")]) == 1
        assert not [m for m in messages if m.startswith("thread lk6-waiter")]
        site = f"Lock created at {THIS_FILE}:{held.line} [{held.lock.id}]"  # type: ignore[attr-defined]
        behind = [m for m in messages if f"lk6-waiter waits for {site} held by lk6-holder" in m]
        assert len(behind) == 1
        assert "(stuck " in behind[0]
    finally:
        held.release()


def test_with_tracking_off_the_page_says_how_to_turn_it_on(qtbot, panel):
    assert not locks.installed()
    page = panel.locks
    qtbot.waitUntil(lambda: page.reading is not None, timeout=5_000)
    qtbot.waitUntil(page.hint.isVisible)
    assert page.hint.text() == TRACKING_OFF
    assert "Experiments track" in TRACKING_OFF


@pytest.mark.parametrize(
    ("experiment", "source"),
    [("lock-without-finally", "lock_leak.py:"), ("lock-granularity", "lock_granularity.py:")],
)
def test_an_experiment_s_locks_show_their_owner_on_the_page_while_it_runs(
    qtbot, tmp_path, experiment, source
):
    window = MainWindow(QSettings(str(tmp_path / "l.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    window.show()
    experiments = window.experiments
    experiments.select(experiment)
    experiments.trials.setValue(1)
    diagnostics = window.diagnostics
    window.views.setCurrentWidget(diagnostics)
    diagnostics.setCurrentWidget(diagnostics.locks)
    page = diagnostics.locks

    def owned_lock() -> bool:
        return any(r["Created at"].startswith(source) and r["Owner now"] for r in rows(page))

    try:
        with qtbot.waitSignal(experiments.runSaved, timeout=30_000):
            experiments.run()
            qtbot.waitUntil(owned_lock, timeout=10_000)
            assert page.hint.isHidden()
    finally:
        window.close()


def test_the_window_alerts_and_marks_the_charts_when_a_deadlock_forms(qtbot, tmp_path, tracked):
    window = MainWindow(QSettings(str(tmp_path / "d.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    window.show()
    try:
        with qtbot.waitSignal(window.diagnostics.deadlockFound, timeout=5_000):
            deadlock = Deadlock("lk9")
        try:
            assert [text for _t, text in window.charts.markers()] == ["Deadlock"]
            assert window.statusBar().currentMessage() == "Deadlock: Diagnostics ▸ Locks"
            qtbot.waitUntil(
                lambda: (
                    [
                        r
                        for r in window.log_model.items()
                        if "Python-level deadlock" in r.getMessage() and '"lk9-a"' in r.getMessage()
                    ]
                    != []
                ),
                timeout=5_000,
            )
        finally:
            deadlock.unwind()
    finally:
        window.close()


def test_a_deadlock_s_stuck_threads_are_one_problem_headed_by_one_of_them(tracked, stuck_reports):
    deadlock = Deadlock("lk7")
    try:
        messages = [m for m in stuck_reports("lk7-a", "lk7-b") if "lk7-" in m]
        (head,) = [m for m in messages if m.startswith("thread lk7-")]
        name = head.split()[1]  # lk7-a unless lk7-b was seen stuck first
        other = "lk7-b" if name == "lk7-a" else "lk7-a"
        assert "waiting for Lock created at" in head  # what the head itself waits for
        behind = [m for m in messages if f"{other} waits for Lock created at" in m]
        assert len(behind) == 1
        assert f"held by {name} (stuck " in behind[0]
    finally:
        deadlock.unwind()
