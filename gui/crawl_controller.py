"""The crawl's life in the window: one :class:`Phase` at a time, and the actions that move it.

Start, Pause/Resume and Stop act on the session's crawler and set the phase; a timer polls the
engine (``state``, ``join(0)``) to notice the end, or a stop the engine decided itself (max
pages, memory). The actions' enabled state and the form's follow the phase. What the window
draws is its own business: it listens to ``phaseChanged``, ``polled`` and ``marker``.

Each crawl runs under ``core.observe``'s ``Observability`` as the form's Observability group
says: the metrics port is bound at Start, before anything else (a port in use fails the
start), the hang detector and the memory-growth warning (while tracemalloc traces) report
from their own thread into a queue that the poll turns into a marker and a status-bar
message (the full text is in the Log), and the hang dumps are kept with the saved run.
"""

from __future__ import annotations

import logging
import queue
from collections.abc import Callable
from concurrent.futures import Future
from enum import StrEnum

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QStyle

from core.events import CrawlState
from core.history import RunRecord
from core.observe.hang import HangReport
from core.observe.memgrowth import GrowthWarning
from core.observe.metrics import MetricsError
from core.observe.options import Observability
from core.settings import CrawlSettings
from gui.actions import make_action, standard_icon
from gui.bridge import EventBridge
from gui.controls import ControlPanel
from gui.observe_controls import BIND
from gui.session import CrawlSession

log = logging.getLogger(__name__)

POLL_MS = 200
ACTIVE_STATES = (CrawlState.RUNNING, CrawlState.PAUSED, CrawlState.STOPPING)


class Phase(StrEnum):
    """Where the window's crawl is. A ``str``, so ``phase == "running"`` reads as before."""

    IDLE = "idle"
    STARTING = "starting"  # the embedded test site is booting; there is no new crawler yet
    RUNNING = "running"
    PAUSED = "paused"
    STOPPING = "stopping"
    FINISHED = "finished"

    @property
    def active(self) -> bool:
        """A crawl is on its way or running: the form is locked, no experiment may start."""
        return self is not Phase.IDLE and self is not Phase.FINISHED

    @property
    def crawling(self) -> bool:
        """The session's crawler is this phase's (while starting, it is the last crawl's)."""
        return self in (Phase.RUNNING, Phase.PAUSED, Phase.STOPPING)

    @property
    def steerable(self) -> bool:
        """Pause/Resume and a new thread count apply."""
        return self in (Phase.RUNNING, Phase.PAUSED)

    @property
    def label(self) -> str:
        """For the status bar: "Running", "Stopping…"."""
        return {Phase.STARTING: "Starting…", Phase.STOPPING: "Stopping…"}.get(
            self, self.value.capitalize()
        )


