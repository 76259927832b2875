"""CPU-bound threads under the GIL: N threads do no more work per second than one.

``--threads`` crunchers count in pure Python for ``--duration`` seconds while a ``sleeper``
thread sleeps; each cruncher prints how far it got. With a GIL the total stays about flat as
``--threads`` grows (a watcher sees one cruncher "running", the others "waiting for GIL").
"""

from __future__ import annotations

import argparse
import sys
import threading
import time


def announce() -> None:
    me = threading.current_thread()
    # One write per line: print() writes the text and the newline separately.
    sys.stdout.write(f"thread {me.name} native_id {threading.get_native_id()}\n")
    sys.stdout.flush()


def crunch(until: float, counts: dict[str, int]) -> None:
    announce()
    n = 0
    while time.monotonic() < until:
        for _ in range(10_000):
            n += 1
    counts[threading.current_thread().name] = n


def sleep_until(until: float) -> None:
    announce()
    while time.monotonic() < until:
        time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--duration", type=float, default=5.0)
    args = parser.parse_args()
    announce()
    until = time.monotonic() + args.duration
    counts: dict[str, int] = {}
    threads = [
        threading.Thread(target=crunch, args=(until, counts), name=f"cruncher-{i + 1}")
        for i in range(args.threads)
    ]
    threads.append(threading.Thread(target=sleep_until, args=(until,), name="sleeper"))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    total = sum(counts.values())
    print(f"{args.threads} threads counted to {total:,} in all ({total / args.duration:,.0f}/s)")


if __name__ == "__main__":
    main()
