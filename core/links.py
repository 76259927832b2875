"""Links of an HTML page: ``<a href>`` resolved against the page (or its ``<base href>``).

Lexbor (through selectolax) parses the way a browser does, so malformed markup, binary junk
and invalid UTF-8 give a tree rather than an exception. Its tree builder is quadratic in the
depth of unclosed block elements, though (100 000 nested ``<div>`` take ~25 s), so a page
that looks that deep (many tags, few of them closed) is scanned with a bounded regex instead.
The number of links taken per page is capped so a page with a million links cannot flood
the crawl.
"""

from __future__ import annotations

import codecs
import html
import re
from functools import lru_cache

from selectolax.lexbor import LexborHTMLParser, LexborNode

from core.urls import MAX_URL_LENGTH, normalize

MAX_LINKS_PER_PAGE = 10_000
"""Links beyond this many per page are counted in ``LinkList.cut`` and not returned."""

# Deep-nesting guard: pages with more tags than this, most of them unclosed, skip the parser.
_MAX_TAGS_PARSED_FREELY = 8192
_MAX_UNCLOSED = 4096
_A_TAG = re.compile(rb"<a[\s/]", re.IGNORECASE)
_HREF = re.compile(
    rb"""<a[\s/][^>]*?\bhref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""", re.IGNORECASE
)
_TAG_WINDOW = 1024  # bytes of one <a ...> tag the regex may look at


class LinkList(list[str]):
    """The page's links (normalised, each once, in page order) and what was left out.

    ``cut``: links past ``max_links``; ``rejected``: hrefs that are not crawlable
    (``javascript:``, ``mailto:``, unparseable, too long, ...).
    """

    cut: int = 0
    rejected: int = 0


def extract_links(
    body: bytes,
    base_url: str,
    encoding: str | None = None,
    max_links: int = MAX_LINKS_PER_PAGE,
    max_url_length: int = MAX_URL_LENGTH,
) -> LinkList:
    """Crawlable absolute URLs the page links to.

    ``encoding`` is the charset from the Content-Type header; without it (or when a BOM
    contradicts it) the parser detects one from a BOM or ``<meta charset>``, else UTF-8.
    Undecodable bytes become U+FFFD. Links are not filtered by scope: the caller decides.
    """
    codec = _header_codec(body, encoding)
    base = base_url
    # One bound on the page's tags serves both guards: every tag, every <a too, opens with "<".
    opens = _tag_bound(body, min(_MAX_TAGS_PARSED_FREELY, max_links))
    if opens > _MAX_TAGS_PARSED_FREELY and _looks_deep(body):
        hrefs, cut = _scan_hrefs(body, codec or "utf-8", max_links)
    else:
        end, beyond = _link_flood_cut(body, max_links) if opens > max_links else (len(body), 0)
        page = body[:end] if beyond else body
        if codec:
            tree = LexborHTMLParser(page.decode(codec, "replace"))
        else:
            tree = LexborHTMLParser(page, encoding=True)
        base_href = _first_href(tree.tags("base"))
        if base_href is not None:
            base = normalize(base_href, base_url, max_url_length) or base_url
        # tags() + attributes: half the cost of css("a[href]") + attrs.get on a typical page.
        hrefs = [
            attributes["href"] or ""
            for node in tree.tags("a")
            if "href" in (attributes := node.attributes)
        ]
        cut = max(0, len(hrefs) - max_links) + beyond
        del hrefs[max_links:]
    links = LinkList()
    links.cut = cut
    seen: dict[str, None] = {}
    rejected = 0
    for href in hrefs:
        url = normalize(href, base, max_url_length)
        if url is None:
            rejected += 1
        else:
            seen[url] = None
    links.extend(seen)
    links.rejected = rejected
    return links


