"""The ``threadscope`` console script: the window with no arguments, else a ``core.cli`` command.

It sits above both layers so that ``core`` never imports ``gui``: the window's modules (and Qt)
are imported only when the window opens, so ``threadscope crawl`` stays headless and fast.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from core import cli


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        from gui.app import main as open_window

        return open_window([])
    return cli.main(argv)
