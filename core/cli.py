"""The ``threadscope`` command: the window by default, ``crawl``, ``testsite`` and ``experiment``.

Nothing here imports Qt at module level: ``threadscope crawl`` must start fast and run headless.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections import Counter
from collections.abc import Sequence
from contextlib import ExitStack
from urllib.parse import urlsplit

from core.settings import STRATEGIES, CrawlSettings, SettingsError

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def main(argv: Sequence[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        from gui.app import main as gui_main

        return gui_main([])
    return args.handler(args)


class _Parser(argparse.ArgumentParser):
    """Bad flags get one line and exit status 2, not a usage dump."""

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="threadscope",
        description="Watch what your Python threads do. With no command, opens the window.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    crawl = commands.add_parser(
        "crawl",
        help="crawl headless with a live progress line",
        description="Crawl URL (or, with no URL, the embedded test site) and print a summary.",
    )
    _add_crawl_arguments(crawl)
    crawl.set_defaults(handler=_run_crawl)

    from core.testsite import cli as testsite_cli

    site = commands.add_parser("testsite", help="serve the embedded synthetic test site")
    testsite_cli.add_arguments(site)
    site.set_defaults(handler=testsite_cli.main)

    from core.experiments import cli as experiments_cli

    experiment = commands.add_parser(
        "experiment", help="run a threading-pitfall experiment (bad vs fixed)"
    )
    experiments_cli.add_arguments(experiment)
    experiment.set_defaults(handler=experiments_cli.main)

    from core.watch import attach_cli, dump_cli, run_cli

    for name, module in (("run", run_cli), ("attach", attach_cli), ("dump", dump_cli)):
        watch = commands.add_parser(name, help=module.HELP, description=module.__doc__)
        module.add_arguments(watch)
        watch.set_defaults(handler=module.main)
    from core import history_cli

    history = commands.add_parser("history", help="list, show, export or delete saved runs")
    history_cli.add_arguments(history)
    history.set_defaults(handler=history_cli.main)
    return parser


def _add_crawl_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = CrawlSettings(start_urls=("http://127.0.0.1/",))
    parser.add_argument("url", nargs="?", help="start URL; omit to crawl the embedded test site")
    parser.add_argument("--threads", type=int, default=defaults.threads, help="worker threads")
    parser.add_argument(
        "--strategy",
        choices=STRATEGIES,
        default=defaults.strategy,
        help="how URLs are scheduled on threads (default %(default)s)",
    )
    parser.add_argument(
        "--max-spawned-threads",
        type=int,
        default=defaults.max_spawned_threads,
        help="thread-per-url: cap on its threads alive at once",
    )
    parser.add_argument(
        "--pin-workers",
        action=argparse.BooleanOptionalAction,
        default=defaults.pin_workers,
        help="run all crawl threads on one CPU core: under the GIL the cheaper hand-offs "
        "make it faster (see experiment gil-cores)",
    )
    parser.add_argument("--max-pages", type=int, default=defaults.max_pages)
    parser.add_argument("--max-depth", type=int, default=defaults.max_depth)
    parser.add_argument(
        "--frontier", type=int, default=defaults.frontier_size, help="in-memory frontier bound"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=defaults.read_timeout,
        help="connect and read timeout in seconds",
    )
    parser.add_argument(
        "--deadline", type=float, default=defaults.deadline, help="total seconds per request"
    )
    parser.add_argument("--max-bytes", type=int, default=defaults.max_body_bytes)
    parser.add_argument("--retries", type=int, default=defaults.retries)
    parser.add_argument("--delay", type=float, default=defaults.host_delay, help="per-host delay")
    parser.add_argument("--no-robots", action="store_true", help="ignore robots.txt")
    parser.add_argument(
        "--per-host-threads",
        type=int,
        default=defaults.per_host_threads,
        help="requests in flight to one host at most",
    )
    parser.add_argument(
        "--max-time", type=float, default=0.0, help="end the crawl after SECONDS (0: no limit)"
    )
    parser.add_argument(
        "--autothrottle", action="store_true", help="adapt each host's delay to its latency"
    )
    limits = parser.add_argument_group("limits against hostile sites (see the README table)")
    limits.add_argument("--per-host-max-pages", type=int, default=defaults.per_host_max_pages)
    limits.add_argument("--max-redirects", type=int, default=defaults.max_redirects)
    limits.add_argument("--max-url-length", type=int, default=defaults.max_url_length)
    limits.add_argument("--max-query-params", type=int, default=defaults.max_query_params)
    limits.add_argument(
        "--retry-after-cap",
        type=float,
        default=defaults.retry_after_cap,
        help="longest Retry-After wait honoured, in seconds",
    )
    limits.add_argument(
        "--memory-limit-mb", type=int, default=0, help="stop the crawl at this RSS (0: off)"
    )
    limits.add_argument(
        "--memory-warning-mb", type=int, default=0, help="warn once at this RSS (0: off)"
    )
    limits.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="HOST",
        help="also crawl this host (repeatable; default: the start URL's host only)",
    )
    limits.add_argument("--user-agent", default=defaults.user_agent)
    parser.add_argument("--out", metavar="results.jsonl", help="append one JSON line per URL")
    parser.add_argument("--metrics", metavar="metrics.csv", help="write sampled metrics as CSV")
    parser.add_argument("--hosts", metavar="hosts.csv", help="write the per-host report as CSV")
    parser.add_argument("--quiet", action="store_true", help="no progress line")
    site = parser.add_argument_group("embedded test site (when no URL is given)")
    site.add_argument("--site-pages", type=int, default=1000)
    site.add_argument("--site-latency-ms", type=float, default=0.0)
    from core.observe.options import add_observability_arguments

    add_observability_arguments(parser)


def _settings_from(args: argparse.Namespace, url: str) -> CrawlSettings:
    return CrawlSettings(
        start_urls=(url,),
        threads=args.threads,
        strategy=args.strategy,
        max_spawned_threads=args.max_spawned_threads,
        pin_workers=args.pin_workers,
        max_pages=args.max_pages,
        max_depth=args.max_depth,
        frontier_size=args.frontier,
        connect_timeout=args.timeout,
        read_timeout=args.timeout,
        deadline=args.deadline,
        max_body_bytes=args.max_bytes,
        retries=args.retries,
        host_delay=args.delay,
        per_host_threads=args.per_host_threads,
        max_time=args.max_time,
        autothrottle=args.autothrottle,
        obey_robots=not args.no_robots,
        results_path=args.out,
        per_host_max_pages=args.per_host_max_pages,
        max_redirects=args.max_redirects,
        max_url_length=args.max_url_length,
        max_query_params=args.max_query_params,
        retry_after_cap=args.retry_after_cap,
        memory_limit_mb=args.memory_limit_mb,
        memory_warning_mb=args.memory_warning_mb,
        allowed_hosts=_scope(args.allow_host, url),
        user_agent=args.user_agent,
    )


def _scope(extra_hosts: list[str], url: str) -> tuple[str, ...]:
    """The start URL's host plus ``--allow-host`` ones; empty lets CrawlSettings derive it."""
    return (urlsplit(url).hostname or "", *extra_hosts) if extra_hosts else ()


