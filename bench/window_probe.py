"""The window under load, offscreen: ``python -m bench.window_probe [--quick]``.

Builds the real ``MainWindow``, gives its charts an hour of 10 Hz history (a ring of 36 000
samples that keeps advancing every 100 ms), and attaches its bridge to an event stream that a
plain thread fills at 5 000 events/s in the engine's mix (state changes, fetch started and
finished). Meanwhile a 20 ms PreciseTimer measures how late the event loop runs it. The
launch-to-first-paint figure comes from a second fresh process (``launch``) that opens the
window and quits at its first Paint event, timed from that process's creation.

``python -m bench.window_probe stop [--threads N] [--trials K]`` times the window's Stop
button against N requests that the embedded site never answers.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

EVENTS_PER_S = 5_000
HISTORY_S = 3_600.0
SAMPLE_S = 0.1
PROBE_MS = 20
WORKERS = 16
HUNG_ROUTE = "/trap/never-answer"
IN_FLIGHT_WAIT_S = 20.0
FINISH_WAIT_S = 10.0


class History:
    """An hour of samples for every metric key, advanced one sample per ``push``."""

    def __init__(self, keys: tuple[str, ...]) -> None:
        n = int(HISTORY_S / SAMPLE_S)
        self._times = np.arange(n, dtype=np.float64) * SAMPLE_S
        phase = np.linspace(0, 60 * np.pi, n)
        self._data = {
            k: (50 + 40 * np.sin(phase + i)).astype(np.float64) for i, k in enumerate(keys)
        }

    def push(self) -> None:
        self._times = np.roll(self._times, -1)
        self._times[-1] = self._times[-2] + SAMPLE_S
        for values in self._data.values():
            values[:] = np.roll(values, -1)

    def times(self) -> np.ndarray:
        return self._times

    def series(self, key: str) -> np.ndarray:
        return self._data[key]


def _feed(stream, stop: threading.Event) -> int:
    """Publish EVENTS_PER_S in the engine's mix, paced every 10 ms; returns events sent."""
    per_tick, sent = EVENTS_PER_S // 100, 0
    events = _engine_mix()
    next_tick = time.monotonic()
    while not stop.is_set():
        for _ in range(per_tick):
            stream.publish(next(events))
        sent += per_tick
        next_tick += 0.01
        stop.wait(max(0.0, next_tick - time.monotonic()))
    return sent


def _engine_mix():
    """A worker's events page after page, as the engine publishes them: fetching, then the
    page's result (saying when its parsing began), and idle now and then."""
    from core.events import FetchFinished, PageResult, WorkerState, WorkerStateChanged

    names = [f"crawl-worker-{i + 1}" for i in range(WORKERS)]
    page = 0
    while True:
        name, url = names[page % WORKERS], f"http://127.0.0.1:8080/page/{page}"
        yield WorkerStateChanged(name=name, state=WorkerState.FETCHING, url=url)
        result = PageResult(url, None, 3, 200, 8192, 4.2, 10)
        yield FetchFinished(worker=name, result=result, parse_started=time.monotonic())
        if page % 4 == 0:
            yield WorkerStateChanged(name=name, state=WorkerState.IDLE)
        page += 1


def open_window():
    """The QApplication and a real ``MainWindow`` whose settings file is a throwaway one."""
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from gui.window import MainWindow

    app = QApplication.instance() or QApplication(["threadscope-bench"])
    ini = Path(tempfile.mkdtemp(prefix="ts-bench-qt-")) / "settings.ini"
    return app, MainWindow(QSettings(str(ini), QSettings.Format.IniFormat))


def close_window(window) -> None:
    from gui.app import delete_now

    window.shutdown()
    delete_now(window)


def load(seconds: float) -> dict:
    from PySide6.QtCore import Qt, QTimer

    from core.events import EventStream
    from core.sampler import KEYS

    app, window = open_window()
    window.show()
    history = History(KEYS)
    window.charts.set_source(history.times, history.series)
    stream = EventStream()
    window.bridge.attach(stream)
    dropped = [0]
    window.bridge.dropped.connect(lambda total: dropped.__setitem__(0, total))

    refresh_ms: list[float] = []

    def advance() -> None:
        history.push()
        t0 = time.perf_counter()
        window.charts.refresh()
        refresh_ms.append(1000 * (time.perf_counter() - t0))

    lateness_ms: list[float] = []
    last = [time.perf_counter()]

    def probe() -> None:
        now = time.perf_counter()
        lateness_ms.append(max(0.0, 1000 * (now - last[0]) - PROBE_MS))
        last[0] = now

    timers = []
    for interval, slot in ((int(SAMPLE_S * 1000), advance), (PROBE_MS, probe)):
        timer = QTimer()
        timer.setTimerType(Qt.TimerType.PreciseTimer)
        timer.setInterval(interval)
        timer.timeout.connect(slot)
        timers.append(timer)

    stop = threading.Event()
    sent = [0]
    feeder = threading.Thread(target=lambda: sent.__setitem__(0, _feed(stream, stop)))
    QTimer.singleShot(int(seconds * 1000), app.quit)
    for timer in timers:
        timer.start()
    last[0] = time.perf_counter()
    feeder.start()
    t0 = time.perf_counter()
    app.exec()
    elapsed = time.perf_counter() - t0
    stop.set()
    feeder.join()
    for timer in timers:
        timer.stop()
    close_window(window)
    lateness = sorted(lateness_ms)
    refresh = sorted(refresh_ms)
    return {
        "events_per_s": EVENTS_PER_S,
        "events_sent": sent[0],
        "events_dropped": dropped[0],
        "seconds": elapsed,
        "history_s": HISTORY_S,
        "lateness_p50_ms": statistics.median(lateness),
        "lateness_p99_ms": lateness[min(len(lateness) - 1, int(0.99 * len(lateness)))],
        "lateness_max_ms": lateness[-1],
        "refresh_median_ms": statistics.median(refresh),
        "refresh_p99_ms": refresh[min(len(refresh) - 1, int(0.99 * len(refresh)))],
        "refresh_max_ms": refresh[-1],
    }


