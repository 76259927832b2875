"""A watched program's session: its samples turned into what the window's views show. No Qt.

Two feeds put items into one :class:`Mailbox`, never waiting: :class:`LaunchFeed` starts the
program with the agent (``core.watch.launch``) and its :class:`AgentClient` offers each sample
from the client's reader thread; :class:`AttachFeed` reads a running process through py-spy
on a plain thread at most ``MAX_ATTACH_HZ``. A launched program's stdout and stderr are read
on their own thread (``core.watch.output``), which offers one :data:`OUTPUT_READY` per batch;
hang dumps and memory-growth warnings (``gui.watch_alerts``) come in the same mailbox. Either
feed ends with one :class:`WatchEnded`, after the program's last output. On the GUI thread a
pump hands the mailbox's items to :meth:`WatchSession.ingest`, which keeps the chart series
(threads alive/busy/OS, each registered queue's depth, RSS, CPU %), one
:class:`ThreadRow`-ready state per thread, the timeline's state changes, stuck threads (same
stack and no CPU for ``stuck_after_s``), markers, alerts, and the Log's lines (ours and the
program's, in order); the window takes them from there. :meth:`WatchSession.save` puts the
run in History as kind ``"watch"``, with its hang dumps.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import IO, Any, Protocol

import numpy as np

from core.agent import classify, procstat
from core.events import Mailbox
from core.history import RunRecord, attach_files, save_run, summarize_metrics
from core.observe.hang import HangReport
from core.observe.memgrowth import GrowthWarning
from core.watch import pyspy
from core.watch.client import AgentClient
from core.watch.errors import WatchError
from core.watch.launch import Launched, exit_status, parse_command
from core.watch.model import Sample, WatchedThread
from core.watch.output import STDERR, STDOUT, OutputLine, ProgramOutput
from gui.watch_alerts import Alert, ProgramAlerts, WatchObserve, alert_texts

MAX_ATTACH_HZ = 2.0  # each py-spy read costs ~20 ms of CPU
STOP_GRACE_S = 2.0  # SIGTERM, then SIGKILL after this
CAPACITY = 36_000  # samples kept for the charts: an hour at 10 Hz
DEFAULT_STUCK_S = 5.0
OUTPUT_PER_TAKE = 500  # the program's lines the Log gets a tick: 10 000 a second at most
QUEUE_PREFIX = "queue:"
BASE_KEYS = ("py_threads", "busy_threads", "os_threads", "rss_mib", "cpu_percent")
# A thread waiting for other threads to end is waiting by design, not stuck; so is one that
# sleeps or idles in a pool between tasks, or runs (it uses CPU).
_JOINING = ("join", "_wait_for_tstate_lock")
_NEVER_STUCK = (classify.RUNNING, classify.SLEEPING, classify.IDLE_POOL)


@dataclass(frozen=True, slots=True)
class WatchEnded:
    """The feed's last item: the program ended (``returncode`` known for a launched one)."""

    reason: str
    returncode: int | None = None


@dataclass(frozen=True, slots=True)
class OutputReady:
    """The program wrote lines: take them from the feed's ``output`` (one such item per
    batch, however many lines)."""


OUTPUT_READY = OutputReady()


@dataclass(frozen=True, slots=True)
class WatchNote:
    """A line for the Log from a feed's thread (``level`` as in ``logging``)."""

    level: str
    text: str


class Feed(Protocol):
    mailbox: Mailbox[Any]
    pid: int | None
    description: str
    launched: bool
    output: ProgramOutput | None
    alerts: ProgramAlerts | None

    def start(self) -> None: ...

    def stop(self) -> None:
        """Stop watching: a launched program is terminated, an attached one left running."""
        ...


