"""Run history: every crawl and experiment run saved as a folder under the user data dir.

Layout, one folder per run (``<data dir>/runs/<run id>/``):

- ``run.json``: id, kind ("crawl" / "experiment" / "watch": a program under ``run`` or
  ``attach``), title, created (UTC ISO), settings, summary
- ``metrics.csv``: optional, one column per sampler series (``t`` first), one row per tick
- ``details.json``: optional, anything else worth keeping (an experiment's full comparison)

A folder is written under a temporary name and renamed into place, so a crash never leaves a
half-written run in the list. The data dir is ``platformdirs.user_data_dir("threadscope")``,
or ``$THREADSCOPE_DATA_DIR`` when set (tests use that).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import re
import shutil
import uuid
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

import platformdirs

if TYPE_CHECKING:
    import numpy as np

Series: TypeAlias = Mapping[str, "Sequence[float] | np.ndarray[Any, Any]"]
"""Metric series by key: lists from a saved run, numpy arrays from a live sampler."""

_ID = re.compile(r"^[0-9A-Za-z_.-]+$")

# (field, label, unit) of the summary figures every run has, in display order.
SUMMARY_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("duration_s", "Duration", "s"),
    ("pages", "Pages", "pages"),
    ("pages_per_s", "Pages/s", "pages/s"),
    ("peak_threads", "Peak threads", "threads"),
    ("peak_rss_mib", "Peak RSS", "MiB"),
    ("errors", "Errors", "errors"),
)


@dataclass(frozen=True, slots=True)
class RunSummary:
    """The figures History compares; ``extra`` holds anything run-specific (named numbers)."""

    duration_s: float
    pages: int | None = None
    pages_per_s: float | None = None
    peak_threads: float | None = None
    peak_rss_mib: float | None = None
    errors: int | None = None
    extra: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RunRecord:
    id: str
    kind: str
    title: str
    created: str
    settings: Mapping[str, Any]
    summary: RunSummary
    path: Path


@dataclass(frozen=True, slots=True)
class CompareRow:
    field: str
    label: str
    unit: str
    a: float | None
    b: float | None

    @property
    def diff(self) -> float | None:
        return None if self.a is None or self.b is None else self.b - self.a


class HistoryError(LookupError):
    """A run id that is malformed or not in the history."""


def data_dir() -> Path:
    override = os.environ.get("THREADSCOPE_DATA_DIR")
    return Path(override) if override else Path(platformdirs.user_data_dir("threadscope"))


def runs_dir(root: Path | None = None) -> Path:
    return (root or data_dir()) / "runs"


def summarize_metrics(
    metrics: Series,
    duration_s: float,
    pages: int | None = None,
    errors: int | None = None,
    extra: Mapping[str, float] | None = None,
) -> RunSummary:
    """A summary from sampler series (``os_threads`` or ``py_threads``, ``rss_mib``)."""
    threads = metrics.get("os_threads", metrics.get("py_threads"))
    rss = metrics.get("rss_mib")
    return RunSummary(
        duration_s=duration_s,
        pages=pages,
        pages_per_s=pages / duration_s if pages is not None and duration_s > 0 else None,
        peak_threads=float(max(threads)) if threads is not None and len(threads) else None,
        peak_rss_mib=float(max(rss)) if rss is not None and len(rss) else None,
        errors=errors,
        extra=dict(extra or {}),
    )


def _plain(value: Any) -> Any:
    """Settings objects (frozen dataclasses, enums, tuples, paths) as JSON-able values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value.value) if hasattr(value, "value") else str(value)


def _write_metrics(path: Path, metrics: Series) -> None:
    keys = sorted(metrics, key=lambda k: (k != "t", k))
    columns = [list(metrics[k]) for k in keys]
    lengths = {key: len(column) for key, column in zip(keys, columns, strict=True)}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"metrics: series have different lengths {lengths}")
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(keys)
        writer.writerows([f"{float(v):.6g}" for v in row] for row in zip(*columns, strict=True))


