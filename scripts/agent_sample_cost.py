"""What one agent sample costs, in this process: ``take_sample`` plus its JSON line.

A fixed program shape, every thread parked so each sample sees the same thing: ``--threads``
threads 20 frames deep (waiting on an Event, in ``queue.get`` of a registered queue, in
``time.sleep``, or waiting for a tracked lock this thread holds), a few more tracked locks, and
dead locks folded into per-site totals. Prints the thread CPU time (``time.thread_time``, kernel
time of the /proc reads included) per sample of the whole and of its parts, the medians of
``--rounds`` rounds of ``--samples`` samples each. For instruction counts (deterministic, user
space only), run it under callgrind twice and subtract::

    PYTHONHASHSEED=0 valgrind --tool=callgrind --callgrind-out-file=/tmp/cg0 \\
        python scripts/agent_sample_cost.py --count-only --samples 0
    ... --callgrind-out-file=/tmp/cg200 ... --count-only --samples 200
    (total of cg200 - total of cg0) / 200 = instructions per sample

``PYTHONPATH=. python3 scripts/agent_sample_cost.py [--threads 10] [--samples 1000]``
"""

from __future__ import annotations

import argparse
import os
import queue
import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

from core.agent import locks, procstat, protocol, queues, sampling
from core.agent.frames import current_stacks

DEPTH = 20
_KEEP: list[Any] = []  # the idle locks stay alive


def _deep(depth: int, park: Callable[[], object]) -> None:
    if depth:
        _deep(depth - 1, park)
    else:
        park()


def build(threads: int, stop: threading.Event) -> list[threading.Thread]:
    """The program: parked threads, a held lock two of them wait for, a registered queue."""
    held = threading.Lock()
    held.acquire()
    jobs: queue.Queue[int] = queue.Queue()
    queues.watch_queue("jobs", jobs)
    extra = [threading.RLock() for _ in range(5)]  # alive, idle
    for _ in range(50):  # short-lived locks: per-site totals of dead locks
        with threading.Lock():
            pass

    def locked() -> None:
        held.acquire()
        held.release()

    parks: list[Callable[[], object]] = [
        stop.wait,
        lambda: jobs.get(),
        lambda: time.sleep(3600),
        locked,
    ]
    started = [
        threading.Thread(
            target=_deep, args=(DEPTH, parks[i % len(parks)]), name=f"worker-{i}", daemon=True
        )
        for i in range(threads)
    ]
    for thread in started:
        thread.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # every thread parked at the bottom of its stack
        stacks = current_stacks()
        if all(len(stacks.get(t.ident or 0, ())) > DEPTH for t in started):
            break
        time.sleep(0.01)
    _KEEP.extend(extra)
    return started


def one_sample() -> bytes:
    """What the agent does per interval (``Agent._broadcast``, one client)."""
    encode = getattr(sampling, "encode", protocol.encode)  # before: protocol.encode
    return encode({"type": "sample", "dropped": 0, **sampling.take_sample(locks)})


def parts() -> dict[str, Callable[[], object]]:
    """The sample's parts, each alone (their sum is near, not exactly, the whole)."""
    pid = os.getpid()
    threads = [(t.ident, t.native_id) for t in threading.enumerate() if t.native_id is not None]

    def states_and_cpu() -> list[object]:
        clocks = [procstat.thread_cpu_ns(procstat.thread_cpu_clock(n)) for _, n in threads]
        now = time.monotonic()
        return [
            sampling._task(pid, i or 0, n, c, now, True)
            for (i, n), c in zip(threads, clocks, strict=True)
        ]

    encode = getattr(sampling, "encode", protocol.encode)
    sample = sampling.take_sample(locks)
    return {
        "whole (take_sample + encode)": one_sample,
        "take_sample": lambda: sampling.take_sample(locks),
        "locks.snapshot()": locks.snapshot,
        "locks.snapshot(per_site=False)": lambda: locks.snapshot(per_site=False),
        "locks in use (a sample's)": lambda: locks.snapshot(per_site=False, in_use_only=True),
        "current_stacks": current_stacks,
        "/proc task stats": lambda: [procstat.task_stat(pid, n) for _, n in threads],
        "threads' states and CPU": states_and_cpu,
        "rss": lambda: procstat.rss_bytes(pid),
        "encode": lambda: encode({"type": "sample", **sample}),
    }


def per_sample_us(fn: Callable[[], object], samples: int) -> float:
    start = time.thread_time()
    for _ in range(samples):
        fn()
    return (time.thread_time() - start) / samples * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=10)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--count-only", action="store_true", help="only take the samples")
    args = parser.parse_args()
    locks.install()
    stop = threading.Event()
    build(args.threads, stop)
    if args.count_only:
        for _ in range(args.samples):
            one_sample()
        return
    line = one_sample()
    print(f"{args.threads} threads {DEPTH} frames deep, one sample line {len(line)} bytes")
    for name, fn in parts().items():
        rounds = [per_sample_us(fn, args.samples) for _ in range(args.rounds)]
        low, high = min(rounds), max(rounds)
        print(f"{name:30s} {statistics.median(rounds):8.1f} µs  [{low:.1f}–{high:.1f}]")


if __name__ == "__main__":
    main()