def _header_codec(body: bytes, encoding: str | None) -> str | None:
    """The Content-Type charset to decode with, or None to let the parser sniff.

    As in browsers, a byte-order mark wins over the header; and a UTF-16/32 label on a body
    without NUL bytes is a mislabel, not UTF-16, so it is ignored too (an unknown label also).
    """
    if not encoding or body.startswith(_BOMS):
        return None
    name = _text_codec(encoding) if len(encoding) <= 40 else None  # labels are short
    if name is None or (name.startswith(("utf-16", "utf-32")) and b"\x00" not in body[:1024]):
        return None
    return name


@lru_cache(maxsize=256)
def _text_codec(label: str) -> str | None:
    """The codec a charset label names, if it decodes bytes to text with "replace".

    ``codecs.lookup`` also knows bytes-to-bytes codecs ("base64", "rot13", "zlib") and
    codecs that refuse "replace" ("idna", "undefined"); a page labelled with one of those
    would make ``bytes.decode`` raise, so such a label counts as no label.
    """
    try:
        name = codecs.lookup(label).name
        b"<a>".decode(name, "replace")
    except (LookupError, UnicodeError):
        return None
    return name


_BOMS = (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def _tag_bound(body: bytes, limit: int) -> int:
    """An upper bound on the page's tags: its count of ``<``, or its length when that
    is within ``limit`` (then no guard needs a count).

    The one pass over the body before the parser (~21 µs on 64 KiB). numpy counts 4× faster
    alone but lets go of the GIL to do it: in a crawl, a hand-off to another thread per page.
    """
    if len(body) <= limit:
        return len(body)
    return body.count(b"<")


def _looks_deep(body: bytes) -> bool:
    """Whether unclosed tags pile up past ``_MAX_UNCLOSED`` at some point of the page.

    Depth is estimated as opened minus closed tags (``<`` minus twice ``</``) at 64 evenly
    spaced cut points: a handful of ``bytes.count`` calls, asked only of pages with more than
    ``_MAX_TAGS_PARSED_FREELY`` tags.
    """
    step = len(body) // 64 + 1
    depth = 0
    for at in range(0, len(body), step):
        chunk = body[at : at + step]
        depth += chunk.count(b"<") - 2 * chunk.count(b"</")
        if depth > _MAX_UNCLOSED:
            return True
    return False


def _first_href(nodes: list[LexborNode]) -> str | None:
    """The ``href`` of the first node that has one (``""`` for a valueless one), or None."""
    for node in nodes:
        attributes = node.attributes
        if "href" in attributes:
            return attributes["href"] or ""
    return None


def _link_flood_cut(body: bytes, max_links: int) -> tuple[int, int]:
    """Where the ``max_links + 1``-th ``<a`` tag starts, and how many ``<a`` tags follow.

    A page with far more links than are taken would otherwise be parsed whole: lexbor's tree
    costs ~16 bytes per byte of such a page (32 MiB for 2 MiB of links, per thread), for
    links that are cut anyway. ``(len(body), 0)`` when the page has few enough. Asked only
    of pages with more than ``max_links`` tags.
    """
    # An upper bound (<abbr, <aside count too) that spares most such pages the regex.
    if body.count(b"<a") <= max_links:
        return len(body), 0
    tags = _A_TAG.finditer(body)
    for taken, tag in enumerate(tags, 1):
        if taken > max_links:
            return tag.start(), 1 + sum(1 for _ in tags)
    return len(body), 0


def _scan_hrefs(body: bytes, codec: str, max_links: int) -> tuple[list[str], int]:
    """hrefs of the first ``max_links`` ``<a`` tags by regex, each match confined to one
    tag's window, so the work is bounded whatever the page; later ``<a`` tags are counted."""
    hrefs: list[str] = []
    tags = _A_TAG.finditer(body)
    for _, start in zip(range(max_links), tags, strict=False):
        m = _HREF.match(body, start.start(), start.start() + _TAG_WINDOW)
        if m is not None:
            raw = m.group(1) or m.group(2) or m.group(3) or b""
            hrefs.append(html.unescape(raw.decode(codec, "replace")))
    return hrefs, sum(1 for _ in tags)
