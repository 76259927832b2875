"""``threadscope crawl [URL]``: a headless crawl with a live progress line and a summary.

Its flags are generated from ``core.settings.SETTINGS``: one per ``CrawlSettings`` field, with
the field's help, unit, range and default, so the CLI cannot drift from the settings.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections import Counter
from contextlib import ExitStack
from types import FrameType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from core.observe.options import add_observability_arguments
from core.settings import SETTINGS, CrawlSettings, Group, Kind, Setting
from core.settings_error import SettingsError

if TYPE_CHECKING:
    from core.sampler import MetricsSampler
    from core.stats import CrawlStats

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
SITE_PAGES, SITE_LATENCY_MS = 1000, 0.0
"""The embedded site a crawl with no URL starts: small and fast, so it ends in seconds."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("url", nargs="?", help="start URL; omit to crawl the embedded test site")
    limits = parser.add_argument_group("limits against hostile sites (see the README table)")
    for spec in SETTINGS.values():
        if spec.flag is not None and spec.flag.startswith("--"):
            group = limits if spec.group is Group.ADVANCED else parser
            group.add_argument(spec.flag, dest=spec.name, **_flag_options(spec))
    add_observability_arguments(parser)
    parser.add_argument(
        "--timeout",
        type=float,
        metavar="S",
        help="sets both --connect-timeout and --read-timeout, in seconds",
    )
    parser.add_argument("--metrics", metavar="metrics.csv", help="write sampled metrics as CSV")
    parser.add_argument("--hosts", metavar="hosts.csv", help="write the per-host report as CSV")
    parser.add_argument(
        "--quiet", action="store_true", help="warnings and errors only: no progress line"
    )
    site = parser.add_argument_group("embedded test site (when no URL is given)")
    site.add_argument(
        "--site-pages", type=int, default=SITE_PAGES, metavar="N", help="pages on the site"
    )
    site.add_argument(
        "--site-latency-ms",
        type=float,
        default=SITE_LATENCY_MS,
        metavar="MS",
        help="delay before each answer (default: %(default)s ms)",
    )


def _flag_options(spec: Setting) -> dict[str, Any]:
    """``add_argument`` options for one setting: its type, default, and help with unit and range."""
    summary = spec.summary.replace("%", "%%")  # argparse formats help with %
    if summary[1:2].islower():  # "Worker threads" -> "worker threads", "URLs waiting" stays
        summary = summary[0].lower() + summary[1:]
    words = [summary]
    if spec.bounds():
        words.append(f"{spec.bounds()} {spec.unit}".rstrip())
    if spec.live:
        words.append("changeable while running")
    shown = "%(default)s" + (f" {spec.unit}" if spec.unit else "")
    help_text = "; ".join(words) + f" (default: {shown})"
    if spec.kind is Kind.BOOL:
        action = argparse.BooleanOptionalAction
        return {"action": action, "default": spec.default, "help": help_text}
    if spec.kind is Kind.TEXTS:
        return {"action": "append", "default": [], "metavar": spec.metavar, "help": summary}
    if spec.kind is Kind.PATH:
        return {"metavar": spec.metavar, "help": summary}
    kind = {Kind.INT: int, Kind.FLOAT: float}.get(spec.kind, str)
    options: dict[str, Any] = {"type": kind, "default": spec.default, "help": help_text}
    if spec.choices:
        options["choices"] = spec.choices
    else:
        options["metavar"] = spec.metavar
    return options


def settings_from(args: argparse.Namespace, url: str) -> CrawlSettings:
    """The settings the flags describe, for ``url``; raises :class:`SettingsError`."""
    values = {
        name: getattr(args, name)
        for name, spec in SETTINGS.items()
        if spec.flag is not None and spec.flag.startswith("--")
    }
    if args.timeout is not None:
        values["connect_timeout"] = values["read_timeout"] = args.timeout
    values["allowed_hosts"] = _scope(values["allowed_hosts"], url)
    return CrawlSettings(start_urls=(url,), **values)


def _scope(extra_hosts: list[str], url: str) -> tuple[str, ...]:
    """The start URL's host plus ``--allow-host`` ones; empty lets CrawlSettings derive it."""
    return (urlsplit(url).hostname or "", *extra_hosts) if extra_hosts else ()


def main(args: argparse.Namespace) -> int:
    # Validate what can be validated before starting anything.
    try:
        settings_from(args, args.url or "http://127.0.0.1/")
    except SettingsError as exc:
        print(f"threadscope crawl: error: {exc}", file=sys.stderr)
        return EXIT_USAGE

    from core.engine import Crawler
    from core.events import FetchFinished, Marker, Notice
    from core.observe.metrics import MetricsError
    from core.observe.options import Observability
    from core.sampler import MetricsSampler

    progress = _Progress(enabled=not args.quiet)
    with ExitStack() as stack:
        try:
            observe = stack.enter_context(Observability.from_args(args, notify=progress.note))
        except MetricsError as exc:
            print(f"threadscope crawl: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        url = args.url
        if url is None:
            from core.testsite.process import TestSite

            site = stack.enter_context(
                TestSite(pages=args.site_pages, latency_ms=args.site_latency_ms)
            )
            url = site.url
            print(f"crawling the embedded test site at {url}", file=sys.stderr)
        settings = settings_from(args, url)
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
                elif isinstance(event, Marker) and not args.quiet:
                    progress.note(event.text)

        started = time.perf_counter()
        cpu_started = time.process_time()
        sampler.start()
        crawler.start()
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


def _print_summary(
    reason: str,
    stats: CrawlStats,
    elapsed: float,
    cpu: float,
    sampler: MetricsSampler,
    statuses: Counter[str],
    error_kinds: Counter[str],
    refused: list[str],
) -> None:
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


class _InterruptCounter:
    """Counts Ctrl-C presses instead of raising, so the crawl can stop gracefully."""

    def __init__(self) -> None:
        self.count = 0

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.count += 1

    def installed(self) -> ExitStack:
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