def _run_crawl(args: argparse.Namespace) -> int:
    # Validate what can be validated before starting anything.
    try:
        _settings_from(args, args.url or "http://127.0.0.1/")
    except SettingsError as exc:
        print(f"threadscope crawl: error: {exc}", file=sys.stderr)
        return EXIT_USAGE

    from core.engine import Crawler
    from core.events import FetchFinished, Notice
    from core.observe.metrics import MetricsError
    from core.observe.options import Observability
    from core.sampler import MetricsSampler

    with ExitStack() as stack:
        try:
            observe = stack.enter_context(Observability.from_args(args, notify=_stderr_note))
        except MetricsError as exc:
            print(f"threadscope crawl: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        url = args.url
        if url is None:
            from core.testsite import TestSite

            site = stack.enter_context(
                TestSite(pages=args.site_pages, latency_ms=args.site_latency_ms)
            )
            url = site.url
            print(f"crawling the embedded test site at {url}", file=sys.stderr)
        settings = _settings_from(args, url)
        crawler = Crawler(settings)
        results = crawler.events.subscribe(maxlen=1_000_000)
        sampler = MetricsSampler(source=crawler)
        observe.watch_crawl(crawler, sampler)
        interrupts = _InterruptCounter()
        statuses: Counter[str] = Counter()
        error_kinds: Counter[str] = Counter()
        refused: list[str] = []  # robots.txt refusals: rows in the results, not fetched pages

        def tally() -> None:
            for event in results.drain():
                if isinstance(event, FetchFinished):
                    result = event.result
                    if result.error and result.error.kind == "robots":
                        refused.append(result.error.message)
                        continue
                    statuses[str(result.status) if result.status else "none"] += 1
                    if result.failed:  # as CrawlStats.errors counts them
                        kind = result.error.kind if result.error else f"HTTP {result.status}"
                        error_kinds[kind] += 1
                elif isinstance(event, Notice) and (event.level != "info" or not args.quiet):
                    progress.note(f"{event.level}: {event.message}")

        started = time.perf_counter()
        cpu_started = time.process_time()
        sampler.start()
        crawler.start()
        progress = _Progress(enabled=not args.quiet)
        try:
            with interrupts.installed():
                stopping = 0
                while not crawler.join(timeout=0.25):
                    if interrupts.count > stopping:
                        stopping = interrupts.count
                        crawler.stop()
                        progress.message(
                            "stopping… (Ctrl-C again to abandon in-flight requests)"
                            if stopping == 1
                            else "abandoning in-flight requests…"
                        )
                    tally()
                    progress.update(sampler.latest())
        finally:
            sampler.stop()
            sampler.join(2.0)
            progress.close()
        tally()
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        if args.metrics:
            sampler.to_csv(args.metrics)
        stats = crawler.stats()
        _print_summary(crawler.reason, stats, elapsed, cpu, sampler, statuses, error_kinds, refused)
        from core.hosts import format_table, save_csv

        hosts = crawler.hosts()
        print(format_table(hosts))
        if args.hosts:
            save_csv(hosts, args.hosts)
        if saved := observe.save_crawl(crawler, sampler):
            print(f"saved to history as {saved.id}")
        if crawler.reason.startswith("error"):
            return EXIT_ERROR
        return EXIT_INTERRUPTED if interrupts.count else EXIT_OK


def _print_summary(reason, stats, elapsed, cpu, sampler, statuses, error_kinds, refused) -> None:
    """Counts agree with ``CrawlStats``: ``pages`` are fetched URLs (errors among them:
    failed fetches and 4xx/5xx answers, see ``PageResult.failed``);
    URLs robots.txt refused were never fetched, so they are counted with the links a limit
    refused under ``skipped`` (they still get a results row with error kind ``robots``)."""
    pages = stats.pages
    rate = pages / elapsed if elapsed > 0 else 0.0
    cpu_ms = 1000 * cpu / pages if pages else 0.0
    rss = sampler.series("rss_mib")
    peak_rss = float(rss.max()) if len(rss) else 0.0
    peak_threads = sampler.series("py_threads")
    kinds = ", ".join(f"{k} {n}" for k, n in error_kinds.most_common())
    lines = [
        f"finished: {reason}",
        f"pages     {pages} in {elapsed:.2f} s ({rate:.0f} pages/s, {cpu_ms:.2f} CPU ms/page)",
        f"errors    {stats.errors}" + (f"  ({kinds})" if kinds else ""),
        f"skipped   {stats.skipped}  (robots.txt {len(refused)}, limits "
        f"{stats.skipped - len(refused)})" + (f": {refused[0]}" if refused else ""),
        f"status    {', '.join(f'{k}: {n}' for k, n in sorted(statuses.items())) or '-'}",
        f"bytes     {stats.bytes / 1_048_576:.1f} MiB",
        f"visited   {stats.visited} URLs, {stats.dropped_links} links dropped",
        f"peak      {peak_rss:.1f} MiB RSS, "
        f"{int(peak_threads.max()) if len(peak_threads) else 0} Python threads",
    ]
    print("\n".join(lines))


def _stderr_note(text: str) -> None:
    sys.stderr.write("\r\x1b[K" * sys.stderr.isatty() + text + "\n")
    sys.stderr.flush()


class _InterruptCounter:
    """Counts Ctrl-C presses instead of raising, so the crawl can stop gracefully."""

    def __init__(self) -> None:
        self.count = 0

    def _handle(self, signum, frame) -> None:
        self.count += 1

    def installed(self):
        previous = signal.getsignal(signal.SIGINT)
        stack = ExitStack()
        signal.signal(signal.SIGINT, self._handle)
        stack.callback(signal.signal, signal.SIGINT, previous)
        return stack


class _Progress:
    """One live line on a terminal; a line every few seconds when output is piped."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.tty = sys.stderr.isatty()
        self._last = 0.0

    def update(self, m: dict[str, float]) -> None:
        now = time.monotonic()
        if not self.enabled or not m or (not self.tty and now - self._last < 5.0):
            return
        self._last = now
        line = (
            f"pages {int(m['pages'])}  {m['pages_per_s']:.0f}/s  frontier {int(m['frontier'])}  "
            f"busy {int(m['busy_workers'])}  threads {int(m['py_threads'])}  "
            f"RSS {m['rss_mib']:.0f} MiB  errors {int(m['errors'])}"
        )
        self._write(line)

    def message(self, text: str) -> None:
        if self.enabled:
            self._write(text)

    def note(self, text: str) -> None:
        """A line that stays (a warning, a notice), above the live line, even when quiet."""
        sys.stderr.write(("\r\x1b[K" if self.tty else "") + text + "\n")
        sys.stderr.flush()

    def _write(self, line: str) -> None:
        if self.tty:
            sys.stderr.write("\r\x1b[K" + line)
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled and self.tty:
            sys.stderr.write("\n")


if __name__ == "__main__":
    sys.exit(main())