class LaunchFeed:
    """``python app.py ARGS`` started with the agent; samples from its socket, its stdout
    and stderr from pipes (``core.watch.output``) unless ``stdout`` says where they go."""

    launched = True

    def __init__(
        self,
        argv: Sequence[str],
        interval_ms: int = 100,
        cwd: str | None = None,
        env: Mapping[str, str] | None = None,
        stdout: IO[Any] | int | None = None,
        trace_memory: bool = False,
        observe: WatchObserve | None = None,
    ) -> None:
        """``env``: variables on top of ours; ``stdout``: where the program's stdout and
        stderr go (default: the window's Log, through ``output``); ``trace_memory``:
        tracemalloc on from the program's first line; ``observe``: hang dumps, growth
        warnings and a metrics port (``gui.watch_alerts``)."""
        self.mailbox: Mailbox[Any] = Mailbox()
        self.command = parse_command(list(argv), cwd)  # WatchError for a bad command, up front
        self.description = " ".join(argv)
        self.interval_ms = interval_ms
        self.cwd = cwd
        self.env = dict(env) if env else None
        self.stdout = stdout
        self.trace_memory = trace_memory
        self.output: ProgramOutput | None = None
        self.alerts = ProgramAlerts(observe, self.mailbox) if observe else None
        self.launched_program: Launched | None = None
        self.client: AgentClient | None = None
        self.pid: int | None = None
        self._stopping = threading.Event()
        self._waiter = threading.Thread(target=self._follow, name="threadscope-watch-wait")

    def start(self) -> None:
        """Start the program now (here, so a failure to start is the caller's error); its
        agent is awaited and the process followed on ``threadscope-watch-wait``."""
        if self.alerts is not None:
            self.alerts.start()  # the metrics port: WatchError before the program starts
        capture = self.stdout is None
        env = self.env
        if capture:  # a pipe makes Python buffer stdout: unbuffered, lines show as printed
            env = {"PYTHONUNBUFFERED": "1", **(env or {})}
        try:
            launched = Launched(
                self.command,
                self.interval_ms,
                self.cwd,
                env,
                subprocess.PIPE if capture else self.stdout,
                self.trace_memory,
                subprocess.PIPE if capture else subprocess.STDOUT,
            )
        except WatchError:
            if self.alerts is not None:
                self.alerts.close()
            raise
        self.launched_program = launched
        self.pid = launched.process.pid
        process = launched.process
        if capture and process.stdout is not None and process.stderr is not None:
            pipes = {STDOUT: process.stdout, STDERR: process.stderr}
            self.output = ProgramOutput(pipes, partial(self.mailbox.offer, OUTPUT_READY))
            self.output.start()
        self._waiter.start()

    def _follow(self) -> None:
        launched = self.launched_program
        assert launched is not None
        if launched.wait_for_agent() and not self._stopping.is_set():
            try:
                self.client = AgentClient(launched.path, self._offer).connect()
            except WatchError as exc:
                self.mailbox.offer(WatchNote("WARNING", f"{exc}; the program runs on unwatched"))
        elif launched.process.poll() is None and not self._stopping.is_set():
            self.mailbox.offer(WatchNote("WARNING", "the agent did not start; no samples"))
        if self.alerts is not None and not self._stopping.is_set():
            self.alerts.watch(launched.process.pid, self.client)
        returncode = launched.process.wait()
        if self.alerts is not None:
            self.alerts.close()
        if self.client is not None:
            self.client.ended.wait(STOP_GRACE_S)  # the samples already sent come first
            self.client.close()
        if self.output is not None and not self.output.join(STOP_GRACE_S):
            self.mailbox.offer(
                WatchNote("INFO", "the program's children keep its output open: read on")
            )
        launched.cleanup()
        self.mailbox.offer(WatchEnded(ended_text(returncode), returncode))  # after its output

    def _offer(self, sample: Sample) -> None:
        """On the client's reader thread: never waits (the mailbox drops and counts)."""
        self.mailbox.offer(sample)
        if self.alerts is not None:
            self.alerts.offer(sample)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after ``STOP_GRACE_S``; returns once the program is gone."""
        self._stopping.set()
        launched = self.launched_program
        if launched is None:
            return
        process = launched.process
        if process.poll() is None:
            with contextlib.suppress(OSError):
                process.terminate()
            try:
                process.wait(STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(OSError):
                    process.kill()
                process.wait(STOP_GRACE_S)
        if self._waiter.is_alive():
            self._waiter.join(STOP_GRACE_S * 2)


class AttachFeed:
    """A running process read from outside (py-spy + /proc), never stopped or changed."""

    launched = False
    output: ProgramOutput | None = None  # its output goes wherever it already went

    def __init__(
        self, pid: int, interval_ms: int = 500, observe: WatchObserve | None = None
    ) -> None:
        self.mailbox: Mailbox[Any] = Mailbox()  # 2 a second: the end is never dropped
        self.pid: int | None = pid
        self.description = f"pid {pid}"
        self.interval_s = max(interval_ms / 1000, 1 / MAX_ATTACH_HZ)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name="threadscope-watch-attach")
        if not os.path.exists(f"/proc/{pid}"):
            raise WatchError(f"no process with pid {pid} (it may have exited)")
        pyspy.pyspy_path()  # WatchError now when py-spy is missing
        self.alerts = ProgramAlerts(observe, self.mailbox) if observe else None

    def start(self) -> None:
        if self.alerts is not None:
            self.alerts.start()  # WatchError when the metrics port is taken
        self._thread.start()

    def _read(self) -> None:
        pid = self.pid
        assert pid is not None
        if self.alerts is not None:
            self.alerts.watch(pid, None)  # no agent: no traced memory
        try:
            self.mailbox.offer(self._follow(pid))
        finally:
            if self.alerts is not None:
                self.alerts.close()

    def _follow(self, pid: int) -> WatchEnded:
        while not self._stop.is_set():
            try:
                sample = pyspy.sample(pid, nonblocking=True)
            except WatchError as exc:
                gone = not os.path.exists(f"/proc/{pid}")
                return WatchEnded("the process ended" if gone else str(exc))
            self.mailbox.offer(sample)
            if self.alerts is not None:
                self.alerts.offer(sample)
            self._stop.wait(self.interval_s)
        return WatchEnded(f"detached from pid {pid}")

    def stop(self) -> None:
        """Detach: the process runs on."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(30)  # one py-spy read at most


