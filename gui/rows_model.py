"""A read-only, sortable table of rows that are replaced as a whole (a snapshot's top N)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt

from gui.table_model import ListTableModel


@dataclass(frozen=True, slots=True)
class Column:
    header: str
    field: str  # attribute of the row; its value is what the column sorts by
    fmt: Callable[[Any], str] = str

    @property
    def numeric(self) -> bool:
        return self.fmt is not str


def kib(size: int) -> str:
    return f"{size / 1024:,.1f}"


def signed_kib(size: int) -> str:
    return f"{size / 1024:+,.1f}"


def count(n: int) -> str:
    return f"{n:,}"


def signed_count(n: int) -> str:
    return f"{n:+,}"


def seconds(s: float) -> str:
    return f"{s:.4f}"


class RowsModel(ListTableModel):
    """Rows are frozen dataclasses; each :class:`Column` shows one field, numbers right-aligned.
    Clicking a header sorts (``QTableView.setSortingEnabled``)."""

    def __init__(self, columns: Sequence[Column], parent=None) -> None:
        super().__init__(parent)
        self.columns = tuple(columns)
        self._texts: list[tuple[str, ...]] = []
        self._sort: tuple[int, Qt.SortOrder] | None = None

    def headers(self) -> list[str]:
        return [c.header for c in self.columns]

    def data(self, index: QModelIndex | QPersistentModelIndex, role=Qt.ItemDataRole.DisplayRole):
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return self._texts[index.row()][index.column()]
        if role == Qt.ItemDataRole.TextAlignmentRole and self.columns[index.column()].numeric:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def rows(self) -> list:
        return list(self._rows)

    def set_rows(self, rows: Sequence) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        if self._sort is not None:
            self._sort_rows(*self._sort)
        self._format()
        self.endResetModel()

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self._sort = (column, order)
        self.layoutAboutToBeChanged.emit()
        self._sort_rows(column, order)
        self._format()
        self.layoutChanged.emit()

    def _sort_rows(self, column: int, order: Qt.SortOrder) -> None:
        self._rows.sort(
            key=attrgetter(self.columns[column].field),
            reverse=order == Qt.SortOrder.DescendingOrder,
        )

    def _format(self) -> None:
        self._texts = [
            tuple(c.fmt(getattr(row, c.field)) for c in self.columns) for row in self._rows
        ]
