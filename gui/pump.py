"""The one hop from any other thread to the GUI thread.

A producer (a crawl worker, the experiment runner, the jobs thread, a ``logging`` call) puts
items into a thread-safe :class:`core.events.Mailbox` (an event stream's ``Subscription`` is
one) and never waits: when the mailbox is full the item is dropped and counted. On the GUI
thread a :class:`Pump` drains it on one QTimer, at most ``max_per_tick`` items a tick, and
hands each tick's items to one callback as a list, so the views update a few times a second
however fast the items come. Nothing running on a producer thread touches a Qt object
(emitting Qt signals from plain Python threads has crashed recent PySide6 releases).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QTimer

from core.events import Mailbox

TICK_MS = 50

Batch = Callable[[list[Any]], None]


class Pump(QObject):
    """Drains ``source`` every ``tick_ms`` into ``on_batch`` (called only with items);
    ``on_dropped(total)`` whenever the source's count of dropped items has grown.

    The source can change (:meth:`attach`, :meth:`detach`): a window drains one crawl's stream
    after another. The timer runs between :meth:`start` and :meth:`stop`.
    """

    def __init__(
        self,
        on_batch: Batch,
        source: Mailbox[Any] | None = None,
        *,
        max_per_tick: int | None = None,
        on_dropped: Callable[[int], None] | None = None,
        tick_ms: int = TICK_MS,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._on_batch = on_batch
        self._on_dropped = on_dropped
        self.max_per_tick = max_per_tick
        self._source: Mailbox[Any] | None = None
        self._dropped_seen = 0
        self.attach(source)
        self._timer = QTimer(self)
        self._timer.setInterval(tick_ms)
        self._timer.timeout.connect(self.drain)

    @property
    def source(self) -> Mailbox[Any] | None:
        return self._source

    def attach(self, source: Mailbox[Any] | None) -> None:
        """Drain ``source`` from now on (what the previous one still holds stays there)."""
        self._source = source
        self._dropped_seen = 0

    def detach(self) -> None:
        """Stop draining the current source (whoever made it closes it)."""
        self._source = None

    def start(self) -> None:
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    @property
    def running(self) -> bool:
        return self._timer.isActive()

    @property
    def backlog(self) -> int:
        """Items waiting in the source."""
        return len(self._source) if self._source is not None else 0

    def drain(self) -> int:
        """One tick: hand over at most ``max_per_tick`` items; return how many."""
        return self._take(self.max_per_tick)

    def flush(self) -> int:
        """Hand over everything the source holds now (before letting it go)."""
        return self._take(None)

    def _take(self, max_items: int | None) -> int:
        source = self._source
        if source is None:
            return 0
        items = source.drain(max_items)
        if items:
            self._on_batch(items)
        if source is not self._source:  # the callback let this source go
            return len(items)
        if self._on_dropped is not None and source.dropped != self._dropped_seen:
            self._dropped_seen = source.dropped
            self._on_dropped(source.dropped)
        return len(items)
