"""``threadscope run -- python app.py`` with the window: one :class:`WatchWindow` on the program.

The launcher (above ``core`` and ``gui``) hands ``run``'s command here; ``core.watch.run_cli``
never imports Qt. The window stays open after the program ends (what it recorded stays on
screen) until the user closes it; closing it while the program runs stops the program
(SIGTERM, then SIGKILL after 2 s). Returns the program's exit status, as ``--headless`` does.
The program's stdout and stderr go to the window's Log; ``run``'s observability options
(``--hang-dump-after``, ``--metrics-port``, ``--no-history``) apply as with ``--headless``.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from core.watch.errors import WatchError
from core.watch.launch import exit_status
from gui.app import SIGNAL_POLL_MS, delete_now

EXIT_USAGE = 2


def open_window(command: Sequence[str], args: argparse.Namespace) -> int:
    """``args``: ``threadscope run``'s parsed options."""
    from gui.watch_alerts import WatchObserve
    from gui.watch_session import LaunchFeed, WatchSession
    from gui.watch_window import WatchWindow

    observe = WatchObserve(args.hang_dump_after, args.metrics_port, args.metrics_bind)
    try:
        feed = LaunchFeed(
            list(command), args.interval, trace_memory=args.trace_memory, observe=observe
        )
    except WatchError as exc:
        print(f"threadscope run: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    app = QApplication.instance() or QApplication(["threadscope"])
    app.setOrganizationName("Threadscope")
    app.setApplicationName("Threadscope")
    try:
        window = WatchWindow(WatchSession(feed), history=not args.no_history)
    except WatchError as exc:
        print(f"threadscope run: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    window.ended.connect(
        lambda reason: print(
            f"threadscope run: the program {reason}; close the window to quit", file=sys.stderr
        )
    )
    window.resize(1280, 800)
    window.show()
    # Closed from the event loop, not inside whatever Python code the signal interrupted
    # (half-way through starting a thread, say).
    previous = signal.signal(signal.SIGINT, lambda *_: QTimer.singleShot(0, window.close))
    wake = QTimer()  # lets Python see SIGINT while Qt's loop runs (see gui.app)
    wake.timeout.connect(lambda: None)
    wake.start(SIGNAL_POLL_MS)
    try:
        app.exec()
    finally:
        wake.stop()
        signal.signal(signal.SIGINT, previous)
        window.shutdown()
        delete_now(window)
    ended = window.session.ended
    if ended is None or ended.returncode is None:
        return 1
    return exit_status(ended.returncode)
