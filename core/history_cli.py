"""``threadscope history`` (list runs, newest first), ``history show ID``, ``history export ID
[DEST]`` (the zip the window writes) and ``history delete ID``; the same runs the window's
History view lists (``core.history``)."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

from core.history import (
    SUMMARY_FIELDS,
    HistoryError,
    RunRecord,
    delete_run,
    export_run,
    list_runs,
    load_details,
    load_run,
    runs_dir,
)

EXIT_OK, EXIT_USAGE = 0, 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "action",
        nargs="?",
        choices=("list", "show", "export", "delete"),
        default="list",
        help="what to do",
    )
    parser.add_argument("id", nargs="?", help="run id (see the list)")
    parser.add_argument("dest", nargs="?", help="export: a folder or a .zip path (default: .)")
    parser.add_argument("--kind", help="list only runs of this kind (crawl, experiment, watch)")


def main(args: argparse.Namespace) -> int:
    if args.action == "list":
        return _list(args.kind)
    if not args.id:
        return _error(f"history {args.action}: name a run id (see `threadscope history`)")
    try:
        if args.action == "show":
            print(_summary(load_run(args.id)))
        elif args.action == "export":
            print(export_run(args.id, Path(args.dest or ".")))
        else:
            delete_run(args.id)
            print(f"deleted {args.id}")
    except HistoryError as error:
        return _error(f"history {args.action}: {error}")
    except OSError as error:
        return _error(f"history {args.action}: {error.strerror or error}: {error.filename}")
    return EXIT_OK


def _error(message: str) -> int:
    print(f"threadscope {message}", file=sys.stderr)
    return EXIT_USAGE


def _started(record: RunRecord) -> str:
    return datetime.fromisoformat(record.created).strftime("%Y-%m-%d %H:%M:%S")


def _outcome(record: RunRecord) -> str:
    """Pages for a crawl, the verdict for an experiment, how a watched program ended (the
    last two kept in the run's details)."""
    if record.summary.pages is not None:
        return f"{record.summary.pages} pages"
    details = load_details(record.id) or {}
    outcome = details.get("verdict") or details.get("outcome")
    return str(outcome) if outcome else "-"


def _list(kind: str | None) -> int:
    records = list_runs(kind=kind)
    if not records:
        print(f"no runs saved in {runs_dir()}", file=sys.stderr)
        return EXIT_OK
    rows = [("id", "kind", "title", "started (UTC)", "duration", "pages/verdict")]
    rows += [
        (
            r.id,
            r.kind,
            r.title if len(r.title) <= 60 else r.title[:59] + "…",
            _started(r),
            f"{r.summary.duration_s:.1f} s",
            _outcome(r),
        )
        for r in records
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return EXIT_OK


def _summary(record: RunRecord) -> str:
    summary = record.summary
    lines = [
        f"id        {record.id}",
        f"kind      {record.kind}",
        f"title     {record.title}",
        f"started   {_started(record)} UTC",
        f"folder    {record.path}",
    ]
    for name, label, unit in SUMMARY_FIELDS:
        value = getattr(summary, name)
        if value is not None:
            text = f"{value:,.4g}" if isinstance(value, float) else f"{value:,}"
            lines.append(f"{label:<13} {text} {unit}")
    lines += [f"{name:<13} {value:,.4g}" for name, value in sorted(summary.extra.items())]
    details = load_details(record.id) or {}
    for hang in details.get("hangs", ()):
        lines.append(f"hang          {hang['stalled_s']:.1f} s: {hang['pending']} ({hang['dump']})")
    lines += [
        f"warning       {text.splitlines()[0]}" for text in details.get("memory_warnings", ())
    ]
    files = sorted(f.name for f in record.path.iterdir())
    lines.append(f"files         {', '.join(files)}")
    return "\n".join(lines)
