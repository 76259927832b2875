"""A program watched by ``threadscope run`` / ``attach``, as observability sees it.

The agent's (or py-spy's) samples arrive through ``offer(sample)`` on whatever thread reads
them; everything else reads the latest one:

- ``snapshot()``: a ``MetricsSource`` (threads by state, CPU per thread with the crawl's
  bounded labels, the agent's own CPU per sample as the sampler's cost, and with ``agent``
  set (``run``) the lock-wait histogram, asked of the agent at each scrape). The target's
  RSS, CPU and fds come from a ``ProcessCollector`` on its pid (see ``make_registry``).
- ``progress()`` / ``pending()``: the hang detector's view. Progress is any thread moving:
  its stack or CPU time in the latest sample, or the kernel's counters of how long, how
  often and how long runnable it ran (``procstat.schedstat``, read at each check, as the
  watch window's stuck check reads them): a thread polling on short sleeps, or a consumer
  woken for a moment's work, runs between samples without changing its stack or its CPU
  seconds (10 ms ticks), and a program ending sends no more samples. Work is pending while the
  program is alive with a thread that is not idle by design (``IDLE_BY_DESIGN``: a pool or
  queue worker waiting for work, a thread waiting on a condition or event, or sleeping, or a
  server waiting for its next connection or event: ``accept``/``select``/``poll``, the
  ``CONNECTION_WAITS``). A lock-order deadlock, a blocked ``join`` or a socket read that never
  returns is not idle.
- ``refresh()`` (every observability tick): one row of History series every
  ``record_every_s`` (threads alive, busy, OS threads, RSS, CPU %); past ``max_rows`` every
  other row is dropped and the pace halves, so a program watched for days keeps its whole
  run in bounded memory.
"""

from __future__ import annotations

import linecache
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Hashable, Mapping
from typing import Any

import psutil

from core.agent import classify, procstat
from core.history import RunSummary, summarize_metrics
from core.observe.metrics import MetricsSnapshot, ThreadCpu, thread_label
from core.watch.client import AgentClient
from core.watch.dumptext import format_dump
from core.watch.errors import WatchError
from core.watch.model import Sample, WatchedThread

IDLE_BY_DESIGN = frozenset(
    {
        classify.IDLE_POOL,
        classify.WAIT_QUEUE,
        classify.WAIT_CONDITION,
        classify.SLEEPING,
        classify.NO_PYTHON,  # a C library's own thread: nothing of the program's
    }
)
CONNECTION_WAITS = ("accept", "select", "poll")  # the innermost function, or what it calls
_CONNECTION_CALL = re.compile(r"\b(?:" + "|".join(CONNECTION_WAITS) + r")\(")
SERIES = ("t", "py_threads", "busy_threads", "os_threads", "rss_mib", "cpu_percent")
RECORD_EVERY_S = 0.1
MAX_ROWS = 36_000  # an hour at 10 rows/s, then halved
LOCK_WAITS_TIMEOUT_S = 1.0  # a scrape waits this long for the agent at most


def _program_threads(sample: Sample) -> list[WatchedThread]:
    return [t for t in sample.threads if not t.agent]


def _idle_by_design(thread: WatchedThread) -> bool:
    if thread.state in IDLE_BY_DESIGN:
        return True
    inner = thread.innermost
    if thread.state != classify.SOCKET_IO or inner is None:
        return False
    if inner.function.rsplit(".", 1)[-1] in CONNECTION_WAITS:  # socket.py's accept, selectors'
        return True
    return bool(_CONNECTION_CALL.search(linecache.getline(inner.file, inner.line)))


def _busy(sample: Sample) -> list[WatchedThread]:
    return [t for t in _program_threads(sample) if not _idle_by_design(t)]


