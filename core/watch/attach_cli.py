"""``threadscope attach PID [--interval MS]``: the live table for a process started without
the agent, from py-spy (non-blocking reads, at most ``MAX_RATE_HZ``) and /proc. Ends when the
process does; Ctrl-C detaches and leaves the process running. The observability options
(``core.observe``) work as for ``run``; the watch is saved to History when it ends."""

from __future__ import annotations

import argparse
import sys
import threading

import psutil

from core.observe.options import add_observability_arguments

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
    add_observability_arguments(parser, trace_memory=False)


def main(args: argparse.Namespace) -> int:
    from core.observe.metrics import MetricsError
    from core.observe.options import Observability
    from core.observe.watched import WatchedProgram
    from core.watch import pyspy
    from core.watch.errors import WatchError
    from core.watch.table import LiveTable

    interval_s = max(args.interval / 1000, 1 / MAX_RATE_HZ)
    table = LiveTable()
    pause = threading.Event()
    observe = Observability.from_args(args, notify=table.note, watched=True)
    try:
        sample = pyspy.sample(args.pid, nonblocking=True)
        program = WatchedProgram(args.pid)
        observe.start()
    except (WatchError, MetricsError, psutil.Error) as exc:
        print(f"threadscope attach: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    ended = f"detached from pid {args.pid}"
    try:
        observe.watch_program(program)
        while True:
            program.offer(sample)
            table.show(sample)
            pause.wait(interval_s)
            try:
                sample = pyspy.sample(args.pid, nonblocking=True)
            except WatchError as exc:
                ended = str(exc)
                break
    except KeyboardInterrupt:
        pass
    finally:
        observe.close()
    table.note(f"threadscope attach: {ended}")
    title = f"attach {args.pid}: {' '.join(program.command)} · {ended}"
    settings = {"pid": args.pid, "command": program.command, "interval_ms": args.interval}
    if saved := observe.save_program(program, title, settings, ended):
        print(f"saved to history as {saved.id}", flush=True)
    return 0
