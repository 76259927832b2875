"""``bounded``: a fixed pool of workers around one host-aware frontier (the engine's own design).

Each worker loops: take an item of a host whose turn it is from the frontier, run the
pipeline, and hand the new links back to the frontier in the same call that marks its URL
done. The frontier keeps the hosts' turns (delays, ``per_host_threads``), so a worker never
sleeps holding a URL: with nothing ready it waits (state ``WAITING_HOST``, the earliest host)
only until a host is. That done-call is also how the crawl ends: the frontier counts URLs
queued or in hand, and when the count reaches zero every worker wakes and exits (no polling).
Memory stays bounded: the frontier spills to disk. ``set_threads`` grows the pool or retires
workers after their current URL.
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
    schedules_hosts = True

    def __init__(self, crawl: StrategyHost) -> None:
        super().__init__(crawl)
        proxy = self.crawl  # the weak proxy: the frontier must not keep the crawl alive
        settings = crawl.settings
        self.frontier = Frontier(
            settings.frontier_size,
            per_host=settings.per_host_threads,
            delay_of=lambda host: proxy.known_delay(host),
            adaptive=settings.autothrottle,
        )
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
                host = frontier.next_host()
                if host is None:
                    crawl.set_state(w, WorkerState.IDLE, None)
                else:
                    crawl.set_state(w, WorkerState.WAITING_HOST, host)
                item = frontier.get(since=seen, shown=host)
                if item is None:
                    continue  # woken to re-check pause/stop/retire
            new = handle(w, item)
            if frontier.task_done(item, new):
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
