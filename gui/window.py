"""The main window: controls on the left, four live charts, and tabs below them.

Everything here runs on the GUI thread. The window lays out and wires its parts: the crawl's
phases and the Start/Pause/Stop actions are :class:`CrawlController`'s, crawl events arrive
through :class:`EventBridge` (batched, on a timer), File ▸ Export is :class:`ExportMenu` and
what is remembered between runs is :class:`Persistence`'s. On each of the controller's polls
the window refreshes the threads table and the status bar from cheap engine snapshots. Nothing
blocks the event loop except closing, which waits at most two seconds for every thread to end.
"""

from __future__ import annotations

import logging
import time
from functools import partial
from operator import attrgetter
from typing import TYPE_CHECKING

from PySide6.QtCore import QAbstractItemModel, QSettings, Qt, SignalInstance
from PySide6.QtGui import QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QSplitter,
    QStyle,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.diagnostics.gc_watch import GcWatch
from core.engine import Crawler
from core.events import PageResult
from core.settings import CrawlSettings
from gui.actions import make_action
from gui.bridge import EventBridge, LogBuffer
from gui.capped_model import PredicateFilter
from gui.charts import ChartPanel, configure_pyqtgraph
from gui.controls import ControlPanel
from gui.cost_readout import CostMonitor
from gui.crawl_controller import CrawlController, Phase
from gui.exports import ExportMenu
from gui.follow import follow_action
from gui.hosts_table import HostsModel
from gui.lazy_tab import LazyTab
from gui.log_table import LEVELS, LogModel, at_least
from gui.persistence import Persistence
from gui.results_table import ResultsModel
from gui.session import CrawlSession
from gui.status_notice import StatusNotice
from gui.threads_table import ThreadsModel, row_from_worker, thread_cpu_seconds
from gui.timeline import TimelineView

if TYPE_CHECKING:
    from core.diagnostics.gc_stats import CollectResult
    from gui.compare_view import CompareView
    from gui.diagnostics_panel import DiagnosticsPanel
    from gui.experiments_panel import ExperimentsPanel
    from gui.history_view import HistoryView
    from gui.watch_window import WatchWindow

log = logging.getLogger(__name__)

CPU_POLL_EVERY = 5  # psutil per-thread times once a second: it reads /proc per thread
CLOSE_TIMEOUT_S = 2.0


