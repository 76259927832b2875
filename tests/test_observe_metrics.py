"""The /metrics endpoint: content after a real crawl, bind address, a port in use, bounded
labels, the lock-wait histogram and the Grafana dashboard's queries."""

from __future__ import annotations

import json
import re
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from core import cli
from core.agent import locks
from core.engine import Crawler
from core.observe.labels import OTHER
from core.observe.metrics import (
    CrawlMetricsSource,
    MetricsServer,
    MetricsSnapshot,
    NoSource,
    ThreadCpu,
    ThreadscopeCollector,
    make_registry,
)
from core.observe.options import Observability
from core.sampler import MetricsSampler
from core.settings import CrawlSettings
from tests.conftest import SITE_PAGES

DASHBOARD = Path(__file__).resolve().parent.parent / "assets" / "grafana" / "threadscope.json"


def scrape(url: str) -> tuple[str, dict[str, dict[tuple[tuple[str, str], ...], float]]]:
    """The content type and every sample as {sample name: {sorted labels: value}}; a counter
    family with no samples yet (no errors) is there as ``name_total: {}``."""
    with urllib.request.urlopen(url, timeout=5) as response:
        content_type = response.headers["Content-Type"]
        text = response.read().decode()
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        if family.type == "counter":
            samples.setdefault(f"{family.name}_total", {})
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return content_type, samples


def watched_crawl(
    settings: CrawlSettings,
) -> tuple[Crawler, MetricsSampler, CrawlMetricsSource]:
    """A crawl to its end with a metrics source attached before it starts (the source tallies
    the crawl's events from then on)."""
    crawler = Crawler(settings)
    sampler = MetricsSampler(source=crawler)
    source = CrawlMetricsSource(crawler, sampler)
    crawler.start()
    assert crawler.join(30)
    sampler.sample_once()
    return crawler, sampler, source


@pytest.fixture
def crawled(site) -> Iterator[dict[str, dict[tuple[tuple[str, str], ...], float]]]:
    """The endpoint's samples after a full crawl of the test site (port 0: any free port),
    tracking locks (still on at the scrape) so that the lock-wait histogram is served too."""
    with locks.tracking():
        *_, source = watched_crawl(CrawlSettings((site.url,), threads=4, track_locks=True))
        server = MetricsServer(make_registry(ThreadscopeCollector(source)), 0)
        server.start()
        try:
            content_type, samples = scrape(server.url)
        finally:
            assert server.stop()
            source.close()
    assert content_type.startswith("text/plain")
    return samples


def test_endpoint_serves_the_crawl_counts_and_the_process_metrics(crawled):
    assert crawled["threadscope_pages_total"][()] == SITE_PAGES
    assert crawled["threadscope_host_pages_total"][(("host", "127.0.0.1"),)] == SITE_PAGES
    assert crawled["threadscope_bytes_total"][()] > SITE_PAGES * 1000
    assert crawled["threadscope_frontier_urls"][()] == 0
    assert crawled["threadscope_in_flight_requests"][()] == 0
    assert crawled["threadscope_errors_total"] == {}  # the plain site has no errors
    assert crawled["threadscope_threads"][(("state", "other"),)] >= 1  # this test's thread
    threads = {dict(k)["thread"] for k in crawled["threadscope_thread_cpu_seconds_total"]}
    assert "MainThread" in threads
    assert crawled["threadscope_thread_cpu_seconds_total"][(("thread", "MainThread"),)] > 0
    assert crawled["threadscope_sampler_cpu_seconds_per_tick"][()] > 0
    assert crawled["process_resident_memory_bytes"][()] > 10 * 1_048_576
    assert crawled["process_cpu_seconds_total"][()] > 0
    assert crawled["process_open_fds"][()] > 0
    kinds = {dict(k)["kind"] for k in crawled["threadscope_lock_wait_seconds_count"]}
    assert {"Lock", "RLock", "Condition"} <= kinds  # tracked: the histogram is served


def test_errors_are_counted_by_kind(trap_site):
    crawler, _, source = watched_crawl(
        CrawlSettings(
            (f"{trap_site.url}trap/status/404", f"{trap_site.url}trap/reset"),
            threads=2,
            max_depth=0,
            retries=0,
        )
    )
    snapshot = source.snapshot()
    source.close()
    assert snapshot is not None
    assert snapshot.errors_by_kind.get("http_404") == 1, snapshot.errors_by_kind
    assert sum(snapshot.errors_by_kind.values()) == crawler.stats().errors


def test_binds_loopback_only_by_default_and_the_address_asked_for():
    server = MetricsServer(make_registry(ThreadscopeCollector(NoSource())), 0)
    server.start()
    other = MetricsServer(make_registry(ThreadscopeCollector(NoSource())), 0, bind="127.0.0.2")
    other.start()
    try:
        assert server._server is not None
        assert other._server is not None
        assert server._server.socket.getsockname()[0] == "127.0.0.1"
        assert other.url == f"http://127.0.0.2:{other.port}/metrics"
        assert "process_resident_memory_bytes" in scrape(other.url)[1]
        with pytest.raises(urllib.error.URLError):  # 127.0.0.2's port is not on 127.0.0.1
            urllib.request.urlopen(f"http://127.0.0.1:{other.port}/metrics", timeout=2)
    finally:
        assert server.stop()
        assert other.stop()


