"""The crawl engine: one crawl's settings, shared state, per-URL pipeline and shutdown.

How URLs are scheduled on threads is a *strategy* (``settings.strategy``, see
``core.strategies``): ``bounded`` (the default: a fixed pool of named workers around one
bounded frontier, see ``core/strategies/bounded.py``), ``pool``, ``recursive`` and
``thread-per-url``. Every strategy runs the same per-URL pipeline, :meth:`Crawler.handle`:
check robots.txt and the per-host delay, fetch, extract links, count and publish the result,
and return the new in-scope, never-seen links that fit the budgets, for the strategy to
schedule. The strategy also tells the engine when the crawl has run out of work
(:meth:`Crawler.finish`). So all strategies publish the same events, honour the same limits
and stop the same way. Per URL the pipeline takes the engine's lock once (counters and page
budgets; plus the visited set's once per in-scope link). Events are built only when someone
subscribes.

Limits: links beyond ``max_depth`` are not looked at; ``max_pages`` and
``per_host_max_pages`` are budgets spent when a URL is queued, so a crawl fetches exactly
``max_pages`` URLs when the site has more (reason ``"max_pages"``); links refused by a
budget or the query-parameter limit, and URLs robots.txt disallows (a result row with error
kind ``robots``), are counted in ``CrawlStats.skipped``.

Threads: the strategy's workers (``crawl-worker-N``; ``crawl-worker_N`` in the ``pool``
strategy's executor, plus its ``crawl-dispatcher``; ``crawl-spawn-N``) and one
``crawl-watchdog``. The watchdog waits for the crawl to end (finish, ``stop()``, memory limit
or an engine error), gives in-flight requests a short grace, shuts their sockets
(``Fetcher.interrupt_all``), joins the workers, closes the fetcher and results file, and
only then reports ``CrawlState.FINISHED``. Workers are non-daemon so a crawl always closes
its sockets and files; like ``concurrent.futures``, an interpreter-exit hook stops any crawl
still running so a forgotten crawl never keeps the process alive.

Failures: anything raised while handling one URL becomes that URL's result (error kind
``unexpected``) and the worker goes on; anything raised by the engine's own bookkeeping ends
the crawl with reason ``"error: ..."``.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from core.affinity import crawl_cpu, pin_current_thread
from core.events import (
    CrawlState,
    CrawlStateChanged,
    ErrorInfo,
    EventStream,
    FetchFinished,
    Notice,
    PageResult,
    ThreadsChanged,
    WorkerStarted,
    WorkerState,
    WorkerStateChanged,
    WorkerStopped,
)
from core.fetcher import Fetcher
from core.frontier import Item
from core.links import extract_links
from core.memguard import CHECK_INTERVAL, MemoryGuard, release_free_memory
from core.results import ResultsWriter
from core.robots import RobotsCache
from core.settings import CrawlSettings, SettingsError
from core.stats import CrawlStats, WorkerInfo
from core.strategies import make_strategy
from core.urls import fingerprint, normalize
from core.visited import VisitedSet

STOP_GRACE = 0.2
"""Seconds in-flight requests get after ``stop()`` before their sockets are shut."""
EXIT_PATIENCE = 5.0
"""Seconds the watchdog waits for workers after shutting sockets before it gives up on them."""
_REINTERRUPT = 0.1

_ENDED_NATURALLY = ("finished", "max_pages")


@dataclass(slots=True, eq=False)
class _Worker:
    """A worker's live record; written only by its own thread (``retire`` by set_threads).

    Strategies get one per thread that runs the pipeline and pass it to :meth:`Crawler.handle`.
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


