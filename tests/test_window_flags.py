"""``threadscope [--url URL] [crawl flags] [--start]``: the window opens with the form filled in."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

from conftest import crawl_threads
from PySide6.QtCore import QSettings

from gui.window import MainWindow
from threadscope import window_cli

ROOT = Path(__file__).resolve().parent.parent


def test_only_the_flags_given_fill_the_form_in_its_units():
    values = window_cli.form_values(
        ["--url", "http://127.0.0.1:9/", "--threads", "32", "--max-bytes", "4096", "--no-robots"]
    )
    assert values == {
        "target": "url",
        "url": "http://127.0.0.1:9/",
        "threads": 32,
        "max_body_bytes": 4,  # the form shows KiB
        "obey_robots": False,
    }
    assert window_cli.form_values([]) == {}
    timeouts = window_cli.form_values(["--timeout", "3", "--site-pages", "200"])
    assert timeouts == {"connect_timeout": 3.0, "read_timeout": 3.0, "site_pages": 200}


def test_bad_flags_are_one_line_and_exit_2_before_qt_is_imported():
    code = (
        "import sys; from threadscope.launcher import main; rc = main(['--threads', '0']); "
        "print('PySide6' in sys.modules, rc)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert done.stdout.split() == ["False", "2"]
    assert done.stderr == "threadscope: error: threads: must be from 1 to 1024, got 0\n"


def test_the_window_opens_with_the_flags_in_its_form_and_start_starts(qtbot, tmp_path, site):
    window = MainWindow(QSettings(str(tmp_path / "f.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    window.show()
    try:
        values = window_cli.form_values(["--url", site.url, "--threads", "32", "--no-robots"])
        window_cli.fill(values, True, window)
        controls = window.controls
        assert not controls.uses_site
        assert controls.url.text() == site.url
        assert controls.fields["threads"].value() == 32
        qtbot.waitUntil(lambda: window.phase in ("running", "finished"), timeout=10_000)
        assert window.session.crawler.settings.threads == 32
        assert window.session.crawler.settings.start_urls == (site.url,)
        qtbot.waitUntil(lambda: window.phase == "finished", timeout=20_000)
        assert window.session.crawler.stats().pages == 300
    finally:
        window.close()
    assert not crawl_threads()