class WatchedProgram:
    """See the module docstring. ``pid`` must be alive when this is made (psutil); ``agent``,
    the client connected to its agent (``run``; None for ``attach``), is set once connected."""

    def __init__(
        self,
        pid: int,
        record_every_s: float = RECORD_EVERY_S,
        max_rows: int = MAX_ROWS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.pid = pid
        self._process = psutil.Process(pid)
        self._process.cpu_percent(None)  # primes the counter: the first row is a delta
        self.command: list[str] = self._process.cmdline()
        self._latest: Sample | None = None
        self.samples = 0  # samples taken for us (the agent's dropped ones included)
        self._clock = clock
        self.started = clock()
        self._every = record_every_s
        self._max_rows = max(2, max_rows)
        self._due = self.started
        self._rows: list[tuple[float, ...]] = []
        self._rows_lock = threading.Lock()
        self.agent: AgentClient | None = None

    # -- in ----------------------------------------------------------------------------------
    def offer(self, sample: Sample) -> None:
        """The newest sample; cheap, for the reader thread (``AgentClient``'s ``on_sample``)."""
        self.samples += 1 + sample.dropped
        self._latest = sample

    @property
    def latest(self) -> Sample | None:
        return self._latest

    # -- MetricsSource -----------------------------------------------------------------------
    def snapshot(self) -> MetricsSnapshot | None:
        sample = self._latest
        if sample is None:
            return None
        threads = _program_threads(sample)
        agent_cpu = sum(t.cpu_s or 0.0 for t in sample.threads if t.agent)
        cost = agent_cpu / self.samples if sample.agent and self.samples else None
        return MetricsSnapshot(
            crawl=False,
            threads_by_state=dict(Counter(t.state for t in threads)),
            threads=[
                ThreadCpu(t.native_id, thread_label(t.name), t.cpu_s)
                for t in sample.threads
                if t.native_id is not None and t.cpu_s is not None
            ],
            sampler_cpu_s_per_tick=cost,
            lock_waits=self._lock_waits(),
        )

    def _lock_waits(self) -> Mapping[str, Any] | None:
        """The agent's ``lock_waits`` reply; None without lock tracking, or an answer."""
        if self.agent is None:
            return None
        try:
            reply = self.agent.request("lock_waits", LOCK_WAITS_TIMEOUT_S)
        except WatchError:
            return None
        return reply if reply.get("tracking") else None

    # -- the hang detector -------------------------------------------------------------------
    def progress(self) -> Hashable:
        """Changes whenever a thread moved (see the module docstring)."""
        sample = self._latest
        if sample is None:
            return None
        return tuple(
            (t.native_id, t.cpu_s, t.stack, self._ran(t.native_id))
            for t in _program_threads(sample)
        )

    def _ran(self, native_id: int | None) -> procstat.SchedStat | None:
        return procstat.schedstat(self.pid, native_id) if native_id is not None else None

    def pending(self) -> str:
        sample = self._latest
        busy = _busy(sample) if sample is not None else []
        if not busy or self._ended():
            return ""
        by_state: dict[str, list[str]] = {}
        for thread in busy:
            by_state.setdefault(thread.state, []).append(thread.name)
        states = "; ".join(f"{state}: {', '.join(sorted(n))}" for state, n in by_state.items())
        return f"{len(busy)} of the program's threads are not idle ({states})"

    def _ended(self) -> bool:
        """Gone or a zombie: its last sample stands still for good, and nothing is pending."""
        try:
            return self._process.status() in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD)
        except psutil.Error:
            return True

    def dump(self) -> str:
        sample = self._latest
        return format_dump(sample) if sample is not None else "(no sample of the program yet)"

    # -- History -----------------------------------------------------------------------------
    def refresh(self) -> None:
        now = self._clock()
        if now < self._due:
            return
        self._due = now + self._every
        try:
            with self._process.oneshot():
                rss = self._process.memory_info().rss
                os_threads = self._process.num_threads()
                cpu = self._process.cpu_percent(None)
        except psutil.Error:  # the program has ended
            return
        sample = self._latest
        alive = len(_program_threads(sample)) if sample is not None else 0
        busy = len(_busy(sample)) if sample is not None else 0
        row = (now - self.started, alive, busy, os_threads, rss / 1_048_576, cpu)
        with self._rows_lock:
            self._rows.append(row)
            if len(self._rows) >= self._max_rows:
                self._rows = self._rows[::2]
                self._every *= 2

    def series(self) -> dict[str, list[float]]:
        with self._rows_lock:
            rows = list(self._rows)
        return {key: [float(row[i]) for row in rows] for i, key in enumerate(SERIES)}

    def summary(self) -> RunSummary:
        return summarize_metrics(self.series(), self._clock() - self.started)
