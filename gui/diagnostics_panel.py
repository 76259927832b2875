"""The Diagnostics tab: one page per tool, ticked by one timer, slow calls on one thread.

The pages (:mod:`gui.diagnostics`): thread stacks and stuck threads, tracked locks and
deadlocks, tracemalloc, gc, and a crawl profile. Each reads its data through a small source;
here they get this process's (:mod:`gui.diagnostics.local`). Cheap reads (a thread dump,
``gc.get_count``) run on the GUI thread's timer; slow ones (the periodic stuck check, a lock
snapshot and its deadlock check, a tracemalloc snapshot and its top N or diff, the top
functions of a profile) run on :class:`BackgroundJobs`, whose results come back on the GUI
thread. Only the page on screen redraws.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QTabWidget, QWidget

from core.diagnostics import CollectResult, ThreadProfiler
from core.events import WorkerState
from core.stats import WorkerInfo
from gui.background import BackgroundJobs
from gui.diagnostics.garbage import GcPage
from gui.diagnostics.local import LocalGc, LocalLocks, LocalThreads, LocalTracemalloc
from gui.diagnostics.locks import LocksPage
from gui.diagnostics.memory import MemoryPage
from gui.diagnostics.page import DiagnosticsPage
from gui.diagnostics.profiling import ProfilePage
from gui.diagnostics.stacks import DEFAULT_STUCK_S, StacksPage
from gui.threads_table import ThreadsModel

TICK_MS = 250


class DiagnosticsPanel(QTabWidget):
    """``workers`` returns the running crawl's ``WorkerInfo`` list (empty when none); ``t0`` is
    the charts' time zero (``MetricsSampler.t0``) so the gc chart shares their time axis."""

    garbageCollected = Signal(object)  # CollectResult, after any collection the panel ran
    deadlockFound = Signal(str)  # a deadlock's jstack-style report, once per deadlock

    def __init__(
        self,
        threads_model: ThreadsModel,
        workers: Callable[[], Sequence[WorkerInfo]],
        t0: float,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.jobs = BackgroundJobs(self)

        def crawl_running() -> bool:
            return any(w.state != WorkerState.STOPPED for w in workers())

        locks = LocalLocks()
        self.stacks = StacksPage(
            LocalThreads(DEFAULT_STUCK_S), threads_model, workers, self.jobs, locks
        )
        self.locks = LocksPage(locks, threads_model, self.jobs)
        self.memory = MemoryPage(LocalTracemalloc(busy=crawl_running), self.jobs)
        self.gc = GcPage(LocalGc(), t0)
        self.profile = ProfilePage(ThreadProfiler, workers, self.jobs)
        self.gc.collected.connect(self.garbageCollected)
        self.locks.deadlockFound.connect(self.deadlockFound)
        self.pages: list[DiagnosticsPage] = []
        for page in (self.stacks, self.memory, self.gc, self.profile):
            self.add_page(page)
        self.add_page(self.locks)
        self.currentChanged.connect(lambda _i: self._refresh_visible())

        self.timer = QTimer(self)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self.tick)
        self.timer.start()

    def add_page(self, page: DiagnosticsPage) -> None:
        """A page ticked, refreshed and shut down with the others, in a tab of its own."""
        self.pages.append(page)
        self.addTab(page, page.title)

    def collect_garbage(self) -> CollectResult:
        """A full collection, shown on the gc page and emitted as ``garbageCollected``."""
        return self.gc.collect()

    def tick(self) -> None:
        for page in self.pages:
            page.tick()
        self._refresh_visible()

    def _refresh_visible(self) -> None:
        """Redraw only what is on screen."""
        page = self.currentWidget()
        if self.isVisible() and isinstance(page, DiagnosticsPage):
            page.refresh()

    def shutdown(self) -> None:
        """Stop the timer, then every page (the profiler, and tracing if a page started it),
        then the jobs thread."""
        self.timer.stop()
        for page in self.pages:
            page.shutdown()
        self.jobs.shutdown()
