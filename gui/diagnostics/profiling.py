"""The "Profile" page: profile the crawl's threads, list the top functions, export a .prof.

Sorting a long profile's functions takes a while: it runs on the jobs thread.
"""

from __future__ import annotations

import logging
import pstats
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from PySide6.QtWidgets import QFileDialog, QLabel, QPushButton

from core.diagnostics import FunctionRow, export_prof, top_functions
from core.stats import WorkerInfo
from gui.background import BackgroundJobs
from gui.diagnostics.page import DiagnosticsPage, bar, table
from gui.rows_model import Column, RowsModel, count, seconds

log = logging.getLogger(__name__)

TOP_FUNCTIONS = 200
FUNCTION_COLUMNS = (
    Column("Function", "function"),
    Column("Calls", "ncalls", count),
    Column("Own time (s)", "tottime_s", seconds),
    Column("Cumulative (s)", "cumtime_s", seconds),
)


class Profiler(Protocol):
    """One profile (:class:`core.diagnostics.ThreadProfiler` in this process)."""

    def start(self) -> None: ...

    def stop(self) -> pstats.Stats: ...


class ProfilePage(DiagnosticsPage):
    """``new_profiler()`` makes the profiler each Start uses; ``workers`` returns the running
    crawl's workers (those already running are not covered, and the page says so)."""

    title = "Profile"

    def __init__(
        self,
        new_profiler: Callable[[], Profiler],
        workers: Callable[[], Sequence[WorkerInfo]],
        jobs: BackgroundJobs,
    ) -> None:
        super().__init__()
        self._new_profiler = new_profiler
        self._workers = workers
        self._jobs = jobs
        self._profiler: Profiler | None = None
        self.stats: pstats.Stats | None = None

        self.profile_button = QPushButton("Start profile")
        self.profile_button.setCheckable(True)
        self.profile_button.setToolTip(
            "cProfile in this thread and in every thread started from now on (start it before "
            "the crawl: workers already running are not seen); the crawl runs slower meanwhile"
        )
        self.profile_button.toggled.connect(self.set_profiling)
        self.export_button = QPushButton("Export .prof…")
        self.export_button.setToolTip("A pstats file: open it with snakeviz or pstats")
        self.export_button.setEnabled(False)
        self.export_button.clicked.connect(self._ask_export)
        self.status = QLabel("Start the profile, then the crawl.")
        self.functions_model = RowsModel(FUNCTION_COLUMNS, self)
        self.functions_view = table(self.functions_model, sort_column=3)
        self.lay_out(bar(self.profile_button, self.export_button, self.status), self.functions_view)

    def set_profiling(self, on: bool) -> None:
        if on and self._profiler is None:
            self._profiler = self._new_profiler()
            self._profiler.start()
            busy = len(self._workers())
            self.status.setText(
                f"Profiling… ({busy} workers already running are not covered)"
                if busy
                else "Profiling every thread started from now on…"
            )
        elif not on and self._profiler is not None:
            profiler, self._profiler = self._profiler, None
            stats = profiler.stop()
            self.stats = stats
            self.export_button.setEnabled(True)
            self.status.setText("Sorting functions…")
            self._jobs.submit(
                lambda: top_functions(stats, TOP_FUNCTIONS), self._sorted, self._failed
            )
        self.profile_button.blockSignals(True)
        self.profile_button.setChecked(self._profiler is not None)
        self.profile_button.blockSignals(False)
        self.profile_button.setText("Stop profile" if self._profiler else "Start profile")

    def _sorted(self, rows: list[FunctionRow]) -> None:
        self.functions_model.set_rows(rows)
        stats = self.stats
        self.status.setText(
            f"{stats.total_calls:,} calls in the profiled threads, {stats.total_tt:.1f} s "  # type: ignore[union-attr]
            f"summed over them (wall time: blocking calls count); top {len(rows)} functions"
        )

    def _failed(self, exc: BaseException) -> None:
        log.error("profile: %s", exc)
        self.status.setText(f"Failed: {exc}")

    def export_profile(self, path: str | Path) -> Path:
        if self.stats is None:
            raise RuntimeError("no profile yet: start and stop one first")
        return export_prof(self.stats, path)

    def _ask_export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export profile", "crawl.prof")
        if path:
            self.export_profile(path)
            self.status.setText(f"Wrote {path} (snakeviz {Path(path).name})")

    def shutdown(self) -> None:
        if self._profiler is not None:
            self._profiler.stop()
            self._profiler = None
