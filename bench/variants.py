"""Sites the engine was not tuned on (issue 11): link shapes, page sizes, several hosts.

The throughput site spells its links one way and has ~8 KiB pages. Each variant here is a
static tree for nginx with the same link graph (the test site's, through ``Site.links``: a
BFS tree of 5 children per page plus 5 seeded links, so every page is reachable) and one thing
changed: how links are written, how big pages are, or how many hosts the pages live on.
Page ``n`` is the file ``dK/pN.html`` (K = n // 50, so pages sit in nested directories and
``../`` means something); page 0 is ``index.html``, served at ``/``. Every spelling of a link
to page ``n`` normalises to one URL, so a complete crawl fetches each page exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.testsite.site import Site, SiteConfig

PER_DIRECTORY = 50
_FILLER = (
    "<p>Threads wait on locks, queues hand work to workers, and the frontier keeps what is "
    "left to fetch; a page is parsed for its links and each new one is queued once.</p>\n"
)


@dataclass(frozen=True, slots=True)
class Variant:
    """One site: ``shape`` is how links are spelled, the rest is the size of things."""

    name: str
    description: str
    shape: str = "absolute"  # absolute | relative | fragments | query
    page_bytes: int = 8192
    hosts: int = 1


VARIANTS = (
    Variant("plain", "nothing: absolute paths, 8 KiB pages, one host (the control)"),
    Variant("relative", "relative links (`p7.html`, `../d3/p150.html`, `../`)", shape="relative"),
    Variant(
        "fragments",
        "every link with a `#fragment`, one target linked twice, a `#top` self-link",
        shape="fragments",
    ),
    Variant("query", "a query string on every link (`?id=N&view=full`)", shape="query"),
    Variant("large pages", "64 KiB pages", page_bytes=64 * 1024),
    Variant("small pages", "1 KiB pages", page_bytes=1024),
    Variant("many hosts", "pages spread over 4 hosts (ports) linking to each other", hosts=4),
)


def path(n: int) -> str:
    return "/" if n == 0 else f"/d{n // PER_DIRECTORY}/p{n}.html"


def href(variant: Variant, source: int, target: int, origins: list[str]) -> str:
    """How a page ``source`` of ``variant`` spells its link to ``target``."""
    if variant.hosts > 1:
        return origins[target % variant.hosts].rstrip("/") + path(target)
    if variant.shape == "relative":
        return _relative(source, target)
    if variant.shape == "fragments":
        return f"{path(target)}#s{(source + target) % 7}"
    if variant.shape == "query" and target:
        return f"{path(target)}?id={target}&amp;view=full"  # &amp;: as HTML writes it
    return path(target)


def _relative(source: int, target: int) -> str:
    here = "" if source == 0 else f"d{source // PER_DIRECTORY}"
    there = "" if target == 0 else f"d{target // PER_DIRECTORY}"
    name = "" if target == 0 else f"p{target}.html"
    if here == there:
        return name or "./"
    if not here:
        return f"{there}/{name}"
    return "../" + (f"{there}/{name}" if there else "")


def render(site: Site, variant: Variant, n: int, origins: list[str]) -> bytes:
    """Page ``n``: its links as ``variant`` spells them, then filler up to its size."""
    targets = site.links(n)
    links = [(href(variant, n, t, origins), t) for t in targets]
    if variant.shape == "fragments":  # the same page again under another fragment, and itself
        links += [(f"{path(targets[0])}#again", targets[0]), ("#top", n)]
    parts = [f"<!DOCTYPE html>\n<html><head><title>Page {n}</title></head>\n<body>\n<nav><ul>\n"]
    parts += [f'<li><a href="{h}">Page {t}</a></li>\n' for h, t in links]
    parts.append("</ul></nav>\n<main>\n")
    size = sum(map(len, parts))
    repeats = max(0, (variant.page_bytes - size) // len(_FILLER))
    parts += [_FILLER * repeats, "</main>\n</body></html>\n"]
    return "".join(parts).encode()


def write(variant: Variant, pages: int, root: Path, origins: list[str]) -> Path:
    """The variant's ``pages`` pages as files under ``root`` (links to ``origins`` for hosts)."""
    site = Site(SiteConfig(pages=pages))
    root.mkdir(parents=True, exist_ok=True)
    (root / "index.html").write_bytes(render(site, variant, 0, origins))
    for n in range(1, pages):
        file = root / path(n).lstrip("/")
        file.parent.mkdir(exist_ok=True)
        file.write_bytes(render(site, variant, n, origins))
    return root