def save_run(
    kind: str,
    title: str,
    settings: Any,
    summary: RunSummary,
    metrics: Series | None = None,
    details: Mapping[str, Any] | None = None,
    root: Path | None = None,
) -> RunRecord:
    """Save one run; ``settings`` may be a dataclass (e.g. CrawlSettings) or a mapping."""
    created = datetime.now(UTC)
    run_id = f"{created:%Y%m%dT%H%M%S}-{kind}-{uuid.uuid4().hex[:6]}"
    if not _ID.match(run_id):
        raise ValueError(f"kind: only letters, digits, '-', '_' and '.' allowed, not {kind!r}")
    base = runs_dir(root)
    base.mkdir(parents=True, exist_ok=True)
    staging = base / f".tmp-{run_id}"
    staging.mkdir()
    record = {
        "id": run_id,
        "kind": kind,
        "title": title,
        "created": created.isoformat(timespec="microseconds"),  # orders runs of one second
        "settings": _plain(settings),
        "summary": _plain(summary),
    }
    try:
        (staging / "run.json").write_text(json.dumps(record, indent=1), encoding="utf-8")
        if metrics:
            _write_metrics(staging / "metrics.csv", metrics)
        if details is not None:
            (staging / "details.json").write_text(json.dumps(_plain(details)), encoding="utf-8")
        staging.rename(base / run_id)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return load_run(run_id, root)


def _folder(run_id: str, root: Path | None) -> Path:
    if not _ID.match(run_id) or run_id.startswith("."):
        raise HistoryError(f"run id: {run_id!r} is not a run id")
    path = runs_dir(root) / run_id
    if not (path / "run.json").is_file():
        raise HistoryError(f"run id: no run {run_id!r} in {runs_dir(root)}")
    return path


def load_run(run_id: str, root: Path | None = None) -> RunRecord:
    path = _folder(run_id, root)
    data = json.loads((path / "run.json").read_text(encoding="utf-8"))
    return RunRecord(
        id=data["id"],
        kind=data["kind"],
        title=data["title"],
        created=data["created"],
        settings=data["settings"],
        summary=RunSummary(**data["summary"]),
        path=path,
    )


def list_runs(root: Path | None = None, kind: str | None = None) -> list[RunRecord]:
    """Newest first; folders that do not load (hand-edited, foreign) are skipped."""
    base = runs_dir(root)
    if not base.is_dir():
        return []
    records = []
    for path in base.iterdir():
        if path.name.startswith("."):
            continue
        try:
            record = load_run(path.name, root)
        except (HistoryError, ValueError, KeyError, TypeError):
            continue
        if kind is None or record.kind == kind:
            records.append(record)
    records.sort(key=lambda r: (r.created, r.id), reverse=True)
    return records


def load_metrics(run_id: str, root: Path | None = None) -> dict[str, list[float]]:
    """Series by key (``t`` included); empty when the run saved none."""
    path = _folder(run_id, root) / "metrics.csv"
    if not path.exists():
        return {}
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        keys = next(reader, [])
        columns: list[list[float]] = [[] for _ in keys]
        for row in reader:
            for column, value in zip(columns, row, strict=True):
                column.append(float(value))
    return dict(zip(keys, columns, strict=True))


def load_details(run_id: str, root: Path | None = None) -> dict[str, Any] | None:
    path = _folder(run_id, root) / "details.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def delete_run(run_id: str, root: Path | None = None) -> None:
    shutil.rmtree(_folder(run_id, root))


def export_run(run_id: str, dest: Path, root: Path | None = None) -> Path:
    """Zip the run folder; ``dest`` is a directory (named ``<id>.zip`` there) or a file."""
    folder = _folder(run_id, root)
    dest = Path(dest)
    target = dest / f"{run_id}.zip" if dest.is_dir() else dest
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(folder.iterdir()):
            archive.write(file, f"{run_id}/{file.name}")
    return target


