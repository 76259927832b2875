"""The live monitor every experiment variant runs under.

A daemon-free sampling thread reads threads, RSS and CPU (psutil) plus the experiment's own
probes (lost updates so far, backlog, ...) at ~10 Hz into a bounded ring buffer. Listeners
are plain callables, or an :class:`~core.events.EventStream` receiving :class:`MonitorSample`
events, so the GUI can chart a run live without the experiment knowing about Qt. Listeners are
called on the sampling thread (or whichever thread calls
``sample_once``) and must not block. A listener that raises is logged (its first failure, with
the traceback) and never breaks the experiment; the other listeners still get the event.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psutil

from core.diagnostics.stuck import StuckDetector, StuckThread
from core.events import Event, EventStream, MonitorSample, StuckThreadsFound

MIB = 1024 * 1024
BUILTIN_SERIES = ("py_threads", "os_threads", "rss_mib", "cpu_percent", "stuck_threads")

log = logging.getLogger(__name__)


Listener = Callable[[Event], None]


class Monitor:
    """Sample the process while one variant runs; see the module docstring."""

    def __init__(
        self,
        interval: float = 0.1,
        capacity: int = 3_000,
        events: EventStream | None = None,
    ) -> None:
        self.interval = interval
        self.events = events
        self._listeners: list[Listener] = []
        self._failed: set[int] = set()  # ids of listeners whose failure was logged
        self._probes: dict[str, Callable[[], float]] = {}
        self._samples: deque[MonitorSample] = deque(maxlen=capacity)
        self._peaks: dict[str, float] = {}
        self._detector: StuckDetector | None = None
        self._stuck: tuple[StuckThread, ...] = ()
        self._process = psutil.Process()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._label = ("", "")
        self._started_at = 0.0

    # -- configuration -------------------------------------------------------------------
    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def probe(self, name: str, read: Callable[[], float]) -> None:
        """Sample ``read()`` as series ``name`` on every tick of the current run."""
        self._probes[name] = read

    def detect_stuck(self, threshold_s: float) -> None:
        """Also run a :class:`StuckDetector` on every tick until the run ends (experiment 4)."""
        self._detector = StuckDetector(threshold_s)

    # -- one run -------------------------------------------------------------------------
    @contextmanager
    def running(self, experiment: str, variant: str) -> Iterator[Monitor]:
        """Sample from entry to exit; probes and stuck detection are reset on exit."""
        self._label = (experiment, variant)
        with self._lock:
            self._samples.clear()
            self._peaks.clear()
            self._stuck = ()
        self._process.cpu_percent(None)  # prime: the first reading is always 0
        self._started_at = time.monotonic()
        self._stop.clear()
        self.sample_once()  # the baseline every "growth" figure is measured from
        self._thread = threading.Thread(target=self._loop, name="experiment-monitor")
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join()
            self._thread = None
            self.sample_once()
            self._probes.clear()
            self._detector = None

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample_once()

    def sample_once(self) -> MonitorSample:
        ignore = (self._thread.ident,) if self._thread and self._thread.ident else ()
        stuck = tuple(self._detector.check(ignore=ignore)) if self._detector else ()
        values = {
            "py_threads": float(threading.active_count()),
            "os_threads": float(self._process.num_threads()),
            "rss_mib": self._process.memory_info().rss / MIB,
            "cpu_percent": self._process.cpu_percent(None),
            "stuck_threads": float(len(stuck)),
        }
        for name, read in list(self._probes.items()):
            values[name] = float(read())
        experiment, variant = self._label
        sample = MonitorSample(
            experiment=experiment,
            variant=variant,
            elapsed=time.monotonic() - self._started_at,
            values=values,
        )
        with self._lock:
            self._samples.append(sample)
            for key, value in values.items():
                self._peaks[key] = max(value, self._peaks.get(key, value))
            if stuck:
                self._stuck = stuck
        self._emit(sample)
        if stuck:
            self._emit(StuckThreadsFound(experiment=experiment, variant=variant, threads=stuck))
        return sample

    def publish(self, event: Event) -> None:
        """Hand an experiment's own event (a :class:`SweepPoint`) to the listeners."""
        self._emit(event)

    def _emit(self, event: Event) -> None:
        if self.events is not None:
            self.events.publish(event)
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:  # a broken chart or log must never break the experiment
                if id(listener) not in self._failed:
                    self._failed.add(id(listener))
                    log.exception("monitor listener %r failed (not logged again)", listener)

    # -- reading -------------------------------------------------------------------------
    def samples(self) -> list[MonitorSample]:
        with self._lock:
            return list(self._samples)

    def series(self, name: str) -> list[float]:
        return [s.values[name] for s in self.samples() if name in s.values]

    def peak(self, name: str) -> float:
        with self._lock:
            return self._peaks.get(name, 0.0)

    def first(self, name: str) -> float:
        with self._lock:
            for sample in self._samples:
                if name in sample.values:
                    return sample.values[name]
        return 0.0

    @property
    def stuck(self) -> tuple[StuckThread, ...]:
        """The last non-empty set of stuck threads seen during the current run."""
        with self._lock:
            return self._stuck
