"""The fetcher's own HTTP/1.1 response path against exact bytes on a loopback socket.

The fetcher parses response headers itself and reads through kernel-timed sockets (see
``core.fetcher._Response`` and ``_KernelTimedSocket``); these answers are the shapes that
path must get right, written byte for byte by a one-thread server.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from core.fetcher import Fetcher
from core.settings import CrawlSettings

PAGE = b'<html><body><a href="/next">next</a></body></html>'


class CannedServer:
    """Answers each request on a connection with the next canned response, in order.

    After each answer it keeps the connection open or, with ``drop_after_each``, closes it
    without saying so (a server that lies about keep-alive).
    """

    def __init__(self, answers: list[bytes], drop_after_each: bool = False) -> None:
        self.answers = answers
        self.drop_after_each = drop_after_each
        self.connections = 0
        self.hung_up = threading.Semaphore(0)  # released once per connection it has closed
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}/"
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="canned-server")
        self._thread.start()

    def _serve(self) -> None:
        answers = iter(self.answers)
        while not self._done.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            self.connections += 1
            with conn:
                conn.settimeout(5)
                for answer in answers:
                    if not _read_request(conn):
                        break
                    conn.sendall(answer)
                    if self.drop_after_each:
                        break
                else:
                    self._hold(conn)
            self.hung_up.release()

    def _hold(self, conn: socket.socket) -> None:
        """Say nothing more until the client hangs up or the test ends."""
        conn.settimeout(0.1)
        while not self._done.is_set():
            try:
                if not conn.recv(4096):
                    return
            except TimeoutError:
                continue

    def close(self) -> None:
        self._done.set()
        self._thread.join(5)
        self._listener.close()


def _read_request(conn: socket.socket) -> bool:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            return False
        data += chunk
    return True


@pytest.fixture
def canned() -> Iterator:
    made: list[tuple[CannedServer, Fetcher]] = []

    def make(answers: list[bytes], **options: object) -> tuple[CannedServer, Fetcher]:
        server = CannedServer(answers, **options)
        settings = CrawlSettings(start_urls=(server.url,), retries=1, read_timeout=2.0)
        made.append((server, Fetcher(settings)))
        return made[-1]

    yield make
    for server, fetcher in made:
        fetcher.close()
        server.close()


def _head(*lines: str) -> bytes:
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def test_odd_but_readable_header_blocks(canned) -> None:
    answer = (
        _head(
            "HTTP/1.1 200 OK",
            "Content-Type: text/html;",
            "\tcharset=utf-8",  # obsolete folding continues the line above
            "this line has no colon",
            "Set-Cookie: a=1",
            "Set-Cookie: b=2",
            f"content-length:   {len(PAGE)}   ",
        )
        + PAGE
    )
    server, fetcher = canned([answer])
    out = fetcher.fetch(server.url + "page")
    assert (out.status, out.error) == (200, None)
    assert out.content_type == "text/html; charset=utf-8"
    assert out.body == PAGE


def test_a_chunked_body_is_reassembled(canned) -> None:
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in (PAGE[:10], PAGE[10:])) + b"0\r\n\r\n"
    answer = _head("HTTP/1.1 200 OK", "Content-Type: text/html", "Transfer-Encoding: chunked")
    server, fetcher = canned([answer + chunks])
    out = fetcher.fetch(server.url)
    assert (out.status, out.error, out.body) == (200, None, PAGE)


def test_a_body_without_length_ends_with_the_connection(canned) -> None:
    answer = _head("HTTP/1.0 200 OK", "Content-Type: text/html") + PAGE
    server, fetcher = canned([answer], drop_after_each=True)
    out = fetcher.fetch(server.url)
    assert (out.status, out.error, out.body) == (200, None, PAGE)


def test_a_keep_alive_lie_costs_a_retry_not_the_page(canned) -> None:
    answer = _head("HTTP/1.1 200 OK", "Content-Type: text/html", f"Content-Length: {len(PAGE)}")
    server, fetcher = canned([answer + PAGE] * 3, drop_after_each=True)
    outcomes = [fetcher.fetch(f"{server.url}page/{i}") for i in range(3)]
    assert [(o.status, o.error, o.body) for o in outcomes] == [(200, None, PAGE)] * 3
    assert server.connections == 3


def test_an_idle_connection_is_checked_before_reuse(canned, monkeypatch) -> None:
    """Past FRESH_S a pooled connection is polled first: a dropped one is replaced, no retry."""
    answer = _head("HTTP/1.1 200 OK", "Content-Type: text/html", f"Content-Length: {len(PAGE)}")
    server, fetcher = canned([answer + PAGE] * 2, drop_after_each=True)
    monkeypatch.setattr("core.fetcher.FRESH_S", 0.0)
    monkeypatch.setattr("core.fetcher.BACKOFF_BASE", 5.0)  # a retry would wait 5 s first
    first = fetcher.fetch(server.url)
    assert server.hung_up.acquire(timeout=5)  # the drop has happened before the reuse is tried
    started = time.monotonic()
    second = fetcher.fetch(server.url + "again")
    assert (first.error, second.error, second.body) == (None, None, PAGE)
    assert time.monotonic() - started < 2.5  # far below the retry's back-off, whatever the load


def test_a_silent_kept_alive_server_hits_the_kernel_read_timeout(canned) -> None:
    head = _head("HTTP/1.1 200 OK", "Content-Type: text/html", f"Content-Length: {len(PAGE)}")
    server, fetcher = canned([head + PAGE[:5]])  # promises more than it sends, then waits
    started = time.monotonic()
    out = fetcher.fetch(server.url)
    assert out.error is not None
    assert out.error.kind == "timeout", out.error
    assert 1.5 < time.monotonic() - started < 4.0  # read_timeout is 2 s
