"""The watch window's Memory, Locks and Profile pages on a real program run with the agent,
and what an attached process's window says instead (offscreen)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QLabel

from gui.watch_session import AttachFeed, LaunchFeed, WatchSession
from gui.watch_window import WatchWindow

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
LEAK_LINE = next(
    n
    for n, line in enumerate((EXAMPLES / "leaky_cache.py").read_text().splitlines(), 1)
    if "# the leak" in line
)


@pytest.fixture
def open_window(qtbot, tmp_path) -> Iterator:
    windows: list[WatchWindow] = []

    def launch(script: str, *args: str, trace_memory: bool = False) -> WatchWindow:
        with (tmp_path / "program.out").open("w") as stdout:
            feed = LaunchFeed(
                [sys.executable, str(EXAMPLES / script), *args],
                interval_ms=50,
                stdout=stdout,
                trace_memory=trace_memory,
            )
            window = WatchWindow(WatchSession(feed))  # starts the program
        qtbot.addWidget(window)
        windows.append(window)
        qtbot.waitUntil(lambda: window.session.latest is not None, timeout=20_000)
        return window

    yield launch
    for window in windows:
        window.close()


def test_memory_page_traces_the_program_and_names_its_leak(qtbot, open_window) -> None:
    window = open_window("leaky_cache.py", "--duration", "30", "--rate-mib", "8")
    page = window.memory
    assert page is not None
    window.tabs.setCurrentWidget(page)
    assert not page.source.tracing()
    page.trace_button.click()
    assert page.trace_button.text() == "Stop tracing"
    qtbot.waitUntil(lambda: page.source.traced()[0] > 3 * 1_048_576, timeout=20_000)
    assert "traced" in page.status.text()
    page.snapshot_button.click()
    qtbot.waitUntil(lambda: bool(page.allocations_model.rows()), timeout=20_000)
    top = page.allocations_model.rows()[0]
    assert top.location.endswith(f"leaky_cache.py:{LEAK_LINE}")
    first = top.size_bytes
    qtbot.waitUntil(lambda: page.source.traced()[0] > first + 2 * 1_048_576, timeout=20_000)
    page.snapshot_button.click()
    qtbot.waitUntil(lambda: page.diff_button.isEnabled(), timeout=20_000)
    page.diff_button.click()
    qtbot.waitUntil(lambda: bool(page.diff_model.rows()), timeout=20_000)
    grown = page.diff_model.rows()[0]
    assert grown.location.endswith(f"leaky_cache.py:{LEAK_LINE}")
    assert grown.size_diff > 1_048_576
    assert page.diff_view.isVisibleTo(page)
    page.trace_button.click()
    qtbot.waitUntil(lambda: page.source.traced()[0] < first, timeout=20_000)
    assert not page.source.tracing()


def test_locks_page_shows_the_hang_examples_locks_and_deadlock(qtbot, open_window) -> None:
    window = open_window("hang.py", "--duration", "20")
    page = window.locks
    assert page is not None
    window.tabs.setCurrentWidget(page)

    def ours() -> dict[str, object]:
        return {
            row.created_at: row
            for row in page.model.rows()
            if row.created_at in ("hang.py:14", "hang.py:15")
        }

    qtbot.waitUntil(lambda: len(ours()) == 2 and page.alert.text() != "", timeout=20_000)
    for row in ours().values():
        assert row.owner.startswith("worker-")  # type: ignore[attr-defined]
        assert row.waiters == 1  # type: ignore[attr-defined]
        assert row.in_cycle  # type: ignore[attr-defined]
    assert "worker-a" in page.alert.text()
    assert "worker-b" in page.alert.text()
    assert page.hint.isHidden()
    assert page.deadlocks  # reported once, in the Log too
    os.kill(window.session.feed.pid, signal.SIGKILL)
    qtbot.waitUntil(lambda: not window.session.running, timeout=20_000)
    before = page.reading
    qtbot.waitUntil(lambda: page.reading is not before, timeout=5_000)  # read after the end
    assert len(ours()) == 2  # what the program sent last stays on the page
    assert len(page.deadlocks) == 1


def test_memory_page_of_a_program_traced_from_its_first_line(qtbot, open_window) -> None:
    """``threadscope run --trace-memory`` in the window: the page finds tracing on."""
    window = open_window("leaky_cache.py", "--duration", "30", "--rate-mib", "8", trace_memory=True)
    page = window.memory
    assert page is not None
    qtbot.waitUntil(lambda: page.trace_button.text() == "Stop tracing", timeout=20_000)
    assert page.trace_button.isChecked()
    assert page.snapshot_button.isEnabled()


def test_an_attached_process_says_which_pages_need_the_agent(qtbot) -> None:
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        window = WatchWindow(WatchSession(AttachFeed(sleeper.pid)))
        qtbot.addWidget(window)
        titles = [window.tabs.tabText(i) for i in range(window.tabs.count())]
        assert titles == ["Threads", "Timeline", "Stacks", "Memory", "Locks", "Profile", "Log"]
        for title in ("Memory", "Locks", "Profile"):
            page = window.tabs.widget(titles.index(title))
            assert isinstance(page, QLabel)
            text = page.text()
            assert f"<b>{title}</b> needs Threadscope's agent inside the program" in text
            assert "attached through py-spy" in text
            assert "threadscope run -- python app.py ARGS" in text
        queues = window.charts.plots["queues"]
        assert "need the agent" in queues.titleLabel.text
        window.close()
        assert sleeper.poll() is None  # detached, not stopped
    finally:
        sleeper.kill()
        sleeper.wait(10)
