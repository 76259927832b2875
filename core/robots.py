"""robots.txt, fetched once per site and kept for the crawl (RFC 9309, parsed by protego).

What a fetch of ``/robots.txt`` means:

- 2xx: the rules apply (only the first ``max_bytes`` are read; the RFC asks for at least
  500 KiB).
- 4xx (but 429), or redirects that never reach a file: no rules, everything is allowed.
- 5xx, 429, or the site unreachable: everything is disallowed for ``error_ttl`` seconds,
  then robots.txt is fetched again.
- interrupted (the crawl is stopping): disallowed, and nothing is remembered.

Concurrent callers for a new site wait for the one fetch in progress instead of fetching it
again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

from protego import Protego

MAX_ROBOTS_BYTES = 512 * 1024
ERROR_TTL = 60.0  # seconds a 5xx/unreachable robots.txt keeps a site closed
WAIT_TIMEOUT = 60.0  # longest wait for another thread's fetch of the same robots.txt

_ALLOW, _DISALLOW, _RULES = "allow", "disallow", "rules"


class RobotsResponse(Protocol):
    """What ``fetch_fn`` returns; ``core.fetcher.FetchOutcome`` is one."""

    @property
    def status(self) -> int | None: ...
    @property
    def body(self) -> bytes: ...
    @property
    def error(self) -> object | None: ...


class _Entry:
    __slots__ = ("expires", "ready", "rules", "verdict", "why")

    def __init__(self) -> None:
        self.ready = threading.Event()
        self.verdict = _DISALLOW
        self.rules: Protego | None = None
        self.expires = float("inf")
        self.why = "robots.txt not known yet: disallowed this time"


class RobotsCache:
    """``allowed(url)`` and ``crawl_delay(host)`` for any number of threads."""

    def __init__(
        self,
        fetch_fn: Callable[[str], RobotsResponse],
        user_agent: str,
        max_bytes: int = MAX_ROBOTS_BYTES,
        error_ttl: float = ERROR_TTL,
        wait_timeout: float = WAIT_TIMEOUT,
    ) -> None:
        self._fetch = fetch_fn
        self._agent = user_agent
        self._max_bytes = max_bytes
        self._error_ttl = error_ttl
        self._wait_timeout = wait_timeout
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def allowed(self, url: str) -> bool:
        """Whether robots.txt of the URL's site lets this user agent fetch it."""
        entry = self._entry(_origin(url))
        if entry.verdict == _RULES and entry.rules is not None:
            return entry.rules.can_fetch(url, self._agent)
        return entry.verdict == _ALLOW

    def why_disallowed(self, url: str) -> str:
        """Why ``allowed(url)`` said no, for the person reading the error row."""
        with self._lock:
            entry = self._entries.get(_origin(url))
        if entry is None:
            return "robots.txt could not be read (interrupted): disallowed this time"
        if entry.verdict == _RULES:
            return "disallowed by robots.txt"
        return entry.why

    def crawl_delay(self, host: str) -> float | None:
        """The site's Crawl-delay for this agent; ``host`` is ``host[:port]`` or any URL."""
        if "://" in host:
            origin = _origin(host)
        else:
            with self._lock:
                known = [o for o in (f"https://{host}", f"http://{host}") if o in self._entries]
            origin = known[0] if known else f"http://{host}"
        entry = self._entry(origin)
        if entry.rules is None:
            return None
        return entry.rules.crawl_delay(self._agent)

    def __len__(self) -> int:
        return len(self._entries)

    def _entry(self, origin: str) -> _Entry:
        with self._lock:
            entry = self._entries.get(origin)
            mine = entry is None or entry.expires <= time.monotonic()
            if entry is None or mine:
                entry = self._entries[origin] = _Entry()
        if mine:
            try:
                self._load(origin, entry)
            finally:
                entry.ready.set()
        elif not entry.ready.wait(self._wait_timeout):
            return _Entry()  # still loading elsewhere: disallow this time
        return entry

    def _load(self, origin: str, entry: _Entry) -> None:
        try:
            response = self._fetch(f"{origin}/robots.txt")
        except Exception:
            response = None
        status = getattr(response, "status", None)
        error = getattr(response, "error", None)
        if response is not None and getattr(error, "kind", "") == "interrupted":
            with self._lock:  # nothing learnt: ask again next time
                if self._entries.get(origin) is entry:
                    del self._entries[origin]
            entry.expires = 0.0
        elif response is not None and status is not None and 200 <= status < 300 and error is None:
            entry.rules = Protego.parse(_text(response.body, self._max_bytes))
            entry.verdict = _RULES
        elif _unavailable(status, error):
            entry.verdict = _ALLOW
        else:
            entry.why = f"{_failure(status, error)}: disallow all per RFC 9309"
            entry.expires = time.monotonic() + self._error_ttl


def _unavailable(status: int | None, error: object | None) -> bool:
    """RFC 9309 "unavailable" (crawl freely): a 4xx but 429, no file at the end of redirects."""
    if status is None:
        return "redirect" in getattr(error, "kind", "")
    return (400 <= status < 500 and status != 429) or (status < 400 and error is None)


def _failure(status: int | None, error: object | None) -> str:
    """ "robots.txt answered 503" or "robots.txt unreachable (connection refused)"."""
    if status is not None:
        return f"robots.txt answered {status}"
    kind = getattr(error, "kind", None)
    if kind is None:
        return "robots.txt could not be fetched"
    message = getattr(error, "message", "").lower()
    detail = "connection refused" if "refused" in message else kind.replace("_", " ")
    return f"robots.txt unreachable ({detail})"


def _text(body: bytes, limit: int) -> str:
    if len(body) > limit:
        body = body[: body.rfind(b"\n", 0, limit) + 1 or limit]  # never half a rule
    return body.decode("utf-8", "replace")


def _origin(url: str) -> str:
    """``scheme://host[:port]`` of an absolute URL, by string slicing."""
    start = url.find("//") + 2
    end = len(url)
    for sep in "/?#":
        at = url.find(sep, start)
        if 0 <= at < end:
            end = at
    return url[:end].lower()
