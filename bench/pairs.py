"""A/B measurements on a drifting machine: adjacent pairs, alternating order, the median ratio.

This VM's speed moves by ±5 % between minutes and the first run after a change of work runs
slower, so a cost is never a difference of two medians: each pair's two runs are seconds apart
(the drift cancels within it), which one goes first alternates, and the median pair decides.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def alternating(measure: Callable[[bool], T], pairs: int) -> tuple[list[T], list[T]]:
    """``measure(False)`` and ``measure(True)`` ``pairs`` times each: (without, with)."""
    without: list[T] = []
    with_: list[T] = []
    for i in range(pairs):
        for flag in (False, True) if i % 2 == 0 else (True, False):
            (with_ if flag else without).append(measure(flag))
    return without, with_


def ratios(without: list[float], with_: list[float]) -> list[float]:
    """Each pair's with/without ratio, sorted (pairs whose ``without`` is 0 are left out)."""
    return sorted(b / a for a, b in zip(without, with_, strict=True) if a)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")
