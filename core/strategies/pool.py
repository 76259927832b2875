"""``pool``: a dispatcher feeds an unbounded queue into a ``ThreadPoolExecutor``.

The tutorial design (the article's ``OptimizedCrawlerV1``), made correct: the dispatcher
thread ``crawl-dispatcher`` takes items from a ``queue.Queue`` (no bound: memory grows with
the backlog, which is the point of the comparison) and submits each to
``ThreadPoolExecutor(max_workers=threads, thread_name_prefix="crawl-worker")``; a task runs
the pipeline and puts the new links back on the queue. The crawl is over when the queue is
empty and no future is pending; the task that brings the count to zero wakes the dispatcher
with a ``None`` on the queue, so nobody polls (the ``get`` timeout is only a safety net).
Unlike the tutorial it carries each link's depth, does not quit when the queue is
momentarily empty while tasks still run, and stops: the dispatcher leaves, the executor
shuts down with ``cancel_futures=True``, and the engine shuts in-flight sockets.

Host delays: the dispatcher holds back an item whose host's turn has not come (one delay
after the last item of that host it submitted, the delay as far as it is known) in a heap of
due times, and submits it when due, so executor threads do not sleep on a slow host's URLs
while the queue holds other hosts' (the pipeline still waits out what is left of a turn).
Per-host cap: an item is submitted only with one of its host's ``per_host_threads`` slots
(``HostSlots``, taken by the dispatcher, given back by the task when its pipeline returns);
a due item of a host at its cap is held back in that host's FIFO until a slot comes free, so
executor threads serve other hosts meanwhile. A task that frees a slot of a host at its cap
puts the host on the queue, and the dispatcher releases that host's held items then.

Executor threads are adopted as workers by the executor's ``initializer`` and released by
the dispatcher after ``shutdown`` has joined them. ``set_threads`` is not supported (an
executor's size is fixed).
"""

from __future__ import annotations

import heapq
import queue
import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor

from core.strategies.base import (
    HostSlots,
    Item,
    Strategy,
    StrategyHost,
    Worker,
    WorkerState,
    origin,
)

_SAFETY_WAKE = 1.0


