"""What every Diagnostics page is to the panel that hosts it, and the layout they share."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QHeaderView, QLabel, QTableView, QVBoxLayout, QWidget

from gui.rows_model import RowsModel


class DiagnosticsPage(QWidget):
    """One page of the Diagnostics tab, titled ``title``.

    The panel calls :meth:`tick` on its timer whether the page is shown or not, :meth:`refresh`
    when the page is on screen (after each tick and when it is shown), and :meth:`shutdown`
    once, before the panel goes.
    """

    title = ""

    def tick(self) -> None:
        """Periodic work that must go on while another page is shown."""

    def refresh(self) -> None:
        """Redraw what the page shows."""

    def shutdown(self) -> None:
        """Let go of whatever the page started."""

    def lay_out(self, bar: QHBoxLayout, *widgets: QWidget) -> None:
        """A bar of controls on top, then ``widgets`` sharing the rest."""
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(bar)
        for widget in widgets:
            layout.addWidget(widget, 1)


def bar(*widgets: QWidget | str) -> QHBoxLayout:
    """A row of controls, left-aligned; a string becomes a label."""
    row = QHBoxLayout()
    for widget in widgets:
        row.addWidget(QLabel(widget) if isinstance(widget, str) else widget)
    row.addStretch(1)
    return row


def table(model: RowsModel, sort_column: int) -> QTableView:
    """Sortable by header click; biggest ``sort_column`` first to begin with."""
    view = QTableView()
    view.setModel(model)
    view.setAlternatingRowColors(True)
    view.setWordWrap(False)
    view.setSortingEnabled(True)
    view.verticalHeader().setVisible(False)
    view.verticalHeader().setDefaultSectionSize(view.fontMetrics().height() + 6)
    header = view.horizontalHeader()
    header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
    header.setStretchLastSection(False)
    for column in range(1, len(model.columns)):
        header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
    view.sortByColumn(sort_column, Qt.SortOrder.DescendingOrder)
    return view
