"""A small live picture of who waits for whom: threads and the locks between them.

Only locks somebody waits for are drawn, with their waiters and owners: an arrow thread → lock
means "waits for", lock → thread "held by". Nodes sit on a circle in the order the arrows run,
so a chain reads around it and a deadlock is a closed ring, drawn red.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPen, QPolygonF
from PySide6.QtWidgets import QSizePolicy, QWidget

from core.agent.waitgraph import short_site, thread_names
from gui.diagnostics.lock_rows import thread_name

MAX_LOCKS = 10  # the locks with the most waiters; the table lists them all
LABEL_CHARS = 26
RED = QColor("#c62828")
THREAD_FILL = QColor("#e3f2fd")
LOCK_FILL = QColor("#fff3e0")
CYCLE_FILL = QColor("#f8b4b4")
WAIT_PEN = QColor("#ef6c00")
HELD_PEN = QColor("#546e7a")


@dataclass(frozen=True, slots=True)
class Node:
    key: str  # "t<ident>" or the lock id
    label: str
    lock: bool
    in_cycle: bool


@dataclass(frozen=True, slots=True)
class Edge:
    source: str
    target: str
    waits: bool  # thread -> lock; else lock -> thread (held by)
    in_cycle: bool


@dataclass(frozen=True, slots=True)
class Graph:
    nodes: tuple[Node, ...] = ()
    edges: tuple[Edge, ...] = ()
    hidden_locks: int = 0  # locks with waiters left out past MAX_LOCKS
    order: tuple[str, ...] = ()  # node keys in arrow order, around the circle


def _clip(text: str) -> str:
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…"


def wait_graph(snap: Mapping[str, Any], cycles: Collection[Collection[int]] = ()) -> Graph:
    """The locks somebody waits for (most waiters first), their waiters and owners."""
    names = thread_names(snap)
    waited = sorted(
        (lock for lock in snap["locks"] if lock["waiters"]), key=lambda lock: -len(lock["waiters"])
    )
    shown = waited[:MAX_LOCKS]
    red_threads = {ident for cycle in cycles for ident in cycle}
    nodes: dict[str, Node] = {}
    edges: list[Edge] = []
    successors: dict[str, list[str]] = {}

    def thread(ident: int) -> str:
        key = f"t{ident}"
        label = _clip(thread_name(names, ident))
        nodes.setdefault(key, Node(key, label, lock=False, in_cycle=ident in red_threads))
        return key

    for lock in shown:
        owners = {owner["ident"] for owner in lock["owners"]}
        waiters = {waiter["ident"] for waiter in lock["waiters"]}
        red = bool(owners & red_threads) and bool(waiters & red_threads)
        label = f"{lock['kind']} [{lock['id']}]\n{_clip(short_site(lock['created_at']))}"
        nodes[lock["id"]] = Node(lock["id"], label, lock=True, in_cycle=red)
        for ident in sorted(waiters):
            key = thread(ident)
            edges.append(Edge(key, lock["id"], True, red and ident in red_threads))
            successors.setdefault(key, []).append(lock["id"])
        for ident in sorted(owners):
            key = thread(ident)
            edges.append(Edge(lock["id"], key, False, red and ident in red_threads))
            successors.setdefault(lock["id"], []).append(key)
    order = _order(nodes, edges, successors)
    return Graph(tuple(nodes.values()), tuple(edges), len(waited) - len(shown), order)


def _order(
    nodes: Mapping[str, Node], edges: list[Edge], successors: Mapping[str, list[str]]
) -> tuple[str, ...]:
    """Nodes in arrow order: each chain from its head (a node nothing points to), then rings."""
    targets = {edge.target for edge in edges}
    heads = [key for key in nodes if key not in targets]
    order: list[str] = []
    seen: set[str] = set()
    for start in [*heads, *nodes]:
        stack = [start]
        while stack:
            key = stack.pop()
            if key in seen:
                continue
            seen.add(key)
            order.append(key)
            stack.extend(reversed(successors.get(key, [])))
    return tuple(order)


class WaitGraphView(QWidget):
    """Paints a :class:`Graph`; :meth:`set_graph` replaces it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.graph = Graph()
        self.setMinimumHeight(180)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def sizeHint(self) -> QSize:
        return QSize(480, 240)

    def set_graph(self, graph: Graph) -> None:
        if graph != self.graph:
            self.graph = graph
            self.update()

    def paintEvent(self, _event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), self.palette().base())
        text_pen = self.palette().text().color()
        graph = self.graph
        if not graph.nodes:
            painter.setPen(text_pen)
            painter.drawText(
                self.rect(), Qt.AlignmentFlag.AlignCenter, "No thread waits for a lock now."
            )
            return
        boxes = self._boxes(painter)
        for edge in graph.edges:
            self._arrow(painter, boxes[edge.source], boxes[edge.target], edge)
        by_key = {node.key: node for node in graph.nodes}
        for key, box in boxes.items():
            node = by_key[key]
            fill = CYCLE_FILL if node.in_cycle else LOCK_FILL if node.lock else THREAD_FILL
            painter.setPen(QPen(RED if node.in_cycle else HELD_PEN, 2 if node.in_cycle else 1))
            painter.setBrush(fill)
            radius = 2.0 if node.lock else 8.0
            painter.drawRoundedRect(box, radius, radius)
            painter.setPen(text_pen)
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, node.label)
        painter.setPen(text_pen)
        legend = "thread → lock: waits for    lock → thread: held by"
        if graph.hidden_locks:
            legend += f"    ({graph.hidden_locks} more locks with waiters in the table)"
        painter.drawText(QPointF(6, self.fontMetrics().ascent() + 4), legend)

    def _boxes(self, painter: QPainter) -> dict[str, QRectF]:
        """Each node's box, centred on a circle (an ellipse filling the widget)."""
        metrics = painter.fontMetrics()
        keys = self.graph.order
        lines = {node.key: node.label.split("\n") for node in self.graph.nodes}
        widths = {key: max(map(metrics.horizontalAdvance, lines[key])) + 16 for key in keys}
        heights = {key: len(lines[key]) * metrics.height() + 8 for key in keys}
        widest, height = max(widths.values()), max(heights.values())
        cx, cy = self.width() / 2, (self.height() + metrics.height()) / 2
        rx = max(10.0, self.width() / 2 - widest / 2 - 8)
        ry = max(10.0, (self.height() - metrics.height()) / 2 - height / 2 - 8)
        boxes = {}
        for i, key in enumerate(keys):
            angle = math.pi + 2 * math.pi * i / len(keys)  # first node on the left, clockwise
            x, y = cx + rx * math.cos(angle), cy + ry * math.sin(angle)
            w, h = widths[key], heights[key]
            boxes[key] = QRectF(x - w / 2, y - h / 2, w, h)
        return boxes

    @staticmethod
    def _arrow(painter: QPainter, source: QRectF, target: QRectF, edge: Edge) -> None:
        start, end = source.center(), target.center()
        dx, dy = end.x() - start.x(), end.y() - start.y()
        length = math.hypot(dx, dy) or 1.0
        ux, uy = dx / length, dy / length

        def exit_at(box: QRectF, sign: float) -> QPointF:
            """Where the line from the box's centre along (ux, uy) * sign leaves the box."""
            sx = box.width() / 2 / abs(ux) if ux else math.inf
            sy = box.height() / 2 / abs(uy) if uy else math.inf
            t = min(sx, sy)
            return QPointF(box.center().x() + sign * ux * t, box.center().y() + sign * uy * t)

        a, b = exit_at(source, 1.0), exit_at(target, -1.0)
        color = RED if edge.in_cycle else WAIT_PEN if edge.waits else HELD_PEN
        pen = QPen(color, 2.5 if edge.in_cycle else 1.5)
        if edge.waits and not edge.in_cycle:
            pen.setStyle(Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.drawLine(a, b)
        size = 9.0
        left = QPointF(b.x() - size * (ux - uy * 0.5), b.y() - size * (uy + ux * 0.5))
        right = QPointF(b.x() - size * (ux + uy * 0.5), b.y() - size * (uy - ux * 0.5))
        painter.setPen(QPen(color, 1))
        painter.setBrush(color)
        painter.drawPolygon(QPolygonF([b, left, right]))
