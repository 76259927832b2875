"""Compare strategies: pick some, run them in turn on the form's target, see them overlaid.

The runs happen on a plain ``threadscope-compare`` thread (:class:`core.compare.
ComparisonRunner`); each finished run and the end come back as events through a
:class:`gui.pump.Pump`, and the running crawl's series are read from its sampler on a timer,
so the view never waits. Stop ends the current run gracefully and skips the rest. The view
says why the runs are sequential: at once they would share the GIL and the numbers would lie.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from core.compare import ComparisonRunner, StrategyComparison, StrategyRun, winners
from core.events import Event, Mailbox, StrategiesCompared, StrategyRunFinished
from core.sampler import KEYS
from core.settings import CrawlSettings
from core.strategies import STRATEGIES
from gui.controls import ControlPanel
from gui.overlay_charts import OverlayCharts, OverlayRun
from gui.pump import Pump
from gui.session import CrawlSession
from gui.text_table import TextTableModel

log = logging.getLogger(__name__)

THREAD_NAME = "threadscope-compare"
LIVE_MS = 500
DEFAULT_PICKED = ("bounded", "pool", "recursive")
WHY_SEQUENTIAL = (
    "The strategies run <b>one after the other on purpose</b>: run at once they would share "
    "the GIL, the cores and this process's memory, and every number would be the others' "
    "too. Same target, same knobs; each run's time axis starts at its own start, and each "
    "run is saved to History."
)


class CompareView(QDialog):
    """See the module docstring. ``blocked()`` names why a comparison cannot start now
    (a crawl or an experiment runs) or returns None; ``running`` and ``runningChanged`` let
    the window keep its own Start disabled meanwhile; ``runSaved`` after each saved run."""

    runningChanged = Signal(bool)
    runSaved = Signal(str)

    def __init__(
        self,
        session: CrawlSession,
        controls: ControlPanel,
        blocked: Callable[[], str | None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Compare strategies")
        self.session = session
        self.controls = controls
        self._blocked = blocked
        self._runner: ComparisonRunner | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._pending_site: Future[str] | None = None
        self._runs: list[StrategyRun] = []
        self.comparison: StrategyComparison | None = None
        self._mailbox: Mailbox[Event] = Mailbox()
        self.pump = Pump(self._on_events, self._mailbox, parent=self)
        self.pump.start()

        self.picks = {name: QCheckBox(name) for name in STRATEGIES}
        for name, box in self.picks.items():
            box.setChecked(name in DEFAULT_PICKED)
            box.toggled.connect(lambda _on: self._refresh_buttons())
        self.run_button = QPushButton("Run")
        self.run_button.setToolTip("Crawl the form's target once per picked strategy, in turn")
        self.stop_button = QPushButton("Stop")
        self.why = QLabel(WHY_SEQUENTIAL)
        self.why.setWordWrap(True)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.charts = OverlayCharts(columns=3)
        self.table_model = TextTableModel(self)
        self.table = QTableView()
        self.table.setModel(self.table_model)
        self.table.verticalHeader().setVisible(False)
        self.table.setAlternatingRowColors(True)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self._build_layout()
        self.run_button.clicked.connect(self.start)
        self.stop_button.clicked.connect(self.stop)
        self.timer = QTimer(self)
        self.timer.setInterval(LIVE_MS)
        self.timer.timeout.connect(self._tick)
        self.resize(1100, 760)
        self._refresh_buttons()

    def _build_layout(self) -> None:
        picks = QHBoxLayout()
        picks.addWidget(QLabel("Strategies:"))
        for box in self.picks.values():
            picks.addWidget(box)
        picks.addStretch(1)
        picks.addWidget(self.run_button)
        picks.addWidget(self.stop_button)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.charts)
        splitter.addWidget(self.table)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([500, 230])  # the table's six lines stay in view
        layout = QVBoxLayout(self)
        layout.addWidget(self.why)
        layout.addLayout(picks)
        layout.addWidget(self.status)
        layout.addWidget(splitter, 1)

    # -- state ------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._pending_site is not None or self._thread is not None

    def picked(self) -> list[str]:
        return [name for name, box in self.picks.items() if box.isChecked()]

    def pick(self, *names: str) -> None:
        for name, box in self.picks.items():
            box.setChecked(name in names)

    def _refresh_buttons(self) -> None:
        running = self.running
        self.run_button.setEnabled(not running and bool(self.picked()))
        self.stop_button.setEnabled(running)
        for box in self.picks.values():
            box.setEnabled(not running)

    def _set_running(self, on: bool) -> None:
        self._refresh_buttons()
        self.runningChanged.emit(on)

    # -- commands ---------------------------------------------------------------------------

    def start(self) -> None:
        """Run the picked strategies on the form's target (booting the embedded site first)."""
        if self.running or not self.picked():
            return
        if (why := self._blocked()) is not None:
            self.status.setText(f"Cannot compare now: {why}.")
            return
        if not self.controls.validate():
            self.status.setText(f"Fix the form first: {self.controls.error}")
            return
        self._runs = []
        self.comparison = None
        self._stop = threading.Event()
        self.charts.show_runs([])
        self.table_model.clear()
        if self.controls.uses_site:
            self._pending_site = self.session.site_url(self.controls.site_params())
            self.status.setText("Starting the embedded test site…")
        else:
            self._begin(self.controls.settings())
        self.timer.start()
        self._set_running(True)

    def stop(self) -> None:
        self._stop.set()
        if self._pending_site is not None:
            self._pending_site = None
            self._finish("Stopped before the first run.")

    def _begin(self, settings: CrawlSettings) -> None:
        runner = ComparisonRunner(
            settings, self.picked(), on_run=self._from_thread_run, stop=self._stop
        )
        self._runner = runner
        self._thread = threading.Thread(
            target=self._work, args=(runner,), name=THREAD_NAME, daemon=True
        )
        self._thread.start()
        log.info("comparing %s on %s", ", ".join(runner.strategies), settings.start_urls[0])

    # -- the runner's thread: only mailbox offers, never Qt ----------------------------------

    def _from_thread_run(self, run: StrategyRun) -> None:
        self._mailbox.offer(StrategyRunFinished(run=run))

    def _work(self, runner: ComparisonRunner) -> None:
        try:
            self._mailbox.offer(StrategiesCompared(result=runner.run()))
        except Exception as exc:  # a failed run must end the comparison, not the thread
            log.exception("the strategy comparison failed")
            self._mailbox.offer(StrategiesCompared(error=str(exc) or type(exc).__name__))

    # -- back on the GUI thread -------------------------------------------------------------

    def _on_events(self, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, StrategyRunFinished):
                self._runs.append(event.run)
                if event.run.record_id is not None:
                    self.runSaved.emit(event.run.record_id)
                self._show(live=None)
            elif isinstance(event, StrategiesCompared):
                if self._thread is not None:
                    self._thread.join()
                self._thread = None
                self._runner = None
                self.comparison = event.result
                self._finish(
                    f"Failed: {event.error}"
                    if event.error
                    else ("Stopped. " if event.result and event.result.stopped else "Done. ")
                    + "Winner per measure in the last column."
                )

    def _finish(self, text: str) -> None:
        self.timer.stop()
        self._show(live=None)
        self.status.setText(text)
        self._set_running(False)

    def _tick(self) -> None:
        if self._pending_site is not None and self._pending_site.done():
            future, self._pending_site = self._pending_site, None
            try:
                url = future.result()
            except Exception as exc:
                self._finish(f"The embedded test site did not start: {exc}")
                return
            self._begin(self.controls.settings(start_url=url))
        runner = self._runner
        if runner is not None and runner.current_sampler is not None:
            sampler = runner.current_sampler
            live = {"t": sampler.times()} | {key: sampler.series(key) for key in KEYS}
            self._show(live=(runner.current_strategy or "", live))
            done = len(self._runs) + 1
            self.status.setText(
                f"Running {runner.current_strategy} ({done} of {len(runner.strategies)})…"
            )

    def _show(self, live: tuple[str, Mapping[str, np.ndarray]] | None) -> None:
        overlays = [OverlayRun(run.strategy, run.series) for run in self._runs]
        if live is not None and live[0] not in {run.strategy for run in self._runs}:
            overlays.append(OverlayRun(f"{live[0]} (running)", live[1]))
        self.charts.show_runs(overlays)
        if not self._runs:
            self.table_model.clear()
            return
        runs = tuple(self._runs)
        header, *rows = StrategyComparison(runs, winners=winners(runs)).table()
        self.table_model.set_rows(header, rows, right=range(1, len(runs) + 1))

    # -- shutdown ---------------------------------------------------------------------------

    def shutdown(self, timeout: float) -> bool:
        """Stop the comparison and wait for its thread; True when it ended in time."""
        self._stop.set()
        self._pending_site = None
        self.timer.stop()
        self.pump.stop()
        thread = self._thread
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()
