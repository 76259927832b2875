"""What both ends agree on: where the sockets live, the framing, the message types.

One JSON object per line, UTF-8. The agent sends ``hello`` on connect, then a ``sample`` every
interval; a client may send requests, each answered by one message of the same ``type`` (or
``{"type": "error", "request": TYPE, "message": ...}``), with the request's ``id`` if it had one:

- ``dump`` -> a full sample now;
- ``trace_start`` / ``trace_stop`` / ``traced`` -> ``{"tracing", "current", "peak"}``
  (tracemalloc in the program; ``stop_pending`` where stopping is unsafe, see ``memory``);
- ``memory_top`` ``{"limit": N}`` -> a new snapshot's number and top sites ``{"snapshot": n,
  "rows": [{"location", "size", "count"}]}``; ``memory_diff`` -> a new snapshot against this
  connection's previous one, or with ``{"old": n, "new": m}`` two it kept (the agent keeps the
  last two per connection); rows have ``size_diff`` and ``count_diff`` too;
- ``locks`` -> ``{"tracking": bool, "locks": [...], "left_off": N}``, ``locks.snapshot()``;
- ``lock_waits`` -> ``{"tracking": bool, "bounds": [...], "kinds": {...}}``, the waits for
  tracked locks since the program started (``locks.wait_histogram()``);
- ``profile_start`` -> ``{"covers", "hz"}``: every thread sampled until ``profile_stop``
  ``{"limit": N}`` -> ``{"hz", "seconds", "ticks", "late_ticks", "capped", "error",
  "cpu_measured", "sampler_cpu_s", "samples", "cpu_s", "functions", "rows": [{"file", "line",
  "function", "self_cpu_s", "total_cpu_s", "self_samples", "total_samples"}], "threads":
  [{"name", "native_id", "samples", "cpu_s", "rows"}], "threads_left_off"}``, rows by self CPU
  (see ``sampling_profile``).
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from typing import Any

AGENT_VERSION = "1"
AGENT_THREAD_NAME = "threadscope-agent"
DEFAULT_INTERVAL_MS = 100
MAX_LINE_BYTES = 16 * 1024 * 1024  # a sample of thousands of deep stacks still fits


class UnsafeDirectory(Exception):
    """The socket directory exists but another user could reach into it."""


def runtime_dir() -> str:
    """The per-user directory holding one ``<pid>.sock`` per watched program (mode 0700).

    ``$XDG_RUNTIME_DIR/threadscope`` when that is set, else ``<tmp>/threadscope-<uid>``.
    A directory that is not ours or is open to others is refused, not used.
    """
    base = os.environ.get("XDG_RUNTIME_DIR") or ""
    if base and os.path.isdir(base):
        path = os.path.join(base, "threadscope")
    else:
        path = os.path.join(tempfile.gettempdir(), f"threadscope-{os.getuid()}")
    return path


def ensure_private_dir(path: str) -> str:
    with contextlib.suppress(FileExistsError):
        os.mkdir(path, 0o700)
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise UnsafeDirectory(f"{path} is not a directory owned by uid {os.getuid()}")
    if info.st_mode & 0o077:
        raise UnsafeDirectory(f"{path} is open to other users (mode {info.st_mode & 0o777:o})")
    return path


def socket_path(pid: int, directory: str | None = None) -> str:
    return os.path.join(directory or runtime_dir(), f"{pid}.sock")


def encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


def decode(line: bytes) -> dict[str, Any]:
    value = json.loads(line)
    if not isinstance(value, dict):
        raise ValueError("a message must be a JSON object")
    return value
