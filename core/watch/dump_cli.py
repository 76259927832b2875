"""``threadscope dump PID [--json]``: one snapshot of every thread, like Java's jstack.

Through the agent's socket when ``threadscope run`` started the process (found by PID in the
per-user runtime directory), otherwise through py-spy and /proc.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.watch.model import Sample

EXIT_USAGE = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pid", type=int, help="the process id")
    parser.add_argument("--json", action="store_true", help="one JSON object instead of text")


def main(args: argparse.Namespace) -> int:
    from core.watch.dumptext import format_dump
    from core.watch.errors import WatchError

    try:
        sample = take_dump(args.pid)
    except WatchError as exc:
        print(f"threadscope dump: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    text = json.dumps(sample.dump_object(), indent=2) if args.json else format_dump(sample)
    try:
        print(text, flush=True)
    except BrokenPipeError:  # `threadscope dump PID | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def take_dump(pid: int) -> Sample:
    from core.agent import protocol
    from core.watch import pyspy
    from core.watch.client import AgentClient
    from core.watch.errors import WatchError

    if pid <= 0:
        raise WatchError(f"not a process id: {pid}")
    path = protocol.socket_path(pid)
    if os.path.exists(path):
        try:
            client = AgentClient(path).connect()
        except WatchError:
            pass  # a stale socket of a crashed program: try from outside
        else:
            try:
                return client.request_dump()
            finally:
                client.close()
    return pyspy.sample(pid)
