"""Experiment 2: an unsynchronised read-modify-write loses updates; a lock does not.

On CPython 3.11 a bare ``counter += 1`` in a loop almost never loses an update: the
interpreter only switches threads at loop back-edges and function entries, never between the
load and the store of ``+=``. Real code is rarely that tight: it reads a value, calls something,
then writes. That shape is what the experiment runs (with the switch interval lowered so the
effect shows in a second), and it also reports the bare ``+=`` so both results are visible.
"""

from __future__ import annotations

import sys
import threading

from core.experiments.base import Context, Experiment, MeasureSpec, Variant, join_all, start_threads

THREADS = 4
plain_counter = 0  # the textbook global counter


class _Box:
    value = 0


def _validate(value: int) -> int:
    """The 'tiny bit of work' between read and write; entering it is a thread-switch point."""
    return value


def _body(variant: Variant, ctx: Context) -> dict[str, float]:
    global plain_counter
    per_thread = ctx.scaled(300_000, minimum=1_000)
    box = _Box()
    plain_counter = 0
    done = [0] * THREADS
    lock = threading.Lock()
    locked = variant == "fixed"
    ctx.monitor.probe("lost_so_far", lambda: sum(done) - box.value)

    def worker(k: int) -> None:
        global plain_counter
        for i in range(per_thread):
            if i % 1_000 == 0 and ctx.stop.is_set():
                return
            if locked:
                with lock:
                    value = box.value
                    box.value = _validate(value) + 1
                with lock:
                    plain_counter += 1
            else:
                value = box.value
                box.value = _validate(value) + 1
                plain_counter += 1
            done[k] += 1

    old_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # switch threads often so a second shows what a day would
    try:
        threads = start_threads(THREADS, worker, "exp-race")
        join_all(threads, timeout=30)
    finally:
        sys.setswitchinterval(old_interval)
    expected = sum(done)
    lost = expected - box.value
    return {
        "lost_updates": float(lost),
        "lost_percent": 100.0 * lost / expected if expected else 0.0,
        "plain_lost_updates": float(expected - plain_counter),
        "increments": float(expected),
    }


EXPERIMENT = Experiment(
    name="counter-race",
    summary="read-modify-write of a shared counter from 4 threads vs under a lock",
    claim=(
        "When several threads read a shared counter, do a little work and write it back, "
        "some increments are overwritten and lost; holding a lock across the read and the "
        "write loses none."
    ),
    bad="4 threads read, call a helper, write back, with no lock (also a bare `+= 1`)",
    fixed="the same steps inside `with lock:`",
    measures=(
        MeasureSpec("lost_updates", "updates", "increments lost (read/call/write)", key=True),
        MeasureSpec("lost_percent", "%", "share of increments lost"),
        MeasureSpec("plain_lost_updates", "updates", "increments lost by a bare `+= 1`"),
        MeasureSpec("increments", "updates", "increments attempted", better="higher"),
    ),
    body=_body,
)
