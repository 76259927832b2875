"""The error a value the user gave raises, naming the field it came from.

Apart from ``core.settings`` so the layers below it (the test site, whose child process must
start fast) can raise it without importing the strategies that settings lists.
"""

from __future__ import annotations


class SettingsError(ValueError):
    """A setting has a value the engine cannot use; ``field`` names it."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message
