"""The watch window's Log gets the program's own output (stdout as INFO, stderr as warnings,
bounded, complete at a crash), and its hang dumps and memory-growth warnings as alerts and
chart markers. Real subprocesses (examples/), the agent's real socket, offscreen Qt; waits on
conditions, never on sleeps."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from core.history import load_details
from core.watch.output import CAPACITY
from gui.watch_alerts import WatchObserve
from gui.watch_session import LaunchFeed, WatchSession
from gui.watch_window import WatchWindow
from gui.window import MainWindow

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def log_rows(window: WatchWindow) -> list[tuple[str, str, str]]:
    """(thread column, level, message) of every Log row."""
    return [(r.threadName, r.levelname, r.getMessage()) for r in window.log_model.items()]


def program_lines(window: WatchWindow, stream: str) -> list[str]:
    return [text for where, _level, text in log_rows(window) if where == stream]


@pytest.fixture
def watch(qtbot) -> Iterator:
    windows: list[WatchWindow] = []

    def open_window(*argv: str, **options) -> WatchWindow:
        feed = LaunchFeed([sys.executable, *argv], interval_ms=50, **options)
        window = WatchWindow(WatchSession(feed, stuck_after_s=1.0))
        qtbot.addWidget(window)
        windows.append(window)
        return window

    yield open_window
    for window in windows:
        window.close()


def test_the_programs_output_is_in_the_log_and_its_traceback_before_its_end(
    qtbot, watch, tmp_path
) -> None:
    script = tmp_path / "noisy.py"
    script.write_text(
        "import sys, threading\n"
        "print('hello from the program')\n"
        "print('a complaint', file=sys.stderr)\n"
        "def work():\n"
        "    print('from a thread')\n"
        "t = threading.Thread(target=work, name='worker'); t.start(); t.join()\n"
        "{}['missing']\n"
    )
    window = watch(str(script))
    with qtbot.waitSignal(window.ended, timeout=20_000) as ended:
        pass
    assert ended.args == ["crashed with exit status 1"]
    assert program_lines(window, "stdout") == ["hello from the program", "from a thread"]
    errors = program_lines(window, "stderr")
    assert errors[0] == "a complaint"
    assert errors[1] == "Traceback (most recent call last):"
    assert errors[-1] == "KeyError: 'missing'"
    rows = log_rows(window)
    assert ("stdout", "INFO", "hello from the program") in rows
    assert ("stderr", "WARNING", "a complaint") in rows  # stderr stands out
    last_error = rows.index(("stderr", "WARNING", "KeyError: 'missing'"))
    crashed = next(i for i, r in enumerate(rows) if "crashed with exit status 1" in r[2])
    assert last_error < crashed  # the whole traceback, then how it ended
    assert window.log_losses.text() == ""


def test_the_examples_printed_native_ids_reach_the_log(qtbot, watch) -> None:
    window = watch(str(EXAMPLES / "producer_consumer.py"), "--duration", "1")
    with qtbot.waitSignal(window.ended, timeout=20_000):
        pass
    lines = program_lines(window, "stdout")
    printed = dict(line.split()[1::2] for line in lines if line.startswith("thread "))
    rows = {row.name: row.native_id for row in window.threads_model.rows()}
    assert printed.keys() >= {"MainThread", "producer", "consumer-1", "writer"}
    for name, native_id in printed.items():
        assert rows[name] == int(native_id)
    assert lines[-1].startswith("consumed ")


def test_a_chatty_program_never_waits_for_a_slow_window(qtbot, watch, tmp_path) -> None:
    done = tmp_path / "done"
    script = tmp_path / "chatty.py"
    script.write_text(
        "import pathlib\n"
        "for i in range(300_000):\n"
        "    print('line', i)\n"
        f"pathlib.Path({str(done)!r}).write_text('all written')\n"
        "raise RuntimeError('the end')\n"
    )
    window = watch(str(script))
    window.pump.stop()  # the window reads nothing meanwhile, as if busy
    qtbot.waitUntil(done.exists, timeout=60_000)  # ~3.5 MB through a 64 KiB pipe
    feed = window.session.feed
    assert feed.launched_program is not None
    qtbot.waitUntil(lambda: feed.launched_program.process.poll() is not None, timeout=30_000)
    window.pump.start()
    with qtbot.waitSignal(window.ended, timeout=30_000):
        pass
    session = window.session
    shown = program_lines(window, "stdout")
    assert 0 < len(shown) < 300_000
    assert shown[-1] == "line 299999"  # the newest lines are kept
    assert program_lines(window, "stderr")[-1] == "RuntimeError: the end"
    assert 300_000 - CAPACITY <= session.output_dropped < 300_000  # the reader kept CAPACITY
    assert len(window.log_model.items()) <= window.log_model.capacity
    assert f"{session.output_dropped:,} lines of the program's output dropped" in (
        window.log_losses.text()
    )


def test_a_hang_is_an_alert_a_marker_and_a_dump_kept_with_the_run(qtbot, watch) -> None:
    window = watch(
        str(EXAMPLES / "hang.py"), "--duration", "30", observe=WatchObserve(hang_dump_after=1.0)
    )

    def hang_marked() -> bool:
        return any(text.startswith("Hang: ") for _t, text in window.charts.markers())

    qtbot.waitUntil(hang_marked, timeout=30_000)
    assert window.statusBar().currentMessage().startswith("Hang: no thread moved for")
    assert "worker-a" in window.statusBar().currentMessage()
    dumps = [(lv, m) for _w, lv, m in log_rows(window) if m.startswith("hang: no progress")]
    assert len(dumps) == 1
    level, dump = dumps[0]
    assert level == "WARNING"
    assert '"worker-b" native_id=' in dump
    with qtbot.waitSignal(window.saved, timeout=30_000) as saved:
        window.stop_action.trigger()
    details = load_details(saved.args[0])
    assert len(details["hangs"]) == 1
    dump_file = Path(details["hangs"][0]["dump"])
    assert window.record is not None
    assert (window.record.path / dump_file.name).read_text().count('"worker-a" native_id=') == 1


def test_memory_growth_of_a_traced_program_is_an_alert_and_a_marker(qtbot, watch) -> None:
    window = watch(
        str(EXAMPLES / "leaky_cache.py"),
        "--duration",
        "3",  # at most 180 MiB: the warning needs 1 MiB more at each 50 ms reading
        "--rate-mib",
        "60",
        "--chunk-kib",
        "64",
        trace_memory=True,
        observe=WatchObserve(hang_dump_after=None),
    )

    def growth_marked() -> bool:
        return any(text.startswith("Memory +") for _t, text in window.charts.markers())

    qtbot.waitUntil(growth_marked, timeout=30_000)
    assert window.statusBar().currentMessage().startswith("Memory growth: traced memory grew")
    warning = next(m for _w, _l, m in log_rows(window) if m.startswith("memory growth:"))
    assert "leaky_cache.py:" in warning  # the site that keeps the buffers
    assert window.session.alerts


def test_run_with_a_taken_metrics_port_is_one_line_and_status_2() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = subprocess.run(
            [
                sys.executable, "-m", "threadscope", "run", "--metrics-port", str(port), "--",
                sys.executable, str(EXAMPLES / "hang.py"), "--duration", "0.2",
            ],
            cwd=EXAMPLES.parent,
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
        )  # fmt: skip
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("threadscope run: error: ")
    assert str(port) in lines[0]


def test_the_forms_hang_dump_setting_reaches_a_watched_programs_window(qtbot, tmp_path) -> None:
    window = MainWindow(QSettings(str(tmp_path / "threadscope.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    controls = window.controls
    controls.observe.hang.setValue(1.0)
    controls.program_radio.setChecked(True)
    controls.program.command.setText(f"{sys.executable} {EXAMPLES / 'hang.py'} --duration 30")
    window.start_action.trigger()
    assert len(window.watch_windows) == 1
    watch = window.watch_windows[0]
    qtbot.waitUntil(
        lambda: any(text.startswith("Hang: ") for _t, text in watch.charts.markers()),
        timeout=30_000,
    )
    assert program_lines(watch, "stdout")[0].startswith("thread MainThread native_id ")
    window.close()
    assert not watch.session.running
