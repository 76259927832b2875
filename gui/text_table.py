"""A read-only table of ready-made text cells: experiment results and run comparisons.

Rows are replaced as a whole (a finished comparison, two picked runs), never appended, so a
plain reset is the honest model update; bold rows mark what a verdict rests on.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QFont

from gui.table_model import ListTableModel

NUMERIC = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter


class TextTableModel(ListTableModel):
    """``set_rows(headers, rows, bold=...)``; columns listed in ``right`` are right-aligned."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._headers: tuple[str, ...] = ()
        self._rows: list[tuple[str, ...]] = []
        self._bold: frozenset[int] = frozenset()
        self._right: frozenset[int] = frozenset()
        self._tips: dict[int, str] = {}
        self._font = QFont()
        self._font.setBold(True)

    def set_rows(
        self,
        headers: Sequence[str],
        rows: Sequence[Sequence[str]],
        bold: Sequence[int] = (),
        right: Sequence[int] = (),
        tips: dict[int, str] | None = None,
    ) -> None:
        """Replace everything; ``tips`` maps a row to its tooltip."""
        self.beginResetModel()
        self._headers = tuple(headers)
        self._rows = [tuple(row) for row in rows]
        self._bold = frozenset(bold)
        self._right = frozenset(right)
        self._tips = dict(tips or {})
        self.endResetModel()

    def clear(self) -> None:
        self.set_rows(self._headers, [])

    def headers(self) -> tuple[str, ...]:
        return self._headers

    def row(self, row: int) -> tuple[str, ...]:
        return self._rows[row]

    def data(self, index: QModelIndex | QPersistentModelIndex, role=Qt.ItemDataRole.DisplayRole):
        row, column = index.row(), index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._rows[row][column]
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tips.get(row) or self._rows[row][column]
        if role == Qt.ItemDataRole.FontRole and row in self._bold:
            return self._font
        if role == Qt.ItemDataRole.TextAlignmentRole and column in self._right:
            return NUMERIC
        return None
