"""Queues the watched program names, so the window can chart their depth.

The program registers a queue with one call (``threadscope_agent.watch_queue("jobs", q)``);
the agent reads its length in every sample. Only a weak reference is kept (a registered queue
is freed as if it never was), and the depth is read without taking the queue's lock
(``len(q.queue)``, one atomic read of a deque), so sampling never waits on the program.
Objects without a ``queue`` attribute are read with ``qsize()`` (``SimpleQueue``).
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

_registered: dict[str, weakref.ref[Any]] = {}
_guard = threading.Lock()  # registration and the copy for a sample; never held long


def watch_queue(name: str, queue: Any) -> None:
    """Chart ``queue``'s depth under ``name`` (a later call with the same name replaces it)."""
    try:
        ref = weakref.ref(queue)
    except TypeError:
        return  # not weak-referenceable: nothing to chart, and never an error in the program
    with _guard:
        _registered[str(name)] = ref


def depths() -> dict[str, int]:
    """Name -> items waiting now, for every registered queue still alive."""
    with _guard:
        items = list(_registered.items())
    out: dict[str, int] = {}
    gone = []
    for name, ref in items:
        queue = ref()
        if queue is None:
            gone.append(name)
            continue
        try:
            inner = getattr(queue, "queue", None)
            out[name] = len(inner) if inner is not None else int(queue.qsize())
        except Exception:  # whatever the object is, a bad one costs its own entry only
            continue
    if gone:
        with _guard:
            for name in gone:
                if name in _registered and _registered[name]() is None:
                    del _registered[name]
    return out


def clear() -> None:
    with _guard:
        _registered.clear()
