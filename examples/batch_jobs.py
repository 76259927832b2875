"""A job runner: the main thread starts a short-lived worker thread for each job.

Every ``--every`` seconds for ``--duration`` seconds a ``job-N`` thread checksums a block of
data (``checksum``) and ends. Threads that come and go: what the Timeline shows as short lanes
and what ``threadscope run``'s profile covers (threads started while it runs).
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
import zlib


def announce() -> None:
    me = threading.current_thread()
    sys.stdout.write(f"thread {me.name} native_id {threading.get_native_id()}\n")
    sys.stdout.flush()


def checksum(block: bytes, rounds: int) -> int:
    total = 0
    for _ in range(rounds):
        total = zlib.crc32(block, total)
    return total


def job() -> None:
    checksum(bytes(range(256)) * 64, 200)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--every", type=float, default=0.05)
    args = parser.parse_args()
    announce()
    started = time.monotonic()
    number = 0
    while time.monotonic() - started < args.duration:
        number += 1
        worker = threading.Thread(target=job, name=f"job-{number}")
        worker.start()
        worker.join()
        time.sleep(args.every)
    print(f"ran {number} jobs", flush=True)


if __name__ == "__main__":
    main()