def compare_runs(a_id: str, b_id: str, root: Path | None = None) -> list[CompareRow]:
    """The summary figures side by side, then every ``extra`` figure either run has."""
    a, b = load_run(a_id, root).summary, load_run(b_id, root).summary
    rows = [
        CompareRow(name, label, unit, getattr(a, name), getattr(b, name))
        for name, label, unit in SUMMARY_FIELDS
    ]
    for name in sorted(set(a.extra) | set(b.extra)):
        rows.append(CompareRow(name, name, "", a.extra.get(name), b.extra.get(name)))
    return rows


class _Sampled(Protocol):
    def sample_once(self) -> dict[str, float]: ...
    def times(self) -> Any: ...
    def series(self, key: str) -> Any: ...


class _EndedCrawl(Protocol):
    @property
    def settings(self) -> Any: ...
    @property
    def reason(self) -> str: ...
    def stats(self) -> Any: ...
    def hosts(self) -> Any: ...


@dataclass(frozen=True, slots=True)
class CrawlRun:
    """What ``save_run`` takes for one ended crawl (see ``crawl_run``)."""

    title: str
    settings: Any
    summary: RunSummary
    metrics: Series
    details: Mapping[str, Any]

    def save(self, root: Path | None = None) -> RunRecord:
        return save_run(
            "crawl", self.title, self.settings, self.summary, self.metrics, self.details, root
        )


def threads_label(counts: Sequence[int]) -> str:
    """What a crawl ran at, from its first worker count and each change: "8 threads",
    "8→32 threads", "8→32→4 threads"; longer stories keep the ends and the peak:
    "8→…→4 threads (max 64)"."""
    if len(counts) <= 3:
        return "→".join(map(str, counts)) + " threads"
    return f"{counts[0]}→…→{counts[-1]} threads (max {max(counts)})"


def crawl_run(
    crawler: _EndedCrawl,
    sampler: _Sampled,
    since: float = 0.0,
    details: Mapping[str, Any] | None = None,
    thread_counts: Sequence[int] | None = None,
) -> CrawlRun:
    """One ended crawl as the window saves it: its settings, the sampler's series from
    ``since`` (seconds on the sampler's clock; time zero there), a summary, the reason and
    the final stats in the details (plus ``details``). ``thread_counts``: the worker count
    it started at, then each change (default: the settings' count), for the title and the
    summary. The series are copied here, so the files can be written on another thread; the
    window and ``threadscope crawl`` both use it."""
    from core.sampler import KEYS

    stats = crawler.stats()
    sampler.sample_once()  # a crawl shorter than one tick still gets its final sample
    times = sampler.times()
    series = {key: sampler.series(key) for key in KEYS}
    n = min(len(times), *(len(v) for v in series.values()))  # a tick may land in between
    keep = times[:n] >= since
    metrics = {"t": times[:n][keep] - since}
    metrics.update({key: values[:n][keep] for key, values in series.items()})
    settings = crawler.settings
    counts = list(thread_counts or [settings.threads])
    title = (
        f"{settings.start_urls[0]} · {settings.strategy} · {threads_label(counts)} · "
        f"{crawler.reason or 'finished'}"
    )
    workers = {
        "worker_threads_start": counts[0],
        "worker_threads_max": max(counts),
        "worker_threads_end": counts[-1],
    }
    return CrawlRun(
        title=title,
        settings=settings,
        summary=summarize_metrics(metrics, stats.elapsed, stats.pages, stats.errors, workers),
        metrics=metrics,
        details={
            "reason": crawler.reason,
            "stats": stats,
            "worker_threads": counts,
            "hosts": crawler.hosts()[:1000],  # the busiest: a run of 100 000 hosts stays small
            **(details or {}),
        },
    )


def attach_files(record: RunRecord, files: Sequence[Path]) -> None:
    """Copy files (hang dumps) into a saved run's folder, so ``export_run`` zips them too."""
    for file in files:
        shutil.copy2(file, record.path / file.name)
