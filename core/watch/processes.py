"""The user's Python processes, for the window's process picker (psutil, no Qt).

A process counts as Python when its executable's or its first argument's name starts with
``python`` (``python3.11``, ``pythonw``) or is ``pypy*``. Only the current user's processes are
listed (the others could not be traced anyway), and never Threadscope's own process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import psutil

_NAMES = ("python", "pypy")


@dataclass(frozen=True, slots=True)
class PythonProcess:
    pid: int
    command: str
    threads: int
    rss_mib: float


def _is_python(name: str) -> bool:
    return os.path.basename(name).lower().startswith(_NAMES)


def python_processes() -> list[PythonProcess]:
    """Newest first (highest pid), gone or unreadable processes skipped."""
    me = os.getpid()
    uid = os.getuid()
    found = []
    attrs = ["pid", "name", "exe", "cmdline", "uids", "num_threads", "memory_info"]
    for process in psutil.process_iter(attrs):
        info = process.info
        if info["pid"] == me or info["uids"] is None or info["uids"].real != uid:
            continue
        cmdline = info["cmdline"] or []
        names = [info["name"] or "", info["exe"] or "", cmdline[0] if cmdline else ""]
        if not any(_is_python(n) for n in names):
            continue
        memory = info["memory_info"]
        found.append(
            PythonProcess(
                pid=info["pid"],
                command=" ".join(cmdline) or info["name"] or "?",
                threads=info["num_threads"] or 0,
                rss_mib=memory.rss / 1_048_576 if memory is not None else 0.0,
            )
        )
    return sorted(found, key=lambda p: -p.pid)
