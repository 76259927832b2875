"""Experiment 10, the thread-count sweep: a tiny real sweep over loopback, and its analysis."""

from __future__ import annotations

import threading

import pytest

from core.experiments import EXPERIMENTS, Monitor, MonitorSample, SweepPoint, SweepResult, get
from core.experiments.base import Outcome
from core.experiments.cli import format_report
from core.experiments.saving import save_comparison
from core.experiments.thread_sweep import LATENCY_MS, NAME, analyse, thread_counts
from core.experiments.verdict import compare
from core.history import load_details, load_metrics

TINY = 0.03  # 1, 2, 4 threads; 200-page site; 0.5 s per point


def ours() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith(("crawl-", "experiment-"))]


def test_thread_counts_double_up_to_the_scaled_top():
    assert thread_counts(1.0) == [1, 2, 4, 8, 16, 32, 64, 128]
    assert thread_counts(TINY) == [1, 2, 4]


def test_tiny_sweep_grows_under_the_latency_bound_and_streams_points(tmp_path, monkeypatch):
    monkeypatch.setenv("THREADSCOPE_DATA_DIR", str(tmp_path))
    experiment = get(NAME)
    assert experiment in EXPERIMENTS.values()
    assert experiment.sweep is not None
    with pytest.raises(ValueError, match="sweep"):
        experiment.run("bad")
    monitor = Monitor(interval=0.05)
    events = []
    monitor.add_listener(events.append)
    result = compare(experiment, scale=TINY, trials=1, monitor=monitor)
    assert isinstance(result, SweepResult)
    assert not result.stopped
    assert result.xs() == [1, 2, 4]
    rates = [result.stat(x, "pages_per_s").mean for x in result.xs()]
    assert rates[0] > 0
    assert rates[0] < rates[1] < rates[2]
    for x, rate in zip(result.xs(), rates, strict=True):
        assert rate <= 1.05 * x * 1000 / LATENCY_MS  # Little's law cannot be beaten
        assert result.stat(x, "cpu_ms_per_page").mean > 0
        assert result.stat(x, "peak_rss_mib").mean > 0
    points = [e for e in events if isinstance(e, SweepPoint)]
    assert [p.x for p in points] == [1, 2, 4]
    assert points[0].values["pages_per_s"] == rates[0]
    variants = {e.variant for e in events if isinstance(e, MonitorSample)}
    assert variants == {"threads=1", "threads=2", "threads=4"}
    assert result.verdict == "not significant"  # one trial, and no plateau at 4 threads
    report = format_report(result)
    assert "Verdict: not significant." in report
    assert "no plateau" in report
    record = save_comparison(result)
    assert load_details(record.id)["points"][0]["threads"] == 1
    assert set(load_metrics(record.id)["x"]) == {1.0, 2.0, 4.0}
    assert ours() == []


def test_a_stopped_sweep_ends_at_once_and_says_so():
    stop = threading.Event()
    stop.set()
    result = compare(get(NAME), scale=TINY, trials=1, stop=stop)
    assert result.verdict == "stopped"
    assert result.points == ()
    assert ours() == []


def synthetic(rates: dict[int, float], cpu_ms: float, trials: int = 3) -> SweepResult:
    """Outcomes as the sweep would record them, with a little spread between trials."""
    points = []
    for trial in range(trials):
        for x, rate in rates.items():
            wobble = 1 + (trial - 1) * 0.01
            values = {
                "threads": float(x),
                "pages_per_s": rate * wobble,
                "latency_bound": x * 1000 / LATENCY_MS,
                "cpu_bound": 1000 / cpu_ms,
                "server_bound": 5000.0,
                "machine_bound": 1600.0,
                "peak_rss_mib": 50.0 + x / 10,
            }
            points.append(Outcome(NAME, f"threads={x}", 1.0, values, 1.0, False))
    return SweepResult(get(NAME), "threads", tuple(points), "", (), False)


def test_analysis_finds_the_knee_and_the_cpu_bound_that_explains_it():
    # latency-bound growth (45, 90, 180, 360 ...) until the 1 ms/page CPU bound at ~1000/s
    rates = {1: 45, 2: 90, 4: 180, 8: 360, 16: 700, 32: 950, 64: 980, 128: 960}
    verdict, findings = analyse(synthetic(rates, cpu_ms=1.0))
    assert verdict == "holds"
    text = " ".join(findings)
    assert "stopped helping at 32 threads" in text
    assert "crawler's CPU bound" in text
    assert "explains the plateau" in text


def test_analysis_contradicts_a_plateau_far_below_every_bound():
    rates = {1: 45, 2: 90, 4: 120, 8: 125, 16: 124, 32: 126}
    verdict, findings = analyse(synthetic(rates, cpu_ms=1.0))
    assert verdict == "contradicted"
    assert "does not explain the plateau" in " ".join(findings)
