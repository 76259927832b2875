"""The "Locks" page: who holds each tracked lock, who waits for it, and deadlocks named.

A table (one row per lock, or per creation site for many short-lived locks; sortable, with a
search box) over a small live wait-for graph. Every tick reads a lock snapshot on the jobs
thread and checks it for deadlocks whether the page is shown or not; each deadlock is logged
once, emitted as ``deadlockFound(report)`` (jstack's manner), drawn red here and highlighted in
the Threads table.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from PySide6.QtCore import (
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QHeaderView,
    QLabel,
    QLineEdit,
    QSplitter,
    QVBoxLayout,
)

from core.agent.locks import DeadlockWatch, find_deadlocks, format_deadlocks
from core.agent.waitgraph import thread_names
from gui.background import BackgroundJobs
from gui.diagnostics.lock_rows import (
    LockRow,
    cycle_locks,
    lock_rows,
    site_key,
    site_rows,
    thread_name,
)
from gui.diagnostics.page import DiagnosticsPage, bar, table
from gui.diagnostics.wait_graph_view import WaitGraphView, wait_graph
from gui.rows_model import Column, RowsModel, count
from gui.threads_table import ThreadRow, ThreadsModel

log = logging.getLogger(__name__)

DEADLOCKED = "deadlocked"  # ThreadsModel group (and state) of threads a deadlock listed
TRACKING_OFF = (
    "Lock tracking is off. Experiments track their locks while they run; a “Track locks” "
    "switch for crawls is coming."
)
SORT_ROLE = Qt.ItemDataRole.UserRole
CYCLE_BRUSH = QBrush(QColor("#ef9a9a"))
WAITED_BRUSH = QBrush(QColor("#ffe0b2"))


def _s(seconds: float) -> str:
    return f"{seconds:.3f}"


def _pct(pct: float) -> str:
    return f"{pct:.1f}"


COLUMNS = (
    Column("Lock", "label"),
    Column("Kind", "kind"),
    Column("Created at", "created_at"),
    Column("Owner now", "owner"),  # sorted by how long it has been held
    Column("Waiters", "waiters", count),
    Column("Acquisitions", "acquisitions", count),
    Column("Contended %", "contended_pct", _pct),
    Column("Wait total (s)", "wait_total_s", _s),
    Column("Wait max (s)", "wait_max_s", _s),
    Column("Hold max (s)", "hold_max_s", _s),
)
CREATED_COLUMN = 2
OWNER_COLUMN = 3
WAITERS_COLUMN = 4


def sort_key(row: LockRow, column: int) -> Any:
    """What a column sorts by: numbers as numbers, sites by file then line, owners by how
    long they have held the lock."""
    if column == 0:
        return row.rank
    if column == CREATED_COLUMN:
        path, line = site_key(row.created_at)
        return f"{path}:{line:09d}"  # the proxy compares plain strings and numbers only
    if column == OWNER_COLUMN:
        return row.owner_s
    return getattr(row, COLUMNS[column].field)


def _rows(snap: dict[str, Any], cycles: list[list[int]], by_site: bool) -> list[LockRow]:
    red = cycle_locks(snap, cycles)
    return site_rows(snap, red) if by_site else lock_rows(snap, red)


class LocksSource(Protocol):
    """Where the page reads locks from (:class:`gui.diagnostics.local.LocalLocks`)."""

    def snapshot(self) -> dict[str, Any]:
        """A :func:`core.agent.locks.snapshot`; called on the jobs thread."""
        ...

    def stacks(self) -> dict[int, str]:
        """Each thread's stack as text, by ident, for a deadlock's report."""
        ...


@dataclass(frozen=True, slots=True)
class Reading:
    snap: dict[str, Any]
    cycles: list[list[int]]  # deadlocks confirmed and still there
    report: str  # the cycles confirmed for the first time in jstack's manner; "" if none
    rows: list[LockRow] | None = None  # built on the jobs thread when the page was on screen
    by_site: bool = False  # which rows those are


class LocksModel(RowsModel):
    """:class:`LockRow` rows in the snapshot's order; ``SORT_ROLE`` gives each cell's sort key
    to the proxy, which sorts and filters. Rows change in place while the same locks are
    listed, so selection and scroll stay."""

    def data(self, index: QModelIndex | QPersistentModelIndex, role=Qt.ItemDataRole.DisplayRole):
        row: LockRow = self._rows[index.row()]
        column = index.column()
        if role == SORT_ROLE:
            return sort_key(row, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == WAITERS_COLUMN and row.waiter_names:
                return f"Waiting now: {row.waiter_names}"
            if column == OWNER_COLUMN:
                return row.owner or "free"
            return f"{row.kind} created at {row.created_at} in {row.function}()"
        if role == Qt.ItemDataRole.BackgroundRole:
            if row.in_cycle:
                return CYCLE_BRUSH
            return WAITED_BRUSH if row.waiters else None
        return super().data(index, role)

    def set_rows(self, rows: Sequence[LockRow]) -> None:
        if [r.key for r in rows] != [r.key for r in self._rows]:
            super().set_rows(rows)
            return
        self._rows = list(rows)
        self._format()
        if rows:
            self.dataChanged.emit(self.index(0, 0), self.index(len(rows) - 1, len(COLUMNS) - 1))


class LocksPage(DiagnosticsPage):
    """``threads_model`` gets the deadlocked threads highlighted (and listed if missing)."""

    title = "Locks"
    deadlockFound = Signal(str)  # the jstack-style report, once per deadlock

    def __init__(
        self, source: LocksSource, threads_model: ThreadsModel, jobs: BackgroundJobs
    ) -> None:
        super().__init__()
        self.source = source
        self.threads_model = threads_model
        self._jobs = jobs
        self._watch = DeadlockWatch()  # checked by hand, on the jobs thread, never started
        self._pending = False
        self._shown: Reading | None = None
        self._next_show = 0.0  # monotonic time before which a redraw waits
        self.reading: Reading | None = None
        self.deadlocks: list[str] = []  # every report so far
        self._listed: dict[str, ThreadRow] = {}

        self.hint = QLabel(TRACKING_OFF)
        self.hint.setWordWrap(True)
        self.by_site = QCheckBox("By creation site")
        self.by_site.setToolTip(
            "One row per place locks are created (many short-lived locks): totals over every "
            "lock made there, owners and waiters of those alive now"
        )
        self.by_site.toggled.connect(lambda _on: self._show(force=True))
        self.search = QLineEdit()
        self.search.setPlaceholderText("Filter: lock, kind, file, owner…")
        self.search.setClearButtonEnabled(True)
        self.search.setMinimumWidth(240)
        self.count_label = QLabel()
        self.alert = QLabel()
        self.alert.setStyleSheet("color: #c62828; font-weight: bold;")

        self.model = LocksModel(COLUMNS, self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SORT_ROLE)
        self.proxy.setFilterKeyColumn(-1)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.proxy.setDynamicSortFilter(True)
        self.search.textChanged.connect(self._filter)
        self.view = table(self.model, sort_column=WAITERS_COLUMN)
        self.view.setModel(self.proxy)
        # Fitted to the first rows once: ResizeToContents would measure thousands of rows per
        # refresh (seconds for 5 000 locks).
        header = self.view.horizontalHeader()
        for column in range(len(COLUMNS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(OWNER_COLUMN, QHeaderView.ResizeMode.Stretch)
        self._fitted = False
        self.view.sortByColumn(WAITERS_COLUMN, Qt.SortOrder.DescendingOrder)
        self.graph = WaitGraphView()
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.view)
        split.addWidget(self.graph)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        self.lay_out(bar(self.by_site, self.search, self.count_label, self.alert), split)
        layout = self.layout()
        assert isinstance(layout, QVBoxLayout)
        layout.insertWidget(1, self.hint)

    # -- reading, on the jobs thread ---------------------------------------------------------

    def tick(self) -> None:
        if self._pending:
            return
        self._pending = True
        shown, by_site = self.isVisible(), self.by_site.isChecked()
        self._jobs.submit(lambda: self._read(shown, by_site), self._got, self._failed)

    def _read(self, with_rows: bool, by_site: bool) -> Reading:
        """Rows too when the page is on screen: ~6 ms per 1 000 locks, off the GUI thread."""
        snap = self.source.snapshot()
        fresh = self._watch.check(snap)
        confirmed = {frozenset(cycle) for cycle in self._watch.reported}
        cycles = [cycle for cycle in find_deadlocks(snap) if frozenset(cycle) in confirmed]
        report = format_deadlocks(snap, fresh, self.source.stacks()) if fresh else ""
        rows = _rows(snap, cycles, by_site) if with_rows else None
        return Reading(snap, cycles, report, rows, by_site)

    def _failed(self, exc: BaseException) -> None:
        self._pending = False
        log.error("lock snapshot failed: %s", exc, exc_info=exc)

    # -- on the GUI thread -------------------------------------------------------------------

    def _got(self, reading: Reading) -> None:
        self._pending = False
        self.reading = reading
        if reading.report:
            log.warning("%s", reading.report)
            self.deadlocks.append(reading.report)
            self.deadlockFound.emit(reading.report)
        self._mark_threads(reading)
        if self.isVisible():
            self._show()

    def refresh(self) -> None:
        self._show()

    def _show(self, force: bool = False) -> None:
        reading = self.reading
        start = time.monotonic()
        if reading is None or (not force and (reading is self._shown or start < self._next_show)):
            return
        self._shown = reading
        snap = reading.snap
        rows = reading.rows
        if rows is None or reading.by_site != self.by_site.isChecked():
            rows = _rows(snap, reading.cycles, self.by_site.isChecked())
        self.model.set_rows(rows)
        if rows and not self._fitted:
            self._fitted = True
            self.view.resizeColumnsToContents()
        self.graph.set_graph(wait_graph(snap, reading.cycles))
        self.hint.setVisible(not snap.get("tracking", False))
        self.count_label.setText(f"{self.proxy.rowCount()} of {len(rows)} rows")
        names = thread_names(snap)
        self.alert.setText(
            "; ".join(
                "Deadlock: " + " ↔ ".join(thread_name(names, i) for i in cycle)
                for cycle in reading.cycles
            )
        )
        # Thousands of rows take ~0.1 s to sort and draw: then redraw less often, so the page
        # never takes more than a fifth of the GUI thread.
        self._next_show = start + 4 * (time.monotonic() - start)

    def _filter(self, text: str) -> None:
        self.proxy.setFilterFixedString(text.strip())
        self.count_label.setText(f"{self.proxy.rowCount()} of {self.model.rowCount()} rows")

    def _mark_threads(self, reading: Reading) -> None:
        """Highlight a deadlock's threads in the Threads table; list those it lacks."""
        names = thread_names(reading.snap)
        stuck = {thread_name(names, ident) for cycle in reading.cycles for ident in cycle}
        self.threads_model.set_deadlocked(stuck)
        if not stuck and not self._listed:
            return
        now = time.monotonic()
        idents = {name: ident for ident, name in names.items()}
        for name in stuck - set(self._listed):
            if self.threads_model.row(name) is None and name in idents:
                self._listed[name] = ThreadRow(
                    name=name,
                    ident=idents[name],
                    native_id=None,
                    daemon=False,
                    state=DEADLOCKED,
                    since=now,
                    url="",
                    pages=0,
                    cpu_s=None,
                    last_error="",
                )
        for name, row in list(self._listed.items()):
            if self.threads_model.group(name) not in (None, DEADLOCKED):
                del self._listed[name]  # the stuck watch lists it now
            elif name not in idents:
                del self._listed[name]  # the table marks it exited
            elif name not in stuck and row.state == DEADLOCKED:
                self._listed[name] = replace(row, state="running", since=now)
        self.threads_model.update(self._listed.values(), group=DEADLOCKED)