class Pool(Strategy):
    name = "pool"
    summary = (
        "The tutorial design: one dispatcher thread feeds an unbounded queue.Queue into a "
        "ThreadPoolExecutor. Fixed threads, but the backlog (and memory) grows with the site."
    )

    def __init__(self, crawl: StrategyHost) -> None:
        super().__init__(crawl)
        # unbounded by design; a str: a slot of that host came free; None: a wake-up
        self._queue: queue.Queue[Item | str | None] = queue.Queue()
        self._lock = threading.Lock()
        self._pending = 0  # submitted, not yet done
        self._running = 0  # of those, started
        self._workers: list[Worker] = []
        self._local = threading.local()
        self._held: list[tuple[float, int, Item]] = []  # (due, seq, item): the dispatcher's
        self._last: dict[str, float] = {}  # host -> when its last item was submitted
        self._seq = 0
        self._slots = HostSlots(crawl.settings.per_host_threads)
        self._capped: dict[str, deque[Item]] = {}  # host -> due items held back at its cap
        self._capped_count = 0

    def start(self, items: list[Item]) -> None:
        for item in items:
            self._queue.put(item)
        self.crawl.start_thread("crawl-dispatcher", self._dispatch)

    def _dispatch(self) -> None:
        crawl = self.crawl
        executor = ThreadPoolExecutor(
            max_workers=crawl.settings.threads,
            thread_name_prefix="crawl-worker",
            initializer=self._adopt,
        )
        try:
            while crawl.checkpoint(None):
                item = self._next()
                if item is None:  # a wake-up: maybe the end
                    with self._lock:
                        done = (
                            self._pending == 0
                            and self._queue.empty()
                            and not self._held
                            and not self._capped
                        )
                    if done:
                        crawl.finish()
                        break
                    continue
                with self._lock:
                    self._pending += 1
                executor.submit(self._task, item).add_done_callback(self._done)
        finally:
            executor.shutdown(wait=True, cancel_futures=True)
            reason = "stopped" if crawl.reason not in ("finished", "max_pages") else "done"
            for worker in self._workers:
                crawl.release_worker(worker, reason)

    def _next(self) -> Item | None:
        """The next item whose host's turn has come and that has its host's slot (held items
        first), or None on a wake-up."""
        held = self._held
        while True:
            now = time.monotonic()
            if held and held[0][0] <= now:
                ready = heapq.heappop(held)[2]
                host = origin(ready[0])
                self._last[host] = max(self._last.get(host, 0.0), now)
                if self._slot_for(host, ready):
                    return ready
                continue
            wait = min(_SAFETY_WAKE, held[0][0] - now) if held else _SAFETY_WAKE
            try:
                entry = self._queue.get(timeout=wait)
            except queue.Empty:
                if held:
                    continue
                return None
            if entry is None:
                return None
            if isinstance(entry, str):  # a slot of this host came free
                freed = self._release_capped(entry)
                if freed is not None:
                    return freed
                continue
            host = origin(entry[0])
            delay = self.crawl.known_delay(host) or 0.0
            due = self._last.get(host, 0.0) + delay
            if due <= now and not held:
                self._last[host] = now
                if self._slot_for(host, entry):
                    return entry
                continue
            if delay:
                self._last[host] = max(now, due)  # the turn after it is this one's + delay
            self._seq += 1
            heapq.heappush(held, (max(now, due), self._seq, entry))

    def _slot_for(self, host: str, item: Item) -> bool:
        """Take a slot of ``host`` for the due ``item``, or hold it back behind the host's
        other held items until one comes free (False)."""
        waiting = self._capped.get(host)
        if waiting is None:
            if self._slots.take(host):
                return True
            waiting = self._capped[host] = deque()
        waiting.append(item)
        self._capped_count += 1
        return False

    def _release_capped(self, host: str) -> Item | None:
        """The oldest item held back at ``host``'s cap, with the slot that came free; None if
        none is held or another item took the slot first."""
        waiting = self._capped.get(host)
        if waiting is None or not self._slots.take(host):
            return None
        item = waiting.popleft()
        self._capped_count -= 1
        if waiting:  # maybe more slots are free (those freed below the cap say nothing)
            self._queue.put(host)
        else:
            del self._capped[host]
        return item

    def _adopt(self) -> None:
        worker = self.crawl.adopt_worker()
        self._local.worker = worker
        with self._lock:
            self._workers.append(worker)

    def _task(self, item: Item) -> None:
        crawl = self.crawl
        w: Worker = self._local.worker
        with self._lock:
            self._running += 1
        try:
            if crawl.checkpoint(w):
                for new in crawl.handle(w, item):
                    self._queue.put(new)
        except BaseException as exc:  # a future would swallow it
            crawl.fail(exc)
        finally:
            crawl.set_state(w, WorkerState.IDLE, None)  # back to waiting for a task
            host = origin(item[0])
            if self._slots.give_back(host):
                self._queue.put(host)  # the dispatcher may release an item held at the cap
            with self._lock:
                self._running -= 1

    @property
    def running(self) -> int:
        """Tasks started and not finished (parked ones included)."""
        return self._running

    def _done(self, _future: Future[None]) -> None:
        with self._lock:
            self._pending -= 1
            last = self._pending == 0
        if last:
            self._queue.put(None)

    def wake(self) -> None:
        self._queue.put(None)

    def backlog(self) -> int:
        with self._lock:
            waiting = self._pending - self._running
        return self._queue.qsize() + waiting + len(self._held) + self._capped_count

    def close(self) -> None:
        while not self._queue.empty():
            self._queue.get_nowait()
