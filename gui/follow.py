"""The Follow action (End) of a window with a :class:`ChartPanel`: the crawl's and a watch's."""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QStyle

from gui.actions import make_action
from gui.charts import ChartPanel


def follow_action(parent: QObject, charts: ChartPanel) -> QAction:
    """Back to the newest data; enabled only once the user has zoomed or panned away."""
    action = make_action(
        parent,
        "Follow",
        QStyle.StandardPixmap.SP_MediaSeekForward,
        QKeySequence("End"),
        charts.follow,
        "Follow the newest data again",
    )
    charts.followingChanged.connect(lambda on: action.setEnabled(not on))
    action.setEnabled(not charts.following)
    return action
