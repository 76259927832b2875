"""Render the Diagnostics ▸ Locks page with a deadlock showing; save assets/screenshot-locks.png.

Run offscreen: ``QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/screenshot_locks.py [out]``.
With tracking on, two "transfer" threads take two account locks in opposite orders (a real
deadlock), three "reader" threads queue for a cache lock a "refresher" holds, and a few hundred
short-lived locks come and go; the page is grabbed once the deadlock is named, then every
thread is let go (each wait has a timeout, so nothing outlives the script).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QApplication

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.agent import locks  # noqa: E402
from gui.diagnostics_panel import DiagnosticsPanel  # noqa: E402
from gui.threads_table import ThreadsModel  # noqa: E402

WAIT_S = 20.0


def pump_until(app: QCoreApplication, condition: Callable[[], bool], timeout: float) -> bool:
    end = time.monotonic() + timeout
    while not condition() and time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)
    return bool(condition())


def scene(done: threading.Event) -> tuple[list[threading.Thread], list[object]]:
    """The threads the picture shows (all end once ``done`` is set) and locks kept alive."""
    account_a, account_b = threading.Lock(), threading.Lock()
    cache = threading.RLock()
    both = threading.Barrier(2)
    robbed = threading.Event()

    def transfer(mine: threading.Lock, theirs: threading.Lock, victim: bool) -> None:
        mine.acquire()
        both.wait(5)
        if theirs.acquire(timeout=WAIT_S):
            theirs.release()
        if not (victim and robbed.is_set()):
            mine.release()

    def refresh() -> None:
        with cache:
            done.wait(WAIT_S)

    def read() -> None:
        if cache.acquire(timeout=WAIT_S):
            cache.release()

    for _ in range(300):  # short-lived locks: one creation site, many locks
        with threading.Lock():
            pass
    stats = threading.Lock()  # some history: three threads contend for a lock for a while

    def count() -> None:
        for _ in range(20):
            with stats:
                done.wait(0.002)

    counters = [threading.Thread(target=count, name=f"counter-{i}") for i in range(3)]
    for thread in counters:
        thread.start()
    for thread in counters:
        thread.join(WAIT_S)
    threads = [
        threading.Thread(target=transfer, args=(account_a, account_b, True), name="transfer-1"),
        threading.Thread(target=transfer, args=(account_b, account_a, False), name="transfer-2"),
        threading.Thread(target=refresh, name="refresher"),
        *(threading.Thread(target=read, name=f"reader-{i}") for i in range(1, 4)),
    ]
    for thread in threads:
        thread.daemon = True
        thread.start()

    def unwind() -> None:
        done.wait()
        robbed.set()
        account_a.release()  # on transfer-1's behalf: transfer-2 goes on, transfer-1 backs off

    threads.append(threading.Thread(target=unwind, name="unwind", daemon=True))
    threads[-1].start()
    return threads, [stats]


def main(out: str) -> int:
    app = QApplication.instance() or QApplication(sys.argv)
    panel = DiagnosticsPanel(ThreadsModel(), lambda: [], time.monotonic())
    panel.resize(1100, 640)
    panel.setCurrentWidget(panel.locks)
    panel.show()
    done = threading.Event()
    found: list[str] = []
    panel.deadlockFound.connect(found.append)
    with locks.tracking():
        threads, _kept = scene(done)
        page = panel.locks
        ok = pump_until(app, lambda: bool(found) and page.alert.text() != "", 10)
        ok = (
            pump_until(
                app, lambda: page.reading is not None and len(page.graph.graph.nodes) >= 8, 5
            )
            and ok
        )
        app.processEvents()
        ok = page.grab().save(out) and ok
        done.set()
        for thread in threads:
            thread.join(WAIT_S)
    panel.shutdown()
    print(f"{'wrote' if ok else 'FAILED'} {out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(
        main(sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "assets" / "screenshot-locks.png"))
    )
