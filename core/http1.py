"""A lean HTTP/1.1 GET client for the fetcher: one kept-alive connection per origin and thread.

Why not urllib3 (which this replaced): per request it costs ~170 µs of Python (connection
pool bookkeeping, ``http.client`` header parsing through the ``email`` package, a
``socket.makefile`` per response) and seven system calls that each release the GIL (a
``poll`` before every send and recv because of socket timeouts, a liveness ``poll``), which
16 threads turn into ~70 futex calls per page. Here a request is one ``sendall`` and usually
one ``recv`` that holds the whole page: sockets stay in blocking mode and the kernel enforces
the read timeout (``SO_RCVTIMEO``), set once per connection.

What it keeps: keep-alive (HTTP/1.1 default, HTTP/1.0 ``Connection: keep-alive``),
``Content-Length``, chunked transfer coding, read-to-close bodies, gzip/deflate decoded with a
bound on the decoded size, informational (1xx) responses skipped, and a reused connection the
server had closed (or left bytes on) retried once on a fresh one. Errors are exceptions the
fetcher classifies: ``TimeoutError``, ``ConnectionResetError``, ``OSError``, ``ProtocolError``,
``IncompleteBody``, ``zlib.error``.
"""

from __future__ import annotations

import socket
import ssl
import struct
import sys
import zlib
from collections.abc import Callable, Iterator

RECV = 64 * 1024
MAX_HEAD = 64 * 1024  # status line + headers
MAX_CHUNK_LINE = 1024
_NO_BODY = frozenset((204, 304))


class ProtocolError(Exception):
    """The peer did not speak HTTP/1.x (bad status line, headers or chunk framing)."""


class IncompleteBody(Exception):
    """The body ended before its ``Content-Length`` or its last chunk."""


class _Stale(Exception):
    """A reused connection gave no response: the server had closed it (or left junk on it)."""


class Connection:
    """One socket to ``host:port``, reconnected as needed; used by one thread at a time.

    ``on_socket`` is called with every new socket (before it is used), so its owner can shut
    it down from another thread to interrupt a request.
    """

    def __init__(
        self,
        scheme: str,
        host: str,
        port: int,
        connect_timeout: float,
        read_timeout: float,
        on_socket: Callable[[socket.socket], None],
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.host, self.port = host, port
        self.connect_timeout = connect_timeout
        self._timeval = _timeval(read_timeout)
        self._on_socket = on_socket
        self._ssl = ssl_context if scheme == "https" else None
        self.sock: socket.socket | None = None
        self._buf = b""  # bytes received and not yet consumed

    def close(self) -> None:
        sock, self.sock, self._buf = self.sock, None, b""
        if sock is not None:
            sock.close()

    def request(self, head: bytes) -> Response:
        """Send a request head and read the response head; the body is read from the result."""
        if self.sock is not None:
            try:
                return self._exchange(head, reused=True)
            except _Stale:
                self.close()
        return self._exchange(head, reused=False)

    def _exchange(self, head: bytes, reused: bool) -> Response:
        if self.sock is None:
            self._connect()
        try:
            try:
                self.sock.sendall(head)
            except BlockingIOError:
                raise TimeoutError("send timed out") from None  # SO_SNDTIMEO expired
            status, version, headers = self._read_head()
        except (ConnectionError, ProtocolError) as exc:
            if reused:
                raise _Stale(f"{type(exc).__name__}: {exc}") from exc
            raise
        return Response(self, status, version, headers)

    def _connect(self) -> None:
        sock = socket.create_connection((self.host, self.port), self.connect_timeout)
        try:
            self._on_socket(sock)
            sock.settimeout(None)  # blocking: no poll() before each call; the kernel times out
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, self._timeval)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, self._timeval)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._ssl is not None:
                sock = self._ssl.wrap_socket(sock, server_hostname=self.host)
                self._on_socket(sock)
        except BaseException:
            sock.close()
            raise
        self.sock, self._buf = sock, b""

    # -- reading -----------------------------------------------------------------------------
    def _recv(self) -> bytes:
        try:
            return self.sock.recv(RECV)
        except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            raise TimeoutError("read timed out") from None  # SO_RCVTIMEO expired

    def _read_head(self) -> tuple[int, int, dict[str, str]]:
        """Status, minor version and headers (lower-case names, first one wins) of a final
        response; informational 1xx responses before it are skipped."""
        while True:
            buf = self._buf
            end = buf.find(b"\r\n\r\n")
            while end < 0:
                if len(buf) > MAX_HEAD:
                    raise ProtocolError(f"response head longer than {MAX_HEAD} bytes")
                data = self._recv()
                if not data:
                    raise ProtocolError("connection closed before a response")
                buf += data
                end = buf.find(b"\r\n\r\n", max(0, len(buf) - len(data) - 3))
            self._buf = buf[end + 4 :]
            lines = buf[:end].decode("latin-1").split("\r\n")
            status_line = lines[0]
            if not status_line.startswith("HTTP/1.") or len(status_line) < 12:
                raise ProtocolError(f"bad status line {status_line[:80]!r}")
            code = status_line[9:12]
            if not code.isdigit() or status_line[12:13] not in ("", " "):
                raise ProtocolError(f"bad status line {status_line[:80]!r}")
            headers: dict[str, str] = {}
            name = ""
            for line in lines[1:]:
                if line[:1] in (" ", "\t"):  # obsolete line folding
                    if name:
                        headers[name] += " " + line.strip()
                    continue
                name, colon, value = line.partition(":")
                name = name.strip().lower()
                if colon and name not in headers:
                    headers[name] = value.strip()
            status = int(code)
            if status >= 200 or status == 101:
                minor = 1 if status_line[7] == "1" else 0
                return status, minor, headers


