"""The Timeline tab: one row per worker thread, coloured by state over time (like VisualVM).

Each worker keeps its last state changes, at most ``MAX_SEGMENTS`` per lane and
``TOTAL_SEGMENTS`` over all lanes (a lane's share shrinks as lanes are added), so memory is
bounded however long the run and however many threads. Drawing is vectorised: only segments
in the visible time range, at most one per screen pixel per lane (the last state in that
pixel, stretched over it), one ``BarGraphItem`` per state, rebuilt a few times a second while
the tab is visible. Hovering shows the URL and duration.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QTimer
from PySide6.QtGui import QCursor
from PySide6.QtWidgets import QHBoxLayout, QLabel, QToolTip, QVBoxLayout, QWidget

from core.events import FetchFinished, WorkerStarted, WorkerStateChanged, WorkerStopped
from gui.palette import STATE_COLORS

MAX_SEGMENTS = 5_000
TOTAL_SEGMENTS = 200_000
MIN_SEGMENTS = 50
REFRESH_MS = 250
ROW_HEIGHT = 0.8
LABEL_PX = 14  # vertical pixels one lane label needs


@dataclass(slots=True)
class _Lane:
    """State changes of one worker: parallel bounded deques of start time, state code, URL."""

    starts: deque = field(default_factory=lambda: deque(maxlen=MAX_SEGMENTS))
    codes: deque = field(default_factory=lambda: deque(maxlen=MAX_SEGMENTS))
    urls: deque = field(default_factory=lambda: deque(maxlen=MAX_SEGMENTS))
    ended: float | None = None

    def limit(self, maxlen: int) -> None:
        """Keep at most the newest ``maxlen`` segments from now on."""
        if self.starts.maxlen != maxlen:
            self.starts = deque(self.starts, maxlen=maxlen)
            self.codes = deque(self.codes, maxlen=maxlen)
            self.urls = deque(self.urls, maxlen=maxlen)

    def add(self, t: float, code: int, url: str) -> None:
        self.starts.append(t)
        self.codes.append(code)
        self.urls.append(url)

    def arrays(self, now: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(starts, ends, codes) of every kept segment."""
        n = len(self.starts)
        starts = np.fromiter(self.starts, dtype=float, count=n)
        ends = np.empty_like(starts)
        ends[:-1] = starts[1:]
        if n:
            ends[-1] = self.ended if self.ended is not None else now
        return starts, ends, np.fromiter(self.codes, dtype=np.int8, count=n)

    def segment_at(self, t: float, now: float) -> tuple[int, str, float, float] | None:
        starts = list(self.starts)
        i = bisect.bisect_right(starts, t) - 1
        if i < 0:
            return None
        end = starts[i + 1] if i + 1 < len(starts) else (self.ended or now)
        if t > end:
            return None
        return self.codes[i], self.urls[i], starts[i], end


