"""Lock tracking with real threads and real locks: owners, waiters, cycles, unchanged behaviour.

Threads synchronise on Events and Barriers; a state another thread must reach is polled with
``wait_until`` (bounded). A helper thread that must wait for a lock waits with a timeout, so a
failing test ends instead of hanging.
"""

from __future__ import annotations

import bisect
import gc
import os
import queue
import signal
import sys
import threading
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from core.agent import locks
from core.experiments import get
from tests.conftest import wait_until

FACTORIES = ("Lock", "RLock", "Condition", "Semaphore", "BoundedSemaphore")


@pytest.fixture
def tracked() -> Iterator[None]:
    with locks.tracking():
        yield


def record(lock: object) -> dict[str, Any]:
    """The snapshot entry of one tracked lock."""
    lock_id = lock.id  # type: ignore[attr-defined]
    return next(entry for entry in locks.snapshot()["locks"] if entry["id"] == lock_id)


def owner_idents(lock: object) -> list[int]:
    return [owner["ident"] for owner in record(lock)["owners"]]


def waiter_idents(lock: object, field: str = "waiters") -> list[int]:
    return [waiter["ident"] for waiter in record(lock)[field]]


def background(target: Callable[[], object], name: str = "test-locks") -> threading.Thread:
    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    return thread


def test_tracking_off_leaves_threading_factories_exactly_as_they_were():
    before = {name: getattr(threading, name) for name in FACTORIES}
    assert not locks.installed()
    locks.install()
    try:
        assert locks.installed()
        assert all(getattr(threading, name) is not before[name] for name in FACTORIES)
        locks.install()  # idempotent: a second install must not save the tracked ones
    finally:
        locks.uninstall()
    assert not locks.installed()
    assert {name: getattr(threading, name) for name in FACTORIES} == before
    assert all(getattr(threading, name) is before[name] for name in FACTORIES)
    assert threading.Lock is threading._allocate_lock  # type: ignore[attr-defined]


def test_locks_made_before_install_stay_untracked(tracked):
    locks.uninstall()
    plain = threading.Lock()
    locks.install()
    assert not hasattr(plain, "id")
    assert hasattr(threading.Lock(), "id")


def test_lock_owner_then_waiter_then_new_owner(tracked):
    lock, line = threading.Lock(), sys._getframe().f_lineno
    assert record(lock)["kind"] == "Lock"
    assert record(lock)["created_at"] == f"{__file__}:{line}"
    assert record(lock)["function"] == "test_lock_owner_then_waiter_then_new_owner"
    lock.acquire()
    assert owner_idents(lock) == [threading.get_ident()]
    got = threading.Event()
    done = threading.Event()

    def waiter() -> None:
        if lock.acquire(timeout=10):
            got.set()
            done.wait(10)
            lock.release()

    thread = background(waiter)
    wait_until(lambda: waiter_idents(lock) == [thread.ident])
    assert "test_locks.py" in record(lock)["waiters"][0]["where"]
    lock.release()
    assert got.wait(10)
    entry = record(lock)
    assert [o["ident"] for o in entry["owners"]] == [thread.ident]
    assert entry["waiters"] == []
    assert entry["acquisitions"] == 2
    assert entry["contended"] == 1
    assert entry["wait_max_s"] > 0
    done.set()
    thread.join(10)
    assert owner_idents(lock) == []


def test_rlock_counts_recursion_and_other_threads_wait(tracked):
    lock = threading.RLock()
    for depth in (1, 2, 3):
        lock.acquire()
        assert record(lock)["owners"][0]["count"] == depth
    thread = background(lambda: lock.acquire(timeout=10) and lock.release())
    wait_until(lambda: waiter_idents(lock) == [thread.ident])
    lock.release()
    lock.release()
    assert record(lock)["owners"][0]["count"] == 1
    assert waiter_idents(lock) == [thread.ident]
    lock.release()
    thread.join(10)
    assert owner_idents(lock) == []
    assert waiter_idents(lock) == []
    with pytest.raises(RuntimeError):
        lock.release()


