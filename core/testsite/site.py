"""The synthetic site itself: which pages exist, what they link to, what bytes they are.

Everything is a pure function of :class:`SiteConfig` (and, for absolute links, the origin the
client used), so the live server and the static export serve the same site, and two runs with
the same seed serve the same bytes.

URL mapping (one URL per page, so a full crawl fetches exactly ``pages`` page URLs):

- page 0 is ``/`` (``/page/0`` is never linked; it answers 301 to ``/``),
- page N (1 <= N < pages) is ``/page/N``,
- private page P (0 <= P < private_pages) is ``/private/P`` (disallowed by the default robots.txt).

Links of page i: its tree children ``b*i+1 .. b*i+b`` (``b = ceil(links_per_page / 2)``; when a
child is an error page its own children are linked too, so every page stays reachable) plus
``links_per_page - b`` seeded random pages. Hrefs come in several spellings that all normalise
to the same URL (plain path, ``#fragment``, relative, ``./`` relative, absolute with upper-cased
scheme and host), and random targets repeat, so dedupe is exercised.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.settings_error import SettingsError

_MASK = (1 << 64) - 1

ROBOTS_MODES = ("normal", "huge", "5xx", "404")

# name -> (entry path, behaviour); the server implements each under /trap/ (see traps.py).
TRAPS: dict[str, tuple[str, str]] = {
    "redirect-loop": ("/trap/redirect-loop", "302 to /a, /a to /b, /b back to /a, forever"),
    "redirect-chain": ("/trap/redirect-chain/30", "302 chain of N hops down to /0, a 200 page"),
    "redirect-file": ("/trap/redirect-scheme/file", "302 to file:///etc/passwd"),
    "redirect-ftp": ("/trap/redirect-scheme/ftp", "302 to ftp://127.0.0.1/pub/index.html"),
    "redirect-data": ("/trap/redirect-scheme/data", "302 to a data: URL"),
    "redirect-javascript": ("/trap/redirect-scheme/javascript", "302 to javascript:alert(1)"),
    "redirect-offsite": ("/trap/redirect-offsite", "302 to http://offsite.invalid/page/1"),
    "never-answer": ("/trap/never-answer", "reads the request, never answers, holds the socket"),
    "slow-headers": ("/trap/slow-headers", "status line, then one header line a second, no end"),
    "trickle": ("/trap/trickle", "200 with Content-Length 3600, body at 1 byte a second"),
    "reset": ("/trap/reset", "promises 1 MiB, sends 16 KiB, then resets the connection"),
    "huge": ("/trap/huge", "text/html body of 4 GiB (?mib=N), streamed"),
    "length-short": ("/trap/length-short", "Content-Length 512 but 16 KiB of body, then close"),
    "length-long": ("/trap/length-long", "Content-Length 1 MiB but 4 KiB of body, then close"),
    "gzip-bomb": ("/trap/gzip-bomb", "gzip body ~1 MiB on the wire, 1 GiB inflated (?mib=N)"),
    "deflate-bomb": ("/trap/deflate-bomb", "deflate body ~1 MiB on the wire, 1 GiB inflated"),
    "binary-html": ("/trap/binary-html", "64 KiB of random bytes served as text/html"),
    "bad-utf8": ("/trap/bad-utf8", "charset=utf-8 with invalid UTF-8 sequences, plus links"),
    "wrong-charset": ("/trap/wrong-charset", "header says utf-16, meta says koi8-r, bytes cp1252"),
    "codec-label": ("/trap/codec-label", "charset=base64 (a codec, not a text encoding)"),
    "pdf": ("/trap/pdf", "application/pdf"),
    "png": ("/trap/png", "image/png"),
    "malformed": ("/trap/malformed", "broken HTML: unclosed tags, bad attributes, stray <"),
    "deep-nesting": ("/trap/deep-nesting", "100 000 nested <div> (?depth=N) around a link"),
    "million-links": ("/trap/million-links", "1 000 000 links (?n=N), streamed"),
    "long-url": ("/trap/long-url", "links to a URL of 100 KB (?kib=N)"),
    "odd-links": ("/trap/odd-links", "javascript:/mailto:/data:, ../ past root, %-encoding, IDN"),
    "calendar": ("/trap/calendar/2000/01", "each month links the next and previous, forever"),
    "session": ("/trap/session", "each visit links ?sid=<new random id>"),
    "not-found": ("/trap/status/404", "404"),
    "gone": ("/trap/status/410", "410"),
    "retry-503": ("/trap/retry/503", "first 2 requests 503 with Retry-After: 1, then 200"),
    "retry-429": ("/trap/retry/429", "first 2 requests 429 with Retry-After: 1, then 200"),
    "burst-500": ("/trap/burst", "links 50 URLs that all answer 500"),
    "flaky": ("/trap/flaky", "links 20 URLs that each answer 500 half of the time"),
}


def mix(*parts: int) -> int:
    """Deterministic 64-bit hash of integers (splitmix64 chain): cheap seeded randomness."""
    x = 0
    for part in parts:
        x = (x ^ part) & _MASK
        x = (x + 0x9E3779B97F4A7C15) & _MASK
        x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
        x ^= x >> 31
    return x


@dataclass(frozen=True, slots=True)
class SiteConfig:
    """What the site looks like and how it behaves; validated once."""

    pages: int = 1000
    links_per_page: int = 10
    page_bytes: int = 8192
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    error_rate: float = 0.0
    seed: int = 0
    traps: tuple[str, ...] = ()  # ("all",) links the /trap/ index from /; else trap names
    private_pages: int = 0
    robots: str = "normal"
    robots_disallow: tuple[str, ...] = ("/private/",)
    crawl_delay: float | None = None
    host: str = "127.0.0.1"
    port: int = 0

    def __post_init__(self) -> None:
        if self.pages < 1:
            raise SettingsError("pages", f"must be at least 1, got {self.pages}")
        if self.links_per_page < 1:
            raise SettingsError("links_per_page", f"must be at least 1, got {self.links_per_page}")
        if self.page_bytes < 0:
            raise SettingsError("page_bytes", f"must be 0 or more, got {self.page_bytes}")
        if self.latency_ms < 0 or self.jitter_ms < 0:
            raise SettingsError("latency_ms", "latency and jitter must be 0 or more milliseconds")
        if not 0.0 <= self.error_rate < 1.0:
            raise SettingsError("error_rate", f"must be in [0, 1), got {self.error_rate}")
        if self.private_pages < 0:
            raise SettingsError("private_pages", f"must be 0 or more, got {self.private_pages}")
        if self.robots not in ROBOTS_MODES:
            raise SettingsError("robots", f"must be one of {', '.join(ROBOTS_MODES)}")
        if self.crawl_delay is not None and self.crawl_delay < 0:
            raise SettingsError("crawl_delay", "must be 0 or more seconds")
        unknown = [t for t in self.traps if t != "all" and t not in TRAPS]
        if unknown:
            raise SettingsError("traps", f"unknown trap {unknown[0]!r}; known: all, {_names()}")
        if not 0 <= self.port <= 65535:
            raise SettingsError("port", f"must be in 0..65535, got {self.port}")


def _names() -> str:
    return ", ".join(TRAPS)


_WORDS = [
    "thread",
    "lock",
    "queue",
    "worker",
    "socket",
    "crawl",
    "page",
    "link",
    "frontier",
    "depth",
    "event",
    "signal",
    "memory",
    "pool",
    "future",
    "join",
    "daemon",
    "mutex",
    "barrier",
    "semaphore",
    "condition",
    "latency",
    "bytes",
    "request",
    "reply",
    "header",
    "body",
    "parse",
    "fetch",
    "retry",
    "timeout",
    "deadline",
    "stop",
    "pause",
    "resume",
    "sample",
    "metric",
    "chart",
]


class Site:
    """Renders pages of one :class:`SiteConfig`."""

    def __init__(self, config: SiteConfig) -> None:
        self.config = config
        self.branching = (config.links_per_page + 1) // 2
        self._error_cut = int(config.error_rate * (1 << 64))
        self._filler = self._make_filler()

    def _make_filler(self) -> list[str]:
        seed = self.config.seed
        paragraphs = []
        for p in range(64):
            words = [_WORDS[mix(seed, 7, p, w) % len(_WORDS)] for w in range(40 + p % 30)]
            paragraphs.append("<p>" + " ".join(words).capitalize() + ".</p>\n")
        return paragraphs

    def is_error(self, n: int) -> bool:
        """True for the seeded pages that answer 500 (page 0 never does)."""
        return n != 0 and mix(self.config.seed, 1, n) < self._error_cut

    def children(self, n: int) -> range:
        first = self.branching * n + 1
        return range(min(first, self.config.pages), min(first + self.branching, self.config.pages))

    def links(self, n: int) -> list[int]:
        """Page numbers page ``n`` links to, in order, duplicates included."""
        targets: list[int] = []
        stack = list(reversed(self.children(n)))
        while stack:  # an error page shows no links, so its parent adopts its children
            child = stack.pop()
            targets.append(child)
            if self.is_error(child):
                stack.extend(reversed(self.children(child)))
        seed, pages = self.config.seed, self.config.pages
        for j in range(self.config.links_per_page - self.branching):
            targets.append(mix(seed, 2, n, j) % pages)
        return targets

    def href(self, source: int, target: int, variant: int, origin: str | None) -> str:
        """One spelling of the link ``source -> target``; all normalise to the same URL."""
        path = page_path(target)
        kind = variant % 10
        if kind == 5:
            return path + f"#s{variant % 7}"
        if kind in (6, 7):
            if source == 0:
                rel = path[1:] or "./"
            elif target == 0:
                rel = "../"
            else:
                rel = str(target)
            return "./" + rel if kind == 7 and not rel.startswith(".") else rel
        if kind == 8 and origin:
            scheme, _, host = origin.partition("://")
            return f"{scheme.upper()}://{host.upper()}{path}"
        return path

    def render_page(self, n: int, origin: str | None = None) -> bytes:
        """The HTML of page ``n`` (an error body when it is an error page)."""
        if self.is_error(n):
            return error_body(500, "Internal Server Error")
        cfg = self.config
        seed = cfg.seed
        parts = [
            f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>Page {n}</title></head>\n<body>\n<h1>Page {n}</h1>\n<nav><ul>\n"
        ]
        for j, target in enumerate(self.links(n)):
            href = self.href(n, target, mix(seed, 3, n, j) >> 8, origin)
            parts.append(f'<li><a href="{href}">Page {target}</a></li>\n')
        if n == 0:
            parts.extend(self._root_extras())
        parts.append("</ul></nav>\n<main>\n")
        size = sum(map(len, parts)) + 24
        filler = self._filler
        i = mix(seed, 4, n)
        while size < cfg.page_bytes:
            para = filler[i % len(filler)]
            parts.append(para)
            size += len(para)
            i += 1
        parts.append("</main>\n</body></html>\n")
        return "".join(parts).encode()

    def _root_extras(self) -> list[str]:
        cfg = self.config
        extras = []
        if cfg.private_pages:
            extras.append('<li><a href="/private/0">Private</a></li>\n')
        if "all" in cfg.traps:
            extras.append('<li><a href="/trap/">Traps</a></li>\n')
        else:
            extras.extend(f'<li><a href="{TRAPS[t][0]}">{t}</a></li>\n' for t in cfg.traps)
        return extras

    def render_private(self, p: int) -> bytes:
        nxt = f'<a href="/private/{p + 1}">next</a>' if p + 1 < self.config.private_pages else ""
        return (
            f"<!DOCTYPE html>\n<html><head><title>Private {p}</title></head><body>"
            f'<h1>Private {p}</h1><a href="/">home</a> {nxt}</body></html>\n'
        ).encode()

    def robots_txt(self) -> bytes:
        """robots.txt body for the "normal" and "huge" modes."""
        cfg = self.config
        lines = ["User-agent: *"]
        lines += [f"Disallow: {prefix}" for prefix in cfg.robots_disallow]
        if cfg.crawl_delay is not None:
            lines.append(f"Crawl-delay: {cfg.crawl_delay:g}")
        if cfg.robots == "huge":  # 2 MiB of noise rules after the real ones
            lines += [f"Disallow: /noise/{i:08d}/" for i in range(2 * 1024 * 1024 // 26)]
        return ("\n".join(lines) + "\n").encode()


def page_path(n: int) -> str:
    return "/" if n == 0 else f"/page/{n}"


def error_body(status: int, reason: str) -> bytes:
    return (
        f"<!DOCTYPE html>\n<html><head><title>{status} {reason}</title></head>"
        f"<body><h1>{status} {reason}</h1></body></html>\n"
    ).encode()