def since_process_start() -> float:
    """Seconds since the kernel created this process.

    Both ends count from boot (``/proc/self/stat`` start time, ``CLOCK_BOOTTIME``). psutil's
    ``create_time()`` adds the boot time from ``/proc/stat``, which is whole seconds: on the VM
    this was written on, that put the origin 0.76 s too early.
    """
    with open("/proc/self/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()  # the name may hold spaces
    started = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22, in clock ticks
    return time.clock_gettime(time.CLOCK_BOOTTIME) - started


def launch() -> dict:
    """Seconds from this process's creation to the main window's first Paint event."""
    from PySide6.QtCore import QEvent, QObject, QTimer

    app, window = open_window()
    painted: list[float] = []

    class FirstPaint(QObject):
        def eventFilter(self, watched, event) -> bool:
            if event.type() == QEvent.Type.Paint and not painted:
                painted.append(since_process_start())
                QTimer.singleShot(0, app.quit)
            return False

    spy = FirstPaint()
    window.installEventFilter(spy)
    window.show()
    app.exec()
    window.removeEventFilter(spy)
    close_window(window)
    return {"first_paint_s": painted[0] if painted else float("nan")}


def run_until(done, seconds: float) -> bool:
    """Run the event loop until ``done()`` (checked every 10 ms) or ``seconds``; its value."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop, check = QEventLoop(), QTimer()
    deadline = time.monotonic() + seconds
    check.setInterval(10)
    check.timeout.connect(lambda: (done() or time.monotonic() > deadline) and loop.quit())
    check.start()
    if not done():
        loop.exec()
    check.stop()
    return bool(done())


def stop_button(threads: int, trials: int) -> dict:
    """The toolbar's Stop with ``threads`` workers each blocked on the never-answering route:
    from the click until the window says the crawl finished (``phaseChanged``), which it does
    only once every crawl thread has exited. One window, one site, ``trials`` crawls."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QToolBar

    from core.testsite import TestSite

    # Each ended crawl is saved to the run history: keep the bench's out of the user's.
    os.environ["THREADSCOPE_DATA_DIR"] = tempfile.mkdtemp(prefix="ts-bench-history-")
    _app, window = open_window()  # the app must outlive the window
    window.show()
    toolbar = window.findChild(QToolBar, "crawl-toolbar")
    button = toolbar.widgetForAction(window.stop_action)
    seconds, not_all_in_flight, left = [], 0, []
    with TestSite(pages=10) as site:
        for trial in range(trials):
            hung = tuple(f"{site.url}{HUNG_ROUTE[1:]}?window={trial}-{i}" for i in range(threads))
            settings = window.controls.settings().replace(
                start_urls=hung,
                threads=threads,
                per_host_threads=threads,  # one host: every request in flight at once
                obey_robots=False,
                retries=0,
                read_timeout=60,
                deadline=60,
            )
            site.reset_stats()
            window.launch(settings)
            arrived = lambda: site.stats()["by_route"].get(HUNG_ROUTE, 0) >= threads  # noqa: E731
            if not run_until(arrived, IN_FLIGHT_WAIT_S) or (
                window.session.crawler.stats().in_flight < threads
            ):
                not_all_in_flight += 1

            ended: list[float] = []  # stamped by the signal; the loop only waits for it

            def on_phase(phase: str, ended=ended) -> None:
                if phase == "finished":
                    ended.append(time.perf_counter())

            window.phaseChanged.connect(on_phase)
            t0 = time.perf_counter()
            QTest.mouseClick(button, Qt.MouseButton.LeftButton)
            run_until(lambda: bool(ended), FINISH_WAIT_S)  # noqa: B023 - called right here
            window.phaseChanged.disconnect(on_phase)
            if not ended:
                raise RuntimeError(f"trial {trial}: not finished {FINISH_WAIT_S} s after Stop")
            seconds.append(ended[0] - t0)
            left.append(sum(t.name.startswith("crawl-") for t in threading.enumerate()))
    close_window(window)
    return {
        "threads": threads,
        "trials": trials,
        "seconds": seconds,
        "not_all_in_flight": not_all_in_flight,
        "threads_left": left,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.window_probe")
    parser.add_argument("mode", nargs="?", default="all", choices=("all", "launch", "stop"))
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=64, help="stop: hung requests")
    parser.add_argument("--trials", type=int, default=20, help="stop: crawls stopped")
    args = parser.parse_args(argv)
    if args.mode == "launch":
        result = launch()
    elif args.mode == "stop":
        result = stop_button(args.threads, args.trials)
    else:
        command = [sys.executable, "-m", "bench.window_probe", "launch"]
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
        lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
        if done.returncode != 0 or not lines:
            raise SystemExit(f"launch probe failed: {done.stderr[-1500:]}")
        result = {**load(2.0 if args.quick else 20.0), **json.loads(lines[-1])}
    sys.stdout.write("\n" + json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