def test_condition_wait_releases_ownership_and_takes_it_back_at_depth(tracked):
    cond = threading.Condition()
    assert record(cond._lock)["kind"] == "Condition"  # type: ignore[attr-defined]
    woke = threading.Event()
    leave = threading.Event()
    depth_after: list[int] = []

    def waiter() -> None:
        with cond, cond:  # two levels of the RLock
            cond.wait(10)
            depth_after.append(record(cond._lock)["owners"][0]["count"])  # type: ignore[attr-defined]
            woke.set()
            leave.wait(10)

    thread = background(waiter)
    inner = cond._lock  # type: ignore[attr-defined]
    wait_until(lambda: waiter_idents(inner, "notify_waiters") == [thread.ident])
    assert owner_idents(inner) == []  # wait() gave the lock up
    assert locks.thread_locks(locks.snapshot())[thread.ident]["waiting_for"] == inner.id
    with cond:
        assert owner_idents(inner) == [threading.get_ident()]
        cond.notify()
    assert woke.wait(10)
    assert owner_idents(inner) == [thread.ident]
    assert depth_after == [2]
    leave.set()
    thread.join(10)
    assert owner_idents(inner) == []


@pytest.mark.parametrize("kind", ["Semaphore", "BoundedSemaphore"])
def test_semaphore_owners_waiters_and_a_release_from_another_thread(tracked, kind):
    sem = getattr(threading, kind)(2)
    assert record(sem)["kind"] == kind
    sem.acquire()
    with sem:
        assert record(sem)["owners"] == [
            {"ident": threading.get_ident(), "since_s": pytest.approx(0, abs=5), "count": 2}
        ]
        thread = background(lambda: sem.acquire(timeout=10))
        wait_until(lambda: waiter_idents(sem) == [thread.ident])
    thread.join(10)
    assert sorted(owner_idents(sem)) == sorted([threading.get_ident(), thread.ident])
    assert not sem.acquire(blocking=False)
    assert not sem.acquire(timeout=0.01)
    with pytest.raises(ValueError, match="timeout"):
        sem.acquire(blocking=False, timeout=1)
    sem.release()
    assert not record(sem)["handoff"]  # its own permit
    sem.release()  # the other thread's permit: a handoff
    assert record(sem)["handoff"]
    assert owner_idents(sem) == []
    if kind == "BoundedSemaphore":
        with pytest.raises(ValueError, match="too many"):
            sem.release()


def test_queue_event_and_barrier_made_after_install_are_tracked_and_work(tracked):
    jobs: queue.Queue[int] = queue.Queue(maxsize=1)
    line = sys._getframe().f_lineno - 1
    mutex = jobs.mutex
    assert record(mutex)["created_at"] == f"{__file__}:{line}"  # the Queue() line
    got: list[int] = []
    thread = background(lambda: got.append(jobs.get(timeout=10)))
    wait_until(lambda: waiter_idents(mutex, "notify_waiters") == [thread.ident])
    assert "test_locks.py" in record(mutex)["notify_waiters"][0]["where"]
    jobs.put(7)
    thread.join(10)
    assert got == [7]
    assert record(mutex)["notify_waiters"] == []

    event = threading.Event()
    barrier = threading.Barrier(3)
    parties = [background(lambda: (barrier.wait(10), event.wait(10))) for _ in range(2)]
    barrier.wait(10)
    event.set()
    for party in parties:
        party.join(10)
    assert not any(p.is_alive() for p in parties)
    assert hasattr(event._cond._lock, "id")  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", ["Lock", "RLock"])
def test_timeouts_nonblocking_and_errors_behave_as_untracked(kind):
    def behaviour() -> list[object]:
        lock = getattr(threading, kind)()
        seen: list[object] = [lock.acquire(blocking=False)]
        results: list[object] = []
        other = threading.Thread(
            target=lambda: results.extend(
                [lock.acquire(blocking=False), lock.acquire(timeout=0.01)]
            )
        )
        other.start()
        other.join(10)
        seen += results
        for call in (
            lambda: lock.acquire(blocking=False, timeout=1),
            lambda: lock.acquire(timeout=-5),
        ):
            try:
                call()
                seen.append("no error")
            except ValueError as error:
                seen.append(str(error))
        lock.release()
        try:
            lock.release()
            seen.append("no error")
        except RuntimeError as error:
            seen.append(type(error).__name__)
        with lock as entered:
            seen.append(entered)
        return seen

    untracked = behaviour()
    with locks.tracking():
        assert behaviour() == untracked
    assert untracked[:3] == [True, False, False]


