"""The results file: one JSON object per line, one line per URL, written as it happens.

Each record is written with a single ``write`` of the whole line to an unbuffered file, so
a killed process leaves every earlier line complete and at most the last one torn;
``read_results`` skips such a line.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from core.events import PageResult


class ResultsWriter:
    """Appends ``PageResult`` records to a JSONL file from any thread."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "ab", buffering=0)  # noqa: SIM115 - closed by close()
        self._lock = threading.Lock()
        self.written = 0

    def write(self, result: PageResult) -> None:
        # ASCII-escaped JSON: a URL or message with odd characters still gives valid UTF-8.
        data = (json.dumps(result.as_dict(), separators=(",", ":")) + "\n").encode("ascii")
        with self._lock:
            if self._file.closed:
                raise ValueError(f"results file {self.path} is closed")
            _write_all(self._file, data)
            self.written += 1

    def close(self) -> None:
        with self._lock:
            self._file.close()

    def __enter__(self) -> ResultsWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _write_all(file: Any, data: bytes) -> None:
    """One ``write`` call in the normal case; a raw file may accept less, so loop on the rest."""
    view = memoryview(data)
    while view:
        n = file.write(view)
        view = view[n:]


def read_results(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every complete record in the file; a torn or invalid line is skipped."""
    records: list[dict[str, Any]] = []
    with open(path, "rb") as file:
        for line in file:
            if not line.endswith(b"\n"):
                break  # the last line, cut short by a kill
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                records.append(record)
    return records
