"""A tab page built the first time it is shown or asked for, not with its window.

The window's secondary views (Experiments, History, Diagnostics) cost about a third of its
launch in imports and construction, and none of them is on screen at the first paint. Each sits
in its tab as an empty placeholder until it is needed; then the real page takes the
placeholder's place, so ``indexOf``, ``setCurrentWidget`` and the tab order are as if it had
been there all along.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from PySide6.QtCore import QEvent, QObject, QSignalBlocker, QTimer
from PySide6.QtWidgets import QTabWidget, QWidget

Page = TypeVar("Page", bound=QWidget)


class LazyTab(QObject, Generic[Page]):
    """Tab ``title`` of ``tabs``, made by ``build()`` when the tab becomes current, when
    :meth:`widget` is called, or (after :meth:`build_after_first_paint`) once the window has
    painted."""

    def __init__(self, tabs: QTabWidget, title: str, build: Callable[[], Page]) -> None:
        super().__init__(tabs)
        self._tabs = tabs
        self._build = build
        self._page: Page | None = None
        self._placeholder = QWidget()
        tabs.addTab(self._placeholder, title)
        tabs.currentChanged.connect(self._on_current)

    @property
    def page(self) -> Page | None:
        """The page if it has been built; None otherwise (reading this never builds it)."""
        return self._page

    def widget(self) -> Page:
        """The page, built now if it was not yet."""
        page = self._page
        if page is None:
            page = self._page = self._build()
            self._swap_in(page)
        return page

    def build_after_first_paint(self, window: QWidget) -> None:
        """For a page with work of its own to do from the start (timers, watchers): build it
        as soon as ``window`` has painted once, unless the window has been closed by then."""
        window.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            watched.removeEventFilter(self)
            QTimer.singleShot(0, self, self._build_if_shown)
        return False

    def _build_if_shown(self) -> None:
        if self._tabs.isVisible():
            self.widget()

    def _on_current(self, index: int) -> None:
        if self._page is None and self._tabs.widget(index) is self._placeholder:
            self.widget()

    def _swap_in(self, page: Page) -> None:
        tabs, placeholder = self._tabs, self._placeholder
        index = tabs.indexOf(placeholder)
        current = tabs.currentIndex()
        with QSignalBlocker(tabs):  # to listeners, the current tab never changed
            title = tabs.tabText(index)
            tabs.removeTab(index)
            tabs.insertTab(index, page, title)
            tabs.setCurrentIndex(current)
        tabs.currentChanged.disconnect(self._on_current)
        placeholder.deleteLater()
