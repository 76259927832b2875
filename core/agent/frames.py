"""Every thread's innermost frame, read without the CPython 3.11 deadlock.

On CPython 3.11 a cyclic collection inside ``sys._current_frames()`` can run a callback that
releases the GIL while the interpreter's thread-list lock is held; a thread exiting at that
moment then waits for that lock with the GIL and the process deadlocks (python/cpython#106883,
fixed upstream the same way). Thread churn (experiment 3) plus a periodic stuck check hit it.
Shared by the agent and Threadscope's own diagnostics (stdlib only, like all of the agent).
"""

from __future__ import annotations

import gc
import sys
from types import FrameType


def current_frames() -> dict[int, FrameType]:
    """``sys._current_frames()`` with the cyclic GC paused around it."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return sys._current_frames()
    finally:
        if enabled:
            gc.enable()
