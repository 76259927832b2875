"""The frontier: FIFO across the memory/disk boundary, bounded memory, wake-ups, drain."""

from __future__ import annotations

import os
import threading

import pytest

from core.frontier import Frontier


def items(start: int, stop: int, depth: int = 0):
    return [(f"http://h/{i}", None if i == 0 else "http://h/", depth) for i in range(start, stop)]


def drain(frontier: Frontier) -> list:
    out = []
    while (item := frontier.get(timeout=0)) is not None:
        out.append(item)
        frontier.task_done()
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
            frontier.task_done([extra])
            expected.append(extra)
        else:
            frontier.task_done()
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
    assert frontier.task_done() is True
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
            frontier.task_done(children)

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
