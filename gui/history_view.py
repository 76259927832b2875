"""The History tab: every saved crawl and experiment; pick two to overlay and compare them.

Runs come from :mod:`core.history` (one folder per run). Selecting one run shows its charts
and summary; selecting two overlays their series (A solid blue, B dashed red, time from
each run's start) and puts their summaries side by side with the difference. Delete and
Export (a zip per run) act on the selection.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from core.history import (
    SUMMARY_FIELDS,
    HistoryError,
    RunRecord,
    compare_runs,
    delete_run,
    export_run,
    list_runs,
    load_metrics,
)
from core.sampler import METRICS
from gui.charts import PlotGrid, axis_label
from gui.experiment_charts import fmt, make_plot
from gui.table_model import ListTableModel
from gui.text_table import NUMERIC, TextTableModel

log = logging.getLogger(__name__)

RUN_COLORS = ("#1f77b4", "#d62728")  # A, B
# chart title, metric key (label and unit from core.sampler.METRICS), fallback key
OVERLAYS = (
    ("Threads", "os_threads", "py_threads"),
    ("Memory", "rss_mib", None),
    ("Throughput", "pages_per_s", None),
    ("CPU", "cpu_percent", None),
)
_SPECS = {spec.key: spec for spec in METRICS}


def _num(value: float | None, unit: str = "", digits: str = ",.0f") -> str:
    if value is None:
        return "—"
    return f"{value:{digits}}" + (f" {unit}" if unit else "")


def local_time(created: str) -> str:
    """The run's UTC ISO stamp in the local time zone, to the second."""
    try:
        return datetime.fromisoformat(created).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return created


