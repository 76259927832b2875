"""Run one experiment comparison on a plain Python thread, reporting through an event stream.

No Qt here: the thread runs ``core.experiments.compare`` under a :class:`Monitor` that
publishes its samples into an :class:`EventStream`; each finished variant and the end of the
run (the result, the saved history record, or the error) go into the same stream, in order
(``VariantFinished`` and ``RunEnded``, declared in :mod:`core.events`). The panel drains it
on the GUI thread with a :class:`gui.pump.Pump`, as :mod:`gui.bridge` does for crawls.
"""

from __future__ import annotations

import logging
import threading

from core.events import EventStream, RunEnded, Subscription, VariantFinished
from core.experiments import Experiment, Monitor, compare
from core.experiments.saving import save_comparison

log = logging.getLogger(__name__)

THREAD_NAME = "experiment-runner"
SUBSCRIPTION_MAXLEN = 50_000  # ~10 samples/s; far more than a run produces between ticks


class ExperimentRunner:
    """One run at a time; :meth:`stop` asks it to end, :meth:`join` waits for the thread."""

    def __init__(self) -> None:
        self.events = EventStream()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, experiment: Experiment, scale: float, trials: int) -> Subscription:
        """Start a run; read its events from the returned subscription."""
        if self.running:
            raise RuntimeError("an experiment is already running")
        self._stop = threading.Event()
        subscription = self.events.subscribe(SUBSCRIPTION_MAXLEN)
        self._thread = threading.Thread(
            target=self._run, args=(experiment, scale, trials, self._stop), name=THREAD_NAME
        )
        self._thread.start()
        return subscription

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> bool:
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True

    def _run(
        self, experiment: Experiment, scale: float, trials: int, stop: threading.Event
    ) -> None:
        publish = self.events.publish
        monitor = Monitor(events=self.events)
        try:
            result = compare(
                experiment,
                scale=scale,
                trials=trials,
                monitor=monitor,
                stop=stop,
                on_outcome=lambda outcome: publish(VariantFinished(outcome=outcome)),
            )
        except Exception as exc:  # the panel shows it; the thread must end either way
            log.exception("experiment %s failed", experiment.name)
            publish(RunEnded(error=f"{type(exc).__name__}: {exc}"))
            return
        record_id = error = None
        if not result.stopped:
            try:
                record_id = save_comparison(result).id
            except Exception as exc:
                log.exception("could not save the %s run to the history", experiment.name)
                error = f"not saved to the history: {type(exc).__name__}: {exc}"
        publish(RunEnded(result=result, record_id=record_id, error=error))
