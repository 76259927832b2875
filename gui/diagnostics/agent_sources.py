"""The Memory, Locks and Profile pages' sources for a program run with the agent. No Qt.

Every call that waits for the agent runs off the GUI thread: ``snapshot`` / ``diff`` (Memory)
and ``snapshot`` (Locks) on the page's jobs thread, as the pages already do; what the Memory
page asks on the GUI thread (``tracing``, ``traced``, ``start``, ``stop``) reads a cached state
or hands the request to this source's own ``threadscope-watch-memory`` thread, which also
refreshes that state each time the page ticks (``finish_stop``). ``client()`` is the program's
:class:`AgentClient`, None until the agent has answered (or when the program has none).

``AgentProfiler``'s ``start`` goes to its own thread too; its ``stop`` waits for the agent
(the Profile page runs it on the jobs thread). What a profile covers: ``core.agent.profile``.

Stopping tracemalloc: before Python 3.12 the agent cannot stop it safely while the program's
threads run (see ``core.agent.memory``), so it clears the traces and traces on; this source
then shows "not tracing" (the traces are gone) although the program still pays for tracing.
"""

from __future__ import annotations

import contextlib
import pstats
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
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


class _Entries:
    """What ``pstats.Stats`` accepts: ``stats`` as cProfile keeps them (without callers)."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.stats: dict[tuple[str, int, str], tuple[Any, ...]] = {
            (r["file"], r["line"], r["name"]): (
                r["primitive_calls"], r["ncalls"], r["tottime"], r["cumtime"], {}
            )
            for r in rows
        }  # fmt: skip

    def create_stats(self) -> None:
        pass


class AgentProfiler:
    """A ``Profiler`` (gui.diagnostics.profiling): cProfile in the program's threads started
    while it runs; ``stop()`` returns the agent's top functions as ``pstats.Stats``."""

    LIMIT = 500

    def __init__(self, client: Callable[[], AgentClient | None]) -> None:
        self._client = client
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="threadscope-watch-profile")
        self._started: Any = None

    def start(self) -> None:
        self._started = self._worker.submit(_ask, self._client, "profile_start")

    def stop(self) -> pstats.Stats:
        """Waits for the agent: on the jobs thread. ``WatchError`` when the start failed."""
        try:
            if self._started is not None:
                self._started.result()  # its error, if it had one
            reply = _ask(self._client, "profile_stop", limit=self.LIMIT)
        finally:
            self._worker.shutdown(wait=False)
        if not reply["rows"]:  # pstats cannot hold an empty profile
            raise WatchError(
                "nothing to show: the program started no thread during the profile (it "
                "covers only threads started after Start)"
            )
        return pstats.Stats(_Entries(reply["rows"]))  # type: ignore[arg-type]
