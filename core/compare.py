"""Compare crawl strategies: the same site, the same knobs, one strategy after the other.

The runs are sequential on purpose. Run at once they would share one GIL, one core budget and
one process RSS, and each one's pages/s, CPU per page and peak memory would be the others' too.
Each run gets its own :class:`MetricsSampler`, so its series start at its own zero and the
charts overlay on one time axis from each run's start. Before each run the previous one's
garbage is collected and freed memory handed back, so peak RSS is each run's own as far as a
shared process allows.

The winner per measure follows the rule in :data:`MEASURES` (higher pages/s; lower CPU
ms/page, peak threads, peak RSS and errors); equal best values are a tie between them.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from core.engine import Crawler
from core.history import RunRecord, RunSummary, save_run, summarize_metrics
from core.memguard import release_free_memory
from core.sampler import KEYS, MetricsSampler
from core.settings import CrawlSettings

SAMPLE_INTERVAL_S = 0.1
JOIN_POLL_S = 0.1
STOP_GRACE_S = 5.0


@dataclass(frozen=True, slots=True)
class Measure:
    key: str
    label: str
    unit: str
    better: str  # "higher" or "lower"

    @property
    def rule(self) -> str:
        return f"{self.better} is better"


MEASURES: tuple[Measure, ...] = (
    Measure("pages_per_s", "Pages/s", "1/s", "higher"),
    Measure("cpu_ms_per_page", "CPU ms/page", "ms", "lower"),
    Measure("peak_threads", "Peak threads", "", "lower"),
    Measure("peak_rss_mib", "Peak RSS", "MiB", "lower"),
    Measure("errors", "Errors", "", "lower"),
)


@dataclass(frozen=True, slots=True)
class StrategyRun:
    """One strategy's crawl: its figures (keys of :data:`MEASURES`), its sampler series with
    ``t`` from its own start, why it ended and the history record it was saved as."""

    strategy: str
    pages: int
    duration_s: float
    figures: Mapping[str, float]
    series: Mapping[str, np.ndarray]
    reason: str
    record_id: str | None = None

    @property
    def stopped(self) -> bool:
        return self.reason == "stopped"


@dataclass(frozen=True, slots=True)
class StrategyComparison:
    """Every finished run, in the order they ran, and the winner(s) per measure."""

    runs: tuple[StrategyRun, ...]
    stopped: bool = False
    winners: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def table(self) -> list[list[str]]:
        """Rows for a text table: a header, one row per measure (winner last)."""
        header = ["measure", *(run.strategy for run in self.runs), "winner", "rule"]
        rows = [header]
        for m in MEASURES:
            cells = [fmt(run.figures[m.key]) for run in self.runs]
            winner = ", ".join(self.winners.get(m.key, ())) or "—"
            unit = f" ({m.unit})" if m.unit else ""
            rows.append([m.label + unit, *cells, winner, m.rule])
        return rows

    def text(self) -> str:
        rows = self.table()
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        lines = [
            "  ".join(
                c.ljust(w) if i in (0, len(row) - 2, len(row) - 1) else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            ).rstrip()
            for row in rows
        ]
        return "\n".join(lines)


def fmt(value: float) -> str:
    if value != value:  # NaN: nothing to measure (no pages)
        return "—"
    if abs(value) >= 100 or value == int(value):
        return f"{value:,.0f}"
    return f"{value:,.2f}"


def winners(runs: Sequence[StrategyRun]) -> dict[str, tuple[str, ...]]:
    """Per measure, the strategies with the best value by its rule (several on a tie)."""
    result: dict[str, tuple[str, ...]] = {}
    for m in MEASURES:
        values = [(run.strategy, run.figures[m.key]) for run in runs]
        values = [(name, v) for name, v in values if v == v]  # NaN never wins
        if not values:
            continue
        pick = max if m.better == "higher" else min
        best = pick(v for _, v in values)
        result[m.key] = tuple(name for name, v in values if v == best)
    return result


def figures(
    series: Mapping[str, np.ndarray], pages: int, errors: int, duration_s: float, cpu_s: float
) -> dict[str, float]:
    """The measures of one run from its series and counters (NaN where undefined)."""
    threads = series.get("os_threads", np.zeros(0))
    rss = series.get("rss_mib", np.zeros(0))
    nan = float("nan")
    return {
        "pages_per_s": pages / duration_s if duration_s > 0 else nan,
        "cpu_ms_per_page": 1000.0 * cpu_s / pages if pages else nan,
        "peak_threads": float(threads.max()) if len(threads) else nan,
        "peak_rss_mib": float(rss.max()) if len(rss) else nan,
        "errors": float(errors),
    }


class ComparisonRunner:
    """Runs each strategy in turn; call :meth:`run` on a thread of your own.

    ``on_run(run)`` is called on that thread after each run (a view hands it to a mailbox);
    ``stop`` ends the current run gracefully and skips the rest. ``current_sampler`` is the
    running crawl's sampler (its ring buffers are safe to read from any thread), for live
    charts.
    """

    def __init__(
        self,
        settings: CrawlSettings,
        strategies: Sequence[str],
        *,
        save: bool = True,
        on_run: Callable[[StrategyRun], None] | None = None,
        stop: threading.Event | None = None,
        interval: float = SAMPLE_INTERVAL_S,
    ) -> None:
        if not strategies:
            raise ValueError("name at least one strategy to compare")
        for name in strategies:
            settings.replace(strategy=name)  # validates each (the recursive depth cap)
        self.settings = settings
        self.strategies = tuple(strategies)
        self.save = save
        self.on_run = on_run
        self.stop = stop or threading.Event()
        self.interval = interval
        self.current_strategy: str | None = None
        self.current_sampler: MetricsSampler | None = None

    def run(self) -> StrategyComparison:
        runs: list[StrategyRun] = []
        for name in self.strategies:
            if self.stop.is_set():
                break
            run = self._run_one(name)
            runs.append(run)
            if self.on_run is not None:
                self.on_run(run)
        self.current_strategy = None
        return StrategyComparison(tuple(runs), self.stop.is_set(), winners(runs))

    def _run_one(self, strategy: str) -> StrategyRun:
        gc.collect()
        release_free_memory()
        settings = self.settings.replace(strategy=strategy)
        crawler = Crawler(settings)
        sampler = MetricsSampler(source=crawler, interval=self.interval)
        self.current_strategy, self.current_sampler = strategy, sampler
        cpu_started = time.process_time()
        sampler.start()
        crawler.start()
        stopping = False
        while not crawler.join(JOIN_POLL_S):
            if self.stop.is_set() and not stopping:
                stopping = True
                crawler.stop()
        crawler.join(STOP_GRACE_S)
        cpu_s = time.process_time() - cpu_started
        sampler.stop()  # its last tick was within one interval of the end
        sampler.join(2.0)
        stats = crawler.stats()
        times = sampler.times()
        series = {key: sampler.series(key) for key in KEYS}
        n = min(len(times), *(len(v) for v in series.values()))
        metrics = {"t": times[:n], **{key: values[:n] for key, values in series.items()}}
        figs = figures(metrics, stats.pages, stats.errors, stats.elapsed, cpu_s)
        reason = crawler.reason or "finished"
        record = (
            self._save(settings, metrics, figs, stats.elapsed, stats.pages, stats.errors, reason)
            if self.save
            else None
        )
        return StrategyRun(
            strategy,
            stats.pages,
            stats.elapsed,
            figs,
            metrics,
            reason,
            record.id if record is not None else None,
        )

    def _save(
        self,
        settings: CrawlSettings,
        metrics: Mapping[str, np.ndarray],
        figs: Mapping[str, float],
        duration_s: float,
        pages: int,
        errors: int,
        reason: str,
    ) -> RunRecord:
        cpu = figs["cpu_ms_per_page"]
        extra = {"cpu_ms_per_page": cpu} if cpu == cpu else {}
        columns: dict[str, list[float]] = {key: values.tolist() for key, values in metrics.items()}
        summary: RunSummary = summarize_metrics(columns, duration_s, pages, errors, extra)
        title = (
            f"compare · {settings.start_urls[0]} · {settings.strategy} · "
            f"{settings.threads} threads · {reason}"
        )
        details = {"reason": reason, "compare": list(self.strategies)}
        return save_run("crawl", title, settings, summary, columns, details)
