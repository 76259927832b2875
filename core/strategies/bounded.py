"""``bounded``: a fixed pool of workers around one bounded frontier (the engine's own design).

Each worker loops: take an item from the frontier, run the pipeline, and hand the new links
back to the frontier in the same call that marks its URL done. That call is also how the
crawl ends: the frontier counts URLs queued or in hand, and when the count reaches zero every
worker wakes and exits (no polling). Memory stays bounded: the frontier spills to disk.
``set_threads`` grows the pool or retires workers after their current URL.
"""

from __future__ import annotations

from core.frontier import Frontier
from core.strategies.base import Item, Strategy, StrategyHost, Worker, WorkerState


class Bounded(Strategy):
    name = "bounded"
    summary = (
        "A fixed pool of workers around one bounded frontier (this engine's design): memory "
        "stays bounded (the overflow spills to disk), every wait has a timeout, and the thread "
        "count can change while it runs."
    )
    resizable = True

    def __init__(self, crawl: StrategyHost) -> None:
        super().__init__(crawl)
        self.frontier = Frontier(crawl.settings.frontier_size)
        self._announced_drops = False

    def start(self, items: list[Item]) -> None:
        self.frontier.put_many(items)
        self.crawl.spawn_workers(self.crawl.settings.threads, self.work)

    def work(self, w: Worker) -> None:
        crawl = self.crawl
        handle = crawl.handle
        frontier = self.frontier
        while True:
            seen = frontier.wakeups  # before the checks: see Frontier.get(since=)
            if crawl.paused or crawl.stopping or w.retire:
                if not crawl.checkpoint(w):
                    return
                continue
            item = frontier.get(0)
            if item is None:
                if frontier.drained or frontier.closed:
                    return
                crawl.set_state(w, WorkerState.IDLE, None)
                item = frontier.get(since=seen)
                if item is None:
                    continue  # woken to re-check pause/stop/retire
            new = handle(w, item)
            if frontier.task_done(new):
                crawl.finish()
            elif frontier.dropped and not self._announced_drops:
                self._announced_drops = True
                crawl.notice("warning", "the frontier could not spill to disk; links are dropped")

    def wake(self) -> None:
        self.frontier.wake()

    def backlog(self) -> int:
        return len(self.frontier)

    def dropped(self) -> int:
        return self.frontier.dropped

    def close(self) -> None:
        self.frontier.close()
