"""The watched program's ``__main__``: start the agent, then run the program as Python would.

Why a bootstrap and not ``sitecustomize``: ``python -I``/``-S`` and virtualenvs skip or shadow
``sitecustomize``, chaining to the target's own one is guesswork, and ``PYTHONPATH`` would leak
the agent into every subprocess the program starts. Here the launcher runs
``INTERPRETER [its options] DIR --interval-ms N --socket-dir D [--trace-memory]
(SCRIPT | -m MODULE) ARGS`` (``--trace-memory``: tracemalloc starts before the program does),
where DIR holds only ``__main__.py`` and the ``threadscope_agent`` link; this module removes
DIR from ``sys.path`` and hands over with ``runpy``: ``sys.argv``, ``sys.path[0]`` and
``__main__`` end up as ``python SCRIPT ARGS`` / ``python -m MODULE ARGS`` set them.
"""

from __future__ import annotations

import os
import runpy
import sys
from types import ModuleType

from . import locks, memory, protocol
from .server import Agent

USAGE = (
    "usage: threadscope_agent --interval-ms N --socket-dir DIR [--trace-memory] "
    "(SCRIPT | -m MODULE) [ARGS]"
)


def _lock_tracker() -> ModuleType | None:
    """The lock tracker, turned on before the program's first line; None if it cannot be (the
    program then runs untracked rather than not at all)."""
    try:
        locks.install()
    except Exception as exc:
        print(f"threadscope: lock tracking is off: {exc}", file=sys.stderr)
        return None
    return locks


def _options(argv: list[str]) -> tuple[float, str, bool, list[str]]:
    interval_ms, socket_dir, trace = protocol.DEFAULT_INTERVAL_MS, protocol.runtime_dir(), False
    while argv and argv[0] in ("--interval-ms", "--socket-dir", "--trace-memory"):
        if argv[0] == "--trace-memory":
            trace, argv = True, argv[1:]
            continue
        if len(argv) < 2:
            break
        if argv[0] == "--interval-ms":
            interval_ms = int(argv[1])
        else:
            socket_dir = argv[1]
        argv = argv[2:]
    if not argv or (argv[0] == "-m" and len(argv) < 2):
        raise SystemExit(USAGE)
    return interval_ms / 1000, socket_dir, trace, argv


def main() -> None:
    interval_s, socket_dir, trace_memory, target = _options(sys.argv[1:])
    boot_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != boot_dir]
    tracker = _lock_tracker()
    try:
        directory = protocol.ensure_private_dir(socket_dir)
        Agent(protocol.socket_path(os.getpid(), directory), interval_s, tracker).start()
    except (OSError, protocol.UnsafeDirectory) as exc:
        print(f"threadscope: the agent did not start ({exc}); running the program", file=sys.stderr)
    if trace_memory:
        memory.start()
    # -P / -I (safe_path, isolated): Python puts neither the script's directory nor the
    # working directory first, so neither do we.
    safe_path = getattr(sys.flags, "safe_path", False) or sys.flags.isolated
    if target[0] == "-m":
        sys.argv = target[1:]
        if not safe_path:
            sys.path.insert(0, os.getcwd())
        runpy.run_module(target[1], run_name="__main__", alter_sys=True)
    else:
        sys.argv = target
        if not safe_path:
            sys.path.insert(0, os.path.dirname(os.path.realpath(target[0])))
        runpy.run_path(target[0], run_name="__main__")
