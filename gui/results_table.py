"""The Results tab: the newest results, filterable to errors.

The complete record of a run is the engine's JSONL results file; this model keeps only the
last rows (see :class:`CappedTableModel`) and says how many scrolled away.
"""

from __future__ import annotations

from PySide6.QtGui import QBrush, QColor

from core.events import PageResult
from gui.capped_model import CappedTableModel

ERROR_BRUSH = QBrush(QColor("#fde2e1"))


class ResultsModel(CappedTableModel):
    COLUMNS = ("URL", "Status", "Bytes", "ms", "Depth", "Error")

    def __init__(self, capacity: int = 10_000, parent=None) -> None:
        super().__init__(capacity, parent)

    def cell(self, result: PageResult, column: int):
        if column == 0:
            return result.url
        if column == 1:
            return "" if result.status is None else result.status
        if column == 2:
            return result.bytes
        if column == 3:
            return round(result.elapsed_ms, 1)
        if column == 4:
            return result.depth
        error = result.error
        return f"{error.kind}: {error.message}" if error else ""

    def background(self, result: PageResult):
        return ERROR_BRUSH if result.failed else None
