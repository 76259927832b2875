"""The window's Hosts tab and its export: the per-host report of a real crawl (issue 11)."""

from __future__ import annotations

import csv

import pytest

pytest.importorskip("pytestqt")

from conftest import crawl_threads
from test_gui_window import make_window

from core.hosts import CSV_COLUMNS
from gui.hosts_table import HEADERS


def test_hosts_tab_shows_the_host_live_and_exports_it(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path / "threadscope.ini", pages=300, latency_ms=5)
    try:
        window.controls.fields["per_host_threads"].setValue(2)
        window.tabs.setCurrentWidget(window.hosts_view)
        window.start_action.trigger()
        model = window.hosts_model
        qtbot.waitUntil(lambda: model.rowCount() == 1, timeout=20_000)  # live, while crawling
        assert [model.headerData(i, _horizontal()) for i in range(len(HEADERS))] == list(HEADERS)
        qtbot.waitUntil(lambda: window.phase == "finished", timeout=30_000)
        qtbot.waitUntil(lambda: model.rows()[0].pages == 300, timeout=5_000)
        row = model.rows()[0]
        assert row.host == window.session.crawler.settings.start_urls[0].rstrip("/")
        assert model.index(0, 1).data() == "300"
        assert row.in_flight == 0
        out = tmp_path / "hosts.csv"
        window.export_menu.write_hosts(str(out))
        with open(out, newline="") as handle:
            lines = list(csv.reader(handle))
        assert tuple(lines[0]) == CSV_COLUMNS
        assert lines[1][:2] == [row.host, "300"]
    finally:
        window.close()
    assert not crawl_threads()


def _horizontal():
    from PySide6.QtCore import Qt

    return Qt.Orientation.Horizontal
