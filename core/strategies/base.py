"""The contract between the engine and a scheduling strategy.

A strategy sees its crawl only through :class:`StrategyHost` (the ``Crawler`` implements it;
a test can pass a small fake) and its threads' records as :class:`Worker`. A strategy module
imports this one, the standard library and its own helpers (``bounded`` its ``Frontier``),
never the engine.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar, Protocol

from core.events import WorkerState
from core.frontier import Item, origin
from core.hostcap import HostSlots
from core.workers import Body, Worker

if TYPE_CHECKING:  # core.settings reads the strategies' names from core.strategies
    from core.settings import CrawlSettings

__all__ = [
    "Body",
    "HostSlots",
    "Item",
    "Strategy",
    "StrategyHost",
    "ThreadCounting",
    "Worker",
    "WorkerState",
    "handle_in_slot",
    "origin",
    "take_ready",
]


class StrategyHost(Protocol):
    """Everything a strategy may call on the crawl that runs it."""

    @property
    def settings(self) -> CrawlSettings: ...

    @property
    def stopping(self) -> bool:
        """True once the crawl is ending: take no new URL."""
        ...

    @property
    def paused(self) -> bool: ...

    @property
    def reason(self) -> str:
        """Why the crawl ended (``finished``, ``max_pages``, ``stopped``, ...); "" before."""
        ...

    def handle(self, w: Worker, item: Item) -> list[Item]:
        """Run the per-URL pipeline on ``w``'s thread; returns the new items to schedule."""
        ...

    def checkpoint(self, w: Worker | None) -> bool:
        """Before each URL: park while paused; False once ending (or ``w`` retired)."""
        ...

    def finish(self) -> None:
        """No URL is left, queued or in hand: the crawl ends naturally."""
        ...

    def fail(self, exc: BaseException) -> None:
        """The strategy's own bookkeeping failed: end the crawl with reason ``error: ...``."""
        ...

    def notice(self, level: str, message: str) -> None: ...

    def known_delay(self, host: str) -> float | None:
        """``host``'s (an origin's) delay between requests if known without a fetch, else None."""
        ...

    def turn_in(self, host: str) -> float:
        """Seconds until ``host``'s next free turn (0: now), without taking it."""
        ...

    def set_state(self, w: Worker, state: WorkerState, url: str | None) -> None:
        """Record and publish ``w``'s state (``IDLE`` while it waits for work)."""
        ...

    def spawn_workers(self, count: int, body: Body) -> None:
        """Start ``count`` workers ``crawl-worker-N`` running ``body(worker)``."""
        ...

    def start_worker(
        self, name: str, body: Body, on_exit: Callable[[], None] | None = None
    ) -> Worker | None:
        """Start one worker called ``name``; None when ending; RuntimeError if the OS refuses.

        ``on_exit()`` runs last in its thread.
        """
        ...

    def start_thread(self, name: str, target: Callable[[], None]) -> None:
        """Start a helper thread that is not a worker (a dispatcher)."""
        ...

    def adopt_worker(self) -> Worker:
        """Register the calling thread (one the strategy did not start) as a worker."""
        ...

    def release_worker(self, w: Worker, reason: str) -> None:
        """An adopted worker takes no more URLs."""
        ...


MAX_RECURSIVE_DEPTH = 500
"""Recursing once per link level, this keeps clear of Python's recursion limit."""


def take_ready(crawl: StrategyHost, slots: HostSlots, w: Worker, left: list[Item]) -> Item | None:
    """Pop from ``left`` the item to handle next, its host's slot taken; None once ending.

    For a strategy whose thread holds a list of URLs (its share, a page's links): of the hosts
    below their cap it takes the one whose turn comes first, so it waits neither for a host's
    turn nor for its slot while another link it holds could go now. Only while every host in
    ``left`` is at its cap does ``w`` wait (``WAITING_HOST``) for one of them to free a slot.
    Calls ``crawl.checkpoint(w)`` before each pick (pause parks there). Hand the item to
    ``handle_in_slot``.
    """
    while True:
        since = slots.wakeups  # before the checks: see HostSlots.wait
        if not crawl.checkpoint(w):
            return None
        best = -1
        soonest = 0.0
        for i, item in enumerate(left):
            host = origin(item[0])
            if slots.full(host):
                continue
            wait = crawl.turn_in(host) if len(left) > 1 else 0.0
            if best < 0 or wait < soonest:
                best, soonest = i, wait
                if wait <= 0:
                    break
        if best >= 0:
            if slots.take(origin(left[best][0])):
                return left.pop(best)
            continue  # another thread took its last slot meanwhile: choose again
        crawl.set_state(w, WorkerState.WAITING_HOST, origin(left[0][0]))
        granted = slots.wait({origin(item[0]) for item in left}, since)
        if granted is not None:  # its slot is ours: take its host's first item
            at = next(i for i, item in enumerate(left) if origin(item[0]) == granted)
            if crawl.checkpoint(w):
                return left.pop(at)
            slots.give_back(granted)
            return None


