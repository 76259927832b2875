"""Repeat both variants a few times and judge the claim from the numbers.

A key measure *holds* when the fixed variant moves it the way the claim says, *contradicts*
when it moves the other way, and either counts only when the gap between the means exceeds
twice its standard error (a rough Welch-style test; with 3 trials it separates clear effects
from noise, nothing finer). One trial per variant cannot show spread, so it is never called
significant unless both variants measured exactly the same every time, which needs n > 1.
An experiment this machine cannot run as meant (``Experiment.unavailable``) is not run at all:
every key measure is "unavailable", with the reason, and nothing is claimed.
"""

from __future__ import annotations

import math
import statistics
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from core.experiments.base import VARIANTS, Experiment, Outcome
from core.experiments.monitor import Monitor

if TYPE_CHECKING:
    from core.experiments.sweep import SweepResult

Finding = Literal["holds", "contradicted", "not significant", "unavailable"]


@dataclass(frozen=True, slots=True)
class Stat:
    mean: float
    stdev: float
    n: int

    @classmethod
    def of(cls, values: list[float]) -> Stat:
        if not values:  # a variant that never ran (stopped, unavailable): n = 0, no mean
            return cls(math.nan, 0.0, 0)
        mean = statistics.fmean(values)
        stdev = statistics.stdev(values) if len(values) > 1 else 0.0
        return cls(mean, stdev, len(values))

    def as_dict(self) -> dict[str, float]:
        return {"mean": self.mean, "stdev": self.stdev, "n": self.n}


@dataclass(frozen=True, slots=True)
class KeyFinding:
    measure: str
    label: str
    unit: str
    bad: Stat
    fixed: Stat
    finding: Finding
    text: str


@dataclass(frozen=True, slots=True)
class Comparison:
    experiment: Experiment
    outcomes: dict[str, tuple[Outcome, ...]]  # variant -> trials
    findings: tuple[KeyFinding, ...]
    stopped: bool

    @property
    def verdict(self) -> str:
        """'holds', 'contradicted', 'mixed', 'not significant', 'unavailable' or 'stopped'."""
        if self.stopped:
            return "stopped"
        kinds = {f.finding for f in self.findings}
        return kinds.pop() if len(kinds) == 1 else "mixed"

    def stat(self, variant: str, measure: str) -> Stat:
        return Stat.of([o.values[measure] for o in self.outcomes[variant] if measure in o.values])

    def summary_text(self) -> str:
        return summary_text(self.verdict, (f.text for f in self.findings))

    def as_dict(self) -> dict[str, Any]:
        exp = self.experiment
        return {
            "experiment": exp.name,
            "claim": exp.claim,
            "verdict": self.verdict,
            "measures": [
                {
                    "name": m.name,
                    "label": m.label,
                    "unit": m.unit,
                    "key": m.key,
                    "better": m.better,
                    **{v: s.as_dict() for v in VARIANTS if (s := self.stat(v, m.name)).n},
                }
                for m in exp.measures
            ],
            "findings": [
                {"measure": f.measure, "finding": f.finding, "text": f.text} for f in self.findings
            ],
            "trials": {v: [o.as_dict() for o in self.outcomes[v]] for v in VARIANTS},
        }


def summary_text(verdict: str, findings: Iterable[str]) -> str:
    """The verdict and one line per finding, as a comparison and a sweep both print them."""
    return "\n".join([f"Verdict: {verdict}.", *(f"- {f}" for f in findings)])


def number(value: float) -> str:
    """A finite measured number: thousands separated from 100 up, else three significant
    digits (the findings here and the window's experiment tables)."""
    if value == 0 or abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def judge(experiment: Experiment, outcomes: dict[str, tuple[Outcome, ...]]) -> Comparison:
    findings = []
    stopped = any(o.stopped for trials in outcomes.values() for o in trials)
    for spec in experiment.measures:
        if not spec.key:
            continue
        bad = Stat.of([o.values[spec.name] for o in outcomes["bad"]])
        fixed = Stat.of([o.values[spec.name] for o in outcomes["fixed"]])
        gap = fixed.mean - bad.mean
        error = math.sqrt(bad.stdev**2 / bad.n + fixed.stdev**2 / fixed.n)
        if min(bad.n, fixed.n) < 2 or gap == 0 or abs(gap) <= 2 * error:
            finding: Finding = "not significant"
        elif (gap < 0) == (spec.better == "lower"):
            finding = "holds"
        else:
            finding = "contradicted"
        spread = f" ± {number(bad.stdev)}" if bad.n > 1 else ""
        fspread = f" ± {number(fixed.stdev)}" if fixed.n > 1 else ""
        expected = "lower" if spec.better == "lower" else "higher"
        text = (
            f"{spec.label}: bad {number(bad.mean)}{spread} vs fixed {number(fixed.mean)}{fspread}"
            f" {spec.unit} (n={bad.n}); the claim expects fixed {expected}: {finding}"
        )
        if finding == "not significant" and min(bad.n, fixed.n) < 2:
            text += " (one trial cannot show spread; repeat with more trials)"
        elif gap == 0 and bad.stdev == fixed.stdev == 0:
            text += " (identical in every trial)"
        findings.append(KeyFinding(spec.name, spec.label, spec.unit, bad, fixed, finding, text))
    return Comparison(experiment, outcomes, tuple(findings), stopped)


def _unavailable(experiment: Experiment, reason: str) -> Comparison:
    """Nothing run: each key measure says why it was not measured."""
    none = Stat.of([])
    findings = tuple(
        KeyFinding(
            m.name, m.label, m.unit, none, none, "unavailable", f"{m.label}: not measured: {reason}"
        )
        for m in experiment.measures
        if m.key
    )
    return Comparison(experiment, {v: () for v in VARIANTS}, findings, False)


def compare(
    experiment: Experiment,
    scale: float = 1.0,
    trials: int = 3,
    monitor: Monitor | None = None,
    stop: threading.Event | None = None,
    on_outcome: Callable[[Outcome], None] | None = None,
) -> Comparison | SweepResult:
    """Alternate bad and fixed ``trials`` times (alternating spreads drift over both).

    A sweep experiment runs its sweep instead and returns a ``SweepResult``.
    """
    if trials < 1:
        raise ValueError("trials: must be >= 1")
    reason = experiment.unavailable() if experiment.unavailable else ""
    if reason:
        return _unavailable(experiment, reason)
    stop = stop or threading.Event()
    monitor = monitor or Monitor()
    if experiment.sweep is not None:
        return experiment.sweep(experiment, scale, trials, monitor, stop, on_outcome)
    runs: dict[str, list[Outcome]] = {v: [] for v in VARIANTS}
    for _ in range(trials):
        for variant in VARIANTS:
            if stop.is_set():
                break
            outcome = experiment.run(variant, scale=scale, monitor=monitor, stop=stop)
            runs[variant].append(outcome)
            if on_outcome:
                on_outcome(outcome)
    if stop.is_set() or not all(runs.values()):
        return Comparison(experiment, {v: tuple(r) for v, r in runs.items()}, (), True)
    return judge(experiment, {v: tuple(r) for v, r in runs.items()})
