"""Four live charts on one linked time axis, fed from the metrics sampler's ring buffers.

Follows pyqtgraph's live-plot conventions (see its scrollingPlots / PlotSpeedTest examples):
curves are created once and refreshed with ``setData`` from one QTimer; peak downsampling and
clip-to-view keep an hour of 10 Hz samples cheap to draw. Painting is the main cost of the
window, and under a busy crawl the GUI thread gets only its share of the GIL, so the charts
skip what pyqtgraph paints slowly: grid lines (drawn by the axes), minor tick levels and pens
wider than one pixel. The view follows the newest data until
the user pans or zooms; ``follow()`` returns to following.

Each legend is one horizontal row between the title and the plot area, so it never covers
data. Marker labels are staggered over a few heights: a new label takes the lowest height no
marker close to it in time uses, so labels of nearby markers do not overlap.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
import pyqtgraph.exporters
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QSizePolicy, QVBoxLayout, QWidget

from gui.palette import MARKER_COLOR, SERIES_COLORS

REFRESH_MS = 100
FOLLOW_SPAN_S = 120.0
MIN_SPAN_S = 10.0
MAX_MARKERS = 200
# Heights (fractions of the plot, from the bottom) for marker labels, and how close in time
# two markers are when their labels could collide (a label is ~100 px, a plot ~450 px wide).
LABEL_POSITIONS = (0.1, 0.3, 0.5, 0.7, 0.9)
LABEL_NEAR_S = 0.3 * FOLLOW_SPAN_S
TITLE_ROW_PX = 20
LEGEND_ROW_PX = 18


PEAK_RSS = "rss_peak_mib"  # derived: the running maximum of rss_mib over the buffered samples
# Series whose legend entry shows the newest value ("process RSS 81 MiB"), with its unit.
VALUE_IN_LEGEND = {"rss_mib": "MiB", PEAK_RSS: "MiB"}


@dataclass(frozen=True, slots=True)
class ChartSpec:
    name: str
    title: str
    axis_label: str
    unit: str
    series: tuple[tuple[str, str], ...]  # (metric key, legend name)


CHARTS: tuple[ChartSpec, ...] = (
    ChartSpec(
        "threads",
        "Threads",
        "threads",
        "",
        (
            ("py_threads", "Python threads alive"),
            ("busy_workers", "busy workers"),
            ("os_threads", "OS threads"),
        ),
    ),
    ChartSpec(
        "queue",
        "URL queue",
        "URLs",
        "",
        (("frontier", "frontier depth"), ("in_flight", "in-flight requests")),
    ),
    ChartSpec(
        "memory",
        "Memory",
        "RSS",
        "MiB",
        (("rss_mib", "process RSS"), (PEAK_RSS, "peak RSS")),
    ),
    ChartSpec(
        "throughput",
        "Throughput",
        "rate",
        "1/s",
        (("pages_per_s", "pages/s"), ("errors_per_s", "errors/s")),
    ),
)


def configure_pyqtgraph() -> None:
    """Light background, dark text: readable in screenshots and exported PNGs."""
    pg.setConfigOptions(background="w", foreground="k", antialias=False)


def axis_label(plot: pg.PlotItem, side: str, text: str, unit: str) -> None:
    axis = plot.getAxis(side)
    # The SI prefix would turn 1500 MiB into "1.5 kMiB"; the units here are already chosen.
    axis.enableAutoSIPrefix(False)
    axis.setStyle(maxTickLevel=1)
    plot.setLabel(side, text, units=unit or None)


def legend_row(plot: pg.PlotItem, entries: int) -> pg.LegendItem:
    """A one-row legend in the plot's own layout, between the title and the plot area (the
    cell of the hidden top axis), so it takes its own space instead of covering data."""
    legend = pg.LegendItem(colCount=entries, labelTextSize="8pt", frame=False, horSpacing=4)
    plot.layout.removeItem(plot.getAxis("top"))  # hidden, but it holds the cell
    plot.layout.addItem(legend, 1, 1)
    plot.layout.setAlignment(legend, Qt.AlignmentFlag.AlignHCenter)
    legend.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
    plot.layout.setRowFixedHeight(1, LEGEND_ROW_PX)
    return legend


class PlotGrid(QWidget):
    """A widget around one pyqtgraph layout; subclasses add their plots to ``layout_widget``."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.layout_widget = pg.GraphicsLayoutWidget()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.layout_widget)


