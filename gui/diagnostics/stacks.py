"""The "Threads & stuck" page: a searchable, copyable stack dump and stuck-thread detection.

The dump says under each thread what it holds and what it waits for (tracked locks). Stuck
threads are flagged in the Threads table (highlighted, with a "Stuck (s)" column) and logged
once per episode; a thread stuck waiting for a lock another stuck thread holds is logged as
part of that thread's problem. Threads that are not crawl workers join that table when
flagged. The periodic check walks every stack, so it runs on the jobs thread.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, Protocol

from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import QDoubleSpinBox, QLabel, QLineEdit, QPlainTextEdit, QPushButton

from core.agent.waitgraph import thread_lines
from core.diagnostics import ThreadStack
from core.stats import WorkerInfo
from gui.background import BackgroundJobs
from gui.diagnostics.locks import LocksSource
from gui.diagnostics.page import DiagnosticsPage, bar
from gui.stuck_watch import StuckMark, lock_waits
from gui.threads_table import ThreadRow, ThreadsModel

log = logging.getLogger(__name__)

DEFAULT_STUCK_S = 5.0
STUCK_NAMED = 4  # stuck threads named in the label; the Threads table lists them all
OTHER = "other"  # ThreadsModel group of non-worker threads the stuck check listed


class ThreadsSource(Protocol):
    """Where the page reads threads from (:class:`gui.diagnostics.local.LocalThreads`)."""

    threshold_s: float  # how long a thread may stay unmoved before it counts as stuck

    def dump(self) -> list[ThreadStack]:
        """Every thread's current stack."""
        ...

    def check(self, workers: Sequence[WorkerInfo] = ()) -> list[StuckMark]:
        """The threads stuck now; called periodically, as a rule on the jobs thread."""
        ...

    def alive(self) -> set[str]:
        """The names of the threads alive now."""
        ...


