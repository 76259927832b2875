"""VisitedSet: exact on fingerprints, grows, and is safe from many threads."""

from __future__ import annotations

import threading

import numpy as np

from core.urls import fingerprint
from core.visited import VisitedSet


def test_exact_on_200k_distinct_urls_and_grows() -> None:
    visited = VisitedSet(capacity=16)
    start_bytes = visited.nbytes
    fps = [fingerprint(f"http://example.com/page/{i}") for i in range(200_000)]
    assert all(visited.add(fp) for fp in fps)  # every new one reported new
    assert len(visited) == 200_000
    assert visited.nbytes > start_bytes
    assert visited.nbytes <= 8 / (0.7 / 1.5) * len(visited) + 8  # 47-70 % full after growing
    assert not any(visited.add(fp) for fp in fps[::7])  # duplicates reported as seen
    assert all(fp in visited for fp in fps[::13])
    others = [fingerprint(f"http://example.com/other/{i}") for i in range(20_000)]
    assert not any(fp in visited for fp in others)  # no false positives
    assert len(visited) == 200_000


def test_colliding_home_slots_and_extreme_values() -> None:
    visited = VisitedSet(capacity=16)
    size = visited.nbytes // 8
    same_slot = [3 + k * size for k in range(40)]  # all aim at slot 3, across a growth
    edge = [0, 1, 2**63, 2**64 - 1]
    for fp in same_slot + edge:
        assert visited.add(fp)
    for fp in same_slot + edge:
        assert fp in visited
        assert not visited.add(fp)
    assert -1 in visited  # taken modulo 2**64, like the stored values
    assert 4 not in visited
    assert "not a fingerprint" not in visited
    assert len(visited) == len(same_slot) + len(edge)


def test_growth_keeps_every_entry_reachable() -> None:
    rng = np.random.default_rng(7)
    values = [int(v) for v in rng.integers(1, 2**63, size=50_000, dtype=np.uint64)]
    visited = VisitedSet(capacity=1)
    for v in values:
        visited.add(v)
    assert all(v in visited for v in values)


def test_concurrent_adds_report_each_fingerprint_new_exactly_once() -> None:
    visited = VisitedSet(capacity=16)
    fps = [fingerprint(f"http://h/{i}") for i in range(20_000)]
    new_counts: list[int] = []
    barrier = threading.Barrier(8)

    def worker() -> None:
        barrier.wait(timeout=10)
        new_counts.append(sum(visited.add(fp) for fp in fps))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sum(new_counts) == len(fps) == len(visited)
