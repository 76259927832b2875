"""Render the window watching examples/producer_consumer.py and save assets/screenshot-watch.png.

Run offscreen: ``QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/screenshot_watch.py [out]``.
It launches the example with the agent (50 ms interval), lets it run ~8 s so the queue's bursts
and the threads' states show, grabs the window at 1280×800 on the Threads tab (the Timeline
tab goes to ``out-timeline.png``), then stops the program. History goes to a throw-away folder.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PySide6.QtWidgets import QApplication

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gui.watch_session import LaunchFeed, WatchSession  # noqa: E402
from gui.watch_window import WatchWindow  # noqa: E402


def pump(app: QApplication, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)


def main(out: str) -> int:
    os.environ["THREADSCOPE_DATA_DIR"] = tempfile.mkdtemp(prefix="threadscope-shot-")
    app = QApplication([])
    example = ROOT / "examples" / "producer_consumer.py"
    feed = LaunchFeed(
        [sys.executable, str(example), "--duration", "30"],
        interval_ms=50,
        stdout=subprocess.DEVNULL,  # type: ignore[arg-type]
    )
    window = WatchWindow(WatchSession(feed))
    window.resize(1280, 800)
    window.show()
    pump(app, 8.0)
    window.tabs.setCurrentWidget(window.threads_view)
    pump(app, 0.5)
    ok = window.grab().save(out)
    window.tabs.setCurrentWidget(window.timeline)
    pump(app, 0.8)
    ok = window.grab().save(str(Path(out).with_name(Path(out).stem + "-timeline.png"))) and ok
    window.close()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "assets/screenshot-watch.png")))
