"""Experiment 8: a strong dict cache vs a weakref cache, and a list vs a generator."""

from __future__ import annotations

import threading
import time
import tracemalloc
import weakref
from concurrent.futures import ThreadPoolExecutor

from core.experiments.base import Context, Experiment, MeasureSpec, Variant
from core.experiments.monitor import MIB

BODY = 16 * 1024
HOT = 16  # pages something else keeps using, so a weak cache can still hit them


class Page:
    """A parsed page; str and int cannot be weakly referenced, so the cache holds these."""

    __slots__ = ("__weakref__", "body", "url")

    def __init__(self, url: str) -> None:
        self.url = url
        self.body = bytes([len(url) % 251]) * BODY


def _cache_run(variant: Variant, ctx: Context) -> tuple[float, int, float]:
    cache: dict[str, Page] | weakref.WeakValueDictionary[str, Page] = (
        {} if variant == "bad" else weakref.WeakValueDictionary()
    )
    lock = threading.Lock()
    hits = [0]
    in_use = [Page(f"/hot/{i}") for i in range(HOT)]
    for page in in_use:
        cache[page.url] = page
    lookups = ctx.scaled(2_000, minimum=40)
    ctx.monitor.probe("cache_entries", lambda: len(cache))
    before = tracemalloc.get_traced_memory()[0]

    def lookup(i: int) -> int:
        if i % 50 == 0 and ctx.stop.wait(0.005):
            return 0
        url = f"/hot/{i % HOT}" if i % 4 == 0 else f"/page/{i}"
        with lock:
            page = cache.get(url)
            if page is None:
                page = cache[url] = Page(url)
            else:
                hits[0] += 1
        return len(page.body)

    with ThreadPoolExecutor(4, thread_name_prefix="exp-cache") as pool:
        sum(pool.map(lookup, range(lookups)))
    retained = (tracemalloc.get_traced_memory()[0] - before) / MIB
    entries = len(cache)
    del in_use
    return retained, entries, 100.0 * hits[0] / lookups


def _pipeline_peak(variant: Variant, ctx: Context) -> tuple[float, float]:
    n = ctx.scaled(1_000_000, minimum=10_000)
    result: list[float] = []

    def run() -> None:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        start = time.perf_counter()
        if variant == "bad":
            squares = [i * i for i in range(n)]
            sum(squares)
            del squares
        else:
            sum(i * i for i in range(n))
        result.extend(
            ((tracemalloc.get_traced_memory()[1] - base) / MIB, time.perf_counter() - start)
        )

    thread = threading.Thread(target=run, name="exp-pipeline")
    thread.start()
    thread.join()
    return result[0], result[1]


def _body(variant: Variant, ctx: Context) -> dict[str, float]:
    own_tracing = not tracemalloc.is_tracing()
    if own_tracing:
        tracemalloc.start()
    try:
        retained, entries, hit_percent = _cache_run(variant, ctx)
        peak, elapsed = _pipeline_peak(variant, ctx)
    finally:
        if own_tracing:
            tracemalloc.stop()
    return {
        "cache_retained_mib": retained,
        "cache_entries": float(entries),
        "cache_hit_percent": hit_percent,
        "pipeline_peak_mib": peak,
        "pipeline_s": elapsed,
    }


EXPERIMENT = Experiment(
    name="cache-and-generators",
    summary="strong dict cache vs WeakValueDictionary; list vs generator for 1M values",
    claim=(
        "A cache holding strong references keeps every object it ever saw alive, while a "
        "weakref cache lets unused objects go; and building a full list of a large sequence "
        "needs memory for all of it at once, where a generator needs almost none."
    ),
    bad="dict cache of parsed pages; `sum([i * i for i in range(n)])`",
    fixed="weakref.WeakValueDictionary cache; `sum(i * i for i in range(n))`",
    measures=(
        MeasureSpec("cache_retained_mib", "MiB", "memory the cache still holds", key=True),
        MeasureSpec("cache_entries", "entries", "entries left in the cache"),
        MeasureSpec("cache_hit_percent", "%", "cache hit rate", better="higher"),
        MeasureSpec("pipeline_peak_mib", "MiB", "peak memory summing the squares", key=True),
        MeasureSpec("pipeline_s", "s", "time summing the squares"),
    ),
    body=_body,
)
