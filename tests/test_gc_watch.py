"""GcWatch: real collections through gc.callbacks, only those worth a marker kept."""

from __future__ import annotations

import gc

from core.diagnostics.gc_watch import GcWatch


def _cycles(n: int) -> None:
    """``n`` unreachable self-referencing lists, with no collection in between."""
    gc.disable()
    try:
        for _ in range(n):
            a: list[object] = []
            a.append(a)
    finally:
        gc.enable()


def test_full_collections_are_recorded_young_quick_ones_are_not():
    watch = GcWatch(min_ms=10_000.0, capacity=8)
    watch.install()
    try:
        assert watch.installed
        seen = watch.seen
        gc.collect(0)
        assert watch.seen > seen
        assert watch.drain() == []
        _cycles(1_000)
        gc.collect()
        passes = watch.drain()
        assert [p.generation for p in passes] == [2]
        assert passes[0].collected >= 1_000
        assert passes[0].duration_ms >= 0
        assert passes[0].label().startswith("GC gen 2 (")
        assert watch.drain() == []
    finally:
        watch.uninstall()
    assert not watch.installed
    gc.collect()
    assert watch.drain() == []  # uninstalled: nothing recorded


def test_slow_passes_of_any_generation_are_kept_and_the_buffer_is_bounded():
    watch = GcWatch(min_ms=0.0, capacity=3)
    watch.install()
    try:
        for _ in range(10):
            gc.collect(0)
    finally:
        watch.uninstall()
    passes = watch.drain()
    assert len(passes) == 3
    assert {p.generation for p in passes} == {0}
    assert passes[0].t <= passes[1].t <= passes[2].t  # the newest three, oldest first
