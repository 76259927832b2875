"""The measurements of issues 5, 11, 12 and 13, each returning plain data for the report."""

from __future__ import annotations

import csv
import hashlib
import math
import shutil
import statistics
import tempfile
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from bench import pairs, profile
from bench.measure import ChildFailed, CrawlRun, run_crawl, run_json
from bench.plan import Plan, available_crawlers


class Skipped(Exception):
    """A section that cannot run here; the message says why, the report shows it."""


class Server:
    """A running site, its own count of pages served, and its process (for its CPU time)."""

    def __init__(self, name: str, url: str, served: Callable[[], int], pid: int) -> None:
        self.name, self.url, self.served, self.pid = name, url, served, pid


def embedded(pages: int, latency_ms: float) -> AbstractContextManager:
    from core.testsite import TestSite

    return TestSite(pages=pages, latency_ms=latency_ms)


def embedded_server(site, latency_ms: float) -> Server:
    name = f"embedded site, {latency_ms:g} ms"
    return Server(name, site.url, lambda: site.stats()["pages_served"], site.pid)


def exported_site(pages: int) -> Path:
    """The static export nginx serves, cached per page count and site generator version."""
    from core.testsite.export import export_site
    from core.testsite.site import SiteConfig

    source = Path(__file__).resolve().parent.parent / "core" / "testsite" / "site.py"
    version = hashlib.sha1(source.read_bytes()).hexdigest()[:10]
    root = Path(tempfile.gettempdir()) / f"threadscope-bench-site-{pages}-{version}"
    stamp = root / ".complete"
    if not stamp.exists():
        export_site(SiteConfig(pages=pages), root)
        stamp.touch()
    return root


def crawl(plan: Plan, crawler: str, server: Server, threads: int | None = None, **kw) -> CrawlRun:
    return run_crawl(
        crawler,
        server.url,
        threads or plan.threads,
        kw.pop("max_pages", plan.pages),
        server.served,
        server.name,
        server_pid=server.pid,
        **kw,
    )


