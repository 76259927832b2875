"""A sample of a watched program as frozen data, from the agent or from py-spy + /proc.

``Sample.dump_object()`` is the object ``threadscope dump --json`` prints (keys as in issue 12).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class StackFrame:
    file: str
    line: int
    function: str


@dataclass(frozen=True, slots=True)
class WatchedThread:
    name: str
    native_id: int | None
    ident: int | None
    daemon: bool | None
    state: str
    os_state: str | None
    cpu_s: float | None
    stack: tuple[StackFrame, ...]  # outermost first
    holds: tuple[str, ...] = ()
    waiting_for: str | None = None
    agent: bool = False  # the agent's own thread

    @property
    def innermost(self) -> StackFrame | None:
        return self.stack[-1] if self.stack else None


@dataclass(frozen=True, slots=True)
class Sample:
    pid: int
    python: str
    agent: bool  # True: from the in-process agent; False: py-spy + /proc from outside
    time: float
    threads: tuple[WatchedThread, ...]
    locks: tuple[dict[str, Any], ...] = ()
    deadlocks: tuple[tuple[str, ...], ...] = ()
    rss_bytes: int | None = None
    gc_counts: tuple[int, ...] = ()
    dropped: int = 0  # samples the agent dropped for this reader since the last one
    notes: tuple[str, ...] = field(default=())
    queues: tuple[tuple[str, int], ...] = ()  # (name, depth) of queues the program registered

    def dump_object(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "python": self.python,
            "agent": self.agent,
            "threads": [
                {
                    "name": t.name,
                    "native_id": t.native_id,
                    "ident": t.ident,
                    "daemon": t.daemon,
                    "state": t.state,
                    "cpu_s": t.cpu_s,
                    "stack": [
                        {"file": f.file, "line": f.line, "function": f.function} for f in t.stack
                    ],
                    "holds": list(t.holds),
                    "waiting_for": t.waiting_for,
                }
                for t in self.threads
            ],
            "locks": [dict(lock) for lock in self.locks],
            "deadlocks": [list(cycle) for cycle in self.deadlocks],
        }


def sample_from_message(message: dict[str, Any]) -> Sample:
    """The agent's ``sample`` / ``dump`` message as a ``Sample``."""
    threads = tuple(
        WatchedThread(
            name=t["name"],
            native_id=t.get("native_id"),
            ident=t.get("ident"),
            daemon=t.get("daemon"),
            state=t["state"],
            os_state=t.get("os_state"),
            cpu_s=t.get("cpu_s"),
            stack=tuple(StackFrame(f["file"], f["line"], f["function"]) for f in t["stack"]),
            holds=tuple(t.get("holds", ())),
            waiting_for=t.get("waiting_for"),
            agent=bool(t.get("agent")),
        )
        for t in message.get("threads", [])
    )
    stacks = message.get("stacks", "ok")
    return Sample(
        pid=message["pid"],
        python=message.get("python", ""),
        agent=True,
        time=message.get("time", 0.0),
        threads=threads,
        locks=tuple(message.get("locks", ())),
        deadlocks=tuple(tuple(c) for c in message.get("deadlocks", ())),
        rss_bytes=message.get("rss_bytes"),
        gc_counts=tuple(message.get("gc", {}).get("counts", ())),
        dropped=message.get("dropped", 0),
        notes=tuple(message.get("notes", ())) + (() if stacks == "ok" else (f"stacks: {stacks}",)),
        queues=tuple(sorted((str(k), int(v)) for k, v in message.get("queues", {}).items())),
    )
