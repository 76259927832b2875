"""The Timeline tab: one row per worker thread, coloured by state over time (like VisualVM).

Each worker keeps its last ``MAX_SEGMENTS`` state changes, so memory is bounded however long
the run. Only segments inside the visible time range are drawn, one ``BarGraphItem`` per state,
rebuilt a few times a second while the tab is visible. Hovering shows the URL and duration.
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QTimer
from PySide6.QtGui import QCursor
from PySide6.QtWidgets import QToolTip, QVBoxLayout, QWidget

from core.events import WorkerStarted, WorkerStateChanged, WorkerStopped
from gui.palette import STATE_COLORS

MAX_SEGMENTS = 400
REFRESH_MS = 250
ROW_HEIGHT = 0.8


@dataclass(slots=True)
class _Lane:
    """State changes of one worker: parallel deques of start time, state and URL."""

    starts: deque
    states: deque
    urls: deque
    ended: float | None = None

    def add(self, t: float, state: str, url: str) -> None:
        self.starts.append(t)
        self.states.append(state)
        self.urls.append(url)

    def segment_at(self, t: float, now: float) -> tuple[str, str, float, float] | None:
        starts = list(self.starts)
        i = bisect.bisect_right(starts, t) - 1
        if i < 0:
            return None
        end = starts[i + 1] if i + 1 < len(starts) else (self.ended or now)
        if t > end:
            return None
        return self.states[i], self.urls[i], starts[i], end


class TimelineView(QWidget):
    """Worker lanes; x is chart seconds (same clock as the charts, so they can be linked)."""

    def __init__(self, clock: Callable[[float], float], parent: QWidget | None = None) -> None:
        """``clock`` maps a ``time.monotonic()`` stamp to chart seconds."""
        super().__init__(parent)
        self._clock = clock
        self._lanes: dict[str, _Lane] = {}
        self._order: list[str] = []
        self._now = 0.0
        self._dirty = False
        self.plot_widget = pg.PlotWidget()
        self.plot = self.plot_widget.getPlotItem()
        self.plot.setMenuEnabled(False)
        self.plot.getAxis("bottom").enableAutoSIPrefix(False)
        self.plot.setLabel("bottom", "time", units="s")
        self.plot.getViewBox().setMouseEnabled(x=True, y=False)
        self.plot.getViewBox().invertY(True)
        legend = self.plot.addLegend(offset=(-8, 4), colCount=len(STATE_COLORS))
        self._bars: dict[str, pg.BarGraphItem] = {}
        for state, color in STATE_COLORS.items():
            bars = pg.BarGraphItem(x0=[], width=[], y0=[], height=[], brush=color, pen=None)
            self.plot.addItem(bars)
            legend.addItem(bars, state)
            self._bars[state] = bars
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot_widget)
        self.plot_widget.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.plot.getViewBox().sigXRangeChanged.connect(self._mark_dirty)
        self.timer = QTimer(self)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(self.refresh)
        self.timer.start()

    def link_x(self, plot: pg.PlotItem) -> None:
        self.plot.setXLink(plot)

    def clear(self) -> None:
        self._lanes.clear()
        self._order.clear()
        self.plot.getAxis("left").setTicks([[]])
        self._dirty = True

    def lane_names(self) -> list[str]:
        return list(self._order)

    def add_events(self, events: list) -> None:
        """Feed a batch of worker events from the bridge."""
        for event in events:
            t = self._clock(event.t)
            if isinstance(event, WorkerStateChanged):
                self._lane(event.name).add(t, str(event.state), event.url or "")
            elif isinstance(event, WorkerStarted):
                self._lane(event.name).add(t, "idle", "")
            elif isinstance(event, WorkerStopped):
                lane = self._lane(event.name)
                lane.add(t, "stopped", "")
                lane.ended = t
        self._dirty = True

    def set_now(self, now: float) -> None:
        """The right end of every open segment (chart seconds)."""
        self._now = now
        self._dirty = True

    def segment_at(self, name: str, t: float) -> tuple[str, str, float, float] | None:
        """(state, url, start, end) of ``name``'s segment covering ``t``."""
        lane = self._lanes.get(name)
        return lane.segment_at(t, self._now) if lane else None

    def refresh(self) -> None:
        if not self._dirty or not self.isVisible():
            return
        self._dirty = False
        left, right = self.plot.getViewBox().viewRange()[0]
        columns: dict[str, tuple[list, list, list]] = {s: ([], [], []) for s in self._bars}
        for row, name in enumerate(self._order):
            lane = self._lanes[name]
            starts = list(lane.starts)
            ends = starts[1:] + [lane.ended if lane.ended is not None else self._now]
            for start, end, state in zip(starts, ends, lane.states, strict=True):
                if end < left or start > right or state not in columns:
                    continue
                x0, widths, ys = columns[state]
                x0.append(start)
                widths.append(max(end - start, 0.0))
                ys.append(row - ROW_HEIGHT / 2)
        for state, (x0, widths, ys) in columns.items():
            self._bars[state].setOpts(
                x0=np.asarray(x0, dtype=float),
                width=np.asarray(widths, dtype=float),
                y0=np.asarray(ys, dtype=float),
                height=ROW_HEIGHT,
            )

    def _lane(self, name: str) -> _Lane:
        lane = self._lanes.get(name)
        if lane is None:
            lane = _Lane(
                deque(maxlen=MAX_SEGMENTS), deque(maxlen=MAX_SEGMENTS), deque(maxlen=MAX_SEGMENTS)
            )
            self._lanes[name] = lane
            self._order.append(name)
            self.plot.getAxis("left").setTicks([list(enumerate(self._order))])
            self.plot.setYRange(-0.5, len(self._order) - 0.5, padding=0.02)
        return lane

    def _mark_dirty(self, *_args) -> None:
        self._dirty = True

    def _on_mouse_moved(self, scene_pos: QPointF) -> None:
        view = self.plot.getViewBox()
        if not view.sceneBoundingRect().contains(scene_pos):
            return
        point = view.mapSceneToView(scene_pos)
        row = round(point.y())
        if not 0 <= row < len(self._order):
            QToolTip.hideText()
            return
        name = self._order[row]
        segment = self.segment_at(name, point.x())
        if segment is None:
            QToolTip.hideText()
            return
        state, url, start, end = segment
        text = f"{name}: {state} for {end - start:.3f} s"
        if url:
            text += f"\n{url}"
        QToolTip.showText(QCursor.pos(), text, self.plot_widget)
