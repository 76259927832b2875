"""Command line of the test site: ``python -m core.testsite`` or ``threadscope testsite``.

The first line printed on stdout is the base URL (flushed); nothing else goes to stdout.
``python -m core.testsite export DIR ...`` (or ``--export DIR``) writes the site as static files.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from core.cli_help import HelpFormatter
from core.settings_error import SettingsError
from core.testsite.site import ROBOTS_MODES, TRAPS, SiteConfig


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of the test site, so ``threadscope testsite`` can mount them."""
    d = SiteConfig()
    add = parser.add_argument
    add("--pages", type=int, default=d.pages, help="number of pages")
    add(
        "--latency-ms",
        type=float,
        default=d.latency_ms,
        metavar="MS",
        help=_ms("delay before each answer"),
    )
    add(
        "--jitter-ms",
        type=float,
        default=d.jitter_ms,
        metavar="MS",
        help=_ms("latency varies by +/-"),
    )
    add("--port", type=int, default=d.port, help="port to listen on; 0 picks a free one")
    add("--host", default=d.host, help="address to listen on")
    add("--seed", type=int, default=d.seed, help="seed of the synthetic site")
    add("--links-per-page", type=int, default=d.links_per_page, help="links on each page")
    add(
        "--page-bytes",
        type=int,
        default=d.page_bytes,
        metavar="BYTES",
        help="approximate size of each page, bytes",
    )
    add(
        "--error-rate",
        type=float,
        default=d.error_rate,
        help="share of pages answering 500, 0 to 1",
    )
    add(
        "--traps",
        nargs="?",
        const="all",
        default="",
        metavar="NAMES",
        help="link the /trap/ index from / (or only these comma-separated traps: "
        + ", ".join(TRAPS)
        + ")",
    )
    add("--private-pages", type=int, default=0, help="pages under /private/ linked from /")
    add("--robots", choices=ROBOTS_MODES, default=d.robots, help="robots.txt behaviour")
    add(
        "--robots-disallow",
        action="append",
        metavar="PREFIX",
        help="Disallow prefix in robots.txt, repeatable (default /private/; '' for none)",
    )
    add(
        "--crawl-delay",
        type=float,
        default=None,
        metavar="S",
        help="Crawl-delay line in robots.txt, seconds",
    )
    add("--export", metavar="DIR", help="write the site as static files to DIR and exit")
    add("--origin", help="with --export: origin used for absolute links (default: none)")
    add("--nginx-port", type=int, default=8080, help="with --export: port in DIR/nginx.conf")
    add("--exit-on-stdin-eof", action="store_true", help=argparse.SUPPRESS)


def _ms(text: str) -> str:
    return text + " (default: %(default)s ms)"


def config_from_args(args: argparse.Namespace) -> SiteConfig:
    disallow = ("/private/",) if args.robots_disallow is None else args.robots_disallow
    return SiteConfig(
        pages=args.pages,
        links_per_page=args.links_per_page,
        page_bytes=args.page_bytes,
        latency_ms=args.latency_ms,
        jitter_ms=args.jitter_ms,
        error_rate=args.error_rate,
        seed=args.seed,
        traps=tuple(t for t in args.traps.split(",") if t),
        private_pages=args.private_pages,
        robots=args.robots,
        robots_disallow=tuple(p for p in disallow if p),
        crawl_delay=args.crawl_delay,
        host=args.host,
        port=args.port,
    )


def config_to_argv(config: SiteConfig) -> list[str]:
    """The flags that make the child process serve ``config``."""
    argv = [
        f"--pages={config.pages}",
        f"--links-per-page={config.links_per_page}",
        f"--page-bytes={config.page_bytes}",
        f"--latency-ms={config.latency_ms}",
        f"--jitter-ms={config.jitter_ms}",
        f"--error-rate={config.error_rate}",
        f"--seed={config.seed}",
        f"--private-pages={config.private_pages}",
        f"--robots={config.robots}",
        f"--host={config.host}",
        f"--port={config.port}",
    ]
    if config.traps:
        argv.append("--traps=" + ",".join(config.traps))
    argv += [f"--robots-disallow={p}" for p in config.robots_disallow or ("",)]
    if config.crawl_delay is not None:
        argv.append(f"--crawl-delay={config.crawl_delay}")
    return argv


def run(args: argparse.Namespace) -> int:
    try:
        config = config_from_args(args)
    except SettingsError as exc:
        print(f"testsite: error: {exc}", file=sys.stderr)
        return 2
    if args.export:
        from core.testsite.export import export_site

        count = export_site(config, args.export, origin=args.origin, nginx_port=args.nginx_port)
        print(f"wrote {count} files to {args.export}", flush=True)
        return 0
    import asyncio

    from core.testsite.server import serve

    def announce(url: str) -> None:
        print(url, flush=True)

    try:
        asyncio.run(serve(config, announce, args.exit_on_stdin_eof))
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        where = f"{config.host}:{config.port}"
        print(f"testsite: error: cannot listen on {where}: {exc}", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | argparse.Namespace | None = None) -> int:
    """Entry point; also accepts the Namespace parsed by ``threadscope testsite``."""
    if isinstance(argv, argparse.Namespace):
        return run(argv)
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["export"] and len(argv) > 1:
        argv = ["--export", argv[1], *argv[2:]]
    parser = argparse.ArgumentParser(
        prog="python -m core.testsite",
        formatter_class=HelpFormatter,
        description="Serve Threadscope's deterministic test site (or export it: export DIR).",
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))
