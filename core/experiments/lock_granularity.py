"""Experiment 7: one coarse lock vs a lock per bucket, and per-item vs batched appends.

Two kinds of critical section are timed, because the GIL decides the answer: pure-Python work
runs one thread at a time whatever the locks, while work that releases the GIL (I/O, here a
short sleep) can overlap only when the threads hold different locks.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from core.experiments.base import Context, Experiment, MeasureSpec, Variant, join_all, start_threads

THREADS = 4
BATCH = 100


def _cpu_step() -> None:
    sum(range(200))


def _io_step() -> None:
    time.sleep(0.0002)


def _ops_per_s(
    variant: Variant, ctx: Context, step: Callable[[], None], seconds: float, series: str
) -> float:
    """Each thread updates its own bucket; the bad variant guards all buckets with one lock."""
    coarse = threading.Lock()
    locks = [coarse] * THREADS if variant == "bad" else [threading.Lock() for _ in range(THREADS)]
    totals = [0] * THREADS
    ctx.monitor.probe(series, lambda: sum(totals))
    deadline = time.perf_counter() + seconds

    def worker(k: int) -> None:
        lock = locks[k]
        while time.perf_counter() < deadline and not ctx.stop.is_set():
            with lock:
                step()
                totals[k] += 1

    start = time.perf_counter()
    join_all(start_threads(THREADS, worker, "exp-locks"), timeout=seconds + 10)
    return sum(totals) / (time.perf_counter() - start)


def _appends_per_s(variant: Variant, ctx: Context, items: int) -> tuple[float, int]:
    shared: list[int] = []
    lock = threading.Lock()
    acquisitions = [0] * THREADS

    def worker(k: int) -> None:
        batch: list[int] = []
        for i in range(items):
            if i % 1_000 == 0 and ctx.stop.is_set():
                return
            if variant == "bad":
                with lock:
                    shared.append(i)
                acquisitions[k] += 1
            else:
                batch.append(i)
                if len(batch) == BATCH:
                    with lock:
                        shared.extend(batch)
                    acquisitions[k] += 1
                    batch.clear()
        with lock:
            shared.extend(batch)

    start = time.perf_counter()
    join_all(start_threads(THREADS, worker, "exp-append"), timeout=30)
    return len(shared) / (time.perf_counter() - start), sum(acquisitions)


def _body(variant: Variant, ctx: Context) -> dict[str, float]:
    seconds = max(0.1, 0.4 * ctx.scale)
    cpu = _ops_per_s(variant, ctx, _cpu_step, seconds, "cpu_ops")
    io = _ops_per_s(variant, ctx, _io_step, seconds, "io_ops")
    appends, acquisitions = _appends_per_s(variant, ctx, ctx.scaled(200_000, minimum=2_000))
    return {
        "cpu_ops_per_s": cpu,
        "io_ops_per_s": io,
        "appends_per_s": appends,
        "lock_acquisitions": float(acquisitions),
    }


EXPERIMENT = Experiment(
    name="lock-granularity",
    summary="one coarse lock vs a lock per bucket; per-item vs batched appends",
    claim=(
        "A single lock around everything serialises the threads, so finer locks (one per "
        "bucket) raise throughput; and taking a lock per item costs more than batching items "
        "under one acquisition."
    ),
    bad="one lock for all 4 buckets; lock taken for every appended item",
    fixed=f"a lock per bucket; items appended in batches of {BATCH} per lock",
    measures=(
        MeasureSpec(
            "cpu_ops_per_s", "ops/s", "pure-Python critical sections/s", better="higher", key=True
        ),
        MeasureSpec(
            "io_ops_per_s", "ops/s", "GIL-releasing critical sections/s", better="higher", key=True
        ),
        MeasureSpec("appends_per_s", "items/s", "shared-list appends/s", better="higher", key=True),
        MeasureSpec("lock_acquisitions", "acquisitions", "lock acquisitions for the appends"),
    ),
    body=_body,
)
