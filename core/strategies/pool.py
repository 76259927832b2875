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

Executor threads are adopted as workers by the executor's ``initializer`` and released by
the dispatcher after ``shutdown`` has joined them. ``set_threads`` is not supported (an
executor's size is fixed).
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future, ThreadPoolExecutor

from core.strategies.base import Item, Strategy, StrategyHost, Worker, WorkerState

_SAFETY_WAKE = 1.0


class Pool(Strategy):
    name = "pool"
    summary = (
        "The tutorial design: one dispatcher thread feeds an unbounded queue.Queue into a "
        "ThreadPoolExecutor. Fixed threads, but the backlog (and memory) grows with the site."
    )

    def __init__(self, crawl: StrategyHost) -> None:
        super().__init__(crawl)
        self._queue: queue.Queue[Item | None] = queue.Queue()  # unbounded by design
        self._lock = threading.Lock()
        self._pending = 0  # submitted, not yet done
        self._running = 0  # of those, started
        self._workers: list[Worker] = []
        self._local = threading.local()

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
                try:
                    item = self._queue.get(timeout=_SAFETY_WAKE)
                except queue.Empty:
                    item = None
                if item is None:  # a wake-up: maybe the end
                    with self._lock:
                        done = self._pending == 0 and self._queue.empty()
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
        return self._queue.qsize() + waiting

    def close(self) -> None:
        while not self._queue.empty():
            self._queue.get_nowait()
