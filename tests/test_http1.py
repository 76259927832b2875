"""core.http1 against a scripted loopback server: framing, decoding, keep-alive and errors."""

from __future__ import annotations

import gzip
import socket
import threading
import zlib

import pytest

from core.http1 import Connection, IncompleteBody, ProtocolError

HEAD = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
CLOSE = None  # in a script: close the connection instead of answering


class Scripted:
    """Answers the n-th request on the k-th connection with ``script[k][n]`` (raw bytes).

    ``CLOSE`` first: close on the request; after an answer: close right after sending it.
    Requests past a connection's script get no answer.
    """

    def __init__(self, script: list[list[bytes | None]]) -> None:
        self.script = script
        self.accepted = 0
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        with self.server:
            for answers in self.script:
                conn, _ = self.server.accept()
                self.accepted += 1
                threading.Thread(target=self._answer, args=(conn, answers), daemon=True).start()

    @staticmethod
    def _answer(conn: socket.socket, answers: list[bytes | None]) -> None:
        with conn:
            for i, answer in enumerate(answers):
                data = b""
                while b"\r\n\r\n" not in data:
                    got = conn.recv(4096)
                    if not got:
                        return
                    data += got
                if answer is CLOSE:
                    return
                conn.sendall(answer)
                if answers[i + 1 : i + 2] == [CLOSE]:
                    return
            while conn.recv(4096):  # hold the connection open until the client goes
                pass

    def connection(self, read_timeout: float = 5.0) -> Connection:
        return Connection("http", "127.0.0.1", self.port, 5.0, read_timeout, lambda s: None)


def ok(body: bytes, *headers: str, status: str = "200 OK", version: str = "1.1") -> bytes:
    head = f"HTTP/{version} {status}\r\n" + "".join(h + "\r\n" for h in headers)
    return head.encode() + b"\r\n" + body


def sized(body: bytes, *headers: str, version: str = "1.1") -> bytes:
    return ok(body, f"Content-Length: {len(body)}", *headers, version=version)


def chunked(*pieces: bytes, headers: tuple[str, ...] = ()) -> bytes:
    chunks = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(p), p) for p in pieces)
    return ok(chunks + b"0\r\nX-Trailer: y\r\n\r\n", "Transfer-Encoding: chunked", *headers)


def fetch(conn: Connection, cap: int = 1 << 20) -> tuple[int, bytes, bool]:
    resp = conn.request(HEAD)
    body, truncated = resp.read(cap)
    return resp.status, body, truncated


def test_keep_alive_content_length_and_chunked_share_one_connection() -> None:
    server = Scripted([[sized(b"hello", "X-A: 1"), chunked(b"ab", b"cd"), sized(b"")]])
    conn = server.connection()
    resp = conn.request(HEAD)
    assert (resp.status, resp.headers["x-a"]) == (200, "1")
    assert resp.read(100) == (b"hello", False)
    assert fetch(conn) == (200, b"abcd", False)
    assert fetch(conn) == (200, b"", False)
    assert server.accepted == 1


def test_chunked_body_with_extensions_and_trailers() -> None:
    server = Scripted([[chunked(b"x" * 70_000, b"yz"), sized(b"next")]])
    conn = server.connection()
    assert fetch(conn) == (200, b"x" * 70_000 + b"yz", False)
    assert fetch(conn) == (200, b"next", False)  # the trailer was consumed
    assert server.accepted == 1


@pytest.mark.parametrize(
    ("coding", "encoded"),
    [
        ("gzip", gzip.compress(b"page " * 1000)),
        ("gzip", gzip.compress(b"page " * 500) + gzip.compress(b"page " * 500)),  # two members
        ("deflate", zlib.compress(b"page " * 1000)),
        ("deflate", zlib.compress(b"page " * 1000)[2:-4]),  # raw deflate, no zlib wrapper
    ],
)
def test_gzip_and_deflate_are_decoded(coding: str, encoded: bytes) -> None:
    server = Scripted([[sized(encoded, f"Content-Encoding: {coding}")]])
    resp = server.connection().request(HEAD)
    assert resp.read(1 << 20) == (b"page " * 1000, False)
    assert resp.wire == len(encoded)


def test_a_compression_bomb_stops_at_the_cap() -> None:
    bomb = gzip.compress(b"\0" * (16 << 20), 9)  # 16 MiB of zeros in ~16 KiB
    server = Scripted([[chunked(bomb, headers=("Content-Encoding: gzip",))]])
    resp = server.connection().request(HEAD)
    body, truncated = resp.read(1000)
    assert (len(body), truncated, set(body)) == (1000, True, {0})


def test_a_body_over_the_cap_is_cut_and_the_connection_not_reused() -> None:
    server = Scripted([[sized(b"a" * 5000), sized(b"never")], [sized(b"fresh")]])
    conn = server.connection()
    assert fetch(conn, cap=100) == (200, b"a" * 100, True)
    assert fetch(conn) == (200, b"fresh", False)
    assert server.accepted == 2


def test_informational_responses_are_skipped() -> None:
    server = Scripted([[ok(b"", status="100 Continue") + sized(b"done")]])
    assert fetch(server.connection()) == (200, b"done", False)


def test_read_to_close_and_http_1_0_bodies_end_the_connection() -> None:
    server = Scripted([[ok(b"until close"), CLOSE], [sized(b"1.0", version="1.0")], [sized(b"z")]])
    conn = server.connection()
    assert fetch(conn) == (200, b"until close", False)
    assert fetch(conn) == (200, b"1.0", False)
    assert fetch(conn) == (200, b"z", False)
    assert server.accepted == 3


def test_a_connection_the_server_closed_is_retried_once_on_a_new_one() -> None:
    server = Scripted([[sized(b"first"), CLOSE], [sized(b"second")]])
    conn = server.connection()
    assert fetch(conn)[1] == b"first"
    assert fetch(conn)[1] == b"second"
    assert server.accepted == 2


def test_bytes_after_the_body_are_not_taken_as_the_next_response() -> None:
    junk = b"HTTP/1.1 418 junk\r\nContent-Length: 0\r\n\r\n"
    server = Scripted([[sized(b"short") + junk], [sized(b"clean")]])
    conn = server.connection()
    assert fetch(conn)[1] == b"short"
    assert fetch(conn) == (200, b"clean", False)


def test_errors_are_typed() -> None:
    bad = Scripted([[b"SSH-2.0-OpenSSH\r\n\r\n"]])
    with pytest.raises(ProtocolError):
        bad.connection().request(HEAD)
    short = Scripted([[ok(b"abc", "Content-Length: 10"), CLOSE]])
    resp = short.connection().request(HEAD)
    with pytest.raises(IncompleteBody):
        resp.read(100)
    assert resp.wire == 3
    silent = Scripted([[]])
    with pytest.raises(TimeoutError):
        silent.connection(read_timeout=0.2).request(HEAD)
    broken = Scripted([[sized(b"not gzip", "Content-Encoding: gzip")]])
    with pytest.raises(zlib.error):
        broken.connection().request(HEAD).read(100)
