"""How late the window's event loop runs while crawl events pour in.

A 10 ms precise QTimer records how late each tick fires (the event loop's lateness) while
either a synthetic publisher thread feeds ``--rate`` events/s into the real window's bridge
(``--mode synthetic``: isolates the GUI's own cost), or the window crawls the embedded test
site (``--mode crawl``: adds the workers' GIL contention). Prints p50/p99/max lateness.

``QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/gui_latency.py --mode synthetic``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtWidgets import QApplication

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.events import (
    EventStream,
    FetchFinished,
    PageResult,
    WorkerStarted,
    WorkerState,
    WorkerStateChanged,
)
from gui.app import delete_now
from gui.window import MainWindow

TICK_MS = 10
STATES = (WorkerState.FETCHING, WorkerState.IDLE)


def publish(stream: EventStream, rate: int, workers: int, stop: threading.Event) -> int:
    """Publish about ``rate`` events/s in 10 ms bursts; returns how many were sent."""
    for w in range(workers):
        stream.publish(WorkerStarted(name=f"crawl-worker-{w + 1}", ident=w, native_id=w))
    sent = 0
    per_burst = max(1, rate // 100)
    started = time.monotonic()
    while not stop.is_set():
        for _ in range(per_burst):
            name = f"crawl-worker-{sent % workers + 1}"
            url = f"http://127.0.0.1/page/{sent}"
            kind = sent % 3  # as a crawl: fetching, the page (parsed meanwhile), idle
            if kind == 1:
                result = PageResult(url, None, 2, 200, 8192, 3.2, 10)
                event = FetchFinished(worker=name, result=result, parse_started=time.monotonic())
            else:
                event = WorkerStateChanged(name=name, state=STATES[kind // 2], url=url)
            stream.publish(event)
            sent += 1
        ahead = started + sent / rate - time.monotonic()
        if ahead > 0:
            stop.wait(ahead)
    return sent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("synthetic", "crawl"), default="synthetic")
    parser.add_argument("--rate", type=int, default=5_000, help="synthetic events per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--latency-ms", type=int, default=0, help="test site latency (crawl mode)")
    parser.add_argument("--tab", default="Timeline", help="tab shown while measuring")
    args = parser.parse_args()

    app = QApplication(["threadscope-latency"])
    scratch = tempfile.TemporaryDirectory()
    window = MainWindow(QSettings(f"{scratch.name}/s.ini", QSettings.Format.IniFormat))
    window.resize(1280, 800)
    window.show()
    for i in range(window.tabs.count()):
        if window.tabs.tabText(i) == args.tab:
            window.tabs.setCurrentIndex(i)

    lateness: list[float] = []
    last = [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        lateness.append(max(0.0, (now - last[0]) * 1000 - TICK_MS))
        last[0] = now

    probe = QTimer()
    probe.setTimerType(Qt.TimerType.PreciseTimer)
    probe.timeout.connect(tick)

    stop = threading.Event()
    sent = [0]
    if args.mode == "synthetic":
        stream = EventStream()
        window.bridge.attach(stream)
        publisher = threading.Thread(
            target=lambda: sent.__setitem__(0, publish(stream, args.rate, args.threads, stop)),
            name="latency-publisher",
        )
        publisher.start()
    else:
        window.controls.pages.setValue(1_000_000)
        window.controls.latency_ms.setValue(args.latency_ms)
        window.controls.fields["threads"].setValue(args.threads)
        window.controls.fields["max_pages"].setValue(10_000_000)
        window.controls.obey_robots.setChecked(False)
        window.crawl.start()
        publisher = None

    def finish() -> None:
        stop.set()
        if publisher is not None:
            publisher.join()
        probe.stop()
        app.quit()

    warmup = 1.0 if args.mode == "synthetic" else 3.0

    def begin() -> None:
        lateness.clear()
        last[0] = time.perf_counter()
        probe.start(TICK_MS)

    QTimer.singleShot(int(warmup * 1000), begin)
    QTimer.singleShot(int((warmup + args.seconds) * 1000), finish)
    gui_cpu_started = time.thread_time()
    app.exec()

    pages = window.session.crawler.stats().pages if window.session.crawler else 0
    dropped = window.status_labels["dropped"].text() or "0 events dropped"
    window.close()
    delete_now(window)
    values = np.asarray(lateness)
    rate = sent[0] / (args.seconds + warmup) if args.mode == "synthetic" else pages
    gui_cpu = time.thread_time() - gui_cpu_started
    print(
        f"mode={args.mode} tab={args.tab} ticks={len(values)} gui_thread_cpu={gui_cpu:.1f}s "
        f"{'events/s' if args.mode == 'synthetic' else 'pages'}={rate:,.0f} {dropped}\n"
        f"lateness ms: p50={np.percentile(values, 50):.1f} p99={np.percentile(values, 99):.1f} "
        f"max={values.max():.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
