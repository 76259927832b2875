"""``threadscope attach PID [--interval MS]``: the live table for a process started without
the agent, from py-spy (non-blocking reads, at most ``MAX_RATE_HZ``) and /proc. Ends when the
process does; Ctrl-C detaches and leaves the process running."""

from __future__ import annotations

import argparse
import sys
import threading

EXIT_USAGE = 2
MAX_RATE_HZ = 2.0  # each read is one py-spy run: ~20 ms of CPU


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pid", type=int, help="the process id")
    parser.add_argument(
        "--interval",
        type=int,
        default=500,
        metavar="MS",
        help=f"sampling interval in ms (default %(default)s; at least {1000 / MAX_RATE_HZ:.0f})",
    )


def main(args: argparse.Namespace) -> int:
    from core.watch import pyspy
    from core.watch.errors import WatchError
    from core.watch.table import LiveTable

    interval_s = max(args.interval / 1000, 1 / MAX_RATE_HZ)
    table = LiveTable()
    pause = threading.Event()
    try:
        sample = pyspy.sample(args.pid, nonblocking=True)
    except WatchError as exc:
        print(f"threadscope attach: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        while True:
            table.show(sample)
            pause.wait(interval_s)
            try:
                sample = pyspy.sample(args.pid, nonblocking=True)
            except WatchError as exc:
                table.note(f"threadscope attach: {exc}")
                return 0
    except KeyboardInterrupt:
        table.note(f"threadscope attach: detached from pid {args.pid}")
        return 0
