"""What the window remembers between runs, in one QSettings: the form, geometry, splitters.

Keys: ``controls/<name>`` for each of the form's ``values()``, ``window/geometry``,
``window/state`` (toolbars and docks) and ``splitters/<name>``.
"""

from __future__ import annotations

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMainWindow, QSplitter

from gui.controls import ControlPanel

DEFAULT_SIZE = (1280, 800)  # the first run's size, before there is a saved geometry


class Persistence:
    """Restores and saves ``window``'s form, geometry, toolbars and named splitters."""

    def __init__(
        self,
        qsettings: QSettings,
        window: QMainWindow,
        controls: ControlPanel,
        splitters: dict[str, QSplitter],
    ) -> None:
        self.qsettings = qsettings
        self._window = window
        self._controls = controls
        self._splitters = splitters

    def restore(self) -> None:
        s = self.qsettings
        s.beginGroup("controls")
        values = {key: s.value(key) for key in s.childKeys()}
        s.endGroup()
        if values:
            self._controls.set_values(values)
        geometry = s.value("window/geometry")
        if geometry is not None:
            self._window.restoreGeometry(geometry)
        else:
            self._window.resize(*DEFAULT_SIZE)
        for key, splitter in self._splitters.items():
            state = s.value(f"splitters/{key}")
            if state is not None:
                splitter.restoreState(state)
        if (state := s.value("window/state")) is not None:
            self._window.restoreState(state)

    def save(self) -> None:
        s = self.qsettings
        s.beginGroup("controls")
        for key, value in self._controls.values().items():
            s.setValue(key, value)
        s.endGroup()
        s.setValue("window/geometry", self._window.saveGeometry())
        s.setValue("window/state", self._window.saveState())
        for key, splitter in self._splitters.items():
            s.setValue(f"splitters/{key}", splitter.saveState())
        s.sync()
