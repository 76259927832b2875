"""HTTP fetching for crawl workers: bounded in size, in time and in what it follows.

- One ``requests.Session`` per worker thread (``threading.local``), ``trust_env=False``; its
  adapter's urllib3 pools carry the requests (see ``Fetcher._request`` for why not ``get``).
  Plain-HTTP connections are tuned for GIL hand-offs: one ``send`` and one ``recv`` a page
  (``_KernelTimedSocket``), headers parsed without ``email`` (``_Response``).
- Bodies are capped at ``max_body_bytes`` of *decoded* content: an identity body whose
  Content-Length fits is read in one call, any other is streamed through urllib3's bounded
  decompression, so a gzip or deflate bomb costs at most the cap in memory.
  A capped body is returned with ``truncated=True`` (never refused).
- Redirects are followed by hand, up to ``max_redirects``; every hop must stay http(s) and in
  ``allowed_hosts``.
- Connection errors, 429 and 503 are retried up to ``retries`` times with exponential
  back-off, or after ``Retry-After`` (seconds or an HTTP date) capped by ``retry_after_cap``.
- ``deadline`` bounds the whole ``fetch`` call (hops, retries and waits included). requests'
  timeouts only bound each socket read, so every socket a fetch uses is recorded and a
  watchdog thread shuts it down when the deadline passes; ``interrupt_all`` does the same to
  every in-flight request at once, which is how a crawl stops promptly.

An HTTP status (404, 500, ...) is not an error: ``status`` carries it and ``error`` is None.
``error`` is set when no final response could be had (``status`` None) or its body could not
be read to the end (``status`` as the headers said, ``body`` empty); ``error.kind`` is one of
``ERROR_KINDS``.
"""

from __future__ import annotations

import contextlib
import email.utils
import http.client
import socket
import struct
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast, overload
from urllib.parse import urlsplit

import requests
from requests.adapters import DEFAULT_CA_BUNDLE_PATH, HTTPAdapter
from urllib3 import BaseHTTPResponse, Retry, Timeout
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import (
    DecodeError,
    IncompleteRead,
    LocationParseError,
    LocationValueError,
    NewConnectionError,
    ProtocolError,
)
from urllib3.exceptions import TimeoutError as Urllib3Timeout

from core.events import ErrorInfo
from core.settings import CrawlSettings
from core.urls import normalize

ERROR_KINDS = (
    "timeout",  # connect or one read took longer than connect_timeout / read_timeout
    "deadline",  # the whole fetch took longer than settings.deadline
    "connection",  # refused, unreachable, DNS, or dropped before a response
    "reset",  # connection reset by the peer
    "incomplete",  # the body ended before its Content-Length
    "decode",  # the body could not be decompressed
    "redirect_loop",
    "too_many_redirects",
    "redirect_refused",  # a hop to a non-http(s) scheme or out of scope
    "interrupted",  # interrupt_all() or close() was called
    "invalid_url",
    "unexpected",
)
REDIRECT_STATUSES = frozenset((301, 302, 303, 307, 308))
RETRY_STATUSES = frozenset((429, 503))
RETRY_ERRORS = frozenset(("connection", "reset"))
BACKOFF_BASE = 0.25  # seconds; doubled on each retry
WATCHDOG_INTERVAL = 0.05
CHUNK = 64 * 1024
NO_RETRIES = Retry.from_int(False, redirect=False)  # retries are ours: see _fetch_with_retries
FRESH_S = 1.0  # a kept-alive connection used this recently is reused without a check


@dataclass(frozen=True, slots=True)
class FetchOutcome:
    """What one ``fetch`` produced.

    ``bytes`` counts body bytes as received on the wire (compressed size for a compressed
    body; what was read before a cap or an error), ``body`` holds the decoded content, at
    most ``max_body_bytes``. ``redirects`` is the number of hops followed.
    """

    url: str
    status: int | None
    final_url: str
    content_type: str
    body: bytes
    bytes: int
    elapsed_ms: float
    error: ErrorInfo | None = None
    truncated: bool = False
    redirects: int = 0


