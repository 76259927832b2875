"""The Log tab: ``logging`` records of the crawl, newest last, bounded."""

from __future__ import annotations

import logging
import time

from PySide6.QtGui import QBrush, QColor

from gui.capped_model import CappedTableModel

LEVEL_BRUSHES = {
    logging.WARNING: QBrush(QColor("#fff4ce")),
    logging.ERROR: QBrush(QColor("#fde2e1")),
    logging.CRITICAL: QBrush(QColor("#f8b4b4")),
}
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class LogModel(CappedTableModel):
    COLUMNS = ("Time", "Thread", "Level", "Message")

    def __init__(self, capacity: int = 5_000, parent=None) -> None:
        super().__init__(capacity, parent)

    def cell(self, record: logging.LogRecord, column: int):
        if column == 0:
            stamp = time.strftime("%H:%M:%S", time.localtime(record.created))
            return f"{stamp}.{int(record.msecs):03d}"
        if column == 1:
            return record.threadName
        if column == 2:
            return record.levelname
        return record.getMessage()

    def background(self, record: logging.LogRecord):
        return LEVEL_BRUSHES.get(record.levelno)


def at_least(level_name: str):
    """A row predicate for :class:`PredicateFilter`: records at ``level_name`` or above."""
    level = logging.getLevelName(level_name)
    return lambda record: record.levelno >= level
