"""Experiment 5: a thread spinning on a flag vs one blocked in ``Event.wait``."""

from __future__ import annotations

import threading
import time

from core.experiments.base import Context, Experiment, MeasureSpec, Variant, join_all, start_threads


def _body(variant: Variant, ctx: Context) -> dict[str, float]:
    wait_s = max(0.1, 1.0 * ctx.scale)
    ready = threading.Event()
    finished = threading.Event()  # set once the waiter has noticed, ends the bystander
    woke_at = [0.0]
    waiter_cpu = [0.0]
    bystander_ops = [0]
    ctx.monitor.probe("bystander_ops", lambda: bystander_ops[0])

    def waiter() -> None:
        cpu = time.thread_time()
        if variant == "bad":
            while not (ready.is_set() or ctx.stop.is_set()):
                pass
        else:
            while not (ready.wait(0.1) or ctx.stop.is_set()):
                pass
        woke_at[0] = time.perf_counter()
        waiter_cpu[0] = time.thread_time() - cpu
        finished.set()

    def bystander() -> None:
        """Useful work that has to share the GIL with whatever the waiter does."""
        while not (finished.is_set() or ctx.stop.is_set()):
            sum(range(1_000))
            bystander_ops[0] += 1

    def run(k: int) -> None:
        (waiter if k == 0 else bystander)()

    threads = start_threads(2, run, "exp-wait")
    ctx.stop.wait(wait_s)
    set_at = time.perf_counter()
    ready.set()
    join_all(threads, timeout=10)
    return {
        "waiter_cpu_s": waiter_cpu[0],
        "bystander_ops_per_s": bystander_ops[0] / wait_s,
        "wake_latency_ms": max(0.0, woke_at[0] - set_at) * 1000,
        "wait_s": wait_s,
    }


EXPERIMENT = Experiment(
    name="busy-wait",
    summary="spinning on a flag vs blocking in Event.wait while another thread works",
    claim=(
        "A thread that polls a flag in a loop burns CPU while it waits and, under the GIL, "
        "slows the threads doing real work; Event.wait costs nothing while waiting and wakes "
        "just as promptly."
    ),
    bad="`while not ready.is_set(): pass`",
    fixed="`ready.wait(timeout)` in a loop that also watches stop",
    measures=(
        MeasureSpec("waiter_cpu_s", "s", "CPU time the waiting thread used", key=True),
        MeasureSpec(
            "bystander_ops_per_s",
            "ops/s",
            "work done by another thread meanwhile",
            better="higher",
            key=True,
        ),
        MeasureSpec("wake_latency_ms", "ms", "delay from set() to the waiter running", key=True),
        MeasureSpec("wait_s", "s", "how long the waiter waited"),
    ),
    body=_body,
)
