"""The Hosts tab: the per-host report (``core.hosts``) of the crawl, refreshed while it runs.

One row per host, most pages first, at most ``MAX_ROWS`` (a crawl of 100 000 hosts shows its
busiest); the Errors cell's tooltip lists them by kind. Cells are formatted once per refresh;
while the hosts stay the same, a refresh only repaints (no reset, so selection and scroll stay).
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt

from core.hosts import HostRow
from gui.table_model import ListTableModel

MAX_ROWS = 500
HEADERS = (
    "Host",
    "Pages",
    "MiB",
    "Errors",
    "Robots",
    "Redirects",
    "Mean ms",
    "p95 ms",
    "Delay s",
    "In flight",
)
NUMERIC = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
ERRORS = 3


def cells(row: HostRow) -> tuple[str, ...]:
    return (
        row.host,
        f"{row.pages:,}",
        f"{row.bytes / 1_048_576:.1f}",
        f"{row.errors:,}",
        f"{row.robots_excluded:,}",
        f"{row.redirects:,}",
        f"{row.mean_ms:.1f}",
        f"{row.p95_ms:.1f}",
        f"{row.delay_s:.3g}",
        str(row.in_flight),
    )


class HostsModel(ListTableModel):
    """``update(rows)`` with a fresh ``Crawler.hosts()``; ``clear()`` for a new crawl."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._rows: list[HostRow] = []
        self._cells: list[tuple[str, ...]] = []

    def headers(self) -> Sequence[str]:
        return HEADERS

    def update(self, rows: Sequence[HostRow]) -> None:
        rows = list(rows[:MAX_ROWS])
        same = [r.host for r in rows] == [r.host for r in self._rows]
        if not same:
            self.beginResetModel()
        self._rows = rows
        self._cells = [cells(row) for row in rows]
        if not same:
            self.endResetModel()
        elif rows:
            last = self.index(len(rows) - 1, len(HEADERS) - 1)
            self.dataChanged.emit(self.index(0, 0), last)

    def clear(self) -> None:
        self.update([])

    def rows(self) -> list[HostRow]:
        return list(self._rows)

    def data(self, index: QModelIndex | QPersistentModelIndex, role=Qt.ItemDataRole.DisplayRole):
        row, column = index.row(), index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._cells[row][column]
        if role == Qt.ItemDataRole.TextAlignmentRole and column > 0:
            return NUMERIC
        if role == Qt.ItemDataRole.ToolTipRole and column == ERRORS:
            kinds = self._rows[row].errors_by_kind
            return "\n".join(f"{kind}: {n}" for kind, n in sorted(kinds.items())) or None
        return None
