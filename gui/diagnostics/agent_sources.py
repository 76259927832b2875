"""The Memory, Locks and Profile pages' sources for a program run with the agent. No Qt.

Every call that waits for the agent runs off the GUI thread: ``snapshot`` / ``diff`` (Memory)
and ``snapshot`` (Locks) on the page's jobs thread, as the pages already do; what the Memory
page asks on the GUI thread (``tracing``, ``traced``, ``start``, ``stop``) reads a cached state
or hands the request to this source's own ``threadscope-watch-memory`` thread, which also
refreshes that state each time the page ticks (``finish_stop``). ``client()`` is the program's
:class:`AgentClient`, None until the agent has answered (or when the program has none).

``AgentProfiler``'s ``start`` goes to its own thread too; its ``stop`` waits for the agent
(the Profile page runs it on the jobs thread). What a profile is: ``core.agent.sampling_profile``
(every thread sampled at 100 Hz, CPU time and wall samples per function).

Stopping tracemalloc: before Python 3.12 the agent cannot stop it safely while the program's
threads run (see ``core.agent.memory``), so it clears the traces and traces on; this source
then shows "not tracing" (the traces are gone) although the program still pays for tracing.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from core.diagnostics import AllocationDiffRow, AllocationRow
from core.diagnostics.threads import FrameInfo
from core.watch.client import AgentClient
from core.watch.errors import WatchError
from core.watch.model import Sample

NOT_CONNECTED = "the program's agent is not connected"


def _ask(client: Callable[[], AgentClient | None], kind: str, **fields: Any) -> dict[str, Any]:
    agent = client()
    if agent is None:
        raise WatchError(NOT_CONNECTED)
    return agent.request(kind, **fields)


class AgentTracemalloc:
    """A ``MemorySource`` (gui.diagnostics.memory) for tracemalloc inside the program; a
    snapshot is the agent's number for it (the agent keeps the last two)."""

    def __init__(self, client: Callable[[], AgentClient | None]) -> None:
        self._client = client
        self.stop_pending = False  # never: see the module docstring
        self._tracing = False
        self._traced = (0, 0)
        self._changed = False
        self._asking = threading.Event()  # a status request is queued or in flight
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="threadscope-watch-memory")

    def _update(self, reply: dict[str, Any]) -> None:
        tracing = bool(reply.get("tracing")) and not reply.get("stop_pending")
        self._changed = self._changed or tracing != self._tracing
        self._tracing = tracing
        self._traced = (int(reply.get("current", 0)), int(reply.get("peak", 0)))

    def _request(self, kind: str) -> None:
        """On the worker thread: a failed request (no agent yet, the program ended) changes
        nothing."""
        try:
            with contextlib.suppress(WatchError):
                self._update(_ask(self._client, kind))
        finally:
            if kind == "traced":
                self._asking.clear()

    def _submit(self, kind: str) -> None:
        with contextlib.suppress(RuntimeError):  # closed
            self._worker.submit(self._request, kind)

    def tracing(self) -> bool:
        return self._tracing

    def start(self) -> None:
        self._tracing = True
        self._submit("trace_start")

    def stop(self) -> None:
        self._tracing = False
        self._submit("trace_stop")

    def finish_stop(self) -> bool:
        """Each tick: ask for the status in the background; True when tracing turned on or
        off since the last tick (``run --trace-memory`` starts it before the page knows)."""
        if not self._asking.is_set():
            self._asking.set()
            self._submit("traced")
        changed, self._changed = self._changed, False
        return changed

    def traced(self) -> tuple[int, int]:
        return self._traced

    def snapshot(self, limit: int) -> tuple[int, list[AllocationRow]]:
        reply = _ask(self._client, "memory_top", limit=limit)
        self._update(reply)
        rows = [AllocationRow(r["location"], r["size"], r["count"]) for r in reply["rows"]]
        return int(reply["snapshot"]), rows

    def diff(self, old: int, new: int, limit: int) -> list[AllocationDiffRow]:
        reply = _ask(self._client, "memory_diff", old=old, new=new, limit=limit)
        return [
            AllocationDiffRow(r["location"], r["size"], r["size_diff"], r["count"], r["count_diff"])
            for r in reply["rows"]
        ]

    def close(self) -> None:
        """Tracing stays as it is: the program is being stopped or runs on."""
        self._worker.shutdown(wait=False, cancel_futures=True)


