"""``thread-per-url``: a new ``threading.Thread`` for every discovered link, up to a hard cap.

The design that shows thread explosion: each thread (``crawl-spawn-N``, N counting up)
handles one URL and starts a new thread for each new link it finds. At most
``settings.max_spawned_threads`` spawned threads are alive at once (counted from just before
``Thread.start`` to the thread's last line; ``threading.enumerate`` may briefly list one
that is past it). When the cap is
reached, or the OS refuses a thread, the finder crawls the link itself, depth-first by
recursion ("caller runs"): links never wait in a queue, nothing is dropped, and a thread
never blocks waiting for a thread slot (blocking would deadlock once every live thread is a
parent waiting for a slot its children cannot free). Recursion is bounded by ``max_depth``. The
crawl is over when the last spawned thread returns. ``set_threads`` is not supported; the
cap is ``max_spawned_threads``, also reported as the thread target.

Hosts: a finder forks its links taking, of the hosts below ``per_host_threads`` requests in
flight, the one whose turn comes first (``take_ready``); it takes that host's slot before it
starts the link's thread, which gives it back when its pipeline returns (before forking its
own links). So a thread is not started until its host has a free slot, and a finder waits
for a slot only when every link it still holds is of a host at its cap (that wait always
ends: a slot is held only around one URL's pipeline, never while waiting for another). A
spawned thread
holds one URL and waits for its host's turn before fetching it (it holds nothing another
host could use).
"""

from __future__ import annotations

from core.strategies.base import (
    MAX_RECURSIVE_DEPTH,
    Body,
    Item,
    StrategyHost,
    ThreadCounting,
    Worker,
    handle_in_slot,
    origin,
    take_ready,
)


class ThreadPerUrl(ThreadCounting):
    name = "thread-per-url"
    summary = (
        "A new thread for every discovered link: watch the thread count explode. A hard cap "
        "(max spawned threads) keeps the machine alive; past it the finder crawls the link "
        "itself."
    )
    depth_limit = MAX_RECURSIVE_DEPTH

    def __init__(self, crawl: StrategyHost) -> None:
        super().__init__(crawl)
        self.cap = crawl.settings.max_spawned_threads
        self.peak_alive = 0
        self.inline = 0  # links crawled by their finder because the cap was reached
        self._refused = False

    def threads_target(self) -> int:
        return self.cap

    def start(self, items: list[Item]) -> None:
        if self._spawn(lambda w: self._fork_all(w, list(items))) is False:
            raise RuntimeError("could not start the first crawl thread")

    def _spawn(self, body: Body) -> bool | None:
        """Start a thread running ``body`` if a slot is free: True if started, False if not
        (the cap, or the OS refused), None when the crawl is ending."""
        with self._lock:
            if self._alive >= self.cap:
                return False
            name = self._count_in("crawl-spawn")
            self.peak_alive = max(self.peak_alive, self._alive)
        try:
            started = self._start_counted(name, body)
        except RuntimeError:  # "can't start new thread": the OS's own cap
            self._count_out()
            if not self._refused:
                self._refused = True
                self.crawl.notice("warning", "the OS refused a thread; finders crawl inline")
            return None if self.crawl.stopping else False
        return True if started is not None else None

    def _fork_all(self, w: Worker, items: list[Item]) -> None:
        """Start a thread for each of ``items`` (a list this thread owns), or crawl it inline."""
        while items:
            item = take_ready(self.crawl, self._slots, w, items)
            if item is None:
                return
            spawned = self._spawn(self._visitor(item))
            if spawned is None:  # ending: the link is abandoned, not run inline
                self._slots.give_back(origin(item[0]))
                return
            if not spawned:
                with self._lock:
                    self.inline += 1
                self._visit(w, item)

    def _visitor(self, item: Item) -> Body:
        """A spawned thread's body: crawl ``item`` (its host's slot is taken) and fork its links."""
        return lambda child: self._visit(child, item)

    def _visit(self, w: Worker, item: Item) -> None:
        """Crawl ``item``, whose host's slot ``w`` holds, then fork its links."""
        if self.crawl.checkpoint(w):
            self._fork_all(w, handle_in_slot(self.crawl, self._slots, w, item))
        else:
            self._slots.give_back(origin(item[0]))

    def backlog(self) -> int:
        return 0
