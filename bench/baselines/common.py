"""What every baseline shares: the scope/dedupe rule, a fast link parser and a threaded loop."""

from __future__ import annotations

import queue
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urldefrag, urljoin, urlsplit

from selectolax.lexbor import LexborHTMLParser

Fetch = Callable[[str], tuple[bool, list[str]]]


class Scope:
    """Same host name as the start URL (any port, as the engine's ``allowed_hosts``), fragment
    dropped, seen once: the rule all baselines follow."""

    def __init__(self, start_url: str) -> None:
        self.hostname = urlsplit(start_url).hostname
        self.seen: set[str] = {start_url}

    def new_links(self, base_url: str, hrefs: Iterable[str]) -> list[str]:
        fresh = []
        for href in hrefs:
            url = urldefrag(urljoin(base_url, href))[0]
            parts = urlsplit(url)
            in_scope = parts.scheme in ("http", "https") and parts.hostname == self.hostname
            if in_scope and url not in self.seen:
                self.seen.add(url)
                fresh.append(url)
        return fresh


def fast_hrefs(body: bytes) -> list[str]:
    """Links with selectolax's lexbor backend, the parser the engine uses (core/links.py)."""
    tree = LexborHTMLParser(body)
    return [href for node in tree.css("a[href]") if (href := node.attrs.get("href"))]


def threaded_crawl(start_url: str, concurrency: int, max_pages: int, fetch: Fetch) -> int:
    """Fetch on a ThreadPoolExecutor, dedupe and schedule on the calling thread.

    ``fetch(url)`` returns (was an HTML page with status 200, hrefs on it).
    """
    scope = Scope(start_url)
    done: queue.SimpleQueue = queue.SimpleQueue()
    pages = scheduled = finished = 0
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="baseline") as pool:

        def submit(url: str) -> None:
            nonlocal scheduled
            scheduled += 1
            future = pool.submit(fetch, url)
            future.add_done_callback(lambda f, url=url: done.put((url, f)))

        submit(start_url)
        while finished < scheduled:
            url, future = done.get()
            finished += 1
            try:
                ok, hrefs = future.result()
            except Exception:  # a failed page is counted as not fetched, the crawl goes on
                continue
            if not ok:
                continue
            pages += 1
            for link in scope.new_links(url, hrefs):
                if scheduled >= max_pages:
                    break
                submit(link)
    return pages