def handle_in_slot(crawl: StrategyHost, slots: HostSlots, w: Worker, item: Item) -> list[Item]:
    """Run the pipeline on ``item``, whose host's slot the caller holds, then give it back."""
    try:
        return crawl.handle(w, item)
    finally:
        slots.give_back(origin(item[0]))


class Strategy:
    """A scheduling policy for one crawl: which thread handles which URL, and when it is over.

    The engine calls ``start`` once with the deduplicated start URLs; the strategy starts its
    threads through the host (``spawn_workers``, ``start_worker``, ``start_thread`` or
    ``adopt_worker``), runs ``crawl.handle(worker, item)`` for each URL, schedules the items
    it returns, calls ``crawl.checkpoint(worker)`` before each URL (pause and stop), and calls
    ``crawl.finish()`` when no URL is queued or in hand. Shutdown (grace, socket shut-down,
    joins) is the engine's, for every strategy.
    """

    name: ClassVar[str]
    summary: ClassVar[str]
    """What a user sees about it (the Strategy box's tooltip, ``--strategy`` help)."""
    resizable: ClassVar[bool] = False
    """Whether ``set_threads`` works while running (workers run ``work``)."""
    schedules_hosts: ClassVar[bool] = False
    """Whether the strategy hands out URLs only on their host's turn (its frontier does), so
    the pipeline never waits for one."""
    depth_limit: ClassVar[int | None] = None
    """The highest ``max_depth`` it can run (strategies that recurse once per link level)."""

    def __init__(self, crawl: StrategyHost) -> None:
        # The crawler owns its strategy; a weak proxy back keeps the pair out of a reference
        # cycle, so a finished crawl is freed at once instead of at the next gc pass.
        self.crawl: StrategyHost = weakref.proxy(crawl)

    def threads_target(self) -> int:
        return self.crawl.settings.threads

    def start(self, items: list[Item]) -> None:
        raise NotImplementedError

    def work(self, w: Worker) -> None:
        """The body of one worker of a resizable strategy (``set_threads`` spawns more)."""
        raise NotImplementedError

    def wake(self) -> None:
        """Pause, stop or a retirement happened: wake any thread waiting for work."""

    def backlog(self) -> int:
        """URLs waiting to be handled (``CrawlStats.frontier``)."""
        return 0

    def dropped(self) -> int:
        """Links lost for lack of room (``CrawlStats.dropped_links``)."""
        return 0

    def close(self) -> None:
        """The crawl is over and its threads have exited: free what the strategy holds."""


class ThreadCounting(Strategy):
    """A strategy with no queue to tell it the work is done (``recursive``, ``thread-per-url``):
    it counts the threads it starts, and the last one to return finishes the crawl.

    A thread is counted in (``_count_in``, under ``_lock``) before ``_start_counted`` starts
    it, so one that returns at once cannot bring the count to zero while others are starting.
    Their threads hold lists of links, so both keep ``per_host_threads`` the same way: in
    ``_slots``, taken by ``take_ready`` and given back by ``handle_in_slot``.
    """

    def __init__(self, crawl: StrategyHost) -> None:
        super().__init__(crawl)
        self._slots = HostSlots(crawl.settings.per_host_threads)
        self._lock = threading.Lock()
        self._alive = 0  # counted in and not yet out
        self._started = 0  # counted in so far: the number in the next thread's name

    def wake(self) -> None:
        self._slots.wake()

    def _count_in(self, prefix: str) -> str:
        """Count one more thread (hold ``_lock``); returns its name, ``prefix-N``."""
        self._alive += 1
        self._started += 1
        return f"{prefix}-{self._started}"

    def _start_counted(self, name: str, body: Body) -> Worker | None:
        """Start a counted-in thread; None, counted out again, when the crawl is ending."""
        started = self.crawl.start_worker(name, body, on_exit=self._count_out)
        if started is None:
            self._count_out()
        return started

    def _count_out(self) -> None:
        with self._lock:
            self._alive -= 1
            last = self._alive == 0
        if last:
            self.crawl.finish()
