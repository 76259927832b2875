"""The experiment monitor's listeners: one that raises is logged and breaks nothing."""

from __future__ import annotations

import logging

from core.events import Event, SweepPoint
from core.experiments import Monitor, MonitorSample, get


def test_a_failing_listener_is_logged_once_and_never_raised_into_the_experiment(caplog):
    caplog.set_level(logging.ERROR, logger="core.experiments.monitor")
    monitor = Monitor(interval=0.01)
    failures = []

    def broken(event: Event) -> None:
        failures.append(event)
        raise ValueError("chart exploded")

    got: list[Event] = []
    monitor.add_listener(broken)  # first, so the listener after it depends on the guard
    monitor.add_listener(got.append)
    outcome = get("counter-race").run("fixed", scale=0.05, monitor=monitor)
    assert outcome.values["lost_updates"] == 0
    assert not outcome.stopped
    samples = monitor.samples()
    assert len(samples) >= 2  # the baseline and the last, at least
    assert [e for e in got if isinstance(e, MonitorSample)] == samples  # every one delivered
    assert len(failures) == len(samples)  # the broken one was called every time ...
    assert len(caplog.records) == 1  # ... and logged once, with its traceback
    assert caplog.records[0].exc_info[1].args == ("chart exploded",)
    point = SweepPoint(experiment="x", parameter="threads", x=1, trial=0)
    monitor.publish(point)  # an experiment's own event goes past the broken listener too
    assert got[-1] is point