def ended_text(returncode: int) -> str:
    """ "exited with status 0", "crashed with exit status 3", "killed by SIGKILL (137)"."""
    status = exit_status(returncode)
    if returncode < 0:
        return f"killed by {signal.Signals(-returncode).name} (status {status})"
    if returncode:
        return f"crashed with exit status {status}"
    return "exited with status 0"


class SeriesBuffer:
    """Chart series: one time axis and named columns of the same length, the newest
    ``capacity`` kept. A column that appears later (a queue registered mid-run) is NaN before."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self._t = np.empty(capacity)
        self._columns: dict[str, np.ndarray] = {}
        self._n = 0

    def append(self, t: float, values: Mapping[str, float]) -> None:
        if self._n == self.capacity:  # keep the newer half: amortised O(1) per sample
            half = self.capacity // 2
            self._t[:half] = self._t[-half:]
            for column in self._columns.values():
                column[:half] = column[-half:]
            self._n = half
        for key in values:
            if key not in self._columns:
                self._columns[key] = np.full(self.capacity, np.nan)
        self._t[self._n] = t
        for key, column in self._columns.items():
            column[self._n] = values.get(key, np.nan)
        self._n += 1

    def times(self) -> np.ndarray:
        return self._t[: self._n]

    def series(self, key: str) -> np.ndarray:
        column = self._columns.get(key)
        return column[: self._n] if column is not None else np.empty(0)

    def columns(self) -> list[str]:
        return list(self._columns)

    def latest(self) -> dict[str, float]:
        if not self._n:
            return {}
        return {key: float(column[self._n - 1]) for key, column in self._columns.items()}


@dataclass(slots=True)
class ThreadTrack:
    """What the session knows of one thread over time."""

    thread: WatchedThread
    state: str
    since: float  # chart seconds the state began
    unmoved_since: float  # chart seconds its stack and CPU last changed
    signature: tuple[Any, ...]
    alive: bool = True
    runs: int | None = None  # the kernel's count of times it ran, once it looks unmoved


@dataclass(frozen=True, slots=True)
class StuckThread:
    name: str
    native_id: int | None
    ident: int | None
    daemon: bool
    stuck_for_s: float
    where: str


@dataclass(slots=True)
class Pending:
    """What happened since the window last looked: taken (and emptied) by ``take``."""

    states: list[tuple[str, float, str, str]] = field(default_factory=list)  # name, t, state, at
    ended_lanes: list[tuple[str, float]] = field(default_factory=list)
    markers: list[tuple[float, str]] = field(default_factory=list)
    # (level, text) of ours and the program's own lines, in the order they came
    log: list[tuple[str, str] | OutputLine] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)  # for the status bar


class WatchSession:
    """One watched program from start to end; see the module docstring."""

    def __init__(self, feed: Feed, stuck_after_s: float = DEFAULT_STUCK_S) -> None:
        self.feed = feed
        self.stuck_after_s = stuck_after_s
        self.wall_t0 = time.time()
        self.mono_t0 = time.monotonic()
        self.buffer = SeriesBuffer()
        self.tracks: dict[str, ThreadTrack] = {}
        self.latest: Sample | None = None
        self.stuck: tuple[StuckThread, ...] = ()
        self.ended: WatchEnded | None = None
        self.samples = 0
        self.agent_dropped = 0
        self.output_dropped = 0  # the program's lines lost while the window was slow
        self.alerts: list[Alert] = []
        self.pending = Pending()
        self._last_cpu: tuple[float, float] | None = None  # (sample time, total CPU s)

    @property
    def mailbox(self) -> Mailbox[Any]:
        return self.feed.mailbox

    @property
    def running(self) -> bool:
        return self.ended is None

    def now(self) -> float:
        """Chart seconds now."""
        return time.monotonic() - self.mono_t0

    def start(self) -> None:
        self.feed.start()
        self.buffer.append(0.0, {})  # the charts' axis starts here, with the start marker
        verb = "started" if self.feed.launched else "attached to"
        self._mark(f"Program {verb}" + (f" (pid {self.feed.pid})" if self.feed.pid else ""))
        self._log("INFO", f"{verb} {self.feed.description} (pid {self.feed.pid})")

    def stop(self) -> None:
        """Stop a launched program (SIGTERM, SIGKILL after 2 s); detach from an attached one."""
        if self.ended is None:
            self._log("INFO", "stopping the program" if self.feed.launched else "detaching from it")
        self.feed.stop()

    def take(self) -> Pending:
        pending, self.pending = self.pending, Pending()
        return pending

    # -- samples in -------------------------------------------------------------------------

    def ingest(self, items: Sequence[Any]) -> None:
        for item in items:
            if isinstance(item, Sample):
                self._sample(item)
            elif isinstance(item, OutputReady):
                self._take_output()
            elif isinstance(item, WatchEnded):
                self._take_output(None)  # all its last lines (a traceback) before how it ended
                self._end(item)
            elif isinstance(item, WatchNote):
                self._log(item.level, item.text)
            elif isinstance(item, HangReport | GrowthWarning):
                self._alert(item)

    def _take_output(self, limit: int | None = OUTPUT_PER_TAKE) -> None:
        output = self.feed.output
        if output is None:
            return
        batch = output.take(limit)
        self.pending.log.extend(batch.lines)
        self.output_dropped += batch.dropped
        if batch.more:  # the rest at the next tick: a burst does not stall the window
            self.feed.mailbox.offer(OUTPUT_READY)

    def _alert(self, alert: Alert) -> None:
        """A hang or a memory-growth warning: a marker, the status bar, the text in the Log."""
        self.alerts.append(alert)
        marker, message = alert_texts(alert)
        self._mark(marker)
        self.pending.alerts.append(message)
        self._log("WARNING", alert.text())

    def chart_time(self, wall: float) -> float:
        return wall - self.wall_t0

    def _sample(self, sample: Sample) -> None:
        if self.ended is not None:
            return
        self.latest = sample
        self.samples += 1
        self.agent_dropped += sample.dropped
        t = max(0.0, self.chart_time(sample.time))
        shown = [th for th in sample.threads if not th.agent]
        values: dict[str, float] = {
            "py_threads": float(sum(1 for th in shown if th.ident is not None)),
            "busy_threads": float(sum(1 for th in shown if th.state == classify.RUNNING)),
            "os_threads": float(len(procstat.task_ids(sample.pid)) or len(sample.threads)),
        }
        if sample.rss_bytes is not None:
            values["rss_mib"] = sample.rss_bytes / 1_048_576
        cpu = sum(th.cpu_s or 0.0 for th in sample.threads)
        if self._last_cpu is not None and sample.time > self._last_cpu[0]:
            values["cpu_percent"] = (
                100 * (cpu - self._last_cpu[1]) / (sample.time - self._last_cpu[0])
            )
        self._last_cpu = (sample.time, cpu)
        for name, depth in sample.queues:
            values[QUEUE_PREFIX + name] = float(depth)
        self.buffer.append(t, values)
        self._track(shown, t, sample.pid)

    def _track(self, threads: Sequence[WatchedThread], t: float, pid: int) -> None:
        seen = set()
        stuck = []
        for th in threads:
            key = thread_key(th)
            seen.add(key)
            signature = (th.stack, th.cpu_s)
            track = self.tracks.get(key)
            if track is None or not track.alive:
                track = ThreadTrack(th, th.state, t, t, signature)
                self.tracks[key] = track
                self.pending.states.append((key, t, th.state, frame_text(th)))
            else:
                if th.state != track.state:
                    track.state, track.since = th.state, t
                    self.pending.states.append((key, t, th.state, frame_text(th)))
                if signature != track.signature:
                    track.signature, track.unmoved_since, track.runs = signature, t, None
                track.thread = th
            if th.state in _NEVER_STUCK or _joining(th):
                continue
            if self._moved_unseen(track, pid, t):
                track.unmoved_since, track.runs = t, None
            unmoved = t - track.unmoved_since
            if unmoved > self.stuck_after_s:
                stuck.append(
                    StuckThread(key, th.native_id, th.ident, bool(th.daemon), unmoved, where(th))
                )
        for key, track in self.tracks.items():
            if track.alive and key not in seen:
                track.alive = False
                self.pending.ended_lanes.append((key, t))
        newly = {s.name for s in stuck} - {s.name for s in self.stuck}
        for s in stuck:
            if s.name in newly:
                self._log(
                    "WARNING",
                    f"thread {s.name} has not moved (same stack, no CPU) for "
                    f"{s.stuck_for_s:.1f} s\n{s.where}",
                )
        self.stuck = tuple(stuck)

    def _moved_unseen(self, track: ThreadTrack, pid: int, t: float) -> bool:
        """Whether a thread that looks unmoved ran between samples all the same: a consumer
        woken for a microsecond's work is back in the same ``get`` by the next sample, and
        /proc's CPU seconds count in 10 ms ticks. The kernel's run count (schedstat) says.
        Read only for threads unmoved for half the threshold: the baseline, then each check."""
        if t - track.unmoved_since <= self.stuck_after_s / 2 or track.thread.native_id is None:
            return False
        runs = run_count(pid, track.thread.native_id)
        if track.runs is None or runs is None:
            track.runs = runs
            return False
        return runs != track.runs

    def _end(self, ended: WatchEnded) -> None:
        if self.ended is not None:
            return
        self.ended = ended
        t = self.now()
        for key, track in self.tracks.items():
            if track.alive:
                track.alive = False
                self.pending.ended_lanes.append((key, t))
        self.stuck = ()
        crashed = ended.returncode not in (None, 0)
        self._mark(f"Program {ended.reason}")
        self._log("ERROR" if crashed else "INFO", f"the program {ended.reason}")

    def _mark(self, text: str) -> None:
        self.pending.markers.append((self.now(), text))

    def _log(self, level: str, text: str) -> None:
        self.pending.log.append((level, text))

    # -- what the views read ----------------------------------------------------------------

    def queue_names(self) -> list[str]:
        return [
            k.removeprefix(QUEUE_PREFIX)
            for k in self.buffer.columns()
            if k.startswith(QUEUE_PREFIX)
        ]

    def status_text(self) -> str:
        if self.ended is not None:
            return f"Program {self.ended.reason}"
        if self.latest is None:
            return "Waiting for the first sample…"
        return "Watching through the agent" if self.latest.agent else "Attached through py-spy"

    # -- history ----------------------------------------------------------------------------

    def save(self) -> RunRecord | None:
        """The run as History keeps a crawl's, kind ``"watch"``; None before any sample."""
        times = self.buffer.times()
        if not len(times):
            return None
        sampled = np.isfinite(self.buffer.series("py_threads"))  # not the start's empty row
        if not sampled.any():
            return None
        times = times[sampled]
        metrics: dict[str, Any] = {"t": times - times[0]}
        for key in self.buffer.columns():
            metrics[key] = np.nan_to_num(self.buffer.series(key)[sampled], nan=0.0)
        duration = float(times[-1] - times[0])
        peak_busy = float(np.max(metrics["busy_threads"]))
        summary = summarize_metrics(metrics, duration, extra={"peak_busy_threads": peak_busy})
        ended = self.ended.reason if self.ended else "still running"
        title = f"{self.feed.description} · {ended}"
        settings = {
            "target": self.feed.description,
            "pid": self.feed.pid,
            "launched": self.feed.launched,
            "stuck_after_s": self.stuck_after_s,
        }
        details = {
            "ended": ended,
            "returncode": self.ended.returncode if self.ended else None,
            "samples": self.samples,
            "agent_dropped": self.agent_dropped,
            "threads": sorted(self.tracks),
            "queues": self.queue_names(),
            "output_dropped": self.output_dropped,
        }
        alerts = self.feed.alerts
        if alerts is None:
            return save_run("watch", title, settings, summary, metrics, details)
        record = save_run("watch", title, settings, summary, metrics, details | alerts.details())
        attach_files(record, alerts.dump_files())
        return record


def run_count(pid: int, tid: int) -> int | None:
    """How many times the kernel has put thread ``tid`` on a CPU (schedstat's third field)."""
    stat = procstat.schedstat(pid, tid)
    return stat.runs if stat is not None else None


def thread_key(thread: WatchedThread) -> str:
    """The row and lane name: the thread's name, with its native id when another thread
    could share the name (``Thread-3 (worker)`` is unique; py-spy's comm names are not)."""
    return thread.name if thread.ident is not None else f"{thread.name} [{thread.native_id}]"


def frame_text(thread: WatchedThread) -> str:
    frame = thread.innermost
    if frame is None:
        return ""
    return f"{frame.function} ({os.path.basename(frame.file)}:{frame.line})"


def where(thread: WatchedThread, frames: int = 4) -> str:
    return "\n".join(
        f'File "{f.file}", line {f.line}, in {f.function}' for f in thread.stack[-frames:]
    )


def _joining(thread: WatchedThread) -> bool:
    inner = thread.innermost
    return inner is not None and inner.function.rsplit(".", 1)[-1] in _JOINING
