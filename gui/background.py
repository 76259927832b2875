"""Slow calls off the GUI thread, with their results handed back on it.

A tracemalloc snapshot of a big heap, or the top functions of a long profile, can take
seconds. :class:`BackgroundJobs` runs such calls one at a time on a plain Python thread
(``threadscope-jobs``) and offers each outcome to a mailbox that a :class:`gui.pump.Pump`
drains on the GUI thread, calling the callback there. The worker thread never touches a Qt
object or signal.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject

from core.events import Mailbox
from gui.pump import Pump

log = logging.getLogger(__name__)

THREAD_NAME = "threadscope-jobs"

Callback = Callable[[Any], None]
ErrorCallback = Callable[[BaseException], None]
Job = tuple[Callable[[], Any], Callback, ErrorCallback | None]


class BackgroundJobs(QObject):
    """``submit(fn, on_done, on_error)``: ``fn()`` runs on the worker thread, the callbacks on
    the GUI thread. The thread starts with the first job; :meth:`shutdown` ends it."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        # Unbounded: every job's callback must run, and at most ``pending`` outcomes wait.
        self._done: Mailbox[tuple[Callback, Any]] = Mailbox()
        self._thread: threading.Thread | None = None
        self.pending = 0
        self._pump = Pump(self._run_callbacks, self._done, parent=self)

    def submit(
        self, fn: Callable[[], Any], on_done: Callback, on_error: ErrorCallback | None = None
    ) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=THREAD_NAME, daemon=True)
            self._thread.start()
        self.pending += 1
        self._jobs.put((fn, on_done, on_error))
        self._pump.start()

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:  # None is the stop sentinel
            fn, on_done, on_error = job
            try:
                self._done.offer((on_done, fn()))
            except Exception as exc:  # handed to the GUI thread, which says what failed
                self._done.offer((on_error or _log_error, exc))

    def _run_callbacks(self, done: list[tuple[Callback, Any]]) -> None:
        for callback, value in done:
            self.pending -= 1
            try:
                callback(value)
            except Exception:  # one failing callback must not keep the others from running
                log.exception("callback of a background job failed")
        if self.pending == 0:
            self._pump.stop()

    def shutdown(self, timeout: float = 0.5) -> bool:
        """Ask the thread to end after its current job; True when it ended within ``timeout``
        (a job still running is abandoned: the thread is a daemon)."""
        self._pump.stop()
        thread, self._thread = self._thread, None
        if thread is None:
            return True
        self._jobs.put(None)
        thread.join(timeout)
        return not thread.is_alive()


def _log_error(exc: BaseException) -> None:
    log.error("background job failed: %s", exc, exc_info=exc)
