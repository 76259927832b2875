"""Routes under ``/trap/`` that misbehave on purpose (catalogue: ``site.TRAPS``).

Each one is bounded on the server side too: big bodies are streamed from a small reusable
chunk with flow control, never built in memory, and every slow route stops as soon as the
client goes away (``Connection.lost``) or the server stops (its task is cancelled).
"""

from __future__ import annotations

import asyncio
import html
import struct
import zlib
from collections.abc import Iterable
from typing import TYPE_CHECKING

from core.testsite.protocol import Connection, Reply, Request, Response, head_bytes
from core.testsite.site import TRAPS, error_body, mix

if TYPE_CHECKING:
    from core.testsite.server import App

MIB = 1024 * 1024
MAX_COUNTERS = 100_000
HTML = "text/html; charset=utf-8"


def _page(title: str, body: str) -> bytes:
    return (
        f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{title}</title></head>'
        f"<body><h1>{title}</h1>\n{body}\n</body></html>\n"
    ).encode()


def _links(hrefs: Iterable[str]) -> str:
    return "\n".join(f'<a href="{html.escape(h)}">{html.escape(h[:80])}</a><br>' for h in hrefs)


def _param(req: Request, name: str, default: int, low: int, high: int) -> int:
    for pair in req.query.split("&"):
        key, _, value = pair.partition("=")
        if key == name:
            try:
                return min(high, max(low, int(value)))
            except ValueError:
                return default
    return default


async def _pause(conn: Connection, seconds: float) -> bool:
    """Sleep, but wake at once when the client goes away; False when it has."""
    await asyncio.wait([conn.lost], timeout=seconds)
    return not conn.closed


async def _stream(conn: Connection, head: bytes, chunks: Iterable[bytes], head_only: bool) -> None:
    conn.write(head)
    if not head_only:
        for chunk in chunks:
            if conn.closed:
                return
            conn.write(chunk)
            await conn.drain()
    conn.close()


def _repeat(chunk: bytes, total: int) -> Iterable[bytes]:
    """``total`` bytes made of ``chunk`` repeated (the last one cut)."""
    full, rest = divmod(total, len(chunk))
    for _ in range(full):
        yield chunk
    if rest:
        yield chunk[:rest]


_FILLER = ("<p>" + "all work and no play makes a very dull crawl " * 20 + "</p>\n").encode() * 64


def _png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00\xff\x80\x00")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 72 72]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)

_MALFORMED = (
    b"<html><head><title>Malformed <b>title</title><body bgcolor=#fff <p>unclosed "
    b"<a href=\"/page/1\">one<a href=/page/2 >two</a> <a href='/page/3'three</a> "
    b"<div><span><table><tr><td>cell</div></span> < stray << less-than & ampersand &bogus; "
    b'<a href="/page/4" href="/page/5">double href</a> <a hr ef="/x">broken</a> '
    b'<!-- unterminated comment <a href="/trap/echo/in-comment">hidden</a> '
    b"<script>document.write('<a href=\"/trap/echo/in-script\">')</script>"
    b'</html></html></body><a href="/page/6">after the end'
)

_ODD_HREFS = (
    "javascript:alert(1)",
    "JavaScript:void(0)",
    "mailto:someone@example.com",
    "tel:+15551234",
    "data:text/html,<a href=/page/1>x</a>",
    "ftp://127.0.0.1/pub/",
    "file:///etc/passwd",
    "../../../../page/1",
    "/../../page/2",
    "/page/%33",
    "/trap/echo/%7Euser",
    "/trap/echo/~user",
    "/trap/echo/caf%C3%A9",
    "/trap/echo/café",
    "/trap/echo/a%2Fb",
    "/trap/echo/space%20here",
    "/trap/echo/100%",
    "http://bücher.example/",
    "http://xn--bcher-kva.example/",
    "http://[::1]:1/",
    "http://user:pass@offsite.invalid/",
    "/page/1#top",
    "/page/1#",
    "/PAGE/1",
    "  /page/1  ",
    "",
    "#",
    "?",
    "//offsite.invalid/protocol-relative",
)


