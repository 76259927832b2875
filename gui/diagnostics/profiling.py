"""The "Profile" page: profile the crawl's threads, list the top functions, export a .prof.

Sorting a long profile's functions takes a while: it runs on the jobs thread.
"""

from __future__ import annotations

import logging
import pstats
from collections.abc import Callable, Sized
from pathlib import Path
from typing import Protocol

from PySide6.QtWidgets import QFileDialog, QLabel, QPushButton

from core.diagnostics import FunctionRow, export_prof, top_functions
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
    """One profile (:class:`core.diagnostics.ThreadProfiler` in this process; for a watched
    program ``gui.diagnostics.agent_sources.AgentProfiler``)."""

    def start(self) -> None: ...

    def stop(self) -> pstats.Stats: ...


class ProfilePage(DiagnosticsPage):
    """``new_profiler()`` makes the profiler each Start uses; ``workers`` returns the running
    crawl's workers (those already running are not covered, and the page says so: ``running``
    names what it counts, "workers" or a program's "threads"). ``stop_off_thread``: the
    profiler's ``stop`` waits (another process's profile), so it runs on the jobs thread; a
    local one must stop on the thread that started it."""

    title = "Profile"

    def __init__(
        self,
        new_profiler: Callable[[], Profiler],
        workers: Callable[[], Sized],
        jobs: BackgroundJobs,
        stop_off_thread: bool = False,
        running: str = "workers",
    ) -> None:
        super().__init__()
        self._running = running
        self._stop_off_thread = stop_off_thread
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
                f"Profiling… ({busy} {self._running} already running are not covered)"
                if busy
                else "Profiling every thread started from now on…"
            )
        elif not on and self._profiler is not None:
            profiler, self._profiler = self._profiler, None
            self.status.setText("Sorting functions…")
            if self._stop_off_thread:
                self._jobs.submit(lambda: _sort(profiler.stop()), self._sorted, self._failed)
            else:
                stats = profiler.stop()
                self._jobs.submit(lambda: _sort(stats), self._sorted, self._failed)
        self.profile_button.blockSignals(True)
        self.profile_button.setChecked(self._profiler is not None)
        self.profile_button.blockSignals(False)
        self.profile_button.setText("Stop profile" if self._profiler else "Start profile")

    def _sorted(self, result: tuple[pstats.Stats, list[FunctionRow]]) -> None:
        stats, rows = result
        self.stats = stats
        self.export_button.setEnabled(True)
        self.functions_model.set_rows(rows)
        self.status.setText(
            f"{stats.total_calls:,} calls in the profiled threads, {stats.total_tt:.1f} s "  # type: ignore[attr-defined]
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
        """A local profile stops here; another process's goes with that process."""
        if self._profiler is not None and not self._stop_off_thread:
            self._profiler.stop()
        self._profiler = None


def _sort(stats: pstats.Stats) -> tuple[pstats.Stats, list[FunctionRow]]:
    return stats, top_functions(stats, TOP_FUNCTIONS)
