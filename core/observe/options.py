"""The observability options of ``threadscope crawl`` / ``run`` / ``attach`` and the one
object that starts and stops what they ask for around a run.

```python
add_observability_arguments(parser)
with Observability.from_args(args, notify=print_to_stderr) as observe:  # binds the port
    crawler = Crawler(settings); sampler = MetricsSampler(source=crawler)
    observe.watch_crawl(crawler, sampler)  # or watch(source, progress, pending)
    ...  # the run
    observe.save_crawl(crawler, sampler)   # History, unless --no-history
```
A watched program (``run`` / ``attach``): ``Observability(..., watched=True)``, then
``watch_program(WatchedProgram(pid), agent)`` and ``save_program(program, title, settings)``.
Entering binds the metrics port first (``MetricsError``: a one-line message for the user)
and starts tracemalloc for ``--trace-memory``; ``watch*`` starts the ``threadscope-observe``
thread that ticks the hang detector, the memory watcher and the event tally every 0.05 s;
leaving stops both.
"""

from __future__ import annotations

import argparse
import logging
import threading
from collections.abc import Callable, Hashable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from core.diagnostics import start_tracing
from core.history import RunRecord, attach_files, crawl_run, data_dir, save_run
from core.observe.agent_memory import AgentTracedMemory
from core.observe.hang import HangDetector, HangReport, annotated_dump
from core.observe.memgrowth import GrowthWarning, MemoryGrowthWatcher
from core.observe.metrics import (
    CrawlMetricsSource,
    MetricsServer,
    MetricsSource,
    NoSource,
    ThreadscopeCollector,
    lock_snapshot,
    make_registry,
)
from core.observe.watched import WatchedProgram
from core.watch.client import AgentClient

log = logging.getLogger(__name__)
TICK_S = 0.05  # the memory watcher's reading interval; the rest needs less


def _nothing() -> None:
    pass


TRACE_MEMORY_NEEDS_THE_AGENT = (
    "--trace-memory is for crawls and `threadscope run`: tracemalloc has to run inside the "
    "program, and attach only reads a process from outside"
)


def add_observability_arguments(parser: argparse.ArgumentParser, trace_memory: bool = True) -> None:
    """The options; ``trace_memory`` False (``attach``: nothing runs inside the process)
    leaves that one out."""
    group = parser.add_argument_group(
        "observability (Prometheus, diagnostics, history)",
        None if trace_memory else TRACE_MEMORY_NEEDS_THE_AGENT,
    )
    group.add_argument(
        "--metrics-port",
        type=_port,
        metavar="PORT",
        help="serve Prometheus metrics at http://ADDRESS:PORT/metrics while running",
    )
    group.add_argument(
        "--metrics-bind",
        default="127.0.0.1",
        metavar="ADDRESS",
        help="address the metrics endpoint listens on (default %(default)s: this machine only)",
    )
    group.add_argument(
        "--hang-dump-after",
        type=_seconds,
        metavar="SECONDS",
        help="no progress for SECONDS while work is pending: print and save one thread dump",
    )
    if trace_memory:
        group.add_argument(
            "--trace-memory",
            action="store_true",
            help="trace allocations (tracemalloc; in a watched program from its first line) "
            "and warn when traced memory keeps growing",
        )
    group.add_argument(
        "--no-history", action="store_true", help="do not save this run to the run history"
    )


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0-65535, got {port}")
    return port


def _seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not seconds > 0:
        raise argparse.ArgumentTypeError(f"must be above 0 seconds, got {text}")
    return seconds


