"""How every ``threadscope`` sub-command's ``--help`` shows each option's default."""

from __future__ import annotations

import argparse


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Appends ``(default: X)`` where there is a default worth showing.

    An option whose help already says its default (``%(default)s``, with its unit) is left
    alone; so are the ones that default to nothing (``None``, off switches, empty lists).
    """

    def _get_help_string(self, action: argparse.Action) -> str | None:
        default = action.default
        if default is None or default is False or default in ("", [], ()):
            return action.help
        return super()._get_help_string(action)