def test_a_lock_may_be_released_by_another_thread(tracked):
    lock = threading.Lock()
    lock.acquire()
    assert lock.locked()
    background(lock.release).join(10)
    assert not lock.locked()
    assert owner_idents(lock) == []
    assert record(lock)["handoff"]


def test_an_exception_inside_a_waiting_acquire_leaves_no_waiter_and_no_owner(tracked):
    class Interrupted(Exception):
        pass

    def interrupt(_signum: int, _frame: object) -> None:
        raise Interrupted

    lock = threading.Lock()
    release = threading.Event()
    holder = background(lambda: (lock.acquire(), release.wait(10), lock.release()))
    wait_until(lambda: owner_idents(lock) == [holder.ident])
    main = threading.get_ident()
    old = signal.signal(signal.SIGUSR1, interrupt)

    def poke() -> None:
        wait_until(lambda: waiter_idents(lock) == [main])
        signal.pthread_kill(main, signal.SIGUSR1)

    try:
        poker = background(poke)
        with pytest.raises(Interrupted):
            lock.acquire(timeout=10)
        poker.join(10)
    finally:
        signal.signal(signal.SIGUSR1, old)
    assert waiter_idents(lock) == []
    assert owner_idents(lock) == [holder.ident]
    release.set()
    holder.join(10)
    assert lock.acquire(timeout=10)
    lock.release()


def test_at_fork_reinit_frees_the_lock_and_forgets_its_owner(tracked):
    lock, rlock = threading.Lock(), threading.RLock()
    lock.acquire()
    rlock.acquire()
    lock._at_fork_reinit()  # type: ignore[attr-defined]
    rlock._at_fork_reinit()  # type: ignore[attr-defined]
    assert not lock.locked()
    assert owner_idents(lock) == []
    assert owner_idents(rlock) == []
    assert rlock.acquire(blocking=False)
    rlock.release()


class Ring:
    """``n`` threads, thread i holding lock i and waiting for lock i+1 (mod n): a real cycle.

    ``unwind()`` breaks it the way lock-order-deadlock does: it releases thread 0's lock on
    its behalf; thread 0 then leaves lock 0 alone.
    """

    def __init__(self, n: int) -> None:
        self.locks = [threading.Lock() for _ in range(n)]
        self.robbed = threading.Event()
        barrier = threading.Barrier(n)

        def member(i: int) -> None:
            first, second = self.locks[i], self.locks[(i + 1) % n]
            first.acquire()
            barrier.wait(10)
            if second.acquire(timeout=20):
                second.release()
            if not (i == 0 and self.robbed.is_set()):
                first.release()

        self.threads = [
            threading.Thread(target=member, args=(i,), name=f"ring-{i}", daemon=True)
            for i in range(n)
        ]
        for thread in self.threads:
            thread.start()
        wait_until(lambda: sum(len(record(lock)["waiters"]) for lock in self.locks) == n)

    def idents(self) -> list[int]:
        return [t.ident or 0 for t in self.threads]

    def unwind(self) -> None:
        self.robbed.set()
        self.locks[0].release()
        for thread in self.threads:
            thread.join(10)
        assert not any(t.is_alive() for t in self.threads)


