"""Diagnostics on real threads: dumps, stuck detection, tracemalloc rows, gc, profiling."""

from __future__ import annotations

import gc
import pstats
import threading

import pytest

from core.diagnostics import (
    GcHistory,
    StuckDetector,
    ThreadProfiler,
    collect,
    diff_snapshots,
    dump_threads,
    export_prof,
    format_dump,
    is_tracing,
    profile_call,
    search_dump,
    start_tracing,
    stop_tracing,
    take_snapshot,
    top_allocations,
    top_functions,
)


def _parked(names: list[str], release: threading.Event) -> list[threading.Thread]:
    threads = [threading.Thread(target=release.wait, args=(10,), name=n) for n in names]
    for thread in threads:
        thread.start()
    return threads


def test_thread_dump_names_every_live_thread():
    release = threading.Event()
    threads = _parked(["diag-alpha", "diag-beta", "diag-gamma"], release)
    try:
        stacks = dump_threads()
        names = {s.name for s in stacks}
        assert {t.name for t in threading.enumerate()} <= names
        text = format_dump(stacks)
        assert 'Thread "diag-beta"' in text
        assert "in wait" in text
        assert [s.name for s in search_dump(stacks, "DIAG-GAMMA")] == ["diag-gamma"]
        assert any(s.name == "MainThread" and s.frames for s in stacks)
    finally:
        release.set()
        for thread in threads:
            thread.join(5)


def test_stuck_detector_flags_a_thread_blocked_on_a_lock():
    now = [0.0]
    detector = StuckDetector(threshold_s=1.0, clock=lambda: now[0])
    lock = threading.Lock()
    lock.acquire()
    entered = threading.Event()

    def blocked() -> None:
        entered.set()
        if lock.acquire(timeout=10):
            lock.release()

    thread = threading.Thread(target=blocked, name="diag-blocked")
    thread.start()
    try:
        entered.wait(5)
        flagged = []
        for _ in range(100):  # the stack settles once the thread is inside acquire()
            now[0] += 0.6
            flagged = [s for s in detector.check() if s.name == "diag-blocked"]
            if flagged:
                break
            entered.wait(0.01)
        assert flagged
        assert flagged[0].stuck_for_s > 1.0
        assert "blocked" in flagged[0].stack.text()
    finally:
        lock.release()
        thread.join(5)


def test_stuck_threshold_must_be_above_zero_when_made_and_when_changed():
    with pytest.raises(ValueError, match="threshold_s: must be > 0"):
        StuckDetector(threshold_s=0)
    detector = StuckDetector(threshold_s=1.0)
    detector.threshold_s = 2.5
    assert detector.threshold_s == 2.5
    with pytest.raises(ValueError, match="threshold_s: must be > 0"):
        detector.threshold_s = -1
    assert detector.threshold_s == 2.5


def test_stuck_detector_does_not_flag_a_thread_whose_state_moves():
    now = [0.0]
    detector = StuckDetector(threshold_s=1.0, clock=lambda: now[0])
    release = threading.Event()
    (thread,) = _parked(["diag-moving"], release)
    try:
        for step in range(10):
            now[0] += 0.6
            stuck = detector.check(states={thread.ident: ("fetching", step)})
            assert "diag-moving" not in {s.name for s in stuck}
        now[0] += 0.6
        detector.check(states={thread.ident: ("fetching", 9)})
        now[0] += 0.6
        assert "diag-moving" in {
            s.name for s in detector.check(states={thread.ident: ("fetching", 9)})
        }
    finally:
        release.set()
        thread.join(5)


def test_tracemalloc_top_and_diff_point_at_the_allocating_line():
    was_tracing = is_tracing()
    start_tracing()
    try:
        before = take_snapshot()
        hoard = [bytes(1024) for _ in range(2_000)]  # ~2 MiB from this line
        after = take_snapshot()
        rows = diff_snapshots(before, after, limit=5)
        assert rows[0].location.startswith(__file__)
        assert rows[0].size_diff > 1_500_000
        assert rows[0].count_diff >= 2_000
        assert top_allocations(after, limit=3)[0].size_bytes >= rows[0].size_diff
        del hoard
    finally:
        if not was_tracing:
            stop_tracing()


def test_gc_collect_reports_cycles_found():
    class Node:
        pass

    gc.disable()
    try:
        for _ in range(500):
            a, b = Node(), Node()
            a.other, b.other = b, a
        del a, b
        result = collect()
    finally:
        gc.enable()
    assert result.collected >= 1_000
    assert len(result.collected_by_generation) == 3
    history = GcHistory(capacity=2)
    for _ in range(3):
        history.sample()
    assert len(history.samples()) == 2


def _work(n: int) -> int:
    return sum(i * i for i in range(n))


def test_profile_exports_a_prof_that_pstats_loads(tmp_path):
    result, stats = profile_call(_work, 50_000)
    assert result == _work(50_000)
    assert any("(_work)" in row.function for row in top_functions(stats, limit=10))
    path = export_prof(stats, tmp_path / "run.prof")
    loaded = pstats.Stats(str(path))
    assert loaded.total_calls > 0  # type: ignore[attr-defined]


def test_thread_profiler_sees_worker_threads():
    profiler = ThreadProfiler()
    profiler.start()
    thread = threading.Thread(target=_work, args=(20_000,), name="diag-profiled")
    thread.start()
    thread.join(5)
    stats = profiler.stop()
    assert any("(_work)" in row.function for row in top_functions(stats, limit=50))