class _Flight:
    """One fetch in progress: its deadline and the socket it is using right now."""

    __slots__ = ("deadline", "reason", "sock")

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.sock: socket.socket | None = None
        self.reason: str | None = None  # "deadline" or "interrupted" once cut off

    def attach(self, sock: socket.socket | None) -> None:
        self.sock = sock
        if self.reason is not None:  # cut off before the socket was known
            _shutdown(sock)

    def cut(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason
        _shutdown(self.sock)


_current = threading.local()  # .flight: the _Flight of this thread's fetch, if any


def _shutdown(sock: socket.socket | None) -> None:
    if sock is not None:
        with contextlib.suppress(OSError):  # already closed or never connected
            sock.shutdown(socket.SHUT_RDWR)


def _attach_to_flight(sock: socket.socket | None) -> None:
    flight = getattr(_current, "flight", None)
    if flight is not None and sock is not None:
        flight.attach(sock)


if TYPE_CHECKING:
    _Connection = HTTPConnection  # what the mixin below is mixed into
else:
    _Connection = object

_T = TypeVar("_T")


class _Tracked(_Connection):
    """Mixin for urllib3 connections: reports the socket to the calling thread's fetch, new or
    reused, so stop and the deadline watchdog can shut it."""

    def _new_conn(self) -> socket.socket:
        sock = self._adopt(super()._new_conn())
        _attach_to_flight(sock)
        return sock

    def _adopt(self, sock: socket.socket) -> socket.socket:
        return sock

    def request(self, *args: Any, **kwargs: Any) -> None:
        _attach_to_flight(self.sock)
        super().request(*args, **kwargs)


class _KernelTimedSocket(socket.socket):
    """A blocking socket whose read and send timeouts the kernel enforces.

    With Python's own socket timeouts every send and recv is preceded by a ``poll()`` and
    every ``settimeout`` (urllib3 calls it twice a request) is an ``ioctl``: each is a GIL
    release, and with many worker threads each release is a hand-off to another thread
    (~9 per page). Here the timeouts are set once per connection with ``SO_RCVTIMEO`` /
    ``SO_SNDTIMEO``, so a page costs one ``send`` and one or two ``recv`` calls; a kernel
    timeout surfaces as the ``TimeoutError`` a Python timeout would raise.
    """

    __slots__ = ("_timeout",)
    _timeout: float

    @classmethod
    def adopt(cls, sock: socket.socket, timeout: float) -> _KernelTimedSocket:
        fast = cls(sock.family, sock.type, sock.proto, sock.detach())
        fast._timeout = timeout
        seconds = int(timeout)
        value = struct.pack("ll", seconds, int((timeout - seconds) * 1e6))
        fast.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, value)
        fast.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, value)
        super().settimeout(fast, None)
        return fast

    def settimeout(self, value: float | None) -> None:
        """Kept as set at connect: urllib3 asks for it before every send and read."""

    def gettimeout(self) -> float | None:
        return self._timeout

    def makefile(self, mode: Any = "r", buffering: int | None = None, **kwargs: Any) -> Any:
        # One recv for a whole typical page rather than the io default of 8 KiB.
        return super().makefile(mode, CHUNK if buffering is None else buffering, **kwargs)

    def recv_into(self, *args: Any) -> int:
        try:
            return super().recv_into(*args)
        except BlockingIOError:
            raise TimeoutError("timed out") from None

    def sendall(self, *args: Any) -> None:
        try:
            super().sendall(*args)
        except BlockingIOError:
            raise TimeoutError("timed out") from None


_read_headers = http.client._read_headers  # type: ignore[attr-defined]  # private, untyped


