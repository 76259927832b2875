"""``recursive``: a few threads, each recursing depth-first into the links it finds.

The tutorial design (the article's ``SimpleCrawler``), with real links and a real end: no
pool and no queue; ``settings.threads`` threads share the engine's lock-protected visited set
(a link belongs to the thread that saw it first). With at least as many start URLs as
threads, thread *i* takes every *n*-th start URL. With fewer (usually one), ``crawl-worker-1``
crawls the start URLs, deals the links they yield round-robin to itself and threads
2..n, then each recurses into its share; so a root with fewer links than threads leaves
threads unused. Recursion is real (one Python frame per link level, visible in a thread
dump) and bounded by ``max_depth`` (at most ``MAX_RECURSIVE_DEPTH``). Memory is not
bounded: each frame holds the links of its page still to visit.

Hosts: a thread walks its list of links taking, of the hosts below ``per_host_threads``
requests in flight, the one whose turn comes first (``take_ready``), so it sleeps for a host's
turn only when every link it holds must wait, and for a host's slot only when every link it
holds is of a host at its cap (its links are its own: no other thread could take them). The
slot is held while the pipeline runs and given back before recursing into the page's links.

Depth-first with a depth limit can miss pages: a page is claimed at the depth of the first
path that reaches it, which in DFS is often far deeper than its shortest path, and a page
claimed at ``max_depth`` is not looked into. On the 2 000-page test site DFS paths run 65-70
levels deep, so with the default ``max_depth`` of 40 a few pages are missed (breadth-first
``bounded`` and ``pool`` find every page at its shortest depth). Shares are fixed at the
start, so threads finish unevenly and ``set_threads`` is not supported. The crawl is over
when the last thread returns.
"""

from __future__ import annotations

from collections.abc import Callable

from core.strategies.base import (
    MAX_RECURSIVE_DEPTH,
    Body,
    Item,
    ThreadCounting,
    Worker,
    handle_in_slot,
    take_ready,
)

Walk = Callable[[Worker, list[Item]], None]


class Recursive(ThreadCounting):
    name = "recursive"
    summary = (
        "A few threads, each recursing depth-first into the links it finds, sharing a "
        "lock-protected visited set: no pool, no queue; threads finish unevenly and each stack "
        "frame holds its page's remaining links."
    )
    depth_limit = MAX_RECURSIVE_DEPTH

    def start(self, items: list[Item]) -> None:
        n = self.crawl.settings.threads
        if len(items) >= n:
            self._launch([items[i::n] for i in range(n)], self._walk)
        else:
            self._launch([items], self._seed)

    def _launch(self, shares: list[list[Item]], body: Walk) -> None:
        for share in shares:
            with self._lock:
                name = self._count_in("crawl-worker")
            self._start_counted(name, _bind(body, share))

    def _seed(self, w: Worker, items: list[Item]) -> None:
        crawl = self.crawl
        found: list[Item] = []
        left = list(items)
        while left:
            item = take_ready(crawl, self._slots, w, left)
            if item is None:
                return
            found += handle_in_slot(crawl, self._slots, w, item)
        n = crawl.settings.threads
        shares = [found[i::n] for i in range(n)]
        self._launch([share for share in shares[1:] if share], self._walk)
        self._walk(w, shares[0])

    def _walk(self, w: Worker, items: list[Item]) -> None:
        """Crawl ``items`` (this thread's own list: it is emptied) and their links, depth-first."""
        crawl = self.crawl
        slots = self._slots
        while items:
            item = take_ready(crawl, slots, w, items)
            if item is None:
                return
            self._walk(w, handle_in_slot(crawl, slots, w, item))


def _bind(walk: Walk, share: list[Item]) -> Body:
    """A worker body that walks ``share``."""
    return lambda w: walk(w, share)
