"""Any number of runs' series overlaid on one time axis, each from its own start, with markers.

History and the strategy comparison draw saved or finished runs here: threads, URL queue
depth, memory, throughput and CPU, one colour per run (the line style changes once the
colours run out), and each run's markers (Start, threads 8→32, GC, memory warnings) as
dashed lines in the run's colour, labelled and staggered so nearby labels do not overlap.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from core.sampler import METRICS
from gui.charts import LABEL_POSITIONS, PlotGrid, axis_label
from gui.experiment_charts import make_plot

RUN_COLORS = (
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#9467bd",
    "#ff7f0e",
    "#17becf",
    "#8c564b",
    "#e377c2",
)
RUN_STYLES = (Qt.PenStyle.SolidLine, Qt.PenStyle.DashLine, Qt.PenStyle.DotLine)
# chart title, metric key (label and unit from core.sampler.METRICS), fallback key
OVERLAYS = (
    ("Threads", "os_threads", "py_threads"),
    ("URL queue", "frontier", None),
    ("Memory", "rss_mib", None),
    ("Throughput", "pages_per_s", None),
    ("CPU", "cpu_percent", None),
)
_SPECS = {spec.key: spec for spec in METRICS}


def run_color(i: int) -> str:
    return RUN_COLORS[i % len(RUN_COLORS)]


def run_style(i: int) -> Qt.PenStyle:
    return RUN_STYLES[(i // len(RUN_COLORS)) % len(RUN_STYLES)]


@dataclass(frozen=True, slots=True)
class OverlayRun:
    """One run to draw: legend name, series (``t`` and metric keys) and markers (t, text)."""

    name: str
    metrics: Mapping[str, Sequence[float] | np.ndarray]
    markers: Sequence[tuple[float, str]] = field(default_factory=tuple)


class OverlayCharts(PlotGrid):
    """The overlay plots, ``columns`` to a row; :meth:`show_runs` replaces what they show."""

    def __init__(self, columns: int = 2, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plots: dict[str, pg.PlotItem] = {}
        self.legends: dict[str, pg.LegendItem] = {}
        self._marker_texts: list[str] = []
        for i, (title, key, _fallback) in enumerate(OVERLAYS):
            plot, self.legends[key] = make_plot(
                self.layout_widget, i // columns, i % columns, title, len(RUN_COLORS)
            )
            spec = _SPECS[key]
            axis_label(plot, "left", spec.label, spec.unit)
            axis_label(plot, "bottom", "time since run start", "s")
            if self.plots:
                plot.setXLink(next(iter(self.plots.values())))
            self.plots[key] = plot

    def show_runs(self, runs: Sequence[OverlayRun]) -> None:
        for key, plot in self.plots.items():
            plot.clear()
            self.legends[key].clear()
        self._marker_texts = []
        drawn: set[str] = set()
        for i, run in enumerate(runs):
            t = np.asarray(run.metrics.get("t", ()), dtype=float)
            if not len(t):
                continue
            t0 = t[0]
            pen = pg.mkPen(run_color(i), width=1, style=run_style(i))
            for _title, key, fallback in OVERLAYS:
                values = run.metrics.get(key)
                if (values is None or not len(values)) and fallback:
                    values = run.metrics.get(fallback)
                if values is None or not len(values):
                    continue
                drawn.add(key)
                n = min(len(t), len(values))
                curve = self.plots[key].plot(
                    t[:n] - t0, np.asarray(values[:n], dtype=float), pen=pen
                )
                self.legends[key].addItem(curve, run.name)
            self._add_markers(i, run.markers)
        for title, key, _fallback in OVERLAYS:
            self.plots[key].setTitle(
                title if key in drawn or not runs else f"{title}: not recorded", size="10pt"
            )

    def _add_markers(self, i: int, markers: Sequence[tuple[float, str]]) -> None:
        """Lines on every plot; the labels only on the first, so small plots stay readable."""
        pen = pg.mkPen(run_color(i), width=1, style=Qt.PenStyle.DashLine)
        first = next(iter(self.plots.values()))
        for j, (t, text) in enumerate(markers):
            position = LABEL_POSITIONS[(i + j) % len(LABEL_POSITIONS)]
            label = {
                "label": text,
                "labelOpts": {
                    "position": position,
                    "color": run_color(i),
                    "fill": (255, 255, 255, 200),
                    "anchors": [(0, 0.5), (1, 0.5)],
                },
            }
            self._marker_texts.append(text)
            for plot in self.plots.values():
                line = pg.InfiniteLine(
                    pos=t, angle=90, movable=False, pen=pen, **(label if plot is first else {})
                )
                plot.addItem(line, ignoreBounds=True)

    def curve_count(self) -> int:
        return sum(len(plot.listDataItems()) for plot in self.plots.values())

    def marker_texts(self) -> list[str]:
        """Each shown marker's label once (the lines are on every plot)."""
        return list(self._marker_texts)
