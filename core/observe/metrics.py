"""The Prometheus endpoint: ``/metrics`` in the text format, from live values read at scrape.

Nothing is counted in the engine's hot path. A ``MetricsSource`` hands over one
``MetricsSnapshot`` per scrape (a crawl: ``CrawlMetricsSource`` over ``Crawler.stats()``,
its event stream and the sampler; a watched program: the agent's latest sample), and
``ThreadscopeCollector`` turns it into metric families. The server has its own registry (the
process collectors plus ours), so nothing else registered in ``prometheus_client``'s global
registry leaks in, and it binds first, so a port in use is an error before a crawl starts.
"""

from __future__ import annotations

import re
import socket
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any, Protocol
from urllib.parse import urlsplit
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import psutil
from prometheus_client import (
    CollectorRegistry,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
    make_wsgi_app,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from core.agent import locks
from core.events import FetchFinished
from core.observe.labels import BoundedLabels
from core.stats import CrawlStats, WorkerInfo

THREAD_LABELS = 64  # distinct thread names with their own CPU series; the rest are "other"
HOST_LABELS = 20  # hosts with their own page counter; the rest are "other"
KIND_LABELS = 32  # error kinds (fetcher kinds and http_<status>); more is a bug somewhere
_DEFAULT_NAME = re.compile(r"^Thread-\d+( \(.*\))?$")


@dataclass(frozen=True, slots=True)
class ThreadCpu:
    """One OS thread's CPU time so far; ``native_id`` tells a new thread from an old name."""

    native_id: int
    name: str
    cpu_s: float


@dataclass(frozen=True, slots=True)
class MetricsSnapshot:
    """Everything one scrape shows. Counts are cumulative since the source was created;
    ``lock_waits`` is ``core.agent.locks.wait_histogram()`` (this process's, or a watched
    program's through its agent) when lock tracking is on, else None.
    ``crawl`` False (a watched program): no pages, bytes, frontier, requests or hosts."""

    crawl: bool = True
    pages: int = 0
    bytes: int = 0
    frontier: int = 0
    in_flight: int = 0
    errors_by_kind: Mapping[str, int] = field(default_factory=dict)
    threads_by_state: Mapping[str, int] = field(default_factory=dict)
    threads: Sequence[ThreadCpu] = ()
    host_pages: Mapping[str, int] = field(default_factory=dict)
    sampler_cpu_s_per_tick: float | None = None
    lock_waits: Mapping[str, Any] | None = None


class MetricsSource(Protocol):
    """None: nothing to show yet (the endpoint then serves the process metrics only)."""

    def snapshot(self) -> MetricsSnapshot | None: ...


class NoSource:
    """Nothing attached yet: the endpoint serves the process metrics only."""

    def snapshot(self) -> None:
        return None


class CrawlSource(Protocol):
    """What ``CrawlMetricsSource`` reads of a ``Crawler``."""

    @property
    def events(self) -> Any: ...

    def stats(self) -> CrawlStats: ...

    def workers(self) -> list[WorkerInfo]: ...


class SamplerCost(Protocol):
    def cost_ms(self) -> float: ...


def thread_label(name: str) -> str:
    """Python's default ``Thread-12 (target)`` names are one-shot by nature: grouped as
    ``Thread-* (target)``; every other name is kept (and then bounded, see labels.py)."""
    return _DEFAULT_NAME.sub(r"Thread-*\1", name)


def os_threads() -> list[ThreadCpu]:
    """Every OS thread of this process with its CPU time, named from ``threading`` when it
    runs Python (others, e.g. a C library's, are ``"native"``)."""
    names = {t.native_id: t.name for t in threading.enumerate() if t.native_id is not None}
    return [
        ThreadCpu(t.id, thread_label(names.get(t.id, "native")), t.user_time + t.system_time)
        for t in psutil.Process().threads()
    ]


def lock_snapshot() -> Mapping[str, Any] | None:
    """``core.agent.locks.snapshot()`` while tracking is installed."""
    if not locks.installed():
        return None
    snap: Mapping[str, Any] = locks.snapshot()
    return snap


def lock_waits() -> Mapping[str, Any] | None:
    """``core.agent.locks.wait_histogram()`` while tracking is installed."""
    return locks.wait_histogram() if locks.installed() else None


class CrawlMetricsSource:
    """A crawl as a ``MetricsSource``: counters from ``stats()``, workers by state, error
    kinds and hosts tallied from the crawl's own ``FetchFinished`` events (drained at each
    scrape or ``refresh()``, so the engine counts nothing extra), the sampler's own cost."""

    def __init__(self, crawler: CrawlSource, sampler: SamplerCost | None = None) -> None:
        self._crawler = crawler
        self._sampler = sampler
        self._events = crawler.events.subscribe(maxlen=1_000_000)
        self._lock = threading.Lock()
        self._kinds: Counter[str] = Counter()
        self._hosts: Counter[str] = Counter()

    def refresh(self) -> None:
        """Tally the events published since the last call; call it every second or so on a
        long unscraped crawl, so the subscription's buffer stays small."""
        with self._lock:
            for event in self._events.drain():
                if not isinstance(event, FetchFinished):
                    continue
                result = event.result
                if result.error and result.error.kind == "robots":
                    continue  # refused by robots.txt, never fetched (as CrawlStats counts)
                self._hosts[urlsplit(result.url).hostname or "?"] += 1
                if result.error is not None:
                    self._kinds[result.error.kind] += 1
                elif result.failed:
                    self._kinds[f"http_{result.status}"] += 1

    def close(self) -> None:
        self._events.close()

    def snapshot(self) -> MetricsSnapshot:
        self.refresh()
        stats = self._crawler.stats()
        workers = self._crawler.workers()
        by_state = Counter(str(w.state) for w in workers)
        by_state["other"] = max(0, threading.active_count() - len(workers))
        with self._lock:
            kinds, hosts = dict(self._kinds), dict(self._hosts)
        return MetricsSnapshot(
            pages=stats.pages,
            bytes=stats.bytes,
            frontier=stats.frontier,
            in_flight=stats.in_flight,
            errors_by_kind=kinds,
            threads_by_state=dict(by_state),
            threads=os_threads(),
            host_pages=hosts,
            sampler_cpu_s_per_tick=(
                self._sampler.cost_ms() / 1000.0 if self._sampler is not None else None
            ),
            lock_waits=lock_waits(),
        )


class _ThreadCpuTotals:
    """Per-label CPU seconds that never go down: a thread that exits (or whose native id is
    reused, seen as CPU going backwards) keeps its last CPU time in its label's total.
    A thread that starts and ends between two scrapes is not seen at all; its CPU is still
    in ``process_cpu_seconds_total``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._labels = BoundedLabels(limit)
        self._live: dict[int, tuple[str, float]] = {}  # native id -> (label, cpu seconds)
        self._retired: dict[str, float] = {}

    def update(self, threads: Iterable[ThreadCpu]) -> dict[str, float]:
        live: dict[int, tuple[str, float]] = {}
        for thread in threads:
            known = self._live.pop(thread.native_id, None)
            if known is not None and thread.cpu_s < known[1]:
                self._retired[known[0]] = self._retired.get(known[0], 0.0) + known[1]
                known = None
            label = known[0] if known is not None else self._labels.label(thread.name)
            live[thread.native_id] = (label, thread.cpu_s)
        for label, cpu in self._live.values():  # exited since the last scrape
            self._retired[label] = self._retired.get(label, 0.0) + cpu
        self._live = live
        totals: dict[str, float] = dict(self._retired)
        for label, cpu in live.values():
            totals[label] = totals.get(label, 0.0) + cpu
        return totals


def _bounded_counts(counts: Mapping[str, int], labels: BoundedLabels) -> dict[str, int]:
    bounded: Counter[str] = Counter()
    for name, n in counts.items():  # insertion order: first seen, first admitted
        bounded[labels.label(name)] += n
    return dict(bounded)


class _LockWaitTotals:
    """The lock-wait histogram as served: per lock kind, every count at least what the last
    scrape showed. The tracker's counters only grow, but a free-threaded build may lose a
    count under a race, and a watched program's agent may miss a scrape (it is ending, or
    busy with a slow request): the last values are served then, never a gap or a drop."""

    def __init__(self) -> None:
        self.bounds: tuple[float, ...] = ()
        self._kinds: dict[str, tuple[list[int], float]] = {}  # kind -> (counts, seconds)

    def update(self, waits: Mapping[str, Any] | None) -> None:
        if not waits:
            return
        self.bounds = tuple(float(b) for b in waits["bounds"])
        for kind, row in waits["kinds"].items():
            counts, seconds = [int(n) for n in row["counts"]], float(row["sum_s"])
            if (served := self._kinds.get(kind)) is not None:
                counts = [max(a, b) for a, b in zip(counts, served[0], strict=True)]
                seconds = max(seconds, served[1])
            self._kinds[kind] = (counts, seconds)

    def family(self) -> HistogramMetricFamily | None:
        if not self.bounds:
            return None
        family = HistogramMetricFamily(
            "threadscope_lock_wait_seconds",
            "Seconds threads waited for a tracked lock, per lock kind (every wait since the "
            "process started, locks gone since included)",
            labels=["kind"],
        )
        for kind, (counts, seconds) in sorted(self._kinds.items()):
            *upto, every = (float(n) for n in accumulate(counts))
            buckets = [(repr(b), n) for b, n in zip(self.bounds, upto, strict=True)]
            family.add_metric([kind], [*buckets, ("+Inf", every)], sum_value=seconds)
        return family


class ThreadscopeCollector(Collector):
    """The ``threadscope_*`` families from one source snapshot per scrape."""

    def __init__(
        self,
        source: MetricsSource,
        thread_limit: int = THREAD_LABELS,
        host_limit: int = HOST_LABELS,
    ) -> None:
        self.source = source
        self._lock = threading.Lock()  # scrapes may overlap (one thread per request)
        self._cpu = _ThreadCpuTotals(thread_limit)
        self._hosts = BoundedLabels(host_limit)
        self._kinds = BoundedLabels(KIND_LABELS)
        self._lock_waits = _LockWaitTotals()

    def collect(self) -> Iterator[Metric]:
        snap = self.source.snapshot()
        if snap is None:
            return
        with self._lock:
            cpu = self._cpu.update(snap.threads)
            hosts = _bounded_counts(snap.host_pages, self._hosts)
            kinds = _bounded_counts(snap.errors_by_kind, self._kinds)
            self._lock_waits.update(snap.lock_waits)
            lock_waits = self._lock_waits.family()
        if snap.crawl:
            yield from self._crawl_families(snap, kinds, hosts)
        yield _labelled(
            GaugeMetricFamily(
                "threadscope_threads",
                "Threads by state (a crawl: workers by state, other Python threads: other; "
                "a watched program: each thread's state)",
                labels=["state"],
            ),
            snap.threads_by_state,
        )
        yield _labelled(
            CounterMetricFamily(
                "threadscope_thread_cpu_seconds",
                f"CPU seconds per thread name (first {self._cpu.limit} names, the rest: other)",
                labels=["thread"],
            ),
            cpu,
        )
        if snap.sampler_cpu_s_per_tick is not None:
            yield GaugeMetricFamily(
                "threadscope_sampler_cpu_seconds_per_tick",
                "CPU seconds Threadscope's sampler (a watched program: its agent) spends per "
                "sample: its own cost",
                value=snap.sampler_cpu_s_per_tick,
            )
        if lock_waits is not None:
            yield lock_waits

    def _crawl_families(
        self, snap: MetricsSnapshot, kinds: Mapping[str, int], hosts: Mapping[str, int]
    ) -> Iterator[Metric]:
        yield CounterMetricFamily(
            "threadscope_pages", "URLs fetched (errors included)", value=snap.pages
        )
        yield _labelled(
            CounterMetricFamily(
                "threadscope_errors", "URLs that ended with an error", labels=["kind"]
            ),
            kinds,
        )
        yield CounterMetricFamily(
            "threadscope_bytes", "Body bytes received on the wire", value=snap.bytes
        )
        yield GaugeMetricFamily(
            "threadscope_frontier_urls", "URLs queued (in memory and spilled)", value=snap.frontier
        )
        yield GaugeMetricFamily(
            "threadscope_in_flight_requests", "Requests on the wire now", value=snap.in_flight
        )
        yield _labelled(
            CounterMetricFamily(
                "threadscope_host_pages",
                f"Pages fetched per host (first {self._hosts.limit} hosts, the rest: other)",
                labels=["host"],
            ),
            hosts,
        )


def _labelled(family: Any, values: Mapping[str, float]) -> Metric:
    for label, value in sorted(values.items()):
        family.add_metric([label], value)
    metric: Metric = family
    return metric


def make_registry(
    collector: ThreadscopeCollector, pid: Callable[[], int] | None = None
) -> CollectorRegistry:
    """Our own registry: process (RSS, CPU, fds), platform and gc collectors plus ours.

    With ``pid`` (a watched program; -1 while there is none yet): ``process_*`` are that
    process's, Threadscope's own are ``threadscope_process_*``, and there are no platform or
    gc families (they would describe Threadscope's interpreter, not the program's)."""
    registry = CollectorRegistry(auto_describe=True)
    if pid is None:
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        GCCollector(registry=registry)
    else:
        ProcessCollector(pid=pid, registry=registry)
        ProcessCollector(namespace="threadscope", registry=registry)
    registry.register(collector)
    return registry


class MetricsError(RuntimeError):
    """The endpoint could not be served (the port is in use, the address is not ours)."""


class MetricsServer:
    """``/metrics`` on ``bind:port`` on a ``threadscope-metrics`` thread; ``port=0`` picks a
    free port (``server.port`` says which). ``start()`` binds at once, so a busy port raises
    ``MetricsError`` before anything else starts; ``stop()`` shuts the server and joins."""

    def __init__(self, registry: CollectorRegistry, port: int, bind: str = "127.0.0.1") -> None:
        self.registry = registry
        self.bind = bind
        self.port = port
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.bind}]" if ":" in self.bind else self.bind
        return f"http://{host}:{self.port}/metrics"

    def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("metrics server already started")
        family = socket.AF_INET6 if ":" in self.bind else socket.AF_INET
        server_class: type[WSGIServer] = type("_Server", (WSGIServer,), {"address_family": family})
        try:
            server = make_server(
                self.bind, self.port, make_wsgi_app(self.registry), server_class, _QuietHandler
            )
        except OSError as error:
            reason = error.strerror or str(error)
            raise MetricsError(
                f"cannot serve metrics on {self.bind}:{self.port}: {reason.lower()}"
            ) from None
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="threadscope-metrics",
            daemon=True,
        )
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> bool:
        """True when the server thread has exited."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return True
        server.shutdown()
        server.server_close()
        thread.join(timeout)
        return not thread.is_alive()


class _QuietHandler(WSGIRequestHandler):
    """No access log line per scrape on stderr; a client that sends nothing is dropped after
    ``timeout`` seconds (scrapes are served one at a time, on the server's thread)."""

    timeout = 5.0

    def log_message(self, format: str, *args: Any) -> None:
        pass
