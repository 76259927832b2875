"""Periodic process and crawl metrics kept in fixed-size ring buffers.

One thread (``threadscope-sampler``) samples at a steady pace: it waits on an Event until the
next tick is due (``interval`` minus the time the sample took), so ``stop()`` is immediate.
All psutil calls are in ``_sample_process``. Memory is constant: one preallocated numpy array
of ``capacity`` columns, overwritten oldest first, so an hour at 10 Hz costs about 5 MiB.

Rates (pages/s, bytes/s, errors/s) are taken over the last ``RATE_WINDOW_S`` of samples, not
the last tick: pages finish in bursts, and over a 100 ms delta a steady 500 pages/s reads as
anything from 0 to 1000.
"""

from __future__ import annotations

import csv
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import psutil

from core.events import WorkerState
from core.stats import CrawlStats


@dataclass(frozen=True, slots=True)
class MetricSpec:
    key: str
    label: str
    unit: str
    description: str


METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("rss_mib", "Memory (RSS)", "MiB", "resident memory of this process"),
    MetricSpec("cpu_percent", "CPU", "%", "process CPU use; 100 % is one core busy"),
    MetricSpec("os_threads", "OS threads", "", "threads the operating system counts"),
    MetricSpec("py_threads", "Python threads", "", "threading.active_count()"),
    MetricSpec("busy_workers", "Busy workers", "", "workers with a request in flight"),
    MetricSpec("workers_idle", "Idle", "", "workers waiting for a URL"),
    MetricSpec("workers_fetching", "Fetching", "", "workers blocked on the network"),
    MetricSpec("workers_parsing", "Parsing", "", "workers extracting links (holding the GIL)"),
    MetricSpec("workers_waiting", "Waiting", "", "workers waiting for a host's turn"),
    MetricSpec("frontier", "Frontier", "URLs", "URLs queued, in memory and spilled to disk"),
    MetricSpec("in_flight", "In flight", "", "requests on the wire now"),
    MetricSpec("pages", "Pages", "", "URLs fetched so far"),
    MetricSpec("pages_per_s", "Pages/s", "1/s", "pages fetched per second, over the last second"),
    MetricSpec("bytes_per_s", "Bytes/s", "B/s", "body bytes per second, over the last second"),
    MetricSpec("errors", "Errors", "", "URLs that ended with an error"),
    MetricSpec("errors_per_s", "Errors/s", "1/s", "errors per second, over the last second"),
    MetricSpec("visited", "Visited", "URLs", "distinct URLs seen"),
    MetricSpec("sampler_cpu_ms", "Sampler cost", "ms", "CPU time this sampler spent per tick"),
)
KEYS: tuple[str, ...] = tuple(spec.key for spec in METRICS)
RATE_WINDOW_S = 1.0
_INDEX = {key: i + 1 for i, key in enumerate(KEYS)}  # row 0 holds the times


class StatsSource(Protocol):
    def stats(self) -> CrawlStats: ...


