"""The "Memory (tracemalloc)" page: start and stop tracing, snapshots, top sites, growth.

A snapshot of a big heap and its top N or diff take seconds: they run on the jobs thread.
The page keeps the last two snapshots, numbered, so "Diff last two" says what grew.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import Any, Protocol

from PySide6.QtWidgets import QLabel, QPushButton, QSpinBox

from core.diagnostics import AllocationDiffRow, AllocationRow
from gui.background import BackgroundJobs
from gui.diagnostics.page import DiagnosticsPage, bar, table
from gui.rows_model import Column, RowsModel, count, kib, signed_count, signed_kib

log = logging.getLogger(__name__)

TOP_ALLOCATIONS = 25
TOP_COLUMNS = (
    Column("Location (file:line)", "location"),
    Column("Size (KiB)", "size_bytes", kib),
    Column("Blocks", "count", count),
)
DIFF_COLUMNS = (
    Column("Location (file:line)", "location"),
    Column("Size (KiB)", "size_bytes", kib),
    Column("Change (KiB)", "size_diff", signed_kib),
    Column("Blocks", "count", count),
    Column("Change", "count_diff", signed_count),
)


class MemorySource(Protocol):
    """Where the page traces allocations (:class:`gui.diagnostics.local.LocalTracemalloc`)."""

    stop_pending: bool  # stop was asked for but waits (traces are cleared meanwhile)

    def tracing(self) -> bool: ...

    def start(self) -> None: ...

    def stop(self) -> None:
        """Stop tracing now, or clear the traces and set ``stop_pending``."""
        ...

    def finish_stop(self) -> bool:
        """Carry out a pending stop once it is safe; True when it did."""
        ...

    def traced(self) -> tuple[int, int]:
        """Traced bytes now and at peak."""
        ...

    def snapshot(self, limit: int) -> tuple[Any, list[AllocationRow]]:
        """A snapshot and its ``limit`` biggest sites (slow: on the jobs thread)."""
        ...

    def diff(self, old: Any, new: Any, limit: int) -> list[AllocationDiffRow]:
        """What grew from ``old`` to ``new``, biggest first (slow: on the jobs thread)."""
        ...

    def close(self) -> None:
        """Stop tracing if this source started it."""
        ...


class MemoryPage(DiagnosticsPage):
    title = "Memory (tracemalloc)"

    def __init__(self, source: MemorySource, jobs: BackgroundJobs) -> None:
        super().__init__()
        self.source = source
        self._jobs = jobs
        self._snapshots: deque[tuple[int, Any]] = deque(maxlen=2)  # (number, snapshot)
        self._snapshot_number = 0

        self.trace_button = QPushButton("Start tracing")
        self.trace_button.setCheckable(True)
        self.trace_button.setToolTip(
            "tracemalloc records where each new allocation came from; Python runs slower "
            "meanwhile, and only allocations made after the start are seen"
        )
        self.trace_button.toggled.connect(self.set_tracing)
        self.snapshot_button = QPushButton("Snapshot")
        self.snapshot_button.setToolTip("Take a snapshot and show its biggest allocation sites")
        self.snapshot_button.clicked.connect(self.take_snapshot)
        self.diff_button = QPushButton("Diff last two")
        self.diff_button.setToolTip("What grew between the last two snapshots, biggest first")
        self.diff_button.clicked.connect(self.diff_snapshots)
        self.top_n = QSpinBox()
        self.top_n.setRange(5, 500)
        self.top_n.setValue(TOP_ALLOCATIONS)
        self.status = QLabel()
        self.allocations_model = RowsModel(TOP_COLUMNS, self)
        self.diff_model = RowsModel(DIFF_COLUMNS, self)
        self.allocations_view = table(self.allocations_model, sort_column=1)
        self.diff_view = table(self.diff_model, sort_column=2)
        self.diff_view.hide()
        self._update_buttons()
        self.lay_out(
            bar(
                self.trace_button,
                self.snapshot_button,
                self.diff_button,
                "Top",
                self.top_n,
                self.status,
            ),
            self.allocations_view,
            self.diff_view,
        )

    def set_tracing(self, on: bool) -> None:
        if on and not self.source.tracing():
            self.source.start()
        elif not on and self.source.tracing():
            self._snapshots.clear()  # a snapshot holds every trace: let it go
            self.source.stop()
        self._update_buttons()

    def take_snapshot(self) -> None:
        if not self.source.tracing():
            return
        limit = self.top_n.value()
        self.snapshot_button.setEnabled(False)
        self.status.setText("Taking a snapshot…")
        self._jobs.submit(lambda: self.source.snapshot(limit), self._snapshot_taken, self._failed)

    def _snapshot_taken(self, result: tuple[Any, list[AllocationRow]]) -> None:
        snapshot, rows = result
        self._snapshot_number += 1
        self._snapshots.append((self._snapshot_number, snapshot))
        self.allocations_model.set_rows(rows)
        self._show_allocations(diff=False)
        self._update_buttons()

    def diff_snapshots(self) -> None:
        if len(self._snapshots) < 2:
            return
        (_, old), (_, new) = self._snapshots
        limit = self.top_n.value()
        self.diff_button.setEnabled(False)
        self.status.setText("Comparing…")
        self._jobs.submit(lambda: self.source.diff(old, new, limit), self._diff_done, self._failed)

    def _diff_done(self, rows: list[AllocationDiffRow]) -> None:
        self.diff_model.set_rows(rows)
        self._show_allocations(diff=True)
        self._update_buttons()

    def _failed(self, exc: BaseException) -> None:
        log.error("tracemalloc: %s", exc)
        self._update_buttons()
        self.status.setText(f"Failed: {exc}")

    def _show_allocations(self, diff: bool) -> None:
        self.diff_view.setVisible(diff)
        self.allocations_view.setVisible(not diff)

    def _update_buttons(self) -> None:
        tracing = self.source.tracing()
        pending = self.source.stop_pending
        self.trace_button.blockSignals(True)
        self.trace_button.setChecked(tracing)
        self.trace_button.blockSignals(False)
        self.trace_button.setText("Stop tracing" if tracing else "Start tracing")
        self.trace_button.setEnabled(not pending)
        if pending:
            self.trace_button.setText("Stops after the crawl")
            self.trace_button.setToolTip(
                "On Python 3.11, stopping tracemalloc while workers allocate can crash them "
                "(CPython gh-128679): traces were cleared and tracing stops when the crawl ends."
            )
        self.snapshot_button.setEnabled(tracing)
        self.diff_button.setEnabled(len(self._snapshots) == 2)
        self.refresh()

    def refresh(self) -> None:
        """The status line: traced memory, the snapshots kept and which one is shown."""
        parts = []
        if self.source.tracing():
            current, peak = self.source.traced()
            parts.append(f"traced {current / 1_048_576:,.1f} MiB (peak {peak / 1_048_576:,.1f})")
        else:
            parts.append("not tracing")
        numbers = [str(n) for n, _ in self._snapshots]
        if numbers:
            parts.append(f"snapshots kept: #{', #'.join(numbers)}")
        if not self.diff_view.isHidden() and len(numbers) == 2:
            parts.append(f"showing growth #{numbers[0]} → #{numbers[1]}")
        elif numbers:
            parts.append(f"showing top sites of #{numbers[-1]}")
        self.status.setText(" · ".join(parts))

    def tick(self) -> None:
        if self.source.finish_stop():
            self._update_buttons()

    def shutdown(self) -> None:
        self._snapshots.clear()
        self.source.close()