@pytest.mark.parametrize("n", [2, 3])
def test_a_cycle_is_found_once_rotated_to_its_smallest_ident(tracked, n):
    ring = Ring(n)
    try:
        cycles = locks.find_deadlocks(locks.snapshot())
        assert len(cycles) == 1
        (cycle,) = cycles
        assert sorted(cycle) == sorted(ring.idents())
        assert cycle[0] == min(cycle)
        # in wait-for order: each thread waits for the next one's lock
        order = ring.idents()
        start = order.index(cycle[0])
        assert cycle == (order[start:] + order[:start])
        watch = locks.DeadlockWatch()
        reports = [watch.check() for _ in range(5)]
        assert reports[0] == []
        assert reports[1] == [cycle]
        assert reports[2:] == [[], [], []]
        assert watch.reported == [cycle]
        text = locks.format_deadlocks(locks.snapshot(), cycles)
        assert text.startswith("Found one Python-level deadlock:")
        assert text.count('"ring-') == n
        assert "held by ring-" in text
        assert text.endswith("Found 1 deadlock.")
        fields = locks.dump_fields(locks.snapshot())
        names = {t.ident: t.name for t in ring.threads}
        assert fields["deadlocks"] == [[names[ident] for ident in cycle]]
        ring_ids = {lock.id for lock in ring.locks}  # type: ignore[attr-defined]
        ours = [entry for entry in fields["locks"] if entry["id"] in ring_ids]
        assert sorted(entry["owner"] for entry in ours) == sorted(names.values())
        assert all(len(entry["waiters"]) == 1 for entry in ours)
    finally:
        ring.unwind()
    assert locks.find_deadlocks(locks.snapshot()) == []


def test_the_watch_thread_names_a_deadlock_within_a_second_and_once(tracked):
    named = threading.Event()
    reports: list[list[int]] = []

    def on_deadlock(cycle: list[int], _snap: dict[str, Any]) -> None:
        reports.append(cycle)
        named.set()

    with locks.DeadlockWatch(on_deadlock=on_deadlock) as watch:
        assert "threadscope-deadlock-watch" in [t.name for t in threading.enumerate()]
        ring = Ring(2)
        try:
            formed = locks.snapshot()["monotonic"]
            assert named.wait(5)
            assert locks.snapshot()["monotonic"] - formed < 1.0
            checks = watch.reported[:]
            wait_until(lambda: watch.check() == [] and len(watch.reported) == len(checks))
        finally:
            ring.unwind()
    assert len(reports) == 1
    assert sorted(reports[0]) == sorted(ring.idents())
    assert "threadscope-deadlock-watch" not in [t.name for t in threading.enumerate()]


def test_a_long_hold_without_a_cycle_is_no_deadlock(tracked):
    lock = threading.Lock()
    lock.acquire()
    try:
        thread = background(lambda: lock.acquire(timeout=20) and lock.release(), name="patient")
        wait_until(lambda: waiter_idents(lock) == [thread.ident])
        watch = locks.DeadlockWatch()
        assert [watch.check() for _ in range(4)] == [[], [], [], []]
        snap = locks.snapshot()
        assert locks.find_deadlocks(snap) == []
        (line,) = locks.thread_lines(snap, thread.ident or 0)
        assert line.startswith("waiting for Lock created at test_locks.py:")
        assert "held by MainThread for " in line
        assert any(
            line.startswith("holds Lock created at test_locks.py:")
            for line in locks.thread_lines(snap, threading.get_ident())
        )
    finally:
        lock.release()
    thread.join(10)


def test_snapshot_groups_short_lived_locks_by_creation_site(tracked):
    def make_and_use() -> None:
        lock = threading.Lock()
        with lock:
            pass

    for _ in range(50):
        make_and_use()
    sites = [s for s in locks.snapshot()["sites"] if s["function"] == "make_and_use"]
    assert len(sites) == 1
    assert sites[0]["created"] == 50
    assert sites[0]["acquisitions"] == 50


def _waits(kind: str) -> tuple[list[int], float]:
    row = locks.wait_histogram()["kinds"][kind]
    return row["counts"], row["sum_s"]


def _contend_once(kind: str) -> tuple[float, weakref.ref[Any]]:
    """One of ``kind`` used 100 times uncontended, tried once without waiting by another
    thread while held, then waited for once: (that wait's seconds, a weak ref to the lock)."""
    made = getattr(threading, kind)()
    lock = made._lock if kind == "Condition" else made  # a Condition's own tracked RLock
    before = _waits(kind)
    for _ in range(100):
        with made:
            pass
    assert made.acquire(timeout=5)
    failed: list[bool] = []
    trier = threading.Thread(target=lambda: failed.append(made.acquire(False)))
    trier.start()
    trier.join(10)
    assert failed == [False]
    assert _waits(kind) == before  # neither uncontended nor failed tries count

    def wait_then_release() -> None:
        if made.acquire(timeout=10):
            made.release()

    waiter = threading.Thread(target=wait_then_release)
    waiter.start()
    wait_until(lambda: lock.waiters)
    made.release()
    waiter.join(10)
    assert lock.contended == 1
    return lock.wait_total, weakref.ref(lock)


