"""URL normalisation and fingerprints: the identity a crawl dedupes on.

``normalize`` is called for every link of every page, so the common shapes (a root-relative
or directory-relative path of plain characters, ``./`` and ``../`` prefixes included, or an
absolute http(s) URL, any case of scheme and host) take a fast path of string operations on a
cached parse of the base; everything else goes through the full RFC 3986 path (``urljoin``,
dot-segment removal, percent-encoding repair, IDNA).
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from urllib.parse import urljoin, urlsplit

import idna

MAX_URL_LENGTH = 2048
"""Longer URLs are refused (traps and junk, not pages); ``CrawlSettings.max_url_length``."""

_DEFAULT_PORTS = {"http": 80, "https": 443}
_STRIP = "".join(map(chr, range(33)))  # C0 controls and space, as browsers strip them

# Characters that need no repair in a path or query: unreserved, sub-delims, ":@/?".
_SEGMENT = r"A-Za-z0-9\-._~!$&'()*+,;=@"
_PLAIN = _SEGMENT + ":/?"
# A relative reference (root-relative or same-directory) made only of plain characters; a first
# segment with ":" would be a scheme ("mailto:x"), so it is left to the full path.
_FAST_RELATIVE = re.compile(rf"/(?!/)[{_PLAIN}]*|[{_SEGMENT}]+(?:/[{_PLAIN}]*)?")
# An absolute URL in normal form except possibly the case of scheme and host, a default port.
_FAST_ABSOLUTE = re.compile(rf"((?i:https?))://((?i:[a-z0-9\-.]+))(?::(\d{{1,5}}))?(/[{_PLAIN}]*)?")

_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# A valid escape, or one character that is not allowed as-is in a path/query.
_NEEDS_REPAIR = re.compile(rf"%[0-9A-Fa-f]{{2}}|[^{_PLAIN}%]|%")


def normalize(url: str, base: str | None = None, max_length: int = MAX_URL_LENGTH) -> str | None:
    """The canonical absolute form of ``url`` (resolved against ``base``), or None.

    None means "not crawlable": a non-http(s) scheme, no host, a bad port or host, or longer
    than ``max_length`` characters. Fragments are dropped, scheme and host lower-cased (IDN to
    punycode), default ports removed, dot segments resolved (``..`` above the root is clamped),
    percent-escapes upper-cased and unreserved ones decoded, other unsafe characters escaped.
    Query parameter order is kept: reordering could change what the server returns.
    """
    if len(url) > max_length:
        return None
    url = url.strip(_STRIP)
    hash_at = url.find("#")
    if hash_at >= 0:
        url = url[:hash_at]
    if base is not None and url:  # "" means the base itself (minus fragment): full path below
        rel, up = _leading_dots(url) if url[0] == "." else (url, 0)
        dotted = len(rel) < len(url)
        plain = _FAST_RELATIVE.fullmatch(rel) is not None or (dotted and not rel)
        if plain and "/." not in rel and rel[:1] != "." and not (dotted and rel[:1] == "/"):
            prefix = _base_prefix(base)
            if prefix is not None:
                origin, directory = prefix
                if rel[:1] == "/":
                    out = origin + rel
                else:
                    for _ in range(up):  # "../" climbs one directory, clamped at the root
                        directory = directory[: directory.rfind("/", 0, -1) + 1] or "/"
                    out = origin + directory + rel
                return _finish_fast(out, max_length)
    m = _FAST_ABSOLUTE.fullmatch(url)
    if m is not None and "/." not in url:
        scheme, host, port, path = m.groups()
        scheme, host = scheme.lower(), host.lower()
        if port is None or int(port) == _DEFAULT_PORTS[scheme]:
            out = f"{scheme}://{host}{path or '/'}"
        elif int(port) <= 65535:
            out = f"{scheme}://{host}:{int(port)}{path or '/'}"
        else:
            return None
        return _finish_fast(out, max_length)
    return _normalize_slow(url, base, max_length)


def fingerprint(normalized: str) -> int:
    """A stable 64-bit digest of a normalised URL (same value in every process and run)."""
    return int.from_bytes(
        hashlib.blake2b(normalized.encode("utf-8", "surrogatepass"), digest_size=8).digest(),
        "little",
    )


def _leading_dots(url: str) -> tuple[str, int]:
    """``url`` without its leading ``./`` and ``../`` segments, and how many ``../`` there were."""
    up = 0
    while True:
        if url.startswith("./"):
            url = url[2:]
        elif url.startswith("../"):
            url = url[3:]
            up += 1
        else:
            return url, up


def _finish_fast(out: str, max_length: int) -> str | None:
    if out.endswith("?"):
        out = out[:-1]
    return out if len(out) <= max_length else None


@lru_cache(maxsize=256)
def _base_prefix(base: str) -> tuple[str, str] | None:
    """``("scheme://host[:port]", "/dir/")`` of a base URL, or None if it is not crawlable.

    Every page has a base of its own, so this runs once per page: through ``normalize``'s
    fast path, and by slicing (a normal form always has a ``/`` after the host).
    """
    norm = normalize(base, None, 1 << 30)
    if norm is None:
        return None
    slash = norm.find("/", norm.find("//") + 2)
    path = norm[slash:].partition("?")[0]
    return norm[:slash], path[: path.rfind("/") + 1]


def _normalize_slow(url: str, base: str | None, max_length: int) -> str | None:
    try:
        if base is not None:
            url = urljoin(base.strip(_STRIP), url)
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS:
            return None
        host = parts.hostname
        port = parts.port
    except ValueError:
        return None
    if not host:
        return None
    host = _ascii_host(host)
    if host is None:
        return None
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port is None or port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
    userinfo = parts.netloc.rpartition("@")[0] if "@" in parts.netloc else ""
    if userinfo:
        netloc = f"{userinfo}@{netloc}"
    path = _repair(_remove_dot_segments(parts.path)) or "/"
    query = _repair(parts.query)
    out = f"{scheme}://{netloc}{path}?{query}" if query else f"{scheme}://{netloc}{path}"
    return out if len(out) <= max_length else None


def _ascii_host(host: str) -> str | None:
    if host.isascii():
        return host if _HOST_OK.fullmatch(host) else None
    try:
        return idna.encode(host, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError, ValueError):
        try:
            return host.encode("idna").decode("ascii")
        except UnicodeError:
            return None


_HOST_OK = re.compile(r"[a-z0-9\-._~!$&'()*+,;=:%]+")


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 5.2.4; ``..`` above the root stays at the root."""
    if "." not in path:
        return path
    out: list[str] = []
    segments = path.split("/")
    for seg in segments[1:] if path.startswith("/") else segments:
        if seg == "..":
            if out:
                out.pop()
        elif seg != ".":
            out.append(seg)
    if segments[-1] in (".", ".."):
        out.append("")
    return "/" + "/".join(out)


def _repair(text: str) -> str:
    if not text or _NEEDS_REPAIR.search(text) is None:
        return text
    return _NEEDS_REPAIR.sub(_repair_one, text)


def _repair_one(m: re.Match[str]) -> str:
    s = m.group()
    if len(s) == 3:
        byte = int(s[1:], 16)
        return chr(byte) if byte in _UNRESERVED else s.upper()
    return "".join(f"%{b:02X}" for b in s.encode("utf-8", "surrogatepass"))
