"""Admission: which found links a crawl takes, and the page budgets they spend.

A link is taken when it is in scope (``allowed_hosts``), has no more query parameters than
``max_query_params``, was never seen before (the visited set of fingerprints) and fits the
budgets: ``max_pages`` and ``per_host_max_pages`` are spent when a URL is queued, not when it
is fetched, so a crawl fetches exactly ``max_pages`` URLs when the site has more. ``capped``
records that ``max_pages`` refused a link (the crawl then ends with reason ``"max_pages"``).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from core.frontier import Item
from core.settings import CrawlSettings
from core.urls import fingerprint, normalize
from core.visited import VisitedSet


class Budget:
    """The visited set and the page budgets of one crawl.

    ``unseen`` is thread-safe (the visited set has its own lock); ``seed`` and ``admit`` are
    not: the caller serialises them (the pipeline calls ``admit`` under its own lock, together
    with its counters, so a URL costs one lock acquisition).
    """

    def __init__(self, settings: CrawlSettings) -> None:
        self.visited = VisitedSet()
        self.scheduled = 0
        """URLs admitted so far (start URLs included): what ``max_pages`` is spent on."""
        self.capped = False
        self._max_pages = settings.max_pages
        self._per_host = settings.per_host_max_pages
        self._count_hosts = settings.per_host_max_pages < settings.max_pages
        self._host_pages: dict[str, int] = {}
        self._max_params = settings.max_query_params
        self._max_url_length = settings.max_url_length
        allowed = frozenset(settings.allowed_hosts)
        self._in_scope = lru_cache(maxsize=4096)(lambda netloc: hostname(netloc) in allowed)

    def seed(self, urls: Iterable[str]) -> list[Item]:
        """The start URLs as depth-0 items: normalised, each once, budgets spent (not capped)."""
        items: list[Item] = []
        for url in urls:
            norm = normalize(url, max_length=self._max_url_length)
            if norm is not None and self.visited.add(fingerprint(norm)):
                items.append((norm, None, 0))
                self.scheduled += 1
                if self._count_hosts:
                    host = netloc(norm)
                    self._host_pages[host] = self._host_pages.get(host, 0) + 1
        return items

    def unseen(self, links: list[str]) -> tuple[list[str], int]:
        """In-scope links never seen before, and how many a query-parameter limit refused."""
        in_scope = self._in_scope
        max_params = self._max_params
        visited_add = self.visited.add
        fresh: list[str] = []
        refused = 0
        for link in links:
            if not in_scope(netloc(link)):
                continue
            query = link.find("?")
            if query >= 0 and link.count("&", query) + 1 > max_params:
                refused += 1
                continue
            if visited_add(fingerprint(link)):
                fresh.append(link)
        return fresh, refused

    def admit(self, fresh: list[str], parent: str, depth: int) -> list[Item]:
        """The new links that fit the page budgets, as items (the caller serialises)."""
        room = max(0, self._max_pages - self.scheduled)
        if self._count_hosts:
            items: list[Item] = []
            cap = self._per_host
            counts = self._host_pages
            for link in fresh:
                host = netloc(link)
                n = counts.get(host, 0)
                if n < cap and len(items) < room:
                    counts[host] = n + 1
                    items.append((link, parent, depth))
        else:
            items = [(link, parent, depth) for link in fresh[:room]]
        if len(items) < len(fresh):
            self.capped = self.capped or len(items) >= room
        self.scheduled += len(items)
        return items


def netloc(url: str) -> str:
    """``host[:port]`` of a normalised absolute URL, by string slicing (hot path)."""
    start = url.find("//") + 2
    end = url.find("/", start)
    return url[start:end] if end >= 0 else url[start:]


def hostname(loc: str) -> str:
    """The host of a netloc ``[user@]host[:port]`` (an IPv6 literal without its brackets)."""
    host = loc.rpartition("@")[2]
    if host.startswith("["):
        return host[1 : host.find("]")]
    return host.partition(":")[0]
