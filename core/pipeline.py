"""The per-URL pipeline every strategy runs: robots, host turn, fetch, parse, account.

:meth:`Pipeline.handle` takes one ``(url, parent, depth)`` item on a worker's thread:

1. robots.txt (``obey_robots``): a disallowed URL becomes a result row with error kind
   ``robots`` and is counted as skipped, never fetched;
2. the host's turn (``core.politeness``): with a host delay, wait for the host's next turn
   (state ``WAITING``); a stop cuts the wait short and the URL is never fetched;
3. fetch (state ``FETCHING``: its event marks the request's start);
4. parse an HTML body's links (state ``PARSING``);
5. account: count the result, write it to ``results_path``, publish ``FetchFinished``, and
   return the in-scope links never seen before that fit the budgets (``core.budget``) as
   items for the strategy to schedule.

Anything raised while visiting a URL becomes that URL's result (error kind ``unexpected``);
what accounting raises is the engine's own bookkeeping failing and reaches the worker (which
ends the crawl). Per URL the pipeline takes its lock once (counters and page budgets; plus
the visited set's once per in-scope link). Events are built only when someone subscribes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from core.budget import Budget, netloc
from core.events import ErrorInfo, EventStream, FetchFinished, PageResult, WorkerState
from core.fetcher import Fetcher
from core.frontier import Item
from core.links import extract_links
from core.politeness import HostTurns
from core.results import ResultsWriter
from core.robots import RobotsCache
from core.settings import CrawlSettings
from core.workers import Worker

SetState = Callable[[Worker, WorkerState, str | None], None]


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
        self._lock = threading.Lock()  # the counters and the budget's admission
        self._pages = self._errors = self._bytes = self._skipped = 0

    def totals(self) -> tuple[int, int, int, int]:
        """``(pages, errors, bytes, skipped)`` at one instant."""
        with self._lock:
            return self._pages, self._errors, self._bytes, self._skipped

    def handle(self, w: Worker, item: Item) -> list[Item]:
        """Run one URL through the pipeline; returns the new links to schedule.

        Never raises for a bad page.
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
        self, w: Worker, url: str, parent: str | None, depth: int
    ) -> tuple[PageResult | None, list[str]]:
        robots = self._robots
        if robots is not None:
            self._set_state(w, WorkerState.FETCHING, url)
            if not robots.allowed(url):
                if self._ended.is_set():  # robots.txt was cut off by stop(): not a verdict
                    return None, []
                why = ErrorInfo("robots", robots.why_disallowed(url))
                return PageResult(url, parent, depth, None, 0, 0.0, 0, why), []
        host = netloc(url)
        delay = self._delay_for(host)
        if delay > 0 and not self._wait_turn(w, host, delay):
            return None, []  # stopped while waiting: the URL was never fetched
        self._set_state(w, WorkerState.FETCHING, url)  # its event marks the fetch's start
        outcome = self._fetch(url)
        links: list[str] = []
        content_type = outcome.content_type or ""
        if outcome.error is None and outcome.body and "html" in content_type:
            self._set_state(w, WorkerState.PARSING, url)
            links = extract_links(
                outcome.body,
                outcome.final_url or url,
                encoding=_charset(content_type),
                max_url_length=self._max_url_length,
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

    def _wait_turn(self, w: Worker, host: str, delay: float) -> bool:
        """Wait for ``host``'s next turn; False if the crawl ended meanwhile."""
        wait = self._reserve(host, delay)
        if wait > 0:
            self._set_state(w, WorkerState.WAITING, None)
            if self._ended.wait(wait):
                return False
        return not self._ended.is_set()

    def _account(
        self, w: Worker, item: Item, result: PageResult | None, links: list[str]
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
            if self._events.active:
                self._events.publish(FetchFinished(worker=w.name, result=result))
        return new


def _charset(content_type: str) -> str | None:
    at = content_type.find("charset=")
    if at < 0:
        return None
    return content_type[at + 8 :].split(";")[0].strip().strip("\"'") or None
