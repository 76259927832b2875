"""A sample reuses what did not change (stacks, classifications, rows' JSON) and nothing else.

Real threads in this process, parked on events; ``sampling.encode`` must say exactly what
``protocol.encode`` says of the same sample, and a thread that moved must be seen where it is.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterator

import pytest
from conftest import wait_until

from core.agent import locks, protocol, sampling


def _functions(sample: dict, name: str) -> list[str]:
    row = next(t for t in sample["threads"] if t["name"] == name)
    return [frame["function"] for frame in row["stack"]]


@pytest.fixture
def mover() -> Iterator[dict[str, threading.Event]]:
    """A thread parked in ``first_place`` until ``go``, then in ``second_place`` until ``stop``."""
    events = {name: threading.Event() for name in ("in_first", "go", "in_second", "stop")}

    def first_place() -> None:
        events["in_first"].set()
        events["go"].wait(10)

    def second_place() -> None:
        events["in_second"].set()
        events["stop"].wait(10)

    def body() -> None:
        first_place()
        second_place()

    thread = threading.Thread(target=body, name="mover")
    thread.start()
    assert events["in_first"].wait(10)
    yield events
    events["go"].set()
    events["stop"].set()
    thread.join(10)


def test_encoded_sample_is_the_sample_and_a_moved_thread_is_seen_where_it_is(mover) -> None:
    first = sampling.take_sample()
    line = sampling.encode(first)
    assert line.endswith(b"\n")
    assert b"\n" not in line[:-1]
    assert json.loads(line) == json.loads(protocol.encode(first))
    again = sampling.take_sample()  # parked where it was: the same rows, encoded again
    assert json.loads(sampling.encode(again)) == json.loads(protocol.encode(again))
    assert "first_place" in _functions(again, "mover")

    mover["go"].set()
    assert mover["in_second"].wait(10)
    moved = sampling.take_sample()
    assert "second_place" in _functions(moved, "mover")
    assert "first_place" not in _functions(moved, "mover")
    decoded = json.loads(sampling.encode(moved))
    assert decoded == json.loads(protocol.encode(moved))
    assert "second_place" in _functions(decoded, "mover")


def test_a_thread_gone_is_forgotten() -> None:
    done = threading.Event()
    thread = threading.Thread(target=done.wait, args=(10,), name="short-lived")
    thread.start()
    sampling.encode(sampling.take_sample())
    ident = thread.ident
    assert ident in sampling._stacks
    done.set()
    thread.join(10)
    sample = sampling.take_sample()
    assert all(t["name"] != "short-lived" for t in sample["threads"])
    assert ident not in sampling._stacks
    assert ident not in sampling._rows


def _row(sample: dict, name: str) -> dict:
    return next(t for t in sample["threads"] if t["name"] == name)


def test_a_threads_cpu_is_its_own_clock_to_the_microsecond() -> None:
    """/proc counts 10 ms ticks; the thread's CPU clock says what it used."""
    used, done = [], threading.Event()

    def spin_then_park() -> None:
        start = time.thread_time()
        while time.thread_time() - start < 0.035:
            pass
        used.append(time.thread_time())
        done.wait(10)

    thread = threading.Thread(target=spin_then_park, name="spinner")
    thread.start()
    try:
        wait_until(lambda: used)
        assert _row(sampling.take_sample(), "spinner")["cpu_s"] == pytest.approx(used[0], abs=1e-3)
    finally:
        done.set()
        thread.join(10)


def test_a_parked_thread_that_starts_working_is_seen_running(monkeypatch) -> None:
    """Its state letter is reused while it has not run, read again once it has."""
    monkeypatch.setattr(sampling, "STATE_MAX_AGE_S", 600.0)  # only having run renews it
    go, stop = threading.Event(), threading.Event()
    block = b"x" * (1 << 20)

    def park_then_hash() -> None:
        go.wait(10)
        while not stop.is_set():
            hashlib.sha256(block).digest()  # hashing 1 MiB runs without the GIL

    thread = threading.Thread(target=park_then_hash, name="hasher")
    thread.start()
    try:
        wait_until(lambda: _row(sampling.take_sample(), "hasher")["os_state"] == "S")
        sampling.take_sample()  # parked: the letter read above is reused
        go.set()
        wait_until(lambda: _row(sampling.take_sample(), "hasher")["os_state"] == "R")
    finally:
        go.set()
        stop.set()
        thread.join(10)


