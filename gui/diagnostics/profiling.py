"""The "Profile" pages: the crawl's threads by cProfile (top functions, .prof export), and a
watched program's threads, every one, sampled by its agent (:class:`SampledProfilePage`).

Sorting a long profile's functions, and stopping another process's profile, take a while: they
run on the jobs thread.
"""

from __future__ import annotations

import logging
import pstats
from collections.abc import Callable, Sized
from pathlib import Path
from typing import Protocol

from PySide6.QtWidgets import QComboBox, QFileDialog, QLabel, QPushButton, QVBoxLayout

from core.agent.sampling_profile import HZ
from core.diagnostics import FunctionRow, export_prof, top_functions
from gui.background import BackgroundJobs
from gui.diagnostics.agent_sources import CPU, WALL, SampledProfile
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
SAMPLED_COLUMNS = (
    Column("Function", "function"),
    Column("Self %", "self_pct", lambda pct: f"{pct:.1f}"),
    Column("Total %", "total_pct", lambda pct: f"{pct:.1f}"),
    Column("Self CPU (s)", "self_cpu_s", lambda s: f"{s:.3f}"),
    Column("Total CPU (s)", "total_cpu_s", lambda s: f"{s:.3f}"),
    Column("Self samples", "self_samples", count),
    Column("Total samples", "total_samples", count),
)
VIEWS = ((CPU, "CPU time"), (WALL, "All samples (wall)"))
SAMPLED_COVERS = (
    f"Start: the agent samples every thread of the program {HZ} times a second, those already "
    "running too. CPU time: where the threads ran (a sleeping or waiting thread adds nothing); "
    "all samples: where they were, waits included."
)


class Profiler(Protocol):
    """One profile of this process (:class:`core.diagnostics.ThreadProfiler`)."""

    def start(self) -> None: ...

    def stop(self) -> pstats.Stats: ...


class SamplingProfiler(Protocol):
    """One profile of a watched program (``gui.diagnostics.agent_sources.AgentProfiler``);
    ``stop`` waits for the program."""

    def start(self) -> None: ...

    def stop(self) -> SampledProfile: ...


def _show_running(button: QPushButton, running: bool) -> None:
    """The Start/Stop button says what a click does, without toggling anything itself."""
    button.blockSignals(True)
    button.setChecked(running)
    button.blockSignals(False)
    button.setText("Stop profile" if running else "Start profile")


def _show_failure(status: QLabel, exc: BaseException) -> None:
    log.error("profile: %s", exc)
    status.setText(f"Failed: {exc}")


class ProfilePage(DiagnosticsPage):
    """``new_profiler()`` makes the profiler each Start uses; ``workers`` returns the running
    crawl's workers (those already running are not covered, and the page says so). The
    profiler stops on the thread that started it (cProfile's own rule)."""

    title = "Profile"

    def __init__(
        self,
        new_profiler: Callable[[], Profiler],
        workers: Callable[[], Sized],
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
            self.status.setText("Sorting functions…")
            stats = profiler.stop()
            self._jobs.submit(lambda: _sort(stats), self._sorted, self._failed)
        _show_running(self.profile_button, self._profiler is not None)

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
        _show_failure(self.status, exc)

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


def _sort(stats: pstats.Stats) -> tuple[pstats.Stats, list[FunctionRow]]:
    return stats, top_functions(stats, TOP_FUNCTIONS)


class SampledProfilePage(DiagnosticsPage):
    """A watched program's profile: every thread sampled by its agent at ``HZ`` (the page says
    so), per function self % and total % of the CPU time the threads used or of all samples
    (the View box), for every thread or one (the Thread box, busiest first)."""

    title = "Profile"

    def __init__(self, new_profiler: Callable[[], SamplingProfiler], jobs: BackgroundJobs) -> None:
        super().__init__()
        self._new_profiler = new_profiler
        self._jobs = jobs
        self._profiler: SamplingProfiler | None = None
        self.profile: SampledProfile | None = None

        self.profile_button = QPushButton("Start profile")
        self.profile_button.setCheckable(True)
        self.profile_button.setToolTip(
            f"Samples every thread of the program {HZ} times a second until Stop: no hook in "
            "the program, which runs as before (the sampler takes the GIL briefly per sample)"
        )
        self.profile_button.toggled.connect(self.set_profiling)
        self.thread_box = QComboBox()
        self.thread_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.thread_box.setToolTip("Every thread, or one (busiest first: CPU, then samples)")
        self.thread_box.currentIndexChanged.connect(self._show_rows)
        self.view_box = QComboBox()
        for key, label in VIEWS:
            self.view_box.addItem(label, key)
        self.view_box.setToolTip(
            "CPU time: each sample weighs the CPU its thread used since the previous one, so "
            "idle threads weigh nothing. All samples: one per thread per sample, waits included."
        )
        self.view_box.currentIndexChanged.connect(self._show_rows)
        self.status = QLabel(SAMPLED_COVERS)
        self.status.setWordWrap(True)
        self.functions_model = RowsModel(SAMPLED_COLUMNS, self)
        self.functions_view = table(self.functions_model, sort_column=1)
        self._fill_threads()
        controls = bar(self.profile_button, "Thread", self.thread_box, "View", self.view_box)
        self.lay_out(controls, self.status, self.functions_view)
        layout = self.layout()
        assert isinstance(layout, QVBoxLayout)
        layout.setStretch(1, 0)  # the status takes its lines, the table the rest

    def set_profiling(self, on: bool) -> None:
        if on and self._profiler is None:
            self._profiler = self._new_profiler()
            self._profiler.start()
            self.status.setText(f"Sampling every thread at {HZ} Hz…")
        elif not on and self._profiler is not None:
            profiler, self._profiler = self._profiler, None
            self.status.setText("Collecting the samples…")
            self._jobs.submit(profiler.stop, self._stopped, self._failed)
        _show_running(self.profile_button, self._profiler is not None)

    def _stopped(self, profile: SampledProfile) -> None:
        self.profile = profile
        self._fill_threads()
        self.status.setText(self._summary(profile))

    def _fill_threads(self) -> None:
        box = self.thread_box
        box.blockSignals(True)
        box.clear()
        box.addItem("All threads", None)
        for index, thread in enumerate(self.profile.threads if self.profile else ()):
            box.addItem(f"{thread.name} ({thread.cpu_s:.2f} s CPU)", index)
        box.blockSignals(False)
        box.setEnabled(self.profile is not None)
        self._show_rows()

    def _show_rows(self) -> None:
        if self.profile is None:
            self.functions_model.set_rows([])
            return
        rows = self.profile.rows(self.thread_box.currentData(), self.view_box.currentData())
        self.functions_model.set_rows(rows)

    def _summary(self, profile: SampledProfile) -> str:
        threads = len(profile.threads)
        text = (
            f"{profile.ticks:,} samples of every thread ({threads}) in {profile.seconds:.1f} s, "
            f"at {profile.rate_hz:.0f} Hz of the {profile.hz} asked"
        )
        if profile.late_ticks:
            text += " (it waits for the GIL, and for a busy machine)"
        if profile.cpu_measured:
            text += f"; the threads used {profile.cpu_s:.2f} s of CPU"
        else:
            text += "; CPU time unknown here (Linux only): see all samples"
        cost = 100 * profile.sampler_cpu_s / profile.seconds if profile.seconds else 0.0
        text += f". The sampler cost {cost:.1f} % of a core."
        if profile.capped:
            text += " It stopped by itself at its time limit."
        if profile.error:
            text += f" It ended early: {profile.error}."
        return text

    def _failed(self, exc: BaseException) -> None:
        _show_failure(self.status, exc)
