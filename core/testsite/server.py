"""Routing, latency and request counting for the live test site; ``serve`` runs it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from collections.abc import Callable
from typing import Any

from core.testsite import traps
from core.testsite.protocol import Connection, Reply, Request, Response
from core.testsite.site import Site, SiteConfig, error_body, mix

CONTROL_PATHS = ("/__stats", "/__reset")


class App:
    """The site's routes plus the counters ``/__stats`` reports."""

    def __init__(self, config: SiteConfig) -> None:
        self.config = config
        self.site = Site(config)
        self.connections: set[Connection] = set()
        self.traps = traps.TrapRoutes(self)
        self.reset()

    def reset(self) -> None:
        self.requests = 0
        self.pages_served = 0
        self.private_served = 0
        self.bytes_sent = 0
        self.connections_total = 0
        self.max_open = len(self.connections)
        self.by_route: dict[str, int] = {}
        self.by_status: dict[int, int] = {}
        self._seen = bytearray(self.config.pages)
        self._latency_draws = 0
        self.traps.reset()

    def stats(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "pages_served": self.pages_served,
            "pages_distinct": self.config.pages - self._seen.count(0),
            "private_served": self.private_served,
            "by_route": dict(sorted(self.by_route.items())),
            "by_status": {str(k): v for k, v in sorted(self.by_status.items())},
            "bytes_sent": self.bytes_sent,
            "open_connections": len(self.connections),
            "max_open_connections": self.max_open,
            "connections_total": self.connections_total,
            "pages": self.config.pages,
        }

    def protocol(self) -> Connection:
        self.connections_total += 1
        self.max_open = max(self.max_open, len(self.connections) + 1)
        return Connection(self.handle, self.connections, self._count_bytes)

    def _count_bytes(self, n: int) -> None:
        self.bytes_sent += n

    def count(self, route: str) -> None:
        self.by_route[route] = self.by_route.get(route, 0) + 1

    def latency(self) -> float:
        cfg = self.config
        if not cfg.jitter_ms:
            return cfg.latency_ms / 1000
        self._latency_draws += 1
        u = mix(cfg.seed, 5, self._latency_draws) / (1 << 64)
        return max(0.0, cfg.latency_ms + (2 * u - 1) * cfg.jitter_ms) / 1000

    def handle(self, req: Request, conn: Connection) -> Reply:
        path = req.path
        if path in CONTROL_PATHS:
            if path == "/__reset":
                self.reset()
            body = json.dumps(self.stats()).encode()
            return Response(body=body, content_type="application/json")
        self.requests += 1
        result = self._route(req, conn)
        if isinstance(result, Response):
            self.by_status[result.status] = self.by_status.get(result.status, 0) + 1
        return result

    def _route(self, req: Request, conn: Connection) -> Reply:
        path = req.path
        if req.method not in ("GET", "HEAD"):
            self.count("other")
            return Response(501, error_body(501, "Not Implemented"), close=True)
        if path == "/" or path.startswith("/page/"):
            return self._page(req, path)
        if path.startswith("/private/"):
            self.count("/private")
            p = _index(path, "/private/", self.config.private_pages)
            if p is None:
                return Response(404, error_body(404, "Not Found"))
            self.private_served += 1
            return Response(body=self.site.render_private(p), delay=self.latency())
        if path == "/robots.txt":
            self.count("/robots.txt")
            return self._robots()
        if path == "/trap" or path.startswith("/trap/"):
            return self.traps.handle(req, conn)
        self.count("other")
        return Response(404, error_body(404, "Not Found"))

    def _page(self, req: Request, path: str) -> Response:
        if path == "/":
            n = 0
        elif path == "/page/0":
            self.count("/page/0")
            return Response(301, b"", headers=[("Location", "/")])
        else:
            page = _index(path, "/page/", self.config.pages)
            if page is None:
                self.count("other")
                return Response(404, error_body(404, "Not Found"))
            n = page
        self.count("/" if n == 0 else "/page")
        self.pages_served += 1
        self._seen[n] = 1
        host = req.headers.get("host", "")
        origin = f"http://{host}" if _safe_host(host) else None
        body = self.site.render_page(n, origin)
        status = 500 if self.site.is_error(n) else 200
        return Response(status, body, delay=self.latency())

    def _robots(self) -> Response:
        mode = self.config.robots
        if mode == "5xx":
            return Response(503, b"unavailable\n", "text/plain", [("Retry-After", "1")])
        if mode == "404":
            return Response(404, b"no robots here\n", "text/plain")
        return Response(body=self.site.robots_txt(), content_type="text/plain")


def _safe_host(host: str) -> bool:
    """Only a plain host[:port] goes into absolute links (no markup from a forged header)."""
    return bool(host) and host.isascii() and all(c.isalnum() or c in ".-:[]" for c in host)


def _index(path: str, prefix: str, limit: int) -> int | None:
    tail = path[len(prefix) :]
    if not tail.isdigit() or (len(tail) > 1 and tail[0] == "0"):
        return None
    n = int(tail)
    return n if n < limit else None


async def serve(
    config: SiteConfig, on_ready: Callable[[str], None], stop_on_stdin_eof: bool = False
) -> None:
    """Serve until SIGTERM/SIGINT (or stdin EOF when asked); ``on_ready`` gets the base URL."""
    _raise_fd_limit()
    loop = asyncio.get_running_loop()
    app = App(config)
    server = await loop.create_server(
        app.protocol, config.host, config.port, backlog=1024, reuse_address=True
    )
    host, port = server.sockets[0].getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    stop = loop.create_future()

    def request_stop() -> None:
        if not stop.done():
            stop.set_result(None)

    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # Windows: Ctrl-C raises
            loop.add_signal_handler(sig, request_stop)
    if stop_on_stdin_eof:
        await _watch_stdin(loop, request_stop)
    on_ready(f"http://{shown}:{port}/")
    try:
        await stop
    finally:
        server.close()
        for conn in list(app.connections):
            conn.reset()
            if conn.task is not None:
                conn.task.cancel()
        await asyncio.sleep(0)


async def _watch_stdin(loop: asyncio.AbstractEventLoop, on_eof: Callable[[], None]) -> None:
    """The parent holds our stdin open; when it dies we see EOF and exit (no orphans)."""

    class _Eof(asyncio.Protocol):
        def connection_lost(self, exc: Exception | None) -> None:
            on_eof()

    with contextlib.suppress(OSError, ValueError, NotImplementedError):  # not a pipe
        await loop.connect_read_pipe(_Eof, sys.stdin)


def _raise_fd_limit() -> None:
    """Hundreds of keep-alive connections need more descriptors than a default soft limit."""
    try:
        import resource
    except ImportError:  # Windows
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = 65536 if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < target:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
