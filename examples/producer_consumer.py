"""A producer/consumer service: one producer, a few consumers, a writer and two queues.

The producer is slower than the consumers, so they spend most of their time in ``queue.get``
(a watcher shows them "waiting on queue"). Each consumer puts its result on ``results``,
which a ``writer`` thread empties in one batch twice a second, so that queue's depth rises
and falls. Both queues are registered (``items``, ``results``) so the window charts them.
Stops after ``--duration`` seconds.
"""

from __future__ import annotations

import argparse
import queue
import sys
import threading
import time

from threadscope_agent import watch_queue  # a no-op stub next to this file; real under `run`

STOP = None
WRITE_EVERY_S = 0.5


def announce() -> None:
    me = threading.current_thread()
    # One write per line: print() writes the text and the newline separately.
    sys.stdout.write(f"thread {me.name} native_id {threading.get_native_id()}\n")
    sys.stdout.flush()


def produce(items: queue.Queue[int | None], until: float, consumers: int) -> None:
    announce()
    n = 0
    while time.monotonic() < until:
        items.put(n)
        n += 1
        time.sleep(0.05)
    for _ in range(consumers):
        items.put(STOP)


def consume(items: queue.Queue[int | None], results: queue.Queue[int]) -> None:
    announce()
    while (item := items.get()) is not STOP:
        results.put(item * item)


def write(results: queue.Queue[int], finished: threading.Event, done: list[int]) -> None:
    """Empty ``results`` in one batch every ``WRITE_EVERY_S``, like a buffered writer."""
    announce()
    while True:
        last = finished.wait(WRITE_EVERY_S)
        while True:
            try:
                done.append(results.get_nowait())
            except queue.Empty:
                break
        if last:
            return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--consumers", type=int, default=3)
    args = parser.parse_args()
    announce()
    items: queue.Queue[int | None] = queue.Queue(maxsize=100)
    results: queue.Queue[int] = queue.Queue()
    watch_queue("items", items)
    watch_queue("results", results)
    done: list[int] = []
    finished = threading.Event()
    until = time.monotonic() + args.duration
    threads = [
        threading.Thread(target=consume, args=(items, results), name=f"consumer-{i + 1}")
        for i in range(args.consumers)
    ]
    threads.append(
        threading.Thread(target=produce, args=(items, until, args.consumers), name="producer")
    )
    writer = threading.Thread(target=write, args=(results, finished, done), name="writer")
    writer.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    finished.set()
    writer.join()
    print(f"consumed {len(done)} items", flush=True)


if __name__ == "__main__":
    main()
