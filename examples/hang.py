"""A program that hangs: two threads take two locks in opposite orders (a lock-order deadlock).

``worker-a`` holds ``accounts`` and wants ``audit``; ``worker-b`` holds ``audit`` and wants
``accounts``. Neither moves. So that tests end, each waits at most ``--duration`` seconds
(``acquire(timeout=...)``), then gives up and the program exits with status 1.
"""

from __future__ import annotations

import argparse
import sys
import threading

accounts = threading.Lock()
audit = threading.Lock()


def announce() -> None:
    me = threading.current_thread()
    # One write per line: print() writes the text and the newline separately.
    sys.stdout.write(f"thread {me.name} native_id {threading.get_native_id()}\n")
    sys.stdout.flush()


def transfer(
    first: threading.Lock,
    second: threading.Lock,
    both_hold: threading.Barrier,
    patience: float,
    gave_up: list[str],
) -> None:
    announce()
    with first:
        both_hold.wait()  # make sure each holds its first lock: the deadlock always forms
        if second.acquire(timeout=patience):
            second.release()
        else:
            gave_up.append(threading.current_thread().name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=60.0)
    args = parser.parse_args()
    announce()
    both_hold = threading.Barrier(2)
    gave_up: list[str] = []
    threads = [
        threading.Thread(
            target=transfer,
            args=(accounts, audit, both_hold, args.duration, gave_up),
            name="worker-a",
        ),
        threading.Thread(
            target=transfer,
            args=(audit, accounts, both_hold, args.duration, gave_up),
            name="worker-b",
        ),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if gave_up:
        print(f"deadlock: {', '.join(sorted(gave_up))} gave up waiting", flush=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
