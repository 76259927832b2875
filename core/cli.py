"""The ``threadscope`` sub-commands: a registry of modules, each one ``add_arguments`` + ``main``.

A sub-command is a module with ``add_arguments(parser)`` and ``main(args) -> int``; adding one
is one line in :data:`COMMANDS`. Only the chosen sub-command's module is imported, so
``threadscope crawl`` starts fast and headless. The window (``threadscope`` with no command)
is the launcher's (``threadscope.launcher``): nothing in ``core`` imports Qt or ``gui``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NoReturn, Protocol, cast

from core.cli_help import HelpFormatter

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class SubCommand(Protocol):
    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def main(self, args: argparse.Namespace) -> int: ...


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    module: str  # imported only when this command runs (or shows its help)
    help: str


COMMANDS: tuple[Command, ...] = (
    Command("crawl", "core.crawl_cli", "crawl headless with a live progress line"),
    Command("testsite", "core.testsite.cli", "serve the embedded synthetic test site"),
    Command(
        "experiment", "core.experiments.cli", "run a threading-pitfall experiment (bad vs fixed)"
    ),
    Command(
        "run", "core.watch.run_cli", "run a Python program with the agent and watch its threads"
    ),
    Command(
        "attach",
        "core.watch.attach_cli",
        "watch a running Python process's threads live (py-spy + /proc)",
    ),
    Command(
        "dump",
        "core.watch.dump_cli",
        "print every thread's stack of a Python process (like jstack)",
    ),
    Command("history", "core.history_cli", "list, show, export or delete saved runs"),
)


class Parser(argparse.ArgumentParser):
    """Bad flags get one line and exit status 2, not a usage dump."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The parser for ``argv``: every command listed, the chosen one (``argv[0]``) filled in."""
    parser = Parser(
        prog="threadscope",
        description="Watch what your Python threads do. With no command, opens the window.",
        formatter_class=HelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    chosen = argv[0] if argv else None
    for command in COMMANDS:
        sub = commands.add_parser(
            command.name,
            help=command.help,
            description=command.help[:1].upper() + command.help[1:] + ".",
            formatter_class=HelpFormatter,
        )
        if command.name == chosen:
            module = cast(SubCommand, importlib.import_module(command.module))
            module.add_arguments(sub)
            sub.set_defaults(handler=module.main)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one sub-command headless; the exit status is its own."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.error("name a command (threadscope with no command opens the window)")
    return cast(int, args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
