"""The window on a watched program: the crawl window's views, fed by a :class:`WatchSession`.

Four charts (threads alive/busy/OS, the depth of each queue the program registered, RSS,
CPU), the Threads table and the Timeline for every thread of the program, the stacks page
(searchable dump annotated with locks, stuck threads), and the Log; for a program run with
the agent also the Memory page (tracemalloc inside the program), the Locks page (its
tracked locks) and the Profile page (every thread sampled by the agent), read
through the agent's requests off the GUI thread and ticked every ``TICK_MS``; for an
attached process those three tabs say why they are empty and what to do instead. The Log
has the program's own output (stdout as INFO, stderr as WARNING; lines dropped while the
window was slow are counted under it). A hang or memory-growth alert is a chart marker, a
status-bar message and its full text in the Log. Samples arrive on the client's reader
thread (or the attach thread) and reach this window only through a :class:`Pump` on the GUI
thread. When the program ends, the status bar, the Log and a marker say how, and everything
recorded stays; the run is saved to History (kind ``"watch"``).

Stop (Shift+F5) terminates a launched program (SIGTERM, SIGKILL after 2 s) or detaches from
an attached one; closing the window does the same.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import replace
from functools import partial

import numpy as np
from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QCloseEvent, QColor, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMainWindow,
    QSplitter,
    QStyle,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.history import RunRecord
from core.watch.output import STDERR, STDOUT, OutputLine
from gui.actions import make_action
from gui.background import BackgroundJobs
from gui.capped_model import PredicateFilter
from gui.charts import ChartPanel, ChartSpec, configure_pyqtgraph
from gui.diagnostics.agent_sources import AgentLocks, AgentProfiler, AgentTracemalloc
from gui.diagnostics.locks import LocksPage
from gui.diagnostics.memory import MemoryPage
from gui.diagnostics.page import DiagnosticsPage
from gui.diagnostics.profiling import SampledProfilePage
from gui.diagnostics.remote import RemoteThreads, SampleLocks
from gui.diagnostics.stacks import StacksPage
from gui.follow import follow_action
from gui.log_table import LEVELS, LogModel, at_least
from gui.palette import WATCH_STATE_COLORS
from gui.pump import Pump
from gui.threads_table import COLUMNS, STATE_COLUMN, ThreadRow, ThreadsModel
from gui.timeline import TimelineView
from gui.watch_session import (
    QUEUE_PREFIX,
    WatchSession,
    frame_text,
)

log = logging.getLogger(__name__)

ALERT_MS = 30_000  # a hang or growth alert stays in the status bar this long
# The program's stderr in the Log as warnings, so tracebacks and complaints stand out.
OUTPUT_LEVELS = {STDOUT: logging.INFO, STDERR: logging.WARNING}

TICK_MS = 250  # the Memory and Locks pages' pace, as in the crawl window's Diagnostics
# The pages py-spy cannot fill (attach): what each needs from inside the program.
AGENT_ONLY = (
    ("Memory", "tracemalloc's top allocations and snapshot diffs are taken inside the program"),
    ("Locks", "locks are tracked from inside the program, from its first line"),
    ("Profile", "the sampling profiler runs inside the program"),
)
RUN_INSTEAD = (
    "This process is attached through py-spy, which reads its threads and stacks from outside "
    "and nothing more. To see this page, start the program with the agent: "
    "<code>threadscope run -- python app.py ARGS</code>, or <i>A Python program</i> in the main "
    "window's Target box."
)
WATCH_CHARTS: tuple[ChartSpec, ...] = (
    ChartSpec(
        "threads",
        "Threads",
        "threads",
        "",
        (
            ("py_threads", "Python threads alive"),
            ("busy_threads", "busy (running)"),
            ("os_threads", "OS threads"),
        ),
    ),
    ChartSpec("queues", "Queues (registered with watch_queue)", "items", "", ()),
    ChartSpec("memory", "Memory", "RSS", "MiB", (("rss_mib", "process RSS"),)),
    ChartSpec("cpu", "CPU", "CPU", "%", (("cpu_percent", "process CPU (100 % = one core)"),)),
)
ATTACH_CHARTS = tuple(
    replace(spec, title="Queues (need the agent: start the program with threadscope run)")
    if spec.name == "queues"
    else spec
    for spec in WATCH_CHARTS
)
# The Threads table's columns for a watched thread (the crawl's URL / pages / error columns
# carry the innermost frame, the locks held and the lock waited for).
WATCH_COLUMNS = tuple(
    {"Current URL": "Innermost frame", "Pages": "Locks held", "Last error": "Waiting for"}.get(c, c)
    for c in COLUMNS
)
WATCH_BRUSHES = {s: QBrush(QColor(c).lighter(150)) for s, c in WATCH_STATE_COLORS.items()}


class WatchThreadsModel(ThreadsModel):
    """The Threads table with a watched program's column names and state colours."""

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return WATCH_COLUMNS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role=Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.BackgroundRole and index.column() == STATE_COLUMN:
            return WATCH_BRUSHES.get(self.rows()[index.row()].state)
        return super().data(index, role)


