"""``thread-per-url``: a new ``threading.Thread`` for every discovered link, up to a hard cap.

The design that shows thread explosion: each thread (``crawl-spawn-N``, N counting up)
handles one URL and starts a new thread for each new link it finds. At most
``settings.max_spawned_threads`` spawned threads are alive at once (counted from just before
``Thread.start`` to the thread's last line; ``threading.enumerate`` may briefly list one
that is past it). When the cap is
reached, or the OS refuses a thread, the finder crawls the link itself, depth-first by
recursion ("caller runs"): links never wait in a queue, nothing is dropped, and a thread
never blocks waiting for a slot (blocking would deadlock once every live thread is a parent
waiting for a slot its children cannot free). Recursion is bounded by ``max_depth``. The
crawl is over when the last spawned thread returns. ``set_threads`` is not supported; the
cap is ``max_spawned_threads``, also reported as the thread target. Host delays: a thread
holds one URL and waits for its host's turn before fetching it (it holds nothing another
host could use); a finder crawling links inline takes them in the order their hosts' turns
come (``ready_first``).
"""

from __future__ import annotations

from core.strategies.base import (
    MAX_RECURSIVE_DEPTH,
    Body,
    Item,
    StrategyHost,
    ThreadCounting,
    Worker,
    ready_first,
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
        if not self._spawn(lambda w: self._fork_all(w, items)):
            raise RuntimeError("could not start the first crawl thread")

    def _spawn(self, body: Body) -> bool:
        """Start a thread running ``body`` if a slot is free; False if not (or stopping)."""
        with self._lock:
            if self._alive >= self.cap:
                return False
            name = self._count_in("crawl-spawn")
            self.peak_alive = max(self.peak_alive, self._alive)
        try:
            started = self._start_counted(name, body)
        except RuntimeError:  # "can't start new thread": the OS's own cap
            self._count_out()
            started = None
            if not self._refused:
                self._refused = True
                self.crawl.notice("warning", "the OS refused a thread; finders crawl inline")
        if started is None:
            return self.crawl.stopping  # stopping: the link is abandoned, not run inline
        return True

    def _fork_all(self, w: Worker, items: list[Item]) -> None:
        for item in ready_first(self.crawl, items):
            if not self.crawl.checkpoint(w):
                return
            if not self._spawn(self._visitor(item)):
                with self._lock:
                    self.inline += 1
                self._visit(w, item)

    def _visitor(self, item: Item) -> Body:
        """A spawned thread's body: crawl ``item`` (and fork its links)."""
        return lambda child: self._visit(child, item)

    def _visit(self, w: Worker, item: Item) -> None:
        if self.crawl.checkpoint(w):
            self._fork_all(w, self.crawl.handle(w, item))

    def backlog(self) -> int:
        return 0