class Observability:
    """See the module docstring. ``notify`` gets every line meant for the user (where the
    endpoint listens, a hang dump, a growth warning); everything also goes to the log.
    ``on_hang`` / ``on_growth`` let a window raise alerts and markers. ``watched``: the run
    watches another process (``watch_program``), whose ``process_*`` metrics the endpoint
    serves. ``warn_growth``: the growth warning without starting tracemalloc, for whenever
    someone else traces (the window's Diagnostics ▸ Memory); ``trace_memory`` implies it."""

    def __init__(
        self,
        metrics_port: int | None = None,
        metrics_bind: str = "127.0.0.1",
        hang_dump_after: float | None = None,
        trace_memory: bool = False,
        history: bool = True,
        notify: Callable[[str], None] | None = None,
        on_hang: Callable[[HangReport], None] | None = None,
        on_growth: Callable[[GrowthWarning], None] | None = None,
        dump_dir: Path | None = None,
        watched: bool = False,
        warn_growth: bool = False,
    ) -> None:
        self.metrics_port = metrics_port
        self.metrics_bind = metrics_bind
        self.hang_dump_after = hang_dump_after
        self.trace_memory = trace_memory
        self.warn_growth = warn_growth or trace_memory
        self.history = history
        self._notify = notify
        self._on_hang = on_hang
        self._on_growth = on_growth
        self.dump_dir = dump_dir or data_dir() / "dumps"
        self.server: MetricsServer | None = None
        self._collector = ThreadscopeCollector(NoSource())
        self.hang: HangDetector | None = None
        self.memory: MemoryGrowthWatcher | None = None
        self._refresh: Callable[[], None] = _nothing
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._watching = False
        self.watched = watched
        self._target_pid = -1  # no process yet: the target's process collector shows nothing

    @classmethod
    def from_args(cls, args: argparse.Namespace, **kwargs: Any) -> Self:
        return cls(
            metrics_port=args.metrics_port,
            metrics_bind=args.metrics_bind,
            hang_dump_after=args.hang_dump_after,
            trace_memory=getattr(args, "trace_memory", False),
            history=not args.no_history,
            **kwargs,
        )

    # -- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> Self:
        return self.start()

    def start(self) -> Self:
        """Bind the metrics port (``MetricsError`` when it is taken) and start tracemalloc
        for ``--trace-memory``; ``close()`` undoes it."""
        if self.metrics_port is not None:
            pid = (lambda: self._target_pid) if self.watched else None
            server = MetricsServer(
                make_registry(self._collector, pid), self.metrics_port, self.metrics_bind
            )
            server.start()  # MetricsError when the port is taken: before anything else runs
            self.server = server
            self._say(f"metrics: serving Prometheus metrics at {server.url}")
        if self.watched:  # tracemalloc runs in the program: see watch_program
            return self
        if self.trace_memory:
            start_tracing()
        if self.warn_growth:
            self.memory = MemoryGrowthWatcher(self._growth)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop the ticker and the server. tracemalloc stays on (stopping it while threads
        allocate can crash them before Python 3.12, see core.diagnostics.memory)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)
        server, self.server = self.server, None
        if server is not None:
            server.stop()

    # -- what to watch -----------------------------------------------------------------------
    def watch_crawl(self, crawler: Any, sampler: Any = None) -> None:
        """A crawl: metrics from its stats, workers and events; progress = pages fetched;
        pending = URLs queued, requests in flight or workers busy, unless it is paused.
        With no metrics port the crawl's events are not tallied at all (no cost per page)."""
        source = CrawlMetricsSource(crawler, sampler) if self.server is not None else None

        def pending() -> str:
            if crawler.paused:  # paused on purpose: no page is expected
                return ""
            stats = crawler.stats()
            busy = sum(n for state, n in stats.workers_by_state.items() if state != "idle")
            if not (stats.frontier or stats.in_flight or busy):
                return ""
            return (
                f"work is pending (requests in flight: {stats.in_flight}, URLs queued: "
                f"{stats.frontier}, workers busy: {busy})"
            )

        self.watch(
            source or NoSource(),
            lambda: crawler.stats().pages,
            pending,
            source.refresh if source is not None else _nothing,
        )

    def watch_program(self, program: WatchedProgram, agent: AgentClient | None = None) -> None:
        """A watched program: its samples as metrics, its process as ``process_*``; a hang
        is no thread moving while one is not idle by design. ``agent`` (``run``): the client
        of its agent, asked for its lock waits at each scrape and, with ``warn_growth``, its
        traced memory."""
        self._target_pid = program.pid
        program.agent = agent
        if self.warn_growth and agent is not None:
            self.memory = MemoryGrowthWatcher(self._growth, memory=AgentTracedMemory(agent))
        self.watch(program, program.progress, program.pending, program.refresh, program.dump)

    def watch(
        self,
        source: MetricsSource,
        progress: Callable[[], Hashable],
        pending: Callable[[], str],
        refresh: Callable[[], None] = _nothing,
        dump: Callable[[], str] | None = None,
    ) -> None:
        """Anything to watch: its metrics source, what counts as progress and what as
        pending work (see ``HangDetector``); ``refresh`` runs every tick; ``dump`` makes a
        hang's dump (default: this process's threads, annotated with tracked locks). The
        ticker thread runs only when there is something to tick."""
        if self._watching:
            raise RuntimeError("already watching a run")
        self._watching = True
        self._collector.source = source
        self._refresh = refresh
        if self.hang_dump_after is not None:
            self.hang = HangDetector(
                self.hang_dump_after,
                progress,
                pending,
                self._hang,
                dump=dump or (lambda: annotated_dump(locks=lock_snapshot())),
                dump_dir=self.dump_dir,
            )
        if refresh is _nothing and self.hang is None and self.memory is None:
            return
        self._thread = threading.Thread(target=self._run, name="threadscope-observe", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(TICK_S):
            try:
                self._refresh()
                if self.hang is not None:
                    self.hang.check()
                if self.memory is not None:
                    self.memory.check()
            except Exception:  # a diagnostic must never end the run it watches
                log.exception("observability tick failed")

    # -- reporting ---------------------------------------------------------------------------
    def _say(self, text: str, level: int = logging.INFO) -> None:
        log.log(level, "%s", text)
        if self._notify is not None:
            self._notify(text)

    def _hang(self, report: HangReport) -> None:
        self._say(report.text(), logging.WARNING)
        if self._on_hang is not None:
            self._on_hang(report)

    def _growth(self, warning: GrowthWarning) -> None:
        self._say(warning.text(), logging.WARNING)
        if self._on_growth is not None:
            self._on_growth(warning)

    def save_crawl(self, crawler: Any, sampler: Any, since: float = 0.0) -> RunRecord | None:
        """Save the ended crawl to History like the window does (None with ``--no-history``),
        with its hang dumps and growth warnings."""
        if not self.history:
            return None
        record = crawl_run(crawler, sampler, since, self.details()).save()
        attach_files(record, self.dump_files())
        return record

    def save_program(
        self, program: WatchedProgram, title: str, settings: Mapping[str, Any], outcome: str
    ) -> RunRecord | None:
        """Save a watched program's run (kind ``watch``: its series, ``outcome`` such as
        "exit status 0") with its hang dumps; None with ``--no-history``."""
        if not self.history:
            return None
        details = {"outcome": outcome, **self.details()}
        record = save_run("watch", title, settings, program.summary(), program.series(), details)
        attach_files(record, self.dump_files())
        return record

    def details(self) -> dict[str, Any]:
        """What History keeps of this run's diagnostics: its hangs and growth warnings."""
        hangs = self.hang.reports if self.hang is not None else []
        warnings = self.memory.warnings if self.memory is not None else []
        return {
            "hangs": [
                {"stalled_s": r.stalled_s, "pending": r.pending, "dump": r.path} for r in hangs
            ],
            "memory_warnings": [w.text() for w in warnings],
        }

    def dump_files(self) -> list[Path]:
        """The hang dumps written so far, to keep with the run (``attach_files``)."""
        hangs = self.hang.reports if self.hang is not None else []
        return [r.path for r in hangs if r.path is not None]