class WatchWindow(QMainWindow):
    """See the module docstring. ``ended(reason)`` once the program has ended; ``saved(id)``
    once the run is in History."""

    ended = Signal(str)
    saved = Signal(str)

    def __init__(
        self, session: WatchSession, parent: QWidget | None = None, history: bool = True
    ) -> None:
        """``history``: save the run to History when it ends."""
        super().__init__(parent)
        configure_pyqtgraph()
        self.session = session
        self.history = history
        self.record: RunRecord | None = None
        self._closed = False
        self._save_requested = False
        self._stopper: threading.Thread | None = None
        self._output_dropped_shown = 0
        self.setWindowTitle(f"Threadscope — {session.feed.description}")

        self.charts = ChartPanel(specs=WATCH_CHARTS if session.feed.launched else ATTACH_CHARTS)
        self.charts.set_source(session.buffer.times, self._series)
        self.threads_model = WatchThreadsModel(self)
        self.timeline = TimelineView(
            session.chart_time,
            colors=WATCH_STATE_COLORS,
            title="Thread state over time (hover a segment for its innermost frame):",
            lane_label="thread",
        )
        self.timeline.follow_x(self.charts.first_plot)
        self.log_model = LogModel(parent=self)
        self.jobs = BackgroundJobs(self)
        self.stacks = StacksPage(
            RemoteThreads(session), self.threads_model, list, self.jobs, SampleLocks()
        )
        self.stacks.dump_button.setToolTip("Every thread's stack in the newest sample")
        self.pages: list[DiagnosticsPage] = []
        self.memory: MemoryPage | None = None
        self.locks: LocksPage | None = None
        self.profile: SampledProfilePage | None = None
        if session.feed.launched:  # the agent answers requests; py-spy (attach) does not
            client = partial(getattr, session.feed, "client", None)
            self.memory = MemoryPage(AgentTracemalloc(client), self.jobs)
            self.locks = LocksPage(
                AgentLocks(client, lambda: session.latest), self.threads_model, self.jobs
            )
            self.locks.deadlockFound.connect(lambda report: self._log("WARNING", report))
            self.profile = SampledProfilePage(partial(AgentProfiler, client), self.jobs)
            self.pages = [self.memory, self.locks, self.profile]
        self.page_timer = QTimer(self)
        self.page_timer.setInterval(TICK_MS)
        self.page_timer.timeout.connect(self._tick_pages)
        self.page_timer.start()
        self._build_layout()
        self._build_actions()
        self._build_status_bar()
        self.pump = Pump(self._on_items, session.mailbox, parent=self)
        self.pump.start()
        session.start()
        self._apply_pending()

    # -- building ---------------------------------------------------------------------------

    def _build_layout(self) -> None:
        self.tabs = QTabWidget()
        self.threads_view = QTableView()
        self.threads_view.setModel(self.threads_model)
        self.threads_view.setAlternatingRowColors(True)
        self.threads_view.setWordWrap(False)
        self.threads_view.verticalHeader().setVisible(False)
        header = self.threads_view.horizontalHeader()
        header.setSectionResizeMode(6, QHeaderView.ResizeMode.Stretch)
        header.setStretchLastSection(False)
        self.threads_model.rowsInserted.connect(self._size_columns)
        self.tabs.addTab(self.threads_view, "Threads")
        self.tabs.addTab(self.timeline, "Timeline")
        self.tabs.addTab(self.stacks, "Stacks")
        for page in self.pages:
            self.tabs.addTab(page, page.title)
        if not self.session.feed.launched:
            for title, why in AGENT_ONLY:
                self.tabs.addTab(agent_only_page(title, why), title)
        self.tabs.addTab(self._log_tab(), "Log")
        self.tabs.currentChanged.connect(self._on_tab)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.charts)
        splitter.addWidget(self.tabs)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        self.setCentralWidget(splitter)

    def _size_columns(self) -> None:
        """Once per new row (not per tick); the State column fits the longest state name."""
        self.threads_view.resizeColumnsToContents()
        widest = max(map(self.threads_view.fontMetrics().horizontalAdvance, WATCH_STATE_COLORS))
        self.threads_view.horizontalHeader().resizeSection(STATE_COLUMN, widest + 16)

    def _log_tab(self) -> QWidget:
        self.log_filter = PredicateFilter(self)
        self.log_filter.setSourceModel(self.log_model)
        self.log_view = QTableView()
        self.log_view.setModel(self.log_filter)
        self.log_view.verticalHeader().setVisible(False)
        self.log_view.horizontalHeader().setStretchLastSection(True)
        level = QComboBox()
        level.addItems(LEVELS)
        level.setCurrentText("INFO")
        level.currentTextChanged.connect(lambda name: self.log_filter.set_predicate(at_least(name)))
        self.log_filter.set_predicate(at_least("INFO"))
        tab = QWidget()
        layout = QVBoxLayout(tab)
        layout.setContentsMargins(2, 2, 2, 2)
        self.log_losses = QLabel()
        self.log_losses.setObjectName("log_losses")
        self.log_model.hiddenChanged.connect(lambda _n: self._show_log_losses())
        row = QHBoxLayout()
        row.addWidget(QLabel("Level at least"))
        row.addWidget(level)
        row.addStretch(1)
        row.addWidget(self.log_losses)
        layout.addLayout(row)
        layout.addWidget(self.log_view)
        return tab

    def _build_actions(self) -> None:
        sp = QStyle.StandardPixmap
        launched = self.session.feed.launched
        self.stop_action = make_action(
            self,
            "Stop" if launched else "Detach",
            sp.SP_MediaStop,
            QKeySequence("Shift+F5"),
            self.stop,
            "Terminate the program (SIGTERM, then SIGKILL after 2 s)"
            if launched
            else "Stop watching; the process runs on",
        )
        self.follow_action = follow_action(self, self.charts)
        toolbar = self.addToolBar("Watch")
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        toolbar.addAction(self.stop_action)
        toolbar.addAction(self.follow_action)
        file_menu = self.menuBar().addMenu("&File")
        export = file_menu.addMenu("&Export")
        export.addAction("Metrics as CSV…", partial(self._ask, "metrics.csv", self.write_metrics))
        export.addAction("Stacks as text…", partial(self._ask, "stacks.txt", self.write_stacks))
        export.addAction(
            "All charts as PNG…", partial(self._ask, "charts.png", self.charts.export_all_png)
        )
        file_menu.addSeparator()
        file_menu.addAction("Close", QKeySequence.StandardKey.Close, self.close)

    def _build_status_bar(self) -> None:
        self.status_labels: dict[str, QLabel] = {}
        for key in ("state", "threads", "rss", "cpu", "dropped"):
            label = QLabel()
            label.setObjectName(f"status_{key}")
            self.statusBar().addPermanentWidget(label)
            self.status_labels[key] = label

    # -- following the program --------------------------------------------------------------

    def _series(self, key: str) -> np.ndarray:
        """A series from its first sample (a queue registered mid-run has none before)."""
        values = self.session.buffer.series(key)
        finite = np.flatnonzero(np.isfinite(values))
        return values[finite[0] :] if len(finite) else values[:0]

    def _on_items(self, items: list[object]) -> None:
        was_running = self.session.running
        self.session.ingest(items)
        self._apply_pending()
        if was_running and not self.session.running:
            self._on_end()

    def _apply_pending(self) -> None:
        session = self.session
        pending = session.take()
        for name, t, state, detail in pending.states:
            self.timeline.add_state(name, t, state, detail)
        for name, t in pending.ended_lanes:
            self.timeline.end_lane(name, t)
        for t, text in pending.markers:
            self.charts.add_marker(t, text)
        self.log_model.append(
            [
                OutputRecord(entry) if isinstance(entry, OutputLine) else self._record(*entry)
                for entry in pending.log
            ]
        )
        if session.output_dropped != self._output_dropped_shown:
            self._output_dropped_shown = session.output_dropped
            self._show_log_losses()
        for message in pending.alerts:
            self.statusBar().showMessage(message, ALERT_MS)
        for name in session.queue_names():
            if QUEUE_PREFIX + name not in self.charts.curves:
                self.charts.add_series("queues", QUEUE_PREFIX + name, name)
        self._refresh_threads()
        self.timeline.set_now(session.now())
        self._update_status()

    def _refresh_threads(self) -> None:
        session = self.session
        mono = session.mono_t0
        rows = [
            ThreadRow(
                name=key,
                ident=track.thread.ident,
                native_id=track.thread.native_id,
                daemon=bool(track.thread.daemon),
                state=track.state,
                since=mono + track.since,
                url=frame_text(track.thread),
                pages=len(track.thread.holds),
                cpu_s=track.thread.cpu_s,
                last_error=track.thread.waiting_for or "",
            )
            for key, track in session.tracks.items()
            if track.alive
        ]
        self.threads_model.update(rows)
        self.stacks.check_stuck()  # cheap: it reads the session's stuck threads

    def _update_status(self) -> None:
        session = self.session
        labels = self.status_labels
        labels["state"].setText(session.status_text())
        latest = session.buffer.latest()
        if latest:
            labels["threads"].setText(f"{latest.get('py_threads', 0):.0f} threads")
            labels["rss"].setText(f"RSS {latest.get('rss_mib', 0.0):,.1f} MiB")
            cpu = latest.get("cpu_percent", float("nan"))
            labels["cpu"].setText(f"CPU {cpu:.0f} %" if np.isfinite(cpu) else "")
        labels["dropped"].setText(
            f"{session.agent_dropped:,} samples dropped" if session.agent_dropped else ""
        )

    def _on_tab(self, _index: int) -> None:
        page = self.tabs.currentWidget()
        if page is self.stacks:
            self.stacks.dump_stacks()
        elif isinstance(page, DiagnosticsPage):
            page.refresh()

    def _tick_pages(self) -> None:
        for page in self.pages:
            page.tick()
        shown = self.tabs.currentWidget()
        if shown in self.pages and isinstance(shown, DiagnosticsPage):
            shown.refresh()

    def _log(self, level: str, text: str) -> None:
        self.log_model.append([self._record(level, text)])

    def _record(self, level: str, text: str) -> logging.LogRecord:
        """A line of ours for the Log (and this process's log)."""
        levelno = logging.getLevelName(level)
        record = logging.makeLogRecord(
            {"name": "watch", "levelno": levelno, "levelname": level, "msg": text}
        )
        record.threadName = "threadscope"
        log.log(levelno, "%s", text)
        return record

    def _show_log_losses(self) -> None:
        """What the Log does not show: the program's lines dropped while it wrote faster
        than the window reads, the oldest rows past the Log's capacity."""
        parts = []
        if dropped := self.session.output_dropped:
            parts.append(
                f"{dropped:,} lines of the program's output dropped (it wrote faster "
                "than the window reads)"
            )
        if hidden := self.log_model.hidden:
            parts.append(
                f"{hidden:,} older rows hidden (the Log keeps the newest "
                f"{self.log_model.capacity:,})"
            )
        self.log_losses.setText("; ".join(parts))

    def _on_end(self) -> None:
        ended = self.session.ended
        reason = ended.reason if ended else "ended"
        self.statusBar().showMessage(f"The program {reason}; what was recorded stays here")
        self.stop_action.setEnabled(False)
        self.threads_model.update([])  # every row: exited
        self.ended.emit(reason)
        self._save()

    def _save(self) -> None:
        """Once: on the jobs thread while the window is open, here when it is closing."""
        if self._save_requested or not self.history:
            return
        self._save_requested = True
        if not self._closed:
            self.jobs.submit(self.session.save, self._on_saved, self._on_save_failed)
            return
        try:
            self.record = self.session.save()
        except Exception:
            log.exception("could not save the watched run to History")

    def _on_saved(self, record: RunRecord | None) -> None:
        if record is not None:
            self.record = record
            self._log("INFO", f"saved to History as {record.id}")
            self.saved.emit(record.id)

    def _on_save_failed(self, exc: BaseException) -> None:
        self._log("ERROR", f"could not save the run to History: {exc}")

    # -- commands ---------------------------------------------------------------------------

    def stop(self) -> None:
        """Terminate a launched program / detach, off the GUI thread (it may take 2 s)."""
        if not self.session.running or self._stopper is not None:
            return
        self.stop_action.setEnabled(False)
        self.charts.add_marker(self.session.now(), "Stop")
        self._stopper = threading.Thread(target=self.session.stop, name="threadscope-watch-stop")
        self._stopper.start()

    def write_metrics(self, path: str) -> None:
        buffer = self.session.buffer
        keys = buffer.columns()
        columns = [buffer.times(), *(buffer.series(k) for k in keys)]
        with open(path, "w", encoding="utf-8") as f:
            f.write(",".join(["t", *keys]) + "\n")
            for row in zip(*columns, strict=True):
                f.write(",".join("" if np.isnan(v) else f"{v:.6g}" for v in row) + "\n")

    def write_stacks(self, path: str) -> None:
        self.stacks.dump_stacks()
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.stacks.dump_text.toPlainText() + "\n")

    def _ask(self, suggested: str, write: Callable[[str], object]) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export", suggested)
        if path:
            write(path)
            self.statusBar().showMessage(f"Wrote {path}", 5_000)

    # -- shutdown ---------------------------------------------------------------------------

    def shutdown(self) -> None:
        """Stop the program (or detach), take what it sent last, save the run, stop timers."""
        if self._closed:
            return
        self._closed = True
        if self._stopper is not None:
            self._stopper.join(10)
        self.session.stop()  # the feed's end is in the mailbox once this returns
        self.pump.flush()
        self.pump.stop()
        self._save()  # the end came through the flush, or the program never sent one
        self.charts.timer.stop()
        self.timeline.timer.stop()
        self.page_timer.stop()
        self.stacks.shutdown()
        for page in self.pages:
            page.shutdown()
        self.jobs.shutdown(timeout=5.0)  # a save on its way is finished, not torn

    def closeEvent(self, event: QCloseEvent) -> None:
        self.shutdown()
        event.accept()


class OutputRecord:
    """A line the program wrote as a Log row: what ``LogModel`` reads of a ``LogRecord``
    (its stream in the Thread column, stderr as a warning, the time it was read), made in a
    microsecond where a ``LogRecord`` takes 25: a chatty program writes thousands a second."""

    __slots__ = ("created", "levelname", "levelno", "msecs", "text", "threadName")

    def __init__(self, line: OutputLine) -> None:
        self.levelno = OUTPUT_LEVELS[line.stream]
        self.levelname = logging.getLevelName(self.levelno)
        self.text = line.text
        self.threadName = line.stream
        self.created = line.time
        self.msecs = (line.time % 1) * 1000

    def getMessage(self) -> str:
        return self.text


def agent_only_page(title: str, why: str) -> QWidget:
    """An attached process's page that only the agent could fill, saying so and what works."""
    label = QLabel(
        f"<p><b>{title}</b> needs Threadscope's agent inside the program: {why}.</p>"
        f"<p>{RUN_INSTEAD}</p>"
    )
    label.setObjectName(f"agent_only_{title.lower()}")
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
    label.setMargin(12)
    return label
