"""One way to make a toolbar/menu action, so every action shows its shortcut in its tooltip."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QIcon, QKeySequence
from PySide6.QtWidgets import QApplication, QStyle

Shortcut = QKeySequence | QKeySequence.StandardKey | Qt.Key | str


def make_action(
    parent: QObject,
    text: str,
    icon: QStyle.StandardPixmap,
    shortcut: Shortcut,
    slot: Callable[[], object],
    tip: str,
) -> QAction:
    action = QAction(standard_icon(icon), text, parent)
    keys = QKeySequence(shortcut)
    action.setShortcut(keys)
    action.setToolTip(f"{tip} ({keys.toString()})")
    action.setStatusTip(tip)
    action.triggered.connect(slot)
    return action


def standard_icon(icon: QStyle.StandardPixmap) -> QIcon:
    return QApplication.style().standardIcon(icon)
