"""Whether we may look at a process from outside, and if not, exactly why and what works.

Checked before py-spy runs, so the common refusals get a precise one-line answer: a gone
PID, another user's process, Yama's ``ptrace_scope``, a missing ``CAP_SYS_PTRACE``.
"""

from __future__ import annotations

import os

import psutil

from core.watch.errors import WatchError

YAMA = "/proc/sys/kernel/yama/ptrace_scope"
CAP_SYS_PTRACE = 19
INSTEAD = "launch it with `threadscope run -- python …` instead"


def yama_scope() -> int | None:
    try:
        with open(YAMA) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def has_cap_sys_ptrace() -> bool:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("CapEff:"):
                    return bool(int(line.split()[1], 16) >> CAP_SYS_PTRACE & 1)
    except (OSError, ValueError):
        pass
    return os.geteuid() == 0


def explain_denied(
    pid: int, target_uid: int, my_uid: int, scope: int | None, cap: bool, pyspy: str
) -> str | None:
    """The reason ptrace of ``pid`` is refused, with what works instead; None if it is not."""
    if cap:
        return None
    if target_uid != my_uid:
        return (
            f"pid {pid} belongs to another user (uid {target_uid}, you are uid {my_uid}): "
            f"run as that user, or {INSTEAD}"
        )
    setcap = f"or let py-spy trace: sudo setcap cap_sys_ptrace=eip {pyspy}"
    if scope == 1:
        return (
            f"ptrace is restricted to parent processes ({YAMA} is 1) and you lack "
            f"CAP_SYS_PTRACE: {INSTEAD}, {setcap}"
        )
    if scope == 2:
        return f"ptrace needs CAP_SYS_PTRACE ({YAMA} is 2): {INSTEAD}, {setcap}"
    if scope == 3:
        return f"ptrace is disabled on this machine ({YAMA} is 3): {INSTEAD}"
    return None


def check_target(pid: int, pyspy: str) -> psutil.Process:
    """The process, if it exists and we may trace it; else a WatchError saying why."""
    try:
        process = psutil.Process(pid)
        target_uid = process.uids().real
        if process.status() == psutil.STATUS_ZOMBIE:
            raise WatchError(f"pid {pid} has exited (a zombie waiting for its parent)")
    except (psutil.NoSuchProcess, ValueError):
        raise WatchError(f"no process with pid {pid} (it may have exited)") from None
    except psutil.AccessDenied:
        raise WatchError(f"pid {pid}: access denied reading /proc; {INSTEAD}") from None
    reason = explain_denied(pid, target_uid, os.getuid(), yama_scope(), has_cap_sys_ptrace(), pyspy)
    if reason is not None:
        raise WatchError(reason)
    return process
