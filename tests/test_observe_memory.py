"""The memory-growth warning: the growing dict cache of ``cache-and-generators`` trips it
with its allocation site; a steady crawl and the weakref cache do not."""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Iterator

import pytest

from core import cli
from core.diagnostics import is_tracing, start_tracing, stop_tracing
from core.engine import Crawler
from core.experiments import Monitor, get
from core.experiments.memory_shapes import Page
from core.history import list_runs, load_details
from core.observe.memgrowth import GrowthWarning, MemoryGrowthWatcher
from core.settings import CrawlSettings


@pytest.fixture
def tracing() -> Iterator[None]:
    was_tracing = is_tracing()
    start_tracing()
    yield
    if not was_tracing:
        stop_tracing()  # every thread that allocated has been joined by now (STOP_IS_RACY)


def watching(
    body: Callable[[], object], until: Callable[[GrowthWarning], bool] = lambda w: False
) -> tuple[list[GrowthWarning], MemoryGrowthWatcher]:
    """Run ``body`` while a thread checks a watcher with the default N, K and step, until a
    warning satisfies ``until``."""
    warnings: list[GrowthWarning] = []
    done = threading.Event()

    def warned(warning: GrowthWarning) -> None:
        warnings.append(warning)
        if until(warning):
            done.set()

    watcher = MemoryGrowthWatcher(warned)

    def tick() -> None:
        while not done.wait(0.01):
            watcher.check()

    checker = threading.Thread(target=tick, name="test-memory-watch")
    checker.start()
    try:
        body()
    finally:
        done.set()
        checker.join()
    return warnings, watcher


def cached_bodies_line() -> str:
    """file:line of ``self.body = ...`` in the experiment's cached ``Page``."""
    lines, first = inspect.getsourcelines(Page.__init__)
    offset = next(i for i, line in enumerate(lines) if "self.body" in line)
    return f"{inspect.getsourcefile(Page)}:{first + offset}"


def test_the_growing_cache_experiment_trips_the_warning(tracing):
    """Scale 3: the cache grows for ~1 s, so even a loaded machine's late readings see it.
    The bad variant's second part, one big list, may warn too (it grows as fast), so the
    watcher stops at the cache's warning: a snapshot of 3 million list items takes seconds."""
    experiment = get("cache-and-generators")

    def names_the_cache(warning: GrowthWarning) -> bool:
        return bool(warning.top) and warning.top[0].location == cached_bodies_line()

    warnings, _ = watching(
        lambda: experiment.run("bad", scale=3.0, monitor=Monitor(), stop=threading.Event()),
        until=names_the_cache,
    )
    cache = [w for w in warnings if names_the_cache(w)]
    assert cache, [w.text() for w in warnings]
    warning = cache[0]
    assert warning.grown_bytes >= 3 * 1_048_576
    assert warning.readings >= 3
    assert f"{cached_bodies_line()}  +" in warning.text()
    assert warning.text().startswith("memory growth: traced memory grew ")


def test_the_weakref_cache_does_not_trip_it(tracing):
    experiment = get("cache-and-generators")
    warnings, _ = watching(
        lambda: experiment.run("fixed", scale=1.0, monitor=Monitor(), stop=threading.Event())
    )
    assert warnings == []


def test_a_steady_crawl_does_not_trip_it(tracing, site):
    """300 pages, one every 4 ms (the per-host delay): over a second of steady crawling."""

    def crawl() -> None:
        crawler = Crawler(CrawlSettings((site.url,), threads=4, host_delay=0.004))
        crawler.start()
        assert crawler.join(30)
        assert crawler.stats().pages == 300

    warnings, watcher = watching(crawl)
    assert watcher.readings >= 8
    assert warnings == []


def test_crawl_trace_memory_on_a_steady_crawl_warns_nothing(tracing, site, capsys):
    assert cli.main(["crawl", site.url, "--trace-memory", "--quiet"]) == 0
    assert "memory growth" not in capsys.readouterr().err
    (run,) = list_runs()
    details = load_details(run.id)
    assert details is not None
    assert details["memory_warnings"] == []
