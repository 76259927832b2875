"""A ``Sample`` of a process started without the agent: py-spy's stacks plus /proc.

py-spy (PyPI) reads the target's memory with ptrace; /proc gives every thread's OS state and
CPU time (threads without a Python frame too, named from ``comm``). ``dump`` pauses the target
for the moment of the read, so its stacks are consistent; the live ``attach`` passes
``nonblocking`` and never stops it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from typing import Any

from core.agent import classify, procstat
from core.watch import permissions
from core.watch.errors import WatchError
from core.watch.model import Sample, StackFrame, WatchedThread


def pyspy_path() -> str:
    found = shutil.which("py-spy") or shutil.which("py-spy", path=os.path.dirname(sys.executable))
    if found is None:
        raise WatchError("py-spy is not installed (pip install py-spy); or use threadscope run")
    return found


def _comm(pid: int, tid: int) -> str:
    try:
        with open(f"/proc/{pid}/task/{tid}/comm") as f:
            return f.read().strip()
    except OSError:
        return f"<thread {tid}>"


def _error(pid: int, stderr: str) -> WatchError:
    first = next((line for line in stderr.splitlines() if line.strip()), "no output")
    text = stderr.lower()
    if "python version" in text or "python interpreter" in text or "python binary" in text:
        return WatchError(f"pid {pid} is not a Python process (py-spy found no interpreter)")
    if "permission denied" in text or "operation not permitted" in text:
        return WatchError(f"py-spy may not trace pid {pid}: {first}; {permissions.INSTEAD}")
    if "no such file" in text or "not running" in text or "no such process" in text:
        return WatchError(f"no process with pid {pid} (it may have exited)")
    return WatchError(f"py-spy could not read pid {pid}: {first.removeprefix('Error: ')}")


def read_stacks(pid: int, nonblocking: bool = False) -> list[dict[str, Any]]:
    """``py-spy dump --pid N --json``: one entry per Python thread, frames innermost first."""
    pyspy = pyspy_path()
    permissions.check_target(pid, pyspy)
    command = [pyspy, "dump", "--pid", str(pid), "--json"]
    if nonblocking:
        command.append("--nonblocking")
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        raise WatchError(f"py-spy did not answer within 20 s for pid {pid}") from None
    if result.returncode != 0:
        raise _error(pid, result.stderr)
    try:
        threads = json.loads(result.stdout)
    except ValueError:
        raise WatchError(f"py-spy printed something that is not JSON for pid {pid}") from None
    return list(threads)


def sample(pid: int, nonblocking: bool = False) -> Sample:
    stacks = read_stacks(pid, nonblocking)
    taken = time.time()
    try:
        python = os.path.basename(os.readlink(f"/proc/{pid}/exe"))
    except OSError:
        python = "python"
    rows = []
    seen: set[int] = set()
    for entry in stacks:
        tid = entry.get("os_thread_id")
        frames = tuple(
            StackFrame(f["filename"], f.get("line") or 0, f["name"].rsplit(".", 1)[-1])
            for f in reversed(entry.get("frames", []))
        )
        rows.append(_thread(pid, tid, entry.get("thread_name"), entry.get("thread_id"), frames))
        if tid is not None:
            seen.add(tid)
    for tid in procstat.task_ids(pid):
        if tid not in seen:
            rows.append(_thread(pid, tid, _comm(pid, tid), None, ()))
    return Sample(
        pid=pid,
        python=python,
        agent=False,
        time=taken,
        threads=tuple(rows),
        rss_bytes=procstat.rss_bytes(pid),
    )


def _thread(
    pid: int, tid: int | None, name: str | None, ident: int | None, stack: tuple[StackFrame, ...]
) -> WatchedThread:
    task = procstat.task_stat(pid, tid) if tid is not None else None
    os_state = task.state if task else None
    plain = [(f.file, f.line, f.function) for f in stack]
    return WatchedThread(
        name=name or (f"<thread {tid}>" if tid else "<unknown>"),
        native_id=tid,
        ident=ident,
        daemon=None,
        state=classify.classify(plain, os_state),
        os_state=os_state,
        cpu_s=task.cpu_s if task else None,
        stack=stack,
    )