class ChartPanel(PlotGrid):
    """The four charts; ``followingChanged`` tells the window when to offer "Follow".
    ``specs`` says which (a watched program's differ from a crawl's)."""

    followingChanged = Signal(bool)

    def __init__(
        self, parent: QWidget | None = None, specs: tuple[ChartSpec, ...] = CHARTS
    ) -> None:
        super().__init__(parent)
        self.specs = specs
        self.plots: dict[str, pg.PlotItem] = {}
        self.curves: dict[str, pg.PlotDataItem] = {}
        self._legend_names: dict[str, tuple[pg.LegendItem, str]] = {}
        self._legend_values: dict[str, str] = {}
        self.refresh_ms: deque[float] = deque(maxlen=50)  # how long the recent redraws took
        self.legends: dict[str, pg.LegendItem] = {}
        self._markers: deque[tuple[float, list[pg.InfiniteLine]]] = deque()
        self._following = True
        self._programmatic = False
        self._last_stamp: tuple[int, float] | None = None
        self._times: Callable[[], np.ndarray] | None = None
        self._series: Callable[[str], np.ndarray] | None = None
        first: pg.PlotItem | None = None
        for i, spec in enumerate(specs):
            plot = self.layout_widget.addPlot(row=i // 2, col=i % 2)
            plot.setTitle(spec.title, size="10pt")
            plot.titleLabel.setMaximumHeight(TITLE_ROW_PX)
            plot.layout.setRowFixedHeight(0, TITLE_ROW_PX)
            plot.setDownsampling(auto=True, mode="peak")
            plot.setClipToView(True)
            # A chart whose series come later (a watched program's queues) gets room for four.
            self.legends[spec.name] = legend_row(plot, len(spec.series) or 4)
            axis_label(plot, "left", spec.axis_label, spec.unit)
            axis_label(plot, "bottom", "time", "s")
            plot.setMenuEnabled(False)
            view = plot.getViewBox()
            view.setAutoVisible(y=True)
            view.enableAutoRange(axis="y")
            view.setLimits(xMin=0)
            view.setMouseEnabled(x=True, y=False)
            view.sigRangeChangedManually.connect(self._on_manual_range)
            if first is None:
                first = plot
            else:
                plot.setXLink(first)
            self.plots[spec.name] = plot
            for key, name in spec.series:
                self.add_series(spec.name, key, name)
        self._apply_x_range(0.0)
        self.timer = QTimer(self)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(self.refresh)

    @property
    def first_plot(self) -> pg.PlotItem:
        return self.plots[self.specs[0].name]

    def add_series(self, chart: str, key: str, name: str) -> None:
        """One more curve (metric ``key``, legend ``name``) on chart ``chart``."""
        plot = self.plots[chart]
        color = SERIES_COLORS[len(plot.listDataItems()) % len(SERIES_COLORS)]
        # Cosmetic 1 px pens: wider ones cost the raster engine several times more.
        style = Qt.PenStyle.DashLine if key == PEAK_RSS else Qt.PenStyle.SolidLine
        self.curves[key] = plot.plot(pen=pg.mkPen(color, width=1, style=style))
        legend = self.legends[chart]
        legend.addItem(self.curves[key], name)
        if key in VALUE_IN_LEGEND:
            self._legend_names[key] = (legend, name)

    def set_source(
        self, times: Callable[[], np.ndarray], series: Callable[[str], np.ndarray]
    ) -> None:
        """Where samples come from (the sampler's ``times`` and ``series``); starts the timer."""
        self._times = times
        self._series = series
        self.timer.start()

    @property
    def following(self) -> bool:
        return self._following

    def follow(self) -> None:
        self._set_following(True)
        self._last_stamp = None
        self.refresh()

    def refresh(self) -> None:
        """One redraw: skipped when no new sample has arrived."""
        if self._times is None or self._series is None:  # set together by set_source
            return
        times = self._times()
        if len(times) == 0:
            return
        stamp = (len(times), float(times[-1]))
        if stamp == self._last_stamp:
            return
        started = time.perf_counter()
        self._last_stamp = stamp
        rss = self._series("rss_mib")
        for key, curve in self.curves.items():
            # One read of RSS for both of its lines, so the peak is never below the current.
            if key == PEAK_RSS:
                values = np.maximum.accumulate(rss)
            else:
                values = rss if key == "rss_mib" else self._series(key)
            n = min(len(values), len(times))
            curve.setData(times[-n:], values[-n:]) if n else curve.setData([], [])
            if key in self._legend_names and n:
                self._show_value(key, float(values[-1]))
        if self._following:
            self._apply_x_range(float(times[-1]))
        self._drop_markers_before(float(times[0]))
        for plot in self.plots.values():
            # Settle the y auto-range now; left to paint time it changes the range mid-paint
            # and pyqtgraph paints the whole scene a second time.
            plot.getViewBox().prepareForPaint()
        self.refresh_ms.append(1000.0 * (time.perf_counter() - started))

    def _show_value(self, key: str, value: float) -> None:
        """The newest value in the legend entry, relabelled only when its text changes."""
        text = f"{value:,.0f} {VALUE_IN_LEGEND[key]}"
        if self._legend_values.get(key) == text:
            return
        self._legend_values[key] = text
        legend, name = self._legend_names[key]
        label = legend.getLabel(self.curves[key])
        label.setText(f"{name} {text}", size="8pt")

    def legend_text(self, key: str) -> str:
        legend, _name = self._legend_names[key]
        return str(legend.getLabel(self.curves[key]).text)

    def add_marker(self, t: float, text: str) -> None:
        """A labelled vertical line at ``t`` (chart seconds) on every chart."""
        position = self._free_label_position(t)
        lines = []
        for plot in self.plots.values():
            line = pg.InfiniteLine(
                pos=t,
                angle=90,
                movable=False,
                pen=pg.mkPen(MARKER_COLOR, width=1, style=pg.QtCore.Qt.PenStyle.DashLine),
                label=text,
                labelOpts={
                    "position": position,
                    "color": MARKER_COLOR,
                    "fill": (255, 255, 255, 200),
                    # pyqtgraph picks the first in the left half of the view, the second in
                    # the right: the label stays on the side of the line that has room.
                    "anchors": [(0, 0.5), (1, 0.5)],
                },
            )
            plot.addItem(line, ignoreBounds=True)
            lines.append(line)
        self._markers.append((t, lines))
        while len(self._markers) > MAX_MARKERS:
            self._remove_marker(self._markers.popleft())

    def _free_label_position(self, t: float) -> float:
        near = {
            lines[0].label.orthoPos
            for other, lines in self._markers
            if abs(other - t) < LABEL_NEAR_S
        }
        free = [p for p in LABEL_POSITIONS if p not in near]
        return free[0] if free else LABEL_POSITIONS[len(self._markers) % len(LABEL_POSITIONS)]

    def markers(self) -> list[tuple[float, str]]:
        return [(t, lines[0].label.format) for t, lines in self._markers]

    def export_png(self, name: str, path: str) -> None:
        """One chart (by ``ChartSpec.name``) as PNG at twice its on-screen width."""
        exporter = pyqtgraph.exporters.ImageExporter(self.plots[name])
        width = int(max(self.plots[name].width(), 400) * 2)
        exporter.parameters()["width"] = width
        exporter.export(path)

    def export_all_png(self, path: str) -> bool:
        return self.layout_widget.grab().save(path)

    def _drop_markers_before(self, t: float) -> None:
        while self._markers and self._markers[0][0] < t:
            self._remove_marker(self._markers.popleft())

    def _remove_marker(self, marker: tuple[float, list[pg.InfiniteLine]]) -> None:
        for plot, line in zip(self.plots.values(), marker[1], strict=True):
            plot.removeItem(line)

    def _apply_x_range(self, newest: float) -> None:
        right = max(newest, MIN_SPAN_S)
        left = max(0.0, right - FOLLOW_SPAN_S)
        self._programmatic = True
        try:
            self.first_plot.setXRange(left, right, padding=0.02)
        finally:
            self._programmatic = False

    def _on_manual_range(self, *_args) -> None:
        if not self._programmatic:
            self._set_following(False)

    def _set_following(self, on: bool) -> None:
        if on != self._following:
            self._following = on
            self.followingChanged.emit(on)