class AgentLocks:
    """A ``LocksSource`` (gui.diagnostics.locks): the agent's ``locks`` reply, the tracker's
    own snapshot; the stacks for a deadlock's report come from the newest sample."""

    def __init__(
        self, client: Callable[[], AgentClient | None], latest: Callable[[], Sample | None]
    ) -> None:
        self._client = client
        self._latest = latest
        self._last: dict[str, Any] = {"tracking": False, "locks": []}

    def snapshot(self) -> dict[str, Any]:
        """On the jobs thread. No agent yet: an empty, untracked snapshot; none any more (the
        program ended): the last one it sent, which the page keeps showing."""
        with contextlib.suppress(WatchError):
            self._last = _ask(self._client, "locks")
        return self._last

    def stacks(self) -> dict[int, str]:
        sample = self._latest()
        if sample is None:
            return {}
        return {
            t.ident: "\n".join(str(FrameInfo(f.file, f.line, f.function)) for f in t.stack)
            for t in sample.threads
            if t.ident is not None
        }


CPU = "cpu"  # a view: the CPU time the threads used where they ran
WALL = "wall"  # a view: every sample, waits included


@dataclass(frozen=True, slots=True)
class SampledRow:
    """One function in a sampled profile's view; the percentages are of the view's total (the
    CPU time, or the samples, of every thread or of the one thread shown)."""

    function: str  # "file:line name" (the line the function starts on)
    self_pct: float
    total_pct: float
    self_cpu_s: float
    total_cpu_s: float
    self_samples: int
    total_samples: int


@dataclass(frozen=True, slots=True)
class SampledThread:
    name: str
    native_id: int | None
    samples: int
    cpu_s: float
    rows: tuple[dict[str, Any], ...]


@dataclass(frozen=True, slots=True)
class SampledProfile:
    """The agent's ``profile_stop`` reply (``core.agent.sampling_profile``), as the page reads
    it: ``rows(thread, view)`` for every thread (None) or one of ``threads`` (its index)."""

    hz: int
    seconds: float
    ticks: int
    late_ticks: int
    capped: bool
    error: str | None
    cpu_measured: bool
    sampler_cpu_s: float
    samples: int
    cpu_s: float
    threads: tuple[SampledThread, ...]
    all_rows: tuple[dict[str, Any], ...]

    @classmethod
    def from_reply(cls, reply: dict[str, Any]) -> SampledProfile:
        threads = tuple(
            SampledThread(t["name"], t["native_id"], t["samples"], t["cpu_s"], tuple(t["rows"]))
            for t in reply["threads"]
        )
        return cls(
            hz=reply["hz"],
            seconds=reply["seconds"],
            ticks=reply["ticks"],
            late_ticks=reply["late_ticks"],
            capped=reply["capped"],
            error=reply["error"],
            cpu_measured=reply["cpu_measured"],
            sampler_cpu_s=reply["sampler_cpu_s"],
            samples=reply["samples"],
            cpu_s=reply["cpu_s"],
            threads=threads,
            all_rows=tuple(reply["rows"]),
        )

    def rows(self, thread: int | None = None, view: str = CPU) -> list[SampledRow]:
        """Sorted by self, biggest first."""
        one = None if thread is None else self.threads[thread]
        raw = self.all_rows if one is None else one.rows
        if view == CPU:
            whole = self.cpu_s if one is None else one.cpu_s
            own, anywhere = "self_cpu_s", "total_cpu_s"
        else:
            whole = self.samples if one is None else one.samples
            own, anywhere = "self_samples", "total_samples"
        scale = 100.0 / whole if whole else 0.0
        rows = [
            SampledRow(
                f"{r['file']}:{r['line']} {r['function']}" if r["file"] else r["function"],
                r[own] * scale,
                r[anywhere] * scale,
                r["self_cpu_s"],
                r["total_cpu_s"],
                r["self_samples"],
                r["total_samples"],
            )
            for r in raw
        ]
        rows.sort(key=lambda row: (row.self_pct, row.total_pct), reverse=True)
        return rows

    @property
    def rate_hz(self) -> float:
        """The rate the sampler kept (it waits for the GIL and for a busy machine)."""
        return self.ticks / self.seconds if self.seconds else 0.0


class AgentProfiler:
    """A ``SamplingProfiler`` (gui.diagnostics.profiling): the agent samples every thread of
    the program while it runs; ``stop()`` returns its figures."""

    LIMIT = 500

    def __init__(self, client: Callable[[], AgentClient | None]) -> None:
        self._client = client
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="threadscope-watch-profile")
        self._started: Any = None

    def start(self) -> None:
        self._started = self._worker.submit(_ask, self._client, "profile_start")

    def stop(self) -> SampledProfile:
        """Waits for the agent: on the jobs thread. ``WatchError`` when the start failed."""
        try:
            if self._started is not None:
                self._started.result()  # its error, if it had one
            reply = _ask(self._client, "profile_stop", limit=self.LIMIT)
        finally:
            self._worker.shutdown(wait=False)
        return SampledProfile.from_reply(reply)