class MainWindow(QMainWindow):
    """See the module docstring. ``phase`` and ``phaseChanged`` are the controller's
    (:class:`Phase`, a ``str``); ``launch`` starts a crawl the form cannot describe."""

    def __init__(self, qsettings: QSettings | None = None) -> None:
        super().__init__()
        configure_pyqtgraph()
        self.setWindowTitle("Threadscope — threads, queue and memory of a live crawl")
        self.session = CrawlSession()
        self._polls = 0
        self._cpu: dict[int, float] = {}
        self._closed = False
        self._compare: CompareView | None = None
        self.gc_watch = GcWatch()  # automatic collections worth a marker
        self.gc_watch.install()
        self.watch_windows: list[WatchWindow] = []

        self.log_buffer = LogBuffer()
        logging.getLogger().addHandler(self.log_buffer)
        self.bridge = EventBridge(self.log_buffer, self)

        self.controls = ControlPanel()
        self.charts = ChartPanel()
        self.charts.set_source(self.session.sampler.times, self.session.sampler.series)
        self.threads_model = ThreadsModel(self)
        self.results_model = ResultsModel(parent=self)
        self.hosts_model = HostsModel(self)
        self.log_model = LogModel(parent=self)
        self.timeline = TimelineView(self.session.chart_time)
        self.timeline.follow_x(self.charts.first_plot)
        self._build_layout()
        self.crawl = CrawlController(
            self.session, self.controls, self.bridge, self._experimenting, self
        )
        self.start_action = self.crawl.start_action
        self.pause_action = self.crawl.pause_action
        self.stop_action = self.crawl.stop_action
        self.export_menu = ExportMenu(self.session, self.charts, self.results_model, self)
        self._build_actions()
        self._build_status_bar()
        self._connect()
        self.persistence = Persistence(
            qsettings if qsettings is not None else QSettings(),
            self,
            self.controls,
            {"main": self.main_splitter, "right": self.right_splitter},
        )
        self.persistence.restore()

    @property
    def phase(self) -> Phase:
        return self.crawl.phase

    @property
    def phaseChanged(self) -> SignalInstance:
        return self.crawl.phaseChanged

    def launch(self, settings: CrawlSettings) -> None:
        """Start a crawl of ``settings``: what Start does once the form (validated) and the
        test site are ready. Scripts call it for what the form cannot say (many start URLs)."""
        self.crawl.launch(settings)

    # -- building ---------------------------------------------------------------------------

    def _build_actions(self) -> None:
        sp = QStyle.StandardPixmap
        self.gc_action = make_action(
            self,
            "Collect garbage",
            sp.SP_TrashIcon,
            QKeySequence("Ctrl+G"),
            self.collect_garbage,
            "Run gc.collect() and mark it on the charts",
        )
        self.quit_action = make_action(
            self, "Quit", sp.SP_DialogCloseButton, QKeySequence.StandardKey.Quit, self.close, "Quit"
        )
        self.follow_action = follow_action(self, self.charts)
        self.compare_action = make_action(
            self,
            "Compare strategies…",
            sp.SP_FileDialogDetailedView,
            QKeySequence("Ctrl+K"),
            self.open_compare,
            "Crawl the form's target once per chosen strategy, one after the other, "
            "and overlay their charts",
        )
        crawl_actions = (self.start_action, self.pause_action, self.stop_action, self.gc_action)
        toolbar = self.addToolBar("Crawl")
        toolbar.setObjectName("crawl-toolbar")
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        for action in (*crawl_actions, self.compare_action):
            toolbar.addAction(action)
        toolbar.addSeparator()
        toolbar.addAction(self.follow_action)

        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        file_menu.addMenu(self.export_menu)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        crawl_menu = menu.addMenu("&Crawl")
        for action in crawl_actions:
            crawl_menu.addAction(action)
        crawl_menu.addSeparator()
        crawl_menu.addAction(self.compare_action)
        view_menu = menu.addMenu("&View")
        view_menu.addAction(self.follow_action)
        view_menu.addSeparator()
        for i, name in enumerate(("Crawl", "Experiments", "History", "Diagnostics")):
            view_menu.addAction(
                name, QKeySequence(f"Ctrl+{i + 1}"), partial(self.views.setCurrentIndex, i)
            )

    def _build_layout(self) -> None:
        scroll = QScrollArea()
        scroll.setWidget(self.controls)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(self.controls.sizeHint().width() + 24)

        self.tabs = QTabWidget()
        self.threads_view = self._table(self.threads_model)
        self.threads_view.horizontalHeader().setSectionResizeMode(6, QHeaderView.ResizeMode.Stretch)
        self.threads_view.horizontalHeader().setStretchLastSection(False)
        # Sized once per new row rather than ResizeToContents, which re-measures on every tick.
        self.threads_model.rowsInserted.connect(self.threads_view.resizeColumnsToContents)
        self.tabs.addTab(self.threads_view, "Threads")
        self.tabs.addTab(self.timeline, "Timeline")
        self.tabs.addTab(self._results_tab(), "Results")
        self.hosts_view = self._table(self.hosts_model)
        self.tabs.addTab(self.hosts_view, "Hosts")
        self.tabs.addTab(self._log_tab(), "Log")

        self.right_splitter = QSplitter(Qt.Orientation.Vertical)
        self.right_splitter.setObjectName("right-splitter")
        self.right_splitter.addWidget(self.charts)
        self.right_splitter.addWidget(self.tabs)
        self.right_splitter.setStretchFactor(0, 3)
        self.right_splitter.setStretchFactor(1, 2)
        self.main_splitter = QSplitter(Qt.Orientation.Horizontal)
        self.main_splitter.setObjectName("main-splitter")
        self.main_splitter.addWidget(scroll)
        self.main_splitter.addWidget(self.right_splitter)
        self.main_splitter.setStretchFactor(1, 1)
        self.views = QTabWidget()
        self.views.setObjectName("views")
        self.views.addTab(self.main_splitter, "Crawl")
        self.experiments_tab = LazyTab(self.views, "Experiments", self._new_experiments)
        self.history_tab = LazyTab(self.views, "History", self._new_history)
        self.diagnostics_tab = LazyTab(self.views, "Diagnostics", self._new_diagnostics)
        self.diagnostics_tab.build_after_first_paint(self)  # it watches for stuck threads
        self.setCentralWidget(self.views)

    # The views behind the Crawl tab are built when first shown or used (see gui.lazy_tab):
    # their imports and widgets are a third of the launch, and the first paint shows none.

    @property
    def experiments(self) -> ExperimentsPanel:
        return self.experiments_tab.widget()

    @property
    def history(self) -> HistoryView:
        return self.history_tab.widget()

    @property
    def diagnostics(self) -> DiagnosticsPanel:
        return self.diagnostics_tab.widget()

    def _new_experiments(self) -> ExperimentsPanel:
        from gui.experiments_panel import ExperimentsPanel

        panel = ExperimentsPanel()
        panel.set_crawl_active(self.phase.active)
        panel.runningChanged.connect(lambda _on: self.crawl.refresh_actions())
        panel.runSaved.connect(lambda _id: self._refresh_history())
        return panel

    def _new_history(self) -> HistoryView:
        from gui.history_view import HistoryView

        view = HistoryView()  # lists the runs saved so far
        view.message.connect(lambda text: self.notice.show_text(text, 5_000))
        return view

    def _new_diagnostics(self) -> DiagnosticsPanel:
        from gui.diagnostics_panel import DiagnosticsPanel

        panel = DiagnosticsPanel(
            self.threads_model,
            lambda: self.session.crawler.workers() if self.session.crawler else [],
            self.session.sampler.t0,
        )
        panel.garbageCollected.connect(self._on_collected)
        panel.stacks.stuckStarted.connect(self._on_stuck)
        panel.deadlockFound.connect(lambda _report: self.marker("Deadlock"))  # logged by the panel
        panel.deadlockFound.connect(
            lambda _report: self.notice.show_text("Deadlock: Diagnostics ▸ Locks", 60_000)
        )
        return panel

    def open_compare(self) -> CompareView:
        """The Compare strategies window (built on first use), shown and raised."""
        if self._compare is None:
            from gui.compare_view import CompareView

            self._compare = CompareView(self.session, self.controls, self._compare_blocked, self)
            self._compare.runningChanged.connect(self._on_comparing)
            self._compare.runSaved.connect(lambda _id: self._refresh_history())
        self._compare.show()
        self._compare.raise_()
        return self._compare

    def _compare_blocked(self) -> str | None:
        if self.phase.active:
            return "a crawl is running"
        if (experiments := self.experiments_tab.page) is not None and experiments.running:
            return "an experiment is running"
        return None

    def _on_comparing(self, on: bool) -> None:
        self.crawl.refresh_actions()
        if (experiments := self.experiments_tab.page) is not None:
            experiments.set_crawl_active(on or self.phase.active)

    def _refresh_history(self) -> None:
        """A new saved run: relist it if the History view exists (else it lists it when built)."""
        if (history := self.history_tab.page) is not None:
            history.refresh()

    @staticmethod
    def _stick_to_bottom(view: QTableView) -> None:
        """Keep showing the newest rows while the user is at the bottom, like a terminal."""
        bar = view.verticalScrollBar()
        at_bottom = [True]
        model = view.model()
        model.rowsAboutToBeInserted.connect(
            lambda *_: at_bottom.__setitem__(0, bar.value() >= bar.maximum())
        )

        def follow(*_: object) -> None:
            if at_bottom[0]:
                view.scrollToBottom()

        model.rowsInserted.connect(follow)

    def _table(self, model: QAbstractItemModel) -> QTableView:
        view = QTableView()
        view.setModel(model)
        view.setAlternatingRowColors(True)
        view.setWordWrap(False)
        view.verticalHeader().setVisible(False)
        view.verticalHeader().setDefaultSectionSize(view.fontMetrics().height() + 6)
        view.horizontalHeader().setStretchLastSection(True)
        view.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        return view

    def _results_tab(self) -> QWidget:
        self.results_filter = PredicateFilter(self)
        self.results_filter.setSourceModel(self.results_model)
        self.results_view = self._table(self.results_filter)
        self._stick_to_bottom(self.results_view)
        self.results_view.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.results_view.horizontalHeader().setStretchLastSection(False)
        self.errors_only = QCheckBox("Errors only")
        self.errors_only.toggled.connect(
            lambda on: self.results_filter.set_predicate(attrgetter("failed") if on else None)
        )
        self.results_hidden = QLabel()
        self.results_model.hiddenChanged.connect(
            lambda n: self.results_hidden.setText(
                f"{n:,} older rows hidden (all are in the results file)" if n else ""
            )
        )
        return self._tab_with_bar(self.results_view, self.errors_only, self.results_hidden)

    def _log_tab(self) -> QWidget:
        self.log_filter = PredicateFilter(self)
        self.log_filter.setSourceModel(self.log_model)
        self.log_view = self._table(self.log_filter)
        self._stick_to_bottom(self.log_view)
        self.log_level = QComboBox()
        self.log_level.addItems(LEVELS)
        self.log_level.setCurrentText("INFO")
        self.log_level.currentTextChanged.connect(
            lambda name: self.log_filter.set_predicate(at_least(name))
        )
        self.log_filter.set_predicate(at_least("INFO"))
        self.log_hidden = QLabel()
        self.log_model.hiddenChanged.connect(
            lambda n: self.log_hidden.setText(f"{n:,} older lines dropped" if n else "")
        )
        return self._tab_with_bar(
            self.log_view, QLabel("Level at least"), self.log_level, self.log_hidden
        )

    @staticmethod
    def _tab_with_bar(view: QWidget, *bar_widgets: QWidget) -> QWidget:
        tab = QWidget()
        layout = QVBoxLayout(tab)
        layout.setContentsMargins(2, 2, 2, 2)
        bar = QHBoxLayout()
        for widget in bar_widgets:
            bar.addWidget(widget)
        bar.addStretch(1)
        layout.addLayout(bar)
        layout.addWidget(view)
        return tab

    def _build_status_bar(self) -> None:
        self.notice = StatusNotice()  # elides: long notices never run under the labels
        self.statusBar().addWidget(self.notice, 1)
        self.status_labels: dict[str, QLabel] = {}
        for key in ("state", "elapsed", "pages", "rate", "cpu", "rss", "dropped"):
            label = QLabel()
            label.setObjectName(f"status_{key}")
            self.statusBar().addPermanentWidget(label)
            self.status_labels[key] = label
        self.status_labels["dropped"].setStyleSheet("color: #c62828;")
        self._events_dropped = 0
        self.cost = CostMonitor(
            self.session.sampler, self.charts, lambda: self._events_dropped, self
        )
        self.statusBar().addPermanentWidget(self.cost.label)
        self.status_labels["cpu"].setToolTip(
            "The core the crawl's threads run on: one core with Workers on one core, "
            "else wherever the OS puts them."
        )

    def _connect(self) -> None:
        crawl = self.crawl
        crawl.phaseChanged.connect(self._on_phase)
        crawl.polled.connect(self._refresh)
        crawl.marker.connect(self.marker)
        crawl.message.connect(self.notice.show_text)
        crawl.failed.connect(lambda text: QMessageBox.warning(self, "Threadscope", text))
        crawl.newCrawl.connect(self._clear_crawl_views)
        crawl.saved.connect(self._refresh_history)
        crawl.watchRequested.connect(self.open_watch)
        self.export_menu.wrote.connect(lambda path: self.notice.show_text(f"Wrote {path}", 5_000))
        self.bridge.pagesFinished.connect(self._on_pages)
        self.bridge.workerEvents.connect(self.timeline.add_events)
        self.bridge.notice.connect(self._on_notice)
        self.bridge.marker.connect(self.marker)
        self.bridge.threadsChanged.connect(
            lambda old, new: self.notice.show_text(f"Worker threads: {old} → {new}", 5_000)
        )
        self.bridge.dropped.connect(self._on_dropped)
        self.bridge.logRecords.connect(self.log_model.append)

    def _experimenting(self) -> bool:
        """An experiment or a strategy comparison runs: no crawl may start (both would mix
        into the measurements)."""
        experiments = self.experiments_tab.page
        comparing = self._compare is not None and self._compare.running
        return comparing or (experiments is not None and experiments.running)

    def open_watch(self) -> WatchWindow | None:
        """A window on the program or process the Target box names (see gui.watch_window);
        a bad field is one line in a message box."""
        from core.watch.errors import WatchError
        from gui.watch_session import WatchSession
        from gui.watch_window import WatchWindow

        try:
            window = WatchWindow(WatchSession(self.controls.watch_feed()))
        except WatchError as exc:
            QMessageBox.warning(self, "Threadscope", str(exc))
            return None
        window.saved.connect(lambda _id: self._refresh_history())
        self.watch_windows.append(window)
        window.resize(1280, 800)
        window.show()
        return window

    def collect_garbage(self) -> None:
        self.diagnostics.collect_garbage()  # marked on the charts through garbageCollected

    def marker(self, text: str, t: float | None = None) -> None:
        """A labelled line on every chart at chart time ``t`` (now by default): cause next to
        its effect (and in the crawl's history)."""
        at = self.session.now() if t is None else t
        self.charts.add_marker(at, text)
        self.session.add_marker(at, text)

    def _mark_gc_passes(self, manual_since: float | None = None) -> None:
        """Automatic gc passes worth marking, at the time each started; passes from a manual
        collection (started at ``manual_since``, monotonic) have their own marker."""
        for gc_pass in self.gc_watch.drain():
            if manual_since is None or gc_pass.t < manual_since:
                self.marker(gc_pass.label(), self.session.chart_time(gc_pass.t))

    def _on_collected(self, result: CollectResult) -> None:
        self._mark_gc_passes(manual_since=time.monotonic() - result.elapsed_ms / 1000 - 0.005)
        self.marker(f"GC ({result.collected} freed)")

    def _on_stuck(self, threads: list[tuple[str, float]]) -> None:
        """A stuck episode starts: marked where it began (it was noticed ``stuck_for`` later)."""
        names = ", ".join(name for name, _s in threads[:3])
        more = f" +{len(threads) - 3}" if len(threads) > 3 else ""
        self.marker(f"stuck: {names}{more}", self.session.now() - max(s for _n, s in threads))

    # -- following the crawl ----------------------------------------------------------------

    def _on_phase(self, phase: Phase) -> None:
        if (experiments := self.experiments_tab.page) is not None:
            experiments.set_crawl_active(phase.active)
        self._update_status(self.session.crawler)

    def _clear_crawl_views(self) -> None:
        self.status_labels["dropped"].clear()
        self._events_dropped = 0
        self.threads_model.clear()
        self.results_model.clear()
        self.hosts_model.clear()
        self.timeline.clear()

    def _refresh(self) -> None:
        """After each of the controller's polls: threads table, timeline and status bar."""
        self._polls += 1
        crawler = self.session.crawler
        if crawler is not None and (
            self.phase is not Phase.FINISHED or self._polls % CPU_POLL_EVERY == 0
        ):
            self._refresh_threads(crawler)
            if self.tabs.currentWidget() is self.hosts_view or self.phase is Phase.FINISHED:
                self.hosts_model.update(crawler.hosts())  # sorted per call: only when seen
        self.timeline.set_now(self.session.now())
        self._mark_gc_passes()
        self._update_status(crawler)

    def _refresh_threads(self, crawler: Crawler) -> None:
        if self._polls % CPU_POLL_EVERY == 0:
            self._cpu = thread_cpu_seconds()
        self.threads_model.update(row_from_worker(w, self._cpu) for w in crawler.workers())

    def _update_status(self, crawler: Crawler | None) -> None:
        labels = self.status_labels
        phase = self.phase
        text = phase.label
        if phase is Phase.FINISHED and crawler is not None and crawler.reason:
            text = f"Finished ({crawler.reason})"
        labels["state"].setText(text)
        where = ""
        if crawler is not None and phase.crawling:
            where = "threads on any CPU" if crawler.cpu is None else f"threads on CPU {crawler.cpu}"
        labels["cpu"].setText(where)
        latest = self.session.sampler.latest()
        if crawler is not None:
            stats = crawler.stats()
            labels["elapsed"].setText(f"{stats.elapsed:,.1f} s")
            labels["pages"].setText(f"{stats.pages:,} pages ({stats.errors:,} errors)")
        labels["rate"].setText(f"{latest.get('pages_per_s', 0.0):,.0f} pages/s")
        labels["rss"].setText(f"RSS {latest.get('rss_mib', 0.0):,.0f} MiB")

    def _on_pages(self, results: list[PageResult]) -> None:
        self.results_model.append(results)

    def _on_notice(self, level: str, message: str, thread: str) -> None:
        """A crawl notice: in the status bar, on the charts if about memory, and in the Log
        under the thread that raised it (a worker, the watchdog), not the GUI thread."""
        self.notice.show_text(message, 10_000)
        if level in ("warning", "error") and message.startswith("memory "):  # the engine's
            rss = message.split()[1]
            self.marker(f"memory {'limit' if level == 'error' else 'warning'} ({rss} MiB)")
        levelno = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        record = log.makeRecord(log.name, levelno, __file__, 0, message, (), None)
        record.threadName = thread
        log.handle(record)

    def _on_dropped(self, total: int) -> None:
        self._events_dropped = total
        self.status_labels["dropped"].setText(f"{total:,} events dropped")

    # -- shutdown ---------------------------------------------------------------------------

    def shutdown(self) -> bool:
        """Stop everything this window started; True when every thread ended in time."""
        if self._closed:
            return True
        self._closed = True
        started = time.monotonic()
        for window in self.watch_windows:
            window.close()  # a launched program is stopped, an attached one left running
        self.crawl.close()
        self.charts.timer.stop()
        self.timeline.timer.stop()
        self.cost.stop()
        experiments = self.experiments_tab.page
        stopped = experiments is None or experiments.shutdown(CLOSE_TIMEOUT_S / 2)
        if self._compare is not None:
            stopped = self._compare.shutdown(CLOSE_TIMEOUT_S / 2) and stopped
        stopped = self.session.close(CLOSE_TIMEOUT_S - (time.monotonic() - started)) and stopped
        if (diagnostics := self.diagnostics_tab.page) is not None:
            diagnostics.shutdown()  # after the crawl's threads: stopping tracemalloc is racy
        self.bridge.stop()
        self.gc_watch.uninstall()
        logging.getLogger().removeHandler(self.log_buffer)
        log.info("closed in %.2f s (all threads ended: %s)", time.monotonic() - started, stopped)
        return stopped

    def closeEvent(self, event: QCloseEvent) -> None:
        self.persistence.save()
        self.notice.show_text("Stopping…")
        self.shutdown()
        event.accept()