class HistoryModel(ListTableModel):
    """The saved runs, newest first, one row each."""

    COLUMNS = (
        "Kind",
        "Title",
        "Date",
        "Duration",
        "Pages/s",
        "Peak threads",
        "Peak RSS",
        "Errors",
    )

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._rows: list[RunRecord] = []

    def headers(self) -> tuple[str, ...]:
        return self.COLUMNS

    def set_runs(self, runs: list[RunRecord]) -> None:
        self.beginResetModel()
        self._rows = list(runs)
        self.endResetModel()

    def run(self, row: int) -> RunRecord:
        return self._rows[row]

    def row_of(self, run_id: str) -> int | None:
        return next((i for i, r in enumerate(self._rows) if r.id == run_id), None)

    def data(self, index: QModelIndex | QPersistentModelIndex, role=Qt.ItemDataRole.DisplayRole):
        run = self._rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self.cell(run, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{run.title}\n{run.id}"
        if role == Qt.ItemDataRole.TextAlignmentRole and column >= 3:
            return NUMERIC
        return None

    @staticmethod
    def cell(run: RunRecord, column: int) -> str:
        s = run.summary
        return (
            run.kind,
            run.title,
            local_time(run.created),
            _num(s.duration_s, "s", ",.1f"),
            _num(s.pages_per_s),
            _num(s.peak_threads),
            _num(s.peak_rss_mib, "MiB", ",.1f"),
            _num(s.errors),
        )[column]


class OverlayCharts(PlotGrid):
    """Four charts with one or two runs' series, each run's time from its own start."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plots: dict[str, pg.PlotItem] = {}
        self.legends: dict[str, pg.LegendItem] = {}
        for i, (title, key, _fallback) in enumerate(OVERLAYS):
            plot, self.legends[key] = make_plot(self.layout_widget, i // 2, i % 2, title, 2)
            spec = _SPECS[key]
            axis_label(plot, "left", spec.label, spec.unit)
            axis_label(plot, "bottom", "time since run start", "s")
            self.plots[key] = plot

    def show_runs(self, runs: list[tuple[str, dict[str, list[float]]]]) -> None:
        """``runs``: (legend prefix, metrics) for run A and optionally run B."""
        for key, plot in self.plots.items():
            plot.clear()
            self.legends[key].clear()
        if not runs:
            return
        drawn: set[str] = set()
        for (name, metrics), color, style in zip(
            runs, RUN_COLORS, (Qt.PenStyle.SolidLine, Qt.PenStyle.DashLine), strict=False
        ):
            t = np.asarray(metrics.get("t", []), dtype=float)
            if not len(t):
                continue
            t = t - t[0]
            for _title, key, fallback in OVERLAYS:
                values = metrics.get(key) or (metrics.get(fallback) if fallback else None)
                if not values:
                    continue
                drawn.add(key)
                curve = self.plots[key].plot(
                    t, np.asarray(values, dtype=float), pen=pg.mkPen(color, width=1, style=style)
                )
                self.legends[key].addItem(curve, name)
        for title, key, _fallback in OVERLAYS:
            self.plots[key].setTitle(
                title if key in drawn else f"{title}: not recorded", size="10pt"
            )

    def curve_count(self) -> int:
        return sum(len(plot.listDataItems()) for plot in self.plots.values())


class HistoryView(QWidget):
    """See the module docstring; ``message`` carries status-bar text to the window."""

    message = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = HistoryModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableView.SelectionMode.ExtendedSelection)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.refresh_button = QPushButton("Refresh")
        self.delete_button = QPushButton("Delete…")
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("Write each selected run as a zip (run.json, metrics.csv…)")
        self.hint = QLabel()
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        self.charts = OverlayCharts()
        self.summary_model = TextTableModel(self)
        self.summary_view = QTableView()
        self.summary_view.setModel(self.summary_model)
        self.summary_view.verticalHeader().setVisible(False)
        self.summary_view.setAlternatingRowColors(True)
        summary_header = self.summary_view.horizontalHeader()
        summary_header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        summary_header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        summary_header.setStretchLastSection(False)
        self._build_layout()
        self.refresh_button.clicked.connect(self.refresh)
        self.delete_button.clicked.connect(self.delete_selected)
        self.export_button.clicked.connect(self.export_selected)
        self.table.selectionModel().selectionChanged.connect(self._on_selection)
        self.refresh()

    def _build_layout(self) -> None:
        bar = QHBoxLayout()
        for widget in (self.refresh_button, self.delete_button, self.export_button):
            bar.addWidget(widget)
        bar.addWidget(self.hint, 1)
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(4, 4, 4, 0)
        top_layout.addLayout(bar)
        top_layout.addWidget(self.table)
        compare = QSplitter(Qt.Orientation.Horizontal)
        compare.addWidget(self.charts)
        summaries = QWidget()
        summaries_layout = QVBoxLayout(summaries)
        summaries_layout.setContentsMargins(0, 0, 0, 0)
        summaries_layout.addWidget(self.caption)
        summaries_layout.addWidget(self.summary_view)
        compare.addWidget(summaries)
        compare.setStretchFactor(0, 3)
        compare.setStretchFactor(1, 2)
        compare.setSizes([760, 520])
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(top)
        splitter.addWidget(compare)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)

    # -- reading ----------------------------------------------------------------------------

    def selected_runs(self) -> list[RunRecord]:
        """Selected rows in table order (newest first)."""
        rows = sorted(index.row() for index in self.table.selectionModel().selectedRows())
        return [self.model.run(row) for row in rows]

    def select(self, *run_ids: str) -> None:
        selection = self.table.selectionModel()
        selection.clearSelection()
        for run_id in run_ids:
            row = self.model.row_of(run_id)
            if row is not None:
                selection.select(
                    self.model.index(row, 0),
                    selection.SelectionFlag.Select | selection.SelectionFlag.Rows,
                )

    def refresh(self) -> None:
        """Re-read the history; the selection is kept by run id."""
        keep = [run.id for run in self.selected_runs()]
        self.model.set_runs(list_runs())
        self.select(*keep)
        self._on_selection()

    # -- actions ----------------------------------------------------------------------------

    def delete_selected(self) -> None:
        runs = self.selected_runs()
        if not runs:
            return
        answer = QMessageBox.question(
            self,
            "Delete runs",
            f"Delete {len(runs)} run(s) from the history? This removes their folders.",
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        for run in runs:
            try:
                delete_run(run.id)
            except HistoryError as exc:  # deleted meanwhile (another window)
                log.warning("%s", exc)
        self.message.emit(f"Deleted {len(runs)} run(s)")
        self.refresh()

    def export_selected(self) -> None:
        runs = self.selected_runs()
        if not runs:
            return
        folder = QFileDialog.getExistingDirectory(self, "Export runs to")
        if not folder:
            return
        paths = [export_run(run.id, Path(folder)) for run in runs]
        self.message.emit(
            f"Wrote {paths[0]}" if len(paths) == 1 else f"Wrote {len(paths)} zips to {folder}"
        )

    # -- comparing --------------------------------------------------------------------------

    def _on_selection(self, *_args) -> None:
        runs = self.selected_runs()
        self.delete_button.setEnabled(bool(runs))
        self.export_button.setEnabled(bool(runs))
        self.hint.setText(
            f"{self.model.rowCount()} run(s). "
            + (
                "Select one run to see it, two to compare them."
                if len(runs) != 2
                else "Comparing A (solid blue) with B (dashed red)."
            )
        )
        if len(runs) in (1, 2):
            self.compare(runs)
        else:
            self.charts.show_runs([])
            self.summary_model.clear()
            self.caption.setText("")

    def compare(self, runs: list[RunRecord]) -> None:
        """One run alone, or A (older) against B (newer)."""
        runs = sorted(runs, key=lambda r: (r.created, r.id))
        names = "AB"[: len(runs)]
        self.charts.show_runs(
            [(name, load_metrics(r.id)) for name, r in zip(names, runs, strict=True)]
        )
        self.caption.setText(
            "<br>".join(
                f"<b style='color:{color}'>{name}</b>: {r.kind} · {r.title} · "
                f"{local_time(r.created)}"
                for name, r, color in zip(names, runs, RUN_COLORS, strict=False)
            )
        )
        if len(runs) == 1:
            s = runs[0].summary
            figures = [
                (label, fmt(v) if (v := getattr(s, key)) is not None else "—", unit)
                for key, label, unit in SUMMARY_FIELDS
            ] + [(name, fmt(value), "") for name, value in sorted(s.extra.items())]
            self.summary_model.set_rows(["Figure", "A", "Unit"], figures, right=(1,))
            return
        rows = [
            (
                row.label,
                "—" if row.a is None else fmt(row.a),
                "—" if row.b is None else fmt(row.b),
                "—" if row.diff is None else ("+" if row.diff > 0 else "") + fmt(row.diff),
                row.unit,
            )
            for row in compare_runs(runs[0].id, runs[1].id)
        ]
        self.summary_model.set_rows(
            ["Figure", "A", "B", "B − A", "Unit"],
            rows,
            bold=range(len(SUMMARY_FIELDS)),
            right=(1, 2, 3),
        )
