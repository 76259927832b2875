"""The status bar's transient notice: one line that elides instead of running under the
permanent labels (crawl state, pages/s, RSS). The full text is its tooltip and, for crawl
notices, a line in the Log.

``QStatusBar.showMessage`` paints its text across the whole bar, under the permanent widgets,
so the window shows notices in this label instead: it takes whatever width is left, never
asks for more, and elides with "…" on the right.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget


class StatusNotice(QLabel):
    """``show_text(text, timeout_ms)``: shown elided, the whole text in the tooltip; cleared
    after ``timeout_ms`` (0: kept until the next)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("status_notice")
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self._full = ""
        self._clear = QTimer(self)
        self._clear.setSingleShot(True)
        self._clear.timeout.connect(lambda: self.show_text(""))

    @property
    def full_text(self) -> str:
        return self._full

    def show_text(self, text: str, timeout_ms: int = 0) -> None:
        self._full = " ".join(text.split())  # one line: newlines would grow the bar
        self.setToolTip(self._full)
        self._elide()
        if timeout_ms > 0:
            self._clear.start(timeout_ms)
        else:
            self._clear.stop()

    def minimumSizeHint(self) -> QSize:
        return QSize(0, super().minimumSizeHint().height())

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        shown = self.fontMetrics().elidedText(
            self._full, Qt.TextElideMode.ElideRight, max(0, self.width() - 4)
        )
        if shown != self.text():
            self.setText(shown)
