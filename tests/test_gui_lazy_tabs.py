"""The window's Experiments, History and Diagnostics views are built when first needed."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QTabWidget, QWidget

from gui.background import THREAD_NAME
from gui.crawl_controller import Phase
from gui.lazy_tab import LazyTab
from gui.window import MainWindow

TITLES = ["Crawl", "Experiments", "History", "Diagnostics"]
LAZY_MODULES = ("gui.experiments_panel", "gui.history_view", "gui.diagnostics_panel")


def new_window(qtbot, tmp_path) -> MainWindow:
    window = MainWindow(QSettings(str(tmp_path / "lazy.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    return window


def tab_titles(tabs: QTabWidget) -> list[str]:
    return [tabs.tabText(i) for i in range(tabs.count())]


def test_the_window_module_imports_none_of_the_lazy_views() -> None:
    probe = "import sys, gui.window; print([m for m in sys.argv[1:] if m in sys.modules])"
    done = subprocess.run(
        [sys.executable, "-c", probe, *LAZY_MODULES], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"


def test_showing_a_tab_builds_its_view_in_place(qtbot, tmp_path):
    window = new_window(qtbot, tmp_path)
    views = window.views
    assert window.experiments_tab.page is None
    assert window.history_tab.page is None
    changes: list[int] = []
    views.currentChanged.connect(changes.append)

    views.setCurrentIndex(1)
    panel = window.experiments_tab.page
    assert panel is not None
    assert type(panel).__name__ == "ExperimentsPanel"
    assert views.currentWidget() is panel
    assert views.indexOf(panel) == 1
    assert changes == [1]  # the swap behind the placeholder is not a second change
    assert window.history_tab.page is None  # only the shown tab was built
    assert tab_titles(views) == TITLES
    assert window.experiments is panel  # built once

    view_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&View")
    next(a for a in view_menu.actions() if a.text() == "History").trigger()  # Ctrl+3
    assert views.currentIndex() == 2
    assert views.currentWidget() is window.history_tab.page
    assert tab_titles(views) == TITLES
    assert changes == [1, 2]
    window.close()


def test_asking_for_a_view_builds_it_without_showing_it(qtbot, tmp_path):
    window = new_window(qtbot, tmp_path)
    window.views.setCurrentIndex(3)  # Diagnostics current, so History's index is left of it
    history = window.history
    assert window.views.indexOf(history) == 2
    assert window.views.currentIndex() == 3
    assert tab_titles(window.views) == TITLES
    window.close()


def test_an_experiments_view_built_mid_crawl_refuses_to_run(qtbot, tmp_path):
    window = new_window(qtbot, tmp_path)
    window.crawl._set_phase(Phase.RUNNING)  # what a started crawl does to the window
    assert not window.experiments.run_button.isEnabled()
    window.crawl._set_phase(Phase.FINISHED)
    assert window.experiments.run_button.isEnabled()
    window.close()


def test_diagnostics_is_built_after_the_first_paint_without_being_shown(qtbot, tmp_path):
    window = new_window(qtbot, tmp_path)
    assert window.diagnostics_tab.page is None
    window.show()
    qtbot.waitUntil(lambda: window.diagnostics_tab.page is not None, timeout=5_000)
    assert window.views.currentIndex() == 0  # still on the Crawl view
    assert window.diagnostics_tab.page.timer.isActive()  # watching for stuck threads
    assert window.experiments_tab.page is None
    assert window.history_tab.page is None
    window.close()
    assert not window.diagnostics_tab.page.timer.isActive()


def test_a_window_closed_before_building_them_closes_cleanly(qtbot, tmp_path):
    window = new_window(qtbot, tmp_path)  # never shown: never painted
    assert window.close()
    assert [window.experiments_tab.page, window.history_tab.page] == [None, None]
    assert window.diagnostics_tab.page is None  # closing did not build what it shuts down
    assert window.session.sampler.join(0)
    assert THREAD_NAME not in [t.name for t in threading.enumerate()]


def test_a_lazy_tab_that_fails_to_build_keeps_its_placeholder(qtbot):
    tabs = QTabWidget()
    qtbot.addWidget(tabs)
    tabs.addTab(QWidget(), "first")
    calls: list[int] = []

    def build() -> QWidget:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("not today")
        return QWidget()

    lazy = LazyTab(tabs, "second", build)
    with pytest.raises(RuntimeError):
        lazy.widget()
    assert lazy.page is None
    assert tab_titles(tabs) == ["first", "second"]
    page = lazy.widget()
    assert tabs.widget(1) is page
    assert tab_titles(tabs) == ["first", "second"]
