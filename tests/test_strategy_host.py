"""Each strategy against a small fake host (no Crawler, no network): the scheduling itself.

``FakeHost`` implements ``core.strategies.base.StrategyHost`` over an in-memory link graph
with real threads, and records which thread handled which URL in which order, so these tests
see breadth-first against depth-first order, how ``recursive`` deals out the root's links,
``thread-per-url`` at its cap, and that no strategy takes a URL once the host is stopping.
"""

from __future__ import annotations

import ast
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

import core.strategies
from core.settings import CrawlSettings
from core.strategies import STRATEGIES, Strategy, make_strategy
from core.strategies.base import Body, Item, StrategyHost, Worker, WorkerState

# root links a and b; a links c and d; b links d (already seen by then) and e; c links back.
GRAPH = {"root": ["a", "b"], "a": ["c", "d"], "b": ["d", "e"], "c": ["root"], "d": [], "e": []}
TREE = {"root": ["a", "b", "c"], "a": ["a1", "a2"], "b": ["b1"], "c": ["c1"]}


class FakeHost:
    """A ``StrategyHost`` with an in-memory site: ``handle`` returns the unseen links."""

    def __init__(self, graph: dict[str, list[str]], stop_after: int = 0, **settings: int) -> None:
        self.settings = CrawlSettings("http://fake.test/", **settings)
        self.stopping = False
        self.paused = False
        self.reason = ""
        self.graph = graph
        self.stop_after = stop_after
        self.on_stop: Callable[[], None] = lambda: None  # the strategy's wake, as the engine's
        self.handled: list[tuple[str, str]] = []  # (thread name, url) in order
        self.finished = 0
        self.failures: list[BaseException] = []
        self.adopted: list[str] = []
        self.released: list[str] = []
        self._seen = {"root"}
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def handle(self, w: Worker, item: Item) -> list[Item]:
        url, _, depth = item
        with self._lock:
            self.handled.append((threading.current_thread().name, url))
            new = [link for link in self.graph.get(url, []) if link not in self._seen]
            self._seen.update(new)
            stop = len(self.handled) == self.stop_after
        if stop:
            self._end("stopped")
        return [(link, url, depth + 1) for link in new]

    def checkpoint(self, w: Worker | None) -> bool:
        return not (self.stopping or (w is not None and w.retire))

    def finish(self) -> None:
        with self._lock:
            self.finished += 1
        self._end("finished")

    def fail(self, exc: BaseException) -> None:
        self.failures.append(exc)
        self._end(f"error: {exc}")

    def notice(self, level: str, message: str) -> None:
        pass

    def set_state(self, w: Worker, state: WorkerState, url: str | None) -> None:
        w.state, w.url = state, url

    def spawn_workers(self, count: int, body: Body) -> None:
        for n in range(1, count + 1):
            self.start_worker(f"crawl-worker-{n}", body)

    def start_worker(
        self, name: str, body: Body, on_exit: Callable[[], None] | None = None
    ) -> Worker | None:
        if self.stopping:
            return None
        worker = Worker(number=0, name=name)
        self._start(name, lambda: self._run(worker, body, on_exit))
        return worker

    def start_thread(self, name: str, target: Callable[[], None]) -> None:
        self._start(name, target)

    def adopt_worker(self) -> Worker:
        thread = threading.current_thread()
        with self._lock:
            self.adopted.append(thread.name)
        return Worker(number=0, name=thread.name, thread=thread)

    def release_worker(self, w: Worker, reason: str) -> None:
        with self._lock:
            self.released.append(w.name)

    def _end(self, reason: str) -> None:
        if not self.stopping:
            self.stopping, self.reason = True, reason
            self.on_stop()

    def _start(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=name)
        with self._lock:
            self._threads.append(thread)
        thread.start()

    def _run(self, w: Worker, body: Body, on_exit: Callable[[], None] | None) -> None:
        try:
            body(w)
        except BaseException as exc:
            self.fail(exc)
        finally:
            if on_exit is not None:
                on_exit()

    def join(self, timeout: float = 10.0) -> bool:
        """Join every thread started so far, and those they started, until none is left."""
        joined: set[threading.Thread] = set()
        while True:
            with self._lock:
                left = [t for t in self._threads if t not in joined]
            if not left:
                return True
            for thread in left:
                thread.join(timeout)
                if thread.is_alive():
                    return False
                joined.add(thread)


