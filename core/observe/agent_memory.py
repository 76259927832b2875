"""A watched program's traced memory, read through its agent, for the memory-growth watcher.

``threadscope run --trace-memory`` starts tracemalloc in the program before its first line;
this :class:`~core.observe.memgrowth.TracedMemory` asks the agent for the traced total
(``traced``), a snapshot to compare with (``memory_top``) and what grew since (``memory_diff``,
both snapshots stay in the program). A request that fails (the program is ending) reads as
"nothing traces", so the watcher just skips it. While nothing traces the agent is asked again
only every ``IDLE_RECHECK_S``: each request wakes the agent, which takes the GIL from the
program, and the watcher ticks 20 times a second.
"""

from __future__ import annotations

import time

from core.diagnostics import AllocationDiffRow
from core.watch.client import AgentClient
from core.watch.errors import WatchError

TIMEOUT_S = 2.0  # the observe thread also ticks the hang detector: never wait long
IDLE_RECHECK_S = 1.0  # how soon tracing started from the Memory page is noticed


class AgentTracedMemory:
    def __init__(self, client: AgentClient) -> None:
        self.client = client
        self._idle_until = 0.0

    def traced(self) -> int | None:
        now = time.monotonic()
        if now < self._idle_until:
            return None
        try:
            reply = self.client.request("traced", TIMEOUT_S)
        except WatchError:
            reply = {}
        if not reply.get("tracing"):
            self._idle_until = now + IDLE_RECHECK_S
            return None
        return int(reply["current"])

    def mark(self) -> None:
        try:
            self.client.request("memory_top", TIMEOUT_S, limit=1)
        except WatchError:
            return

    def growing(self, limit: int) -> list[AllocationDiffRow]:
        """Growth only (a diff lists shrinking sites too), biggest first."""
        try:
            reply = self.client.request("memory_diff", TIMEOUT_S * 5, limit=limit * 4)
        except WatchError:
            return []
        rows = [
            AllocationDiffRow(r["location"], r["size"], r["size_diff"], r["count"], r["count_diff"])
            for r in reply["rows"]
            if r["size_diff"] > 0
        ]
        return sorted(rows, key=lambda row: -row.size_diff)[:limit]
