"""A real Prometheus server (Debian package ``prometheus``) scrapes a crawl of the embedded
site, and a program under ``threadscope run`` with contended locks, every second; the series
are read back through its HTTP API (``/api/v1/query``).

Where the binary is missing and we are root with apt-get (CI), the fixture installs it
(``apt-get install prometheus``: ~45 s once, including ``apt-get update``; the package's
service is not started without systemd, and we never use it: the test runs its own server on
a free loopback port with a throw-away config and storage). Elsewhere it skips, saying why.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.engine import Crawler
from core.observe.options import Observability
from core.sampler import MetricsSampler
from core.settings import CrawlSettings
from tests.conftest import SITE_PAGES, wait_until
from tests.test_agent import announced, threadscope
from tests.test_observe_metrics import dashboard_queries
from tests.test_observe_watched import CONTENDED, HOLD_S, ROUNDS, program
from tests.test_watch_observe import metrics_url

INSTALL_TIMEOUT_S = 600


def _install() -> str:
    """Install the Debian package as root (``apt-get update`` only when the first try fails);
    the binary's path, or apt-get's last error line."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "prometheus"]
    error = ""
    for command in (install, ["apt-get", "update", "-q"], install):
        done = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S
        )
        if command is install and done.returncode == 0:
            break
        error = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
    return shutil.which("prometheus") or error


@pytest.fixture(scope="session")
def prometheus_binary() -> str:
    found = shutil.which("prometheus")
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip("no prometheus binary, and not root with apt-get to install the package")
    installed = _install()
    if not Path(installed).is_file():
        pytest.skip(f"apt-get install prometheus failed: {installed}")
    return installed


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Prometheus:
    """One Prometheus process scraping ``target`` every second, on a free loopback port."""

    def __init__(self, binary: str, target: str, folder: Path) -> None:
        config = folder / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            "scrape_configs:\n  - job_name: threadscope\n"
            f"    static_configs:\n      - targets: ['{target}']\n",
            encoding="utf-8",
        )
        self.url = f"http://127.0.0.1:{_free_port()}"
        self.log = folder / "prometheus.log"
        with open(self.log, "w", encoding="utf-8") as log:
            self.process = subprocess.Popen(
                [
                    binary,
                    f"--config.file={config}",
                    f"--web.listen-address={self.url.removeprefix('http://')}",
                    f"--storage.tsdb.path={folder / 'data'}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"prometheus exited: {self.log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def query(self, expr: str) -> list[dict[str, Any]]:
        url = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        with urllib.request.urlopen(url, timeout=5) as response:
            answer = json.loads(response.read())
        assert answer["status"] == "success", answer
        result: list[dict[str, Any]] = answer["data"]["result"]
        return result

    def value(self, expr: str) -> float | None:
        result = self.query(expr)
        return float(result[0]["value"][1]) if result else None

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


@pytest.fixture
def observed() -> Iterator[Observability]:
    with Observability(metrics_port=0, history=False) as observe:
        yield observe


@pytest.fixture
def prometheus(prometheus_binary, observed, tmp_path) -> Iterator[Prometheus]:
    assert observed.server is not None
    server = Prometheus(prometheus_binary, f"127.0.0.1:{observed.server.port}", tmp_path)
    try:
        wait_until(server.ready, timeout=30)
        wait_until(lambda: server.value('up{job="threadscope"}') == 1, timeout=15)
        yield server
    finally:
        server.close()


@pytest.mark.timeout(INSTALL_TIMEOUT_S + 120)  # the first use may install the package
def test_prometheus_scrapes_a_crawl_and_serves_its_series(site, observed, prometheus):
    crawler = Crawler(CrawlSettings((site.url,), threads=4))
    sampler = MetricsSampler(source=crawler)
    observed.watch_crawl(crawler, sampler)
    sampler.start()
    crawler.start()
    try:
        assert crawler.join(30)
    finally:
        sampler.stop()
        sampler.join(2)
    assert crawler.stats().pages == SITE_PAGES

    wait_until(lambda: prometheus.value("threadscope_pages_total") == SITE_PAGES, timeout=15)
    assert prometheus.value('threadscope_host_pages_total{host="127.0.0.1"}') == SITE_PAGES
    assert prometheus.value("threadscope_bytes_total") == crawler.stats().bytes
    assert prometheus.value("threadscope_frontier_urls") == 0
    assert (prometheus.value("process_resident_memory_bytes") or 0) > 10 * 1_048_576
    threads = {
        r["metric"]["thread"] for r in prometheus.query("threadscope_thread_cpu_seconds_total")
    }
    assert {"MainThread", "threadscope-observe", "threadscope-metrics"} <= threads
    states = {r["metric"]["state"] for r in prometheus.query("threadscope_threads")}
    assert "other" in states
    # Every dashboard query is valid PromQL over these series, and the main panels have data.
    for expr in dashboard_queries():
        if expr.startswith("label_values("):
            continue  # a Grafana template function, not PromQL
        promql = expr.replace("$__rate_interval", "5s").replace("$instance", ".*")
        prometheus.query(promql)
    assert prometheus.query('threadscope_threads{instance=~".*"}')
    assert prometheus.query('rate(process_cpu_seconds_total{instance=~".*"}[5s])')


@pytest.mark.timeout(INSTALL_TIMEOUT_S + 120)
def test_prometheus_scrapes_the_lock_waits_of_a_run_program(prometheus_binary, tmp_path):
    marker = tmp_path / "stop"
    run = threadscope(
        "run", "--headless", "--no-history", "--metrics-port", "0", "--", sys.executable,
        program(tmp_path, "contended.py", CONTENDED), str(ROUNDS), str(HOLD_S), str(marker),
    )  # fmt: skip
    try:
        target = urllib.parse.urlsplit(metrics_url(run.stderr)).netloc
        announced(run.stdout, {"MainThread"})
        (tmp_path / "prometheus").mkdir()
        server = Prometheus(prometheus_binary, target, tmp_path / "prometheus")
        try:
            wait_until(server.ready, timeout=30)
            rlock = '{kind="RLock"}'
            wait_until(
                lambda: server.value(f"threadscope_lock_wait_seconds_count{rlock}") == ROUNDS,
                timeout=30,
            )
            le = 'kind="RLock",le='
            assert server.value(f'threadscope_lock_wait_seconds_bucket{{{le}"0.05"}}') == 0
            assert server.value(f'threadscope_lock_wait_seconds_bucket{{{le}"+Inf"}}') == ROUNDS
            assert (server.value(f"threadscope_lock_wait_seconds_sum{rlock}") or 0) > 0.05 * ROUNDS
            median = server.value(
                f"histogram_quantile(0.5, threadscope_lock_wait_seconds_bucket{rlock})"
            )
            assert median is not None
            assert 0.05 < median <= 0.5  # each waited about HOLD_S
        finally:
            server.close()
    finally:
        marker.touch()
        run.communicate(timeout=30)
    assert run.returncode == 0
