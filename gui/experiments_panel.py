"""The Experiments tab: pick a threading pitfall, run bad vs fixed live, read the verdict.

The run happens on a plain thread (:class:`gui.experiment_runner.ExperimentRunner`); its
monitor samples, finished variants and the final result reach this panel through a
thread-safe event stream that a :class:`gui.pump.Pump` drains on the GUI thread, as crawls do
through :mod:`gui.bridge`. Stop sets the run's stop event; every variant watches it and the panel
re-enables Run when the runner says it has ended.
"""

from __future__ import annotations

import html
import logging

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableView,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from core.events import (
    Event,
    MonitorSample,
    RunEnded,
    StuckThreadsFound,
    Subscription,
    VariantFinished,
)
from core.experiments import EXPERIMENTS, Comparison, Experiment, Outcome, Stat
from core.experiments.base import VARIANTS
from core.experiments.sweep import SweepResult
from gui.experiment_charts import LiveChart, SweepChart, fmt
from gui.experiment_runner import ExperimentRunner
from gui.pump import Pump
from gui.text_table import TextTableModel

log = logging.getLogger(__name__)

MAX_EVENTS_PER_TICK = 2_000
COMPARISON_HEADERS = ("Measure", "Unit", "Bad", "Fixed", "Fixed expected", "Finding")
VERDICT_COLORS = {
    "holds": "#1b5e20",
    "contradicted": "#b71c1c",
    "mixed": "#e65100",
    "not significant": "#6d4c41",
    "stopped": "#616161",
    "unavailable": "#616161",
}
VERDICT_MEANING = {
    "holds": "every key measure moved the way the claim says, beyond twice its standard error",
    "contradicted": "measured here, the key measures moved against the claim",
    "mixed": "some key measures support the claim and some do not",
    "not significant": "the gap between bad and fixed did not exceed twice its standard "
    "error: this run neither supports nor refutes the claim",
    "stopped": "stopped before every variant had run: no verdict",
    "unavailable": "this machine cannot test the claim (the reasons are below): nothing was run",
}
SWEEP_MEANING = {
    "holds": "pages/s grew with threads under the latency bound and levelled off at a CPU "
    "bound, as the claim says",
    "contradicted": "measured here, pages/s did not follow the bounds the claim names",
    "not significant": "the changes between thread counts did not exceed twice their "
    "standard error, or no plateau was reached: this run neither supports nor refutes the "
    "claim",
    "stopped": "stopped before every thread count had run: no verdict",
}
SCALE_TIP = (
    "Multiplies the work each variant does (threads, items, iterations). At 1 a variant takes "
    "about 0.1–3 s; smaller is quicker and noisier."
)
TRIALS_TIP = (
    "How often each variant runs, bad and fixed alternating so drift hits both. A finding "
    "counts only when the gap between the means exceeds twice its standard error, so one "
    "trial is never significant."
)


def is_sweep(experiment: Experiment) -> bool:
    return experiment.sweep is not None


def _values(comparison: Comparison, variant: str, measure: str) -> Stat | None:
    values = [o.values[measure] for o in comparison.outcomes[variant] if measure in o.values]
    return Stat.of(values) if values else None


def _cell(stat: Stat | None) -> str:
    if stat is None or not stat.n:
        return "—"
    return fmt(stat.mean) + (f" ± {fmt(stat.stdev)}" if stat.n > 1 else "")