class Response:
    """A response whose head has been read; ``read`` takes the body (exactly once)."""

    __slots__ = ("_conn", "status", "headers", "wire", "_keep")

    def __init__(self, conn: Connection, status: int, minor: int, headers: dict[str, str]):
        self._conn = conn
        self.status = status
        self.headers = headers
        self.wire = 0  # body bytes received (before decoding, after de-chunking)
        connection = headers.get("connection", "").lower()
        self._keep = "close" not in connection and (minor == 1 or "keep-alive" in connection)

    def read(self, cap: int) -> tuple[bytes, bool]:
        """The decoded body, at most ``cap`` bytes, and whether there was more.

        The connection goes back to use when the body was read to its end and nothing
        follows it; otherwise (cut, error, read-to-close, extra bytes) it is closed.
        """
        done = False
        try:
            body, truncated = self._read(cap)
            done = not truncated
            return body, truncated
        finally:
            if not (done and self._keep and not self._conn._buf):
                self._conn.close()

    def discard(self, limit: int) -> None:
        """Skip a body not wanted (a redirect's); a longer one than ``limit`` closes the
        connection instead of reading it."""
        length = self.headers.get("content-length", "")
        if length.isdigit() and int(length) <= limit and self._framing() == "length":
            try:
                self.read(limit)
                return
            except Exception:
                pass
        self._conn.close()

    def _framing(self) -> str:
        if self.status in _NO_BODY or 100 <= self.status < 200:
            return "none"
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            return "chunked"
        length = self.headers.get("content-length")
        return "length" if length is not None and length.strip().isdigit() else "close"

    def _read(self, cap: int) -> tuple[bytes, bool]:
        framing = self._framing()
        coding = self.headers.get("content-encoding", "").strip().lower()
        decode = coding in ("gzip", "x-gzip", "deflate")
        if framing == "none":
            return b"", False
        if framing == "length" and not decode:  # the common case: one exact read
            length = int(self.headers["content-length"])
            body = self._exactly(min(length, cap))
            self.wire = len(body)
            if length > cap:
                self._keep = False
                return body, True
            return body, False
        if framing == "close":
            self._keep = False
        raw = self._raw_pieces(framing)
        pieces = _decoded(raw, coding, cap) if decode else raw
        out: list[bytes] = []
        size = 0
        for piece in pieces:
            out.append(piece)
            size += len(piece)
            if size > cap:  # one byte past the cap proves there was more
                self._keep = False
                out[-1] = piece[: len(piece) - (size - cap)]
                return b"".join(out), True
        return b"".join(out), False

    def _exactly(self, n: int) -> bytes:
        conn = self._conn
        buf = conn._buf
        if len(buf) >= n:
            conn._buf = buf[n:]
            return buf[:n] if len(buf) > n else buf
        parts = [buf]
        got = len(buf)
        conn._buf = b""
        while got < n:
            data = conn._recv()
            if not data:
                self.wire = got
                raise IncompleteBody(f"body ended after {got} of {n} bytes")
            parts.append(data)
            got += len(data)
        if got > n:
            last = parts[-1]
            keep = len(last) - (got - n)
            parts[-1], conn._buf = last[:keep], last[keep:]
        return b"".join(parts)

    def _raw_pieces(self, framing: str) -> Iterator[bytes]:
        """The body as received, de-chunked; counts ``wire``."""
        conn = self._conn
        if framing == "length":
            left = int(self.headers["content-length"])
            while left > 0:
                piece = self._exactly(min(left, RECV))
                left -= len(piece)
                self.wire += len(piece)
                yield piece
        elif framing == "close":
            if conn._buf:
                piece, conn._buf = conn._buf, b""
                self.wire += len(piece)
                yield piece
            while data := conn._recv():
                self.wire += len(data)
                yield data
        else:
            while True:
                size = self._chunk_size()
                if size == 0:
                    while self._line():  # trailers, up to the empty line
                        pass
                    return
                while size > 0:
                    piece = self._exactly(min(size, RECV))
                    size -= len(piece)
                    self.wire += len(piece)
                    yield piece
                if self._line():
                    raise ProtocolError("chunk not followed by CRLF")

    def _chunk_size(self) -> int:
        line = self._line().split(b";", 1)[0].strip()
        try:
            size = int(line, 16)
        except ValueError:
            raise ProtocolError(f"bad chunk size {line[:40]!r}") from None
        if size < 0:
            raise ProtocolError(f"bad chunk size {line[:40]!r}")
        return size

    def _line(self) -> bytes:
        """One CRLF-terminated line without its CRLF (chunk framing)."""
        conn = self._conn
        buf = conn._buf
        end = buf.find(b"\n")
        while end < 0:
            if len(buf) > MAX_CHUNK_LINE:
                raise ProtocolError("chunk line too long")
            data = conn._recv()
            if not data:
                raise IncompleteBody("body ended inside chunked framing")
            buf += data
            end = buf.find(b"\n")
        conn._buf = buf[end + 1 :]
        return buf[:end].rstrip(b"\r")


