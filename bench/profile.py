"""Where the engine's CPU goes: a py-spy ``--gil`` profile of one crawl, folded into tables.

``--gil`` samples only the thread holding the GIL, so the samples are Python-level CPU work
(time in C code that releases the GIL, such as socket reads, is not in them). Only stacks of
threads the crawl started are kept: the main thread's imports and start-up are left out.
"""

from __future__ import annotations

import shutil
import sys
from collections import Counter
from pathlib import Path

RATE_HZ = 500


def py_spy() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


def record_prefix(binary: str, output: Path) -> list[str]:
    rate = str(RATE_HZ)
    return [
        binary,
        "record",
        "--gil",
        "--nonblocking",
        "-r",
        rate,
        "-f",
        "raw",
        "-o",
        str(output),
        "--",
    ]


def _function(frame: str) -> str:
    """``name (path/to/module.py:123)`` -> ``name (module.py)``, shortened to the package."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "/lib/python3", "/work/main/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    if path.startswith(".") and "/" in path:  # "/lib/python3.11/x.py" leaves ".11/x.py"
        path = path.split("/", 1)[1]
    return f"{name} ({path})"


def _package(function: str) -> str:
    path = function.rsplit("(", 1)[-1].rstrip(")")
    top = path.split("/", 1)[0]
    if top.endswith(".py"):
        top = top[:-3]  # stdlib module
    return top


def fold(raw: Path, top: int = 15) -> dict:
    """Self and inclusive sample shares per function, and self share per package."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        raw_frames = stack.split(";")
        if not any("_bootstrap_inner (" in f for f in raw_frames):
            continue  # the main thread: imports and start-up, not the crawl
        frames = [_function(f) for f in raw_frames if f and "threading.py" not in f]
        if not frames:
            continue
        total += n
        own[frames[-1]] += n
        packages[_package(frames[-1])] += n
        for function in set(frames):
            inclusive[function] += n

    def share(counter: Counter[str], count: int = top) -> list[tuple[str, float]]:
        return [(name, n / total) for name, n in counter.most_common(count)] if total else []

    return {
        "samples": total,
        "self": share(own),
        "inclusive": share(inclusive, top + 5),
        "packages": share(packages),
    }