@pytest.mark.parametrize("kind", FACTORIES)
def test_a_wait_lands_in_its_bucket_of_its_kind_and_outlives_its_lock(tracked, kind):
    before = _waits(kind)
    waited, lock = _contend_once(kind)
    counts, seconds = _waits(kind)
    bucket = bisect.bisect_left(locks.WAIT_BUCKETS, waited)
    assert [n - m for n, m in zip(counts, before[0], strict=True)] == [
        int(i == bucket) for i in range(len(counts))
    ]
    assert seconds == pytest.approx(before[1] + waited)
    gc.collect()
    assert lock() is None
    assert _waits(kind) == (counts, seconds)  # the lock is gone, its wait stays


def test_the_histogram_lists_every_kind_with_a_count_past_the_last_bound():
    histogram = locks.wait_histogram()
    assert histogram["bounds"] == sorted(histogram["bounds"]) == list(locks.WAIT_BUCKETS)
    assert set(histogram["kinds"]) == set(FACTORIES)
    for row in histogram["kinds"].values():
        assert len(row["counts"]) == len(locks.WAIT_BUCKETS) + 1


def test_existing_experiments_measure_the_same_with_tracking_on():
    assert not locks.installed()
    race = get("counter-race")
    bad, fixed = race.run("bad", scale=0.1), race.run("fixed", scale=0.1)
    assert bad.values["lost_updates"] > 0
    assert fixed.values["lost_updates"] == 0
    assert not locks.installed()  # the run turned tracking on and off again
    sites = locks.snapshot()["sites"]
    race_locks = [s for s in sites if s["created_at"].rpartition(":")[0].endswith("race.py")]
    assert race_locks
    assert max(s["acquisitions"] for s in race_locks) >= fixed.values["increments"]
    leak = get("lock-without-finally")
    stuck, clean = leak.run("bad", scale=0.2), leak.run("fixed", scale=0.2)
    assert stuck.values["stuck_threads"] >= 1
    assert stuck.values["threads_left"] == 0
    assert clean.values["stuck_threads"] == 0
    assert clean.values["tasks_completed"] == 4 * 5 - 1


def test_lock_order_deadlock_is_named_within_a_second_and_leaves_no_thread():
    experiment = get("lock-order-deadlock")
    bad = experiment.run("bad", scale=0.1)
    assert bad.values["deadlocks"] == 1
    assert 0 < bad.values["detected_after_s"] < 1.0
    assert bad.values["threads_left"] == 0
    assert any(note.startswith("Found one Python-level deadlock:") for note in bad.notes)
    assert "exp-order-" in bad.notes[0]
    fixed = experiment.run("fixed", scale=0.1)
    assert fixed.values["deadlocks"] == 0
    assert fixed.values["threads_left"] == 0
    assert fixed.values["rounds_completed"] == 2 * 50
    assert bad.values["rounds_completed"] < fixed.values["rounds_completed"]
    assert bad.duration_s < 3
    assert not any(t.name.startswith("exp-order") for t in threading.enumerate())


def test_a_forked_child_runs_threads_and_queues_on_tracked_locks(tracked):
    lock = threading.Lock()
    held = threading.Event()
    leave = threading.Event()
    holder = background(lambda: (lock.acquire(), held.set(), leave.wait(10), lock.release()))
    assert held.wait(10)
    waiter = background(lambda: lock.acquire(timeout=10) and lock.release())
    wait_until(lambda: waiter_idents(lock) == [waiter.ident])
    pid = os.fork()
    if pid == 0:  # the child: only this thread exists now
        code = 1
        try:
            jobs: queue.Queue[int] = queue.Queue()
            worker = threading.Thread(target=lambda: jobs.put(1))
            worker.start()
            worker.join(5)
            ok = jobs.get(timeout=5) == 1 and waiter_idents(lock) == []
            code = 0 if ok else 1
        finally:
            os._exit(code)
    leave.set()
    _, status = os.waitpid(pid, 0)
    holder.join(10)
    waiter.join(10)
    assert os.waitstatus_to_exitcode(status) == 0
