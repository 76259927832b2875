"""The frontier: FIFO across the memory/disk boundary, bounded memory, wake-ups, drain."""

from __future__ import annotations

import itertools
import os
import threading
import time

import pytest

from core.frontier import Frontier


def items(start: int, stop: int, depth: int = 0):
    return [(f"http://h/{i}", None if i == 0 else "http://h/", depth) for i in range(start, stop)]


def drain(frontier: Frontier) -> list:
    out = []
    while (item := frontier.get(timeout=0)) is not None:
        out.append(item)
        frontier.task_done(item)
    return out


@pytest.fixture
def spilling(tmp_path):
    """Makes frontiers that spill into ``tmp_path``; closes them (and their files) after."""
    made: list[Frontier] = []

    def make(maxsize: int) -> Frontier:
        made.append(Frontier(maxsize, spill_dir=str(tmp_path)))
        return made[-1]

    yield make
    for frontier in made:
        frontier.close()


def test_fifo_in_memory():
    frontier = Frontier(10)
    frontier.put_many(items(0, 5))
    assert len(frontier) == 5
    assert drain(frontier) == items(0, 5)
    assert frontier.drained


def test_spill_keeps_fifo_and_bounds_memory(spilling):
    frontier = spilling(8)
    peak = 0
    expected = items(0, 1000)
    for chunk in range(0, 1000, 50):  # many producers' worth of links, far beyond the bound
        frontier.put_many(expected[chunk : chunk + 50])
        peak = max(peak, frontier.in_memory)
    assert len(frontier) == 1000
    assert frontier.spilled == 1000 - 8
    got = []
    while (item := frontier.get(timeout=0)) is not None:
        peak = max(peak, frontier.in_memory)
        got.append(item)
        if len(got) % 7 == 0:  # new items arriving while the spill is read back go behind it
            extra = (f"http://h/extra{len(got)}", "p", 1)
            frontier.task_done(item, [extra])
            expected.append(extra)
        else:
            frontier.task_done(item)
    assert got == expected
    assert peak <= 8
    assert frontier.drained
    assert frontier.dropped == 0


def test_long_record_spills_and_returns(spilling):
    frontier = spilling(1)
    long_url = "http://h/" + "a" * (2 << 20)  # longer than one read chunk
    frontier.put_many([("http://h/0", None, 0), (long_url, "x", 1), ("http://h/2", None, 2)])
    assert [i[0] for i in drain(frontier)] == ["http://h/0", long_url, "http://h/2"]


def test_close_wakes_waiters_and_deletes_spill(tmp_path):
    frontier = Frontier(2, spill_dir=str(tmp_path))
    frontier.put_many(items(0, 10))
    frontier.get(0)
    frontier.get(0)
    frontier.get(0)  # refills from disk
    results = []
    empty = Frontier(1)
    waiters = [threading.Thread(target=lambda: results.append(empty.get())) for _ in range(4)]
    for t in waiters:
        t.start()
    empty.close()
    frontier.close()
    for t in waiters:
        t.join(2)
    assert results == [None] * 4
    assert not any(t.is_alive() for t in waiters)
    assert len(frontier) == 0
    assert os.listdir(tmp_path) == []  # anonymous temp file: nothing left behind
    frontier.put(("http://h/late", None, 0))  # ignored after close, never raises
    assert frontier.get(0) is None


def test_wake_is_never_lost_between_a_check_and_the_wait():
    """A worker reads ``wakeups``, checks its flags, then waits: a wake() in between counts."""
    frontier = Frontier(4)
    seen = frontier.wakeups
    frontier.wake()  # e.g. stop() lands after the worker's flag check, before its get()
    assert frontier.get(since=seen) is None  # returns at once instead of sleeping forever
    got = []
    waiting = threading.Thread(target=lambda: got.append(frontier.get(since=frontier.wakeups)))
    waiting.start()
    frontier.put(("http://h/x", None, 0))
    waiting.join(2)
    assert got == [("http://h/x", None, 0)]


def test_drain_wakes_blocked_consumers():
    """The last task_done with nothing queued ends the crawl for every waiting worker."""
    frontier = Frontier(4)
    frontier.put(("http://h/0", None, 0))
    first = frontier.get(0)
    assert first is not None
    results = []
    waiters = [threading.Thread(target=lambda: results.append(frontier.get())) for _ in range(3)]
    for t in waiters:
        t.start()
    assert frontier.task_done(first) is True
    for t in waiters:
        t.join(2)
    assert results == [None] * 3
    assert frontier.drained


def test_get_timeout_returns_none():
    assert Frontier(1).get(timeout=0.01) is None


def test_spill_write_failure_drops_and_counts(tmp_path):
    frontier = Frontier(1, spill_dir=str(tmp_path / "missing"))
    frontier.put_many(items(0, 5))
    assert frontier.dropped == 4
    assert len(frontier) == 1


def test_many_threads_produce_and_consume_without_loss(spilling):
    """Workers that both get and put never deadlock on a tiny bound and lose nothing."""
    frontier = spilling(4)
    frontier.put(("0", None, 0))
    seen = []
    lock = threading.Lock()

    def worker():
        while (item := frontier.get()) is not None:
            n = int(item[0])
            children = [(str(c), item[0], item[2] + 1) for c in (2 * n + 1, 2 * n + 2) if c < 2000]
            with lock:
                seen.append(n)
            frontier.task_done(item, children)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not any(t.is_alive() for t in threads)
    assert sorted(seen) == list(range(2000))
    assert frontier.spilled_total > 0


