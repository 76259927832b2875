"""Every thread's stack as plain data, read so that no other thread runs meanwhile.

Two CPython bugs make reading other threads' frames dangerous, and both need another thread to
run while a reader holds frame objects of other threads:

- On 3.11 a cyclic collection inside ``sys._current_frames()`` can run a callback that
  releases the GIL while the interpreter's thread-list lock is held; a thread exiting at that
  moment then waits for that lock with the GIL and the process deadlocks
  (python/cpython#106883). Thread churn (experiment 3) plus a periodic stuck check hit it.
- A frame object of another thread points into that thread's live frames; if the thread runs
  (pops frames, ends, resumes a generator) before the reader has walked ``f_back``, the walk
  can read freed memory and crash the process. Profilers that walk ``sys._current_frames()``
  from a thread of their own crash Python 3.11 programs this way (getsentry/sentry-python#6119,
  DataDog/dd-trace-py#13567); our own test suite met it once (a segfault at ``f_back`` in the
  window's stuck check during a thread sweep).

So ``current_stacks()`` takes the frames with the GC paused, and walks all of them to code
objects and line numbers (which stay valid however the threads move on) before it lets any
other thread run: the GIL is only given up between bytecodes when another thread has asked for
it for a switch interval, so the interval is raised to ``WALK_INTERVAL_S`` for the walk (tens of
microseconds) and put back at once. Nothing in the walk releases the GIL on its own (no I/O,
no lock, no Python finalizer: the GC is off). Shared by the agent (stdlib only, like all of
it) and Threadscope's own diagnostics.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Collection
from types import CodeType, FrameType

WALK_INTERVAL_S = 0.05  # a waiter that starts waiting during the walk waits this long at most

RawFrame = tuple[CodeType, int, int]  # code, line (0 when unknown), last instruction offset
RawStack = tuple[RawFrame, ...]  # outermost first


def current_stacks(skip: Collection[int] = ()) -> dict[int, RawStack]:
    """Every thread's stack by ident, walked while no other thread can move it; threads in
    ``skip`` (known not to have run since the caller last walked them) are left out."""
    interval = sys.getswitchinterval()
    enabled = gc.isenabled()
    gc.disable()
    sys.setswitchinterval(max(interval, WALK_INTERVAL_S))
    try:
        stacks: dict[int, RawStack] = {}
        for ident, top in sys._current_frames().items():
            if ident in skip:
                continue
            walked = []
            frame: FrameType | None = top
            while frame is not None:
                walked.append((frame.f_code, frame.f_lineno or 0, frame.f_lasti))
                frame = frame.f_back
            walked.reverse()
            stacks[ident] = tuple(walked)
        return stacks  # the frames' dict is gone: no frame of another thread outlives the walk
    finally:
        sys.setswitchinterval(interval)
        if enabled:
            gc.enable()
