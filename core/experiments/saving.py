"""Save a finished comparison into the run history (``core.history``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.experiments.base import VARIANTS
from core.experiments.monitor import BUILTIN_SERIES
from core.experiments.sweep import SweepResult
from core.experiments.verdict import Comparison
from core.history import RunRecord, RunSummary, save_run


def save_comparison(comparison: Comparison | SweepResult, root: Path | None = None) -> RunRecord:
    """One history run: built-in monitor series of every trial back to back in metrics.csv
    (``variant`` 0 = bad, 1 = fixed), the full comparison and probe series in details.json."""
    if isinstance(comparison, SweepResult):
        return _save_sweep(comparison, root)
    metrics: dict[str, list[float]] = {"t": [], "variant": [], "trial": []}
    metrics.update({key: [] for key in BUILTIN_SERIES})
    offset = 0.0
    probes: list[dict[str, Any]] = []
    for index, variant in enumerate(VARIANTS):
        for trial, outcome in enumerate(comparison.outcomes[variant]):
            for sample in outcome.samples:
                metrics["t"].append(offset + sample.elapsed)
                metrics["variant"].append(index)
                metrics["trial"].append(trial)
                for key in BUILTIN_SERIES:
                    metrics[key].append(sample.values.get(key, 0.0))
            offset += outcome.duration_s
            probes.append(
                {
                    "variant": variant,
                    "trial": trial,
                    "elapsed": [s.elapsed for s in outcome.samples],
                    "values": {
                        key: [s.values.get(key) for s in outcome.samples]
                        for key in (outcome.samples[-1].values if outcome.samples else {})
                        if key not in BUILTIN_SERIES
                    },
                }
            )
    every = [o for variant in VARIANTS for o in comparison.outcomes[variant]]
    exp = comparison.experiment
    summary = RunSummary(
        duration_s=sum(o.duration_s for o in every),
        peak_threads=max(metrics["os_threads"], default=None),
        peak_rss_mib=max(metrics["rss_mib"], default=None),
        extra={
            f"{variant}.{m.name}": comparison.stat(variant, m.name).mean
            for variant in VARIANTS
            for m in exp.measures
            if comparison.stat(variant, m.name).n
        },
    )
    scale = every[0].scale if every else None
    trials = max((len(comparison.outcomes[v]) for v in VARIANTS), default=0)
    return save_run(
        "experiment",
        exp.name,
        {"experiment": exp.name, "scale": scale, "trials": trials},
        summary,
        metrics=metrics,
        details={**comparison.as_dict(), "series": probes},
        root=root,
    )


def _save_sweep(result: SweepResult, root: Path | None) -> RunRecord:
    """A sweep: monitor series of every point back to back (``x`` = the parameter's value),
    per-point means in the summary's extras, the whole result in details.json."""
    metrics: dict[str, list[float]] = {"t": [], "x": []}
    metrics.update({key: [] for key in BUILTIN_SERIES})
    offset = 0.0
    for outcome in result.points:
        for sample in outcome.samples:
            metrics["t"].append(offset + sample.elapsed)
            metrics["x"].append(outcome.values[result.parameter])
            for key in BUILTIN_SERIES:
                metrics[key].append(sample.values.get(key, 0.0))
        offset += outcome.duration_s
    exp = result.experiment
    summary = RunSummary(
        duration_s=sum(o.duration_s for o in result.points),
        peak_threads=max(metrics["os_threads"], default=None),
        peak_rss_mib=max(metrics["rss_mib"], default=None),
        extra={
            f"{result.parameter}={x:g}.{m.name}": result.stat(x, m.name).mean
            for x in result.xs()
            for m in exp.measures
            if m.key
        },
    )
    scale = result.points[0].scale if result.points else None
    return save_run(
        "experiment",
        exp.name,
        {"experiment": exp.name, "scale": scale, "parameter": result.parameter},
        summary,
        metrics=metrics,
        details=result.as_dict(),
        root=root,
    )
