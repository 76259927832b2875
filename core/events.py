"""Typed, immutable events and the stream that carries them from workers to subscribers.

Every event type is declared here: the engine's, the experiment monitor's and the experiment
runner's. Workers publish from any thread and never block: each subscriber has its own bounded
:class:`Mailbox`, and when a subscriber falls behind, new events are dropped for it and
counted rather than slowing a worker down.

This module is the bottom layer of ``core``: the higher types some events carry (an
experiment's ``Outcome``, a ``StuckThread``) are imported for type checking only.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, field, fields
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

if TYPE_CHECKING:
    from core.compare import StrategyComparison, StrategyRun
    from core.diagnostics.stuck import StuckThread
    from core.experiments.base import Outcome
    from core.experiments.sweep import SweepResult
    from core.experiments.verdict import Comparison

T = TypeVar("T")
E = TypeVar("E", bound=type)


def _quick(cls: E) -> E:
    """Faster construction for the frozen, slotted records a crawl builds per page.

    A frozen dataclass's own ``__init__`` calls ``object.__setattr__`` per field; this one has
    the same parameters, defaults and immutability but writes each slot through its member
    descriptor (a third fewer instructions). ``cls.make(*fields)`` (every field positional,
    in declaration order: an event's ``t`` first) also skips the class call and its keyword
    dict (half the instructions): the pipeline and the workers use it.
    """
    scope: dict[str, Any] = {"_MISSING": MISSING, "_cls": cls, "_new": object.__new__}
    names = [f.name for f in fields(cls)]
    params: list[str] = []
    keywords: list[str] = []
    for f in fields(cls):
        into = keywords if f.kw_only else params
        scope[f"_set_{f.name}"] = getattr(cls, f.name).__set__
        if f.default_factory is not MISSING:
            scope[f"_factory_{f.name}"] = f.default_factory
            into.append(f"{f.name}=_MISSING")
        elif f.default is not MISSING:
            scope[f"_default_{f.name}"] = f.default
            into.append(f"{f.name}=_default_{f.name}")
        else:
            into.append(f.name)
    if keywords:
        params += ["*", *keywords]
    sets = "".join(f"    _set_{name}(self, {name})\n" for name in names)
    factories = "".join(
        f"    if {name} is _MISSING:\n        {name} = _factory_{name}()\n"
        for name in names
        if f"_factory_{name}" in scope
    )
    source = (
        f"def __init__(self, {', '.join(params)}):\n{factories}{sets}"
        f"def make({', '.join(names)}):\n    self = _new(_cls)\n{sets}    return self\n"
    )
    exec(source, scope)  # the source is made of the class's own field names
    for name in ("__init__", "make"):
        scope[name].__qualname__ = f"{cls.__qualname__}.{name}"
    setattr(cls, "__init__", scope["__init__"])  # noqa: B010 - mypy: no assigning to a method
    setattr(cls, "make", staticmethod(scope["make"]))  # noqa: B010 - declared in the class
    return cls


class CrawlState(StrEnum):
    IDLE = "idle"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPING = "stopping"
    FINISHED = "finished"


class WorkerState(StrEnum):
    IDLE = "idle"
    FETCHING = "fetching"
    PARSING = "parsing"
    WAITING_HOST = "waiting for host"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """Why one URL failed: a short machine-readable kind and a human message."""

    kind: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "message": self.message}


@_quick
@dataclass(frozen=True, slots=True)
class PageResult:
    """One record per URL; ``as_dict`` gives the JSONL keys.

    ``truncated``: the body was longer than ``max_body_bytes`` (decoded) and was cut there.
    """

    url: str
    parent: str | None
    depth: int
    status: int | None
    bytes: int
    elapsed_ms: float
    links: int
    error: ErrorInfo | None = None
    truncated: bool = False
    make: ClassVar[
        Callable[
            [str, str | None, int, int | None, int, float, int, ErrorInfo | None, bool],
            PageResult,
        ]
    ]

    @property
    def failed(self) -> bool:
        """An error row: the fetch failed, or the server answered 4xx/5xx."""
        return self.error is not None or (self.status or 0) >= 400

    def as_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "parent": self.parent,
            "depth": self.depth,
            "status": self.status,
            "bytes": self.bytes,
            "elapsed_ms": round(self.elapsed_ms, 3),
            "links": self.links,
            "error": self.error.as_dict() if self.error else None,
            "truncated": self.truncated,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    t: float = field(default_factory=time.monotonic)


@dataclass(frozen=True, slots=True, kw_only=True)
class CrawlStateChanged(Event):
    state: CrawlState
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerStarted(Event):
    name: str
    ident: int
    native_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerStopped(Event):
    name: str
    reason: str = ""


@_quick
@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerStateChanged(Event):
    """A worker's state or URL changed.

    ``FETCHING`` a URL covers its robots.txt check too; ``WAITING_HOST`` (``url``: the host,
    an origin) is a worker waiting for a host's turn: in the ``bounded`` strategy for the
    earliest host to be ready (with nothing ready), in the others before the request to that
    host, whose ``FETCHING`` follows. ``PARSING`` is not published on its own: the page's
    ``FetchFinished`` says when it began (``parse_started``), one event fewer per page.
    """

    name: str
    state: WorkerState
    url: str | None = None
    make: ClassVar[Callable[[float, str, WorkerState, str | None], WorkerStateChanged]]


@_quick
@dataclass(frozen=True, slots=True, kw_only=True)
class FetchFinished(Event):
    """A page's result; ``parse_started``: when ``worker`` began parsing its body (state
    ``PARSING`` from then until ``t``), None when nothing was parsed."""

    worker: str
    result: PageResult
    parse_started: float | None = None
    make: ClassVar[Callable[[float, str, PageResult, float | None], FetchFinished]]


@dataclass(frozen=True, slots=True, kw_only=True)
class ThreadsChanged(Event):
    old: int
    new: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Marker(Event):
    """A labelled line on the charts at ``t``: a cause next to its effect ("autothrottle
    127.0.0.1:8001 0.05→0.2 s")."""

    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Notice(Event):
    """Something a person should see: a memory warning, links dropped, a robots decision.
    ``thread`` names the thread that raised it (a worker, the watchdog), not the reader's."""

    level: str
    message: str
    thread: str = field(default_factory=lambda: threading.current_thread().name)


# -- experiments: the monitor's samples and the runner's progress --------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class MonitorSample(Event):
    """One tick of the experiment monitor: ``values`` holds the built-in series and every
    probe."""

    experiment: str
    variant: str
    elapsed: float
    values: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class StuckThreadsFound(Event):
    """Threads whose stacks stopped moving for longer than the detector's threshold."""

    experiment: str
    variant: str
    threads: tuple[StuckThread, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class SweepPoint(Event):
    """One measured point of a sweep experiment (``parameter`` = ``x``), for live x-y plots."""

    experiment: str
    parameter: str
    x: float
    trial: int
    values: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class VariantFinished(Event):
    """One variant run (or one sweep point) of an experiment run has ended."""

    outcome: Outcome


@dataclass(frozen=True, slots=True, kw_only=True)
class RunEnded(Event):
    """The last event of an experiment run: its result (unless it failed), the history
    record it was saved as (unless stopped or not saved), and ``error`` saying what failed."""

    result: Comparison | SweepResult | None = None
    record_id: str | None = None
    error: str | None = None


# -- strategy comparison: the runner's progress ----------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class StrategyRunFinished(Event):
    """One strategy's crawl of a comparison has ended (and was saved, unless told not to)."""

    run: StrategyRun


@dataclass(frozen=True, slots=True, kw_only=True)
class StrategiesCompared(Event):
    """The last event of a comparison: its result, or ``error`` saying what failed."""

    result: StrategyComparison | None = None
    error: str | None = None


class Mailbox(Generic[T]):
    """A buffer any number of threads put into and one thread drains.

    ``offer`` never blocks: past ``maxlen`` items (``None``: unbounded) the new item is dropped
    and counted in ``dropped``, so a producer is never slowed down by a slow consumer.
    """

    def __init__(self, maxlen: int | None = None) -> None:
        self._buffer: deque[T] = deque()
        self._maxlen = sys.maxsize if maxlen is None else maxlen
        self.dropped = 0

    def offer(self, item: T) -> bool:
        """Buffer ``item``; False when it was dropped because the buffer is full."""
        if len(self._buffer) >= self._maxlen:
            self.dropped += 1
            return False
        self._buffer.append(item)
        return True

    def drain(self, max_items: int | None = None) -> list[T]:
        """Take up to ``max_items`` buffered items (all when None), oldest first."""
        buffer = self._buffer
        count = len(buffer) if max_items is None else min(max_items, len(buffer))
        return [buffer.popleft() for _ in range(count)]

    def __len__(self) -> int:
        return len(self._buffer)


class Subscription(Mailbox[Event]):
    """One subscriber's bounded mailbox on a stream; drain it from the consuming thread."""

    def __init__(self, stream: EventStream, maxlen: int) -> None:
        super().__init__(maxlen)
        self._stream = stream

    def close(self) -> None:
        self._stream.unsubscribe(self)


class EventStream:
    """Fan-out of events to any number of subscribers; ``publish`` never blocks.

    ``active`` is a plain attribute, set under the lock whenever a subscriber comes or goes,
    because workers read it several times a page: False when nobody listens, so publishers
    can skip building events.
    """

    def __init__(self) -> None:
        self._subscribers: tuple[Subscription, ...] = ()
        self._lock = threading.Lock()
        self.active = False

    def subscribe(self, maxlen: int = 100_000) -> Subscription:
        sub = Subscription(self, maxlen)
        with self._lock:
            self._subscribers = (*self._subscribers, sub)
            self.active = True
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            self._subscribers = tuple(s for s in self._subscribers if s is not sub)
            self.active = bool(self._subscribers)

    def publish(self, event: Event) -> None:
        for sub in self._subscribers:
            sub.offer(event)
