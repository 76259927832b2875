"""Experiment: two threads taking two locks in opposite orders deadlock; one global order does not.

The bad variant forces the unlucky interleaving once (each thread takes its first lock, then
waits a moment for the other to take its own), so the deadlock forms on every run rather than
once a week. The lock tracker's ``DeadlockWatch`` names it; the experiment then breaks it the
way a database does, with a victim: it releases the victim's first lock on the victim's behalf
(any thread may release a ``threading.Lock``), the other thread goes on, and the victim, told
its lock was taken, backs off and ends. Every wait for a second lock also has a timeout, so
the threads leave even if the watch never fired.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from core.agent.locks import DeadlockWatch, format_deadlocks
from core.experiments.base import (
    Context,
    Experiment,
    MeasureSpec,
    Variant,
    join_all,
    start_threads,
)

PREFIX = "exp-order"
RENDEZVOUS_S = 0.2  # round 0: how long each thread waits for the other to take its first lock
SECOND_LOCK_TIMEOUT_S = 5.0  # the backstop if the deadlock is never named
VICTIM = 1


def _body(variant: Variant, ctx: Context) -> dict[str, float]:
    rounds = ctx.scaled(500, minimum=20)
    account_a, account_b = threading.Lock(), threading.Lock()
    orders = [(account_a, account_b), (account_b, account_a)]
    if variant == "fixed":
        orders[VICTIM] = orders[0]  # one global order: a before b, for everyone
    took_first = [threading.Event(), threading.Event()]
    robbed = threading.Event()  # the victim's first lock was released on its behalf
    idents = [0, 0]
    completed = [0, 0]
    latencies: list[float] = []  # per deadlock named: seconds from its forming to its naming
    ctx.monitor.probe("rounds_completed", lambda: sum(completed))

    def on_deadlock(cycle: list[int], snap: dict[str, Any]) -> None:
        if sorted(cycle) != sorted(idents):
            return  # someone else's deadlock in this process
        # It formed when the last of its threads began to wait.
        waits = [
            w["since_s"] for lock in snap["locks"] for w in lock["waiters"] if w["ident"] in cycle
        ]
        formed = snap["monotonic"] - min(waits)
        latencies.append(time.monotonic() - formed)
        ctx.notes.append(format_deadlocks(snap, [cycle]))

    def worker(k: int) -> None:
        idents[k] = threading.get_ident()
        first, second = orders[k]
        for round_ in range(rounds):
            if ctx.stop.is_set():
                return
            first.acquire()
            if round_ == 0:
                took_first[k].set()
                took_first[1 - k].wait(RENDEZVOUS_S)
            got = second.acquire(timeout=SECOND_LOCK_TIMEOUT_S)
            if k == VICTIM and robbed.is_set():
                if got:
                    second.release()
                return  # its first lock is no longer its own: back off
            if not got:
                first.release()
                return
            completed[k] += 1
            second.release()
            first.release()

    with DeadlockWatch(on_deadlock=on_deadlock):
        threads = start_threads(2, worker, PREFIX)
        deadline = time.monotonic() + SECOND_LOCK_TIMEOUT_S + 0.001 * rounds + 5.0
        while any(t.is_alive() for t in threads) and time.monotonic() < deadline:
            if latencies and not robbed.is_set():
                robbed.set()
                orders[VICTIM][0].release()  # break the cycle: the victim's first lock
            ctx.stop.wait(0.01)
        left = join_all(threads, timeout=SECOND_LOCK_TIMEOUT_S + 1.0)
    return {
        "deadlocks": float(len(latencies)),
        "detected_after_s": latencies[0] if latencies else 0.0,
        "rounds_completed": float(sum(completed)),
        "threads_left": float(left),
    }


EXPERIMENT = Experiment(
    name="lock-order-deadlock",
    summary="two threads take two locks in opposite orders vs one global lock order",
    claim=(
        "Two threads that take the same two locks in opposite orders can each hold one and "
        "wait for the other forever; when every thread takes them in one global order, no "
        "cycle of waits can form."
    ),
    bad="thread 0 takes a then b, thread 1 takes b then a (the unlucky interleaving forced once)",
    fixed="both threads take a then b, with the same forced interleaving",
    measures=(
        MeasureSpec("deadlocks", "cycles", "deadlocks the detector named", key=True),
        MeasureSpec(
            "detected_after_s",
            "s",
            "time from the deadlock forming to being named (0: none formed)",
            key=True,
        ),
        MeasureSpec("rounds_completed", "rounds", "rounds completed", better="higher", key=True),
        MeasureSpec("threads_left", "threads", "threads still alive after the run"),
    ),
    body=_body,
)
