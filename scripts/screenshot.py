"""Render the real window mid-crawl at 1280×800 and save it as assets/screenshot.png.

Run offscreen: ``QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/screenshot.py [out.png]``
(the other tabs go to ``out-N.png`` next to it).
It crawls the embedded test site, changes the thread count and runs a GC part-way so the
markers show, then grabs the window. Uses a throw-away QSettings file.
"""

from __future__ import annotations

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


def main(out: str) -> int:
    app = QApplication(["threadscope-screenshot"])
    with tempfile.TemporaryDirectory() as scratch:
        window = MainWindow(QSettings(f"{scratch}/s.ini", QSettings.Format.IniFormat))
        window.resize(1280, 800)
        window.show()
        controls = window.controls
        controls.site_radio.setChecked(True)
        controls.pages.setValue(20_000)
        controls.latency_ms.setValue(40)
        controls.error_rate.setValue(3.0)
        controls.fields["threads"].setValue(8)
        controls.fields["max_pages"].setValue(100_000)
        window.start_crawl()
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
        window.close()
        delete_now(window)
    print(f"wrote {out}" if ok else f"could not write {out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "assets" / "screenshot.png")))
