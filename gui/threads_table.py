"""The Threads tab: one row per worker thread, updated in place from engine snapshots.

Other threads join the table when the stuck-thread watch flags them (group ``"other"``), and
any stuck row is highlighted with how long it has not moved in the last column.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

import psutil
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor

from core.stats import WorkerInfo
from gui.palette import STATE_COLORS

COLUMNS = (
    "Name",
    "Ident",
    "Native id",
    "Daemon",
    "State",
    "For (s)",
    "Current URL",
    "Pages",
    "CPU (s)",
    "Last error",
    "Stuck (s)",
)
STATE_COLUMN = COLUMNS.index("State")
STUCK_COLUMN = COLUMNS.index("Stuck (s)")
EXITED = "exited"
STATE_BRUSHES = {state: QBrush(QColor(color).lighter(160)) for state, color in STATE_COLORS.items()}
STUCK_BRUSH = QBrush(QColor("#f8b4b4"))
DEADLOCK_BRUSH = QBrush(QColor("#e57373"))
WORKERS = "workers"


@dataclass(frozen=True, slots=True)
class ThreadRow:
    name: str
    ident: int | None
    native_id: int | None
    daemon: bool
    state: str
    since: float
    url: str
    pages: int
    cpu_s: float | None
    last_error: str

    def cells(self, now: float) -> tuple:
        return (
            self.name,
            self.ident,
            self.native_id,
            "yes" if self.daemon else "no",
            self.state,
            f"{max(0.0, now - self.since):.1f}" if self.state != EXITED else "",
            self.url,
            self.pages,
            f"{self.cpu_s:.2f}" if self.cpu_s is not None else "",
            self.last_error,
        )


def thread_cpu_seconds() -> dict[int, float]:
    """CPU seconds (user + system) per native thread id of this process."""
    try:
        return {t.id: t.user_time + t.system_time for t in psutil.Process().threads()}
    except psutil.Error:
        return {}


def row_from_worker(info: WorkerInfo, cpu: dict[int, float]) -> ThreadRow:
    """Build a row from an engine ``WorkerInfo`` snapshot."""
    return ThreadRow(
        name=info.name,
        ident=info.ident,
        native_id=info.native_id,
        daemon=bool(info.daemon),
        state=str(info.state),
        since=info.state_since,
        url=info.url or "",
        pages=info.pages,
        cpu_s=cpu.get(info.native_id) if info.native_id is not None else None,
        last_error=info.last_error or "",
    )


class ThreadsModel(QAbstractTableModel):
    """Rows keyed by thread name; existing rows change in place, new ones are appended.

    A worker that leaves the engine's list stays as ``exited`` until :meth:`clear`, so the
    table still shows the last thing each thread did after a stop. Each :meth:`update` covers
    one group of rows (the engine's workers by default), so the stuck watch can list other
    threads without the next worker snapshot marking them exited.
    """

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._rows: list[ThreadRow] = []
        self._cells: list[tuple] = []  # display texts, formatted once per update, not per paint
        self._index: dict[str, int] = {}
        self._groups: dict[str, str] = {}
        self._stuck: dict[str, tuple[float, str]] = {}  # name -> (seconds, where)
        self._deadlocked: frozenset[str] = frozenset()

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role=Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.DisplayRole:
            return self._cells[index.row()][index.column()]
        column = index.column()
        row = self._rows[index.row()]
        if role == Qt.ItemDataRole.ToolTipRole and column in (6, 9):
            return self._cells[index.row()][column]
        if role == Qt.ItemDataRole.ToolTipRole and row.name in self._deadlocked:
            return "In a deadlock: Diagnostics ▸ Locks shows the cycle"
        if role == Qt.ItemDataRole.ToolTipRole and row.name in self._stuck:
            seconds, where = self._stuck[row.name]
            return f"No progress for {seconds:.1f} s, in:\n{where}"
        if role == Qt.ItemDataRole.BackgroundRole:
            if row.name in self._deadlocked:
                return DEADLOCK_BRUSH
            if column == STATE_COLUMN:
                return STATE_BRUSHES.get(row.state)
            return STUCK_BRUSH if row.name in self._stuck else None
        return None

    def row(self, name: str) -> ThreadRow | None:
        i = self._index.get(name)
        return self._rows[i] if i is not None else None

    def rows(self) -> list[ThreadRow]:
        return list(self._rows)

    def stuck(self) -> dict[str, float]:
        """Name -> seconds without progress, for the rows flagged now."""
        return {name: seconds for name, (seconds, _where) in self._stuck.items()}

    def group(self, name: str) -> str | None:
        """The group whose updates list this row (None: no such row)."""
        return self._groups.get(name)

    def deadlocked(self) -> frozenset[str]:
        return self._deadlocked

    def set_deadlocked(self, names: Iterable[str]) -> None:
        """Highlight the rows of threads in a deadlock (every other row is cleared)."""
        chosen = frozenset(names)
        if chosen == self._deadlocked:
            return
        self._deadlocked = chosen
        self._repaint()

    def set_stuck(self, stuck: Mapping[str, tuple[float, str]]) -> None:
        """Flag rows (name -> (seconds without progress, where)); every other row is cleared."""
        if stuck == self._stuck:
            return
        self._stuck = dict(stuck)
        self._repaint()

    def _repaint(self) -> None:
        if self._rows:
            self._format()
            self.dataChanged.emit(
                self.index(0, 0),
                self.index(len(self._rows) - 1, len(COLUMNS) - 1),
                [Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.BackgroundRole],
            )

    def update(self, rows: Iterable[ThreadRow], group: str = WORKERS) -> None:
        """Merge a fresh snapshot of ``group``: change rows in place, append new ones, mark
        the group's rows missing from it as exited."""
        seen = set()
        new_rows = []
        changed = False
        for row in rows:
            seen.add(row.name)
            self._groups[row.name] = group
            i = self._index.get(row.name)
            if i is None:
                new_rows.append(row)
            elif self._rows[i] != row:
                self._rows[i] = row
                changed = True
        for i, old in enumerate(self._rows):
            if self._groups.get(old.name) != group:
                continue
            if old.name not in seen and old.state != EXITED:
                self._rows[i] = replace(old, state=EXITED, url="")
                changed = True
        before = len(self._rows)
        if new_rows:
            self.beginInsertRows(QModelIndex(), before, before + len(new_rows) - 1)
            for offset, row in enumerate(new_rows):
                self._index[row.name] = before + offset
                self._rows.append(row)
            self._format()
            self.endInsertRows()
        if before and (changed or self._has_live_rows()):
            if not new_rows:
                self._format()
            # "For (s)" ticks for live rows, so the whole range is refreshed in one signal.
            self.dataChanged.emit(
                self.index(0, 0),
                self.index(before - 1, len(COLUMNS) - 1),
                [Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.BackgroundRole],
            )

    def _format(self) -> None:
        now = time.monotonic()
        stuck = self._stuck
        self._cells = [
            (*row.cells(now), f"{stuck[row.name][0]:.1f}" if row.name in stuck else "")
            for row in self._rows
        ]

    def _has_live_rows(self) -> bool:
        return any(r.state != EXITED for r in self._rows)

    def clear(self) -> None:
        self.beginResetModel()
        self._rows.clear()
        self._cells.clear()
        self._index.clear()
        self._groups.clear()
        self.endResetModel()
