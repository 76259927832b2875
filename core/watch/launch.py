"""``threadscope run``'s launcher: check the command, start it with the agent, find its socket.

The target gets a private temp directory (0700) holding only ``__main__.py`` (two lines that
call ``threadscope_agent.bootstrap.main``) and a ``threadscope_agent`` link to ``core/agent``;
the interpreter runs that directory, so nothing else of Threadscope is on the target's path and
nothing leaks into the programs it starts (no PYTHONPATH). Interpreter options before the
script (``-u``, ``-X dev``, ``-W error``…) are kept in front of it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import core.agent
from core.agent import protocol
from core.watch.errors import WatchError

_BOOT = "import threadscope_agent.bootstrap\nthreadscope_agent.bootstrap.main()\n"
_OPTIONS_WITH_VALUE = ("-W", "-X", "-Q")
MIN_PYTHON = (3, 10)


@dataclass(frozen=True, slots=True)
class Command:
    interpreter: str  # resolved path
    options: tuple[str, ...]  # interpreter options before the target
    target: tuple[str, ...]  # ("app.py", ARGS…) or ("-m", "pkg", ARGS…)


def parse_command(argv: list[str], cwd: str | None = None) -> Command:
    """``python [options] (SCRIPT | -m MODULE) ARGS`` checked for what we can check up front
    (a relative script from ``cwd``, the working directory the program will start in)."""
    if not argv:
        raise WatchError("no program given: threadscope run -- python app.py ARGS")
    found = shutil.which(argv[0])
    if found is None:
        raise WatchError(f"interpreter not found: {argv[0]}")
    options: list[str] = []
    rest = argv[1:]
    while rest and rest[0].startswith("-") and rest[0] != "-m":
        option = rest.pop(0)
        if option in ("-c", "-"):
            raise WatchError(f"'{option}' is not supported by run: put the code in a file")
        options.append(option)
        if option in _OPTIONS_WITH_VALUE and rest:
            options.append(rest.pop(0))
    if not rest:
        raise WatchError(f"no script or -m MODULE after {argv[0]}")
    if rest[0] == "-m":
        if len(rest) < 2:
            raise WatchError("-m needs a module name")
    elif not os.path.exists(os.path.join(cwd or "", rest[0])):
        raise WatchError(f"script not found: {rest[0]}")
    _check_python(found)
    return Command(found, tuple(options), tuple(rest))


def _check_python(interpreter: str) -> None:
    try:
        probe = subprocess.run(
            [interpreter, "-c", "import sys; print(*sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=20,
        )
        major, minor = (int(part) for part in probe.stdout.split())
    except (OSError, ValueError, subprocess.SubprocessError):
        raise WatchError(f"{interpreter} is not a Python interpreter") from None
    if (major, minor) < MIN_PYTHON:
        raise WatchError(f"{interpreter} is Python {major}.{minor}; run needs 3.10 or newer")


class Launched:
    """The running program: ``process``, its agent socket ``path``; ``cleanup()`` after exit."""

    def __init__(
        self,
        command: Command,
        interval_ms: int,
        cwd: str | None = None,
        env: Mapping[str, str] | None = None,
        stdout: IO[Any] | int | None = None,
        trace_memory: bool = False,
        stderr: IO[Any] | int | None = None,
    ) -> None:
        """``env``: variables set on top of ours; ``stdout`` / ``stderr``: as ``Popen``
        takes them (default: ours); ``trace_memory``: tracemalloc on from the program's
        first line."""
        self.socket_dir = protocol.ensure_private_dir(protocol.runtime_dir())
        self.boot_dir = tempfile.mkdtemp(prefix="threadscope-run-")
        os.symlink(
            Path(core.agent.__file__).parent, os.path.join(self.boot_dir, "threadscope_agent")
        )
        Path(self.boot_dir, "__main__.py").write_text(_BOOT)
        argv = [
            command.interpreter,
            *command.options,
            self.boot_dir,
            "--interval-ms",
            str(interval_ms),
            "--socket-dir",
            self.socket_dir,
            *(["--trace-memory"] if trace_memory else []),
            *command.target,
        ]
        try:
            self.process = subprocess.Popen(
                argv,
                cwd=cwd,
                env={**os.environ, **env} if env else None,
                stdout=stdout,
                stderr=stderr,
            )
        except OSError as exc:
            self.cleanup()
            raise WatchError(f"cannot start {command.interpreter}: {exc}") from None
        self.path = protocol.socket_path(self.process.pid, self.socket_dir)

    def wait_for_agent(self, timeout: float = 15.0) -> bool:
        """True once the agent's socket exists; False if the program ended first or it timed
        out (the program runs on regardless)."""
        deadline = time.monotonic() + timeout
        pause = threading.Event()
        while not os.path.exists(self.path):
            if self.process.poll() is not None or time.monotonic() > deadline:
                return False
            pause.wait(0.01)
        return True

    def cleanup(self) -> None:
        shutil.rmtree(self.boot_dir, ignore_errors=True)
        if getattr(self, "process", None) is not None and self.process.poll() is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.path)


def exit_status(returncode: int) -> int:
    """The shell's convention: a program killed by signal N exits 128 + N."""
    return 128 - returncode if returncode < 0 else returncode
