"""Experiment 9: one ``requests.Session`` shared by all threads vs one per thread.

Traffic goes only to the embedded test site on 127.0.0.1 (its own process, started per run), so
the server neither shares the GIL with the clients nor shows up in their thread counts.
"""

from __future__ import annotations

import logging
import threading
import time

import requests

from core.experiments.base import Context, Experiment, MeasureSpec, Variant, join_all, start_threads
from core.testsite import TestSite

CLIENTS = 16  # more than requests' default pool of 10 connections per host
PAGES = 50
LATENCY_MS = 2.0


class _PoolFullCounter(logging.Handler):
    """Counts urllib3's 'Connection pool is full, discarding connection' warnings."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "pool is full" in record.getMessage():
            self.count += 1


def _body(variant: Variant, ctx: Context) -> dict[str, float]:
    per_client = ctx.scaled(60, minimum=3)
    site = TestSite(pages=PAGES, page_bytes=2048, latency_ms=LATENCY_MS).start()
    shared = requests.Session()
    sessions: list[requests.Session] = [shared] if variant == "bad" else []
    local = threading.local()
    errors = [0] * CLIENTS
    done = [0] * CLIENTS
    ctx.monitor.probe("requests_done", lambda: sum(done))
    pool_log = logging.getLogger("urllib3.connectionpool")
    counter = _PoolFullCounter()
    pool_log.addHandler(counter)
    propagate, pool_log.propagate = pool_log.propagate, False

    def session() -> requests.Session:
        if variant == "bad":
            return shared
        if not hasattr(local, "session"):
            local.session = requests.Session()
            sessions.append(local.session)
        own: requests.Session = local.session
        return own

    def client(k: int) -> None:
        for i in range(per_client):
            if ctx.stop.is_set():
                return
            try:
                response = session().get(f"{site.url}page/{(k + i) % PAGES}", timeout=(2, 5))
                response.content  # noqa: B018 (read the body so the connection is reusable)
                if response.status_code != 200:
                    errors[k] += 1
            except requests.RequestException:
                errors[k] += 1
            done[k] += 1

    try:
        site.reset_stats()
        start = time.perf_counter()
        join_all(start_threads(CLIENTS, client, "exp-client"), timeout=60)
        elapsed = time.perf_counter() - start
        for s in sessions:
            s.close()
        # the stats request arrives on a connection of its own, counted too
        connections = site.stats()["connections_total"] - 1
    finally:
        site.stop()
        pool_log.removeHandler(counter)
        pool_log.propagate = propagate
    return {
        "connections_opened": float(connections),
        "errors": float(sum(errors)),
        "elapsed_s": elapsed,
        "pool_full_discards": float(counter.count),
        "requests": float(sum(done)),
    }


EXPERIMENT = Experiment(
    name="shared-session",
    summary="16 threads sharing one requests.Session vs a thread-local Session each",
    claim=(
        "requests.Session is not documented as thread-safe, so sharing one across threads "
        "risks errors; a Session per thread (threading.local) is safe and keeps its "
        "connections alive."
    ),
    bad=f"{CLIENTS} threads call get() on one shared Session",
    fixed="each thread lazily creates its own Session in a threading.local",
    measures=(
        MeasureSpec("errors", "requests", "failed requests", key=True),
        MeasureSpec(
            "connections_opened", "connections", "TCP connections the server accepted", key=True
        ),
        MeasureSpec("elapsed_s", "s", "time for all requests", key=True),
        MeasureSpec("pool_full_discards", "connections", "'pool is full' discards (urllib3)"),
        MeasureSpec("requests", "requests", "requests made", better="higher"),
    ),
    body=_body,
)