class TimelineView(QWidget):
    """Worker lanes; x is chart seconds (same clock as the charts, so they can be linked)."""

    def __init__(
        self,
        clock: Callable[[float], float],
        parent: QWidget | None = None,
        colors: Mapping[str, str] = STATE_COLORS,
        title: str = "Worker state over time (hover a segment for its URL):",
        lane_label: str = "worker",
    ) -> None:
        """``clock`` maps a ``time.monotonic()`` stamp to chart seconds; ``colors`` names the
        states lanes can be in (a watched program's differ from a crawl's workers')."""
        super().__init__(parent)
        self._clock = clock
        self._states = tuple(colors)
        self._codes = {state: code for code, state in enumerate(self._states)}
        self._lanes: dict[str, _Lane] = {}
        self._order: list[str] = []
        self._now = 0.0
        self._dirty = False
        self.plot_widget = pg.PlotWidget()
        self.plot = self.plot_widget.getPlotItem()
        self.plot.setMenuEnabled(False)
        self.plot.getAxis("bottom").enableAutoSIPrefix(False)
        self.plot.setLabel("bottom", "time", units="s")
        self.plot.setLabel("left", lane_label)
        # x follows the charts (see follow_x); panning happens there.
        self.plot.getViewBox().setMouseEnabled(x=False, y=False)
        self.plot.getViewBox().invertY(True)
        self._bars: dict[str, pg.BarGraphItem] = {}
        key = QHBoxLayout()
        key.addWidget(QLabel(title))
        for state, color in colors.items():
            bars = pg.BarGraphItem(x0=[], width=[], y0=[], height=[], brush=color, pen=None)
            self.plot.addItem(bars)
            self._bars[state] = bars
            swatch = QLabel(f'<span style="color:{color}">■</span> {state}')
            key.addWidget(swatch)
        key.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 0, 0)
        layout.addLayout(key)
        layout.addWidget(self.plot_widget)
        self.plot_widget.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.plot.getViewBox().sigXRangeChanged.connect(self._mark_dirty)
        self.plot.getViewBox().sigResized.connect(self._label_lanes)
        self.timer = QTimer(self)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(self.refresh)
        self.timer.start()

    def follow_x(self, plot: pg.PlotItem) -> None:
        """Show the same time span as ``plot``.

        Not ``setXLink``: pyqtgraph aligns linked views pixel by pixel on screen, which would
        give this wider view a different span than the charts above it.
        """
        plot.getViewBox().sigXRangeChanged.connect(
            lambda _view, x_range: self.plot.setXRange(*x_range, padding=0)
        )

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
                self.add_state(event.name, t, str(event.state), event.url or "")
            elif isinstance(event, FetchFinished):  # the page was parsed from parse_started on
                if event.parse_started is not None:
                    parsed = self._clock(event.parse_started)
                    self.add_state(event.worker, parsed, "parsing", event.result.url)
            elif isinstance(event, WorkerStarted):
                self.add_state(event.name, t, "idle", "")
            elif isinstance(event, WorkerStopped):
                self.add_state(event.name, t, "stopped", "")
                self.end_lane(event.name, t)

    def add_state(self, name: str, t: float, state: str, detail: str) -> None:
        """Lane ``name`` is in ``state`` from ``t`` (chart seconds); ``detail`` shows on hover."""
        self._lane(name).add(t, self._codes.get(state, 0), detail)
        self._dirty = True

    def end_lane(self, name: str, t: float) -> None:
        """Lane ``name``'s thread ended at ``t``: its last segment stops there."""
        self._lane(name).ended = t
        self._dirty = True

    def set_now(self, now: float) -> None:
        """The right end of every open segment (chart seconds)."""
        self._now = now
        self._dirty = True

    def segment_at(self, name: str, t: float) -> tuple[str, str, float, float] | None:
        """(state, url, start, end) of ``name``'s segment covering ``t``."""
        lane = self._lanes.get(name)
        segment = lane.segment_at(t, self._now) if lane else None
        if segment is None:
            return None
        code, url, start, end = segment
        return self._states[code], url, start, end

    def refresh(self) -> None:
        if not self._dirty or not self.isVisible():
            return
        self._dirty = False
        view = self.plot.getViewBox()
        left, right = view.viewRange()[0]
        pixel = max((right - left) / max(view.width(), 1.0), 1e-9)
        parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        for row, name in enumerate(self._order):
            starts, ends, codes = self._lanes[name].arrays(self._now)
            visible = (ends >= left) & (starts <= right)
            starts, ends, codes = starts[visible], ends[visible], codes[visible]
            if not len(starts):
                continue
            # One segment per pixel: keep the last of each pixel, starting where the first began.
            px = np.floor((starts - left) / pixel)
            last = np.flatnonzero(np.r_[px[1:] != px[:-1], True])
            first = np.r_[0, last[:-1] + 1]
            parts.append((starts[first], ends[last], codes[last], np.full(len(last), row)))
        if parts:
            x0, x1, codes, rows = (np.concatenate(column) for column in zip(*parts, strict=True))
        else:
            x0 = x1 = rows = np.empty(0)
            codes = np.empty(0, dtype=np.int8)
        for code, state in enumerate(self._states):
            chosen = codes == code
            self._bars[state].setOpts(
                x0=x0[chosen],
                width=np.maximum(x1[chosen] - x0[chosen], 0.0),
                y0=rows[chosen] - ROW_HEIGHT / 2,
                height=ROW_HEIGHT,
            )

    def _lane(self, name: str) -> _Lane:
        lane = self._lanes.get(name)
        if lane is None:
            lane = _Lane()
            share = max(MIN_SEGMENTS, min(MAX_SEGMENTS, TOTAL_SEGMENTS // (len(self._lanes) + 1)))
            for other in (lane, *self._lanes.values()):
                other.limit(share)
            self._lanes[name] = lane
            self._order.append(name)
            self._label_lanes()
            self.plot.setYRange(-0.5, len(self._order) - 0.5, padding=0.02)
        return lane

    def _label_lanes(self, *_args) -> None:
        """Label every lane when they fit, every n-th when they would overlap."""
        height = max(1.0, self.plot.getViewBox().height())
        stride = max(1, math.ceil(len(self._order) * LABEL_PX / height))
        ticks = [(i, name.removeprefix("crawl-worker-")) for i, name in enumerate(self._order)]
        self.plot.getAxis("left").setTicks([ticks[::stride]])

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