class ExperimentsPanel(QWidget):
    """``runSaved(run id)`` after a run is in the history; ``runningChanged`` on start/end."""

    runSaved = Signal(str)
    runningChanged = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = ExperimentRunner()
        self.result: Comparison | SweepResult | None = None  # the last run's
        self._subscription: Subscription | None = None
        self._experiment: Experiment | None = None
        self._crawl_active = False
        self._stuck_names: set[str] = set()

        self.list = QListWidget()
        self.list.setWordWrap(True)
        self.list.setAlternatingRowColors(True)
        for experiment in EXPERIMENTS.values():
            item = QListWidgetItem(f"{experiment.name}\n{experiment.summary}")
            item.setData(Qt.ItemDataRole.UserRole, experiment.name)
            item.setToolTip(experiment.claim)
            self.list.addItem(item)
        self.scale = QDoubleSpinBox()
        self.scale.setRange(0.05, 10.0)
        self.scale.setSingleStep(0.25)
        self.scale.setDecimals(2)
        self.scale.setValue(1.0)
        self.scale.setToolTip(SCALE_TIP)
        self.trials = QSpinBox()
        self.trials.setRange(1, 20)
        self.trials.setValue(3)
        self.trials.setToolTip(TRIALS_TIP)
        self.run_button = QPushButton("Run")
        self.run_button.setToolTip("Run the bad and the fixed variant under the live monitor")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop the run: every variant watches a stop event")
        self.status = QLabel()
        self.status.setWordWrap(True)

        self.title = QLabel()
        self.title.setStyleSheet("font-size: 13pt; font-weight: bold;")
        self.claim = QLabel()
        self.claim.setWordWrap(True)
        self.claim.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.claim.setStyleSheet(
            "font-size: 11pt; background: #fff8e1; border: 1px solid #ffe082; padding: 6px;"
        )
        self.variants = QLabel()
        self.variants.setWordWrap(True)
        self.bands = QLabel()
        self.bands.setWordWrap(True)
        self.live = LiveChart()
        self.sweep_chart = SweepChart()
        self.sweep_chart.setVisible(False)
        self.results_model = TextTableModel(self)
        self.results_view = QTableView()
        self.results_view.setModel(self.results_model)
        self.results_view.verticalHeader().setVisible(False)
        self.results_view.setAlternatingRowColors(True)
        self.results_view.setWordWrap(False)
        header = self.results_view.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.verdict = QTextBrowser()
        self.verdict.setOpenLinks(False)

        self._build_layout()
        self.list.currentRowChanged.connect(self._on_selected)
        self.run_button.clicked.connect(self.run)
        self.stop_button.clicked.connect(self.stop)
        self.pump = Pump(self._on_events, max_per_tick=MAX_EVENTS_PER_TICK, parent=self)
        self.list.setCurrentRow(0)
        self._update_buttons()

    def _build_layout(self) -> None:
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(4, 4, 4, 4)
        left_layout.addWidget(QLabel("Experiments"))
        left_layout.addWidget(self.list, 1)
        form = QFormLayout()
        form.addRow("Scale", self.scale)
        form.addRow("Trials", self.trials)
        left_layout.addLayout(form)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.stop_button)
        left_layout.addLayout(buttons)
        left_layout.addWidget(self.status)

        charts = QWidget()
        self._charts_layout = charts_layout = QVBoxLayout(charts)
        charts_layout.setContentsMargins(0, 0, 0, 0)
        charts_layout.addWidget(self.bands)
        charts_layout.addWidget(self.live, 3)
        charts_layout.addWidget(self.sweep_chart, 2)
        results = QSplitter(Qt.Orientation.Horizontal)
        results.addWidget(self.results_view)
        results.addWidget(self.verdict)
        results.setStretchFactor(0, 3)
        results.setStretchFactor(1, 1)
        results.setSizes([720, 260])
        self.right_splitter = QSplitter(Qt.Orientation.Vertical)
        self.right_splitter.addWidget(charts)
        self.right_splitter.addWidget(results)
        self.right_splitter.setStretchFactor(0, 3)
        self.right_splitter.setStretchFactor(1, 2)
        self.right_splitter.setSizes([420, 260])

        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(4, 4, 4, 4)
        right_layout.addWidget(self.title)
        right_layout.addWidget(self.claim)
        right_layout.addWidget(self.variants)
        right_layout.addWidget(self.right_splitter, 1)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([280, 1000])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)

    # -- state ------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._subscription is not None

    @property
    def selected(self) -> Experiment | None:
        item = self.list.currentItem()
        return EXPERIMENTS.get(item.data(Qt.ItemDataRole.UserRole)) if item else None

    def select(self, name: str) -> None:
        for row in range(self.list.count()):
            if self.list.item(row).data(Qt.ItemDataRole.UserRole) == name:
                self.list.setCurrentRow(row)
                return
        raise KeyError(name)

    def set_crawl_active(self, active: bool) -> None:
        """A crawl's threads and memory would mix into the measurements: no runs meanwhile."""
        self._crawl_active = active
        self._update_buttons()

    def _update_buttons(self) -> None:
        running = self.running
        self.run_button.setEnabled(not running and not self._crawl_active and bool(self.selected))
        self.run_button.setToolTip(
            "A crawl is running: its threads and memory would mix into the measurements"
            if self._crawl_active
            else "Run the bad and the fixed variant under the live monitor"
        )
        self.stop_button.setEnabled(running)
        self.list.setEnabled(not running)
        self.scale.setEnabled(not running)
        self.trials.setEnabled(not running)

    def _on_selected(self, _row: int) -> None:
        experiment = self.selected
        if experiment is None:
            return
        self.title.setText(experiment.name)
        self.claim.setText(f"<b>Claim under test:</b> {html.escape(experiment.claim)}")
        if is_sweep(experiment):
            self.variants.setText(
                f"<b>Sweep</b> from {html.escape(experiment.bad)} to "
                f"{html.escape(experiment.fixed)}."
            )
        else:
            self.variants.setText(
                f"<span style='color:#b71c1c'><b>Bad:</b></span> {html.escape(experiment.bad)}"
                f"<br><span style='color:#1b5e20'><b>Fixed:</b></span> "
                f"{html.escape(experiment.fixed)}"
            )
        self.sweep_chart.setVisible(is_sweep(experiment))
        self.live.set_compact(is_sweep(experiment))
        self._charts_layout.setStretchFactor(self.live, 2 if is_sweep(experiment) else 3)
        self._charts_layout.setStretchFactor(self.sweep_chart, 3)
        self.bands.setText(
            "Live monitor, one shaded band per run in order: "
            + (
                "<span style='background:#dce9f5'>&nbsp;one thread count after another&nbsp;"
                "</span> (1, 2, 4 …, then again for each trial)."
                if is_sweep(experiment)
                else "<span style='background:#f9d7d7'>&nbsp;bad&nbsp;</span> then "
                "<span style='background:#d9efd9'>&nbsp;fixed&nbsp;</span>, once per trial."
            )
        )
        if self.result is None or self.result.experiment is not experiment:
            self._show_measures(experiment)

    # -- running ----------------------------------------------------------------------------

    def run(self) -> None:
        experiment = self.selected
        if experiment is None or self.running or self._crawl_active:
            return
        self._experiment = experiment
        self.result = None
        self._stuck_names.clear()
        self.live.clear()
        self.sweep_chart.clear()
        self._show_measures(experiment)
        self._subscription = self.runner.start(experiment, self.scale.value(), self.trials.value())
        self.pump.attach(self._subscription)
        self.pump.start()
        self.status.setText(f"Running {experiment.name}…")
        log.info(
            "experiment %s started (scale %g, %d trials)",
            experiment.name,
            self.scale.value(),
            self.trials.value(),
        )
        self._update_buttons()
        self.runningChanged.emit(True)

    def stop(self) -> None:
        if self.running:
            self.runner.stop()
            self.status.setText("Stopping… (each variant watches the stop event)")
            self.stop_button.setEnabled(False)

    def _on_events(self, events: list[Event]) -> None:
        """One tick: chart the new samples, note finished variants, finish on the end event."""
        samples = []
        for event in events:
            if isinstance(event, MonitorSample):
                samples.append(event)
            elif isinstance(event, VariantFinished):
                self._on_variant(event.outcome)
            elif isinstance(event, StuckThreadsFound):
                self._on_stuck(event)
            elif isinstance(event, RunEnded):
                self.live.add_samples(samples)
                self.live.refresh()
                self._finish(event)
                return
        self.live.add_samples(samples)
        self.live.refresh()

    def _on_variant(self, outcome: Outcome) -> None:
        if self._experiment is not None and is_sweep(self._experiment):
            self.sweep_chart.add_outcome(outcome)
        state = "stopped" if outcome.stopped else "done"
        self.status.setText(f"{outcome.variant}: {state} in {outcome.duration_s:.2f} s")

    def _on_stuck(self, event: StuckThreadsFound) -> None:
        names = {thread.name for thread in event.threads} - self._stuck_names
        if names:
            self._stuck_names |= names
            log.warning(
                "%s (%s): stuck threads detected: %s",
                event.experiment,
                event.variant,
                ", ".join(sorted(names)),
            )
            self.status.setText(
                f"{event.variant}: {len(event.threads)} stuck thread(s) detected — "
                + ", ".join(sorted(t.name for t in event.threads))
            )

    def _finish(self, ended: RunEnded) -> None:
        self._let_go()
        self.runner.join(2.0)  # RunEnded is the thread's last act
        self.result = ended.result
        if ended.result is not None:
            self._show_result(ended.result)
        verdict = getattr(ended.result, "verdict", "error")
        text = f"Finished: {verdict}" if ended.result is not None else "Failed"
        if ended.record_id:
            text += " — saved to History"
        if ended.error:
            text += f" ({ended.error})"
            error = f"<p style='color:#b71c1c'>{html.escape(ended.error)}</p>"
            if ended.result is None:
                self.verdict.setHtml(error)
            else:  # measured, but not saved: keep the verdict above the error
                self.verdict.append(error)
        self.status.setText(text)
        name = self._experiment.name if self._experiment is not None else "?"
        log.info("experiment %s ended: %s", name, text)
        self._update_buttons()
        self.runningChanged.emit(False)
        if ended.record_id:
            self.runSaved.emit(ended.record_id)

    def shutdown(self, timeout: float = 2.0) -> bool:
        """Stop a run and wait for its thread; True when it ended in time."""
        self.runner.stop()
        ended = self.runner.join(timeout)
        self._let_go()
        return ended

    def _let_go(self) -> None:
        """Stop draining the run's stream and close it."""
        self.pump.stop()
        self.pump.detach()
        if self._subscription is not None:
            self._subscription.close()
            self._subscription = None

    # -- results ----------------------------------------------------------------------------

    def _show_measures(self, experiment: Experiment) -> None:
        """Before a run: what will be measured, with empty value columns."""
        self.verdict.setHtml(
            "<p style='color:#616161'>Run the experiment to measure the claim.</p>"
        )
        if is_sweep(experiment):
            self.results_model.set_rows(
                ["Measure", "Unit"], [(m.label, m.unit) for m in experiment.measures]
            )
            return
        self.results_model.set_rows(
            COMPARISON_HEADERS,
            [(m.label, m.unit, "", "", m.better if m.key else "", "") for m in experiment.measures],
            bold=[i for i, m in enumerate(experiment.measures) if m.key],
        )

    def _show_result(self, result: Comparison | SweepResult) -> None:
        if isinstance(result, SweepResult):
            self._show_sweep(result)
        else:
            self._show_comparison(result)
        color = VERDICT_COLORS.get(result.verdict, "#000000")
        meanings = SWEEP_MEANING if isinstance(result, SweepResult) else VERDICT_MEANING
        meaning = meanings.get(result.verdict, "")
        findings = [f if isinstance(f, str) else f.text for f in result.findings]
        items = "".join(f"<li>{html.escape(text)}</li>" for text in findings)
        self.verdict.setHtml(
            f"<p style='font-size:12pt'><b style='color:{color}'>Verdict: "
            f"{html.escape(result.verdict)}</b></p><p>{html.escape(meaning)}.</p>"
            + (f"<ul>{items}</ul>" if items else "")
        )

    def _show_comparison(self, comparison: Comparison) -> None:
        experiment = comparison.experiment
        findings = {f.measure: f for f in comparison.findings}
        rows, bold, tips = [], [], {}
        for i, m in enumerate(experiment.measures):
            finding = findings.get(m.name)
            cells = [_cell(_values(comparison, v, m.name)) for v in VARIANTS]
            rows.append(
                (
                    m.label,
                    m.unit,
                    *cells,
                    m.better if m.key else "",
                    finding.finding if finding else ("context" if not m.key else ""),
                )
            )
            if m.key:
                bold.append(i)
            if finding:
                tips[i] = finding.text
        self.results_model.set_rows(
            COMPARISON_HEADERS,
            rows,
            bold=bold,
            right=(2, 3),
            tips=tips,
        )

    def _show_sweep(self, sweep: SweepResult) -> None:
        experiment = sweep.experiment
        measures = experiment.measures
        headers = [sweep.parameter] + [f"{m.label} ({m.unit})" for m in measures]
        rows = [(f"{x:g}", *(_cell(sweep.stat(x, m.name)) for m in measures)) for x in sweep.xs()]
        self.results_model.set_rows(headers, rows, right=range(len(headers)))
