"""The main window: controls on the left, four live charts, and tabs below them.

Everything here runs on the GUI thread. Crawl events arrive through :class:`EventBridge`
(batched, on a timer); engine state is polled with cheap snapshots (``state``, ``stats()``,
``workers()``, ``join(0)``) on a second timer. Nothing blocks the event loop except closing,
which waits at most two seconds for every thread to end.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from concurrent.futures import Future
from operator import attrgetter
from typing import TYPE_CHECKING

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
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

from core.events import CrawlState, PageResult
from core.settings import CrawlSettings
from gui.bridge import EventBridge, LogBuffer
from gui.capped_model import PredicateFilter
from gui.charts import CHARTS, ChartPanel, configure_pyqtgraph
from gui.controls import ControlPanel
from gui.lazy_tab import LazyTab
from gui.log_table import LEVELS, LogModel, at_least
from gui.results_table import ResultsModel
from gui.session import CrawlSession
from gui.threads_table import ThreadsModel, row_from_worker, thread_cpu_seconds
from gui.timeline import TimelineView

if TYPE_CHECKING:
    from gui.diagnostics_panel import DiagnosticsPanel
    from gui.experiments_panel import ExperimentsPanel
    from gui.history_view import HistoryView

log = logging.getLogger(__name__)

POLL_MS = 200
CPU_POLL_EVERY = 5  # psutil per-thread times once a second: it reads /proc per thread
CLOSE_TIMEOUT_S = 2.0
ACTIVE_STATES = (CrawlState.RUNNING, CrawlState.PAUSED, CrawlState.STOPPING)
ACTIVE_PHASES = ("starting", "running", "paused", "stopping")
CRAWLING_PHASES = ("running", "paused", "stopping")  # while starting, the crawler is the last


class MainWindow(QMainWindow):
    """See the module docstring. ``phase`` is one of idle, starting, running, paused,
    stopping, finished; the toolbar actions follow it and ``phaseChanged`` carries it."""

    phaseChanged = Signal(str)

    def __init__(self, qsettings: QSettings | None = None) -> None:
        super().__init__()
        configure_pyqtgraph()
        self.setWindowTitle("Threadscope — threads, queue and memory of a live crawl")
        self.qsettings = qsettings if qsettings is not None else QSettings()
        self.session = CrawlSession()
        self.phase = "idle"
        self._stop_requests = 0
        self._pending_site: Future[str] | None = None
        self._polls = 0
        self._cpu: dict[int, float] = {}
        self._closed = False

        self.log_buffer = LogBuffer()
        logging.getLogger().addHandler(self.log_buffer)
        self.bridge = EventBridge(self.log_buffer, self)

        self.controls = ControlPanel()
        self.charts = ChartPanel()
        self.charts.set_source(self.session.sampler.times, self.session.sampler.series)
        self.threads_model = ThreadsModel(self)
        self.results_model = ResultsModel(parent=self)
        self.log_model = LogModel(parent=self)
        self.timeline = TimelineView(self.session.chart_time)
        self.timeline.follow_x(self.charts.first_plot)
        self._pending_save: Future | None = None
        self._build_actions()
        self._build_layout()
        self._build_status_bar()
        self._connect()

        self.poll_timer = QTimer(self)
        self.poll_timer.setInterval(POLL_MS)
        self.poll_timer.timeout.connect(self.poll)
        self.poll_timer.start()
        self.restore_settings()
        self._update_actions()

    # -- building ---------------------------------------------------------------------------

    def _action(self, text: str, icon: QStyle.StandardPixmap, shortcut, slot, tip: str) -> QAction:
        action = QAction(self.style().standardIcon(icon), text, self)
        action.setShortcut(QKeySequence(shortcut))
        action.setToolTip(f"{tip} ({QKeySequence(shortcut).toString()})")
        action.setStatusTip(tip)
        action.triggered.connect(slot)
        return action

    def _build_actions(self) -> None:
        sp = QStyle.StandardPixmap
        self.start_action = self._action(
            "Start", sp.SP_MediaPlay, Qt.Key.Key_F5, self.start_crawl, "Start a crawl"
        )
        self.pause_action = self._action(
            "Pause",
            sp.SP_MediaPause,
            Qt.Key.Key_F6,
            self.toggle_pause,
            "Pause or resume: workers finish their current page, then wait",
        )
        self.stop_action = self._action(
            "Stop",
            sp.SP_MediaStop,
            QKeySequence("Shift+F5"),
            self.stop_crawl,
            "Stop: in-flight requests get a short grace; press again to abandon them",
        )
        self.gc_action = self._action(
            "Collect garbage",
            sp.SP_TrashIcon,
            QKeySequence("Ctrl+G"),
            self.collect_garbage,
            "Run gc.collect() and mark it on the charts",
        )
        self.quit_action = self._action(
            "Quit", sp.SP_DialogCloseButton, QKeySequence.StandardKey.Quit, self.close, "Quit"
        )
        self.follow_action = self._action(
            "Follow",
            sp.SP_MediaSeekForward,
            QKeySequence("End"),
            self.charts.follow,
            "Follow the newest data again",
        )
        toolbar = self.addToolBar("Crawl")
        toolbar.setObjectName("crawl-toolbar")
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        for action in (self.start_action, self.pause_action, self.stop_action, self.gc_action):
            toolbar.addAction(action)
        toolbar.addSeparator()
        toolbar.addAction(self.follow_action)

        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        export = file_menu.addMenu("&Export")
        export.addAction(
            "Metrics as CSV…", lambda: self._ask_path("metrics.csv", self.export_metrics)
        )
        export.addAction(
            "Results as JSONL…", lambda: self._ask_path("results.jsonl", self.export_results)
        )
        export.addSeparator()
        for spec in CHARTS:
            export.addAction(
                f"{spec.title} chart as PNG…",
                lambda name=spec.name: self._ask_path(
                    f"{name}.png", lambda path, name=name: self.charts.export_png(name, path)
                ),
            )
        export.addAction(
            "All charts as PNG…", lambda: self._ask_path("charts.png", self.charts.export_all_png)
        )
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        crawl_menu = menu.addMenu("&Crawl")
        for action in (self.start_action, self.pause_action, self.stop_action, self.gc_action):
            crawl_menu.addAction(action)
        view_menu = menu.addMenu("&View")
        view_menu.addAction(self.follow_action)
        view_menu.addSeparator()
        for i, name in enumerate(("Crawl", "Experiments", "History", "Diagnostics")):
            view_menu.addAction(
                name, QKeySequence(f"Ctrl+{i + 1}"), lambda i=i: self.views.setCurrentIndex(i)
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
        panel.set_crawl_active(self.phase in ACTIVE_PHASES)
        panel.runningChanged.connect(lambda _on: self._update_actions())
        panel.runSaved.connect(lambda _id: self._refresh_history())
        return panel

    def _new_history(self) -> HistoryView:
        from gui.history_view import HistoryView

        view = HistoryView()  # lists the runs saved so far
        view.message.connect(lambda text: self.statusBar().showMessage(text, 5_000))
        return view

    def _new_diagnostics(self) -> DiagnosticsPanel:
        from gui.diagnostics_panel import DiagnosticsPanel

        panel = DiagnosticsPanel(
            self.threads_model,
            lambda: self.session.crawler.workers() if self.session.crawler else [],
            self.session.sampler.t0,
        )
        panel.garbageCollected.connect(lambda result: self.marker(f"GC ({result.collected} freed)"))
        panel.deadlockFound.connect(lambda _report: self.marker("Deadlock"))  # logged by the panel
        panel.deadlockFound.connect(
            lambda _report: self.statusBar().showMessage("Deadlock: Diagnostics ▸ Locks", 60_000)
        )
        return panel

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
        model.rowsInserted.connect(lambda *_: at_bottom[0] and view.scrollToBottom())

    def _table(self, model) -> QTableView:
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
        self.status_labels: dict[str, QLabel] = {}
        for key in ("state", "elapsed", "pages", "rate", "cpu", "rss", "dropped"):
            label = QLabel()
            label.setObjectName(f"status_{key}")
            self.statusBar().addPermanentWidget(label)
            self.status_labels[key] = label
        self.status_labels["dropped"].setStyleSheet("color: #c62828;")
        self.status_labels["cpu"].setToolTip(
            "The core the crawl's threads run on: one core with Workers on one core, "
            "else wherever the OS puts them."
        )

    def _connect(self) -> None:
        self.controls.validityChanged.connect(lambda _valid: self._update_actions())
        self.controls.threadsEdited.connect(self.set_threads)
        self.charts.followingChanged.connect(lambda _on: self._update_actions())
        self.bridge.pagesFinished.connect(self._on_pages)
        self.bridge.workerEvents.connect(self.timeline.add_events)
        self.bridge.notice.connect(self._on_notice)
        # React at once rather than at the next poll, but after the bridge's tick has finished.
        self.bridge.stateChanged.connect(lambda *_: QTimer.singleShot(0, self.poll))
        self.bridge.threadsChanged.connect(
            lambda old, new: self.statusBar().showMessage(f"Worker threads: {old} → {new}", 5_000)
        )
        self.bridge.dropped.connect(self._on_dropped)
        self.bridge.logRecords.connect(self.log_model.append)

    # -- crawl control ----------------------------------------------------------------------

    def start_crawl(self) -> None:
        if not self.start_action.isEnabled() or not self.controls.validate():
            return
        if self.controls.uses_site:
            self._pending_site = self.session.site_url(self.controls.site_params())
            self._set_phase("starting")
            self.statusBar().showMessage("Starting the embedded test site…")
        else:
            self.launch(self.controls.settings())

    def launch(self, settings: CrawlSettings) -> None:
        """Start a crawl of ``settings``: what Start does once the form (validated) and the
        test site are ready. Scripts call it for what the form cannot say (many start URLs)."""
        self._stop_requests = 0
        self.status_labels["dropped"].clear()
        self.threads_model.clear()
        self.results_model.clear()
        self.timeline.clear()
        try:
            crawler = self.session.new_crawler(settings)
            self.bridge.attach(crawler.events)  # before start: events flow only to listeners
            crawler.start()
        except Exception as exc:  # a crawl that cannot start must say why and leave us idle
            log.exception("could not start the crawl")
            self.bridge.detach()
            self._set_phase("idle")
            QMessageBox.warning(self, "Threadscope", f"Could not start the crawl:\n{exc}")
            return
        self.statusBar().clearMessage()
        self._set_phase("running")
        self.marker(f"Start ({settings.threads} threads)")
        log.info("crawl of %s started with %d threads", settings.start_urls[0], settings.threads)

    def toggle_pause(self) -> None:
        crawler = self.session.crawler
        if crawler is None or self.phase not in ("running", "paused"):
            return
        if self.phase == "running":
            crawler.pause()
            self._set_phase("paused")
            self.marker("Pause")
        else:
            crawler.resume()
            self._set_phase("running")
            self.marker("Resume")

    def stop_crawl(self) -> None:
        """First press: stop with a grace for in-flight requests; second: abandon them."""
        crawler = self.session.crawler
        if crawler is None or self.phase not in CRAWLING_PHASES:
            return
        self._stop_requests += 1
        crawler.stop()
        self.marker("Stop" if self._stop_requests == 1 else "Abandon in-flight")
        self._set_phase("stopping")

    def set_threads(self, n: int) -> None:
        crawler = self.session.crawler
        if crawler is None or self.phase not in ("running", "paused"):
            return
        old = crawler.stats().threads_target
        if old == n:
            return
        crawler.set_threads(n)
        self.marker(f"threads {old}→{n}")

    def collect_garbage(self) -> None:
        self.diagnostics.collect_garbage()  # marked on the charts through garbageCollected

    def marker(self, text: str) -> None:
        """A labelled line on every chart at the current time: cause next to its effect."""
        self.charts.add_marker(self.session.now(), text)

    # -- polling ----------------------------------------------------------------------------

    def poll(self) -> None:
        """Engine state, status bar and threads table, five times a second."""
        self._polls += 1
        if self._pending_site is not None and self._pending_site.done():
            self._site_ready(self._pending_site)
        if self._pending_save is not None and self._pending_save.done():
            self._saved(self._pending_save)
        crawler = self.session.crawler
        if crawler is not None and self.phase in CRAWLING_PHASES:
            if crawler.state not in ACTIVE_STATES and crawler.join(0):
                self._finished(crawler.reason)
            elif crawler.state == CrawlState.STOPPING and self.phase != "stopping":
                self._set_phase("stopping")  # the engine stopped itself (max pages, memory)
        if crawler is not None and (self.phase != "finished" or self._polls % CPU_POLL_EVERY == 0):
            self._refresh_threads(crawler)
        self.timeline.set_now(self.session.now())
        self._update_status(crawler)

    def _site_ready(self, future: Future[str]) -> None:
        self._pending_site = None
        try:
            url = future.result()
        except Exception as exc:
            log.exception("the embedded test site did not start")
            self._set_phase("idle")
            QMessageBox.warning(
                self, "Threadscope", f"The embedded test site did not start:\n{exc}"
            )
            return
        self.launch(self.controls.settings(start_url=url))

    def _finished(self, reason: str) -> None:
        self.bridge.detach()
        self._set_phase("finished")
        self.marker(f"Done: {reason}" if reason else "Done")
        if not self._closed:  # closing ends the session, its history writer included
            self._pending_save = self.session.save_crawl()
        log.info("crawl ended: %s", reason or "finished")

    def _saved(self, future: Future) -> None:
        self._pending_save = None
        try:
            future.result()
        except Exception:
            log.exception("could not save the crawl to the history")
            return
        self._refresh_history()

    def _refresh_threads(self, crawler) -> None:
        if self._polls % CPU_POLL_EVERY == 0:
            self._cpu = thread_cpu_seconds()
        self.threads_model.update(row_from_worker(w, self._cpu) for w in crawler.workers())

    def _update_status(self, crawler) -> None:
        labels = self.status_labels
        text = {"stopping": "Stopping…", "starting": "Starting…"}.get(
            self.phase, self.phase.capitalize()
        )
        if self.phase == "finished" and crawler is not None and crawler.reason:
            text = f"Finished ({crawler.reason})"
        labels["state"].setText(text)
        where = ""
        if crawler is not None and self.phase in CRAWLING_PHASES:
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

    def _on_notice(self, level: str, message: str) -> None:
        self.statusBar().showMessage(message, 10_000)
        log.log(
            logging.getLevelName(level.upper()) if isinstance(level, str) else logging.INFO, message
        )

    def _on_dropped(self, total: int) -> None:
        self.status_labels["dropped"].setText(f"{total:,} events dropped")

    def _set_phase(self, phase: str) -> None:
        self.phase = phase
        self.phaseChanged.emit(phase)
        active = phase in ACTIVE_PHASES
        self.controls.set_running(active)
        if (experiments := self.experiments_tab.page) is not None:
            experiments.set_crawl_active(active)
        self._update_actions()
        self._update_status(self.session.crawler)

    def _update_actions(self) -> None:
        phase = self.phase
        valid = self.controls.error is None
        experiments = self.experiments_tab.page
        experimenting = experiments is not None and experiments.running
        self.start_action.setEnabled(valid and phase in ("idle", "finished") and not experimenting)
        self.pause_action.setEnabled(phase in ("running", "paused"))
        self.pause_action.setText("Resume" if phase == "paused" else "Pause")
        self.pause_action.setIcon(
            self.style().standardIcon(
                QStyle.StandardPixmap.SP_MediaPlay
                if phase == "paused"
                else QStyle.StandardPixmap.SP_MediaPause
            )
        )
        self.stop_action.setEnabled(phase in ("running", "paused", "stopping"))
        self.stop_action.setText("Stop now" if phase == "stopping" else "Stop")
        self.follow_action.setEnabled(not self.charts.following)

    # -- export -----------------------------------------------------------------------------

    def _ask_path(self, suggested: str, write) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export", suggested)
        if path:
            write(path)
            self.statusBar().showMessage(f"Wrote {path}", 5_000)

    def export_metrics(self, path: str) -> None:
        self.session.sampler.to_csv(path)

    def export_results(self, path: str) -> None:
        """Every result of the last run: the engine's results file, not just the visible rows."""
        source = self.session.results_path
        if self.session.crawler is not None and source.exists():
            shutil.copyfile(source, path)
            return
        with open(path, "w", encoding="utf-8") as handle:
            for result in self.results_model.items():
                handle.write(json.dumps(result.as_dict()) + "\n")

    # -- settings and shutdown --------------------------------------------------------------

    def restore_settings(self) -> None:
        s = self.qsettings
        s.beginGroup("controls")
        values = {key: s.value(key) for key in s.childKeys()}
        s.endGroup()
        if values:
            self.controls.set_values(values)
        geometry = s.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 800)
        for key, splitter in (("main", self.main_splitter), ("right", self.right_splitter)):
            state = s.value(f"splitters/{key}")
            if state is not None:
                splitter.restoreState(state)
        if s.value("window/state") is not None:
            self.restoreState(s.value("window/state"))

    def save_settings(self) -> None:
        s = self.qsettings
        s.beginGroup("controls")
        for key, value in self.controls.values().items():
            s.setValue(key, value)
        s.endGroup()
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState())
        s.setValue("splitters/main", self.main_splitter.saveState())
        s.setValue("splitters/right", self.right_splitter.saveState())
        s.sync()

    def shutdown(self) -> bool:
        """Stop everything this window started; True when every thread ended in time."""
        if self._closed:
            return True
        self._closed = True
        started = time.monotonic()
        self.poll_timer.stop()
        self.charts.timer.stop()
        self.timeline.timer.stop()
        experiments = self.experiments_tab.page
        stopped = experiments is None or experiments.shutdown(CLOSE_TIMEOUT_S / 2)
        stopped = self.session.close(CLOSE_TIMEOUT_S - (time.monotonic() - started)) and stopped
        if (diagnostics := self.diagnostics_tab.page) is not None:
            diagnostics.shutdown()  # after the crawl's threads: stopping tracemalloc is racy
        self.bridge.stop()
        logging.getLogger().removeHandler(self.log_buffer)
        log.info("closed in %.2f s (all threads ended: %s)", time.monotonic() - started, stopped)
        return stopped

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        self.save_settings()
        self.statusBar().showMessage("Stopping…")
        self.shutdown()
        event.accept()
