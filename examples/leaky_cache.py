"""A program that leaks: a cache thread keeps every response it makes and never evicts one.

``cache-filler`` appends a fresh ``--chunk-kib`` buffer to ``CACHE`` at ``--rate-mib`` MiB/s
for ``--duration`` seconds, then the program exits with status 0. Watch it with
``threadscope run --trace-memory``: the growth warning names the line that keeps them.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time

CACHE: list[bytes] = []


def announce() -> None:
    me = threading.current_thread()
    sys.stdout.write(f"thread {me.name} native_id {threading.get_native_id()}\n")
    sys.stdout.flush()


def fill(chunk: int, rate_bytes: float, duration: float) -> None:
    announce()
    started = time.monotonic()
    while (elapsed := time.monotonic() - started) < duration:
        CACHE.append(bytes(chunk))  # the leak: kept forever
        ahead = len(CACHE) * chunk / rate_bytes - elapsed
        if ahead > 0:
            time.sleep(ahead)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--rate-mib", type=float, default=40.0)
    parser.add_argument("--chunk-kib", type=int, default=256)
    args = parser.parse_args()
    announce()
    filler = threading.Thread(
        target=fill,
        args=(args.chunk_kib * 1024, args.rate_mib * 1_048_576, args.duration),
        name="cache-filler",
    )
    filler.start()
    filler.join()
    print(f"cached {len(CACHE)} responses", flush=True)


if __name__ == "__main__":
    main()
