"""The Diagnostics tab: thread stacks and stuck threads, tracemalloc, gc, and a crawl profile.

Everything the panel shows comes from :mod:`core.diagnostics`. Cheap reads (a thread dump, a
stuck check, ``gc.get_count``) run on the GUI thread's timer; slow ones (a tracemalloc snapshot
and its top N or diff, the top functions of a profile) run on :class:`BackgroundJobs`, whose
results come back through a queue drained on the GUI thread.

Stuck threads are flagged in the Threads table (highlighted, with a "Stuck (s)" column) and
logged once per episode; threads that are not crawl workers join that table when flagged.
"""

from __future__ import annotations

import logging
import pstats
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.diagnostics import (
    STOP_IS_RACY,
    CollectResult,
    GcHistory,
    ThreadProfiler,
    ThreadStack,
    clear_traces,
    diff_snapshots,
    dump_threads,
    export_prof,
    format_dump,
    is_tracing,
    search_dump,
    start_tracing,
    stop_tracing,
    take_snapshot,
    top_allocations,
    top_functions,
    traced_memory,
)
from core.diagnostics import collect as gc_collect
from core.events import WorkerState
from core.stats import WorkerInfo
from gui.background import BackgroundJobs
from gui.palette import SERIES_COLORS
from gui.rows_model import Column, RowsModel, count, kib, seconds, signed_count, signed_kib
from gui.stuck_watch import StuckMark, StuckWatch
from gui.threads_table import ThreadRow, ThreadsModel

log = logging.getLogger(__name__)

TICK_MS = 250
GC_HISTORY = 2_400  # 10 minutes at 4 Hz
GC_SPAN_S = 120.0
TOP_ALLOCATIONS = 25
TOP_FUNCTIONS = 200
DEFAULT_STUCK_S = 5.0
STUCK_NAMED = 4  # stuck threads named in the label; the Threads table lists them all
GC_PLOTS = (
    ("Generation 0: allocations minus deallocations since its last collection", ("gen 0",)),
    (
        "Generations 1 and 2: collections of the younger generation since their last",
        ("gen 1", "gen 2"),
    ),
)
OTHER = "other"  # ThreadsModel group of non-worker threads the stuck watch listed

TOP_COLUMNS = (
    Column("Location (file:line)", "location"),
    Column("Size (KiB)", "size_bytes", kib),
    Column("Blocks", "count", count),
)
DIFF_COLUMNS = (
    Column("Location (file:line)", "location"),
    Column("Size (KiB)", "size_bytes", kib),
    Column("Change (KiB)", "size_diff", signed_kib),
    Column("Blocks", "count", count),
    Column("Change", "count_diff", signed_count),
)
FUNCTION_COLUMNS = (
    Column("Function", "function"),
    Column("Calls", "ncalls", count),
    Column("Own time (s)", "tottime_s", seconds),
    Column("Cumulative (s)", "cumtime_s", seconds),
)


def _table(model: RowsModel, sort_column: int) -> QTableView:
    """Sortable by header click; biggest ``sort_column`` first to begin with."""
    view = QTableView()
    view.setModel(model)
    view.setAlternatingRowColors(True)
    view.setWordWrap(False)
    view.setSortingEnabled(True)
    view.verticalHeader().setVisible(False)
    view.verticalHeader().setDefaultSectionSize(view.fontMetrics().height() + 6)
    header = view.horizontalHeader()
    header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
    header.setStretchLastSection(False)
    for column in range(1, len(model.columns)):
        header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
    view.sortByColumn(sort_column, Qt.SortOrder.DescendingOrder)
    return view


def _bar(*widgets: QWidget | str) -> QHBoxLayout:
    bar = QHBoxLayout()
    for widget in widgets:
        bar.addWidget(QLabel(widget) if isinstance(widget, str) else widget)
    bar.addStretch(1)
    return bar


