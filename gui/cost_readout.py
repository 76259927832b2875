"""What the window itself costs, measured cheaply and shown in the status bar.

A tool that measures other programs should show its own overhead (VisualVM and Locust do):

- sampler CPU per second: the sampler's own ``sampler_cpu_ms`` over its last second of ticks;
- chart refresh time: the charts time each redraw they make (``ChartPanel.refresh_ms``);
- event-loop lateness p99 over the last minute: a 100 ms probe timer notes how late each of
  its ticks fires (a busy GUI thread or a GIL held by workers delays every timer alike);
- events dropped: crawl events the window's subscriber lost because it fell behind;
- frames per second: paint events of the charts' view, counted by an event filter.

Each probe is a clock read and an append; the label is rewritten once a second.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtWidgets import QLabel, QWidget

from core.sampler import MetricsSampler
from gui.charts import ChartPanel

PROBE_MS = 100
WINDOW_S = 60.0
SHOW_MS = 1_000


@dataclass(frozen=True, slots=True)
class Cost:
    sampler_cpu_ms_per_s: float
    chart_refresh_ms: float  # mean of the recent redraws
    chart_refresh_max_ms: float
    lateness_p99_ms: float  # over the last minute
    events_dropped: int
    fps: float

    def text(self) -> str:
        return (
            f"cost: sampler {self.sampler_cpu_ms_per_s:.1f} ms/s · charts "
            f"{self.chart_refresh_ms:.1f} ms · lag p99 {self.lateness_p99_ms:.0f} ms · "
            f"{self.fps:.0f} fps"
        )

    def tooltip(self) -> str:
        return "\n".join(
            (
                "What Threadscope itself costs:",
                f"sampler CPU: {self.sampler_cpu_ms_per_s:.2f} ms per second",
                f"chart refresh: {self.chart_refresh_ms:.2f} ms mean, "
                f"{self.chart_refresh_max_ms:.2f} ms max of the recent redraws",
                f"event-loop lateness p99 (last minute): {self.lateness_p99_ms:.1f} ms",
                f"events dropped: {self.events_dropped:,}",
                f"frames per second (charts): {self.fps:.1f}",
            )
        )


class _PaintCounter(QObject):
    """Counts paint events of one widget (the charts' viewport), newest stamps kept."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.stamps: deque[float] = deque(maxlen=1_000)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.stamps.append(time.monotonic())
        return False


class CostMonitor(QObject):
    """Probes and the status-bar ``label`` (text and tooltip) rewritten once a second."""

    def __init__(
        self,
        sampler: MetricsSampler,
        charts: ChartPanel,
        dropped: Callable[[], int],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._sampler = sampler
        self._charts = charts
        self._dropped = dropped
        self._lateness: deque[tuple[float, float]] = deque()  # (monotonic, ms late)
        self._last_probe = time.monotonic()
        self._paints = _PaintCounter(self)
        charts.layout_widget.viewport().installEventFilter(self._paints)
        self.label = QLabel()
        self.label.setObjectName("status_cost")
        self.probe = QTimer(self)
        self.probe.setTimerType(Qt.TimerType.PreciseTimer)
        self.probe.setInterval(PROBE_MS)
        self.probe.timeout.connect(self._on_probe)
        self.probe.start()
        self.timer = QTimer(self)
        self.timer.setInterval(SHOW_MS)
        self.timer.timeout.connect(self.show)
        self.timer.start()

    def _on_probe(self) -> None:
        now = time.monotonic()
        late_ms = max(0.0, 1000.0 * (now - self._last_probe) - PROBE_MS)
        self._last_probe = now
        lateness = self._lateness
        lateness.append((now, late_ms))
        while lateness and lateness[0][0] < now - WINDOW_S:
            lateness.popleft()

    def measure(self) -> Cost:
        now = time.monotonic()
        per_second = max(1, round(1.0 / self._sampler.interval))
        sampler_ms = float(self._sampler.series("sampler_cpu_ms")[-per_second:].sum())
        refresh = np.asarray(self._charts.refresh_ms, dtype=float)
        late = np.asarray([ms for _t, ms in self._lateness], dtype=float)
        frames = sum(1 for t in self._paints.stamps if t >= now - 1.0)
        return Cost(
            sampler_cpu_ms_per_s=sampler_ms,
            chart_refresh_ms=float(refresh.mean()) if len(refresh) else 0.0,
            chart_refresh_max_ms=float(refresh.max()) if len(refresh) else 0.0,
            lateness_p99_ms=float(np.percentile(late, 99)) if len(late) else 0.0,
            events_dropped=self._dropped(),
            fps=float(frames),
        )

    def show(self) -> None:
        cost = self.measure()
        self.label.setText(cost.text())
        self.label.setToolTip(cost.tooltip())

    def stop(self) -> None:
        self.probe.stop()
        self.timer.stop()
