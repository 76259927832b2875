"""Charts of an experiment run: the monitor's series live, and a sweep's points against x.

``LiveChart`` plots every :class:`MonitorSample` on one time axis, each variant run after the
previous one, shaded red (bad), green (fixed) or blue (a sweep point) and labelled, so the
two designs sit side by side on the same axes. ``SweepChart`` plots pages/s and peak RSS
against the swept thread count, with the bounds the sweep computed drawn as dashed lines.
Both follow :mod:`gui.charts`: curves made once, refreshed with ``setData`` on a timer.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QWidget

from core.experiments import MonitorSample, Outcome
from core.experiments.verdict import number
from gui.charts import LEGEND_ROW_PX, TITLE_ROW_PX, PlotGrid, axis_label, legend_row
from gui.palette import SERIES_COLORS

MAX_POINTS = 20_000  # per series: ~30 minutes of 10 Hz samples
GAP_S = 0.05  # between one variant run and the next on the time axis
REGION_BRUSH = {"bad": (214, 39, 40, 30), "fixed": (44, 160, 44, 30)}
OTHER_BRUSH = (31, 119, 180, 22)

# plot name, title, axis label, unit
PLOTS = (
    ("threads", "Threads", "threads", ""),
    ("memory", "Memory", "RSS", "MiB"),
    ("cpu", "CPU", "CPU", "%"),
    ("probes", "Experiment probes", "value", ""),
)
# monitor series -> (plot, legend); any other series is an experiment probe
BUILTIN = {
    "py_threads": ("threads", "Python threads"),
    "os_threads": ("threads", "OS threads"),
    "stuck_threads": ("threads", "stuck threads"),
    "rss_mib": ("memory", "process RSS"),
    "cpu_percent": ("cpu", "process CPU (100 % = one core)"),
}
# thread-sweep's probes: its x and a raw page count, shown against threads by SweepChart
HIDDEN_PROBES = frozenset({"threads", "pages"})


def make_plot(
    layout: pg.GraphicsLayoutWidget, row: int, col: int, title: str, legend_columns: int
) -> tuple[pg.PlotItem, pg.LegendItem]:
    """A plot styled like the crawl charts: small title, legend in its own row above the data."""
    plot = layout.addPlot(row=row, col=col)
    plot.setTitle(title, size="10pt")
    plot.titleLabel.setMaximumHeight(TITLE_ROW_PX)
    plot.layout.setRowFixedHeight(0, TITLE_ROW_PX)
    plot.setMenuEnabled(False)
    return plot, legend_row(plot, legend_columns)


def fmt(value: float) -> str:
    """A measured number for a table cell, as the verdict writes it; ∞ or — when not finite."""
    if not math.isfinite(value):
        return "∞" if value > 0 else "—"
    return number(value)


class _Segment:
    """One variant run on the time axis: its shaded region on every plot."""

    def __init__(self, variant: str, start: float, plots: Iterable[pg.PlotItem]) -> None:
        self.variant = variant
        self.start = start
        brush = REGION_BRUSH.get(variant, OTHER_BRUSH)
        self.regions = []
        for plot in plots:
            region = pg.LinearRegionItem(
                values=(start, start), movable=False, brush=brush, pen=pg.mkPen(None)
            )
            region.setZValue(-10)
            plot.addItem(region, ignoreBounds=True)
            self.regions.append(region)

    def extend(self, end: float) -> None:
        for region in self.regions:
            region.setRegion((self.start, end))


class LiveChart(PlotGrid):
    """Monitor samples of every variant run, back to back on one time axis."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plots: dict[str, pg.PlotItem] = {}
        self.legends: dict[str, pg.LegendItem] = {}
        for i, (name, title, label, unit) in enumerate(PLOTS):
            plot, self.legends[name] = make_plot(self.layout_widget, i // 2, i % 2, title, 3)
            axis_label(plot, "left", label, unit)
            axis_label(plot, "bottom", "time", "s")
            plot.getViewBox().setMouseEnabled(x=True, y=False)
            if self.plots:
                plot.setXLink(self.plots["threads"])
            self.plots[name] = plot
        self.compact = False
        self.curves: dict[str, pg.PlotDataItem] = {}
        self._data: dict[str, tuple[deque[float], deque[float]]] = {}
        self._segments: list[_Segment] = []
        self._last: tuple[str, float] | None = None  # (variant, elapsed) of the newest sample
        self._offset = 0.0
        self._end = 0.0
        self._dirty = False

    def set_compact(self, compact: bool) -> None:
        """One row of threads, memory and CPU (a sweep, whose own chart needs the room), or
        the 2×2 grid with the experiment's probes."""
        if compact == self.compact:
            return
        self.compact = compact
        grid = self.layout_widget.ci
        for plot in self.plots.values():
            grid.removeItem(plot)
        names = ("threads", "memory", "cpu") if compact else tuple(self.plots)
        for i, name in enumerate(names):
            row, col = (0, i) if compact else (i // 2, i % 2)
            grid.addItem(self.plots[name], row=row, col=col)
        self.plots["probes"].setVisible(not compact)

    @property
    def segments(self) -> list[tuple[str, float, float]]:
        """(variant, start, end) of every run shown, in order."""
        ends = [s.start for s in self._segments[1:]] + [self._end]
        return [(s.variant, s.start, end) for s, end in zip(self._segments, ends, strict=True)]

    def clear(self) -> None:
        for segment in self._segments:
            for plot, region in zip(self.plots.values(), segment.regions, strict=True):
                plot.removeItem(region)
        for key, curve in self.curves.items():
            plot_name = BUILTIN.get(key, ("probes",))[0]
            self.plots[plot_name].removeItem(curve)
            self.legends[plot_name].removeItem(curve)
        self.curves.clear()
        self._data.clear()
        self._segments.clear()
        self._last = None
        self._offset = self._end = 0.0
        self._dirty = False

    def series(self, key: str) -> np.ndarray:
        """The values of ``key`` received so far (gaps between runs left out)."""
        values = np.asarray(self._data[key][1]) if key in self._data else np.empty(0)
        return values[np.isfinite(values)]

    def add_samples(self, samples: Iterable[MonitorSample]) -> None:
        for sample in samples:
            new_run = (
                self._last is None
                or sample.variant != self._last[0]
                or sample.elapsed < self._last[1]
            )
            if new_run:
                if self._segments:
                    self._segments[-1].extend(self._end)
                self._offset = self._end + (GAP_S if self._segments else 0.0)
                self._segments.append(_Segment(sample.variant, self._offset, self.plots.values()))
                for xs, ys in self._data.values():  # break every line between two runs
                    xs.append(math.nan)
                    ys.append(math.nan)
            t = self._offset + sample.elapsed
            self._end = max(self._end, t)
            self._last = (sample.variant, sample.elapsed)
            for key, value in sample.values.items():
                if key in HIDDEN_PROBES:
                    continue
                if key not in self._data:
                    self._add_curve(key)
                xs, ys = self._data[key]
                xs.append(t)
                ys.append(value)
            self._dirty = True

    def refresh(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        for key, (xs, ys) in self._data.items():
            self.curves[key].setData(np.asarray(xs), np.asarray(ys), connect="finite")
        if self._segments:
            self._segments[-1].extend(self._end)

    def _add_curve(self, key: str) -> None:
        plot_name, legend = BUILTIN.get(key, ("probes", key.replace("_", " ")))
        plot = self.plots[plot_name]
        color = SERIES_COLORS[len(plot.listDataItems()) % len(SERIES_COLORS)]
        self.curves[key] = plot.plot(pen=pg.mkPen(color, width=1))
        self.legends[plot_name].addItem(self.curves[key], legend)
        self._data[key] = (deque(maxlen=MAX_POINTS), deque(maxlen=MAX_POINTS))


# bound measure -> legend, for the pages/s plot of a sweep
BOUNDS = (
    ("latency_bound", "latency bound (threads / latency)"),
    ("cpu_bound", "crawler CPU bound (one core)"),
    ("machine_bound", "machine bound (all cores)"),
)


# 1, 2, 5 × 10^k on the log-scale axis (positions are log10 of the value), labelled plainly
LOG_TICKS = [(math.log10(m * 10**k), f"{m * 10**k:,}") for k in range(0, 6) for m in (1, 2, 5)]


class SweepChart(PlotGrid):
    """Pages/s (log scale) and peak RSS against the swept parameter, one point per run."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rate_plot, rate_legend = make_plot(
            self.layout_widget, 0, 0, "Pages/s against threads", 2
        )
        self.rss_plot, rss_legend = make_plot(
            self.layout_widget, 0, 1, "Peak RSS against threads", 1
        )
        self.rate_plot.setLogMode(y=True)
        self.rate_plot.getAxis("left").setTicks([LOG_TICKS])
        axis_label(self.rate_plot, "left", "pages/s (log scale)", "")
        axis_label(self.rss_plot, "left", "peak RSS", "MiB")
        dash = pg.QtCore.Qt.PenStyle.DashLine
        self.curves: dict[str, pg.PlotDataItem] = {
            "pages_per_s": self.rate_plot.plot(
                pen=pg.mkPen(SERIES_COLORS[0], width=2),
                symbol="o",
                symbolSize=6,
                symbolBrush=SERIES_COLORS[0],
            ),
            "peak_rss_mib": self.rss_plot.plot(
                pen=pg.mkPen(SERIES_COLORS[0], width=2),
                symbol="o",
                symbolSize=6,
                symbolBrush=SERIES_COLORS[0],
            ),
        }
        self.rate_plot.layout.setRowFixedHeight(1, 2 * LEGEND_ROW_PX)  # four entries, two rows
        rate_legend.addItem(self.curves["pages_per_s"], "measured pages/s")
        for i, (key, legend) in enumerate(BOUNDS, start=1):
            color = SERIES_COLORS[i % len(SERIES_COLORS)]
            self.curves[key] = self.rate_plot.plot(pen=pg.mkPen(color, width=1, style=dash))
            rate_legend.addItem(self.curves[key], legend)
        rss_legend.addItem(self.curves["peak_rss_mib"], "peak RSS (process)")
        self.rss_plot.setXLink(self.rate_plot)
        self._points: dict[float, list[Mapping[str, float]]] = {}
        self.parameter = "threads"
        self._set_x_axis()

    def clear(self) -> None:
        self._points.clear()
        for curve in self.curves.values():
            curve.setData([], [])
        self._set_x_axis()

    def add_outcome(self, outcome: Outcome) -> None:
        """One measured point (variant ``"<parameter>=<x>"``); trials at one x are averaged."""
        self.parameter = outcome.variant.partition("=")[0] or self.parameter
        x = outcome.values.get(self.parameter)
        if x is None or x <= 0:
            return
        self._points.setdefault(float(x), []).append(outcome.values)
        self._redraw()

    def means(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        """x and the mean of ``key`` over trials at each x, for finite positive values."""
        xs, ys = [], []
        for x in sorted(self._points):
            values = [v[key] for v in self._points[x] if key in v and math.isfinite(v[key])]
            if values and sum(values) > 0:
                xs.append(x)
                ys.append(sum(values) / len(values))
        return np.asarray(xs), np.asarray(ys)

    def _redraw(self) -> None:
        for key, curve in self.curves.items():
            xs, ys = self.means(key)
            curve.setData(np.log2(xs) if len(xs) else xs, ys)
        self._set_x_axis()

    def _set_x_axis(self) -> None:
        top = max(self._points, default=128.0)
        ticks = [(math.log2(2**i), str(2**i)) for i in range(int(math.log2(max(top, 2))) + 1)]
        for plot in (self.rate_plot, self.rss_plot):
            axis_label(plot, "bottom", f"{self.parameter} (log scale)", "")
            plot.getAxis("bottom").setTicks([ticks])
