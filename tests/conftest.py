"""Shared fixtures: embedded test sites over loopback, and a condition-based wait.

Sites are session-scoped (each is one child process, started once). They are shared, so a
test that counts requests calls ``site.reset_stats()`` first and reads ``site.stats()`` after.

- ``site``: 300 plain pages, zero latency; a full crawl fetches exactly 300 page URLs.
- ``trap_site``: 20 pages (all within depth 2) whose root also links the ``/trap/`` index
  of misbehaving routes.

Every test is guarded: it fails if a ``crawl-*`` thread is alive before or after it.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core.engine import Crawler
from core.events import CrawlState, EventStream
from core.settings import CrawlSettings
from core.testsite import TestSite

SITE_PAGES = 300
TRAP_SITE_PAGES = 20


def crawl_threads() -> list[str]:
    """Names of the threads a crawl starts (workers, watchdogs, dispatcher) still alive."""
    return [t.name for t in threading.enumerate() if t.name.startswith("crawl-")]


@pytest.fixture(autouse=True)
def collect_garbage_on_the_main_thread():
    """Garbage from a test (closed windows, controllers in reference cycles) is collected here,
    on the GUI thread: left to the cyclic collector, it may run on a crawl thread of the next
    test, where destroying a QObject takes Qt's lock while the GUI thread holds the GIL and
    waits for that lock (seen once as a hang pytest-timeout could not end)."""
    yield
    gc.collect()


@pytest.fixture(autouse=True)
def no_crawl_threads_left():
    """Every test starts and ends with no crawl thread alive: a leak fails the test that made it."""
    assert crawl_threads() == [], "a crawl thread was alive before the test"
    yield
    assert crawl_threads() == [], "the test left a crawl thread alive"


def crawl_to_end(settings: CrawlSettings, timeout: float = 30.0) -> tuple[Crawler, list]:
    """Crawl to the end; return the crawler and every event it published."""
    events = EventStream()
    sub = events.subscribe(maxlen=1_000_000)
    crawler = Crawler(settings, events)
    crawler.start()
    assert crawler.join(timeout), "crawl did not finish in time"
    assert crawler.state is CrawlState.FINISHED
    assert crawl_threads() == []  # join() True means every crawl thread has exited
    return crawler, sub.drain()


def start_hung_crawl(site: TestSite, n: int, tag: str = "n", **settings) -> Crawler:
    """Start a crawl of ``n`` distinct never-answering URLs on ``n`` threads; return once the
    site has received every one of them, so all ``n`` requests are in flight."""
    hung = tuple(f"{site.url}trap/never-answer?{tag}={i}" for i in range(n))
    options = {
        "threads": n,
        "per_host_threads": n,
        "obey_robots": False,
        "deadline": 60,
        "read_timeout": 60,
    }
    crawler = Crawler(CrawlSettings(hung, **{**options, **settings}))
    site.reset_stats()
    crawler.start()
    wait_until(lambda: site.stats()["by_route"].get("/trap/never-answer", 0) >= n)
    assert crawler.stats().in_flight == n
    return crawler


@pytest.fixture(autouse=True)
def history_dir(tmp_path, monkeypatch) -> Path:
    """Runs saved by the window or the experiments go to a per-test folder, never the user's."""
    path = tmp_path / "threadscope-data"
    monkeypatch.setenv("THREADSCOPE_DATA_DIR", str(path))
    return path


@pytest.fixture(scope="session")
def site() -> Iterator[TestSite]:
    with TestSite(pages=SITE_PAGES) as running:
        yield running


@pytest.fixture(scope="session")
def trap_site() -> Iterator[TestSite]:
    with TestSite(pages=TRAP_SITE_PAGES, traps=("all",)) as running:
        yield running


def wait_until(predicate: Callable[[], object], timeout: float = 10.0) -> None:
    """Re-check ``predicate`` until it is true (like ``qtbot.waitUntil``); fail on timeout."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s: {predicate}")
        pause.wait(0.005)