class MetricsSampler:
    """Samples the process and an optional crawl; see the module docstring."""

    def __init__(
        self,
        source: StatsSource | None = None,
        interval: float = 0.1,
        capacity: int = 36_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if interval <= 0:
            raise ValueError(f"interval must be above 0 seconds, got {interval}")
        if capacity < 2:
            raise ValueError(f"capacity must be 2 or more, got {capacity}")
        self.interval = interval
        self.capacity = capacity
        self._source = source
        self._data = np.zeros((len(KEYS) + 1, capacity), dtype=np.float64)
        self._count = 0  # samples ever written; the next goes to column count % capacity
        self._lock = threading.Lock()
        self._latest: dict[str, float] = {}
        # (time, stats) of the current source's recent samples, enough to span RATE_WINDOW_S.
        self._recent: deque[tuple[float, CrawlStats]] = deque()
        self._process = psutil.Process()
        self._process.cpu_percent(None)  # primes the counter; the first real value is a delta
        self._clock = clock
        self.t0 = clock()  # ``times()`` are seconds since this ``clock()`` (``time.monotonic``)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("sampler already started")
        self._thread = threading.Thread(target=self._run, name="threadscope-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> bool:
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    def set_source(self, source: StatsSource | None) -> None:
        """Attach a new crawl (or none); rates restart from its first sample."""
        with self._lock:
            self._source = source
            self._recent.clear()

    def _run(self) -> None:
        # Ticks are due on a fixed grid, so a late tick (the GIL was busy) does not delay the
        # rest; after a long stall the grid restarts from now instead of bursting to catch up.
        due = time.monotonic()
        while not self._stop.is_set():
            self.sample_once()
            due += self.interval
            now = time.monotonic()
            if due < now - self.interval:
                due = now
            self._stop.wait(max(0.0, due - now))

    # -- sampling ----------------------------------------------------------------------------
    def sample_once(self) -> dict[str, float]:
        """Take one sample now, store it, and return it."""
        cpu_started = time.thread_time()
        now = self._clock()
        sample = self._sample_process()
        sample["py_threads"] = float(threading.active_count())
        source = self._source
        stats = source.stats() if source is not None else CrawlStats()
        sample.update(self._crawl_metrics(now, stats))
        sample["sampler_cpu_ms"] = 1000.0 * (time.thread_time() - cpu_started)
        column = [now - self.t0, *(sample[key] for key in KEYS)]
        with self._lock:
            if source is self._source:  # a set_source() in between restarts the rates
                self._recent.append((now, stats))
            self._data[:, self._count % self.capacity] = column
            self._count += 1
            self._latest = sample
        return sample

    def _sample_process(self) -> dict[str, float]:
        process = self._process
        with process.oneshot():
            return {
                "rss_mib": process.memory_info().rss / 1_048_576,
                "cpu_percent": process.cpu_percent(None),
                "os_threads": float(process.num_threads()),
            }

    def _crawl_metrics(self, now: float, stats: CrawlStats) -> dict[str, float]:
        by_state = stats.workers_by_state
        idle = by_state.get(WorkerState.IDLE, 0)
        fetching = by_state.get(WorkerState.FETCHING, 0)
        parsing = by_state.get(WorkerState.PARSING, 0)
        waiting = by_state.get(WorkerState.WAITING_HOST, 0)
        pages_rate = bytes_rate = errors_rate = 0.0
        with self._lock:  # set_source() may clear the window meanwhile
            recent = self._recent
            # The reference is the newest sample at least RATE_WINDOW_S old (or the oldest kept).
            while len(recent) > 1 and recent[1][0] <= now - RATE_WINDOW_S:
                recent.popleft()
            reference = recent[0] if recent else None
        if reference is not None:
            then, before = reference
            span = now - then
            if span > 0:
                pages_rate = max(0, stats.pages - before.pages) / span
                bytes_rate = max(0, stats.bytes - before.bytes) / span
                errors_rate = max(0, stats.errors - before.errors) / span
        return {
            "busy_workers": float(fetching),
            "workers_idle": float(idle),
            "workers_fetching": float(fetching),
            "workers_parsing": float(parsing),
            "workers_waiting": float(waiting),
            "frontier": float(stats.frontier),
            "in_flight": float(stats.in_flight),
            "pages": float(stats.pages),
            "pages_per_s": pages_rate,
            "bytes_per_s": bytes_rate,
            "errors": float(stats.errors),
            "errors_per_s": errors_rate,
            "visited": float(stats.visited),
        }

    # -- reading -----------------------------------------------------------------------------
    def __len__(self) -> int:
        return min(self._count, self.capacity)

    def _ordered(self, rows: int | slice) -> np.ndarray:
        with self._lock:
            count = self._count
            values = self._data[rows]
            if count <= self.capacity:
                return values[..., :count].copy()
            split = count % self.capacity
            return np.concatenate((values[..., split:], values[..., :split]), axis=-1)

    def series(self, key: str) -> np.ndarray:
        """Samples of ``key``, oldest first (at most ``capacity``)."""
        try:
            row = _INDEX[key]
        except KeyError:
            raise KeyError(f"unknown metric {key!r}; known: {', '.join(KEYS)}") from None
        return self._ordered(row)

    def times(self) -> np.ndarray:
        """Sample times in seconds since the sampler was created, oldest first."""
        return self._ordered(0)

    def latest(self) -> dict[str, float]:
        """The last sample, or an empty dict before the first."""
        return self._latest

    def cost_ms(self) -> float:
        """Mean sampler CPU milliseconds per tick over the buffered samples."""
        values = self.series("sampler_cpu_ms")
        return float(values.mean()) if len(values) else 0.0

    def to_csv(self, path: str) -> None:
        """Write every buffered sample, one row per tick, with a header of keys."""
        table = self._ordered(slice(None)).T  # one consistent copy: a row per tick
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(("t", *KEYS))
            writer.writerows([f"{v:.6g}" for v in row] for row in table)
