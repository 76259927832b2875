"""``threadscope experiment NAME [--scale S] [--trials N] [--json]`` and ``--list``."""

from __future__ import annotations

import argparse
import json
import sys
import threading

from core.experiments import EXPERIMENTS, get
from core.experiments.base import VARIANTS, Outcome
from core.experiments.sweep import SweepResult
from core.experiments.verdict import Comparison, compare

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="?", help="experiment to run (see --list)")
    parser.add_argument("--list", action="store_true", help="list experiments and exit")
    parser.add_argument("--scale", type=float, default=1.0, help="work size factor (0.1 is quick)")
    parser.add_argument("--trials", type=int, default=3, help="runs of each variant, for spread")
    parser.add_argument("--json", action="store_true", help="print the comparison as JSON")
    parser.add_argument(
        "--no-save", "--no-history", action="store_true", help="do not save to run history"
    )


def _cell(comparison: Comparison, variant: str, measure: str) -> str:
    stat = comparison.stat(variant, measure)
    if not stat.n:
        return "-"
    text = f"{stat.mean:,.4g}" if abs(stat.mean) < 1e4 else f"{stat.mean:,.0f}"
    return text + (f" ± {stat.stdev:,.2g}" if stat.n > 1 else "")


def format_report(comparison: Comparison | SweepResult) -> str:
    if isinstance(comparison, SweepResult):
        return comparison.report()
    exp = comparison.experiment
    rows: list[tuple[str, ...]] = [("measure", "unit", "bad", "fixed")]
    for m in exp.measures:
        label = ("* " if m.key else "  ") + m.label
        rows.append((label, m.unit, *(_cell(comparison, v, m.name) for v in VARIANTS)))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    table = [
        "  ".join(
            cell.ljust(w) if i < 2 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    trials = len(comparison.outcomes["bad"])
    return "\n".join(
        [
            f"{exp.name}: {exp.summary}",
            f"Claim: {exp.claim}",
            f"  bad:   {exp.bad}",
            f"  fixed: {exp.fixed}",
            "",
            *table,
            f"(mean ± stdev over {trials} trial(s) per variant; * = key measure)",
            "",
            comparison.summary_text(),
        ]
    )


def main(args: argparse.Namespace) -> int:
    if args.list:
        width = max(map(len, EXPERIMENTS))
        for exp in EXPERIMENTS.values():
            print(f"{exp.name.ljust(width)}  {exp.summary}")
        return EXIT_OK
    if not args.name:
        print("threadscope experiment: name an experiment (see --list)", file=sys.stderr)
        return EXIT_USAGE
    try:
        experiment = get(args.name)
    except KeyError as error:
        print(f"threadscope experiment: {error.args[0]}", file=sys.stderr)
        return EXIT_USAGE
    if not args.scale > 0 or args.trials < 1:
        print("threadscope experiment: --scale must be > 0 and --trials >= 1", file=sys.stderr)
        return EXIT_USAGE

    def progress(outcome: Outcome) -> None:
        print(f"  {outcome.variant} run done in {outcome.duration_s:.2f} s", file=sys.stderr)

    stop = threading.Event()
    result: list[Comparison | SweepResult] = []
    runner = threading.Thread(
        target=lambda: result.append(
            compare(experiment, args.scale, args.trials, stop=stop, on_outcome=progress)
        ),
        name="experiment-runner",
    )
    runner.start()
    try:
        while runner.is_alive():
            runner.join(0.2)
    except KeyboardInterrupt:
        stop.set()
        runner.join()
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    if not result:
        return EXIT_ERROR
    comparison = result[0]
    saved = None
    if not args.no_save:
        from core.experiments.saving import save_comparison

        saved = save_comparison(comparison)
    if args.json:
        print(json.dumps({**comparison.as_dict(), "run_id": saved.id if saved else None}))
    else:
        print(format_report(comparison))
        if saved:
            print(f"Saved to history as {saved.id}")
    return EXIT_OK