def test_a_port_in_use_is_a_one_line_error_before_the_crawl_starts(capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        status = cli.main(["crawl", "--metrics-port", str(port), "--site-pages", "5"])
    err = capsys.readouterr().err
    assert status == 2
    assert err.strip().splitlines() == [
        f"threadscope crawl: error: cannot serve metrics on 127.0.0.1:{port}: "
        "address already in use"
    ]


def test_the_crawl_command_says_where_it_listens(site, capsys):
    status = cli.main(["crawl", site.url, "--metrics-port", "0", "--quiet", "--no-history"])
    assert status == 0
    err = capsys.readouterr().err
    assert re.search(
        r"^metrics: serving Prometheus metrics at http://127\.0\.0\.1:\d+/metrics$", err, re.M
    ), err


def test_observability_stops_its_server_and_threads():
    with Observability(metrics_port=0) as observe:
        assert observe.server is not None
        url = observe.server.url
        assert "process_resident_memory_bytes" in scrape(url)[1]
        observe.watch(NoSource(), progress=lambda: 0, pending=lambda: "")
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url, timeout=2)
    import threading

    assert not [t for t in threading.enumerate() if t.name.startswith("threadscope-observe")]
    assert not [t for t in threading.enumerate() if t.name == "threadscope-metrics"]


def test_thread_labels_stay_bounded_and_counters_never_go_down():
    """A thousand one-shot names: 64 labels and "other"; exited threads keep their CPU."""
    collector = ThreadscopeCollector(NoSource(), thread_limit=64)
    first = [ThreadCpu(i, f"spawn-{i}", 1.0) for i in range(1000)]
    totals = collector._cpu.update(first)
    assert len(totals) == 65
    assert totals[OTHER] == 936.0
    later = collector._cpu.update([ThreadCpu(5000, "spawn-5000", 0.5)])  # the rest exited
    assert all(later[label] >= totals[label] for label in totals)
    assert later[OTHER] == 936.5


def _waits(counts: list[int], seconds: float, bounds: tuple[float, ...] = (0.01, 0.1, 1.0)):
    """A ``locks.wait_histogram()`` reading with one kind, Lock."""
    return {"bounds": list(bounds), "kinds": {"Lock": {"counts": counts, "sum_s": seconds}}}


class Readings:
    """A MetricsSource handing out the given lock-wait readings, one per scrape."""

    def __init__(self, *readings: object) -> None:
        self.readings = list(readings)

    def snapshot(self) -> MetricsSnapshot:
        return MetricsSnapshot(crawl=False, lock_waits=self.readings.pop(0))


def _histogram(collector: ThreadscopeCollector) -> dict[tuple[str, str | None], float]:
    (family,) = [f for f in collector.collect() if f.name == "threadscope_lock_wait_seconds"]
    assert family.type == "histogram"
    return {(s.name.rsplit("_", 1)[-1], s.labels.get("le")): s.value for s in family.samples}


def test_lock_wait_histogram_is_cumulative_and_never_goes_down():
    collector = ThreadscopeCollector(
        Readings(
            _waits([2, 1, 0, 1], 2.5),  # 2 waits up to 10 ms, 1 up to 0.1 s, 1 above 1 s
            _waits([1, 1, 0, 1], 2.4),  # a count lost under a race (a free-threaded build)
            None,  # the agent did not answer this scrape
            _waits([3, 1, 1, 1], 3.0),
        )
    )
    first = _histogram(collector)
    assert [first[("bucket", le)] for le in ("0.01", "0.1", "1.0", "+Inf")] == [2, 3, 3, 4]
    assert first[("count", None)] == 4
    assert first[("sum", None)] == 2.5
    assert _histogram(collector) == first  # never below what was served
    assert _histogram(collector) == first  # no answer: the last values, no gap
    last = _histogram(collector)
    assert [last[("bucket", le)] for le in ("0.01", "0.1", "1.0", "+Inf")] == [3, 4, 5, 6]
    assert last[("count", None)] == 6
    assert last[("sum", None)] == 3.0


def test_no_lock_tracking_serves_no_lock_wait_histogram():
    collector = ThreadscopeCollector(Readings(None))
    assert "threadscope_lock_wait_seconds" not in {f.name for f in collector.collect()}


def dashboard_queries() -> list[str]:
    model = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    exprs = [t["expr"] for panel in model["panels"] for t in panel["targets"]]
    exprs += [v["query"]["query"] for v in model["templating"]["list"]]
    return exprs


def test_the_dashboard_is_a_grafana_model_over_metrics_the_endpoint_serves(crawled):
    model = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert model["__inputs"][0]["name"] == "DS_PROMETHEUS"
    assert model["__inputs"][0]["pluginId"] == "prometheus"
    ids = [panel["id"] for panel in model["panels"]]
    assert len(ids) == len(set(ids))
    for panel in model["panels"]:
        assert panel["datasource"]["uid"] == "${DS_PROMETHEUS}"
        assert set(panel["gridPos"]) == {"h", "w", "x", "y"}
        assert panel["targets"], panel["title"]
    titles = " ".join(p["title"] for p in model["panels"])
    for wanted in ("Threads by state", "CPU per thread", "Pages/s", "Frontier", "RSS"):
        assert wanted in titles
    served = set(crawled)
    names = {
        n for e in dashboard_queries() for n in re.findall(r"\b(?:threadscope|process)_\w+", e)
    }
    assert names, "no metric names found in the dashboard"
    assert names <= served, (
        f"the dashboard queries metrics the endpoint does not serve: {names - served}"
    )