class TrapRoutes:
    """Dispatches ``/trap/<name>/...``; keeps the little per-path state some traps need."""

    def __init__(self, app: App) -> None:
        self.app = app
        self._gzip_member: bytes | None = None
        self._deflate_block: bytes | None = None

    def reset(self) -> None:
        self._hits: dict[str, int] = {}
        self._sessions = 0

    def _hit(self, key: str) -> int:
        """How many times ``key`` was asked for before (bounded memory)."""
        if len(self._hits) >= MAX_COUNTERS:
            self._hits.clear()
        n = self._hits.get(key, 0)
        self._hits[key] = n + 1
        return n

    def handle(self, req: Request, conn: Connection) -> Reply:
        parts = req.path.split("/")  # ["", "trap", name, ...]
        name = parts[2] if len(parts) > 2 else ""
        self.app.count(f"/trap/{name}" if name else "/trap/")
        route = getattr(self, "r_" + name.replace("-", "_"), None) if name else self.r_index
        if route is None:
            return Response(404, error_body(404, "Not Found"))
        return route(req, conn, parts[3:])

    # --- index --------------------------------------------------------------------------
    def r_index(self, req: Request, conn: Connection, rest: list[str]) -> Reply:
        rows = "\n".join(
            f'<li><a href="{html.escape(path)}">{name}</a>: {html.escape(what)}</li>'
            for name, (path, what) in TRAPS.items()
        )
        return Response(body=_page("Traps", f"<ul>\n{rows}\n</ul>"))

    # --- redirects ------------------------------------------------------------------------
    def r_redirect_loop(self, req: Request, conn: Connection, rest: list[str]) -> Reply:
        target = {"a": "/trap/redirect-loop/b", "b": "/trap/redirect-loop/a"}
        return _redirect(target.get(rest[0] if rest else "", "/trap/redirect-loop/a"))

    def r_redirect_chain(self, req: Request, conn: Connection, rest: list[str]) -> Reply:
        hops = int(rest[0]) if rest and rest[0].isdigit() else 30
        hops = min(hops, 100_000)
        if hops == 0:
            return Response(body=_page("End of the chain", '<a href="/">home</a>'))
        return _redirect(f"/trap/redirect-chain/{hops - 1}")

    def r_redirect_scheme(self, req: Request, conn: Connection, rest: list[str]) -> Reply:
        targets = {
            "file": "file:///etc/passwd",
            "ftp": "ftp://127.0.0.1/pub/index.html",
            "data": "data:text/html,<a href=/page/1>x</a>",
            "javascript": "javascript:alert(1)",
            "mailto": "mailto:someone@example.com",
        }
        target = targets.get(rest[0] if rest else "")
        return _redirect(target) if target else Response(404, error_body(404, "Not Found"))

    def r_redirect_offsite(self, req: Request, conn: Connection, rest: list[str]) -> Reply:
        return _redirect("http://offsite.invalid/page/1")

    # --- slow and silent ----------------------------------------------------------------
    def r_never_answer(self, req: Request, conn: Connection, rest: list[str]) -> Reply:
        return conn.wait_closed()

    async def _slow_headers(self, conn: Connection, interval: float, limit: int) -> None:
        conn.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n")
        for i in range(limit):
            if not await _pause(conn, interval):
                return
            conn.write(f"X-Still-Coming-{i}: {i}\r\n".encode())
        conn.close()

    def r_slow_headers(self, req: Request, conn: Connection, rest: list[str]) -> Reply:
        interval = _param(req, "interval_ms", 1000, 1, 60_000) / 1000
        return self._slow_headers(conn, interval, _param(req, "lines", 3600, 1, 86_400))

    async def _trickle(
        self, conn: Connection, total: int, interval: float, head_only: bool
    ) -> None:
        conn.write(head_bytes(200, HTML, total, close=True))
        body = _FILLER
        for i in range(0 if head_only else total):
            if i and not await _pause(conn, interval):
                return
            conn.write(body[i % len(body) : i % len(body) + 1])
        conn.close()

    def r_trickle(self, req: Request, conn: Connection, rest: list[str]) -> Reply:
        total = _param(req, "bytes", 3600, 1, 1_000_000)
        interval = _param(req, "interval_ms", 1000, 1, 60_000) / 1000
        return self._trickle(conn, total, interval, req.method == "HEAD")

    async def _reset(self, conn: Connection) -> None:
        conn.write(head_bytes(200, HTML, MIB))
        conn.write(_FILLER[: 16 * 1024])
        await conn.flush()
        await _pause(conn, 0.05)
        conn.reset()

    def r_reset(self, req: Request, conn: Connection, rest: list[str]) -> Reply:
        return self._reset(conn)

    # --- size -----------------------------------------------------------------------------
    def r_huge(self, req: Request, conn: Connection, rest: list[str]) -> Reply:
        total = _param(req, "mib", 4096, 1, 1 << 20) * MIB
        head = head_bytes(200, HTML, total, close=True)
        return _stream(conn, head, _repeat(_FILLER, total), req.method == "HEAD")

    def r_length_short(self, req: Request, conn: Connection, rest: list[str]) -> Reply:
        head = head_bytes(200, HTML, 512, close=True)
        return _stream(conn, head, [_FILLER[: 16 * 1024]], req.method == "HEAD")

    async def _length_long(self, conn: Connection) -> None:
        conn.write(head_bytes(200, HTML, MIB, close=True) + _FILLER[:4096])
        await conn.flush()
        conn.close()

    def r_length_long(self, req: Request, conn: Connection, rest: list[str]) -> Reply:
        return self._length_long(conn)

    def r_gzip_bomb(self, req: Request, conn: Connection, rest: list[str]) -> Reply:
        if self._gzip_member is None:  # one gzip member per MiB of spaces, ~1 KiB each
            import gzip

            self._gzip_member = gzip.compress(b" " * MIB, 9, mtime=0)
        mib = _param(req, "mib", 1024, 1, 1 << 20)
        member = self._gzip_member
        headers = [("Content-Encoding", "gzip")]
        head = head_bytes(200, HTML, mib * len(member), headers, close=True)
        return _stream(conn, head, _repeat(member * 64, mib * len(member)), req.method == "HEAD")

    def r_deflate_bomb(self, req: Request, conn: Connection, rest: list[str]) -> Reply:
        if self._deflate_block is None:  # after a full flush every MiB compresses the same
            packer = zlib.compressobj(9, zlib.DEFLATED, -15)
            packer.compress(b" " * MIB)
            packer.flush(zlib.Z_FULL_FLUSH)
            self._deflate_block = packer.compress(b" " * MIB) + packer.flush(zlib.Z_FULL_FLUSH)
        mib = _param(req, "mib", 1024, 1, 1 << 20)
        block = self._deflate_block
        n = mib * MIB
        adler_a, adler_b = (1 + 32 * n) % 65521, (n + 32 * (n * (n + 1) // 2)) % 65521
        tail = b"\x03\x00" + struct.pack(">I", (adler_b << 16) | adler_a)
        total = 2 + mib * len(block) + len(tail)
        head = head_bytes(200, HTML, total, [("Content-Encoding", "deflate")], close=True)
        chunks = [b"\x78\xda", *_repeat(block * 64, mib * len(block)), tail]
        return _stream(conn, head, chunks, req.method == "HEAD")

    # --- content --------------------------------------------------------------------------
    def r_binary_html(self, req: Request, conn: Connection, rest: list[str]) -> Reply:
        seed = self.app.config.seed
        body = b"".join(mix(seed, 9, i).to_bytes(8, "little") for i in range(8192))
        return Response(body=body)

    def r_bad_utf8(self, req: Request, conn: Connection, rest: list[str]) -> Reply:
        body = (
            b'<!DOCTYPE html><html><head><meta charset="utf-8"><title>bad \xff\xfe utf-8</title>'
            b"</head><body><p>overlong \xc0\xaf, lone surrogate \xed\xa0\x80, truncated \xe2\x82"
            b', stray continuation \x80\x80 <a href="/page/1">one \xc3\x28</a> '
            b'<a href="/trap/echo/\xff\xfe">raw bytes in href</a></p></body></html>\n'
        )
        return Response(body=body)

    def r_wrong_charset(self, req: Request, conn: Connection, rest: list[str]) -> Reply:
        body = (
            '<!DOCTYPE html><html><head><meta charset="koi8-r"><title>Café – naïve</title>'
            '</head><body><p>Ünïcödé “quotes” – dash <a href="/page/1">one</a></p></body></html>\n'
        ).encode("cp1252")
        return Response(body=body, content_type="text/html; charset=utf-16")

    def r_codec_label(self, req: Request, conn: Connection, rest: list[str]) -> Reply:
        body = _page("Codec label", '<a href="/page/1">one</a>')
        return Response(body=body, content_type="text/html; charset=base64")

    def r_pdf(self, req: Request, conn: Connection, rest: list[str]) -> Reply:
        return Response(body=_PDF, content_type="application/pdf")

    def r_png(self, req: Request, conn: Connection, rest: list[str]) -> Reply:
        return Response(body=_png(), content_type="image/png")

    def r_malformed(self, req: Request, conn: Connection, rest: list[str]) -> Reply:
        return Response(body=_MALFORMED)

    def r_deep_nesting(self, req: Request, conn: Connection, rest: list[str]) -> Reply:
        depth = _param(req, "depth", 100_000, 1, 1_000_000)
        inner = b'<a href="/page/1">deep inside</a>'
        return Response(body=b"<html><body>" + b"<div>" * depth + inner + b"</div>" * depth)

    def r_million_links(self, req: Request, conn: Connection, rest: list[str]) -> Reply:
        if rest:  # one of the million targets: a small page without links
            return Response(body=_page(f"Link {html.escape(rest[0])}", ""))
        n = _param(req, "n", 1_000_000, 1, 10_000_000)

        def chunks() -> Iterable[bytes]:
            yield b"<!DOCTYPE html><html><body>\n"
            for start in range(0, n, 2000):
                yield "".join(
                    f'<a href="/trap/million-links/{i}">{i}</a>\n'
                    for i in range(start, min(n, start + 2000))
                ).encode()
            yield b"</body></html>\n"

        head = head_bytes(200, HTML, None, close=True)  # length: until the connection closes
        return _stream(conn, head, chunks(), req.method == "HEAD")

    def r_long_url(self, req: Request, conn: Connection, rest: list[str]) -> Reply:
        if rest:
            return Response(body=_page("Long URL target", f"{len(req.target)} characters"))
        kib = _param(req, "kib", 100, 1, 200)
        href = "/trap/long-url/target?q=" + "a" * (kib * 1024)
        return Response(body=_page("A very long link", f'<a href="{href}">long</a>'))

    def r_odd_links(self, req: Request, conn: Connection, rest: list[str]) -> Reply:
        return Response(body=_page("Odd links", _links(_ODD_HREFS)))

    def r_echo(self, req: Request, conn: Connection, rest: list[str]) -> Reply:
        return Response(body=_page("Echo", f"<pre>{html.escape(req.target)}</pre>"))

    # --- traps for crawlers -----------------------------------------------------------------
    def r_calendar(self, req: Request, conn: Connection, rest: list[str]) -> Reply:
        try:
            year, month = int(rest[0]), int(rest[1])
        except (IndexError, ValueError):
            return _redirect("/trap/calendar/2000/01")
        if not (1 <= year <= 9999 and 1 <= month <= 12):
            return Response(404, error_body(404, "Not Found"))
        nxt = (year + month // 12, month % 12 + 1)
        prev = (year - (month == 1), (month - 2) % 12 + 1)
        hrefs = [f"/trap/calendar/{y:04d}/{m:02d}" for y, m in (nxt, prev) if 1 <= y <= 9999]
        hrefs.append(f"/trap/calendar/{year + 1:04d}/{month:02d}")
        return Response(body=_page(f"Calendar {year:04d}-{month:02d}", _links(hrefs)))

    def r_session(self, req: Request, conn: Connection, rest: list[str]) -> Reply:
        hrefs = []
        for _ in range(2):
            self._sessions += 1
            sid = f"{mix(self.app.config.seed, 6, self._sessions):016x}"
            hrefs.append(f"/trap/session?sid={sid}")
        return Response(body=_page("Session", _links(hrefs)))

    def r_status(self, req: Request, conn: Connection, rest: list[str]) -> Reply:
        code = int(rest[0]) if rest and rest[0].isdigit() else 0
        if not 400 <= code <= 599:
            return Response(404, error_body(404, "Not Found"))
        return Response(code, error_body(code, "Status"))

    def r_retry(self, req: Request, conn: Connection, rest: list[str]) -> Reply:
        code = int(rest[0]) if rest and rest[0] in ("429", "503") else 503
        fail = _param(req, "fail", 2, 0, 1000)
        if self._hit(req.target) < fail:
            after = str(_param(req, "after", 1, 0, 86_400))
            return Response(code, error_body(code, "Retry later"), headers=[("Retry-After", after)])
        return Response(body=_page("Retry succeeded", '<a href="/">home</a>'))

    def r_burst(self, req: Request, conn: Connection, rest: list[str]) -> Reply:
        if rest:
            return Response(500, error_body(500, "Internal Server Error"))
        n = _param(req, "n", 50, 1, 10_000)
        return Response(body=_page("Burst of 500s", _links(f"/trap/burst/{i}" for i in range(n))))

    def r_flaky(self, req: Request, conn: Connection, rest: list[str]) -> Reply:
        if not rest:
            n = _param(req, "n", 20, 1, 10_000)
            return Response(body=_page("Flaky", _links(f"/trap/flaky/{i}" for i in range(n))))
        nth = self._hit(req.target)
        if mix(self.app.config.seed, 8, zlib.crc32(req.target.encode()), nth) & 1:
            return Response(500, error_body(500, "Flaky"))
        return Response(body=_page("Flaky but fine", ""))


def _redirect(location: str) -> Response:
    return Response(302, b"", headers=[("Location", location)])
