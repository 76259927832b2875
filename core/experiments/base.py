"""What an experiment is, what one run of a variant returns, and how variants are run."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from core.agent.locks import tracking
from core.events import MonitorSample
from core.experiments.monitor import Monitor

if TYPE_CHECKING:
    from core.experiments.sweep import SweepResult

Variant = Literal["bad", "fixed"]
VARIANTS: tuple[Variant, ...] = ("bad", "fixed")


@dataclass(frozen=True, slots=True)
class MeasureSpec:
    """A named number an experiment reports.

    ``better`` says which way the claim expects the *fixed* variant to move it ("lower" or
    "higher"); ``key`` measures decide the verdict, the others are context.
    """

    name: str
    unit: str
    label: str
    better: Literal["lower", "higher"] = "lower"
    key: bool = False


@dataclass(frozen=True, slots=True)
class Outcome:
    """One run of one variant: measured values (by measure name) and the monitor's series."""

    experiment: str
    variant: Variant
    scale: float
    values: Mapping[str, float]
    duration_s: float
    stopped: bool
    samples: tuple[MonitorSample, ...] = ()
    notes: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "experiment": self.experiment,
            "variant": self.variant,
            "scale": self.scale,
            "values": dict(self.values),
            "duration_s": round(self.duration_s, 4),
            "stopped": self.stopped,
            "notes": list(self.notes),
        }


@dataclass(slots=True)
class Context:
    """What a variant's body gets: how big to run, the monitor, and the stop signal."""

    scale: float
    monitor: Monitor
    stop: threading.Event
    notes: list[str] = field(default_factory=list)

    def scaled(self, n: int, minimum: int = 1) -> int:
        return max(minimum, round(n * self.scale))


Body = Callable[[Variant, Context], dict[str, float]]
SweepRunner = Callable[..., "SweepResult"]


@dataclass(frozen=True, slots=True)
class Experiment:
    """A claim under test, run either as bad vs fixed variants (``body``) or as a sweep.

    A sweep experiment (``sweep`` set, no ``body``) measures the same thing at several values
    of one parameter; ``compare()`` hands it to ``sweep(experiment, scale, trials, monitor,
    stop, on_outcome)``, which returns a :class:`~core.experiments.sweep.SweepResult` (one
    ``Outcome`` per point and trial) instead of a bad/fixed ``Comparison``.

    ``unavailable()`` names what this machine lacks to run the claim's fixed variant as meant
    (e.g. CPU pinning); ``compare()`` then runs nothing and says so (verdict "unavailable").
    """

    name: str  # kebab-case, the CLI argument
    summary: str  # one line for ``--list``
    claim: str  # the sentence under test
    measures: tuple[MeasureSpec, ...]
    body: Body | None = None
    bad: str = ""  # what the bad variant does, one line (or, for a sweep, the low end)
    fixed: str = ""  # what the fixed variant does, one line (or, for a sweep, the high end)
    sweep: SweepRunner | None = None
    unavailable: Callable[[], str] | None = None  # why this machine cannot test the claim, or ""

    def spec(self, name: str) -> MeasureSpec:
        for measure in self.measures:
            if measure.name == name:
                return measure
        raise KeyError(name)

    def run(
        self,
        variant: Variant,
        scale: float = 1.0,
        monitor: Monitor | None = None,
        stop: threading.Event | None = None,
    ) -> Outcome:
        """Run one variant to completion (or until ``stop`` is set); never leaves threads.

        Lock tracking is on while it runs, so the variant's locks show owners and waiters.
        """
        if self.body is None:
            raise ValueError(f"{self.name} is a sweep; run it with compare()")
        if variant not in VARIANTS:
            raise ValueError(f"variant: must be one of {VARIANTS}, not {variant!r}")
        if not scale > 0:
            raise ValueError(f"scale: must be > 0, not {scale!r}")
        monitor = monitor or Monitor()
        stop = stop or threading.Event()
        context = Context(scale=scale, monitor=monitor, stop=stop)
        start = time.perf_counter()
        with tracking(), monitor.running(self.name, variant):
            values = self.body(variant, context)
        duration = time.perf_counter() - start
        missing = {m.name for m in self.measures} - values.keys()
        if missing and not stop.is_set():
            raise RuntimeError(f"{self.name} did not measure {sorted(missing)}")
        return Outcome(
            experiment=self.name,
            variant=variant,
            scale=scale,
            values=values,
            duration_s=duration,
            stopped=stop.is_set(),
            samples=tuple(monitor.samples()),
            notes=tuple(context.notes),
        )


def start_threads(
    count: int, target: Callable[[int], object], prefix: str
) -> list[threading.Thread]:
    """Start ``count`` threads named ``prefix-N`` running ``target(N)``."""
    threads = [
        threading.Thread(target=target, args=(i,), name=f"{prefix}-{i}") for i in range(count)
    ]
    for thread in threads:
        thread.start()
    return threads


def join_all(threads: list[threading.Thread], timeout: float = 10.0) -> int:
    """Join within one overall ``timeout``; return how many are still alive (should be 0)."""
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return sum(t.is_alive() for t in threads)
