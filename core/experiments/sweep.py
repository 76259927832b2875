"""The result of a sweep experiment: one measured point per parameter value and trial.

A sweep does not fit bad vs fixed: it measures the same run at several values of one
parameter (experiment 10: the thread count). Each point is an :class:`Outcome` whose
``variant`` is ``"<parameter>=<x>"`` and whose ``values`` include the parameter itself, so
code that lists outcomes keeps working; the verdict and findings come from the experiment's
own analysis. It offers what a ``Comparison`` offers to the CLI and the history
(``verdict``, ``findings``, ``stopped``, ``summary_text()``, ``as_dict()``) plus
``xs()``, ``stat(x, measure)`` and ``report()``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.experiments.base import Experiment, Outcome
from core.experiments.verdict import Stat, summary_text


@dataclass(frozen=True, slots=True)
class SweepResult:
    experiment: Experiment
    parameter: str
    points: tuple[Outcome, ...]  # in run order; values[parameter] is the point's x
    verdict: str  # "holds" | "contradicted" | "not significant" | "stopped"
    findings: tuple[str, ...]
    stopped: bool

    def xs(self) -> list[float]:
        return sorted({o.values[self.parameter] for o in self.points})

    def stat(self, x: float, measure: str) -> Stat:
        values = [
            o.values[measure]
            for o in self.points
            if o.values.get(self.parameter) == x and measure in o.values
        ]
        return Stat.of(values) if values else Stat(0.0, 0.0, 0)

    def summary_text(self) -> str:
        return summary_text(self.verdict, self.findings)

    def report(self) -> str:
        """A table, one row per parameter value (mean ± stdev over trials), and the verdict."""
        exp = self.experiment
        rows = [[self.parameter] + [m.label for m in exp.measures]]
        rows.append([""] + [m.unit for m in exp.measures])
        for x in self.xs():
            rows.append([f"{x:g}"] + [_cell(self.stat(x, m.name)) for m in exp.measures])
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        table = ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
        trials = max((self.stat(x, exp.measures[0].name).n for x in self.xs()), default=0)
        return "\n".join(
            [
                f"{exp.name}: {exp.summary}",
                f"Claim: {exp.claim}",
                "",
                *table,
                f"(mean ± stdev over {trials} trial(s) per point)",
                "",
                self.summary_text(),
            ]
        )

    def as_dict(self) -> dict[str, Any]:
        exp = self.experiment
        return {
            "experiment": exp.name,
            "claim": exp.claim,
            "verdict": self.verdict,
            "parameter": self.parameter,
            "points": [
                {
                    self.parameter: x,
                    **{m.name: s.as_dict() for m in exp.measures if (s := self.stat(x, m.name)).n},
                }
                for x in self.xs()
            ],
            "findings": list(self.findings),
            "trials": [o.as_dict() for o in self.points],
        }


def _cell(stat: Stat) -> str:
    if not stat.n:
        return "-"
    big = abs(stat.mean) >= 100
    text = f"{stat.mean:,.0f}" if big else f"{stat.mean:.3g}"
    if stat.n > 1:
        text += f" ± {stat.stdev:,.0f}" if big else f" ± {stat.stdev:.2g}"
    return text
