"""The per-URL pipeline every strategy runs: robots, host turn, fetch, parse, account.

:meth:`Pipeline.handle` takes one ``(url, parent, depth)`` item on a worker's thread:

1. robots.txt (``obey_robots``): a disallowed URL becomes a result row with error kind
   ``robots`` and is counted as skipped, never fetched;
2. the host's turn (``core.politeness``): with a host delay, wait for the host's next turn
   (state ``WAITING_HOST``; not when the strategy's frontier schedules hosts itself,
   ``wait_turns`` False); a stop cuts the wait short and the URL is never fetched;
3. fetch (state ``FETCHING``: its event marks the request's start);
4. parse an HTML body's links (state ``PARSING``, recorded without an event of its own);
5. account: count the result (also per host, ``core.hosts``), write it to ``results_path``,
   publish ``FetchFinished`` (with when parsing began), and return the in-scope links never
   seen before that fit the budgets (``core.budget``) as items for the strategy to schedule.

Anything raised while visiting a URL becomes that URL's result (error kind ``unexpected``);
what accounting raises is the engine's own bookkeeping failing and reaches the worker (which
ends the crawl). Per URL the pipeline takes its lock once (counters and page budgets; plus
the visited set's once per in-scope link). Events are built only when someone subscribes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from core.budget import Budget
from core.events import ErrorInfo, EventStream, FetchFinished, Marker, PageResult, WorkerState
from core.fetcher import Fetcher
from core.frontier import Item, origin
from core.hosts import HostLedger, HostRow
from core.links import extract_links
from core.politeness import HostTurns
from core.results import ResultsWriter
from core.robots import RobotsCache
from core.settings import CrawlSettings
from core.workers import Worker

SetState = Callable[[Worker, WorkerState, str | None], None]
_OVERLOAD_ERRORS = frozenset(("timeout", "deadline", "connection", "reset", "incomplete"))
"""Transport failures autothrottle backs off on (a slow or overloaded server)."""


class Pipeline:
    """One crawl's per-URL pipeline and its counters; see the module docstring.

    ``ended`` is set when the crawl ends: a robots.txt check or a host-turn wait it cut
    short is not a verdict, and the URL is dropped without a result.
    """

    def __init__(
        self,
        settings: CrawlSettings,
        events: EventStream,
        fetcher: Fetcher,
        robots: RobotsCache | None,
        results: ResultsWriter | None,
        budget: Budget,
        turns: HostTurns,
        set_state: SetState,
        ended: threading.Event,
        wait_turns: bool = True,
    ) -> None:
        self._events = events
        self._robots = robots
        self._results = results
        self._ended = ended
        self._max_depth = settings.max_depth
        self._max_url_length = settings.max_url_length
        # bound once: each is called for every URL
        self._fetch = fetcher.fetch
        self._set_state = set_state
        self._unseen = budget.unseen
        self._admit = budget.admit
        self._delay_for = turns.delay_for
        self._reserve = turns.reserve
        self._begin = turns.begin
        self._wait_turns = wait_turns
        self._observe = turns.observe if settings.autothrottle else None
        self._lock = threading.Lock()  # the counters and the budget's admission
        self._pages = self._errors = self._bytes = self._skipped = 0
        self._hosts = HostLedger()

    def totals(self) -> tuple[int, int, int, int]:
        """``(pages, errors, bytes, skipped)`` at one instant."""
        with self._lock:
            return self._pages, self._errors, self._bytes, self._skipped

    def host_rows(
        self, delay_of: Callable[[str], float | None], in_flight: dict[str, int]
    ) -> list[HostRow]:
        """The per-host report at one instant, most pages first."""
        with self._lock:
            return self._hosts.rows(delay_of, in_flight)

    def handle(self, w: Worker, item: Item) -> list[Item]:
        """Run one URL through the pipeline; returns the new links to schedule.

        Never raises for a bad page.
        """
        url, parent, depth = item
        links: list[str] = []
        redirects = 0
        parsed: float | None = None
        try:
            result, links, redirects, parsed = self._visit(w, url, parent, depth)
        except Exception as exc:  # a bad page must never kill a worker
            error = ErrorInfo("unexpected", f"{type(exc).__name__}: {exc}"[:500])
            result = PageResult(url, parent, depth, None, 0, 0.0, 0, error)
            if w.state is WorkerState.PARSING and w.url == url:
                parsed = w.since  # the parser raised
        return self._account(w, item, result, links, redirects, parsed)

    def _visit(
        self, w: Worker, url: str, parent: str | None, depth: int
    ) -> tuple[PageResult | None, list[str], int, float | None]:
        """The URL's result (None: the crawl ended first), its links, redirects followed and
        when parsing began (None: not parsed)."""
        robots = self._robots
        if robots is not None:
            self._set_state(w, WorkerState.FETCHING, url)
            if not robots.allowed(url):
                if self._ended.is_set():  # robots.txt was cut off by stop(): not a verdict
                    return None, [], 0, None
                why = ErrorInfo("robots", robots.why_disallowed(url))
                return PageResult(url, parent, depth, None, 0, 0.0, 0, why), [], 0, None
        host = origin(url)
        delay = self._delay_for(host)  # known from here on (robots.txt has been read)
        if delay > 0 and not self._wait_turn(w, host, delay):
            return None, [], 0, None  # stopped while waiting: the URL was never fetched
        self._set_state(w, WorkerState.FETCHING, url)  # its event marks the fetch's start
        outcome = self._fetch(url)
        if self._observe is not None:
            self._throttle(host, outcome.elapsed_ms / 1000, outcome.status, outcome.error)
        links: list[str] = []
        parsed = None
        content_type = outcome.content_type or ""
        if outcome.error is None and outcome.body and "html" in content_type:
            parsed = w.enter(WorkerState.PARSING)  # FetchFinished carries it: no event here
            links = extract_links(
                outcome.body,
                outcome.final_url or url,
                encoding=_charset(content_type),
                max_url_length=self._max_url_length,
            )
        result = PageResult.make(
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
        return result, links, outcome.redirects, parsed

    def _throttle(
        self, host: str, latency: float, status: int | None, error: ErrorInfo | None
    ) -> None:
        """Autothrottle: report the response; a big change of delay becomes a chart marker."""
        assert self._observe is not None
        if error is not None and error.kind == "interrupted":
            return  # the crawl is stopping: no verdict on the host
        failed = error is not None and error.kind in _OVERLOAD_ERRORS
        change = self._observe(host, latency, status, failed)
        if change is not None and self._events.active:
            self._events.publish(Marker(text=change.text()))

    def _wait_turn(self, w: Worker, host: str, delay: float) -> bool:
        """Wait for ``host``'s next turn (taken from the frontier already when not
        ``wait_turns``: then at most a hand-out's jitter), then until its last request started
        ``delay`` ago; False if the crawl ended meanwhile."""
        wait = self._reserve(host, delay) if self._wait_turns else 0.0
        while True:
            if wait > 0:
                self._set_state(w, WorkerState.WAITING_HOST, host)
                if self._ended.wait(wait):
                    return False
            if self._ended.is_set():
                return False
            wait = self._begin(host, delay)
            if wait <= 0:
                return True

    def _account(
        self,
        w: Worker,
        item: Item,
        result: PageResult | None,
        links: list[str],
        redirects: int,
        parsed: float | None,
    ) -> list[Item]:
        """Count the result, record and publish it, and return the admitted new links."""
        url, _, depth = item
        fresh: list[str] = []
        refused = 0
        if links and depth < self._max_depth:
            fresh, refused = self._unseen(links)
        error = result.error if result is not None else None
        robots_skip = error is not None and error.kind == "robots"
        with self._lock:
            new = self._admit(fresh, url, depth + 1) if fresh else []
            self._skipped += refused + robots_skip + len(fresh) - len(new)
            if result is not None:
                if robots_skip:
                    self._hosts.robots_excluded(origin(url))
                else:
                    self._pages += 1
                    self._bytes += result.bytes
                    self._errors += result.failed
                    kind = error.kind if error is not None else None
                    if kind is None and result.failed:
                        kind = f"HTTP {result.status}"
                    self._hosts.fetched(
                        origin(url), result.bytes, result.elapsed_ms, redirects, kind
                    )
        if result is not None:
            if not robots_skip:
                w.pages += 1
            if error is not None:
                w.last_error = f"{error.kind}: {error.message}"
            if self._results is not None:
                self._results.write(result)
            if self._events.active:
                now = time.monotonic()
                self._events.publish(FetchFinished.make(now, w.name, result, parsed))
        return new


def _charset(content_type: str) -> str | None:
    at = content_type.find("charset=")
    if at < 0:
        return None
    return content_type[at + 8 :].split(";")[0].strip().strip("\"'") or None
