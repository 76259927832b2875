"""What one window runs: the metrics sampler, the embedded test site process and the crawl.

No Qt here: the window polls this object from its timers. Starting the test site spawns a
process, so it happens on a helper thread and the window polls the returned future instead of
freezing while the child boots.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from core.engine import Crawler
from core.events import EventStream
from core.history import RunRecord, save_run, summarize_metrics
from core.sampler import KEYS, MetricsSampler
from core.settings import CrawlSettings
from core.testsite.params import SiteParams
from core.testsite.process import TestSite

log = logging.getLogger(__name__)


class CrawlSession:
    """Owns every thread and process the window starts; :meth:`close` ends them all."""

    def __init__(self, sample_interval: float = 0.1) -> None:
        self.sampler = MetricsSampler(interval=sample_interval)
        self.t0 = self.sampler.t0  # the charts' time zero
        self.sampler.start()
        self.crawler: Crawler | None = None
        self.run_number = 0
        self._site: TestSite | None = None
        self._site_params: SiteParams | None = None
        self._site_starter = ThreadPoolExecutor(1, thread_name_prefix="threadscope-site")
        self._history_writer = ThreadPoolExecutor(1, thread_name_prefix="threadscope-history")
        self._crawl_started = 0.0  # chart seconds when the current crawl was created
        self._thread_counts: list[int] = []  # the current crawl's worker count, then each change
        self._scratch = Path(tempfile.mkdtemp(prefix="threadscope-"))

    def chart_time(self, monotonic: float) -> float:
        """Seconds on the charts' axis for a ``time.monotonic()`` stamp."""
        return monotonic - self.t0

    def now(self) -> float:
        return time.monotonic() - self.t0

    @property
    def site_pid(self) -> int | None:
        return self._site.pid if self._site is not None else None

    def site_url(self, params: SiteParams) -> Future[str]:
        """The embedded site's base URL, (re)starting it when its knobs changed."""
        if self._site is not None and self._site_params == params:
            done: Future[str] = Future()
            done.set_result(self._site.url)
            return done
        return self._site_starter.submit(self._restart_site, params)

    def _restart_site(self, params: SiteParams) -> str:
        self._stop_site()
        site = TestSite(
            pages=params.pages, latency_ms=params.latency_ms, error_rate=params.error_rate
        )
        site.start()
        self._site, self._site_params = site, params
        log.info(
            "test site (%d pages, %d ms) serving at %s", params.pages, params.latency_ms, site.url
        )
        return site.url

    def _stop_site(self) -> None:
        site, self._site, self._site_params = self._site, None, None
        if site is not None:
            site.stop()

    @property
    def results_path(self) -> Path:
        return self._scratch / f"results-{self.run_number}.jsonl"

    def new_crawler(self, settings: CrawlSettings) -> Crawler:
        """A crawl for the sampler to watch, not yet started (subscribe to its events first:
        the engine publishes only while someone listens). Results go to a scratch file."""
        if self.crawler is not None and not self.crawler.join(0):
            raise RuntimeError("a crawl is still running")
        self.results_path.unlink(missing_ok=True)
        self.run_number += 1
        crawler = Crawler(
            settings.replace(results_path=str(self.results_path)), events=EventStream()
        )
        self.crawler = crawler
        self._crawl_started = self.now()
        self._thread_counts = [crawler.stats().threads_target]
        self.sampler.set_source(crawler)
        return crawler

    def set_threads(self, n: int) -> int | None:
        """Resize the running crawl to ``n`` workers; the count it had, or None when nothing
        changed (already ``n``, or a strategy that cannot resize: the engine says so in a
        notice). Each change is kept for the history's title and summary."""
        crawler = self.crawler
        if crawler is None:
            return None
        old = crawler.stats().threads_target
        if old == n:
            return None
        crawler.set_threads(n)
        if not crawler.resizable:
            return None
        self._thread_counts.append(n)
        return old

    def save_crawl(self) -> Future[RunRecord] | None:
        """Save the ended crawl to the run history: its settings, the sampler's series since it
        was created (time from its start) and a summary. The series are copied here; the files
        are written on a helper thread, so a long crawl's CSV never stalls the window."""
        crawler = self.crawler
        if crawler is None:
            return None
        stats = crawler.stats()
        self.sampler.sample_once()  # a crawl shorter than one tick still gets its final sample
        times = self.sampler.times()
        series = {key: self.sampler.series(key) for key in KEYS}
        n = min(len(times), *(len(v) for v in series.values()))  # a tick may land in between
        keep = times[:n] >= self._crawl_started
        metrics = {"t": times[:n][keep] - self._crawl_started}
        metrics.update({key: values[:n][keep] for key, values in series.items()})
        counts = self._thread_counts
        workers = {
            "worker_threads_start": counts[0],
            "worker_threads_max": max(counts),
            "worker_threads_end": counts[-1],
        }
        summary = summarize_metrics(metrics, stats.elapsed, stats.pages, stats.errors, workers)
        settings = crawler.settings
        title = (
            f"{settings.start_urls[0]} · {settings.strategy} · {threads_label(counts)} · "
            f"{crawler.reason or 'finished'}"
        )
        details = {"reason": crawler.reason, "stats": stats, "worker_threads": list(counts)}
        return self._history_writer.submit(
            save_run, "crawl", title, settings, summary, metrics, details
        )

    def stop_crawl(self, timeout: float) -> bool:
        """Stop, then abandon in-flight work if the grace is not enough; True when all exited."""
        crawler = self.crawler
        if crawler is None:
            return True
        crawler.stop()
        if crawler.join(timeout * 0.6):
            return True
        crawler.stop()
        return crawler.join(timeout * 0.4)

    def close(self, timeout: float = 2.0) -> bool:
        """End the crawl, the sampler and the site; True when every thread exited in time."""
        deadline = time.monotonic() + timeout
        stopped = self.stop_crawl(timeout * 0.75)
        self.sampler.stop()
        stopped = self.sampler.join(max(0.05, deadline - time.monotonic())) and stopped
        self._site_starter.shutdown(wait=True, cancel_futures=True)
        self._history_writer.shutdown(wait=True)  # a save in progress is finished, not torn
        self._stop_site()
        shutil.rmtree(self._scratch, ignore_errors=True)
        return stopped


def threads_label(counts: Sequence[int]) -> str:
    """What a crawl ran at, from its first worker count and each change: "8 threads",
    "8→32 threads", "8→32→4 threads"; longer stories keep the ends and the peak:
    "8→…→4 threads (max 64)"."""
    if len(counts) <= 3:
        return "→".join(map(str, counts)) + " threads"
    return f"{counts[0]}→…→{counts[-1]} threads (max {max(counts)})"
