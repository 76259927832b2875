"""A table model keeping only the newest ``capacity`` items: long runs cost constant memory."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, cast

from PySide6.QtCore import (
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)

from gui.table_model import ListTableModel


class CappedTableModel(ListTableModel):
    """Append-only rows; the oldest go in one removal per batch and are counted in ``hidden``.

    Subclasses set ``COLUMNS`` and implement :meth:`cell` (and optionally :meth:`background`).
    """

    COLUMNS: tuple[str, ...] = ()
    hiddenChanged = Signal(int)

    def __init__(self, capacity: int, parent=None) -> None:
        super().__init__(parent)
        self.capacity = capacity
        self.hidden = 0

    def headers(self) -> tuple[str, ...]:
        return self.COLUMNS

    def cell(self, item, column: int):
        raise NotImplementedError

    def background(self, item):
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role=Qt.ItemDataRole.DisplayRole):
        item = self._rows[index.row()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return self.cell(item, index.column())
        if role == Qt.ItemDataRole.BackgroundRole:
            return self.background(item)
        return None

    def item(self, row: int):
        return self._rows[row]

    def items(self) -> list:
        return list(self._rows)

    def append(self, items: Sequence) -> None:
        """Add a batch; drop what no longer fits in one removal."""
        if not items:
            return
        skipped = max(0, len(items) - self.capacity)
        items = items[skipped:]
        overflow = max(0, len(self._rows) + len(items) - self.capacity)
        if overflow:
            self.beginRemoveRows(QModelIndex(), 0, overflow - 1)
            del self._rows[:overflow]
            self.endRemoveRows()
        first = len(self._rows)
        self.beginInsertRows(QModelIndex(), first, first + len(items) - 1)
        self._rows.extend(items)
        self.endInsertRows()
        if overflow or skipped:
            self.hidden += overflow + skipped
            self.hiddenChanged.emit(self.hidden)

    def clear(self) -> None:
        self.beginResetModel()
        self._rows.clear()
        self.hidden = 0
        self.endResetModel()
        self.hiddenChanged.emit(0)


class PredicateFilter(QSortFilterProxyModel):
    """Shows the rows of a :class:`CappedTableModel` whose item passes ``predicate``."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._predicate: Callable[[Any], bool] | None = None

    def set_predicate(self, predicate: Callable[[Any], bool] | None) -> None:
        """``None`` shows every row."""
        if hasattr(self, "beginFilterChange"):  # Qt >= 6.10; invalidateRowsFilter is deprecated
            self.beginFilterChange()
            self._predicate = predicate
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self._predicate = predicate
            self.invalidateRowsFilter()

    def filterAcceptsRow(self, source_row: int, source_parent) -> bool:
        predicate = self._predicate
        source = cast(CappedTableModel, self.sourceModel())  # the only kind it filters
        return predicate is None or predicate(source.item(source_row))
