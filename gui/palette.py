"""Colours shared by charts, timeline and tables, so a state looks the same everywhere."""

from __future__ import annotations

STATE_COLORS: dict[str, str] = {
    "idle": "#b0b7c3",
    "fetching": "#2f7ed8",
    "parsing": "#f28f43",
    "waiting for host": "#e6c229",
    "stopped": "#5c5c5c",
}

SERIES_COLORS: tuple[str, ...] = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd")
MARKER_COLOR = "#7a3db8"

# A watched program's thread states (core.agent.classify.STATES), for its timeline and table.
WATCH_STATE_COLORS: dict[str, str] = {
    "running": "#2ca02c",
    "in C call": "#98df8a",
    "waiting on lock": "#d62728",
    "waiting on condition": "#ff9896",
    "waiting on queue": "#e6c229",
    "waiting for GIL": "#9467bd",
    "sleeping": "#b0b7c3",
    "socket I/O": "#2f7ed8",
    "idle in pool": "#dbdbdb",
    "no Python frame": "#8c8c8c",
    "exited": "#5c5c5c",
}
