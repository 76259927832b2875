"""A minimal HTTP/1.1 server protocol on asyncio: keep-alive, GET/HEAD, Content-Length.

Hand-rolled so one core serves thousands of requests a second: a plain page is parsed, rendered
and written inside ``data_received`` with no task, and a delayed one costs one timer. Requests on
a connection are answered strictly in order (pipelined ones wait in the buffer). Routes that need
to misbehave get the connection itself (:class:`Connection`) from an ``async`` handler.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import sys
import traceback
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import unquote

MAX_HEAD_BYTES = 256 * 1024  # room for the 100 KB URL trap
MAX_BODY_BYTES = 1024 * 1024

REASONS = {
    200: "OK",
    301: "Moved Permanently",
    302: "Found",
    400: "Bad Request",
    404: "Not Found",
    410: "Gone",
    413: "Payload Too Large",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
    503: "Service Unavailable",
}


@dataclass(slots=True)
class Request:
    method: str
    target: str
    path: str
    query: str
    headers: dict[str, str]
    keep_alive: bool


@dataclass(slots=True)
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    headers: list[tuple[str, str]] = field(default_factory=list)
    delay: float = 0.0  # seconds to wait before answering (latency simulation)
    close: bool = False


# What a route returns: an answer, or a coroutine that writes to the connection itself.
Reply = Response | Coroutine[Any, Any, None]
Handler = Callable[[Request, "Connection"], Reply]


def head_bytes(
    status: int,
    content_type: str | None,
    length: int | None,
    headers: Sequence[tuple[str, str]] = (),
    close: bool = False,
) -> bytes:
    reason = REASONS.get(status, "Status")
    lines = [f"HTTP/1.1 {status} {reason}\r\nServer: threadscope-testsite\r\n"]
    if content_type:
        lines.append(f"Content-Type: {content_type}\r\n")
    if length is not None:
        lines.append(f"Content-Length: {length}\r\n")
    lines.extend(f"{name}: {value}\r\n" for name, value in headers)
    if close:
        lines.append("Connection: close\r\n")
    lines.append("\r\n")
    return "".join(lines).encode("latin-1")


class Connection(asyncio.Protocol):
    """One client connection; also the handle an async route uses to misbehave."""

    # Set by connection_made, before any other method runs.
    transport: asyncio.Transport
    lost: asyncio.Future[None]

    def __init__(
        self, handler: Handler, registry: set[Connection], on_bytes: Callable[[int], object]
    ) -> None:
        self._handler = handler
        self._registry = registry
        self._on_bytes = on_bytes
        self._buf = bytearray()
        self._busy = False
        self._paused = False
        self._drain: asyncio.Future[None] | None = None
        self.task: asyncio.Task[None] | None = None
        self._closing = False

    # asyncio.Protocol -------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # a stream transport: TCP
        self.lost = asyncio.get_running_loop().create_future()
        self._registry.add(self)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_lost(self, exc: Exception | None) -> None:
        self._registry.discard(self)
        if not self.lost.done():
            self.lost.set_result(None)
        self._wake_writer()

    def data_received(self, data: bytes) -> None:
        self._buf += data
        if not self._busy:
            self._process()

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        self._wake_writer()

    # used by async routes ---------------------------------------------------------------
    @property
    def closed(self) -> bool:
        """True once we closed, the client went away, or a send failed.

        A failed send (the client reset the socket) closes the transport at once but reports
        ``connection_lost`` only on the next loop turn; a route writing in a loop would until
        then get asyncio's "socket.send() raised exception." warning on every write.
        """
        if self._closing or self.lost.done():
            return True
        return self.transport.is_closing()

    def write(self, data: bytes) -> None:
        if not self.closed:
            self.transport.write(data)
            self._on_bytes(len(data))

    async def drain(self) -> None:
        """Wait until the client has taken what we wrote (or is gone)."""
        while self._paused and not self.closed:
            self._drain = asyncio.get_running_loop().create_future()
            await self._drain

    async def wait_closed(self) -> None:
        await asyncio.shield(self.lost)

    async def flush(self) -> None:
        """Wait until the kernel has the whole write buffer (so a reset comes after it)."""
        while not self.closed and self.transport.get_write_buffer_size():
            await self.drain()
            await asyncio.sleep(0.01)

    def reset(self) -> None:
        """Close with a TCP RST instead of a FIN."""
        if self.closed:
            return
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self._closing = True
        self.transport.abort()

    def close(self) -> None:
        if not self.closed:
            self._closing = True
            self.transport.close()

    # internals ----------------------------------------------------------------------------
    def _wake_writer(self) -> None:
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)

    def _process(self) -> None:
        while not self.closed:
            request = self._parse()
            if request is None:
                return
            self._busy = True
            result = self._handler(request, self)
            if isinstance(result, Response):
                if result.delay > 0:
                    loop = asyncio.get_running_loop()
                    loop.call_later(result.delay, self._answer, request, result)
                    return
                self._send(request, result)
            else:
                self.task = asyncio.ensure_future(result)
                self.task.add_done_callback(self._route_done)
                return

    def _answer(self, request: Request, response: Response) -> None:
        self._send(request, response)
        if not self._busy:
            self._process()

    def _route_done(self, task: asyncio.Task[None]) -> None:
        self.task = None
        if not task.cancelled() and task.exception() is not None:
            traceback.print_exception(task.exception(), file=sys.stderr)
            self.reset()
            return
        self._busy = False
        if not self.closed:
            self._process()

    def _send(self, request: Request, response: Response) -> None:
        self._busy = False
        if self.closed:
            return
        close = response.close or not request.keep_alive
        body = response.body
        head = head_bytes(
            response.status, response.content_type, len(body), response.headers, close
        )
        self.write(head if request.method == "HEAD" else head + body)
        if close:
            self.close()

    def _parse(self) -> Request | None:
        buf = self._buf
        while buf[:2] == b"\r\n":  # tolerated before a request line (RFC 9112 2.2)
            del buf[:2]
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            if len(buf) > MAX_HEAD_BYTES:
                self._fail(431)
            return None
        lines = buf[:end].decode("latin-1").split("\r\n")
        try:
            method, target, version = lines[0].split(" ")
        except ValueError:
            self._fail(400)
            return None
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if "transfer-encoding" in headers:
            self._fail(501)
            return None
        try:
            body_len = int(headers.get("content-length", 0))
        except ValueError:
            self._fail(400)
            return None
        if body_len > MAX_BODY_BYTES:
            self._fail(413)
            return None
        if len(buf) < end + 4 + body_len:
            return None  # wait for the request body, then discard it
        del buf[: end + 4 + body_len]
        conn = headers.get("connection", "").lower()
        keep_alive = "close" not in conn if version == "HTTP/1.1" else "keep-alive" in conn
        if target.startswith(("http://", "https://")):  # absolute-form
            slash = target.find("/", target.find("//") + 2)
            target = target[slash:] if slash >= 0 else "/"
        path, _, query = target.partition("?")
        if "%" in path:
            path = unquote(path)
        return Request(method.upper(), target, path, query, headers, keep_alive)

    def _fail(self, status: int) -> None:
        self._buf.clear()
        self.write(head_bytes(status, "text/plain", 0, close=True))
        self.close()