@pytest.mark.parametrize("crunchers", [1, 3])
def test_of_the_threads_running_python_one_is_running_and_the_others_wait_for_the_gil(
    crunchers: int,
) -> None:
    """Sampling takes the GIL, so each cruncher is stopped waiting for it when looked at; the one
    the sampler interrupted runs (a lone one always), the others wait."""
    go_on = [True]  # read in bytecode: a call (Event.is_set) would be a place of its own

    def crunch() -> None:
        n = 0
        while go_on[0]:
            n += 1

    threads = [threading.Thread(target=crunch, name=f"cruncher-{i}") for i in range(crunchers)]
    for thread in threads:
        thread.start()
    states: list[str] = []

    def seen() -> bool:
        sample = sampling.take_sample()
        states[:] = sorted(_row(sample, t.name)["state"] for t in threads)
        return "running" in states

    try:
        wait_until(seen)
        assert states == ["running"] + ["waiting for GIL"] * (crunchers - 1)
    finally:
        go_on[0] = False
        for thread in threads:
            thread.join(10)


def test_a_lock_taken_shows_in_the_next_sample_of_a_parked_thread() -> None:
    """Rows are reused only while equal: holds and waiting_for still change them."""
    with locks.tracking():
        lock = threading.Lock()
        release, holding = threading.Event(), threading.Event()

        def hold() -> None:
            with lock:
                holding.set()
                release.wait(10)

        holder = threading.Thread(target=hold, name="holder")
        waiter = threading.Thread(target=hold, name="waiter")
        holder.start()
        assert holding.wait(10)
        sampling.encode(sampling.take_sample(locks))  # rows cached before the wait begins
        waiter.start()
        rows: dict[str, dict] = {}

        def waiter_seen_waiting() -> bool:
            decoded = json.loads(sampling.encode(sampling.take_sample(locks)))
            rows.update({t["name"]: t for t in decoded["threads"]})
            return rows.get("waiter", {}).get("waiting_for") == lock.id

        try:
            wait_until(waiter_seen_waiting)
            assert rows["holder"]["holds"] == [lock.id]
            assert rows["waiter"]["state"] == "waiting on lock"
        finally:
            release.set()
            holder.join(10)
            waiter.join(10)


def test_snapshot_per_site_false_has_the_same_locks_without_sites() -> None:
    with locks.tracking():
        kept = [threading.Lock() for _ in range(3)]
        full, lean = locks.snapshot(), locks.snapshot(per_site=False)
    assert "sites" in full
    assert "sites" not in lean
    ids = {lock.id for lock in kept}
    assert ids <= {entry["id"] for entry in lean["locks"]}
    assert [e["id"] for e in full["locks"]] == [e["id"] for e in lean["locks"]]


def test_a_sample_lists_the_locks_in_use_as_a_thread_dump_does() -> None:
    """Held or waited for: listed; idle: left to the ``locks`` request (``snapshot()``)."""
    with locks.tracking():
        idle, held = threading.Lock(), threading.Lock()
        waits = threading.Condition()
        release, ready = threading.Event(), threading.Event()

        def hold() -> None:
            with held:
                ready.set()
                release.wait(10)

        def wait_for_notify() -> None:
            with waits:
                waits.wait(10)

        threads = [threading.Thread(target=hold), threading.Thread(target=wait_for_notify)]
        for thread in threads:
            thread.start()
        try:
            assert ready.wait(10)
            wait_until(lambda: any(e["notify_waiters"] for e in locks.snapshot()["locks"]))
            listed = {entry["id"] for entry in sampling.take_sample(locks)["locks"]}
            assert held.id in listed
            assert waits._lock.id in listed  # type: ignore[attr-defined]
            assert idle.id not in listed
            assert idle.id in {entry["id"] for entry in locks.snapshot()["locks"]}
        finally:
            release.set()
            with waits:
                waits.notify_all()
            for thread in threads:
                thread.join(10)