def throughput(
    plan: Plan, server: Server, crawlers: tuple[str, ...], repeats: int = 1
) -> list[dict]:
    """``repeats`` rounds over the crawlers; per crawler the run with the median pages/s.

    Rounds, not one crawler's runs back to back, so a slow spell of the machine hits every
    crawler alike. A crawler that fails is a row with its error, the others go on.
    """
    runs: dict[str, list[dict]] = {name: [] for name in crawlers}
    failed: dict[str, dict] = {}
    for _ in range(repeats):
        for name in crawlers:
            if name in failed:
                continue
            try:
                runs[name].append(crawl(plan, name, server).as_dict())
            except ChildFailed as exc:
                failed[name] = {"crawler": name, "server": server.name, "error": str(exc)[-600:]}
    rows = []
    for name in crawlers:
        if name in failed:
            rows.append(failed[name])
            continue
        ranked = sorted(runs[name], key=lambda r: r["pages_per_s"])
        row = dict(ranked[(len(ranked) - 1) // 2])
        row["runs_pages_per_s"] = [r["pages_per_s"] for r in runs[name]]
        rows.append(row)
    return rows


def scaling(plan: Plan, server: Server) -> list[CrawlRun]:
    """Engine pages/s per thread count; each point sized to last about ``scaling_seconds``."""
    runs = []
    for threads in plan.scaling_threads:
        bound = threads / (plan.latency_ms / 1000)
        pages = min(plan.pages, max(100, int(bound * plan.scaling_seconds)))
        runs.append(crawl(plan, "engine", server, threads, max_pages=pages))
    return runs


def cpu_by_threads(plan: Plan, server: Server) -> list[CrawlRun]:
    """Engine on the zero-latency server: what more threads cost per page (GIL hand-offs),
    with its threads on one core and on all of them."""
    pair = ("engine", "engine-unpinned")
    return [  # which goes first alternates: the first run after a section change runs slower
        crawl(plan, name, server, threads)
        for i, threads in enumerate(plan.cpu_threads)
        for name in (pair if i % 2 else pair[::-1])
    ]


def overhead(plan: Plan, server: Server) -> dict:
    """Engine with monitoring off and on in adjacent pairs; the median pair decides.

    The crawl is CPU-bound (zero latency, about one core under the GIL), so what monitoring
    costs is CPU: the pairs' CPU-per-page ratios measure it too, and move less than pages/s
    when other programs share the cores.
    """
    pages = plan.overhead_pages
    off, on = pairs.alternating(
        lambda monitored: crawl(
            plan, "engine", server, max_pages=pages, extra=["--monitoring"] if monitored else []
        ),
        plan.overhead_repeats,
    )
    ratios = pairs.ratios([r.pages_per_s for r in off], [r.pages_per_s for r in on])
    cpu = pairs.ratios([r.cpu_ms_per_page for r in off], [r.cpu_ms_per_page for r in on])
    return {
        "server": server.name,
        "off": [r.as_dict() for r in off],
        "on": [r.as_dict() for r in on],
        "pages_per_s_off": pairs.median([r.pages_per_s for r in off]),
        "pages_per_s_on": pairs.median([r.pages_per_s for r in on]),
        "pair_ratios": ratios,
        "slowdown": 1 - pairs.median(ratios),
        "cpu_pair_ratios": cpu,
        "cpu_overhead": pairs.median(cpu) - 1,
    }


def agent_cost(plan: Plan) -> dict:
    """What ``threadscope run``'s agent costs a CPU-bound and an I/O-bound program (issue 12)."""
    from bench import agent_cost

    return {
        "pairs": plan.agent_pairs,
        "programs": agent_cost.measure(plan.agent_pairs, scale=plan.agent_scale),
    }


def lock_cost(plan: Plan, server: Server) -> dict:
    """Lock tracking: acquisitions/s plain vs tracked, and the engine's crawl (issue 13)."""
    from bench import lock_cost

    def run(tracked: bool) -> CrawlRun:
        extra = ["--track-locks"] if tracked else []
        return crawl(plan, "engine", server, max_pages=plan.lock_pages, extra=extra)

    return {
        "server": server.name,
        "pairs": plan.lock_pairs,
        "micro": lock_cost.micro(plan.lock_ops, plan.lock_pairs),
        "crawl": lock_cost.crawl_cost(run, plan.lock_pairs),
    }


def site_variants(plan: Plan) -> list[dict]:
    """Engine and aiohttp on each variant site (issue 11), in alternating pairs.

    Each tree is written just before its runs and removed after (the large pages take
    ~320 MB), in a directory nginx's worker (user nobody when run as root) can read.
    """
    from bench import variants
    from bench.nginx import Nginx, nginx_binary

    if nginx_binary() is None:
        raise Skipped("nginx is not installed")
    if "aiohttp" not in available_crawlers():
        raise Skipped("aiohttp is not installed (it comes with the bench extra)")
    rows = []
    for variant in variants.VARIANTS:
        root = Path(tempfile.mkdtemp(prefix="threadscope-bench-variant-"))
        root.chmod(0o755)
        with Nginx(root, hosts=variant.hosts) as server:
            variants.write(variant, plan.variant_pages, root, server.urls)
            site = Server(f"nginx, {variant.name}", server.url, server.pages_served, server.pid)
            aio, engine = pairs.alternating(
                lambda is_engine, s=site: crawl(
                    plan, "engine" if is_engine else "aiohttp", s, max_pages=plan.variant_pages
                ),
                plan.variant_pairs,
            )
        shutil.rmtree(root, ignore_errors=True)
        ratios = pairs.ratios([r.pages_per_s for r in aio], [r.pages_per_s for r in engine])
        rows.append(
            {
                "variant": variant.name,
                "description": variant.description,
                "pages": plan.variant_pages,
                "engine": [r.as_dict() for r in engine],
                "aiohttp": [r.as_dict() for r in aio],
                "pair_ratios": ratios,
                "ratio": pairs.median(ratios),
            }
        )
    return rows


def window(plan: Plan) -> dict:
    return _window_probe(["--quick"] if plan.quick else [])


def window_stop(plan: Plan) -> dict:
    """The window's Stop button, with as many hung requests and trials as ``stop_latency``."""
    args = ["stop", "--threads", str(plan.stop_threads), "--trials", str(plan.stop_trials)]
    return _with_percentiles(_window_probe(args))


def _window_probe(args: list[str]) -> dict:
    return run_json(
        ["bench.window_probe", *args], timeout=300, env={"QT_QPA_PLATFORM": "offscreen"}
    )


def visited(plan: Plan) -> dict:
    return run_json(["bench.probes", "visited", str(plan.visited_urls)], timeout=600)


def long_crawl(plan: Plan, workdir: Path) -> dict:
    """RSS across a long crawl of the embedded site, from the engine's own sampler."""
    metrics = workdir / "long-crawl-metrics.csv"
    with embedded(plan.long_pages, 0) as site:
        server = embedded_server(site, 0)
        run = crawl(
            plan, "engine", server, max_pages=plan.long_pages, extra=["--metrics", str(metrics)]
        )
    with metrics.open() as handle:
        rows = [(float(r["pages"]), float(r["rss_mib"])) for r in csv.DictReader(handle)]
    pages = [p for p, _ in rows]
    rss = [m for _, m in rows]
    after = [m for p, m in rows if p >= plan.long_warmup]
    at_warmup = after[0] if after else float("nan")
    return {
        "run": run.as_dict(),
        "pages": pages,
        "rss_mib": rss,
        "warmup_pages": plan.long_warmup,
        "rss_at_warmup_mib": at_warmup,
        "rss_max_after_mib": max(after) if after else float("nan"),
        "rss_end_mib": rss[-1] if rss else float("nan"),
        "growth": (max(after) / at_warmup - 1) if after else float("nan"),
    }


def stop_latency(plan: Plan) -> dict:
    with embedded(10, 0) as site:
        args = ["bench.probes", "stop", site.url, "--threads", str(plan.stop_threads)]
        result = run_json([*args, "--trials", str(plan.stop_trials)], timeout=600)
    return _with_percentiles(result)


def _with_percentiles(result: dict) -> dict:
    """``result`` with the p50, p99 and max of its ``seconds``."""
    seconds = sorted(result["seconds"])
    result.update(p50=statistics.median(seconds), p99=_percentile(seconds, 0.99), max=seconds[-1])
    return result


def engine_profile(plan: Plan, server: Server, workdir: Path) -> dict:
    binary = profile.py_spy()
    if binary is None:
        raise Skipped("py-spy is not installed (it comes with the bench extra)")
    raw = workdir / "engine-profile.txt"
    run = crawl(plan, "engine", server, prefix=profile.record_prefix(binary, raw))
    folded = profile.fold(raw)
    folded["run"] = run.as_dict()
    folded["rate_hz"] = profile.RATE_HZ
    return folded


def _percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile; with 20 trials p99 is the slowest one."""
    rank = max(1, min(len(ordered), math.ceil(q * len(ordered))))
    return ordered[rank - 1]
