"""The event stream: fan-out to subscribers, and what a producer does when nobody listens or a
subscriber falls behind."""

from __future__ import annotations

import dataclasses
import threading
import time

import pytest

from core.events import (
    ErrorInfo,
    EventStream,
    FetchFinished,
    Marker,
    PageResult,
    WorkerState,
    WorkerStateChanged,
)


def test_publishing_reaches_every_subscriber_and_drops_are_counted_per_subscriber():
    stream = EventStream()
    assert not stream.active
    stream.publish(Marker(text="nobody listens"))  # goes nowhere, never blocks
    first = stream.subscribe(maxlen=2)
    assert stream.active
    for i in range(3):
        stream.publish(Marker(text=f"a{i}"))
    assert [e.text for e in first.drain()] == ["a0", "a1"]
    assert first.dropped == 1
    second = stream.subscribe(maxlen=10)
    stream.publish(Marker(text="both"))
    assert [e.text for e in first.drain()] == [e.text for e in second.drain()] == ["both"]
    first.close()
    stream.publish(Marker(text="second only"))
    assert first.drain() == []
    assert [e.text for e in second.drain()] == ["second only"]
    second.close()
    assert not stream.active
    stream.publish(Marker(text="gone"))
    assert second.drain() == []
    assert (first.dropped, second.dropped) == (1, 0)


def test_concurrent_publishers_lose_nothing_below_the_bound():
    stream = EventStream()
    sub = stream.subscribe(maxlen=100_000)
    per_thread = 2_000

    def publish(name: str) -> None:
        for i in range(per_thread):
            stream.publish(Marker(text=f"{name}-{i}"))

    threads = [threading.Thread(target=publish, args=(f"p{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    texts = [e.text for e in sub.drain()]
    assert len(texts) == len(set(texts)) == 4 * per_thread
    assert sub.dropped == 0
    for n in range(4):  # each publisher's events in its own order
        mine = [t for t in texts if t.startswith(f"p{n}-")]
        assert mine == [f"p{n}-{i}" for i in range(per_thread)]


def test_per_page_events_build_fast_yet_behave_as_frozen_dataclasses():
    before = time.monotonic()
    built = WorkerStateChanged(name="w1", state=WorkerState.FETCHING)
    assert before <= built.t <= time.monotonic()  # the default factory still runs
    assert built.url is None
    made = WorkerStateChanged.make(1.5, "w1", WorkerState.PARSING, "http://x/1")
    assert made == WorkerStateChanged(t=1.5, name="w1", state=WorkerState.PARSING, url="http://x/1")
    assert dataclasses.replace(made, url="http://x/2").url == "http://x/2"
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.url = "http://x/3"  # type: ignore[misc]
    with pytest.raises(TypeError):
        WorkerStateChanged(name="w1")  # type: ignore[call-arg]
    result = PageResult("http://x/1", None, 0, 200, 10, 1.0, 2)
    finished = FetchFinished.make(2.0, "w1", result, 1.75)
    assert finished == FetchFinished(worker="w1", result=result, parse_started=1.75, t=2.0)
    assert FetchFinished(worker="w1", result=result).parse_started is None
    assert PageResult.make("http://x/1", None, 0, 200, 10, 1.0, 2, None, False) == result
    failed = PageResult("http://x/2", "http://x/1", 1, None, 0, 0.5, 0, error=ErrorInfo("a", "b"))
    assert failed.failed
    assert dataclasses.replace(failed, truncated=True).truncated
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.links = 3  # type: ignore[misc]
