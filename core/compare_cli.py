"""``threadscope compare --strategies bounded,pool,recursive [crawl flags]``.

Crawls the same target (the embedded test site when no URL is given) once per strategy, one
after the other, with the same flags, and prints each run's figures and the winner per measure.
Each run is saved to the history (``--no-history``: not).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from contextlib import ExitStack
from types import FrameType

from core.compare import ComparisonRunner, StrategyRun
from core.crawl_cli import add_arguments as add_crawl_arguments
from core.crawl_cli import settings_from
from core.settings import STRATEGIES
from core.settings_error import SettingsError

EXIT_OK, EXIT_USAGE, EXIT_INTERRUPTED = 0, 2, 130
DEFAULT_STRATEGIES = "bounded,pool,recursive"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--strategies",
        default=DEFAULT_STRATEGIES,
        metavar="A,B,...",
        help=f"strategies to run in turn, comma-separated, from {', '.join(STRATEGIES)} "
        "(default: %(default)s; --strategy is ignored)",
    )
    add_crawl_arguments(parser)


def parse_strategies(text: str) -> tuple[str, ...]:
    """``"bounded, pool"`` -> ``("bounded", "pool")``; raises ValueError naming a bad one."""
    names = tuple(dict.fromkeys(name.strip() for name in text.split(",") if name.strip()))
    if not names:
        raise ValueError("--strategies: name at least one strategy")
    unknown = [name for name in names if name not in STRATEGIES]
    if unknown:
        raise ValueError(
            f"--strategies: unknown {', '.join(unknown)}; choose from {', '.join(STRATEGIES)}"
        )
    return names


def main(args: argparse.Namespace) -> int:
    try:
        strategies = parse_strategies(args.strategies)
        ComparisonRunner(settings_from(args, args.url or "http://127.0.0.1/"), strategies)
    except (SettingsError, ValueError) as exc:
        print(f"threadscope compare: error: {exc}", file=sys.stderr)
        return EXIT_USAGE

    stop = threading.Event()

    def interrupted(signum: int, frame: FrameType | None) -> None:
        stop.set()

    with ExitStack() as stack:
        url = args.url
        if url is None:
            from core.testsite.process import TestSite

            site = stack.enter_context(
                TestSite(pages=args.site_pages, latency_ms=args.site_latency_ms)
            )
            url = site.url
        print(
            f"comparing {', '.join(strategies)} on {url}, one after the other "
            "(at once they would share the GIL and the numbers would lie)",
            file=sys.stderr,
        )
        runner = ComparisonRunner(
            settings_from(args, url),
            strategies,
            save=not args.no_history,
            on_run=_print_run,
            stop=stop,
        )
        previous = signal.signal(signal.SIGINT, interrupted)
        stack.callback(signal.signal, signal.SIGINT, previous)
        result = runner.run()
    print(result.text())
    return EXIT_INTERRUPTED if result.stopped else EXIT_OK


def _print_run(run: StrategyRun) -> None:
    figures = run.figures
    saved = f", saved as {run.record_id}" if run.record_id else ""
    print(
        f"{run.strategy}: {run.pages} pages in {run.duration_s:.2f} s "
        f"({figures['pages_per_s']:.0f} pages/s), {run.reason}{saved}",
        file=sys.stderr,
    )
