"""What a thread is doing, from its OS state and its innermost Python frames.

Plain data in (so ``threadscope attach`` classifies py-spy stacks the same way), one of the
``STATES`` out. The kernel says whether the thread is on a CPU; the stack says what a sleeping
thread waits for: ``threading.py`` ``wait`` under ``queue.py`` is a queue, under anything else
a condition or event; the pool worker loop is an idle pool thread; a blocked line that calls
``sleep(`` sleeps, ``.acquire(`` (or a blocked ``with``) waits on a lock, ``recv(``/``accept(``
and friends do socket I/O. A sleeping thread stopped between bytecodes (not at a call) is
waiting for the GIL; one stopped at a call we cannot name is in a C call.
"""

from __future__ import annotations

import linecache
import re
from collections.abc import Sequence

RUNNING = "running"
C_CALL = "in C call"
WAIT_LOCK = "waiting on lock"
WAIT_CONDITION = "waiting on condition"
WAIT_QUEUE = "waiting on queue"
WAIT_GIL = "waiting for GIL"
SLEEPING = "sleeping"
SOCKET_IO = "socket I/O"
IDLE_POOL = "idle in pool"
NO_PYTHON = "no Python frame"
STATES = (
    RUNNING,
    C_CALL,
    WAIT_LOCK,
    WAIT_CONDITION,
    WAIT_QUEUE,
    WAIT_GIL,
    SLEEPING,
    SOCKET_IO,
    IDLE_POOL,
    NO_PYTHON,
)

Frame = tuple[str, int, str]  # file, line, function

_SOCKET_FILES = ("/socket.py", "/ssl.py", "/selectors.py", "/socketserver.py", "/http/client.py")
_SOCKET_CALL = re.compile(
    r"\b(recv|recv_into|recvfrom|send|sendall|sendto|accept|connect|select|poll|"
    r"getaddrinfo|create_connection|urlopen|getresponse)\("
)


def _is(frame: Frame, suffix: str) -> bool:
    return frame[0].replace("\\", "/").endswith(suffix)


def _name(frame: Frame) -> str:
    """``wait`` of ``Condition.wait`` (py-spy qualifies names, frames inside the target do not)."""
    return frame[2].rsplit(".", 1)[-1]


def _waiting_in_threading(stack: Sequence[Frame]) -> str | None:
    inner = stack[-1]
    if _is(inner, "/threading.py"):
        callers = [f for f in reversed(stack) if not _is(f, "/threading.py")]
        if callers and _is(callers[0], "/queue.py"):
            return WAIT_QUEUE
        return WAIT_CONDITION if _name(inner) == "wait" else WAIT_LOCK
    if _is(inner, "/queue.py"):
        return WAIT_QUEUE
    return None


def classify(
    stack: Sequence[Frame],
    os_state: str | None,
    *,
    at_call: bool | None = None,
    blocked_in_with: bool = False,
    waiting_for_lock: bool = False,
) -> str:
    """``stack`` outermost first; ``os_state`` the /proc letter (None: unknown); ``at_call``
    whether the innermost frame is stopped at a call instruction (None: unknown)."""
    if not stack:
        return WAIT_LOCK if waiting_for_lock else RUNNING if os_state == "R" else NO_PYTHON
    inner = stack[-1]
    # What the stack names beats the tracker's plain "lock": a queue's or condition's wait
    # also waits on a lock inside.
    in_threading = _waiting_in_threading(stack)
    if in_threading is not None and (os_state != "R" or waiting_for_lock):
        return in_threading
    if waiting_for_lock:
        return WAIT_LOCK
    if os_state == "R":
        return RUNNING
    if _is(inner, "/concurrent/futures/thread.py") and _name(inner) == "_worker":
        return IDLE_POOL
    if any(_is(inner, suffix) for suffix in _SOCKET_FILES):
        return SOCKET_IO
    line = linecache.getline(inner[0], inner[1])
    if "sleep(" in line:
        return SLEEPING
    if blocked_in_with or ".acquire(" in line:
        return WAIT_LOCK
    if _SOCKET_CALL.search(line):
        return SOCKET_IO
    if at_call is False:
        return WAIT_GIL
    return C_CALL
