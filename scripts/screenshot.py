"""Render the real window mid-crawl at 1280×800 and save it as assets/screenshot.png.

Run offscreen: ``QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/screenshot.py [out.png]``
(the other tabs go to ``out-N.png`` next to it).
It crawls the embedded test site, changes the thread count and runs a GC part-way so the
markers show, then grabs the window. Then, still mid-crawl, it profiles the workers a thread
increase adds and diffs two tracemalloc snapshots, and grabs the Diagnostics view's Profile
and Memory pages as ``out-diagnostics.png`` and ``out-diagnostics-memory.png``. Last it
stops the crawl, lets a second one (pool strategy) finish, runs an experiment and grabs the
Experiments view (``out-experiments.png``), compares three strategies (``out-compare.png``)
and grabs the History view overlaying every crawl with their markers (``out-history.png``).
Uses a throw-away QSettings file and history folder.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import time
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gui.app import delete_now  # noqa: E402
from gui.window import MainWindow  # noqa: E402


def pump(app: QApplication, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)


def pump_until(app: QApplication, condition, timeout: float) -> None:
    end = time.monotonic() + timeout
    while not condition() and time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)


def diagnostics(app: QApplication, window: MainWindow, stem: str) -> bool:
    panel = window.diagnostics
    window.views.setCurrentWidget(panel)
    panel.profile.profile_button.click()  # covers the workers started from now on
    window.controls.fields["threads"].setValue(40)
    panel.memory.trace_button.click()
    panel.memory.snapshot_button.click()
    pump_until(app, panel.memory.diff_button.isEnabled, 10)  # (one snapshot: not yet)
    pump_until(app, lambda: panel.memory.allocations_model.rowCount() > 0, 10)
    pump(app, 3)
    panel.memory.snapshot_button.click()
    pump_until(app, panel.memory.diff_button.isEnabled, 10)
    panel.memory.diff_button.click()
    pump_until(app, lambda: panel.memory.diff_model.rowCount() > 0, 10)
    panel.profile.profile_button.click()
    pump_until(app, lambda: panel.profile.functions_model.rowCount() > 0, 10)
    panel.setCurrentWidget(panel.profile)
    pump(app, 0.5)
    ok = window.grab().save(f"{stem}-diagnostics.png")
    panel.setCurrentWidget(panel.memory)
    pump(app, 0.5)
    ok = window.grab().save(f"{stem}-diagnostics-memory.png") and ok
    panel.memory.trace_button.click()
    return ok


def experiments_and_history(app: QApplication, window: MainWindow, stem: str) -> bool:
    window.crawl.stop()
    pump_until(app, lambda: window.history.model.rowCount() == 1, 20)
    controls = window.controls
    controls.strategy.setCurrentText("pool")
    controls.fields["threads"].setValue(16)
    controls.fields["max_pages"].setValue(1_500)
    window.crawl.start()
    pump_until(app, lambda: window.history.model.rowCount() == 2, 60)

    panel = window.experiments
    window.views.setCurrentWidget(panel)
    panel.select("counter-race")
    panel.scale.setValue(1.0)
    panel.trials.setValue(3)
    panel.run_button.click()
    pump_until(app, lambda: not panel.running, 60)
    pump(app, 0.5)
    ok = window.grab().save(f"{stem}-experiments.png")
    ok = compare(app, window, stem) and ok

    history = window.history
    window.views.setCurrentWidget(history)
    crawls = [history.model.run(r).id for r in range(history.model.rowCount())]
    history.select(*[r for r in crawls if "crawl" in r])
    pump(app, 0.5)
    return window.grab().save(f"{stem}-history.png") and ok


def compare(app: QApplication, window: MainWindow, stem: str) -> bool:
    """Compare strategies on a 1 500-page, 40 ms site at 16 threads: one after the other."""
    window.controls.pages.setValue(1_500)
    view = window.open_compare()
    view.resize(1280, 800)
    view.pick("bounded", "pool", "recursive")
    view.run_button.click()
    pump_until(app, lambda: not view.running, 120)
    pump(app, 0.5)
    ok = view.grab().save(f"{stem}-compare.png")
    view.close()
    return ok


def main(out: str) -> int:
    for name in ("core", "gui"):  # the levels gui.app sets, so the Log tab shows what it would
        logging.getLogger(name).setLevel(logging.INFO)
    app = QApplication(["threadscope-screenshot"])
    with tempfile.TemporaryDirectory() as scratch:
        os.environ["THREADSCOPE_DATA_DIR"] = f"{scratch}/data"  # not the user's history
        window = MainWindow(QSettings(f"{scratch}/s.ini", QSettings.Format.IniFormat))
        window.resize(1280, 800)
        window.show()
        controls = window.controls
        controls.site_radio.setChecked(True)
        controls.pages.setValue(20_000)
        controls.latency_ms.setValue(40)
        controls.error_rate.setValue(3.0)
        controls.fields["threads"].setValue(8)
        controls.fields["per_host_threads"].setValue(32)  # one host: else 8 in flight at most
        controls.fields["max_pages"].setValue(100_000)
        window.crawl.start()
        pump(app, 6)
        controls.fields["threads"].setValue(32)
        pump(app, 5)
        window.collect_garbage()
        pump(app, 3)
        ok = True
        for index in reversed(range(window.tabs.count())):
            window.tabs.setCurrentIndex(index)
            pump(app, 0.5)
            target = out if index == 0 else f"{out.removesuffix('.png')}-{index}.png"
            ok = window.grab().save(target) and ok
        ok = diagnostics(app, window, out.removesuffix(".png")) and ok
        ok = experiments_and_history(app, window, out.removesuffix(".png")) and ok
        window.close()
        delete_now(window)
    print(f"wrote {out}" if ok else f"could not write {out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "assets" / "screenshot.png")))
