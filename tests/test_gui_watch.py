"""The window on a watched program: real subprocesses (examples/), the agent's real socket,
py-spy for attach, offscreen Qt. Everything waits on conditions, never on sleeps."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QSettings

from core.agent import queues
from core.history import list_runs, load_metrics
from core.watch.errors import WatchError
from gui.history_view import HistoryView
from gui.process_picker import ProcessPicker
from gui.watch_session import AttachFeed, LaunchFeed, SeriesBuffer, WatchSession
from gui.watch_target import ProcessFields, ProgramFields
from gui.watch_window import WatchWindow
from gui.window import MainWindow

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
NAMES = {"MainThread", "producer", "consumer-1", "consumer-2", "consumer-3", "writer"}


def printed_ids(path: Path) -> dict[str, int]:
    """``thread NAME native_id N`` lines the example printed."""
    text = path.read_text() if path.exists() else ""
    return {m[1]: int(m[2]) for m in re.finditer(r"^thread (\S+) native_id (\d+)$", text, re.M)}


def rows(window: WatchWindow) -> dict[str, object]:
    return {row.name: row for row in window.threads_model.rows()}


@pytest.fixture
def launched(qtbot, tmp_path) -> Iterator[tuple[WatchWindow, Path]]:
    out = tmp_path / "program.out"
    with out.open("w") as stdout:
        feed = LaunchFeed(
            [sys.executable, str(EXAMPLES / "producer_consumer.py"), "--duration", "4"],
            interval_ms=50,
            stdout=stdout,
        )
        window = WatchWindow(WatchSession(feed, stuck_after_s=1.0))
        qtbot.addWidget(window)
        yield window, out
        window.close()


def test_window_on_a_launched_program_shows_its_threads_queue_and_end(qtbot, launched) -> None:
    window, out = launched
    qtbot.waitUntil(
        lambda: printed_ids(out).keys() >= NAMES and rows(window).keys() >= NAMES, timeout=20_000
    )
    ids = printed_ids(out)
    for name in NAMES:
        assert rows(window)[name].native_id == ids[name]
    assert window.session.feed.pid == ids["MainThread"]

    def consumer_waits() -> bool:
        return any(
            r.name.startswith("consumer") and r.state == "waiting on queue"
            for r in window.threads_model.rows()
        )

    qtbot.waitUntil(consumer_waits, timeout=10_000)
    consumer = next(r for r in window.threads_model.rows() if r.state == "waiting on queue")
    assert consumer.url.startswith("wait (threading.py")  # the innermost frame

    def queue_seen() -> bool:
        curve = window.charts.curves.get("queue:results")  # emptied twice a second
        if curve is None or curve.yData is None:
            return False
        return bool(np.nanmax(curve.yData) > 0)

    qtbot.waitUntil(queue_seen, timeout=10_000)
    assert window.session.queue_names() == ["items", "results"]
    # Consumers and the writer wait on the same line at every sample, yet they run: not stuck.
    qtbot.waitUntil(lambda: window.session.now() > 3.0, timeout=10_000)
    assert window.threads_model.stuck() == {}
    assert window.timeline.lane_names()  # one lane per thread
    assert "consumer-1" in window.timeline.lane_names()

    with qtbot.waitSignal(window.ended, timeout=20_000) as ended:
        pass
    assert ended.args == ["exited with status 0"]
    assert ("Program exited with status 0") in [text for _t, text in window.charts.markers()]
    assert "Program started" in window.charts.markers()[0][1]
    assert window.status_labels["state"].text() == "Program exited with status 0"
    assert all(r.state == "exited" for r in window.threads_model.rows())
    assert len(window.threads_model.rows()) >= len(NAMES)  # what it recorded stays
    log = [window.log_model.items()[i].getMessage() for i in range(len(window.log_model.items()))]
    assert any("exited with status 0" in line for line in log)

    qtbot.waitUntil(lambda: window.record is not None, timeout=10_000)
    record = window.record
    assert [r.id for r in list_runs(kind="watch")] == [record.id]
    metrics = load_metrics(record.id)
    assert {"t", "py_threads", "os_threads", "rss_mib", "cpu_percent", "queue:items"} <= set(
        metrics
    )
    assert max(metrics["py_threads"]) == 6
    assert record.summary.peak_rss_mib > 1

    csv_path = out.parent / "metrics.csv"
    window.write_metrics(str(csv_path))
    header, *lines = csv_path.read_text().splitlines()
    assert header.split(",")[:2] == ["t", "py_threads"]
    assert "queue:items" in header.split(",")
    assert len(lines) == len(window.session.buffer.times())
    stacks_path = out.parent / "stacks.txt"
    window.write_stacks(str(stacks_path))
    assert 'Thread "consumer-1"' in stacks_path.read_text()

    history = HistoryView()
    qtbot.addWidget(history)
    history.refresh()
    history.select(record.id)
    assert [r.id for r in history.selected_runs()] == [record.id]
    assert history.charts.curve_count() >= 3  # threads, memory and CPU of the watched run


def test_a_crash_is_reported_with_its_exit_status(qtbot, tmp_path) -> None:
    script = tmp_path / "crash.py"
    script.write_text(
        "import threading, queue\n"
        "q = queue.Queue()\n"
        "t = threading.Thread(target=q.get, name='stuck-getter', daemon=True)\n"
        "t.start()\n"
        "raise SystemExit(3)\n"
    )
    window = WatchWindow(WatchSession(LaunchFeed([sys.executable, str(script)], interval_ms=50)))
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.ended, timeout=20_000) as ended:
        pass
    assert ended.args == ["crashed with exit status 3"]
    assert "Program crashed with exit status 3" in [t for _x, t in window.charts.markers()]
    assert "crashed with exit status 3" in window.statusBar().currentMessage()
    levels = {r.levelname for r in window.log_model.items()}
    assert "ERROR" in levels
    window.close()


def test_stop_terminates_a_launched_program(qtbot) -> None:
    feed = LaunchFeed(
        [sys.executable, str(EXAMPLES / "producer_consumer.py"), "--duration", "60"],
        interval_ms=50,
        stdout=subprocess.DEVNULL,  # type: ignore[arg-type]
    )
    window = WatchWindow(WatchSession(feed))
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: "producer" in rows(window), timeout=20_000)
    assert window.stop_action.text() == "Stop"
    with qtbot.waitSignal(window.ended, timeout=10_000) as ended:
        window.stop_action.trigger()
    assert ended.args == ["killed by SIGTERM (status 143)"]
    assert feed.launched_program is not None
    assert feed.launched_program.process.returncode == -15
    window.close()


def test_attach_to_a_plain_process_through_pyspy(qtbot) -> None:
    program = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "producer_consumer.py"), "--duration", "8"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert program.stdout is not None
        assert program.stdout.readline().startswith("thread MainThread")
        window = WatchWindow(WatchSession(AttachFeed(program.pid, interval_ms=500)))
        qtbot.addWidget(window)
        qtbot.waitUntil(
            lambda: "consumer-1" in rows(window) or window.session.ended is not None,
            timeout=20_000,
        )
        ended = window.session.ended
        if ended is not None and "may not trace" in ended.reason:
            pytest.skip(f"py-spy cannot attach here: {ended.reason}")
        assert ended is None, ended
        assert window.stop_action.text() == "Detach"
        assert window.status_labels["state"].text() == "Attached through py-spy"
        qtbot.waitUntil(
            lambda: {"producer", "consumer-2", "consumer-3"} <= rows(window).keys(),
            timeout=10_000,
        )
        with qtbot.waitSignal(window.ended, timeout=30_000) as detached:
            window.stop_action.trigger()
        assert detached.args == [f"detached from pid {program.pid}"]
        assert program.poll() is None  # detaching leaves it running
        window.close()
    finally:
        program.kill()
        program.communicate(timeout=30)


def test_the_picker_lists_a_spawned_python_process(qtbot) -> None:
    sleeper = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)", "threadscope-picker-test"]
    )
    try:
        picker = ProcessPicker()
        qtbot.addWidget(picker)

        def listed() -> bool:
            picker.refresh()
            return sleeper.pid in picker.pids()

        qtbot.waitUntil(listed, timeout=10_000)
        process = next(p for p in picker.processes if p.pid == sleeper.pid)
        assert "threadscope-picker-test" in process.command
        assert process.threads >= 1
        assert process.rss_mib > 1
        picker.filter.setText("picker-test")
        assert picker.pids() == [sleeper.pid]
        assert picker.select_pid(sleeper.pid)
        assert picker.selected_pid() == sleeper.pid
        picker.filter.setText("no such command anywhere")
        assert picker.pids() == []
    finally:
        sleeper.kill()
        sleeper.wait(10)


def test_registered_queues_are_read_without_keeping_them_alive() -> None:
    queues.clear()
    jobs: queue.Queue[int] = queue.Queue()
    for i in range(3):
        jobs.put(i)
    queues.watch_queue("jobs", jobs)
    queues.watch_queue("not a queue", 42)  # an int cannot be weakly referenced: ignored
    assert queues.depths() == {"jobs": 3}
    del jobs
    assert queues.depths() == {}
    queues.clear()


def test_series_keep_the_newest_and_pad_late_columns() -> None:
    buffer = SeriesBuffer(capacity=4)
    buffer.append(0.0, {"a": 1.0})
    buffer.append(1.0, {"a": 2.0, "b": 5.0})
    assert list(buffer.times()) == [0.0, 1.0]
    assert np.isnan(buffer.series("b")[0])
    for t in range(2, 6):
        buffer.append(float(t), {"a": float(t)})
    assert len(buffer.times()) <= 4
    assert buffer.times()[-1] == 5.0
    assert buffer.latest()["a"] == 5.0


def test_the_program_fields_start_it_in_its_directory_with_its_environment(qtbot, tmp_path) -> None:
    (tmp_path / "where.py").write_text(
        "import os, pathlib\n"
        "pathlib.Path('seen.txt').write_text(os.getcwd() + '|' + os.environ['WATCH_TEST'])\n"
    )
    fields = ProgramFields()
    qtbot.addWidget(fields)
    fields.command.setText("where.py")  # relative to the working directory below
    fields.cwd.setText(str(tmp_path))
    fields.env.setPlainText("# a comment\nWATCH_TEST=hello world\n")
    window = WatchWindow(WatchSession(fields.feed()))
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.ended, timeout=20_000) as ended:
        pass
    assert ended.args == ["exited with status 0"]
    assert (tmp_path / "seen.txt").read_text() == f"{tmp_path}|hello world"
    window.close()


@pytest.mark.parametrize(
    ("command", "env", "says"),
    [
        ("", "", "command line: empty"),
        ("python 'unclosed", "", "command line: No closing quotation"),
        ("no-such-interpreter app.py", "", "interpreter not found"),
        ("missing.py", "", "script not found"),
        ("python -c pass", "", "not supported"),
        (f"{sys.executable} {EXAMPLES / 'hang.py'}", "NOT AN ASSIGNMENT", "environment, line 1"),
    ],
)
def test_bad_program_fields_are_one_line_errors(qtbot, command, env, says) -> None:
    fields = ProgramFields()
    qtbot.addWidget(fields)
    fields.command.setText(command)
    fields.env.setPlainText(env)
    with pytest.raises(WatchError, match=re.escape(says)):
        fields.feed()


def test_process_fields_refuse_what_is_not_a_live_pid(qtbot) -> None:
    fields = ProcessFields()
    qtbot.addWidget(fields)
    for text, says in (("", "not a pid"), ("abc", "not a pid"), ("999999999", "no process")):
        fields.pid.setText(text)
        with pytest.raises(WatchError, match=says):
            fields.feed()


def test_a_deadlock_shows_as_stuck_threads_and_annotated_stacks(qtbot) -> None:
    feed = LaunchFeed(
        [sys.executable, str(EXAMPLES / "hang.py"), "--duration", "30"],
        interval_ms=50,
        stdout=subprocess.DEVNULL,  # type: ignore[arg-type]
    )
    window = WatchWindow(WatchSession(feed, stuck_after_s=0.5))
    qtbot.addWidget(window)
    qtbot.waitUntil(
        lambda: {"worker-a", "worker-b"} <= window.threads_model.stuck().keys(), timeout=20_000
    )
    assert "MainThread" not in window.threads_model.stuck()  # joining: waiting by design
    assert rows(window)["worker-a"].state == "waiting on lock"
    assert rows(window)["worker-a"].last_error  # the lock it waits for
    assert "worker-a" in window.stacks.stuck_label.text()
    window.tabs.setCurrentWidget(window.stacks)
    text = window.stacks.dump_text.toPlainText()
    assert 'Thread "worker-a"' in text
    assert "  - waiting for <" in text
    assert "held by worker-b" in text
    assert "in a deadlock with worker-b" in text
    window.stacks.dump_filter.setText("in a deadlock")
    assert window.stacks.dump_count.text() == "2 of 3 threads"
    log = [r.getMessage() for r in window.log_model.items()]
    assert any(m.startswith("thread worker-a has not moved") for m in log)
    with qtbot.waitSignal(window.ended, timeout=10_000):
        window.stop_action.trigger()
    window.close()


def test_start_on_a_python_program_target_opens_its_window_and_history_lists_it(
    qtbot, tmp_path
) -> None:
    window = MainWindow(QSettings(str(tmp_path / "threadscope.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    window.show()
    controls = window.controls
    controls.program_radio.setChecked(True)
    assert controls.program.isEnabled()
    assert not controls.url.isEnabled()
    assert not controls.process.isEnabled()
    controls.program.command.setText(
        f"{sys.executable} {EXAMPLES / 'producer_consumer.py'} --duration 1.5"
    )
    assert window.start_action.isEnabled()
    window.start_action.trigger()
    assert window.phase == "idle"  # no crawl started
    assert len(window.watch_windows) == 1
    watch = window.watch_windows[0]
    assert watch.isVisible()
    history = window.history  # built now, so a saved run must refresh it
    with qtbot.waitSignal(watch.saved, timeout=30_000) as saved:
        pass
    qtbot.waitUntil(lambda: history.model.row_of(saved.args[0]) is not None, timeout=5_000)
    assert watch.record is not None
    assert watch.record.kind == "watch"
    saved_values = controls.values()
    assert saved_values["target"] == "program"
    assert "producer_consumer.py" in str(saved_values["program_command"])
    window.close()
    assert not watch.session.running


def test_start_with_a_bad_program_says_why_in_one_line(qtbot, tmp_path, monkeypatch) -> None:
    window = MainWindow(QSettings(str(tmp_path / "threadscope.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    warnings: list[str] = []
    monkeypatch.setattr(
        "gui.window.QMessageBox.warning", lambda _parent, _title, text: warnings.append(text)
    )
    window.controls.process_radio.setChecked(True)
    window.controls.process.pid.setText("not-a-pid")
    window.start_action.trigger()
    assert warnings == ["process: not a pid: not-a-pid"]
    assert window.watch_windows == []
    window.close()


def test_threadscope_run_opens_the_window_and_ends_with_the_programs_status() -> None:
    run = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "threadscope",
            "run",
            "--",
            sys.executable,
            str(EXAMPLES / "hang.py"),
            "--duration",
            "0.2",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert run.stderr is not None
    for line in run.stderr:  # the window says so in the terminal when the program ends
        if line.startswith("threadscope run: the program"):
            break
    assert line.strip() == (
        "threadscope run: the program crashed with exit status 1; close the window to quit"
    )
    run.send_signal(signal.SIGINT)  # closes the window, like its close button
    out, err = run.communicate(timeout=30)
    assert run.returncode == 1  # hang.py's own status
    assert "Traceback" not in err
    assert "native_id" not in out + err  # the program's output went to the window's Log