class _Response(http.client.HTTPResponse):
    """``http.client``'s response with the header block parsed directly, not by ``email``.

    ``begin`` is http.client's (CPython 3.11-3.13) step for step, with the same line and
    count limits; only ``email.parser`` is left out: it was a quarter of the GIL-held time
    of a page (py-spy --gil, 16 threads on nginx). Lines without a colon are skipped and
    folded lines are joined, where ``email`` would have given up on the rest of the block.
    """

    if TYPE_CHECKING:  # http.client's private steps that begin() uses, not in typeshed

        def _read_status(self) -> tuple[str, int, str]: ...
        def _check_close(self) -> bool: ...

        _method: str | None

    def begin(self) -> None:
        if self.headers is not None:
            return
        version, status, reason = self._read_status()
        while status == http.client.CONTINUE:
            _read_headers(self.fp)
            version, status, reason = self._read_status()
        self.code = self.status = status
        self.reason = reason.strip()
        if version in ("HTTP/1.0", "HTTP/0.9"):
            self.version = 10
        elif version.startswith("HTTP/1."):
            self.version = 11
        else:
            raise http.client.UnknownProtocol(version)
        self.headers = self.msg = _header_message(_read_headers(self.fp))
        encoding = self.headers.get("transfer-encoding")
        self.chunked = encoding is not None and encoding.lower() == "chunked"
        self.chunk_left = None
        self.will_close = self._check_close()
        self.length = None
        length = self.headers.get("content-length")
        if length and not self.chunked:
            with contextlib.suppress(ValueError):
                value = int(length)
                self.length = value if value >= 0 else None
        if status in (204, 304) or 100 <= status < 200 or self._method == "HEAD":
            self.length = 0
        if not self.will_close and not self.chunked and self.length is None:
            self.will_close = True


def _header_message(lines: list[bytes]) -> _Headers:
    headers: list[tuple[str, str]] = []
    for line in lines:
        text = line.decode("iso-8859-1").rstrip("\r\n")
        if text[:1] in (" ", "\t"):  # obsolete line folding: continues the previous value
            if headers:
                name, value = headers[-1]
                headers[-1] = (name, f"{value} {text.strip()}")
            continue
        name, colon, value = text.partition(":")
        if colon and name:
            headers.append((name, value.strip()))
    message = _Headers()
    message._headers = headers  # what email's compat32 policy would store for these lines
    return message


class _Headers(http.client.HTTPMessage):
    """An ``HTTPMessage`` whose two hot reads skip the email policy layer.

    http.client and urllib3 call ``get`` and ``items`` on every response; through
    ``email.message.Message`` each value passes the policy's fetch hook, which for these
    values (Latin-1 text, no surrogates) returns them unchanged. Everything else is
    inherited and sees the same ``_headers`` list.
    """

    _headers: list[tuple[str, str]]

    @overload
    def get(self, name: str, failobj: None = None) -> str | None: ...
    @overload
    def get(self, name: str, failobj: _T) -> str | _T: ...
    def get(self, name: str, failobj: object = None) -> object:
        name = name.lower()
        for key, value in self._headers:
            if key.lower() == name:
                return value
        return failobj

    def items(self) -> list[tuple[str, str]]:
        return list(self._headers)


class _TrackedHTTPConnection(_Tracked, HTTPConnection):
    """Plain HTTP, the hot path: kernel-timed socket, lean response, cheap liveness check.

    (TLS sockets keep Python's timeouts: the ssl module reads and writes on its own terms.)
    """

    read_timeout: float  # set by the pool: the kernel timeout of the connection's socket
    response_class = _Response
    last_used = 0.0

    @property
    def is_connected(self) -> bool:
        # urllib3 asks before every reuse, and the answer is a poll(): one more GIL release
        # a page. A connection used within FRESH_S is taken as alive; a server that closed
        # it sooner (while saying keep-alive) costs one retry of that page.
        if self.sock is not None and time.monotonic() - self.last_used < FRESH_S:
            return True
        return super().is_connected

    def _adopt(self, sock: socket.socket) -> socket.socket:
        return _KernelTimedSocket.adopt(sock, self.read_timeout)

    def request(self, *args: Any, **kwargs: Any) -> None:
        self.last_used = time.monotonic()
        super().request(*args, **kwargs)


class _TrackedHTTPSConnection(_Tracked, HTTPSConnection):
    pass


