"""The ordered end of a crawl: grace, sockets shut, workers joined, then every part closed.

Once a crawl ends (finish, ``stop()``, the memory limit or an engine error) its watchdog
gives in-flight requests ``STOP_GRACE`` (not after a natural end, nor after a second stop),
shuts their sockets, and :func:`join_workers` waits up to ``EXIT_PATIENCE`` for every worker
to leave (shutting sockets again for a request that began after the first shut-down) and
joins their threads. Then :func:`close_each` closes the parts, each in its own guard: a part
whose close raises is logged and reported, and the others still close, so the crawl always
reaches ``FINISHED``.

Like ``concurrent.futures``, an interpreter-exit hook stops (without grace) and joins every
crawl still running (:func:`stop_at_exit`), so a forgotten crawl never keeps the process alive.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from typing import Protocol

from core.workers import WorkerPool

STOP_GRACE = 0.2
"""Seconds in-flight requests get after ``stop()`` before their sockets are shut."""
EXIT_PATIENCE = 5.0
"""Seconds the watchdog waits for workers after shutting sockets before it gives up on them."""
_REINTERRUPT = 0.1

log = logging.getLogger(__name__)


class Stoppable(Protocol):
    def stop(self) -> None: ...
    def join(self, timeout: float | None = None) -> bool: ...


_running: weakref.WeakSet[Stoppable] = weakref.WeakSet()


def stop_at_exit(crawl: Stoppable) -> None:
    """Stop and join ``crawl`` at interpreter exit if it is still alive then."""
    _running.add(crawl)


def _stop_running() -> None:
    """At interpreter exit, before non-daemon threads are joined: stop what is still running."""
    for crawl in list(_running):
        crawl.stop()
        crawl.stop()  # the second stop: in-flight requests are abandoned at once
    for crawl in list(_running):
        crawl.join(EXIT_PATIENCE)


threading._register_atexit(_stop_running)  # type: ignore[attr-defined]


def join_workers(pool: WorkerPool, interrupt: Callable[[], None] | None) -> list[str]:
    """Wait for every worker to leave the pool, then join the crawl's threads.

    ``interrupt`` (None after a natural end) runs every ``_REINTERRUPT`` seconds meanwhile.
    Returns the names of the workers still busy after ``EXIT_PATIENCE`` (empty: all left).
    """
    deadline = time.monotonic() + EXIT_PATIENCE
    while not pool.wait_empty(_REINTERRUPT):
        if time.monotonic() >= deadline:
            return pool.busy()
        if interrupt is not None:
            interrupt()  # a request that began after the first shut-down
    for thread in pool.threads():  # each has left the pool; only its last lines remain
        thread.join(max(0.0, deadline - time.monotonic()))
    return []


def close_each(
    steps: Iterable[tuple[str, Callable[[], None]]], report: Callable[[str], None]
) -> None:
    """Run every ``(name, close)`` step in order, each in its own guard.

    A step that raises is logged with its traceback and ``report``-ed in one line; the
    steps after it still run.
    """
    for name, close in steps:
        try:
            close()
        except Exception as exc:
            log.exception("closing %s failed", name)
            report(f"closing {name} failed: {type(exc).__name__}: {exc}")
