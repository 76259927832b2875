"""One crawl for a fixed time box: how many pages it fetched and what CPU they cost.

Shared by the crawl-based experiments (thread-sweep, gil-cores). The crawl should start at the
root of a test site too big to finish, so every run measures the steady rate the same way. It
ends when the box does (or ``stop`` is set) with two ``stop()`` calls: in-flight requests are
abandoned, the rate is already measured.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import psutil

from core.engine import Crawler
from core.experiments.monitor import Monitor
from core.settings import CrawlSettings

POLL_S = 0.05  # how often the time box and ``stop`` are checked


@dataclass(frozen=True, slots=True)
class CrawlRate:
    """Pages in ``elapsed_s``; CPU seconds of this process and of the server meanwhile."""

    pages: int
    elapsed_s: float
    cpu_s: float  # time.process_time: every thread of this process, the monitor's included
    server_cpu_s: float

    @property
    def pages_per_s(self) -> float:
        return self.pages / self.elapsed_s

    @property
    def cpu_ms_per_page(self) -> float:
        return self.cpu_s * 1000 / max(self.pages, 1)

    @property
    def server_cpu_ms_per_page(self) -> float:
        return self.server_cpu_s * 1000 / max(self.pages, 1)


def timed_crawl(
    settings: CrawlSettings,
    seconds: float,
    server: psutil.Process,
    monitor: Monitor,
    stop: threading.Event,
) -> CrawlRate:
    """Crawl for ``seconds`` (less if stopped) inside a running ``monitor`` (probe "pages")."""
    crawler = Crawler(settings)
    monitor.probe("pages", lambda: crawler.stats().pages)
    server_before = cpu_seconds(server)
    cpu_before = time.process_time()
    began = time.perf_counter()
    crawler.start()
    deadline = began + seconds
    try:
        while not crawler.join(POLL_S):
            if stop.is_set() or time.perf_counter() >= deadline:
                break
        elapsed = time.perf_counter() - began
        pages = crawler.stats().pages
        cpu = time.process_time() - cpu_before
        server_cpu = cpu_seconds(server) - server_before
    finally:
        crawler.stop()
        crawler.stop()  # abandon in-flight requests: the box is measured
        if not crawler.join(10.0):
            raise RuntimeError(f"the crawl at {settings.threads} threads did not stop")
    return CrawlRate(pages, elapsed, cpu, server_cpu)


def cpu_seconds(process: psutil.Process) -> float:
    """User + system CPU seconds of ``process`` so far (0 once it has gone)."""
    try:
        times = process.cpu_times()
    except psutil.Error:
        return 0.0
    return times.user + times.system