class Crawler:
    """One crawl from ``start()`` to ``FINISHED``; see the module docstring."""

    def __init__(self, settings: CrawlSettings, events: EventStream | None = None) -> None:
        self.settings = settings
        self.events = events if events is not None else EventStream()
        self._state = CrawlState.IDLE
        self._reason = ""
        self._lock = threading.Lock()  # counters, host table, the worker pool
        self._pause_cond = threading.Condition(threading.Lock())
        self._paused = False
        self._parked = 0
        self._stopping = False
        self._ended = threading.Event()  # wakes the watchdog: finish, stop, limit or error
        self._force = threading.Event()  # second stop(): no grace
        self._pool_changed = threading.Condition(self._lock)  # a worker left the pool
        self._visited = VisitedSet()
        self._fetcher: Fetcher | None = None
        self._robots: RobotsCache | None = None
        self._results: ResultsWriter | None = None
        self._pool: tuple[_Worker, ...] = ()
        self._threads: list[threading.Thread] = []
        self._watchdog: threading.Thread | None = None
        self._strategy = make_strategy(settings.strategy, self)
        self._target = self._strategy.threads_target()
        self._started_at = 0.0
        self._ended_at = 0.0
        self._pages = self._errors = self._bytes = self._skipped = 0
        self._scheduled = 0
        self._capped = False
        self._host_pages: dict[str, int] = {}
        self._host_next: dict[str, float] = {}
        self._host_delay: dict[str, float] = {}
        allowed = frozenset(settings.allowed_hosts)
        self._in_scope = lru_cache(maxsize=4096)(lambda netloc: _hostname(netloc) in allowed)
        self._count_hosts = settings.per_host_max_pages < settings.max_pages
        self.cpu = crawl_cpu(settings.pin_workers)
        """The core every thread of the crawl runs on (``pin_workers``), or None: unpinned."""

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
        self._fetcher = Fetcher(s)
        if s.obey_robots:
            self._robots = RobotsCache(self._fetcher.fetch, s.user_agent)
        start_items = []
        for url in s.start_urls:
            norm = normalize(url, max_length=s.max_url_length)
            if norm is not None and self._visited.add(fingerprint(norm)):
                start_items.append((norm, None, 0))
                self._scheduled += 1
                if self._count_hosts:
                    host = _netloc(norm)
                    self._host_pages[host] = self._host_pages.get(host, 0) + 1
        _live_crawlers.add(self)
        self._publish_state(CrawlState.RUNNING)
        if self.cpu is not None:
            self._notice(
                "info",
                f"crawl threads share CPU {self.cpu}: one runs Python at a time under the GIL, "
                "and hand-offs within a core are cheaper (pin_workers; experiment gil-cores)",
            )
        if start_items:  # workers first: the watchdog must see every thread it joins
            self._strategy.start(start_items)
        self._watchdog = threading.Thread(target=self._watch, name="crawl-watchdog")
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
            with self._lock:
                self._pool_changed.notify_all()
            if self._fetcher is not None:
                self._fetcher.interrupt_all()

    def join(self, timeout: float | None = None) -> bool:
        """True when every thread this crawl started has exited."""
        deadline = None if timeout is None else time.monotonic() + timeout
        threads = [self._watchdog] if self._watchdog is not None else []
        with self._lock:
            threads += self._threads
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
        if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 1024:
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
            shrunk = False
            if running and not self._stopping:
                active = [w for w in self._pool if not w.retire]
                if n > len(active):
                    self._spawn(n - len(active), self._strategy.work)
                for worker in sorted(active, key=lambda w: w.number)[n:]:
                    worker.retire = True
                shrunk = n < len(active)
                self._threads = [t for t in self._threads if t.is_alive()]
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
        by_state = dict.fromkeys(WorkerState, 0)
        for worker in self._pool:
            by_state[worker.state] += 1
        end = self._ended_at or time.monotonic()
        with self._lock:
            pages, errors, nbytes, skipped = self._pages, self._errors, self._bytes, self._skipped
        return CrawlStats(
            pages=pages,
            errors=errors,
            bytes=nbytes,
            visited=len(self._visited),
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
        infos = []
        for w in self._pool:
            thread = w.thread
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

    # -- for strategies (core/strategies): worker lifecycle and the pipeline -----------------
    @property
    def stopping(self) -> bool:
        """True once the crawl is ending: strategies take no new URL."""
        return self._stopping

    @property
    def paused(self) -> bool:
        return self._paused

    def spawn_workers(self, count: int, body: Callable[[_Worker], None]) -> None:
        """Start ``count`` workers ``crawl-worker-N`` (lowest free N) running ``body(worker)``."""
        with self._lock:
            if not self._stopping:
                self._spawn(count, body)

    def start_worker(
        self,
        name: str,
        body: Callable[[_Worker], None],
        on_exit: Callable[[], None] | None = None,
    ) -> _Worker | None:
        """Start one worker thread called ``name``; None when the crawl is ending.

        ``on_exit()`` runs last in the thread, after its goodbye (and after an error has
        ended the crawl). Raises ``RuntimeError`` when the OS refuses a new thread.
        """
        worker = _Worker(number=0, name=name, since=time.monotonic())
        worker.thread = threading.Thread(target=self._run, args=(worker, body, on_exit), name=name)
        with self._lock:
            if self._stopping:
                return None
            worker.thread.start()  # under the lock, so a concurrent end sees it
            self._pool = (*self._pool, worker)
            self._add_thread(worker.thread)
        return worker

    def start_thread(self, name: str, target: Callable[[], None]) -> None:
        """Start a helper thread of the crawl that is not a worker (``join`` waits for it)."""

        def run() -> None:
            try:
                pin_current_thread(self.cpu)
                target()
            except BaseException as exc:
                self.fail(exc)

        thread = threading.Thread(target=run, name=name)
        with self._lock:
            thread.start()
            self._add_thread(thread)

    def adopt_worker(self) -> _Worker:
        """Register the calling thread (one a strategy did not start itself) as a worker."""
        thread = threading.current_thread()
        worker = _Worker(number=0, name=thread.name, thread=thread, since=time.monotonic())
        with self._lock:
            self._pool = (*self._pool, worker)
        pin_current_thread(self.cpu)
        self._announce(worker)
        return worker

    def release_worker(self, w: _Worker, reason: str) -> None:
        """An adopted worker has finished (its thread has exited or will take no more URLs)."""
        self._set_state(w, WorkerState.STOPPED, None)
        with self._lock:
            self._pool = tuple(x for x in self._pool if x is not w)
            self._pool_changed.notify_all()
        if self.events.active:
            self.events.publish(WorkerStopped(name=w.name, reason=reason))

    def checkpoint(self, w: _Worker | None) -> bool:
        """Between two URLs: park while paused; False once the crawl is ending (or ``w`` retired).

        ``w`` None parks a helper thread (a dispatcher) without counting it as a worker.
        """
        if self._paused:
            self._park(w)
        return not (self._stopping or (w is not None and w.retire))

    def finish(self) -> None:
        """The strategy has no URL left, queued or in hand: the crawl ends naturally."""
        self._end("max_pages" if self._capped else "finished")

    def fail(self, exc: BaseException) -> None:
        """The strategy's own bookkeeping failed: end the crawl with reason ``error: ...``."""
        message = f"error: {type(exc).__name__}: {exc}"
        self._notice("error", message)
        self._end(message)

    def notice(self, level: str, message: str) -> None:
        self._notice(level, message)

    def set_state(self, w: _Worker, state: WorkerState, url: str | None) -> None:
        self._set_state(w, state, url)

    def _spawn(self, count: int, body: Callable[[_Worker], None]) -> None:
        """Start ``count`` more workers (caller holds ``_lock``, so a concurrent end sees them).

        ``Thread.start`` only waits for the thread to exist, never for this lock.
        """
        taken = {w.number for w in self._pool}
        workers = []
        number = 0
        for _ in range(count):
            number += 1
            while number in taken:
                number += 1
            worker = _Worker(number=number, name=f"crawl-worker-{number}", since=time.monotonic())
            worker.thread = threading.Thread(
                target=self._run, args=(worker, body), name=worker.name
            )
            workers.append(worker)
            self._add_thread(worker.thread)
        self._pool = (*self._pool, *workers)
        for worker in workers:
            worker.thread.start()

    def _add_thread(self, thread: threading.Thread) -> None:
        """Remember a thread for ``join`` (caller holds ``_lock``); forget exited ones at times."""
        threads = self._threads
        threads.append(thread)
        if len(threads) >= 64 and len(threads) > 2 * len(self._pool) + 8:
            self._threads = [t for t in threads if t.is_alive()]

    def _run(
        self,
        w: _Worker,
        body: Callable[[_Worker], None],
        on_exit: Callable[[], None] | None = None,
    ) -> None:
        """A worker thread: announce it, run the strategy's ``body``, always say goodbye."""
        reason = "retired"
        try:
            pin_current_thread(self.cpu)
            self._announce(w)
            body(w)
            if self._stopping:
                reason = "stopped"
            elif not w.retire:
                reason = "done"
        except BaseException as exc:
            reason = f"error: {type(exc).__name__}"
            self.fail(exc)
        finally:
            self.release_worker(w, reason)
            if on_exit is not None:
                on_exit()

    def _announce(self, w: _Worker) -> None:
        if self.events.active:
            thread = threading.current_thread()
            self.events.publish(
                WorkerStarted(name=w.name, ident=thread.ident, native_id=thread.native_id)
            )

    def _park(self, w: _Worker | None) -> None:
        if w is not None:
            self._set_state(w, WorkerState.IDLE, None)
        with self._pause_cond:
            self._parked += w is not None
            while self._paused and not (self._stopping or (w is not None and w.retire)):
                self._pause_cond.wait()
            self._parked -= w is not None

    def _wake_workers(self) -> None:
        self._strategy.wake()
        with self._pause_cond:
            self._pause_cond.notify_all()

    # -- one URL -----------------------------------------------------------------------------
    def handle(self, w: _Worker, item: Item) -> list[Item]:
        """The per-URL pipeline every strategy runs; returns the new links to schedule.

        Robots.txt and host delay, fetch, parse, count and publish the result (and write it
        to ``results_path``), then the in-scope links never seen before that fit the budgets,
        as ``(url, parent, depth)`` items. Never raises for a bad page.
        """
        url, parent, depth = item
        links: list[str] = []
        try:
            result, links = self._visit(w, url, parent, depth)
        except Exception as exc:  # a bad page must never kill a worker
            error = ErrorInfo("unexpected", f"{type(exc).__name__}: {exc}"[:500])
            result = PageResult(url, parent, depth, None, 0, 0.0, 0, error)
        return self._account(w, item, result, links)

    def _visit(
        self, w: _Worker, url: str, parent: str | None, depth: int
    ) -> tuple[PageResult | None, list[str]]:
        robots = self._robots
        host = _netloc(url)
        if robots is not None:
            self._set_state(w, WorkerState.FETCHING, url)
            if not robots.allowed(url):
                if self._stopping:  # robots.txt was cut off by stop(): not a verdict
                    return None, []
                why = ErrorInfo("robots", robots.why_disallowed(url))
                return PageResult(url, parent, depth, None, 0, 0.0, 0, why), []
        delay = self._delay_for(host)
        if delay > 0 and not self._wait_turn(w, host, delay):
            return None, []  # stopped while waiting: the URL was never fetched
        self._set_state(w, WorkerState.FETCHING, url)  # its event marks the fetch's start
        outcome = self._fetcher.fetch(url)
        links: list[str] = []
        content_type = outcome.content_type or ""
        if outcome.error is None and outcome.body and "html" in content_type:
            self._set_state(w, WorkerState.PARSING, url)
            links = extract_links(
                outcome.body,
                outcome.final_url or url,
                encoding=_charset(content_type),
                max_url_length=self.settings.max_url_length,
            )
        result = PageResult(
            url,
            parent,
            depth,
            outcome.status,
            outcome.bytes,
            outcome.elapsed_ms,
            len(links),
            outcome.error,
            outcome.truncated,
        )
        return result, links

    def _delay_for(self, host: str) -> float:
        delay = self._host_delay.get(host)
        if delay is None:
            delay = self.settings.host_delay
            if self._robots is not None:
                delay = max(delay, self._robots.crawl_delay(host) or 0.0)
            self._host_delay[host] = delay
        return delay

    def _wait_turn(self, w: _Worker, host: str, delay: float) -> bool:
        """Reserve this host's next slot and sleep until it; False if the crawl ended."""
        with self._lock:
            now = time.monotonic()
            turn = max(now, self._host_next.get(host, now))
            self._host_next[host] = turn + delay
        if turn > now:
            self._set_state(w, WorkerState.WAITING, None)
            if self._ended.wait(turn - now):
                return False
        return not self._stopping

    def _account(
        self, w: _Worker, item: Item, result: PageResult | None, links: list[str]
    ) -> list[Item]:
        """Count the result, record and publish it, and return the admitted new links.

        One acquisition of the engine lock per URL covers the counters and the admission.
        """
        url, _, depth = item
        fresh: list[str] = []
        refused = 0
        if links and depth < self.settings.max_depth:
            fresh, refused = self._unseen(links)
        error = result.error if result is not None else None
        robots_skip = error is not None and error.kind == "robots"
        with self._lock:
            new = self._admit(fresh, url, depth + 1) if fresh else []
            self._skipped += refused + robots_skip
            if result is not None and not robots_skip:
                self._pages += 1
                self._bytes += result.bytes
                self._errors += result.failed
        if result is not None:
            if not robots_skip:
                w.pages += 1
            if error is not None:
                w.last_error = f"{error.kind}: {error.message}"
            if self._results is not None:
                self._results.write(result)
            if self.events.active:
                self.events.publish(FetchFinished(worker=w.name, result=result))
        return new

    def _unseen(self, links: list[str]) -> tuple[list[str], int]:
        """In-scope links never seen before, and how many a query-parameter limit refused."""
        in_scope = self._in_scope
        max_params = self.settings.max_query_params
        visited_add = self._visited.add
        fresh: list[str] = []
        refused = 0
        for link in links:
            if not in_scope(_netloc(link)):
                continue
            query = link.find("?")
            if query >= 0 and link.count("&", query) + 1 > max_params:
                refused += 1
                continue
            if visited_add(fingerprint(link)):
                fresh.append(link)
        return fresh, refused

    def _admit(self, fresh: list[str], parent: str, depth: int) -> list[Item]:
        """The new links that fit the page budgets (caller holds ``_lock``)."""
        s = self.settings
        room = max(0, s.max_pages - self._scheduled)
        if self._count_hosts:
            items: list[Item] = []
            cap = s.per_host_max_pages
            counts = self._host_pages
            for link in fresh:
                host = _netloc(link)
                n = counts.get(host, 0)
                if n < cap and len(items) < room:
                    counts[host] = n + 1
                    items.append((link, parent, depth))
        else:
            items = [(link, parent, depth) for link in fresh[:room]]
        if len(items) < len(fresh):
            self._capped = self._capped or len(items) >= room
            self._skipped += len(fresh) - len(items)
        self._scheduled += len(items)
        return items

    def _set_state(self, w: _Worker, state: WorkerState, url: str | None) -> None:
        """Record and publish a change of state or of URL (a new fetch right after another)."""
        if w.state is state and w.url == url:
            return
        w.state = state
        w.url = url
        w.since = time.monotonic()
        if self.events.active:
            self.events.publish(WorkerStateChanged(name=w.name, state=state, url=url))

    # -- ending ------------------------------------------------------------------------------
    def _end(self, reason: str) -> bool:
        """Record why the crawl ends and wake everything; False if it had already ended."""
        with self._lock:
            if self._ended.is_set():
                return False
            self._reason = reason
            self._stopping = True
            natural = reason in _ENDED_NATURALLY
            if not natural:
                self._state = CrawlState.STOPPING
            self._ended.set()
        self._wake_workers()
        if not natural:
            self._publish_state(CrawlState.STOPPING)
        return True

    def _watch(self) -> None:
        """The crawl's one supervisor: memory guard, then orderly shutdown and FINISHED."""
        try:
            guard = MemoryGuard(self.settings.memory_limit_mb, self.settings.memory_warning_mb)
            if guard.enabled:  # checked at least once: a short crawl may end before this runs
                self._check_memory(guard)
                while not self._ended.wait(CHECK_INTERVAL):
                    self._check_memory(guard)
            self._ended.wait()
            if self._reason not in _ENDED_NATURALLY:
                with self._lock:  # idle or parked workers leave at once: no need to wait
                    self._pool_changed.wait_for(
                        lambda: not self._pool or self._force.is_set(), STOP_GRACE
                    )
                self._fetcher.interrupt_all()
            self._join_workers()
        except BaseException as exc:
            self.fail(exc)
        finally:
            self._close_parts()
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

    def _join_workers(self) -> None:
        deadline = time.monotonic() + EXIT_PATIENCE
        while True:
            with self._lock:
                left = self._pool_changed.wait_for(lambda: not self._pool, _REINTERRUPT)
                busy = ", ".join(w.name for w in self._pool)
                threads = list(self._threads)
            if left:
                break
            if time.monotonic() >= deadline:
                self._notice("error", f"workers still busy after stop: {busy}")
                return
            if self._reason not in _ENDED_NATURALLY:
                self._fetcher.interrupt_all()  # a request that began after the first shut-down
        for thread in threads:  # each has left the pool; only its last lines remain
            thread.join(max(0.0, deadline - time.monotonic()))

    def _close_parts(self) -> None:
        self._strategy.close()
        for part in (self._fetcher, self._robots, self._results):
            close = getattr(part, "close", None)
            if close is not None:
                try:
                    close()
                except Exception as exc:  # closing must not hide the crawl's own result
                    self._notice("warning", f"closing {type(part).__name__}: {exc}")
        release_free_memory()  # the workers' malloc arenas keep what they freed otherwise

    def _publish_state(self, state: CrawlState) -> None:
        if self.events.active:
            self.events.publish(CrawlStateChanged(state=state, reason=self._reason))

    def _notice(self, level: str, message: str) -> None:
        if self.events.active:
            self.events.publish(Notice(level=level, message=message))


def _netloc(url: str) -> str:
    """``host[:port]`` of a normalised absolute URL, by string slicing (hot path)."""
    start = url.find("//") + 2
    end = url.find("/", start)
    return url[start:end] if end >= 0 else url[start:]


def _hostname(netloc: str) -> str:
    host = netloc.rpartition("@")[2]
    if host.startswith("["):
        return host[1 : host.find("]")]
    return host.partition(":")[0]


def _charset(content_type: str) -> str | None:
    at = content_type.find("charset=")
    if at < 0:
        return None
    return content_type[at + 8 :].split(";")[0].strip().strip("\"'") or None


_live_crawlers: weakref.WeakSet[Crawler] = weakref.WeakSet()


def _stop_live_crawlers() -> None:
    """At interpreter exit, before non-daemon threads are joined: stop what is still running."""
    for crawler in list(_live_crawlers):
        crawler.stop()
        crawler.stop()
    for crawler in list(_live_crawlers):
        crawler.join(EXIT_PATIENCE)


threading._register_atexit(_stop_live_crawlers)