def _page(bar: QHBoxLayout, *widgets: QWidget) -> QWidget:
    page = QWidget()
    layout = QVBoxLayout(page)
    layout.setContentsMargins(2, 2, 2, 2)
    layout.addLayout(bar)
    for widget in widgets:
        layout.addWidget(widget, 1)
    return page


class DiagnosticsPanel(QTabWidget):
    """``workers`` returns the running crawl's ``WorkerInfo`` list (empty when none); ``t0`` is
    the charts' time zero (``MetricsSampler.t0``) so the gc chart shares their time axis."""

    garbageCollected = Signal(object)  # CollectResult, after any collection the panel ran

    def __init__(
        self,
        threads_model: ThreadsModel,
        workers: Callable[[], Sequence[WorkerInfo]],
        t0: float,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.threads_model = threads_model
        self._workers = workers
        self.jobs = BackgroundJobs(self)
        self.stuck_watch = StuckWatch(DEFAULT_STUCK_S)
        self._stuck_names: set[str] = set()
        self._stuck_pending = False
        self._others: dict[str, ThreadRow] = {}  # non-worker threads listed in the table
        self._stacks: list[ThreadStack] = []
        self._snapshots: deque = deque(maxlen=2)  # (number, tracemalloc.Snapshot)
        self._snapshot_number = 0
        self._started_tracing = False
        self._stop_tracing_pending = False
        self._profiler: ThreadProfiler | None = None
        self.profile_stats: pstats.Stats | None = None
        self._gc_offset = time.monotonic() - t0
        self.gc_history = GcHistory(GC_HISTORY)

        self.addTab(self._stacks_page(), "Threads && stuck")
        self.addTab(self._memory_page(), "Memory (tracemalloc)")
        self.addTab(self._gc_page(), "Garbage collector")
        self.addTab(self._profile_page(), "Profile")
        self.currentChanged.connect(lambda _i: self._refresh_visible())

        self.timer = QTimer(self)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self.tick)
        self.timer.start()

    # -- thread dump and stuck threads -------------------------------------------------------

    def _stacks_page(self) -> QWidget:
        self.dump_button = QPushButton("Dump stacks")
        self.dump_button.setToolTip("Every thread's current Python stack (sys._current_frames)")
        self.dump_button.clicked.connect(self.dump_stacks)
        self.dump_filter = QLineEdit()
        self.dump_filter.setPlaceholderText("Filter: thread name or any text in its stack")
        self.dump_filter.setClearButtonEnabled(True)
        self.dump_filter.textChanged.connect(self._show_dump)
        self.copy_button = QPushButton("Copy")
        self.copy_button.setToolTip("Copy the shown stacks to the clipboard")
        self.copy_button.clicked.connect(
            lambda: QGuiApplication.clipboard().setText(self.dump_text.toPlainText())
        )
        self.dump_count = QLabel()
        self.stuck_after = QDoubleSpinBox()
        self.stuck_after.setRange(0.1, 600.0)
        self.stuck_after.setDecimals(1)
        self.stuck_after.setSuffix(" s")
        self.stuck_after.setValue(DEFAULT_STUCK_S)
        self.stuck_after.setToolTip(
            "A worker busy on one URL, or any other thread whose stack has not changed, for "
            "longer than this is flagged in the Threads table and logged. A thread blocked on a "
            "lock nobody releases never moves again; a slow server also trips it."
        )
        self.stuck_after.valueChanged.connect(self.set_stuck_threshold)
        self.stuck_label = QLabel()
        self.stuck_label.setStyleSheet("color: #c62828;")
        self.dump_text = QPlainTextEdit()
        self.dump_text.setReadOnly(True)
        self.dump_text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.dump_text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        bar = _bar(
            self.dump_button,
            self.dump_filter,
            self.copy_button,
            self.dump_count,
            "Stuck after",
            self.stuck_after,
            self.stuck_label,
        )
        self.dump_filter.setMinimumWidth(260)
        return _page(bar, self.dump_text)

    def dump_stacks(self) -> None:
        self._stacks = dump_threads()
        self._show_dump()

    def _show_dump(self) -> None:
        needle = self.dump_filter.text().strip()
        shown = search_dump(self._stacks, needle) if needle else self._stacks
        self.dump_text.setPlainText(format_dump(shown))
        self.dump_count.setText(f"{len(shown)} of {len(self._stacks)} threads")

    def set_stuck_threshold(self, seconds_: float) -> None:
        self.stuck_watch.threshold_s = seconds_
        if self.stuck_after.value() != seconds_:
            self.stuck_after.setValue(seconds_)

    def check_stuck(self) -> list[StuckMark]:
        """Check now, on this thread (the timer checks on the jobs thread instead)."""
        marks = self.stuck_watch.check(self._workers())
        self._show_stuck(marks)
        return marks

    def _check_stuck_in_background(self) -> None:
        """Walking every stack costs ~25 µs per thread: with a thousand threads that is too
        long for the GUI thread four times a second."""
        if self._stuck_pending:
            return
        self._stuck_pending = True
        workers = self._workers()
        self.jobs.submit(
            lambda: self.stuck_watch.check(workers), self._stuck_checked, self._stuck_failed
        )

    def _stuck_checked(self, marks: list[StuckMark]) -> None:
        self._stuck_pending = False
        self._show_stuck(marks)

    def _stuck_failed(self, exc: BaseException) -> None:
        self._stuck_pending = False
        log.error("stuck-thread check failed: %s", exc, exc_info=exc)

    def _show_stuck(self, marks: list[StuckMark]) -> None:
        """Flag stuck threads in the Threads table; log each once when it gets stuck."""
        names = {m.name for m in marks}
        for mark in marks:
            if mark.name not in self._stuck_names:
                log.warning(
                    "thread %s has not moved for %.1f s, %s\n%s",
                    mark.name,
                    mark.stuck_for_s,
                    mark.at,
                    mark.where,
                )
        self._stuck_names = names
        self._list_others(marks)
        self.threads_model.set_stuck({m.name: (m.stuck_for_s, m.where) for m in marks})
        shown = ", ".join(f"{m.name} ({m.stuck_for_s:.0f} s)" for m in marks[:STUCK_NAMED])
        more = f" and {len(marks) - STUCK_NAMED:,} more" if len(marks) > STUCK_NAMED else ""
        self.stuck_label.setText(f"Stuck: {shown}{more}" if marks else "")

    def _list_others(self, marks: Sequence[StuckMark]) -> None:
        """Non-worker threads stay in the table once flagged: blocked while stuck, running
        after, exited when gone."""
        now = time.monotonic()
        stuck = {m.name: m for m in marks if not m.worker}
        alive = {t.name for t in threading.enumerate()}
        for name, mark in stuck.items():
            if name not in self._others or self._others[name].state != "blocked":
                self._others[name] = ThreadRow(
                    name=name,
                    ident=mark.ident,
                    native_id=mark.native_id,
                    daemon=mark.daemon,
                    state="blocked",
                    since=now - mark.stuck_for_s,
                    url="",
                    pages=0,
                    cpu_s=None,
                    last_error="",
                )
        for name, row in list(self._others.items()):
            if name not in alive:
                del self._others[name]  # the table marks it exited
            elif name not in stuck and row.state == "blocked":
                self._others[name] = replace(row, state="running", since=now)
        self.threads_model.update(self._others.values(), group=OTHER)

    # -- tracemalloc -------------------------------------------------------------------------

    def _memory_page(self) -> QWidget:
        self.trace_button = QPushButton("Start tracing")
        self.trace_button.setCheckable(True)
        self.trace_button.setToolTip(
            "tracemalloc records where each new allocation came from; Python runs slower "
            "meanwhile, and only allocations made after the start are seen"
        )
        self.trace_button.toggled.connect(self.set_tracing)
        self.snapshot_button = QPushButton("Snapshot")
        self.snapshot_button.setToolTip("Take a snapshot and show its biggest allocation sites")
        self.snapshot_button.clicked.connect(self.take_snapshot)
        self.diff_button = QPushButton("Diff last two")
        self.diff_button.setToolTip("What grew between the last two snapshots, biggest first")
        self.diff_button.clicked.connect(self.diff_snapshots)
        self.top_n = QSpinBox()
        self.top_n.setRange(5, 500)
        self.top_n.setValue(TOP_ALLOCATIONS)
        self.memory_status = QLabel()
        self.allocations_model = RowsModel(TOP_COLUMNS, self)
        self.diff_model = RowsModel(DIFF_COLUMNS, self)
        self.allocations_view = _table(self.allocations_model, sort_column=1)
        self.diff_view = _table(self.diff_model, sort_column=2)
        self.diff_view.hide()
        self._update_memory_buttons()
        bar = _bar(
            self.trace_button,
            self.snapshot_button,
            self.diff_button,
            "Top",
            self.top_n,
            self.memory_status,
        )
        return _page(bar, self.allocations_view, self.diff_view)

    def set_tracing(self, on: bool) -> None:
        if on and not is_tracing():
            start_tracing()
            self._started_tracing = True
        elif not on and is_tracing():
            self._snapshots.clear()  # a snapshot holds every trace: let it go
            if STOP_IS_RACY and self._crawl_running():
                clear_traces()
                self._stop_tracing_pending = True
                self._update_memory_buttons()
                return
            stop_tracing()
            self._started_tracing = False
        self._update_memory_buttons()

    def _crawl_running(self) -> bool:
        return any(w.state != WorkerState.STOPPED for w in self._workers())

    def _finish_pending_stop(self) -> None:
        if self._stop_tracing_pending and not self._crawl_running():
            self._stop_tracing_pending = False
            if is_tracing():
                stop_tracing()
                self._started_tracing = False
            self._update_memory_buttons()

    def take_snapshot(self) -> None:
        if not is_tracing():
            return
        limit = self.top_n.value()

        def work():
            snapshot = take_snapshot()
            return snapshot, top_allocations(snapshot, limit)

        self.snapshot_button.setEnabled(False)
        self.memory_status.setText("Taking a snapshot…")
        self.jobs.submit(work, self._snapshot_taken, self._memory_failed)

    def _snapshot_taken(self, result) -> None:
        snapshot, rows = result
        self._snapshot_number += 1
        self._snapshots.append((self._snapshot_number, snapshot))
        self.allocations_model.set_rows(rows)
        self._show_allocations(diff=False)
        self._update_memory_buttons()

    def diff_snapshots(self) -> None:
        if len(self._snapshots) < 2:
            return
        (_, old), (_, new) = self._snapshots
        limit = self.top_n.value()
        self.diff_button.setEnabled(False)
        self.memory_status.setText("Comparing…")
        self.jobs.submit(
            lambda: diff_snapshots(old, new, limit), self._diff_done, self._memory_failed
        )

    def _diff_done(self, rows) -> None:
        self.diff_model.set_rows(rows)
        self._show_allocations(diff=True)
        self._update_memory_buttons()

    def _memory_failed(self, exc: BaseException) -> None:
        log.error("tracemalloc: %s", exc)
        self._update_memory_buttons()
        self.memory_status.setText(f"Failed: {exc}")

    def _show_allocations(self, diff: bool) -> None:
        self.diff_view.setVisible(diff)
        self.allocations_view.setVisible(not diff)

    def _update_memory_buttons(self) -> None:
        tracing = is_tracing()
        self.trace_button.blockSignals(True)
        self.trace_button.setChecked(tracing)
        self.trace_button.blockSignals(False)
        self.trace_button.setText("Stop tracing" if tracing else "Start tracing")
        self.trace_button.setEnabled(not self._stop_tracing_pending)
        if self._stop_tracing_pending:
            self.trace_button.setText("Stops after the crawl")
            self.trace_button.setToolTip(
                "On Python 3.11, stopping tracemalloc while workers allocate can crash them "
                "(CPython gh-128679): traces were cleared and tracing stops when the crawl ends."
            )
        self.snapshot_button.setEnabled(tracing)
        self.diff_button.setEnabled(len(self._snapshots) == 2)
        self._update_memory_status()

    def _update_memory_status(self) -> None:
        parts = []
        if is_tracing():
            current, peak = traced_memory()
            parts.append(f"traced {current / 1_048_576:,.1f} MiB (peak {peak / 1_048_576:,.1f})")
        else:
            parts.append("not tracing")
        if self._snapshots:
            numbers = [str(n) for n, _ in self._snapshots]
            parts.append(f"snapshots kept: #{', #'.join(numbers)}")
        if not self.diff_view.isHidden() and len(self._snapshots) == 2:
            parts.append(f"showing growth #{numbers[0]} → #{numbers[1]}")
        elif self._snapshots:
            parts.append(f"showing top sites of #{numbers[-1]}")
        self.memory_status.setText(" · ".join(parts))

    # -- gc ----------------------------------------------------------------------------------

    def _gc_page(self) -> QWidget:
        self.collect_button = QPushButton("Collect")
        self.collect_button.setToolTip(
            "gc.collect() generation by generation: how many unreachable objects each held"
        )
        self.collect_button.clicked.connect(self.collect_garbage)
        self.gc_result = QLabel("Not collected yet.")
        # gen 0 counts to its threshold (700 by default), gens 1 and 2 to 10: two scales.
        self.gc_plots = pg.GraphicsLayoutWidget()
        self.gc_curves = []
        first = None
        for row, (title, names) in enumerate(GC_PLOTS):
            plot = self.gc_plots.addPlot(row=row, col=0)
            plot.setTitle(title, size="9pt")
            plot.setMenuEnabled(False)
            plot.setLabel("left", "count")
            plot.setLabel("bottom", "time", units="s")
            for side in ("left", "bottom"):
                plot.getAxis(side).enableAutoSIPrefix(False)
            plot.getViewBox().setMouseEnabled(x=True, y=False)
            legend = plot.addLegend(offset=(-6, 2), labelTextSize="8pt", brush=(255, 255, 255, 200))
            legend.setZValue(1_000)
            if first is None:
                first = plot
            else:
                plot.setXLink(first)
            for name in names:
                color = SERIES_COLORS[len(self.gc_curves)]
                self.gc_curves.append(plot.plot(name=name, pen=pg.mkPen(color, width=1)))
        self.gc_plot = first
        return _page(_bar(self.collect_button, self.gc_result), self.gc_plots)

    def collect_garbage(self) -> CollectResult:
        """A full collection on the GUI thread (it stops every Python thread whichever thread
        runs it); the result is shown, logged and emitted."""
        result = gc_collect()
        gens = " / ".join(f"{n:,}" for n in result.collected_by_generation)
        before = ", ".join(f"{n:,}" for n in result.counts_before)
        after = ", ".join(f"{n:,}" for n in result.counts_after)
        self.gc_result.setText(
            f"Collected {result.collected:,} objects (gen 0 / 1 / 2: {gens}) in "
            f"{result.elapsed_ms:.1f} ms; counts {before} → {after}; "
            f"uncollectable {result.uncollectable:,}"
        )
        log.info("gc collected %d objects (by generation: %s)", result.collected, gens)
        self.garbageCollected.emit(result)
        self._refresh_gc_chart()
        return result

    def _refresh_gc_chart(self) -> None:
        samples = self.gc_history.samples()
        if not samples:
            return
        data = np.asarray(samples, dtype=float)
        t = data[:, 0] + self._gc_offset
        for i, curve in enumerate(self.gc_curves):
            curve.setData(t, data[:, i + 1])
        self.gc_plot.setXRange(max(0.0, t[-1] - GC_SPAN_S), t[-1], padding=0.02)

    # -- profiling ---------------------------------------------------------------------------

    def _profile_page(self) -> QWidget:
        self.profile_button = QPushButton("Start profile")
        self.profile_button.setCheckable(True)
        self.profile_button.setToolTip(
            "cProfile in this thread and in every thread started from now on (start it before "
            "the crawl: workers already running are not seen); the crawl runs slower meanwhile"
        )
        self.profile_button.toggled.connect(self.set_profiling)
        self.export_button = QPushButton("Export .prof…")
        self.export_button.setToolTip("A pstats file: open it with snakeviz or pstats")
        self.export_button.setEnabled(False)
        self.export_button.clicked.connect(self._ask_export)
        self.profile_status = QLabel("Start the profile, then the crawl.")
        self.functions_model = RowsModel(FUNCTION_COLUMNS, self)
        self.functions_view = _table(self.functions_model, sort_column=3)
        bar = _bar(self.profile_button, self.export_button, self.profile_status)
        return _page(bar, self.functions_view)

    def set_profiling(self, on: bool) -> None:
        if on and self._profiler is None:
            self._profiler = ThreadProfiler()
            self._profiler.start()
            busy = [w.name for w in self._workers()]
            self.profile_status.setText(
                f"Profiling… ({len(busy)} workers already running are not covered)"
                if busy
                else "Profiling every thread started from now on…"
            )
        elif not on and self._profiler is not None:
            profiler, self._profiler = self._profiler, None
            stats = profiler.stop()
            self.profile_stats = stats
            self.export_button.setEnabled(True)
            self.profile_status.setText("Sorting functions…")
            rows = lambda: top_functions(stats, TOP_FUNCTIONS)  # noqa: E731
            self.jobs.submit(rows, self._profile_done, self._profile_failed)
        self.profile_button.blockSignals(True)
        self.profile_button.setChecked(self._profiler is not None)
        self.profile_button.blockSignals(False)
        self.profile_button.setText("Stop profile" if self._profiler else "Start profile")

    def _profile_done(self, rows) -> None:
        self.functions_model.set_rows(rows)
        stats = self.profile_stats
        self.profile_status.setText(
            f"{stats.total_calls:,} calls in the profiled threads, {stats.total_tt:.1f} s "  # type: ignore[attr-defined]
            f"summed over them (wall time: blocking calls count); top {len(rows)} functions"
        )

    def _profile_failed(self, exc: BaseException) -> None:
        log.error("profile: %s", exc)
        self.profile_status.setText(f"Failed: {exc}")

    def export_profile(self, path: str | Path) -> Path:
        if self.profile_stats is None:
            raise RuntimeError("no profile yet: start and stop one first")
        return export_prof(self.profile_stats, path)

    def _ask_export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export profile", "crawl.prof")
        if path:
            self.export_profile(path)
            self.profile_status.setText(f"Wrote {path} (snakeviz {Path(path).name})")

    # -- timer and shutdown ------------------------------------------------------------------

    def tick(self) -> None:
        self._finish_pending_stop()
        self.gc_history.sample()
        self._check_stuck_in_background()
        self._refresh_visible()

    def _refresh_visible(self) -> None:
        """Redraw only what is on screen."""
        if not self.isVisible():
            return
        page = self.currentIndex()
        if page == 1:
            self._update_memory_status()
        elif page == 2:
            self._refresh_gc_chart()
        elif page == 0 and not self._stacks:
            self.dump_stacks()

    def shutdown(self) -> None:
        """Stop the timer, the profiler and tracing (if this panel started them), the jobs."""
        self.timer.stop()
        if self._profiler is not None:
            self._profiler.stop()
            self._profiler = None
        if self._started_tracing and is_tracing():
            stop_tracing()
        self._snapshots.clear()
        self.jobs.shutdown()
