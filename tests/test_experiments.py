"""Each pitfall experiment, at a small scale, measures what its claim is about.

Thresholds are directional with wide margins (a busy 2-core box must pass them); exact figures
belong in the CLI output, not here.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import threading
import time

import pytest

from core.affinity import crawl_cpu
from core.events import EventStream
from core.experiments import EXPERIMENTS, Monitor, MonitorSample, get
from core.experiments.base import Outcome
from core.experiments.cli import add_arguments, format_report, main
from core.experiments.gil_cores import TRIAL_SECONDS
from core.experiments.lock_leak import WORKERS
from core.experiments.producer_consumer import QUEUE_SIZE
from core.experiments.saving import save_comparison
from core.experiments.thread_explosion import POOL_SIZE
from core.experiments.verdict import compare, judge
from core.history import list_runs, load_details, load_metrics


def _ours() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith(("exp-", "experiment-"))]


@pytest.fixture(autouse=True)
def no_threads_left():
    yield
    assert _ours() == []


def both(name: str, scale: float) -> tuple[Outcome, Outcome]:
    experiment = get(name)
    return experiment.run("bad", scale=scale), experiment.run("fixed", scale=scale)


def test_registry_names_claims_and_key_measures():
    assert len(EXPERIMENTS) == 12
    for name, experiment in EXPERIMENTS.items():
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*", name)
        assert experiment.summary
        assert "\n" not in experiment.summary
        assert experiment.claim.endswith(".")
        assert any(m.key for m in experiment.measures)
    with pytest.raises(KeyError, match="known: global-list-leak"):
        get("nope")


def test_leak_grows_and_fix_does_not():
    bad, fixed = both("global-list-leak", 0.1)  # 40 tasks x 64 KiB = 2.5 MiB
    assert bad.values["retained_mib"] > 1.5
    assert fixed.values["retained_mib"] < 0.5
    assert bad.values["retained_items"] == 40
    assert fixed.values["retained_items"] == 0


def test_race_loses_updates_and_lock_does_not():
    bad, fixed = both("counter-race", 0.2)
    assert bad.values["lost_updates"] > 0
    assert fixed.values["lost_updates"] == 0
    assert fixed.values["plain_lost_updates"] == 0


def test_raw_threads_peak_far_above_the_pool():
    bad, fixed = both("thread-explosion", 0.1)  # 100 tasks
    assert fixed.values["peak_threads"] <= POOL_SIZE
    assert bad.values["peak_threads"] > POOL_SIZE


def test_lock_without_finally_deadlock_is_detected_and_ends():
    bad, fixed = both("lock-without-finally", 0.2)  # 5 items per worker
    assert bad.values["stuck_threads"] >= 1
    assert bad.values["threads_left"] == 0
    assert bad.values["tasks_completed"] < WORKERS * 5 - 1
    assert any("stuck: exp-lock-" in note for note in bad.notes)
    assert fixed.values["stuck_threads"] == 0
    assert fixed.values["tasks_completed"] == WORKERS * 5 - 1


def test_busy_wait_burns_cpu_and_event_wait_does_not():
    bad, fixed = both("busy-wait", 0.1)  # 0.1 s wait
    assert bad.values["waiter_cpu_s"] > 0.02
    assert bad.values["waiter_cpu_s"] > 3 * fixed.values["waiter_cpu_s"]


def test_producer_consumer_loses_nothing_and_queue_bounds_backlog():
    bad, fixed = both("producer-consumer", 0.1)
    assert bad.values["lost_items"] == 0
    assert fixed.values["lost_items"] == 0
    assert fixed.values["max_backlog"] <= QUEUE_SIZE


def test_fine_locks_overlap_io_and_batching_takes_fewer_locks():
    bad, fixed = both("lock-granularity", 0.1)
    assert fixed.values["io_ops_per_s"] > 1.5 * bad.values["io_ops_per_s"]
    assert fixed.values["lock_acquisitions"] * 10 < bad.values["lock_acquisitions"]


def test_weak_cache_and_generator_hold_less_memory():
    bad, fixed = both("cache-and-generators", 0.1)
    assert bad.values["cache_retained_mib"] > 10 * fixed.values["cache_retained_mib"]
    assert bad.values["cache_entries"] > fixed.values["cache_entries"]
    assert bad.values["pipeline_peak_mib"] > 10 * fixed.values["pipeline_peak_mib"]


def test_sessions_complete_every_request_and_close_their_server():
    bad, fixed = both("shared-session", 0.1)  # 16 threads x 6 requests
    for outcome in (bad, fixed):
        assert outcome.values["requests"] == 96
        assert outcome.values["errors"] == 0
        assert outcome.values["connections_opened"] >= 1


@pytest.mark.skipif(crawl_cpu(True) is None, reason="the engine cannot pin threads here")
def test_gil_cores_crawls_both_ways_and_pins_only_the_fixed_one():
    comparison = compare(get("gil-cores"), scale=0.05, trials=2)  # 0.5 s per run
    for variant in ("bad", "fixed"):
        for outcome in comparison.outcomes[variant]:
            assert outcome.values["pages"] > 0
            assert outcome.values["cpu_ms_per_page"] > 0
            assert max(s.values["pages"] for s in outcome.samples if "pages" in s.values) > 0
    cores = {v: comparison.stat(v, "crawl_cores") for v in ("bad", "fixed")}
    assert cores["bad"].mean == len(os.sched_getaffinity(0)) >= 2  # read from the threads
    assert cores["fixed"].mean == 1
    assert cores["fixed"].stdev == 0
    assert [f.measure for f in comparison.findings] == ["pages_per_s", "cpu_ms_per_page"]
    assert comparison.verdict in {"holds", "contradicted", "mixed", "not significant"}
    assert "Verdict: " in format_report(comparison)
    assert not [t for t in threading.enumerate() if t.name.startswith("crawl-")]


def test_gil_cores_stops_within_its_time_box():
    stop = threading.Event()
    stopped_at: list[float] = []

    def stop_once_crawling(event: object) -> None:
        if isinstance(event, MonitorSample) and "pages" in event.values and not stopped_at:
            stopped_at.append(time.monotonic())  # the crawl has started
            stop.set()

    monitor = Monitor()
    monitor.add_listener(stop_once_crawling)
    outcome = get("gil-cores").run("fixed", scale=1.0, monitor=monitor, stop=stop)
    took = time.monotonic() - stopped_at[0]
    assert outcome.stopped
    assert took < TRIAL_SECONDS / 2, f"ended {took:.2f} s after stop"  # not at the box's end


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs Linux affinity")
def test_gil_cores_on_one_cpu_says_so_and_claims_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("THREADSCOPE_DATA_DIR", str(tmp_path))
    usable = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(usable)})  # this thread, and what it starts, on one CPU
    try:
        comparison = compare(get("gil-cores"), scale=0.05, trials=3)
    finally:
        os.sched_setaffinity(0, usable)
    assert comparison.verdict == "unavailable"
    assert not comparison.stopped
    assert comparison.outcomes == {"bad": (), "fixed": ()}  # nothing ran
    assert len(comparison.findings) == 2
    assert all("only one CPU" in f.text for f in comparison.findings)
    assert "Verdict: unavailable.\n- crawled: not measured: pin_workers cannot pin" in (
        format_report(comparison)
    )
    data = comparison.as_dict()
    assert data["verdict"] == "unavailable"
    assert data["trials"] == {"bad": [], "fixed": []}
    assert all(set(m) == {"name", "label", "unit", "key", "better"} for m in data["measures"])
    assert load_details(save_comparison(comparison).id)["verdict"] == "unavailable"


def test_stop_ends_a_run_early():
    stop = threading.Event()
    monitor = Monitor()
    monitor.add_listener(lambda event: stop.set())  # stop at the first sample
    outcome = get("thread-explosion").run("fixed", scale=1.0, monitor=monitor, stop=stop)
    assert outcome.stopped
    assert outcome.duration_s < 2.5  # a full run takes ~3 s


def test_monitor_streams_samples_with_probes():
    stream = EventStream()
    subscription = stream.subscribe()
    seen: list[MonitorSample] = []
    monitor = Monitor(interval=0.02, capacity=5, events=stream)
    monitor.add_listener(seen.append)
    outcome = get("busy-wait").run("fixed", scale=0.2, monitor=monitor)
    events = subscription.drain()
    assert events
    assert all(isinstance(e, MonitorSample) for e in events)
    assert {"py_threads", "rss_mib", "cpu_percent", "bystander_ops"} <= events[-1].values.keys()
    assert events[-1].experiment == "busy-wait"
    assert events[-1].variant == "fixed"
    assert len(seen) == len(events) > 5
    assert len(outcome.samples) == 5  # the ring buffer keeps the newest `capacity`


def _outcome(variant: str, value: float) -> Outcome:
    return Outcome("counter-race", variant, 1.0, {"lost_updates": value}, 0.1, False)


@pytest.mark.parametrize(
    ("bad", "fixed", "finding"),
    [
        ([100, 110, 90], [0, 0, 0], "holds"),
        ([0, 0, 0], [100, 110, 90], "contradicted"),
        ([100, 10, 190], [90, 120, 60], "not significant"),
        ([100], [0], "not significant"),
        ([0, 0], [0, 0], "not significant"),
    ],
)
def test_judge_separates_effects_from_noise(bad, fixed, finding):
    outcomes = {
        "bad": tuple(_outcome("bad", v) for v in bad),
        "fixed": tuple(_outcome("fixed", v) for v in fixed),
    }
    comparison = judge(get("counter-race"), outcomes)
    assert [f.finding for f in comparison.findings] == [finding]
    assert comparison.verdict == finding


def test_compare_saves_to_history(tmp_path, monkeypatch):
    monkeypatch.setenv("THREADSCOPE_DATA_DIR", str(tmp_path))
    comparison = compare(get("counter-race"), scale=0.05, trials=2)
    assert comparison.verdict in {"holds", "not significant"}
    report = format_report(comparison)
    assert "Claim:" in report
    assert "Verdict:" in report
    record = save_comparison(comparison)
    assert [r.id for r in list_runs()] == [record.id]
    assert record.summary.extra["fixed.lost_updates"] == 0
    assert set(load_metrics(record.id)["variant"]) == {0.0, 1.0}
    assert load_details(record.id)["experiment"] == "counter-race"


def _cli(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return main(parser.parse_args(argv))


def test_cli_lists_one_line_per_experiment(capsys):
    assert _cli("--list") == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == list(EXPERIMENTS)


def test_cli_json_and_usage_errors(capsys):
    assert _cli("counter-race", "--scale", "0.05", "--trials", "1", "--json", "--no-save") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["experiment"] == "counter-race"
    assert data["run_id"] is None
    assert data["verdict"] == "not significant"  # one trial cannot show spread
    assert _cli("no-such-thing") == 2
    assert _cli() == 2
