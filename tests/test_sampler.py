"""The metrics sampler: ring-buffer bounds, rates from deltas, source switching, CSV, thread."""

from __future__ import annotations

import csv
import threading

import pytest

from core.events import WorkerState
from core.sampler import KEYS, METRICS, MetricsSampler
from core.stats import CrawlStats


class FakeSource:
    """A stats source whose counters the test sets between ticks (no network needed)."""

    def __init__(self) -> None:
        self.current = CrawlStats()

    def stats(self) -> CrawlStats:
        return self.current


def test_metric_specs_cover_the_documented_keys():
    documented = {
        "rss_mib", "cpu_percent", "os_threads", "py_threads", "busy_workers", "workers_idle",
        "workers_fetching", "workers_parsing", "workers_waiting", "frontier", "in_flight",
        "pages", "pages_per_s", "bytes_per_s", "errors", "errors_per_s", "visited",
    }  # fmt: skip
    assert documented <= set(KEYS)
    assert all(spec.label and spec.description for spec in METRICS)


def test_ring_buffer_is_bounded_and_ordered():
    sampler = MetricsSampler(capacity=5)
    for _ in range(12):
        sampler.sample_once()
    times = sampler.times()
    assert len(times) == 5
    assert len(sampler) == 5
    assert list(times) == sorted(times)
    assert len(sampler.series("rss_mib")) == 5
    assert sampler.series("rss_mib").min() > 0
    assert sampler._data.shape[1] == 5  # storage never grows


def test_rates_come_from_deltas():
    source = FakeSource()
    sampler = MetricsSampler(source=source)
    sampler.sample_once()
    source.current = CrawlStats(
        pages=50,
        bytes=4000,
        errors=5,
        workers_by_state={WorkerState.FETCHING: 3, WorkerState.IDLE: 1, WorkerState.WAITING: 2},
    )
    m = sampler.sample_once()
    t0, t1 = sampler.times()
    assert m["pages_per_s"] == pytest.approx(50 / (t1 - t0))
    assert m["bytes_per_s"] == pytest.approx(4000 / (t1 - t0))
    assert m["errors_per_s"] == pytest.approx(5 / (t1 - t0))
    assert m["busy_workers"] == 5
    assert m["workers_idle"] == 1
    assert m["workers_fetching"] == 3
    sampler.set_source(FakeSource())  # a new crawl: counters restart, rates never negative
    m = sampler.sample_once()
    assert m["pages_per_s"] == 0
    assert m["pages"] == 0
    assert sampler.latest() is m


def test_unknown_key_names_the_known_ones():
    with pytest.raises(KeyError, match="rss_mib"):
        MetricsSampler().series("nope")


def test_csv_has_header_and_one_row_per_tick(tmp_path):
    sampler = MetricsSampler(capacity=3)
    for _ in range(4):
        sampler.sample_once()
    path = tmp_path / "m.csv"
    sampler.to_csv(str(path))
    with path.open() as file:
        rows = list(csv.reader(file))
    assert rows[0] == ["t", *KEYS]
    assert len(rows) == 4
    assert float(rows[1][KEYS.index("rss_mib") + 1]) > 0


def test_thread_runs_named_and_stops_at_once():
    sampler = MetricsSampler(interval=30.0)  # a long interval: stop must not wait it out
    sampler.start()
    assert any(t.name == "threadscope-sampler" for t in threading.enumerate())
    sampler.stop()
    assert sampler.join(2.0)
    assert len(sampler) >= 1
    assert sampler.latest()["py_threads"] >= 1
    assert sampler.cost_ms() >= 0


def test_rates_over_a_one_second_window_are_smooth_and_counters_stay_cumulative():
    """Pages finishing in bursts (0, 100, 0, 100, … per 100 ms tick) are a steady 500/s."""
    now = [0.0]
    source = FakeSource()
    sampler = MetricsSampler(source=source, clock=lambda: now[0])
    pages = 0
    for tick in range(60):
        now[0] += 0.1
        pages += 100 * (tick % 2)
        source.current = CrawlStats(pages=pages, errors=pages // 10)
        sampler.sample_once()
    rates = sampler.series("pages_per_s")[15:]  # past the first second
    assert rates.mean() == pytest.approx(500, rel=0.1)
    assert rates.std() < 0.1 * rates.mean()  # over 100 ms deltas it would be 0 and 1000
    assert sampler.series("errors_per_s")[15:].mean() == pytest.approx(50, rel=0.1)
    assert sampler.series("pages")[-1] == pages  # the counter itself is not averaged
    assert sampler.times()[-1] == pytest.approx(6.0)
