"""Results JSONL: one line per record, readable after a kill."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from core.events import ErrorInfo, PageResult
from core.results import ResultsWriter, read_results


def _result(i: int, error: ErrorInfo | None = None) -> PageResult:
    return PageResult(f"http://h/p/{i}", "http://h/", 1, 200, 100 + i, 1.5, 3, error)


def test_records_round_trip_and_append(tmp_path: Path) -> None:
    path = tmp_path / "out" / "results.jsonl"
    with ResultsWriter(path) as writer:
        writer.write(_result(1))
        writer.write(_result(2, ErrorInfo("timeout", "read took too long")))
    with ResultsWriter(path) as writer:  # a second run appends
        writer.write(_result(3))
    records = read_results(path)
    assert [r["url"] for r in records] == ["http://h/p/1", "http://h/p/2", "http://h/p/3"]
    assert records[1]["error"] == {"kind": "timeout", "message": "read took too long"}
    assert records[0] == _result(1).as_dict()


def test_each_record_is_on_disk_once_written(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    writer = ResultsWriter(path)
    writer.write(_result(1))
    assert path.read_bytes().count(b"\n") == 1  # no buffering: a kill now loses nothing
    writer.close()
    with pytest.raises(ValueError, match="is closed"):
        writer.write(_result(2))


def test_torn_and_invalid_lines_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    with ResultsWriter(path) as writer:
        writer.write(_result(1))
        writer.write(_result(2))
    with open(path, "ab") as f:
        f.write(b"not json\n")
        f.write(json.dumps(_result(3).as_dict()).encode()[:25])  # killed mid-line
    assert [r["url"] for r in read_results(path)] == ["http://h/p/1", "http://h/p/2"]


def test_odd_characters_stay_valid_json(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    odd = PageResult("http://h/\udcff\u00e9\n", None, 0, None, 0, 0.0, 0, ErrorInfo("x", "\x00"))
    with ResultsWriter(path) as writer:
        writer.write(odd)
    assert read_results(path)[0]["url"] == "http://h/\udcff\u00e9\n"


def test_concurrent_writers_never_interleave_lines(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    writer = ResultsWriter(path)

    def work(k: int) -> None:
        for i in range(300):
            writer.write(_result(k * 1000 + i))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    writer.close()
    assert writer.written == 1800
    assert len({r["url"] for r in read_results(path)}) == 1800
