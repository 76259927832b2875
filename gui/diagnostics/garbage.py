"""The "Garbage collector" page: a collection on demand and the generations' counts over time.

The counts are sampled on every tick whether the page is shown or not, so the chart has the
history when it is opened; it shares the crawl charts' time axis.
"""

from __future__ import annotations

import logging
import time
from typing import Protocol

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLabel, QPushButton

from core.diagnostics import CollectResult
from gui.diagnostics.page import DiagnosticsPage, bar
from gui.palette import SERIES_COLORS

log = logging.getLogger(__name__)

GC_SPAN_S = 120.0
GC_PLOTS = (
    ("Generation 0: allocations minus deallocations since its last collection", ("gen 0",)),
    (
        "Generations 1 and 2: collections of the younger generation since their last",
        ("gen 1", "gen 2"),
    ),
)


class GcSource(Protocol):
    """Where the page reads the collector (:class:`gui.diagnostics.local.LocalGc`)."""

    def collect(self) -> CollectResult:
        """A full collection, generation by generation."""
        ...

    def sample(self) -> tuple[float, int, int, int]:
        """Record the generations' counts now: (``time.monotonic()``, gen 0, gen 1, gen 2)."""
        ...

    def samples(self) -> list[tuple[float, int, int, int]]:
        """The recorded counts, oldest first."""
        ...


class GcPage(DiagnosticsPage):
    """``t0`` is the charts' time zero (``MetricsSampler.t0``) so this chart shares their time
    axis."""

    title = "Garbage collector"
    collected = Signal(object)  # CollectResult, after any collection the page ran

    def __init__(self, source: GcSource, t0: float) -> None:
        super().__init__()
        self.source = source
        self._offset = time.monotonic() - t0
        self.collect_button = QPushButton("Collect")
        self.collect_button.setToolTip(
            "gc.collect() generation by generation: how many unreachable objects each held"
        )
        self.collect_button.clicked.connect(self.collect)
        self.result = QLabel("Not collected yet.")
        # gen 0 counts to its threshold (700 by default), gens 1 and 2 to 10: two scales.
        self.plots = pg.GraphicsLayoutWidget()
        self.curves: list[pg.PlotDataItem] = []
        plots = [self._plot(row, title, names) for row, (title, names) in enumerate(GC_PLOTS)]
        for plot in plots[1:]:
            plot.setXLink(plots[0])
        self.plot = plots[0]
        self.lay_out(bar(self.collect_button, self.result), self.plots)

    def _plot(self, row: int, title: str, names: tuple[str, ...]) -> pg.PlotItem:
        plot = self.plots.addPlot(row=row, col=0)
        plot.setTitle(title, size="9pt")
        plot.setMenuEnabled(False)
        plot.setLabel("left", "count")
        plot.setLabel("bottom", "time", units="s")
        for side in ("left", "bottom"):
            plot.getAxis(side).enableAutoSIPrefix(False)
        plot.getViewBox().setMouseEnabled(x=True, y=False)
        legend = plot.addLegend(offset=(-6, 2), labelTextSize="8pt", brush=(255, 255, 255, 200))
        legend.setZValue(1_000)
        for name in names:
            color = SERIES_COLORS[len(self.curves)]
            self.curves.append(plot.plot(name=name, pen=pg.mkPen(color, width=1)))
        return plot

    def collect(self) -> CollectResult:
        """A full collection on the GUI thread (it stops every Python thread whichever thread
        runs it); the result is shown, logged and emitted."""
        result = self.source.collect()
        gens = " / ".join(f"{n:,}" for n in result.collected_by_generation)
        before = ", ".join(f"{n:,}" for n in result.counts_before)
        after = ", ".join(f"{n:,}" for n in result.counts_after)
        self.result.setText(
            f"Collected {result.collected:,} objects (gen 0 / 1 / 2: {gens}) in "
            f"{result.elapsed_ms:.1f} ms; counts {before} → {after}; "
            f"uncollectable {result.uncollectable:,}"
        )
        log.info("gc collected %d objects (by generation: %s)", result.collected, gens)
        self.collected.emit(result)
        self.refresh()
        return result

    def tick(self) -> None:
        self.source.sample()

    def refresh(self) -> None:
        samples = self.source.samples()
        if not samples:
            return
        data = np.asarray(samples, dtype=float)
        t = data[:, 0] + self._offset
        for i, curve in enumerate(self.curves):
            curve.setData(t, data[:, i + 1])
        self.plot.setXRange(max(0.0, t[-1] - GC_SPAN_S), t[-1], padding=0.02)
