"""The crawl engine: one crawl from ``start()`` to ``FINISHED``, owning the parts that do it.

A :class:`Crawler` holds one crawl's settings and control state (running, paused, ending and
why) and owns its parts, each in its own module:

- ``core.strategies``: which thread handles which URL when (``settings.strategy``); a
  strategy sees the crawl only as a ``core.strategies.base.StrategyHost`` (the Crawler) and
  tells it when the work has run out (:meth:`Crawler.finish`);
- ``core.workers``: the worker pool's life cycle; ``core.pipeline``: the per-URL pipeline
  every strategy runs (robots, host turn from ``core.politeness``, fetch, parse, account);
  ``core.budget``: admission and the page budgets; ``core.shutdown``: the ordered end.

So all strategies publish the same events, honour the same limits and stop the same way.

Threads: the strategy's (``crawl-worker-N``, ``crawl-worker_N`` and ``crawl-dispatcher``,
``crawl-spawn-N``) and one ``crawl-watchdog``: it checks the memory guard, waits for the end
(finish, ``stop()``, memory limit or an engine error), runs the ordered shutdown and only then
reports ``CrawlState.FINISHED``. Workers are non-daemon so a crawl always closes its sockets
and files; an interpreter-exit hook stops a crawl still running (``core.shutdown``).

Failures: anything raised while handling one URL becomes that URL's result (error kind
``unexpected``) and the worker goes on; anything raised by the engine's own bookkeeping ends
the crawl with reason ``"error: ..."``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from core.affinity import crawl_cpu
from core.budget import Budget
from core.events import (
    CrawlState,
    CrawlStateChanged,
    EventStream,
    Notice,
    ThreadsChanged,
    WorkerState,
)
from core.fetcher import Fetcher
from core.frontier import Item
from core.memguard import CHECK_INTERVAL, MemoryGuard, release_free_memory
from core.pipeline import Pipeline
from core.politeness import HostTurns
from core.results import ResultsWriter
from core.robots import RobotsCache
from core.settings import CrawlSettings
from core.settings_error import SettingsError
from core.shutdown import STOP_GRACE, close_each, join_workers, stop_at_exit
from core.stats import CrawlStats, WorkerInfo
from core.strategies import make_strategy
from core.workers import Body, Worker, WorkerPool

_ENDED_NATURALLY = ("finished", "max_pages")


class Crawler:
    """One crawl from ``start()`` to ``FINISHED``; see the module docstring.

    It is the strategy's host (``core.strategies.base.StrategyHost``). The two members a
    strategy calls for every URL, ``handle`` and ``set_state``, are the bound methods of the
    parts that do the work, so a call costs no extra hop.
    """

    handle: Callable[[Worker, Item], list[Item]]
    """The per-URL pipeline (``Pipeline.handle``, bound by ``start``): robots.txt and host
    turn, fetch, parse, count/publish/write the result; returns the new in-scope unseen links
    that fit the budgets, as ``(url, parent, depth)`` items. Never raises for a bad page."""
    set_state: Callable[[Worker, WorkerState, str | None], None]
    """Record and publish a worker's new state or URL (``WorkerPool.set_state``)."""

    def __init__(self, settings: CrawlSettings, events: EventStream | None = None) -> None:
        self.settings = settings
        self.events = events if events is not None else EventStream()
        self._state = CrawlState.IDLE
        self._reason = ""
        self._lock = threading.Lock()  # state, reason and the end; resizing the pool
        self._pause_cond = threading.Condition(threading.Lock())
        self._paused = False
        self._parked = 0
        self._stopping = False
        self._ended = threading.Event()  # wakes the watchdog: finish, stop, limit or error
        self._force = threading.Event()  # second stop(): no grace
        self.cpu = crawl_cpu(settings.pin_workers)
        """The core every thread of the crawl runs on (``pin_workers``), or None: unpinned."""
        self._pool = pool = WorkerPool(self.events, self.cpu, self.fail)
        self.set_state = pool.set_state
        self._budget = Budget(settings)
        self._fetcher: Fetcher | None = None
        self._results: ResultsWriter | None = None
        self._pipeline: Pipeline | None = None
        self._watchdog: threading.Thread | None = None
        self._strategy = make_strategy(settings.strategy, self)
        self._target = self._strategy.threads_target()
        self._started_at = 0.0
        self._ended_at = 0.0

    # -- control (any thread) ----------------------------------------------------------------
    def start(self) -> None:
        """Queue the start URLs and start the workers and the watchdog; returns at once."""
        with self._lock:
            if self._state is not CrawlState.IDLE:
                raise RuntimeError("a Crawler runs once; make a new one for a new crawl")
            self._state = CrawlState.RUNNING
        s = self.settings
        try:  # the one step that can fail on bad input (an unwritable path): nothing started
            self._results = ResultsWriter(s.results_path) if s.results_path else None
        except BaseException:
            self._state = CrawlState.IDLE
            raise
        self._started_at = time.monotonic()
        self._fetcher = fetcher = Fetcher(s)
        robots = RobotsCache(fetcher.fetch, s.user_agent) if s.obey_robots else None
        turns = HostTurns(s.host_delay, robots)
        self._pipeline = Pipeline(
            s,
            self.events,
            fetcher,
            robots,
            self._results,
            self._budget,
            turns,
            self.set_state,
            self._ended,
        )
        self.handle = self._pipeline.handle
        start_items = self._budget.seed(s.start_urls)
        stop_at_exit(self)
        self._publish_state(CrawlState.RUNNING)
        if self.cpu is not None:
            self._notice(
                "info",
                f"crawl threads share CPU {self.cpu}: one runs Python at a time under the GIL, "
                "and hand-offs within a core are cheaper (pin_workers; experiment gil-cores)",
            )
        if start_items:  # workers first: the watchdog must see every thread it joins
            self._strategy.start(start_items)
        self._watchdog = threading.Thread(
            target=self._watch, args=(fetcher,), name="crawl-watchdog"
        )
        self._watchdog.start()
        if not start_items:
            self._end("finished")

    def pause(self) -> None:
        """Workers finish their current URL, then park until ``resume()``."""
        with self._lock:
            if self._state is not CrawlState.RUNNING:
                return
            self._state = CrawlState.PAUSED
        with self._pause_cond:
            self._paused = True
        self._strategy.wake()
        self._publish_state(CrawlState.PAUSED)

    def resume(self) -> None:
        with self._lock:
            if self._state is not CrawlState.PAUSED:
                return
            self._state = CrawlState.RUNNING
        with self._pause_cond:
            self._paused = False
            self._pause_cond.notify_all()
        self._publish_state(CrawlState.RUNNING)

    def stop(self) -> None:
        """Stop taking URLs and shut in-flight requests after a short grace; returns at once.

        A second call (or a call after the crawl ended) abandons in-flight requests now.
        """
        with self._lock:
            never_started = self._state is CrawlState.IDLE
            if never_started:
                self._reason = "stopped"
                self._state = CrawlState.FINISHED
        if never_started:
            return
        if not self._end("stopped"):
            self._force.set()
            self._pool.wake()
            if self._fetcher is not None:
                self._fetcher.interrupt_all()

    def join(self, timeout: float | None = None) -> bool:
        """True when every thread this crawl started has exited."""
        deadline = None if timeout is None else time.monotonic() + timeout
        threads = [self._watchdog] if self._watchdog is not None else []
        threads += self._pool.threads()
        for thread in threads:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            thread.join(remaining)
        return not any(t.is_alive() for t in threads)

    @property
    def resizable(self) -> bool:
        """Whether :meth:`set_threads` can change this crawl's strategy while it runs."""
        return self._strategy.resizable

    def set_threads(self, n: int) -> None:
        """Grow the pool now, or let surplus workers exit after their current URL.

        Only the ``bounded`` strategy can (see ``resizable``); the others keep their thread
        count and publish a warning ``Notice``.
        """
        if type(n) is not int or not 1 <= n <= 1024:  # also refuses True and 2.0
            raise SettingsError("threads", f"must be from 1 to 1024, got {n!r}")
        if not self._strategy.resizable:
            self._notice(
                "warning",
                f"the {self.settings.strategy} strategy cannot change its thread count",
            )
            return
        with self._lock:
            old, self._target = self._target, n
            running = self._state in (CrawlState.RUNNING, CrawlState.PAUSED)
            shrunk = running and self._pool.resize(n, self._strategy.work)
        if shrunk:
            self._wake_workers()
        if old != n and self.events.active:
            self.events.publish(ThreadsChanged(old=old, new=n))

    # -- observation (any thread) ------------------------------------------------------------
    @property
    def state(self) -> CrawlState:
        return self._state

    @property
    def reason(self) -> str:
        return self._reason

    @property
    def parked(self) -> int:
        """Workers parked by ``pause()`` right now."""
        return self._parked

    def stats(self) -> CrawlStats:
        by_state = self._pool.by_state()
        end = self._ended_at or time.monotonic()
        pipeline = self._pipeline
        pages, errors, nbytes, skipped = pipeline.totals() if pipeline is not None else (0, 0, 0, 0)
        return CrawlStats(
            pages=pages,
            errors=errors,
            bytes=nbytes,
            visited=len(self._budget.visited),
            frontier=self._strategy.backlog(),
            in_flight=by_state[WorkerState.FETCHING],
            dropped_links=self._strategy.dropped(),
            skipped=skipped,
            threads_target=self._target,
            workers_by_state=by_state,
            started_at=self._started_at,
            elapsed=end - self._started_at if self._started_at else 0.0,
        )

    def workers(self) -> list[WorkerInfo]:
        return self._pool.infos()

    # -- for strategies (core.strategies.base.StrategyHost) ----------------------------------
    @property
    def stopping(self) -> bool:
        """True once the crawl is ending: strategies take no new URL."""
        return self._stopping

    @property
    def paused(self) -> bool:
        return self._paused

    def spawn_workers(self, count: int, body: Body) -> None:
        """Start ``count`` workers ``crawl-worker-N`` (lowest free N) running ``body(worker)``."""
        self._pool.spawn(count, body)

    def start_worker(
        self, name: str, body: Body, on_exit: Callable[[], None] | None = None
    ) -> Worker | None:
        """Start one worker thread called ``name``; None when the crawl is ending.

        ``on_exit()`` runs last in the thread, after its goodbye (and after an error has
        ended the crawl). Raises ``RuntimeError`` when the OS refuses a new thread.
        """
        return self._pool.start(name, body, on_exit)

    def start_thread(self, name: str, target: Callable[[], None]) -> None:
        """Start a helper thread of the crawl that is not a worker (``join`` waits for it)."""
        self._pool.start_thread(name, target)

    def adopt_worker(self) -> Worker:
        """Register the calling thread (one a strategy did not start itself) as a worker."""
        return self._pool.adopt()

    def release_worker(self, w: Worker, reason: str) -> None:
        """An adopted worker has finished (its thread has exited or will take no more URLs)."""
        self._pool.release(w, reason)

    def checkpoint(self, w: Worker | None) -> bool:
        """Between two URLs: park while paused; False once the crawl is ending (or ``w`` retired).

        ``w`` None parks a helper thread (a dispatcher) without counting it as a worker.
        """
        if self._paused:
            self._park(w)
        return not (self._stopping or (w is not None and w.retire))

    def finish(self) -> None:
        """The strategy has no URL left, queued or in hand: the crawl ends naturally."""
        self._end("max_pages" if self._budget.capped else "finished")

    def fail(self, exc: BaseException) -> None:
        """The strategy's own bookkeeping failed: end the crawl with reason ``error: ...``."""
        message = f"error: {type(exc).__name__}: {exc}"
        self._notice("error", message)
        self._end(message)

    def notice(self, level: str, message: str) -> None:
        self._notice(level, message)

    def _park(self, w: Worker | None) -> None:
        if w is not None:
            self.set_state(w, WorkerState.IDLE, None)
        with self._pause_cond:
            self._parked += w is not None
            while self._paused and not (self._stopping or (w is not None and w.retire)):
                self._pause_cond.wait()
            self._parked -= w is not None

    def _wake_workers(self) -> None:
        self._strategy.wake()
        with self._pause_cond:
            self._pause_cond.notify_all()

    # -- ending ------------------------------------------------------------------------------
    def _end(self, reason: str) -> bool:
        """Record why the crawl ends and wake everything; False if it had already ended."""
        with self._lock:
            if self._ended.is_set():
                return False
            self._reason = reason
            self._stopping = True
            self._pool.close()  # before the watchdog wakes: it must see every thread
            natural = reason in _ENDED_NATURALLY
            if not natural:
                self._state = CrawlState.STOPPING
            self._ended.set()
        self._wake_workers()
        if not natural:
            self._publish_state(CrawlState.STOPPING)
        return True

    def _watch(self, fetcher: Fetcher) -> None:
        """The crawl's one supervisor: memory guard, then the ordered shutdown and FINISHED."""
        try:
            guard = MemoryGuard(self.settings.memory_limit_mb, self.settings.memory_warning_mb)
            if guard.enabled:  # checked at least once: a short crawl may end before this runs
                self._check_memory(guard)
                while not self._ended.wait(CHECK_INTERVAL):
                    self._check_memory(guard)
            self._ended.wait()
            natural = self._reason in _ENDED_NATURALLY
            if not natural:  # idle or parked workers leave at once: no need to wait
                self._pool.wait_empty(STOP_GRACE, unless=self._force)
                fetcher.interrupt_all()
            busy = join_workers(self._pool, None if natural else fetcher.interrupt_all)
            if busy:
                self._notice("error", f"workers still busy after stop: {', '.join(busy)}")
        except BaseException as exc:
            self.fail(exc)
        finally:
            self._close_parts(fetcher)
            with self._lock:
                self._ended_at = time.monotonic()
                self._state = CrawlState.FINISHED
            self._publish_state(CrawlState.FINISHED)

    def _check_memory(self, guard: MemoryGuard) -> None:
        for level, rss in guard.check():
            if level == "limit":
                limit = guard.limit_mb
                self._notice("error", f"memory {rss:.0f} MiB reached the limit of {limit} MiB")
                self._end("memory_limit")
            else:
                self._notice("warning", f"memory {rss:.0f} MiB passed {guard.warning_mb} MiB")

    def _close_parts(self, fetcher: Fetcher) -> None:
        """Close every part, each in its own guard: a failing close is logged and noticed."""
        steps = [(f"the {self.settings.strategy} strategy", self._strategy.close)]
        steps.append(("the fetcher", fetcher.close))
        if self._results is not None:
            steps.append(("the results file", self._results.close))
        close_each(steps, lambda message: self._notice("error", message))
        release_free_memory()  # the workers' malloc arenas keep what they freed otherwise

    def _publish_state(self, state: CrawlState) -> None:
        if self.events.active:
            self.events.publish(CrawlStateChanged(state=state, reason=self._reason))

    def _notice(self, level: str, message: str) -> None:
        if self.events.active:
            self.events.publish(Notice(level=level, message=message))
