"""The crawl's threads: each worker's live record, and the pool that starts and forgets them.

A :class:`Worker` is the record of one thread that runs the per-URL pipeline (its state, URL,
page count); only its own thread writes it, except ``retire`` (set by ``resize``). The
:class:`WorkerPool` starts workers (``crawl-worker-N``, lowest free N, or a name the strategy
picks), adopts threads a strategy did not start (an executor's), starts helper threads,
announces and retires them, and answers the watchdog's "has every worker left?". Once
``close()`` is called it starts nothing more, so a crawl that is ending never gains a thread
the watchdog does not join. Every thread pins itself to the crawl's core (``pin_workers``).
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass

from core.affinity import pin_current_thread
from core.events import EventStream, WorkerStarted, WorkerState, WorkerStateChanged, WorkerStopped
from core.stats import WorkerInfo

Body = Callable[["Worker"], None]


@dataclass(slots=True, eq=False)
class Worker:
    """A worker's live record; written only by its own thread (``retire`` by ``resize``).

    Strategies get one per thread that runs the pipeline and pass it to the pipeline.
    """

    number: int
    name: str
    thread: threading.Thread | None = None
    state: WorkerState = WorkerState.IDLE
    url: str | None = None
    pages: int = 0
    last_error: str | None = None
    since: float = 0.0
    retire: bool = False

    def enter(self, state: WorkerState) -> float:
        """Record ``state`` on the same URL without publishing it (the caller's own event
        says when it began); returns that time."""
        self.state = state
        self.since = now = time.monotonic()
        return now


class WorkerPool:
    """Every thread of one crawl, from start to its goodbye; see the module docstring.

    ``fail(exc)`` is called with anything a worker's body or a helper thread raises; the
    pool holds it weakly (a bound method of its owner), so owner and pool form no reference
    cycle and a finished crawl is freed at once instead of at the next gc pass.
    """

    def __init__(
        self, events: EventStream, cpu: int | None, fail: Callable[[BaseException], None]
    ) -> None:
        self._events = events
        self._cpu = cpu
        self._fail_ref = weakref.WeakMethod(fail)
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)  # a worker left, or wake()
        self._workers: tuple[Worker, ...] = ()
        self._threads: list[threading.Thread] = []
        self.closed = False
        """True once the crawl ends: nothing more is started."""

    # -- starting ----------------------------------------------------------------------------
    def spawn(self, count: int, body: Body) -> None:
        """Start ``count`` workers ``crawl-worker-N`` (lowest free N) running ``body(worker)``."""
        with self._lock:
            if not self.closed:
                self._spawn(count, body)

    def start(
        self, name: str, body: Body, on_exit: Callable[[], None] | None = None
    ) -> Worker | None:
        """Start one worker thread called ``name``; None when the pool is closed.

        ``on_exit()`` runs last in the thread, after its goodbye (and after an error has
        been reported). Raises ``RuntimeError`` when the OS refuses a new thread.
        """
        worker = Worker(number=0, name=name, since=time.monotonic())
        worker.thread = threading.Thread(target=self._run, args=(worker, body, on_exit), name=name)
        with self._lock:
            if self.closed:
                return None
            worker.thread.start()  # under the lock, so a concurrent close sees it
            self._workers = (*self._workers, worker)
            self._add_thread(worker.thread)
        return worker

    def start_thread(self, name: str, target: Callable[[], None]) -> None:
        """Start a helper thread that is not a worker (``threads()`` lists it for joining)."""

        def run() -> None:
            try:
                pin_current_thread(self._cpu)
                target()
            except BaseException as exc:
                self._fail(exc)

        thread = threading.Thread(target=run, name=name)
        with self._lock:
            thread.start()
            self._add_thread(thread)

    def adopt(self) -> Worker:
        """Register the calling thread (one the pool did not start) as a worker."""
        thread = threading.current_thread()
        worker = Worker(number=0, name=thread.name, thread=thread, since=time.monotonic())
        with self._lock:
            self._workers = (*self._workers, worker)
        pin_current_thread(self._cpu)
        self._announce(worker)
        return worker

    def resize(self, n: int, body: Body) -> bool:
        """Start workers up to ``n`` not retiring, or retire the highest-numbered surplus.

        True when workers were retired (the caller wakes them). Nothing when closed.
        """
        with self._lock:
            if self.closed:
                return False
            active = [w for w in self._workers if not w.retire]
            if n > len(active):
                self._spawn(n - len(active), body)
            for worker in sorted(active, key=lambda w: w.number)[n:]:
                worker.retire = True
            self._threads = [t for t in self._threads if t.is_alive()]
            return n < len(active)

    def _spawn(self, count: int, body: Body) -> None:
        """Start ``count`` more numbered workers (caller holds ``_lock``, so a close sees them).

        ``Thread.start`` only waits for the thread to exist, never for this lock.
        """
        taken = {w.number for w in self._workers}
        workers = []
        threads = []
        number = 0
        for _ in range(count):
            number += 1
            while number in taken:
                number += 1
            worker = Worker(number=number, name=f"crawl-worker-{number}", since=time.monotonic())
            thread = threading.Thread(target=self._run, args=(worker, body), name=worker.name)
            worker.thread = thread
            workers.append(worker)
            threads.append(thread)
            self._add_thread(thread)
        self._workers = (*self._workers, *workers)
        for thread in threads:
            thread.start()

    def _add_thread(self, thread: threading.Thread) -> None:
        """Remember a thread for joining (caller holds ``_lock``); forget exited ones at times."""
        threads = self._threads
        threads.append(thread)
        if len(threads) >= 64 and len(threads) > 2 * len(self._workers) + 8:
            self._threads = [t for t in threads if t.is_alive()]

    def _run(self, w: Worker, body: Body, on_exit: Callable[[], None] | None = None) -> None:
        """A worker thread: announce it, run the strategy's ``body``, always say goodbye."""
        reason = "retired"
        try:
            pin_current_thread(self._cpu)
            self._announce(w)
            body(w)
            if self.closed:
                reason = "stopped"
            elif not w.retire:
                reason = "done"
        except BaseException as exc:
            reason = f"error: {type(exc).__name__}"
            self._fail(exc)
        finally:
            self.release(w, reason)
            if on_exit is not None:
                on_exit()

    def _fail(self, exc: BaseException) -> None:
        fail = self._fail_ref()
        if fail is not None:
            fail(exc)

    def _announce(self, w: Worker) -> None:
        if self._events.active:  # on the worker's own thread
            ident, native_id = threading.get_ident(), threading.get_native_id()
            self._events.publish(WorkerStarted(name=w.name, ident=ident, native_id=native_id))

    # -- state and leaving -------------------------------------------------------------------
    def set_state(self, w: Worker, state: WorkerState, url: str | None) -> None:
        """Record and publish a change of state or of URL (a new fetch right after another)."""
        if w.state is state and w.url == url:
            return
        w.state = state
        w.url = url
        w.since = since = time.monotonic()
        if self._events.active:
            self._events.publish(WorkerStateChanged.make(since, w.name, state, url))

    def release(self, w: Worker, reason: str) -> None:
        """A worker has finished (its thread has exited or will take no more URLs)."""
        self.set_state(w, WorkerState.STOPPED, None)
        with self._lock:
            self._workers = tuple(x for x in self._workers if x is not w)
            self._changed.notify_all()
        if self._events.active:
            self._events.publish(WorkerStopped(name=w.name, reason=reason))

    def close(self) -> None:
        """Start nothing more (the crawl is ending)."""
        with self._lock:
            self.closed = True

    def wake(self) -> None:
        """End a ``wait_empty`` early (it re-checks its ``unless``)."""
        with self._lock:
            self._changed.notify_all()

    def wait_empty(self, timeout: float, unless: threading.Event | None = None) -> bool:
        """Wait up to ``timeout`` for every worker to leave (or ``unless`` to be set)."""
        with self._lock:
            return self._changed.wait_for(
                lambda: not self._workers or (unless is not None and unless.is_set()), timeout
            )

    # -- observation (any thread) ------------------------------------------------------------
    def busy(self) -> list[str]:
        """Names of the workers that have not left yet."""
        return [w.name for w in self._workers]

    def threads(self) -> list[threading.Thread]:
        """Every thread started or adopted that may still be running."""
        with self._lock:
            return list(self._threads)

    def by_state(self) -> dict[WorkerState, int]:
        counts = dict.fromkeys(WorkerState, 0)
        for worker in self._workers:
            counts[worker.state] += 1
        return counts

    def infos(self) -> list[WorkerInfo]:
        infos = []
        for w in self._workers:
            thread = w.thread
            assert thread is not None  # set before a worker joins the pool
            infos.append(
                WorkerInfo(
                    name=w.name,
                    ident=thread.ident,
                    native_id=thread.native_id,
                    daemon=thread.daemon,
                    state=w.state,
                    url=w.url,
                    pages=w.pages,
                    last_error=w.last_error,
                    state_since=w.since,
                )
            )
        return infos