def _timeval(seconds: float) -> bytes:
    """``SO_RCVTIMEO``/``SO_SNDTIMEO`` option value: a ``struct timeval``, or milliseconds."""
    if sys.platform == "win32":
        return struct.pack("<L", max(1, int(seconds * 1000)))
    return struct.pack("ll", int(seconds), int(seconds % 1 * 1e6))


def _decoded(raw: Iterator[bytes], coding: str, cap: int) -> Iterator[bytes]:
    """gzip (several members too) or deflate (zlib-wrapped or raw), never more than ``cap + 1``
    bytes out of one input piece, so a compression bomb costs at most the cap in memory."""
    gzip = coding != "deflate"
    decoder = zlib.decompressobj(16 + zlib.MAX_WBITS if gzip else zlib.MAX_WBITS)
    first = True  # deflate: the zlib wrapper is not yet proven
    members = 0  # gzip: members decoded so far
    out = 0
    for piece in raw:
        data = piece
        while data:
            try:
                chunk = decoder.decompress(data, cap + 1 - out)
            except zlib.error:
                if gzip and members:
                    return  # junk after a complete gzip member: ignored, as other clients do
                if gzip or not first:
                    raise
                decoder = zlib.decompressobj(-zlib.MAX_WBITS)  # deflate sent without zlib wrapper
                first = False
                continue
            first = False
            if chunk:
                out += len(chunk)
                yield chunk
                if out > cap:
                    return
            if decoder.eof:
                data = decoder.unused_data
                members += 1
                if data and gzip:
                    decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)  # next gzip member
                else:
                    data = b""
            else:
                data = decoder.unconsumed_tail
    tail = decoder.flush()
    if tail:
        yield tail
