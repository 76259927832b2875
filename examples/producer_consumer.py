"""A producer/consumer service: one producer, a few consumers, a bounded ``queue.Queue``.

The producer puts a burst of items twice a second; the consumers (30 ms of work an item)
clear it in well under that, so they spend most of their time in ``queue.get`` (a watcher
shows them "waiting on queue"). The queue is registered as ``items`` so the window
charts its depth. Stops after ``--duration`` seconds.
"""

from __future__ import annotations

import argparse
import queue
import sys
import threading
import time

from threadscope_agent import watch_queue  # a no-op stub next to this file; real under `run`

STOP = None


def announce() -> None:
    me = threading.current_thread()
    # One write per line: print() writes the text and the newline separately.
    sys.stdout.write(f"thread {me.name} native_id {threading.get_native_id()}\n")
    sys.stdout.flush()


def produce(items: queue.Queue[int | None], until: float, consumers: int, burst: int) -> None:
    announce()
    n = 0
    while time.monotonic() < until:
        for _ in range(burst):
            items.put(n)
            n += 1
        time.sleep(0.5)
    for _ in range(consumers):
        items.put(STOP)


def consume(items: queue.Queue[int | None], done: list[int]) -> None:
    announce()
    while (item := items.get()) is not STOP:
        time.sleep(0.03)  # the work an item takes
        done.append(item * item)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--consumers", type=int, default=3)
    parser.add_argument("--burst", type=int, default=20, help="items put at once")
    args = parser.parse_args()
    announce()
    items: queue.Queue[int | None] = queue.Queue(maxsize=100)
    watch_queue("items", items)
    done: list[int] = []
    until = time.monotonic() + args.duration
    threads = [
        threading.Thread(target=consume, args=(items, done), name=f"consumer-{i + 1}")
        for i in range(args.consumers)
    ]
    threads.append(
        threading.Thread(
            target=produce, args=(items, until, args.consumers, args.burst), name="producer"
        )
    )
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(f"consumed {len(done)} items", flush=True)


if __name__ == "__main__":
    main()
