"""How big each measurement is: the full bench of issue 5, or a quick one for CI."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

from bench import agent_cost


@dataclass(frozen=True, slots=True)
class Plan:
    quick: bool
    pages: int  # the throughput site
    threads: int = 16
    latency_ms: float = 20.0
    scaling_threads: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64, 128)
    scaling_seconds: float = 6.0  # target length of one scaling point at the latency bound
    cpu_threads: tuple[int, ...] = (1, 4, 16, 64)  # CPU per page vs threads, zero latency
    throughput_repeats: int = 3  # zero-latency runs per crawler, round-robin; medians reported
    overhead_repeats: int = 15  # off/on pairs of overhead_pages each (9 left ±2.4 % on the median)
    overhead_pages: int = 10_000
    visited_urls: int = 1_000_000
    long_pages: int = 200_000
    long_warmup: int = 10_000
    stop_threads: int = 64
    stop_trials: int = 20
    agent_pairs: int = agent_cost.PAIRS  # with/without pairs per sample program (issue 12)
    agent_scale: float = 1.0  # the sample programs' work: ~1 s each at 1
    lock_pairs: int = 7  # tracked/untracked pairs, micro-benchmark and crawl (issue 13)
    lock_ops: int = 200_000  # acquire/release per micro-benchmark run
    lock_pages: int = 10_000  # per crawl, on the zero-latency server
    variant_pages: int = 5_000  # per site variant (issue 11)
    variant_pairs: int = 3  # engine/aiohttp pairs per variant


FULL = Plan(quick=False, pages=20_000)
QUICK = Plan(
    quick=True,
    pages=300,
    scaling_threads=(2, 16),
    scaling_seconds=0.5,
    cpu_threads=(1, 16),
    throughput_repeats=1,
    overhead_repeats=1,
    overhead_pages=300,
    visited_urls=20_000,
    long_pages=1_500,
    long_warmup=300,
    stop_threads=8,
    stop_trials=3,
    agent_pairs=1,
    agent_scale=0.02,
    lock_pairs=1,
    lock_ops=5_000,
    lock_pages=300,
    variant_pages=200,
    variant_pairs=1,
)

CRAWLERS = ("naive", "threaded", "aiohttp", "scrapy", "engine", "engine-unpinned")
_NEEDS = {"aiohttp": "aiohttp", "scrapy": "scrapy"}
LABELS = {
    "naive": "naive (requests.get + html.parser)",
    "threaded": "threaded (Session per thread + selectolax)",
    "aiohttp": "aiohttp + asyncio (selectolax)",
    "scrapy": "Scrapy",
    "engine": "Threadscope engine",
    "engine-unpinned": "Threadscope engine, threads on all cores (`--no-pin-workers`)",
}


def available_crawlers() -> tuple[str, ...]:
    """The crawlers whose libraries are installed (the bench extra brings Scrapy and aiohttp)."""
    return tuple(
        c for c in CRAWLERS if c not in _NEEDS or importlib.util.find_spec(_NEEDS[c]) is not None
    )
