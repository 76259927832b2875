"""Experiment 4: an exception between acquire() and release() leaves the lock held for good.

Every waiter here acquires with a timeout and watches a halt event, so the "deadlock" can be
ended: the monitor's stuck-thread detector flags the waiters, the experiment records that,
sets the halt event and every thread leaves within one acquire timeout.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from core.experiments.base import Context, Experiment, MeasureSpec, Variant, start_threads

WORKERS = 4
STUCK_THRESHOLD_S = 0.5
PREFIX = "exp-lock"


class TaskFailed(Exception):
    """The error one task raises while holding the lock."""


class Halted(Exception):
    """The experiment ended while this thread waited for the lock."""


def _acquire_unless(lock: threading.Lock, halt: threading.Event) -> None:
    # A blocked waiter spends nearly all its time inside acquire(): its stack stays put.
    while not halt.is_set() and not lock.acquire(timeout=0.05):
        continue
    if halt.is_set():
        raise Halted


@contextmanager
def _holding(lock: threading.Lock, halt: threading.Event) -> Iterator[None]:
    """``with lock:`` that gives up when halted; the release is in ``finally``."""
    _acquire_unless(lock, halt)
    try:
        yield
    finally:
        lock.release()


def _work(halt: threading.Event, fail: bool) -> None:
    halt.wait(0.002)
    if fail:
        raise TaskFailed("task failed while holding the lock")


def _body(variant: Variant, ctx: Context) -> dict[str, float]:
    items = ctx.scaled(25, minimum=3)
    lock = threading.Lock()
    halt = threading.Event()
    completed = [0] * WORKERS
    failures = [0] * WORKERS
    ctx.monitor.detect_stuck(STUCK_THRESHOLD_S)
    ctx.monitor.probe("tasks_completed", lambda: sum(completed))

    def worker(k: int) -> None:
        for item in range(items):
            fail = k == 0 and item == 1
            try:
                if variant == "bad":
                    _acquire_unless(lock, halt)
                    _work(halt, fail)
                    lock.release()
                else:
                    with _holding(lock, halt):
                        _work(halt, fail)
                completed[k] += 1
            except TaskFailed:
                failures[k] += 1
            except Halted:
                return

    start = time.monotonic()
    deadline = start + STUCK_THRESHOLD_S + 0.01 * items * WORKERS + 3.0
    detected_after = 0.0
    stuck_names: list[str] = []
    threads = start_threads(WORKERS, worker, PREFIX)
    while any(t.is_alive() for t in threads):
        stuck = [s for s in ctx.monitor.stuck if s.name.startswith(PREFIX)]
        if stuck and not stuck_names:
            detected_after = time.monotonic() - start
            stuck_names = sorted(s.name for s in stuck)
            ctx.notes.append(
                f"stuck: {', '.join(stuck_names)}; first stack:\n{stuck[0].stack.text()}"
            )
            halt.set()
        if ctx.stop.wait(0.02) or time.monotonic() > deadline:
            halt.set()
    for thread in threads:
        thread.join(timeout=2)
    return {
        "stuck_threads": float(len(stuck_names)),
        "tasks_completed": float(sum(completed)),
        "tasks_failed": float(sum(failures)),
        "detected_after_s": detected_after,
        "threads_left": float(sum(t.is_alive() for t in threads)),
    }


EXPERIMENT = Experiment(
    name="lock-without-finally",
    summary="lock.acquire()/release() with an exception in between vs `with lock`",
    claim=(
        "If code between acquire() and release() raises, the lock is never released and "
        "every other thread waiting for it hangs; `with lock:` (or try/finally) releases it "
        "and the others carry on."
    ),
    bad="acquire(); work that raises once; release() (skipped by the exception)",
    fixed="the same work inside a `with` block that releases in `finally`",
    measures=(
        MeasureSpec("stuck_threads", "threads", "threads flagged stuck", key=True),
        MeasureSpec("tasks_completed", "tasks", "tasks completed", better="higher", key=True),
        MeasureSpec("tasks_failed", "tasks", "tasks that raised"),
        MeasureSpec("detected_after_s", "s", "time until the detector flagged them"),
        MeasureSpec("threads_left", "threads", "threads still alive after the run"),
    ),
    body=_body,
)
