"""The thread→GUI pump: a real producer thread, a real QTimer draining on the GUI thread."""

from __future__ import annotations

import threading
import time

import pytest

pytest.importorskip("pytestqt")

from core.events import EventStream, Mailbox, Notice
from gui.pump import Pump


def test_items_from_a_worker_thread_arrive_in_order_in_bounded_batches_on_the_gui_thread(qtbot):
    mailbox: Mailbox[int] = Mailbox(maxlen=100_000)
    batches: list[list[int]] = []
    threads: set[str] = set()

    def on_batch(items: list[int]) -> None:
        threads.add(threading.current_thread().name)
        batches.append(items)

    pump = Pump(on_batch, mailbox, max_per_tick=700, tick_ms=10)
    pump.start()
    n = 5_000
    producer = threading.Thread(target=lambda: [mailbox.offer(i) for i in range(n)], name="prod")
    producer.start()
    producer.join(5)
    qtbot.waitUntil(lambda: sum(map(len, batches)) == n, timeout=5_000)
    pump.stop()
    assert [i for batch in batches for i in batch] == list(range(n))
    assert max(map(len, batches)) == 700
    assert len(batches) >= n // 700
    assert threads == {threading.main_thread().name}
    assert mailbox.dropped == 0
    assert pump.backlog == 0


def test_a_full_mailbox_drops_and_counts_and_the_producer_never_waits(qtbot):
    mailbox: Mailbox[int] = Mailbox(maxlen=50)
    received: list[int] = []
    totals: list[int] = []
    pump = Pump(received.extend, mailbox, on_dropped=totals.append, tick_ms=10)
    offered: list[bool] = []
    took: list[float] = []

    def produce() -> None:  # the GUI thread is not draining yet: the mailbox fills up
        started = time.perf_counter()
        offered.extend(mailbox.offer(i) for i in range(20_000))
        took.append(time.perf_counter() - started)

    producer = threading.Thread(target=produce, name="prod")
    producer.start()
    producer.join(5)
    assert not producer.is_alive(), "the producer blocked on a full mailbox"
    assert offered.count(True) == 50
    assert offered[:50] == [True] * 50
    assert mailbox.dropped == 19_950
    assert took[0] < 1.0  # 20 000 offers, no waiting (~5 ms here)

    pump.start()
    qtbot.waitUntil(lambda: totals == [19_950], timeout=5_000)
    assert received == list(range(50))  # the oldest kept, the newest dropped
    mailbox.offer(-1)  # room again once drained
    qtbot.waitUntil(lambda: received[-1:] == [-1], timeout=5_000)
    assert totals == [19_950]  # reported once per increase, not per tick
    pump.stop()


def test_the_pump_follows_a_new_subscription_and_flushes_the_old_one(qtbot):
    stream = EventStream()
    got: list[str] = []
    pump = Pump(lambda events: got.extend(e.message for e in events), max_per_tick=1, tick_ms=10)
    first = stream.subscribe(maxlen=10)
    pump.attach(first)
    for text in ("a", "b", "c"):
        stream.publish(Notice(level="info", message=text))
    assert pump.backlog == 3
    assert pump.flush() == 3
    assert got == ["a", "b", "c"]
    first.close()
    second = stream.subscribe(maxlen=10)
    pump.attach(second)
    pump.start()
    publisher = threading.Thread(
        target=lambda: stream.publish(Notice(level="info", message="d")), name="pub"
    )
    publisher.start()
    publisher.join(5)
    qtbot.waitUntil(lambda: got[-1:] == ["d"], timeout=5_000)
    pump.detach()
    stream.publish(Notice(level="info", message="e"))
    assert pump.drain() == 0
    assert got == ["a", "b", "c", "d"]
    assert len(second) == 1
    pump.stop()
    assert not pump.running
