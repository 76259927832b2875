"""``threadscope [--url URL] [crawl flags] [--start]``: the window, its form filled in.

The window takes the crawl's flags (generated from the settings, as ``threadscope crawl``'s
are) so ``threadscope --url URL --threads 32`` opens with the form saying so, and ``--start``
starts at once. Only the flags given change the form; the rest is what the window remembered.
Everything that can go wrong is found before Qt starts: bad flags (one line, exit 2) and Qt's
missing system libraries (the ``apt-get install`` line ``make run`` would run, exit 1), which
Qt itself would report by aborting with a misleading message.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING

from core.cli import EXIT_USAGE, Parser
from core.crawl_cli import add_arguments as add_crawl_arguments
from core.crawl_cli import settings_from
from core.settings import SETTINGS, Kind
from core.settings_error import SettingsError
from gui import qt_libs

if TYPE_CHECKING:
    from gui.window import MainWindow

EXIT_NO_QT = 1
PLACEHOLDER_URL = "http://127.0.0.1/"
SITE_FLAGS = {"site_pages": "site_pages", "site_latency_ms": "site_latency_ms"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url", dest="url_flag", metavar="URL", help="crawl URL (default: the embedded site)"
    )
    parser.add_argument("--start", action="store_true", help="start the crawl at once")
    add_crawl_arguments(parser)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="threadscope",
        description="Open the window with the form filled in from these flags.",
    )
    add_arguments(parser)
    return parser


def form_values(argv: Sequence[str]) -> dict[str, object]:
    """What the flags given in ``argv`` (and only those) set on the form, in the form's own
    vocabulary and units (``ControlPanel.set_values``); raises SystemExit(2) on bad flags."""
    parser = build_parser()
    # argparse fills in defaults only for names the namespace lacks: a sentinel in each tells
    # which flags were given (lists stay lists, so repeatable flags can append).
    unset = object()
    defaults = vars(parser.parse_args([]))
    start = {k: v if isinstance(v, list) else unset for k, v in defaults.items()}
    parsed = vars(parser.parse_args(argv, namespace=argparse.Namespace(**start)))
    given = {k: v for k, v in parsed.items() if v is not unset and v != [] and v is not None}
    values: dict[str, object] = {}
    url = given.pop("url_flag", None) or given.pop("url", None)
    if url is not None:
        values.update(target="url", url=url)
    if "timeout" in given:
        given["connect_timeout"] = given["read_timeout"] = given.pop("timeout")
    for name, value in given.items():
        spec = SETTINGS.get(name)
        if spec is not None and spec.group is not None and spec.kind is not Kind.TEXTS:
            scale = spec.form_scale
            values[name] = value // scale if isinstance(value, int) and scale > 1 else value
        elif name in SITE_FLAGS:
            values[SITE_FLAGS[name]] = value
    return values


def main(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(argv)
    url = args.url_flag or args.url
    try:
        settings_from(args, url or PLACEHOLDER_URL)
    except SettingsError as exc:
        print(f"threadscope: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if (problem := qt_libs.check()) is not None:
        print(problem, file=sys.stderr)
        return EXIT_NO_QT
    from gui.app import main as open_window

    return open_window([], setup=partial(fill, form_values(argv), args.start))


def fill(values: Mapping[str, object], start: bool, window: MainWindow) -> None:
    """Put the flags' values in the window's form, then start if asked (and allowed)."""
    if values:
        window.controls.set_values(dict(values))
    if start:
        window.start_action.trigger()
