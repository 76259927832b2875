"""Experiment 11: the same crawl with its threads spread over every core vs pinned to one.

Under the GIL one thread runs Python at a time, and each ``send``/``recv`` hands the GIL to a
waiting thread; when the waiter sleeps on another core that is a cross-core wake-up
(``core.affinity``). Both variants crawl the embedded test site (its own process, no latency)
with the ``bounded`` engine at ``THREADS`` threads for a fixed time box, from the root, on a
site too big to finish; only ``pin_workers`` differs. Measured: pages/s, this process's CPU ms
per page (``time.process_time``), the server's (psutil on the site's process), and, live, how
many cores the crawl threads may run on (their OS affinity). Where the engine cannot pin (not
Linux, one usable CPU, no GIL) both variants would be the same crawl: nothing is run.
"""

from __future__ import annotations

import os
import sys
import threading

import psutil

from core.affinity import crawl_cpu
from core.experiments.base import Context, Experiment, MeasureSpec, Variant
from core.experiments.timed_crawl import timed_crawl
from core.settings import CrawlSettings
from core.testsite import TestSite

NAME = "gil-cores"
THREADS = 16
SITE_PAGES = 20_000  # more than a run can crawl in its time box
TRIAL_SECONDS = 2.0
WORKER_PREFIX = "crawl-worker-"  # the engine's worker threads (bounded strategy)


def _body(variant: Variant, ctx: Context) -> dict[str, float]:
    seconds = max(0.5, TRIAL_SECONDS * min(1.0, ctx.scale))
    with TestSite(pages=max(5_000, round(SITE_PAGES * ctx.scale))) as site:
        ctx.monitor.probe("crawl_cores", crawl_cores)
        settings = CrawlSettings(
            (site.url,), threads=THREADS, obey_robots=False, pin_workers=variant == "fixed"
        )
        rate = timed_crawl(settings, seconds, psutil.Process(site.pid), ctx.monitor, ctx.stop)
    return {
        "pages_per_s": rate.pages_per_s,
        "cpu_ms_per_page": rate.cpu_ms_per_page,
        "server_cpu_ms_per_page": rate.server_cpu_ms_per_page,
        "crawl_cores": ctx.monitor.peak("crawl_cores"),
        "pages": float(rate.pages),
    }


def crawl_cores() -> float:
    """How many cores the running crawl's worker threads may use (the union of their affinity)."""
    cores: set[int] = set()
    for thread in threading.enumerate():
        if thread.name.startswith(WORKER_PREFIX) and thread.native_id is not None:
            try:
                cores |= os.sched_getaffinity(thread.native_id)
            except OSError:  # it exited since enumerate()
                continue
    return float(len(cores))


def unavailable() -> str:
    """Why the engine leaves crawl threads unpinned on this machine ("" when it pins them)."""
    if crawl_cpu(True) is not None:
        return ""
    if not hasattr(os, "sched_setaffinity"):
        why = f"{sys.platform} has no os.sched_setaffinity (Linux only)"
    elif len(os.sched_getaffinity(0)) < 2:
        why = "this process may use only one CPU"
    else:
        why = "this Python runs without the GIL"
    return (
        f"pin_workers cannot pin crawl threads here: {why}. Both variants would run the same "
        "unpinned crawl, so this machine cannot test the claim"
    )


EXPERIMENT = Experiment(
    name=NAME,
    summary=f"{THREADS} crawl threads spread over every core vs pinned to one (pin_workers)",
    claim=(
        "Under the GIL, crawl threads spread over all cores spend more on hand-offs (each "
        "send and recv wakes a thread, often on another core) than they gain from running "
        "system calls in parallel; pinned to one core, the same crawl fetches more pages per "
        "second for less CPU per page."
    ),
    bad=f"pin_workers=False: the OS spreads {THREADS} crawl threads over every usable core",
    fixed="pin_workers=True: every crawl thread runs on one core",
    measures=(
        MeasureSpec("pages_per_s", "pages/s", "crawled", better="higher", key=True),
        MeasureSpec("cpu_ms_per_page", "ms", "crawler CPU/page", key=True),
        MeasureSpec("server_cpu_ms_per_page", "ms", "test site CPU/page"),
        MeasureSpec("crawl_cores", "cores", "cores the crawl threads may use"),
        MeasureSpec("pages", "pages", "pages in the time box", better="higher"),
    ),
    body=_body,
    unavailable=unavailable,
)
