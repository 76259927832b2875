"""The one error type the watch commands turn into a one-line message and exit status 2."""

from __future__ import annotations


class WatchError(Exception):
    """A user-facing problem (bad command, missing permission, gone process): one line."""