class _TrackedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _TrackedHTTPConnection

    def _new_conn(self) -> _TrackedHTTPConnection:
        conn = cast(_TrackedHTTPConnection, super()._new_conn())  # our ConnectionCls
        read_timeout = self.timeout.read_timeout
        assert read_timeout is not None  # the fetcher's Timeout always has one
        conn.read_timeout = read_timeout
        return conn


class _TrackedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _TrackedHTTPSConnection


class _TrackedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        # What requests' cert_verify() would set per request: verify against certifi's bundle.
        kwargs.setdefault("cert_reqs", "CERT_REQUIRED")
        kwargs.setdefault("ca_certs", DEFAULT_CA_BUNDLE_PATH)
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _TrackedHTTPPool,
            "https": _TrackedHTTPSPool,
        }


class Fetcher:
    """Fetches URLs for any number of worker threads; ``close()`` when done."""

    def __init__(self, settings: CrawlSettings) -> None:
        self.settings = settings
        self._allowed_hosts = frozenset(settings.allowed_hosts)
        self._timeout = Timeout(connect=settings.connect_timeout, read=settings.read_timeout)
        self._headers = {
            "User-Agent": settings.user_agent,
            "Accept": "text/html,application/xhtml+xml,*/*;q=0.8",
            "Accept-Encoding": "gzip, deflate",
        }
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._flights: set[_Flight] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._closed = threading.Event()
        self._watchdog = threading.Thread(
            target=self._watch, name="crawl-fetch-watchdog", daemon=True
        )
        self._watchdog.start()

    # -- control -----------------------------------------------------------------------------
    def interrupt_all(self) -> None:
        """Cut off every in-flight fetch now; later fetches return ``interrupted`` at once."""
        self._stop.set()
        with self._lock:
            flights = tuple(self._flights)
        for flight in flights:
            flight.cut("interrupted")

    def close(self) -> None:
        """Interrupt, stop the watchdog and close every session; idempotent."""
        self.interrupt_all()
        self._closed.set()
        if self._watchdog is not threading.current_thread():
            self._watchdog.join()
        with self._lock:
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.close()

    def _watch(self) -> None:
        while not self._closed.wait(WATCHDOG_INTERVAL):
            now = time.monotonic()
            with self._lock:
                late = [f for f in self._flights if f.deadline <= now and f.reason is None]
            for flight in late:
                flight.cut("deadline")

    # -- fetching ----------------------------------------------------------------------------
    def fetch(self, url: str) -> FetchOutcome:
        """GET ``url`` (following allowed redirects, retrying transient failures)."""
        started = time.monotonic()
        if self._stop.is_set():
            return _failed(url, url, started, "interrupted", "the fetcher was stopped")
        flight = _Flight(started + self.settings.deadline)
        with self._lock:
            self._flights.add(flight)
        _current.flight = flight
        try:
            return self._fetch_with_retries(url, flight, started)
        finally:
            _current.flight = None
            with self._lock:
                self._flights.discard(flight)

    def _fetch_with_retries(self, url: str, flight: _Flight, started: float) -> FetchOutcome:
        retries = self.settings.retries
        attempt = 0
        while True:
            outcome, retry_after = self._follow(url, flight, started)
            retryable = (outcome.error is None and outcome.status in RETRY_STATUSES) or (
                outcome.error is not None and outcome.error.kind in RETRY_ERRORS
            )
            if not retryable or attempt >= retries:
                return outcome
            wait = BACKOFF_BASE * 2**attempt if retry_after is None else retry_after
            wait = min(wait, self.settings.retry_after_cap)
            if time.monotonic() + wait >= flight.deadline:
                return outcome  # no time left for another try: report the last answer
            if self._stop.wait(wait):
                return _failed(url, url, started, "interrupted", "stopped while backing off")
            attempt += 1

    def _follow(
        self, url: str, flight: _Flight, started: float
    ) -> tuple[FetchOutcome, float | None]:
        """One attempt: the request and its redirect hops; also the Retry-After, if any."""
        current = normalize(url, max_length=1 << 20)
        if current is None:
            return _failed(url, url, started, "invalid_url", f"cannot fetch {url[:200]!r}"), None
        seen = {current}
        hops = 0
        wire = 0
        while True:
            try:
                resp = self._request(current)
            except Exception as exc:
                return _failed(url, current, started, *_classify(exc, flight), hops, wire), None
            status = resp.status
            location = resp.headers.get("Location") if status in REDIRECT_STATUSES else None
            if location is None:
                body, wire_now, truncated, error = self._read_body(resp, flight)
                wire += wire_now
                outcome = FetchOutcome(
                    url=url,
                    status=status,
                    final_url=current,
                    content_type=resp.headers.get("Content-Type", ""),
                    body=body,
                    bytes=wire,
                    elapsed_ms=(time.monotonic() - started) * 1000,
                    error=error,
                    truncated=truncated,
                    redirects=hops,
                )
                retry_after = None
                if status in RETRY_STATUSES and error is None:
                    retry_after = parse_retry_after(resp.headers.get("Retry-After"))
                return outcome, retry_after
            _discard(resp)
            hops += 1
            target = normalize(location, current)
            refusal = self._refuse_hop(location, target, seen, hops)
            if refusal is not None:
                return _failed(url, current, started, *refusal, hops, wire), None
            assert target is not None  # refused above when it cannot be crawled
            seen.add(target)
            current = target
            if flight.reason is not None:
                return _failed(url, current, started, *_cut_error(flight), hops, wire), None

    def _request(self, url: str) -> BaseHTTPResponse:
        """Send a GET on this thread's pooled connection for the URL's origin.

        This goes to the urllib3 pool under the thread's ``requests.Session`` adapter rather
        than through ``Session.get``: requests' per-call preparation (settings merge, URL
        re-parsing, cookie jar, hooks) costs ~240 µs CPU per request, more than the rest of
        the fetch; nothing of it is needed for a normalised URL and fixed headers.
        """
        slash = url.find("/", url.find("//") + 2)
        origin, target = (url[:slash], url[slash:]) if slash >= 0 else (url, "/")
        pools = self._local.__dict__.get("pools")
        if pools is None:
            pools = self._thread_pools()
        pool = pools.get(origin)
        if pool is None or pool.pool is None:  # new origin, or evicted by the pool manager
            pool = pools[origin] = self._local.adapter.poolmanager.connection_from_url(origin)
        return pool.urlopen(
            "GET",
            target,
            headers=self._headers,
            redirect=False,
            retries=NO_RETRIES,
            timeout=self._timeout,
            preload_content=False,
            decode_content=True,
            assert_same_host=False,
        )

    def _refuse_hop(
        self, location: str, target: str | None, seen: set[str], hops: int
    ) -> tuple[str, str] | None:
        shown = location[:200]
        if target is None:
            return "redirect_refused", f"redirect to a URL that cannot be crawled: {shown}"
        host = urlsplit(target).hostname or ""
        if host not in self._allowed_hosts:
            return "redirect_refused", f"redirect out of scope to {host}: {shown}"
        if target in seen:
            return "redirect_loop", f"redirect back to {target[:200]}"
        if hops > self.settings.max_redirects:
            return "too_many_redirects", f"more than {self.settings.max_redirects} redirects"
        return None

    def _read_body(
        self, resp: BaseHTTPResponse, flight: _Flight
    ) -> tuple[bytes, int, bool, ErrorInfo | None]:
        """Decoded body up to the cap, wire bytes read, whether it was cut, or the error."""
        cap = self.settings.max_body_bytes
        chunks: list[bytes] = []
        size = 0
        truncated = False
        error: ErrorInfo | None = None
        length = resp.length_remaining
        known = length is not None and length <= cap and "content-encoding" not in resp.headers
        try:
            if known:  # an identity body whose length is known and within the cap: one read
                chunks.append(resp.read())
            else:
                for chunk in resp.stream(CHUNK, decode_content=True):
                    chunks.append(chunk)
                    size += len(chunk)
                    if size > cap:  # one byte past the cap proves there was more
                        truncated = True
                        break
        except Exception as exc:
            error = ErrorInfo(*_classify(exc, flight))
        if error is None and flight.reason is not None:
            error = ErrorInfo(*_cut_error(flight))  # the socket was shut mid-body: not an EOF
        wire = resp.tell()
        if error is not None or truncated:
            resp.close()  # unread bytes left on the connection: it cannot be reused
        resp.release_conn()
        if error is not None:
            return b"", wire, False, error
        if truncated:  # cut the last chunk, not the joined body: one copy of the cap, not two
            chunks[-1] = chunks[-1][: len(chunks[-1]) - (size - cap)]
        return b"".join(chunks), wire, truncated, None

    def _thread_pools(self) -> dict[str, HTTPConnectionPool]:
        """Set up this thread's session (the owner of its connection pools)."""
        session = requests.Session()
        session.trust_env = False
        adapter = _TrackedAdapter(
            pool_connections=max(4, len(self._allowed_hosts)),
            pool_maxsize=self.settings.threads,
            max_retries=0,
        )
        adapter.poolmanager.connection_pool_kw["timeout"] = self._timeout
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        self._local.adapter = adapter
        pools: dict[str, HTTPConnectionPool] = {}
        self._local.pools = pools
        with self._lock:
            self._sessions.append(session)
        return pools


