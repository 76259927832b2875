"""The measurements of issue 5, each returning plain data for the report and the plots."""

from __future__ import annotations

import csv
import hashlib
import math
import statistics
import tempfile
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from bench import profile
from bench.measure import ChildFailed, CrawlRun, run_crawl, run_json
from bench.plan import Plan


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

    A pair's two runs are seconds apart, so the machine's drift (this VM's speed moves by
    ±5 % between minutes) cancels within it, which medians over all runs do not achieve.
    """
    off, on = [], []
    pages = plan.overhead_pages
    for _ in range(plan.overhead_repeats):
        off.append(crawl(plan, "engine", server, max_pages=pages))
        on.append(crawl(plan, "engine", server, max_pages=pages, extra=["--monitoring"]))
    rate_off = statistics.median(r.pages_per_s for r in off)
    rate_on = statistics.median(r.pages_per_s for r in on)
    pairs = zip(off, on, strict=True)
    ratios = sorted(b.pages_per_s / a.pages_per_s for a, b in pairs if a.pages_per_s)
    return {
        "server": server.name,
        "off": [r.as_dict() for r in off],
        "on": [r.as_dict() for r in on],
        "pages_per_s_off": rate_off,
        "pages_per_s_on": rate_on,
        "pair_ratios": ratios,
        "slowdown": 1 - statistics.median(ratios) if ratios else float("nan"),
    }


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
