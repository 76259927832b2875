"""Experiment 9: one ``requests.Session`` shared by all threads vs one per thread.

Traffic goes only to a small keep-alive HTTP server on 127.0.0.1 started for the run (in this
process, so its threads show up in the thread counts and share the GIL with the clients).
"""

from __future__ import annotations

import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

from core.experiments.base import Context, Experiment, MeasureSpec, Variant, join_all, start_threads

CLIENTS = 16  # more than requests' default pool of 10 connections per host
BODY = b"x" * 2048


class _Server(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True  # server_close() joins every handler thread

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.connections = 0
        self.count_lock = threading.Lock()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 2  # an idle keep-alive connection ends its handler thread

    def setup(self) -> None:
        super().setup()
        with self.server.count_lock:  # type: ignore[attr-defined]
            self.server.connections += 1  # type: ignore[attr-defined]

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *_args: object) -> None:
        pass


class _PoolFullCounter(logging.Handler):
    """Counts urllib3's 'Connection pool is full, discarding connection' warnings."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "pool is full" in record.getMessage():
            self.count += 1


def _body(variant: Variant, ctx: Context) -> dict[str, float]:
    per_client = ctx.scaled(30, minimum=3)
    server = _Server()
    server_thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="exp-http-server"
    )
    server_thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    shared = requests.Session()
    sessions: list[requests.Session] = [shared] if variant == "bad" else []
    local = threading.local()
    errors = [0] * CLIENTS
    done = [0] * CLIENTS
    ctx.monitor.probe("requests_done", lambda: sum(done))
    ctx.monitor.probe("server_connections", lambda: server.connections)
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
        return local.session

    def client(k: int) -> None:
        for _ in range(per_client):
            if ctx.stop.is_set():
                return
            try:
                response = session().get(url, timeout=(2, 5))
                response.content  # noqa: B018 (read the body so the connection is reusable)
                if response.status_code != 200:
                    errors[k] += 1
            except requests.RequestException:
                errors[k] += 1
            done[k] += 1

    start = time.perf_counter()
    try:
        join_all(start_threads(CLIENTS, client, "exp-client"), timeout=60)
        elapsed = time.perf_counter() - start
    finally:
        for s in sessions:
            s.close()
        server.shutdown()
        server.server_close()
        server_thread.join(timeout=5)
        pool_log.removeHandler(counter)
        pool_log.propagate = propagate
    return {
        "connections_opened": float(server.connections),
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
