"""Crawl events and log records, from worker threads to the views as batched Qt signals.

Workers publish into a :class:`core.events.Subscription` and ``logging`` records go into a
:class:`LogBuffer`; two :class:`gui.pump.Pump` drain them on the GUI thread in bounded
batches, and the bridge emits one coalesced Qt signal per kind per tick, so the views repaint
a few times a second however fast the events come.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Signal

from core.events import (
    CrawlStateChanged,
    Event,
    EventStream,
    FetchFinished,
    Mailbox,
    Marker,
    Notice,
    Subscription,
    ThreadsChanged,
    WorkerStarted,
    WorkerStateChanged,
    WorkerStopped,
)
from gui.pump import Pump

MAX_EVENTS_PER_TICK = 4_000
MAX_RECORDS_PER_TICK = 500
SUBSCRIPTION_MAXLEN = 100_000
WORKER_EVENTS = (WorkerStarted, WorkerStateChanged, WorkerStopped)


class LogBuffer(logging.Handler):
    """A logging handler any thread may call: it only offers the record to a bounded
    mailbox (past ``maxlen`` records waiting, new ones are dropped and counted)."""

    def __init__(self, maxlen: int = 5_000, level: int = logging.DEBUG) -> None:
        super().__init__(level)
        self.records: Mailbox[logging.LogRecord] = Mailbox(maxlen)

    def emit(self, record: logging.LogRecord) -> None:
        self.records.offer(record)


class EventBridge(QObject):
    """Drains a crawl's event stream on the GUI thread and re-emits it as batched signals."""

    pagesFinished = Signal(list)  # list[PageResult]
    # list[WorkerStarted | WorkerStateChanged | WorkerStopped | FetchFinished (parsed pages)]
    workerEvents = Signal(list)
    stateChanged = Signal(str, str)  # CrawlState value, reason
    threadsChanged = Signal(int, int)  # old, new
    notice = Signal(str, str, str)  # level, message, name of the thread that raised it
    marker = Signal(str)  # a labelled line on the charts (autothrottle's delay changes)
    dropped = Signal(int)  # total events this subscriber has lost so far
    logRecords = Signal(list)  # list[logging.LogRecord]

    def __init__(self, log_buffer: LogBuffer | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.log_buffer = log_buffer
        self._subscription: Subscription | None = None
        self.events = Pump(
            self._dispatch,
            max_per_tick=MAX_EVENTS_PER_TICK,
            on_dropped=self.dropped.emit,
            parent=self,
        )
        self.events.start()
        self.records = Pump(
            self.logRecords.emit,
            log_buffer.records if log_buffer is not None else None,
            max_per_tick=MAX_RECORDS_PER_TICK,
            parent=self,
        )
        if log_buffer is not None:
            self.records.start()

    def attach(self, events: EventStream) -> None:
        """Listen to a new crawl's stream (the previous one, if any, is let go)."""
        self.detach()
        self._subscription = events.subscribe(maxlen=SUBSCRIPTION_MAXLEN)
        self.events.attach(self._subscription)

    def detach(self) -> None:
        """Deliver what the current stream still holds, then stop listening to it."""
        if self._subscription is not None:
            self.events.flush()
            self.events.detach()
            self._subscription.close()
            self._subscription = None

    def stop(self) -> None:
        self.events.stop()
        self.records.stop()
        self.detach()

    @property
    def backlog(self) -> int:
        return self.events.backlog

    def _dispatch(self, events: list[Event]) -> None:
        pages = []
        workers: list[Event] = []
        for event in events:
            if isinstance(event, FetchFinished):
                pages.append(event.result)
                if event.parse_started is not None:  # the worker's PARSING, for the Timeline
                    workers.append(event)
            elif isinstance(event, WORKER_EVENTS):
                workers.append(event)
            elif isinstance(event, CrawlStateChanged):
                self.stateChanged.emit(str(event.state), event.reason)
            elif isinstance(event, ThreadsChanged):
                self.threadsChanged.emit(event.old, event.new)
            elif isinstance(event, Notice):
                self.notice.emit(event.level, event.message, event.thread)
            elif isinstance(event, Marker):
                self.marker.emit(event.text)
        if workers:
            self.workerEvents.emit(workers)
        if pages:
            self.pagesFinished.emit(pages)
