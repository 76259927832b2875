"""The one hop from worker threads to the GUI thread.

Workers publish into a thread-safe :class:`core.events.Subscription` and ``logging`` records
go into a bounded deque; nothing running on a worker thread ever touches a Qt object (emitting
Qt signals from plain Python threads has crashed recent PySide6 releases). On the GUI thread a
QTimer drains both in bounded batches and emits one coalesced Qt signal per kind per tick, so
the views repaint a few times a second however fast the events come.
"""

from __future__ import annotations

import logging
from collections import deque

from PySide6.QtCore import QObject, QTimer, Signal

from core.events import (
    CrawlStateChanged,
    EventStream,
    FetchFinished,
    Notice,
    Subscription,
    ThreadsChanged,
    WorkerStarted,
    WorkerStateChanged,
    WorkerStopped,
)

TICK_MS = 50
MAX_EVENTS_PER_TICK = 4_000
MAX_RECORDS_PER_TICK = 500
SUBSCRIPTION_MAXLEN = 100_000
WORKER_EVENTS = (WorkerStarted, WorkerStateChanged, WorkerStopped)


class LogBuffer(logging.Handler):
    """A logging handler any thread may call: it only appends to a bounded deque."""

    def __init__(self, maxlen: int = 5_000, level: int = logging.DEBUG) -> None:
        super().__init__(level)
        self.records: deque[logging.LogRecord] = deque(maxlen=maxlen)

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def take(self, max_items: int) -> list[logging.LogRecord]:
        records = self.records
        out = []
        while records and len(out) < max_items:
            out.append(records.popleft())
        return out


class EventBridge(QObject):
    """Drains a crawl's event stream on the GUI thread and re-emits it as batched signals."""

    pagesFinished = Signal(list)  # list[PageResult]
    workerEvents = Signal(list)  # list[WorkerStarted | WorkerStateChanged | WorkerStopped]
    stateChanged = Signal(str, str)  # CrawlState value, reason
    threadsChanged = Signal(int, int)  # old, new
    notice = Signal(str, str)  # level, message
    dropped = Signal(int)  # total events this subscriber has lost so far
    logRecords = Signal(list)  # list[logging.LogRecord]

    def __init__(self, log_buffer: LogBuffer | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.log_buffer = log_buffer
        self._subscription: Subscription | None = None
        self._dropped_seen = 0
        self._timer = QTimer(self)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self.drain)
        self._timer.start()

    def attach(self, events: EventStream) -> None:
        """Listen to a new crawl's stream (the previous one, if any, is let go)."""
        self.detach()
        self._subscription = events.subscribe(maxlen=SUBSCRIPTION_MAXLEN)
        self._dropped_seen = 0

    def detach(self) -> None:
        if self._subscription is not None:
            self.drain(max_events=None)
            self._subscription.close()
            self._subscription = None

    def stop(self) -> None:
        self._timer.stop()
        self.detach()

    @property
    def backlog(self) -> int:
        return len(self._subscription) if self._subscription is not None else 0

    def drain(self, max_events: int | None = MAX_EVENTS_PER_TICK) -> None:
        """One tick: take at most ``max_events`` and emit each kind once."""
        sub = self._subscription
        if sub is not None:
            self._dispatch(sub.drain(max_events))
            if sub.dropped != self._dropped_seen:
                self._dropped_seen = sub.dropped
                self.dropped.emit(sub.dropped)
        if self.log_buffer is not None and self.log_buffer.records:
            self.logRecords.emit(self.log_buffer.take(MAX_RECORDS_PER_TICK))

    def _dispatch(self, events: list) -> None:
        if not events:
            return
        pages = []
        workers = []
        for event in events:
            if isinstance(event, FetchFinished):
                pages.append(event.result)
            elif isinstance(event, WORKER_EVENTS):
                workers.append(event)
            elif isinstance(event, CrawlStateChanged):
                self.stateChanged.emit(str(event.state), event.reason)
            elif isinstance(event, ThreadsChanged):
                self.threadsChanged.emit(event.old, event.new)
            elif isinstance(event, Notice):
                self.notice.emit(event.level, event.message)
        if workers:
            self.workerEvents.emit(workers)
        if pages:
            self.pagesFinished.emit(pages)
