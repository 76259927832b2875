"""The Follow action both windows share: offered only once the user has left the newest data."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from gui.charts import ChartPanel
from gui.follow import follow_action


def test_follow_is_offered_after_a_pan_and_returns_to_the_newest_data(qtbot):
    panel = ChartPanel()
    qtbot.addWidget(panel)
    times = np.arange(0.0, 100.0, 0.5)
    panel.set_source(lambda: times, lambda _key: times)
    action = follow_action(panel, panel)
    assert action.shortcut().toString() == "End"
    assert not action.isEnabled()  # already following
    panel.first_plot.getViewBox().sigRangeChangedManually.emit([True, False])
    assert action.isEnabled()
    panel.first_plot.setXRange(10, 20, padding=0)
    with qtbot.waitSignal(panel.followingChanged, check_params_cb=lambda on: on):
        action.trigger()
    assert not action.isEnabled()
    assert panel.first_plot.getViewBox().viewRange()[0][1] >= 99
