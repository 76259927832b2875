"""Experiment 1: results parked in a module-level list outlive the tasks that made them."""

from __future__ import annotations

import tracemalloc
from concurrent.futures import ThreadPoolExecutor

from core.experiments.base import Context, Experiment, MeasureSpec, Variant
from core.experiments.monitor import MIB

CHUNK = 64 * 1024
RETAINED: list[bytes] = []  # the global list the bad variant keeps appending to


def _body(variant: Variant, ctx: Context) -> dict[str, float]:
    tasks = ctx.scaled(400, minimum=8)
    own_tracing = not tracemalloc.is_tracing()
    if own_tracing:
        tracemalloc.start()
    before, _ = tracemalloc.get_traced_memory()
    ctx.monitor.probe("retained_items", lambda: len(RETAINED))
    ctx.monitor.probe("traced_mib", lambda: (tracemalloc.get_traced_memory()[0] - before) / MIB)
    rss_before = ctx.monitor.first("rss_mib")

    def task(i: int) -> int:
        if ctx.stop.wait(0.01):  # stands in for the I/O a real task waits on
            return 0
        data = bytes([i % 251]) * CHUNK
        checksum = sum(data[::4096])
        if variant == "bad":
            RETAINED.append(data)
        return checksum

    try:
        with ThreadPoolExecutor(4, thread_name_prefix="exp-leak") as pool:
            done = sum(1 for _ in pool.map(task, range(tasks)))
        retained = (tracemalloc.get_traced_memory()[0] - before) / MIB
        rss_growth = ctx.monitor.sample_once().values["rss_mib"] - rss_before
        items = len(RETAINED)
    finally:
        RETAINED.clear()  # measured; now give the memory back so later runs start clean
        if own_tracing:
            tracemalloc.stop()
    return {
        "retained_mib": retained,
        "rss_growth_mib": rss_growth,
        "retained_items": float(items),
        "tasks": float(done),
    }


EXPERIMENT = Experiment(
    name="global-list-leak",
    summary="results appended to a global list vs released when each task ends",
    claim=(
        "Tasks that append their data to a module-level list keep all of it alive after they "
        "finish, so memory grows with the number of tasks; releasing it per task keeps memory "
        "flat."
    ),
    bad="each task appends its 64 KiB buffer to a global list",
    fixed="each task uses its buffer and lets it go",
    measures=(
        MeasureSpec("retained_mib", "MiB", "memory still held after the tasks", key=True),
        MeasureSpec("rss_growth_mib", "MiB", "RSS growth over the run", key=True),
        MeasureSpec("retained_items", "items", "objects left in the global list"),
        MeasureSpec("tasks", "tasks", "tasks completed", better="higher"),
    ),
    body=_body,
)
