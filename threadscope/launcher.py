"""The ``threadscope`` console script: the window with no arguments or only flags, else a
``core.cli`` command.

It sits above both layers so that ``core`` never imports ``gui``: the window's modules (and Qt)
are imported only when the window opens, so ``threadscope crawl`` stays headless and fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from core import cli


def main(argv: Sequence[str] | None = None) -> int:
    """No arguments, or flags first (``threadscope --url URL --threads 32 --start``): the
    window (:mod:`threadscope.window_cli`); a command name first: that ``core.cli`` command."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")):
        from threadscope.window_cli import main as open_window

        return open_window(argv)
    if argv[0] == "run":
        from core.watch import run_cli

        run_cli.open_window = _watch_window  # `threadscope run` without --headless
    return cli.main(argv)


def _watch_window(command: list[str], args: argparse.Namespace) -> int:
    """The window on a program ``threadscope run`` starts (Qt imported only now)."""
    from gui.watch_app import open_window

    return open_window(command, args)
