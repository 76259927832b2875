"""The window: ``threadscope`` with no arguments (the launcher), or ``python -m gui.app``."""

from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Sequence

from PySide6.QtCore import QCoreApplication, QEvent, QTimer
from PySide6.QtWidgets import QApplication, QWidget

SIGNAL_POLL_MS = 200


def main(argv: Sequence[str] | None = None) -> int:
    """Open the main window; returns the exit status when it closes (or on Ctrl-C)."""
    from gui.window import MainWindow

    logging.getLogger("core").setLevel(logging.INFO)
    logging.getLogger("gui").setLevel(logging.INFO)
    app = QApplication.instance() or QApplication(["threadscope", *(argv or [])])
    app.setOrganizationName("Threadscope")
    app.setApplicationName("Threadscope")
    window = MainWindow()
    window.show()

    # Qt's loop runs in C++, so Python only sees SIGINT when it next runs bytecode: a small
    # timer gives it that chance, and the handler closes the window like the close button.
    previous = signal.signal(signal.SIGINT, lambda *_: window.close())
    wake = QTimer()
    wake.timeout.connect(lambda: None)
    wake.start(SIGNAL_POLL_MS)
    try:
        status = app.exec()
    finally:
        wake.stop()
        signal.signal(signal.SIGINT, previous)
        window.shutdown()
        delete_now(window)
    return status


def delete_now(widget: QWidget) -> None:
    """Destroy a widget while the QApplication still exists.

    Left to interpreter exit, pyqtgraph items can be torn down after Qt and crash (seen with
    PySide6 6.12).
    """
    widget.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