@pytest.mark.parametrize("bad", [0, -1])
def test_rejects_bad_size(bad):
    with pytest.raises(ValueError, match="maxsize"):
        Frontier(bad)


def host_items(host: str, n: int) -> list:
    return [(f"http://{host}/{i}", None, i) for i in range(n)]


def test_a_waiting_host_never_blocks_a_ready_one():
    delays = {"http://slow": 30.0, "http://fast": 0.0}
    frontier = Frontier(100, delay_of=delays.get)
    frontier.put_many(host_items("slow", 5) + host_items("fast", 5))
    got = []
    while (item := frontier.get(timeout=0)) is not None:
        got.append(item)
        frontier.task_done(item)
    # one slow URL (its turn), then the slow host waits 30 s; every fast URL meanwhile
    assert got == host_items("slow", 1) + host_items("fast", 5)
    assert frontier.next_host() == "http://slow"
    assert len(frontier) == 4


def test_unknown_delay_allows_one_request_then_the_cap():
    known: dict[str, float] = {}
    frontier = Frontier(100, per_host=3, delay_of=known.get)
    frontier.put_many(host_items("h", 10))
    first = frontier.get(timeout=0)
    assert first is not None
    assert frontier.get(timeout=0) is None
    known["http://h"] = 0.0
    frontier.task_done(first)
    taken = [frontier.get(timeout=0) for _ in range(4)]
    assert taken[3] is None
    assert all(taken[:3])


def test_turns_are_a_delay_apart_and_a_waiter_wakes_for_them():
    frontier = Frontier(100, delay_of=lambda host: 0.05)
    frontier.put_many(host_items("h", 4))
    times = []
    for _ in range(4):
        item = frontier.get(timeout=5)
        assert item is not None
        times.append(time.monotonic())
        frontier.task_done(item)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 0.049


def test_spill_keeps_fifo_per_host_and_bounds_memory(tmp_path):
    frontier = Frontier(6, spill_dir=str(tmp_path))
    hosts = [f"h{k}" for k in range(5)]
    expected = {h: host_items(h, 40) for h in hosts}
    for i in range(0, 40, 4):  # interleaved pages of links to every host
        frontier.put_many([it for h in hosts for it in expected[h][i : i + 4]])
    assert frontier.spilled > 0
    got: dict[str, list] = {h: [] for h in hosts}
    peak = 0
    while (item := frontier.get(timeout=0)) is not None:
        peak = max(peak, frontier.in_memory)
        got[item[0].split("/")[2]].append(item)
        frontier.task_done(item)
    assert got == expected
    assert peak <= 6
    assert frontier.drained
    assert frontier.spilled == 0
    frontier.close()


def _traced_bytes(fill) -> int:
    """Bytes still allocated (tracemalloc) after ``fill()`` ran; the result stays alive."""
    import gc
    import tracemalloc

    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = fill()
        used: int = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    del kept
    return used


@pytest.mark.parametrize(("maxsize", "bound"), [(1_000_000, 400), (10, 550)])
def test_memory_per_host_with_100_000_hosts(spilling, maxsize, bound):
    """Measured: bytes per host with one URL each, queued in memory or all but ten spilled
    (the report quotes the figures); a later link to each host joins its spilled segment."""
    urls = [(f"http://host{i}.test/page", None, 1) for i in range(100_000)]
    more = [(f"http://host{i}.test/next", None, 2) for i in range(100_000)]
    frontier = spilling(maxsize)

    def fill() -> None:
        frontier.put_many(urls)
        frontier.put_many(more)

    used = _traced_bytes(fill)
    assert frontier.hosts == 100_000
    assert len(frontier) == 200_000
    where = "in memory" if maxsize > len(frontier) else "spilled"
    print(f"frontier, {where}: {used / 100_000:.0f} bytes per host (URLs themselves not counted)")
    assert used / 100_000 < bound


def test_one_host_spilling_page_by_page_costs_no_memory_per_item(spilling):
    """A host's links spilled a page at a time (the long crawl: one host, links of each page
    behind the bound) stay one segment, not one per page, and come back in order."""
    frontier = spilling(10)
    pages = [items(5 * p, 5 * p + 5, depth=1) for p in range(20_000)]

    def fill() -> None:
        for page in pages:
            frontier.put_many(page)

    used = _traced_bytes(fill)
    assert frontier.spilled == 100_000 - 10
    assert used < 20_000, used  # was ~150 bytes per page: 3 MiB here
    assert drain(frontier) == [it for page in pages for it in page]
    assert frontier.drained


def test_memory_per_host_of_the_per_host_records_with_100_000_hosts():
    """Measured: what the crawl keeps per host it fetched besides its queue (the per-host
    report's record with three response-time buckets, the politeness delays and turns)."""
    from core.hosts import HostLedger
    from core.politeness import HostTurns

    hosts = [f"http://host{i}.test" for i in range(100_000)]
    ledger = HostLedger()
    turns = HostTurns(0.0, None)

    def fill() -> None:
        for host in hosts:
            for ms in (3.0, 12.0, 40.0):
                ledger.fetched(host, 1000, ms, 0, None)
            turns.delay_for(host)
            turns.reserve(host, 0.1)
            turns.begin(host, 0.1)

    used = _traced_bytes(fill)
    assert len(ledger.rows()) == 100_000
    print(f"host report + politeness: {used / 100_000:.0f} bytes per host")
    assert used / 100_000 < 700