def crawl(name: str, graph: dict[str, list[str]], **options: int) -> tuple[FakeHost, Strategy]:
    """Run strategy ``name`` on a fake host from ``root`` until its threads have exited."""
    host = FakeHost(graph, **options)
    contract: StrategyHost = host  # what the engine's Crawler also is
    strategy = make_strategy(name, contract)
    host.on_stop = strategy.wake
    strategy.start([("root", None, 0)])
    assert host.join(), "the strategy's threads did not exit"
    strategy.close()
    assert host.failures == []
    return host, strategy


def urls(host: FakeHost) -> list[str]:
    return [url for _, url in host.handled]


def test_bounded_on_one_worker_crawls_breadth_first_and_finishes_once():
    host, _ = crawl("bounded", GRAPH, threads=1)
    assert urls(host) == ["root", "a", "b", "c", "d", "e"]
    assert host.finished == 1
    assert host.reason == "finished"


def test_bounded_workers_share_one_frontier_each_url_once():
    graph = {str(i): [str(2 * i + 1), str(2 * i + 2), str(i // 2)] for i in range(200)}
    graph["root"] = ["0"]
    host, strategy = crawl("bounded", graph, threads=4)
    assert sorted(urls(host)) == sorted(["root", *map(str, range(401))])
    assert {name for name, _ in host.handled} <= {f"crawl-worker-{n}" for n in (1, 2, 3, 4)}
    assert host.finished == 1
    assert strategy.backlog() == 0


def test_recursive_on_one_thread_crawls_depth_first():
    host, _ = crawl("recursive", GRAPH, threads=1)
    assert urls(host) == ["root", "a", "c", "d", "b", "e"]
    assert host.finished == 1


def test_recursive_deals_the_roots_links_round_robin_and_each_thread_walks_its_share():
    host, _ = crawl("recursive", TREE, threads=2)
    by_thread: dict[str, list[str]] = {}
    for name, url in host.handled:
        by_thread.setdefault(name, []).append(url)
    assert by_thread == {
        "crawl-worker-1": ["root", "a", "a1", "a2", "c", "c1"],  # root's links 1 and 3
        "crawl-worker-2": ["b", "b1"],  # root's link 2
    }
    assert host.finished == 1


def test_thread_per_url_gives_each_url_a_thread_until_the_cap_then_crawls_inline():
    spread, strategy = crawl("thread-per-url", TREE, max_spawned_threads=100)
    assert sorted(urls(spread)) == sorted(["root", *TREE["root"], "a1", "a2", "b1", "c1"])
    names = [name for name, _ in spread.handled]
    assert len(set(names)) == len(names)  # one thread per URL
    assert strategy.threads_target() == 100
    assert spread.finished == 1
    capped, strategy = crawl("thread-per-url", TREE, max_spawned_threads=1)
    assert capped.handled == [
        ("crawl-spawn-1", url) for url in ["root", "a", "a1", "a2", "b", "b1", "c", "c1"]
    ]  # the only thread crawls every link itself, depth-first
    assert strategy.inline == 8
    assert capped.finished == 1


def test_pool_runs_each_url_once_on_its_adopted_executor_threads():
    host, _ = crawl("pool", GRAPH, threads=3)
    assert sorted(urls(host)) == ["a", "b", "c", "d", "e", "root"]
    assert urls(host)[0] == "root"
    assert host.adopted
    assert all(name.startswith("crawl-worker_") for name in host.adopted)
    assert sorted(host.released) == sorted(host.adopted)  # released after the executor joined
    assert host.finished == 1


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_no_strategy_takes_a_url_once_the_host_is_stopping(name):
    # One thread each (thread-per-url: a cap of 1), so the order is fixed: stopping is set
    # while the third URL is handled, and no fourth is taken.
    host, _ = crawl(name, GRAPH, stop_after=3, threads=1, max_spawned_threads=1)
    assert len(host.handled) == 3
    assert host.reason == "stopped"


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_a_strategy_module_imports_only_the_contract_and_its_helpers():
    allowed = {"core.strategies.base", "core.frontier"}  # Frontier: bounded's own helper
    for path in Path(core.strategies.__file__).parent.glob("*.py"):
        if path.name not in ("__init__.py", "base.py"):
            project = {m for m in imported_modules(path) if m.split(".")[0] in ("core", "gui")}
            assert project <= allowed, f"{path.name} imports {sorted(project - allowed)}"
