"""Experiment 3: one raw thread per task vs a bounded pool, for the same I/O-bound tasks."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from core.experiments.base import Context, Experiment, MeasureSpec, Variant, join_all

POOL_SIZE = 50
TASK_WAIT_S = 0.15


def _body(variant: Variant, ctx: Context) -> dict[str, float]:
    tasks = ctx.scaled(1_000, minimum=10)
    peak = [threading.active_count()]
    failures = 0
    lock = threading.Lock()
    baseline_threads = threading.active_count()
    rss_before = ctx.monitor.first("rss_mib")

    def task(_i: int) -> None:
        alive = threading.active_count()
        with lock:
            peak[0] = max(peak[0], alive)
        buffer = bytearray(16 * 1024)  # per-task working memory
        ctx.stop.wait(TASK_WAIT_S)  # the I/O the task waits on
        buffer[0] = sum(range(500)) & 0xFF

    start = time.perf_counter()
    if variant == "bad":
        threads = []
        for i in range(tasks):
            if ctx.stop.is_set():
                break
            thread = threading.Thread(target=task, args=(i,), name=f"exp-raw-{i}")
            try:
                thread.start()
            except RuntimeError:  # "can't start new thread": the OS said no
                failures += 1
                continue
            threads.append(thread)
        ctx.monitor.sample_once()  # RSS while (nearly) all of them are alive
        join_all(threads, timeout=30)
    else:
        with ThreadPoolExecutor(POOL_SIZE, thread_name_prefix="exp-pool") as pool:
            for i in range(tasks):
                if ctx.stop.is_set():
                    break
                pool.submit(task, i)
            ctx.monitor.sample_once()
    elapsed = time.perf_counter() - start
    return {
        "peak_threads": float(peak[0] - baseline_threads),
        "peak_os_threads": ctx.monitor.peak("os_threads") - ctx.monitor.first("os_threads"),
        "peak_rss_growth_mib": ctx.monitor.peak("rss_mib") - rss_before,
        "elapsed_s": elapsed,
        "start_failures": float(failures),
    }


EXPERIMENT = Experiment(
    name="thread-explosion",
    summary="1 000 raw threads vs a 50-thread pool for the same I/O-bound tasks",
    claim=(
        "Starting a thread per task makes a thousand threads at once, costing memory and "
        "making the work slower than a bounded pool running the same tasks."
    ),
    bad="start one threading.Thread per task (1 000 at scale 1)",
    fixed=f"submit the tasks to ThreadPoolExecutor({POOL_SIZE})",
    measures=(
        MeasureSpec("peak_threads", "threads", "extra Python threads at peak", key=True),
        MeasureSpec("peak_os_threads", "threads", "extra OS threads at peak (sampled)"),
        MeasureSpec("peak_rss_growth_mib", "MiB", "peak RSS growth", key=True),
        MeasureSpec("elapsed_s", "s", "time to finish all tasks", key=True),
        MeasureSpec("start_failures", "threads", "threads the OS refused"),
    ),
    body=_body,
)