class CrawlController(QObject):
    """Owns the Start, Pause and Stop actions and the phase machine of the session's crawl.

    ``blocked()`` says whether something else (an experiment) forbids starting now; call
    :meth:`refresh_actions` when its answer changes.
    """

    phaseChanged = Signal(Phase)
    marker = Signal(str)  # "Start (8 threads)", "Pause", "threads 8→32": mark the charts now
    message = Signal(str)  # for the status bar until the next one ("" clears it)
    failed = Signal(str)  # a crawl that could not start, and why: tell the user
    newCrawl = Signal()  # about to start one: views drop the last crawl's rows
    polled = Signal()  # after every poll: views refresh from the session
    saved = Signal()  # an ended crawl is in the run history
    watchRequested = Signal()  # Start with a program or process as the target

    def __init__(
        self,
        session: CrawlSession,
        controls: ControlPanel,
        bridge: EventBridge,
        blocked: Callable[[], bool],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.session = session
        self.controls = controls
        self.bridge = bridge
        self._blocked = blocked
        self.phase = Phase.IDLE
        self._stop_requests = 0
        self._pending_site: Future[str] | None = None
        self._pending_save: Future[RunRecord] | None = None
        self._closed = False
        self._observe: Observability | None = None
        self._alerts: queue.SimpleQueue[HangReport | GrowthWarning] = queue.SimpleQueue()

        sp = QStyle.StandardPixmap
        self.start_action = make_action(
            self, "Start", sp.SP_MediaPlay, Qt.Key.Key_F5, self.start, "Start a crawl"
        )
        self.pause_action = make_action(
            self,
            "Pause",
            sp.SP_MediaPause,
            Qt.Key.Key_F6,
            self.toggle_pause,
            "Pause or resume: workers finish their current page, then wait",
        )
        self.stop_action = make_action(
            self,
            "Stop",
            sp.SP_MediaStop,
            QKeySequence("Shift+F5"),
            self.stop,
            "Stop: in-flight requests get a short grace; press again to abandon them",
        )
        controls.validityChanged.connect(lambda _valid: self.refresh_actions())
        controls.threadsEdited.connect(self.set_threads)
        # React at once rather than at the next poll, but after the bridge's tick has finished.
        bridge.stateChanged.connect(lambda *_: QTimer.singleShot(0, self.poll))

        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.poll)
        self.timer.start()
        self.refresh_actions()

    # -- the user's commands ----------------------------------------------------------------

    def start(self) -> None:
        """Start what the form says, booting the embedded site first if it is the target."""
        if not self.start_action.isEnabled() or not self.controls.validate():
            return
        if self.controls.watch_target is not None:
            self.watchRequested.emit()  # a window on a program, not a crawl
            return
        if not self._observe_crawl():
            return
        if self.controls.uses_site:
            self._pending_site = self.session.site_url(self.controls.site_params())
            self._set_phase(Phase.STARTING)
            self.message.emit("Starting the embedded test site…")
        else:
            self.launch(self.controls.settings())

    def launch(self, settings: CrawlSettings) -> None:
        """Start a crawl of ``settings`` now (the form validated, the site up)."""
        if self._observe is None and not self._observe_crawl():
            return
        assert self._observe is not None
        self._stop_requests = 0
        self.newCrawl.emit()
        try:
            crawler = self.session.new_crawler(settings)
            self.bridge.attach(crawler.events)  # before start: events flow only to listeners
            self._observe.watch_crawl(crawler, self.session.sampler)
            crawler.start()
        except Exception as exc:  # a crawl that cannot start must say why and leave us idle
            log.exception("could not start the crawl")
            self.bridge.detach()
            self._end_observing()
            self._set_phase(Phase.IDLE)
            self.failed.emit(f"Could not start the crawl:\n{exc}")
            return
        self.message.emit("")
        self._set_phase(Phase.RUNNING)
        self.marker.emit(f"Start ({settings.threads} threads)")
        log.info("crawl of %s started with %d threads", settings.start_urls[0], settings.threads)

    def toggle_pause(self) -> None:
        crawler = self.session.crawler
        if crawler is None or not self.phase.steerable:
            return
        if self.phase is Phase.RUNNING:
            crawler.pause()
            self._set_phase(Phase.PAUSED)
            self.marker.emit("Pause")
        else:
            crawler.resume()
            self._set_phase(Phase.RUNNING)
            self.marker.emit("Resume")

    def stop(self) -> None:
        """First press: stop with a grace for in-flight requests; second: abandon them."""
        crawler = self.session.crawler
        if crawler is None or not self.phase.crawling:
            return
        self._stop_requests += 1
        crawler.stop()
        self.marker.emit("Stop" if self._stop_requests == 1 else "Abandon in-flight")
        self._set_phase(Phase.STOPPING)

    def set_threads(self, n: int) -> None:
        """A new thread count from the form, for a running crawl whose strategy can resize."""
        if self.session.crawler is None or not self.phase.steerable:
            return
        old = self.session.set_threads(n)
        if old is not None:
            self.marker.emit(f"threads {old}→{n}")

    # -- following the engine ---------------------------------------------------------------

    def poll(self) -> None:
        """Finish what the helper threads finished (site start, history save), then notice
        the crawl's end, or a stop the engine decided itself."""
        if self._pending_site is not None and self._pending_site.done():
            self._site_ready(self._pending_site)
        if self._pending_save is not None and self._pending_save.done():
            self._saved(self._pending_save)
        while not self._alerts.empty():
            self._alert(self._alerts.get())
        crawler = self.session.crawler
        if crawler is not None and self.phase.crawling:
            if crawler.state not in ACTIVE_STATES and crawler.join(0):
                self._finished(crawler.reason)
            elif crawler.state == CrawlState.STOPPING and self.phase is not Phase.STOPPING:
                self._set_phase(Phase.STOPPING)  # the engine stopped itself (max pages, memory)
        self.polled.emit()

    def close(self) -> None:
        """No more polling, and no history save: closing ends the session's writer."""
        self._closed = True
        self.timer.stop()
        self._end_observing()

    def _site_ready(self, future: Future[str]) -> None:
        self._pending_site = None
        try:
            url = future.result()
        except Exception as exc:
            log.exception("the embedded test site did not start")
            self._end_observing()
            self._set_phase(Phase.IDLE)
            self.failed.emit(f"The embedded test site did not start:\n{exc}")
            return
        self.launch(self.controls.settings(start_url=url))

    def _finished(self, reason: str) -> None:
        self.bridge.detach()
        self._set_phase(Phase.FINISHED)
        self.marker.emit(f"Done: {reason}" if reason else "Done")
        observe = self._end_observing()
        if not self._closed:
            details, files = (observe.details(), observe.dump_files()) if observe else ({}, [])
            self._pending_save = self.session.save_crawl(details, files)
        log.info("crawl ended: %s", reason or "finished")

    def _saved(self, future: Future[RunRecord]) -> None:
        self._pending_save = None
        try:
            future.result()
        except Exception:
            log.exception("could not save the crawl to the history")
            return
        self.saved.emit()

    # -- observability ----------------------------------------------------------------------

    def _observe_crawl(self) -> bool:
        """Bind the metrics port and arm the detectors for the next crawl; False (and
        ``failed``) when the port cannot be served."""
        self._end_observing()
        options = self.controls.observe.options()
        observe = Observability(
            metrics_port=options.metrics_port,
            metrics_bind=BIND,
            hang_dump_after=options.hang_dump_after,
            history=False,  # the session saves the run, with this one's details
            on_hang=self._alerts.put,
            on_growth=self._alerts.put,
            warn_growth=True,
        )
        try:
            observe.start()
        except MetricsError as exc:
            self.controls.observe.show_error(str(exc))
            self.failed.emit(f"Could not start the crawl: {exc}")
            return False
        self._observe = observe
        if observe.server is not None:
            self.message.emit(f"Serving Prometheus metrics at {observe.server.url}")
        return True

    def _end_observing(self) -> Observability | None:
        observe, self._observe = self._observe, None
        if observe is not None:
            observe.close()
        return observe

    def _alert(self, alert: HangReport | GrowthWarning) -> None:
        """A hang or a growth warning: a marker on the charts and the status bar's message
        (the observer logged the whole text)."""
        if isinstance(alert, HangReport):
            self.marker.emit(f"Hang: no page for {alert.stalled_s:.1f} s")
            self.message.emit(
                f"Hang: no page for {alert.stalled_s:.1f} s while {alert.pending} "
                "(thread dump in the Log)"
            )
        else:
            grown = alert.grown_bytes / 1_048_576
            self.marker.emit(f"Memory +{grown:,.1f} MiB")
            self.message.emit(
                f"Memory growth: traced memory grew {grown:,.1f} MiB in {alert.over_s:.1f} s "
                "(top growing sites in the Log)"
            )

    # -- the phase and what follows it ------------------------------------------------------

    def _set_phase(self, phase: Phase) -> None:
        self.phase = phase
        self.controls.set_running(phase.active)
        self.refresh_actions()
        self.phaseChanged.emit(phase)

    def refresh_actions(self) -> None:
        phase = self.phase
        valid = self.controls.error is None
        idle = phase is Phase.IDLE or phase is Phase.FINISHED
        self.start_action.setEnabled(valid and idle and not self._blocked())
        self.pause_action.setEnabled(phase.steerable)
        paused = phase is Phase.PAUSED
        self.pause_action.setText("Resume" if paused else "Pause")
        sp = QStyle.StandardPixmap
        self.pause_action.setIcon(standard_icon(sp.SP_MediaPlay if paused else sp.SP_MediaPause))
        self.stop_action.setEnabled(phase.crawling)
        self.stop_action.setText("Stop now" if phase is Phase.STOPPING else "Stop")
