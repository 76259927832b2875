"""The window's side of issue 14: the metrics port from the form (a port in use fails Start
with a clear error before anything starts), the hang detector on a window crawl (one marker,
one status-bar message, the dump kept with the saved run), the group's persistence.
Real crawls of the embedded site over loopback, a real /metrics scrape."""

from __future__ import annotations

import logging
import socket
import threading
import urllib.error
import urllib.request

import pytest

pytest.importorskip("pytestqt")

from test_crawl_controller import rig  # noqa: F401 (the fixture)
from test_observe_memory import tracing  # noqa: F401 (the fixture)
from test_observe_metrics import scrape

from core.history import list_runs, load_details
from gui.crawl_controller import Phase
from gui.observe_controls import DEFAULT_HANG_S, ObservabilityGroup


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_port_in_use_is_a_clear_error_and_nothing_starts(qtbot, rig, site) -> None:  # noqa: F811
    rig.controls.url_radio.setChecked(True)
    rig.controls.url.setText(site.url)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        rig.controls.observe.metrics.setChecked(True)
        rig.controls.observe.port.setValue(port)
        with qtbot.waitSignal(rig.crawl.failed, timeout=5_000) as failed:
            rig.crawl.start_action.trigger()
    assert failed.args[0] == (
        f"Could not start the crawl: cannot serve metrics on 127.0.0.1:{port}: "
        "address already in use"
    )
    assert rig.crawl.phase is Phase.IDLE
    assert rig.session.crawler is None  # nothing started
    assert rig.markers == []
    error = rig.controls.observe.error
    assert error.isVisibleTo(rig.controls)
    assert "address already in use" in error.text()
    rig.controls.observe.port.setValue(free_port())  # a new port clears the error
    assert not error.isVisibleTo(rig.controls)


def test_the_form_port_serves_the_window_crawl_and_says_where(qtbot, rig, site, caplog) -> None:  # noqa: F811
    port = free_port()
    rig.site_target(threads=2)
    rig.controls.observe.metrics.setChecked(True)
    rig.controls.observe.port.setValue(port)
    messages: list[str] = []
    rig.crawl.message.connect(messages.append)
    with caplog.at_level(logging.INFO, logger="core.observe.options"):
        rig.start_running(qtbot)
    url = f"http://127.0.0.1:{port}/metrics"
    assert f"metrics: serving Prometheus metrics at {url}" in caplog.messages
    assert f"Serving Prometheus metrics at {url}" in messages
    _type, samples = scrape(url)
    assert samples["threadscope_pages_total"][()] > 0
    assert sum(samples["threadscope_threads"].values()) >= 2  # the workers, at least
    assert samples["process_resident_memory_bytes"][()] > 10_000_000
    rig.stop_and_wait_saved(qtbot)
    with pytest.raises(urllib.error.URLError):  # the endpoint lives as long as the crawl
        urllib.request.urlopen(url, timeout=2)


def test_a_hung_window_crawl_gets_one_marker_and_keeps_its_dump(qtbot, rig, trap_site) -> None:  # noqa: F811
    hung_crawl(rig, trap_site, "hang")
    rig.controls.observe.hang.setValue(0.5)
    messages: list[str] = []
    rig.crawl.message.connect(messages.append)
    rig.crawl.start_action.trigger()
    qtbot.waitUntil(lambda: any(m.startswith("Hang") for m in rig.markers), timeout=10_000)
    checks = rig.crawl._observe.hang.checks  # type: ignore[union-attr]
    qtbot.waitUntil(  # a second and a half more: still one
        lambda: rig.crawl._observe.hang.checks >= checks + 30,  # type: ignore[union-attr]
        timeout=10_000,
    )
    rig.crawl.poll()
    (hang,) = [m for m in rig.markers if m.startswith("Hang")]
    assert float(hang.removeprefix("Hang: no page for ").removesuffix(" s")) >= 0.5
    (said,) = [m for m in messages if m.startswith("Hang")]
    assert "requests in flight: 1" in said
    assert said.endswith("(thread dump in the Log)")
    with qtbot.waitSignal(rig.crawl.saved, timeout=15_000):
        rig.crawl.stop_action.trigger()
        rig.crawl.stop_action.trigger()  # abandon the request that never answers
    (run,) = list_runs()
    assert [f.name for f in run.path.iterdir() if f.name.startswith("hang-")]
    details = load_details(run.id)
    assert details is not None
    assert len(details["hangs"]) == 1
    assert details["worker_threads"] == [1]


def hung_crawl(rig, trap_site, tag: str) -> None:  # noqa: F811
    controls = rig.controls
    controls.url_radio.setChecked(True)
    controls.url.setText(f"{trap_site.url}trap/never-answer?window={tag}")
    controls.obey_robots.setChecked(False)
    controls.fields["threads"].setValue(1)


@pytest.mark.usefixtures("tracing")
def test_memory_growth_in_a_window_crawl_is_a_marker_and_a_message(qtbot, rig, trap_site) -> None:  # noqa: F811
    """tracemalloc on (as the Diagnostics page turns it on), a thread that leaks 2 MiB every
    20 ms while a crawl runs: one "Memory +" marker, the message, no hang marker (off)."""
    hung_crawl(rig, trap_site, "growth")
    rig.controls.observe.hang.setValue(0.0)
    messages: list[str] = []
    rig.crawl.message.connect(messages.append)
    rig.crawl.start_action.trigger()
    qtbot.waitUntil(lambda: rig.crawl.phase is Phase.RUNNING, timeout=10_000)
    leak: list[bytes] = []
    warned = threading.Event()

    def grow() -> None:
        for _ in range(250):  # at most 500 MiB, 5 s
            if warned.wait(0.02):
                return
            leak.append(b"x" * (2 * 1024 * 1024))

    grower = threading.Thread(target=grow, name="test-leak")
    grower.start()
    try:
        qtbot.waitUntil(lambda: any(m.startswith("Memory +") for m in rig.markers), timeout=10_000)
    finally:
        warned.set()
        grower.join()
        leak.clear()
    (said,) = [m for m in messages if m.startswith("Memory growth")]
    assert said.endswith("(top growing sites in the Log)")
    assert not any(m.startswith("Hang") for m in rig.markers)
    with qtbot.waitSignal(rig.crawl.saved, timeout=15_000):
        rig.crawl.stop_action.trigger()
        rig.crawl.stop_action.trigger()
    details = load_details(list_runs()[0].id)
    assert details is not None
    assert len(details["memory_warnings"]) >= 1


def test_the_group_round_trips_its_values(qtbot) -> None:
    group = ObservabilityGroup()
    qtbot.addWidget(group)
    assert group.options().metrics_port is None
    assert group.options().hang_dump_after == DEFAULT_HANG_S
    assert not group.port.isEnabled()
    group.metrics.setChecked(True)
    group.port.setValue(9999)
    group.hang.setValue(0.0)
    assert group.options().metrics_port == 9999
    assert group.options().hang_dump_after is None  # 0: off
    assert group.hang.text() == "off"
    other = ObservabilityGroup()
    qtbot.addWidget(other)
    other.set_values({k: str(v).lower() for k, v in group.values().items()})  # as INI gives
    assert other.options() == group.options()
    group.set_running(True)
    assert not group.port.isEnabled()
    assert not group.metrics.isEnabled()
