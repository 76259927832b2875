"""Slow calls off the GUI thread, with their results handed back on it.

A tracemalloc snapshot of a big heap, or the top functions of a long profile, can take
seconds. :class:`BackgroundJobs` runs such calls one at a time on a plain Python thread
(``threadscope-jobs``) and puts each outcome on a thread-safe queue; a QTimer on the GUI
thread drains that queue and calls the callback there. The worker thread never touches a Qt
object or signal.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QTimer

log = logging.getLogger(__name__)

DRAIN_MS = 50
THREAD_NAME = "threadscope-jobs"

Callback = Callable[[Any], None]
ErrorCallback = Callable[[BaseException], None]


class BackgroundJobs(QObject):
    """``submit(fn, on_done, on_error)``: ``fn()`` runs on the worker thread, the callbacks on
    the GUI thread. The thread starts with the first job; :meth:`shutdown` ends it."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._done: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self.pending = 0
        self._timer = QTimer(self)
        self._timer.setInterval(DRAIN_MS)
        self._timer.timeout.connect(self.drain)

    def submit(
        self, fn: Callable[[], Any], on_done: Callback, on_error: ErrorCallback | None = None
    ) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=THREAD_NAME, daemon=True)
            self._thread.start()
        self.pending += 1
        self._jobs.put((fn, on_done, on_error))
        self._timer.start()

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:  # None is the stop sentinel
            fn, on_done, on_error = job
            try:
                self._done.put((on_done, fn()))
            except Exception as exc:  # handed to the GUI thread, which says what failed
                self._done.put((on_error or _log_error, exc))

    def drain(self) -> None:
        """On the GUI thread: run the callbacks of every finished job."""
        while True:
            try:
                callback, value = self._done.get_nowait()
            except queue.Empty:
                break
            self.pending -= 1
            callback(value)
        if self.pending == 0:
            self._timer.stop()

    def shutdown(self, timeout: float = 0.5) -> bool:
        """Ask the thread to end after its current job; True when it ended within ``timeout``
        (a job still running is abandoned: the thread is a daemon)."""
        self._timer.stop()
        thread, self._thread = self._thread, None
        if thread is None:
            return True
        self._jobs.put(None)
        thread.join(timeout)
        return not thread.is_alive()


def _log_error(exc: BaseException) -> None:
    log.error("background job failed: %s", exc, exc_info=exc)