class StacksPage(DiagnosticsPage):
    """``workers`` returns the running crawl's ``WorkerInfo`` list (empty when none)."""

    title = "Threads && stuck"

    def __init__(
        self,
        source: ThreadsSource,
        threads_model: ThreadsModel,
        workers: Callable[[], Sequence[WorkerInfo]],
        jobs: BackgroundJobs,
        locks: LocksSource,
    ) -> None:
        super().__init__()
        self.source = source
        self.locks = locks
        self.threads_model = threads_model
        self._workers = workers
        self._jobs = jobs
        self._stacks: list[ThreadStack] = []
        self._texts: dict[int, str] = {}  # ident -> the thread's stack with its lock lines
        self._stuck_names: set[str] = set()
        self._stuck_pending = False
        self._others: dict[str, ThreadRow] = {}  # non-worker threads listed in the table

        self.dump_text = QPlainTextEdit()
        self.dump_text.setReadOnly(True)
        self.dump_text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.dump_text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.dump_button = QPushButton("Dump stacks")
        self.dump_button.setToolTip("Every thread's current Python stack (sys._current_frames)")
        self.dump_button.clicked.connect(self.dump_stacks)
        self.dump_filter = QLineEdit()
        self.dump_filter.setPlaceholderText("Filter: thread name or any text in its stack")
        self.dump_filter.setClearButtonEnabled(True)
        self.dump_filter.textChanged.connect(self._show_dump)
        self.dump_filter.setMinimumWidth(260)
        self.copy_button = QPushButton("Copy")
        self.copy_button.setToolTip("Copy the shown stacks to the clipboard")
        self.copy_button.clicked.connect(
            lambda: QGuiApplication.clipboard().setText(self.dump_text.toPlainText())
        )
        self.dump_count = QLabel()
        self.stuck_after = QDoubleSpinBox()
        self.stuck_after.setRange(0.1, 600.0)
        self.stuck_after.setDecimals(1)
        self.stuck_after.setSuffix(" s")
        self.stuck_after.setValue(source.threshold_s)
        self.stuck_after.setToolTip(
            "A worker busy on one URL, or any other thread whose stack has not changed, for "
            "longer than this is flagged in the Threads table and logged. A thread blocked on a "
            "lock nobody releases never moves again; a slow server also trips it."
        )
        self.stuck_after.valueChanged.connect(self.set_stuck_threshold)
        self.stuck_label = QLabel()
        self.stuck_label.setStyleSheet("color: #c62828;")
        self.lay_out(
            bar(
                self.dump_button,
                self.dump_filter,
                self.copy_button,
                self.dump_count,
                "Stuck after",
                self.stuck_after,
                self.stuck_label,
            ),
            self.dump_text,
        )

    # -- the dump ----------------------------------------------------------------------------

    def dump_stacks(self) -> None:
        self._stacks = self.source.dump()
        snap = self.locks.snapshot()
        self._texts = {stack.ident: annotated(stack, snap) for stack in self._stacks}
        self._show_dump()

    def _show_dump(self) -> None:
        needle = self.dump_filter.text().strip().lower()
        texts = [self._texts[stack.ident] for stack in self._stacks]
        shown = [text for text in texts if needle in text.lower()]
        self.dump_text.setPlainText("\n\n".join(shown))
        self.dump_count.setText(f"{len(shown)} of {len(self._stacks)} threads")

    def refresh(self) -> None:
        if not self._stacks:
            self.dump_stacks()

    # -- stuck threads -----------------------------------------------------------------------

    def set_stuck_threshold(self, seconds: float) -> None:
        self.source.threshold_s = seconds
        if self.stuck_after.value() != seconds:
            self.stuck_after.setValue(seconds)

    def check_stuck(self) -> list[StuckMark]:
        """Check now, on this thread (the timer checks on the jobs thread instead)."""
        marks = self._check(self._workers())
        self._show_stuck(*marks)
        return marks[0]

    def _check(self, workers: Sequence[WorkerInfo]) -> tuple[list[StuckMark], dict[str, Any]]:
        """The stuck threads, and the locks they hold and wait for when there are some."""
        marks = self.source.check(workers)
        return marks, self.locks.snapshot() if marks else {}

    def tick(self) -> None:
        """Walking every stack costs ~25 µs per thread: with a thousand threads that is too
        long for the GUI thread four times a second."""
        if self._stuck_pending:
            return
        self._stuck_pending = True
        workers = self._workers()
        self._jobs.submit(lambda: self._check(workers), self._stuck_checked, self._stuck_failed)

    def _stuck_checked(self, checked: tuple[list[StuckMark], dict[str, Any]]) -> None:
        self._stuck_pending = False
        self._show_stuck(*checked)

    def _stuck_failed(self, exc: BaseException) -> None:
        self._stuck_pending = False
        log.error("stuck-thread check failed: %s", exc, exc_info=exc)

    def _show_stuck(self, marks: list[StuckMark], snap: dict[str, Any]) -> None:
        """Flag stuck threads in the Threads table; log each problem once when it begins: a
        thread stuck behind another stuck thread's lock is one line of that thread's record
        (or a line of its own if that thread was reported before)."""
        names = {m.name for m in marks}
        behind = lock_waits(marks, snap, self._stuck_names)
        new = [m for m in marks if m.name not in self._stuck_names]
        followers: dict[str, list[str]] = {}
        for mark in new:
            if mark.name in behind:
                head, line = behind[mark.name]
                followers.setdefault(head, []).append(line)
        for mark in new:
            if mark.name in behind:
                continue
            lines = thread_lines(snap, mark.ident) if snap and mark.ident is not None else []
            waits = [line for line in lines if line.startswith("waiting")]
            log.warning(
                "thread %s has not moved for %.1f s, %s\n%s",
                mark.name,
                mark.stuck_for_s,
                mark.at,
                "\n".join([mark.where, *waits, *followers.pop(mark.name, [])]),
            )
        for lines in followers.values():  # behind a thread reported before
            for line in lines:
                log.warning("%s", line)
        self._stuck_names = names
        self._list_others(marks)
        self.threads_model.set_stuck({m.name: (m.stuck_for_s, m.where) for m in marks})
        shown = ", ".join(f"{m.name} ({m.stuck_for_s:.0f} s)" for m in marks[:STUCK_NAMED])
        more = f" and {len(marks) - STUCK_NAMED:,} more" if len(marks) > STUCK_NAMED else ""
        self.stuck_label.setText(f"Stuck: {shown}{more}" if marks else "")

    def _list_others(self, marks: Sequence[StuckMark]) -> None:
        """Non-worker threads stay in the table once flagged: blocked while stuck, running
        after, exited when gone."""
        now = time.monotonic()
        stuck = {m.name: m for m in marks if not m.worker}
        alive = self.source.alive()
        for name, mark in stuck.items():
            if name not in self._others or self._others[name].state != "blocked":
                self._others[name] = ThreadRow(
                    name=name,
                    ident=mark.ident,
                    native_id=mark.native_id,
                    daemon=mark.daemon,
                    state="blocked",
                    since=now - mark.stuck_for_s,
                    url="",
                    pages=0,
                    cpu_s=None,
                    last_error="",
                )
        for name, row in list(self._others.items()):
            if name not in alive:
                del self._others[name]  # the table marks it exited
            elif name not in stuck and row.state == "blocked":
                self._others[name] = replace(row, state="running", since=now)
        self.threads_model.update(self._others.values(), group=OTHER)


def annotated(stack: ThreadStack, snap: dict[str, Any]) -> str:
    """The thread's dump text with what it waits for and holds under its name ("- waiting
    for Lock created at app.py:12 [lock-7], held by worker-3 for 4.2 s ...")."""
    head, *frames = stack.text().split("\n")
    lines = thread_lines(snap, stack.ident) if snap.get("locks") else []
    return "\n".join([head, *(f"  - {line}" for line in lines), *frames])
