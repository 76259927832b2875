"""Run history round-trips through the data dir given by THREADSCOPE_DATA_DIR."""

from __future__ import annotations

import json
import zipfile

import pytest

from core import history
from core.history import HistoryError, RunSummary
from core.settings import CrawlSettings


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("THREADSCOPE_DATA_DIR", str(tmp_path))
    return tmp_path


def _crawl(pages: int, rss: list[float]):
    metrics = {"t": [0.0, 0.1, 0.2], "rss_mib": rss, "os_threads": [3, 9, 5]}
    summary = history.summarize_metrics(metrics, duration_s=2.0, pages=pages, errors=1)
    settings = CrawlSettings(start_urls=("http://127.0.0.1:8000/",), threads=4)
    return history.save_run("crawl", "test site", settings, summary, metrics=metrics)


def test_save_load_list_round_trip(data_dir):
    record = _crawl(100, [50.0, 80.0, 60.0])
    assert record.path.parent == data_dir / "runs"
    loaded = history.load_run(record.id)
    assert loaded == record
    assert loaded.settings["threads"] == 4
    assert loaded.settings["start_urls"] == ["http://127.0.0.1:8000/"]
    assert loaded.summary == RunSummary(
        duration_s=2.0, pages=100, pages_per_s=50.0, peak_threads=9.0, peak_rss_mib=80.0, errors=1
    )
    assert history.load_metrics(record.id) == {
        "t": [0.0, 0.1, 0.2],
        "os_threads": [3.0, 9.0, 5.0],
        "rss_mib": [50.0, 80.0, 60.0],
    }
    assert next(iter(history.load_metrics(record.id))) == "t"
    assert [r.id for r in history.list_runs()] == [record.id]
    assert history.list_runs(kind="experiment") == []


def test_details_compare_delete_and_export(tmp_path):
    a = _crawl(100, [50.0, 80.0, 60.0])
    b = history.save_run(
        "experiment",
        "counter-race",
        {"scale": 1},
        RunSummary(1.0, extra={"bad.lost": 5.0}),
        details={"verdict": "holds"},
    )
    assert history.load_details(b.id) == {"verdict": "holds"}
    assert history.load_details(a.id) is None
    rows = {row.field: row for row in history.compare_runs(a.id, b.id)}
    assert rows["duration_s"].a == 2.0
    assert rows["duration_s"].diff == -1.0
    assert rows["pages"].b is None
    assert rows["pages"].diff is None
    assert rows["bad.lost"].a is None
    assert rows["bad.lost"].b == 5.0

    zipped = history.export_run(a.id, tmp_path)
    with zipfile.ZipFile(zipped) as archive:
        names = set(archive.namelist())
        assert names == {f"{a.id}/run.json", f"{a.id}/metrics.csv"}
        assert json.loads(archive.read(f"{a.id}/run.json"))["id"] == a.id

    history.delete_run(a.id)
    assert [r.id for r in history.list_runs()] == [b.id]
    with pytest.raises(HistoryError, match="no run"):
        history.load_run(a.id)


def test_bad_ids_and_bad_metrics_are_refused(data_dir):
    with pytest.raises(HistoryError, match="run id"):
        history.load_run("../../etc")
    with pytest.raises(ValueError, match="metrics: series have different lengths"):
        history.save_run("crawl", "x", {}, RunSummary(1.0), metrics={"t": [0, 1], "rss_mib": [1]})
    assert history.list_runs() == []  # the failed save left nothing behind
    (data_dir / "runs" / "junk").mkdir()
    (data_dir / "runs" / "junk" / "run.json").write_text("{}")
    assert history.list_runs() == []
