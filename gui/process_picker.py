"""The process picker: the user's Python processes (pid, command, threads, RSS) to attach to.

Listing reads ``/proc`` for every process (psutil), a few milliseconds; it happens when the
dialog opens and on Refresh, never on a timer. The filter matches the pid or any text of the
command line.
"""

from __future__ import annotations

from PySide6.QtCore import QSortFilterProxyModel, Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from core.watch.processes import PythonProcess, python_processes
from gui.text_table import TextTableModel

HEADERS = ("PID", "Command", "Threads", "RSS (MiB)")


class ProcessPicker(QDialog):
    """``exec()`` then ``selected_pid()`` (None when nothing was picked)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Attach to a running Python process")
        self.resize(820, 420)
        self.processes: list[PythonProcess] = []
        self.model = TextTableModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setFilterKeyColumn(-1)  # any column: pid or command
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter: pid or any part of the command")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self.proxy.setFilterFixedString)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        self.count = QLabel()
        self.view = QTableView()
        self.view.setModel(self.proxy)
        self.view.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QTableView.SelectionMode.SingleSelection)
        self.view.verticalHeader().setVisible(False)
        self.view.setWordWrap(False)
        self.view.doubleClicked.connect(lambda _index: self.accept())
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Attach")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        top = QHBoxLayout()
        top.addWidget(self.filter, 1)
        top.addWidget(self.refresh_button)
        top.addWidget(self.count)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.view, 1)
        note = QLabel(
            "Reading another process's stacks needs ptrace permission (py-spy); where it is "
            "missing, the error says why. A program started with “A Python program” needs none."
        )
        note.setWordWrap(True)
        layout.addWidget(note)
        layout.addWidget(buttons)
        self.refresh()

    def refresh(self) -> None:
        self.processes = python_processes()
        self.model.set_rows(
            HEADERS,
            [(str(p.pid), p.command, str(p.threads), f"{p.rss_mib:,.1f}") for p in self.processes],
            right=(0, 2, 3),
            tips={i: p.command for i, p in enumerate(self.processes)},
        )
        header = self.view.horizontalHeader()
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.count.setText(f"{len(self.processes)} Python processes")

    def pids(self) -> list[int]:
        """The pids shown now (after the filter)."""
        return [int(self.proxy.index(row, 0).data()) for row in range(self.proxy.rowCount())]

    def select_pid(self, pid: int) -> bool:
        for row in range(self.proxy.rowCount()):
            if int(self.proxy.index(row, 0).data()) == pid:
                self.view.selectRow(row)
                return True
        return False

    def selected_pid(self) -> int | None:
        rows = self.view.selectionModel().selectedRows()
        return int(rows[0].data()) if rows else None
