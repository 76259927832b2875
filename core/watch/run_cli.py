"""``threadscope run [--headless] [--interval MS] -- python app.py ARGS…``

Starts the program with the agent, shows the live table until it ends, and exits with the
program's exit status (128 + N when a signal N killed it). Ctrl-C reaches the program (it is
in the terminal's process group); Threadscope itself ignores it and waits for the program.
The observability options (``core.observe``) bind the metrics port before the program starts
and save the run to History (kind "watch") when it ends; ``--trace-memory`` starts tracemalloc
in the program before its first line and warns on stderr when its traced memory keeps growing.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Callable

from core.agent.protocol import DEFAULT_INTERVAL_MS
from core.observe.options import add_observability_arguments

EXIT_USAGE = 2
# Opens the window on the program (command, run's options) -> exit status. The launcher
# above core and gui sets it (core never imports gui); unset, `run` shows the table.
open_window: Callable[[list[str], argparse.Namespace], int] | None = None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--headless", action="store_true", help="a live table in the terminal, no window"
    )
    parser.add_argument(
        "--interval",
        type=int,
        default=DEFAULT_INTERVAL_MS,
        metavar="MS",
        help="sampling interval in milliseconds (default %(default)s)",
    )
    parser.add_argument(
        "command", nargs=argparse.REMAINDER, help="-- INTERPRETER (SCRIPT | -m MODULE) ARGS…"
    )
    add_observability_arguments(parser)


def main(args: argparse.Namespace) -> int:
    from core.observe.metrics import MetricsError
    from core.observe.options import Observability
    from core.observe.watched import WatchedProgram
    from core.watch.client import AgentClient
    from core.watch.errors import WatchError
    from core.watch.launch import Launched, exit_status, parse_command
    from core.watch.table import LiveTable

    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if args.interval < 10:
        print("threadscope run: error: --interval must be at least 10 ms", file=sys.stderr)
        return EXIT_USAGE
    if not args.headless and open_window is not None:
        return open_window(command, args)
    table = LiveTable()
    observe = Observability.from_args(args, notify=table.note, watched=True)
    try:
        parsed = parse_command(command)
        observe.start()  # binds the metrics port before the program starts
        launched = Launched(parsed, args.interval, trace_memory=args.trace_memory)
    except (WatchError, MetricsError) as exc:
        observe.close()
        print(f"threadscope run: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    program = WatchedProgram(launched.process.pid)
    if not args.headless:
        table.note(
            "threadscope run: no window from `python -m core.cli` (the `threadscope` "
            "command opens one); showing the live table (--headless skips this line)"
        )
    client = None
    try:
        if launched.wait_for_agent():
            try:
                client = AgentClient(launched.path, program.offer).connect()
            except WatchError as exc:
                table.note(f"threadscope run: {exc}; the program runs on unwatched")
        observe.watch_program(program, client)
        refresh = max(args.interval / 1000, 0.5)
        while launched.process.poll() is None:
            with contextlib.suppress(subprocess.TimeoutExpired):  # time to redraw
                launched.process.wait(timeout=refresh)
            table.show(client.latest if client else None)
        returncode = launched.process.returncode
        how = f"killed by {signal.Signals(-returncode).name}" if returncode < 0 else "exit status"
        status = exit_status(returncode)
        ended = "the program ended"
        if client is not None:
            client.ended.wait(2.0)
            ended = client.end_reason
            if client.dropped:
                ended += f" ({client.dropped} samples dropped while the table was slow)"
        observe.close()
        title = f"{' '.join([os.path.basename(command[0]), *command[1:]])} · {how} {status}"
        if saved := observe.save_program(program, title, {"command": command}, f"{how} {status}"):
            table.note(f"threadscope run: saved to history as {saved.id}")
        table.note(f"threadscope run: {ended}; {how} {status}")
        return status
    finally:
        observe.close()
        if client is not None:
            client.close()
        launched.cleanup()
        signal.signal(signal.SIGINT, previous)
