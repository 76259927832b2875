"""Experiment 6: producers and consumers sharing a plain list vs a bounded ``queue.Queue``."""

from __future__ import annotations

import queue
import threading
import time

from core.experiments.base import Context, Experiment, MeasureSpec, Variant, join_all, start_threads

PRODUCERS = 2
CONSUMERS = 2
BURST = 20
QUEUE_SIZE = 64
POLL_S = 0.0005


def _process(item: float) -> float:
    return sum(range(200)) + item


def _body(variant: Variant, ctx: Context) -> dict[str, float]:
    bursts = ctx.scaled(50, minimum=3)
    shared: list[float] = []
    q: queue.Queue[float | None] = queue.Queue(maxsize=QUEUE_SIZE)
    produced_done = threading.Event()
    consumed = [0] * CONSUMERS
    latency = [0.0] * CONSUMERS
    cpu = [0.0] * CONSUMERS
    races = [0] * CONSUMERS
    backlog = [0]
    ctx.monitor.probe("backlog", lambda: len(shared) if variant == "bad" else q.qsize())

    def produce() -> None:
        for _ in range(bursts):
            for _ in range(BURST):
                if variant == "bad":
                    shared.append(time.perf_counter())
                    backlog[0] = max(backlog[0], len(shared))
                else:
                    while not ctx.stop.is_set():
                        try:
                            q.put(time.perf_counter(), timeout=0.1)
                            break
                        except queue.Full:
                            continue
                    backlog[0] = max(backlog[0], q.qsize())
            if ctx.stop.wait(0.02):
                return

    def consume_list(k: int) -> None:
        while not ctx.stop.is_set():
            if shared:
                try:
                    item = shared.pop(0)
                except IndexError:  # another consumer emptied it between check and pop
                    races[k] += 1
                    continue
                latency[k] += time.perf_counter() - item
                _process(item)
                consumed[k] += 1
            elif produced_done.is_set():
                return
            else:
                time.sleep(POLL_S)

    def consume_queue(k: int) -> None:
        while not ctx.stop.is_set():
            try:
                item = q.get(timeout=0.1)
            except queue.Empty:
                continue
            if item is None:
                return
            latency[k] += time.perf_counter() - item
            _process(item)
            consumed[k] += 1

    def consumer(k: int) -> None:
        start = time.thread_time()
        (consume_list if variant == "bad" else consume_queue)(k)
        cpu[k] = time.thread_time() - start

    consumers = start_threads(CONSUMERS, consumer, "exp-consumer")
    producers = start_threads(PRODUCERS, lambda _k: produce(), "exp-producer")
    join_all(producers, timeout=30)
    produced_done.set()
    if variant == "fixed":
        for _ in range(CONSUMERS):
            while not ctx.stop.is_set():
                try:
                    q.put(None, timeout=0.1)
                    break
                except queue.Full:
                    continue
    join_all(consumers, timeout=10)
    total = sum(consumed)
    expected = PRODUCERS * bursts * BURST
    return {
        "consumer_cpu_s": sum(cpu),
        "latency_ms": 1000 * sum(latency) / total if total else 0.0,
        "lost_items": float(expected - total),
        "check_then_pop_races": float(sum(races)),
        "max_backlog": float(backlog[0]),
    }


EXPERIMENT = Experiment(
    name="producer-consumer",
    summary="consumers polling a shared list vs blocking on a bounded queue.Queue",
    claim=(
        "Handing work over through a shared list forces consumers to poll (wasting CPU and "
        "adding delay) and invites check-then-act races; a queue.Queue blocks consumers until "
        "there is work and bounds the backlog."
    ),
    bad="`if items: items.pop(0)` else sleep 0.5 ms and look again",
    fixed=f"queue.Queue(maxsize={QUEUE_SIZE}) with get/put timeouts and a None sentinel",
    measures=(
        MeasureSpec("consumer_cpu_s", "s", "CPU time used by the consumers", key=True),
        MeasureSpec("latency_ms", "ms", "mean time an item waits to be taken", key=True),
        MeasureSpec("lost_items", "items", "items never consumed", key=True),
        MeasureSpec("check_then_pop_races", "races", "list emptied between check and pop"),
        MeasureSpec("max_backlog", "items", "largest backlog seen"),
    ),
    body=_body,
)
