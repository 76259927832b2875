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
