"""A watched program's hang dumps, memory-growth warnings and metrics endpoint, for its window.

The window runs ``core.observe``'s ``Observability`` beside its feed, as ``threadscope run
--headless`` does: the feed hands :meth:`ProgramAlerts.offer` each sample on its reader thread
and calls :meth:`ProgramAlerts.watch` once the program's pid (and agent) are known. A hang (no
thread moving while one is not idle by design) and, while tracemalloc traces in
the program (``--trace-memory`` or the Memory page), traced memory that keeps growing are
raised on the ``threadscope-observe`` thread and go into the feed's mailbox: the window gets
them on the GUI thread like samples. No Qt here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from core.events import Mailbox
from core.observe.hang import HangReport
from core.observe.memgrowth import GrowthWarning
from core.observe.metrics import MetricsError
from core.observe.options import Observability
from core.observe.watched import WatchedProgram
from core.watch.client import AgentClient
from core.watch.errors import WatchError
from core.watch.model import Sample

Alert = HangReport | GrowthWarning


@dataclass(frozen=True, slots=True)
class WatchObserve:
    """What to observe: ``hang_dump_after`` seconds (None: off), a Prometheus port (None:
    none) and the address it listens on."""

    hang_dump_after: float | None
    metrics_port: int | None = None
    metrics_bind: str = "127.0.0.1"


class ProgramAlerts:
    """See the module docstring."""

    def __init__(self, options: WatchObserve, mailbox: Mailbox[Any]) -> None:
        self._mailbox = mailbox
        self.observe = Observability(
            metrics_port=options.metrics_port,
            metrics_bind=options.metrics_bind,
            hang_dump_after=options.hang_dump_after,
            history=False,  # the window saves the run, with these details
            on_hang=self._raise,
            on_growth=self._raise,
            watched=True,
            warn_growth=True,
        )
        self.program: WatchedProgram | None = None

    def _raise(self, alert: Alert) -> None:
        """On ``threadscope-observe``: to the window through the feed's mailbox."""
        self._mailbox.offer(alert)

    def start(self) -> None:
        """Bind the metrics port, before the program starts (``WatchError`` when taken)."""
        try:
            self.observe.start()
        except MetricsError as exc:
            raise WatchError(str(exc)) from None

    def watch(self, pid: int, client: AgentClient | None) -> None:
        """Start the detectors on ``pid``; ``client``: its agent, for traced memory and
        lock waits."""
        try:
            program = WatchedProgram(pid)
        except psutil.Error:  # it has ended already: nothing to watch
            return
        self.program = program
        self.observe.watch_program(program, client)

    def offer(self, sample: Sample) -> None:
        """On the feed's reader thread: cheap, never waits."""
        program = self.program
        if program is not None:
            program.offer(sample)

    def close(self) -> None:
        self.observe.close()

    def details(self) -> dict[str, Any]:
        return self.observe.details()

    def dump_files(self) -> list[Path]:
        return self.observe.dump_files()


def alert_texts(alert: Alert) -> tuple[str, str]:
    """A chart marker's label and the status bar's line (the Log gets ``alert.text()``)."""
    if isinstance(alert, HangReport):
        return (
            f"Hang: nothing moved for {alert.stalled_s:.1f} s",
            f"Hang: no thread moved for {alert.stalled_s:.1f} s while {alert.pending} "
            "(thread dump in the Log)",
        )
    grown = alert.grown_bytes / 1_048_576
    return (
        f"Memory +{grown:,.1f} MiB",
        f"Memory growth: traced memory grew {grown:,.1f} MiB in {alert.over_s:.1f} s "
        "(top growing sites in the Log)",
    )