def _discard(resp: BaseHTTPResponse) -> None:
    """Let go of a response whose body is not wanted, keeping the connection if cheap."""
    remaining = resp.length_remaining
    try:
        if remaining is not None and remaining <= CHUNK:
            resp.read(decode_content=False)
        else:
            resp.close()
    except Exception:
        resp.close()
    resp.release_conn()


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - time.time())


def _cut_error(flight: _Flight) -> tuple[str, str]:
    if flight.reason == "deadline":
        return "deadline", "the request took longer than the total deadline"
    return "interrupted", "the request was interrupted by stop"


def _classify(exc: BaseException, flight: _Flight) -> tuple[str, str]:
    """Error kind and message for an exception raised while fetching."""
    if flight.reason is not None:
        return _cut_error(flight)
    message = f"{type(exc).__name__}: {exc}"[:300]
    causes = _causes(exc)
    for kind, types in _KINDS_BY_CAUSE:
        if any(isinstance(c, types) for c in causes):
            return kind, message
    return "unexpected", message


_KINDS_BY_CAUSE: tuple[tuple[str, type | tuple[type, ...]], ...] = (
    ("connection", NewConnectionError),  # first: urllib3 makes it a ConnectTimeoutError too
    ("timeout", (Urllib3Timeout, TimeoutError)),
    ("reset", ConnectionResetError),
    ("incomplete", (IncompleteRead, http.client.IncompleteRead)),
    ("decode", DecodeError),
    ("invalid_url", (LocationParseError, LocationValueError)),
    ("connection", (NewConnectionError, ProtocolError, OSError)),
)


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception and what it wraps (``__cause__``/``__context__``, urllib3 ``reason``)."""
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo and len(seen) < 10:
        e = todo.pop()
        if e is None or any(e is s for s in seen):
            continue
        seen.append(e)
        # ``reason`` is the wrapped error on urllib3's errors but a string on ssl.SSLError.
        wrapped = [e.__cause__, e.__context__, getattr(e, "reason", None), *e.args]
        todo += [w for w in wrapped if isinstance(w, BaseException)]
    return seen


def _failed(
    url: str,
    final_url: str,
    started: float,
    kind: str,
    message: str,
    redirects: int = 0,
    wire: int = 0,
) -> FetchOutcome:
    return FetchOutcome(
        url=url,
        status=None,
        final_url=final_url,
        content_type="",
        body=b"",
        bytes=wire,
        elapsed_ms=(time.monotonic() - started) * 1000,
        error=ErrorInfo(kind, message),
        redirects=redirects,
    )
