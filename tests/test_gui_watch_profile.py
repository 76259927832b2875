"""The watch window's Profile page on real programs run with the agent (offscreen): every
thread sampled, those running before Start too, on 3.11 (the venv) and 3.12 or newer."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_sampling_profile import write_program

from gui.diagnostics.agent_sources import CPU, WALL
from gui.watch_session import LaunchFeed, WatchSession
from gui.watch_window import WatchWindow

PYTHON312 = Path("/root/.pyenv/versions/3.12.1/bin/python")


@pytest.fixture(
    params=[
        pytest.param(sys.executable, id="venv"),
        pytest.param(
            str(PYTHON312),
            id="3.12",
            marks=pytest.mark.skipif(not PYTHON312.exists(), reason="no Python 3.12 here"),
        ),
    ]
)
def window(request: pytest.FixtureRequest, qtbot, tmp_path: Path) -> Iterator[WatchWindow]:
    script = write_program(tmp_path)
    with (tmp_path / "program.out").open("w") as stdout:
        feed = LaunchFeed([request.param, str(script), "30"], interval_ms=50, stdout=stdout)
        opened = WatchWindow(WatchSession(feed))  # starts the program
    qtbot.addWidget(opened)
    names = {"MainThread", "spinner", "dozer"}
    qtbot.waitUntil(
        lambda: names <= set(opened.session.tracks), timeout=20_000
    )  # running before the profile starts
    yield opened
    opened.close()


def row(rows: list, function: str):
    return next(r for r in rows if r.function.endswith(f" {function}"))


def test_profile_page_samples_threads_already_running(qtbot, window: WatchWindow) -> None:
    page = window.profile
    assert page is not None
    window.tabs.setCurrentWidget(page)
    assert page.profile_button.isEnabled()  # on every Python: no "3.12+ not profiled"
    assert "every thread of the program 100 times a second" in page.status.text()
    assert "those already running too" in page.status.text()
    page.profile_button.click()
    assert page.profile_button.text() == "Stop profile"
    assert page.status.text() == "Sampling every thread at 100 Hz…"
    started = window.session.samples
    qtbot.waitUntil(lambda: window.session.samples > started + 10, timeout=20_000)  # 0.5 s
    page.profile_button.click()
    qtbot.waitUntil(lambda: bool(page.functions_model.rows()), timeout=20_000)
    assert page.profile_button.text() == "Start profile"

    cpu = page.functions_model.rows()
    assert cpu[0].function.endswith("spin_and_doze.py:9 spin_in_known_function")
    assert cpu[0].self_pct > 50
    assert row(cpu, "doze").self_pct < 10  # a sleeping thread weighs next to nothing in CPU
    status = page.status.text()
    assert "samples of every thread (3) in" in status
    assert "of the 100 asked" in status
    assert "of CPU" in status
    assert "The sampler cost" in status

    page.view_box.setCurrentIndex(page.view_box.findData(WALL))
    wall = page.functions_model.rows()
    assert 20 < row(wall, "doze").self_pct < 45  # one thread of three, all the time
    threads = [page.thread_box.itemText(i) for i in range(page.thread_box.count())]
    assert threads[0] == "All threads"
    assert threads[1].startswith("spinner (")  # busiest first
    page.thread_box.setCurrentIndex(next(i for i, t in enumerate(threads) if t.startswith("dozer")))
    dozer = page.functions_model.rows()
    assert row(dozer, "doze").self_pct > 90
    assert not any("spin_in_known_function" in r.function for r in dozer)
    page.view_box.setCurrentIndex(page.view_box.findData(CPU))
    assert page.functions_model.rows()[0].function.endswith(" doze")  # its own CPU, all of it
