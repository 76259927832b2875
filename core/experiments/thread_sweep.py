"""Experiment 10: the same crawl at 1, 2, 4, ... 128 threads, and where more threads stop helping.

Each point crawls the embedded test site (its own process, ``LATENCY_MS`` per request) with
the ``bounded`` engine for a fixed time box, from the root, on a site too big to finish, so
every point measures the steady rate the same way. Per point: pages/s, the crawler's CPU ms
per page (``time.process_time``), the server's (psutil on the site's process), peak RSS and
Python threads (the monitor, which runs per point with ``variant="threads=N"``).

Bounds drawn beside the curve:
- latency bound ``threads / latency`` (Little's law: at most ``threads`` requests in flight,
  each taking at least the latency);
- crawler CPU bound ``1 / CPU per page``: under the GIL the crawl's Python work runs on one
  core at a time, so this is one core's worth;
- server CPU bound (same, for the test site) and the machine bound
  ``cores / (crawler + server CPU per page)``: both processes share this machine's cores.
pages/s follows the lowest bound; the knee is the first thread count within ``PLATEAU`` of
the best rate. Every point is published live as a ``SweepPoint`` through the monitor.
"""

from __future__ import annotations

import itertools
import math
import os
import threading
from collections.abc import Callable

import psutil

from core.events import SweepPoint
from core.experiments.base import Experiment, MeasureSpec, Outcome
from core.experiments.monitor import Monitor
from core.experiments.sweep import SweepResult
from core.experiments.timed_crawl import timed_crawl
from core.experiments.verdict import Stat
from core.settings import CrawlSettings
from core.testsite import TestSite

NAME = "thread-sweep"
PARAMETER = "threads"
LATENCY_MS = 20.0
MAX_THREADS = 128
SITE_PAGES = 5_000  # more than any point can crawl in its time box
POINT_SECONDS = 1.5
PLATEAU = 0.9  # a thread count within 10 % of the best rate has stopped gaining
EXPLAINED = 0.6  # a plateau at >= 60 % of a CPU-type bound is that bound's doing


def thread_counts(scale: float) -> list[int]:
    """1, 2, 4, ... up to ``MAX_THREADS * scale`` (at least up to 4)."""
    top = max(4.0, MAX_THREADS * scale)
    return [2**i for i in range(int(math.log2(top)) + 1)]


def _sweep(
    experiment: Experiment,
    scale: float,
    trials: int,
    monitor: Monitor,
    stop: threading.Event,
    on_outcome: Callable[[Outcome], None] | None,
) -> SweepResult:
    counts = thread_counts(scale)
    seconds = max(0.5, POINT_SECONDS * min(1.0, scale))
    points: list[Outcome] = []
    with TestSite(pages=max(200, round(SITE_PAGES * scale)), latency_ms=LATENCY_MS) as site:
        server = psutil.Process(site.pid)
        for trial in range(trials):  # whole sweeps repeated: drift spreads over every point
            for threads in counts:
                if stop.is_set():
                    break
                outcome = _point(site, server, threads, seconds, scale, monitor, stop)
                points.append(outcome)
                monitor.publish(
                    SweepPoint(
                        experiment=NAME,
                        parameter=PARAMETER,
                        x=threads,
                        trial=trial,
                        values=outcome.values,
                    )
                )
                if on_outcome:
                    on_outcome(outcome)
    if stop.is_set():
        return SweepResult(experiment, PARAMETER, tuple(points), "stopped", (), True)
    result = SweepResult(experiment, PARAMETER, tuple(points), "", (), False)
    verdict, findings = analyse(result)
    return SweepResult(experiment, PARAMETER, tuple(points), verdict, findings, False)


def _point(
    site: TestSite,
    server: psutil.Process,
    threads: int,
    seconds: float,
    scale: float,
    monitor: Monitor,
    stop: threading.Event,
) -> Outcome:
    settings = CrawlSettings((site.url,), threads=threads, obey_robots=False)
    variant = f"{PARAMETER}={threads}"
    with monitor.running(NAME, variant):
        monitor.probe(PARAMETER, lambda: threads)
        rate = timed_crawl(settings, seconds, server, monitor, stop)
    cpu_ms, server_ms = rate.cpu_ms_per_page, rate.server_cpu_ms_per_page
    values = {
        PARAMETER: float(threads),
        "pages_per_s": rate.pages_per_s,
        "latency_bound": threads * 1000 / LATENCY_MS,
        "cpu_bound": 1000 / cpu_ms if cpu_ms else 0.0,  # 0: too little CPU to measure
        "server_bound": 1000 / server_ms if server_ms else 0.0,
        "machine_bound": _cores() * 1000 / (cpu_ms + server_ms) if cpu_ms + server_ms else 0.0,
        "cpu_ms_per_page": cpu_ms,
        "server_cpu_ms_per_page": server_ms,
        "peak_rss_mib": monitor.peak("rss_mib"),
        "peak_threads": monitor.peak("py_threads"),
        "pages": float(rate.pages),
    }
    return Outcome(
        experiment=NAME,
        variant=variant,  # type: ignore[arg-type]  # a sweep point, not bad/fixed
        scale=scale,
        values=values,
        duration_s=rate.elapsed_s,
        stopped=stop.is_set(),
        samples=tuple(monitor.samples()),
    )


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


_BOUND_NAMES = {
    "cpu_bound": "the crawler's CPU bound (1 / CPU per page, one core under the GIL)",
    "server_bound": "the test site's CPU bound",
    "machine_bound": "the machine bound (cores / both processes' CPU per page)",
}


def analyse(result: SweepResult) -> tuple[str, tuple[str, ...]]:
    """Where pages/s stopped growing, which bound explains it, and the claim's verdict."""
    xs = result.xs()
    rate = {x: result.stat(x, "pages_per_s") for x in xs}
    best_x = max(xs, key=lambda x: rate[x].mean)
    best = rate[best_x].mean
    knee = next(x for x in xs if rate[x].mean >= PLATEAU * best)
    findings: list[str] = []

    # 1. under the latency bound, more threads should mean more pages/s
    floor = {x: _lowest(result, [x])[1] for x in xs}
    steps = [  # pairs well under the latency bound: it is at most half the lowest CPU bound
        (a, b) for a, b in itertools.pairwise(xs) if b * 1000 / LATENCY_MS <= floor[b] / 2
    ]
    grew = [_gain(rate[a], rate[b]) for a, b in steps]
    one = rate[xs[0]].mean
    findings.append(
        f"1 thread: {one:,.0f} pages/s against a latency bound of {1000 / LATENCY_MS:,.0f} "
        f"(each request takes about {1000 / one:.1f} ms, latency {LATENCY_MS:g} ms included)."
        if one
        else "1 thread crawled nothing."
    )
    if steps:
        text = ", ".join(f"{a:g}→{b:g}: {g}" for (a, b), g in zip(steps, grew, strict=True))
        findings.append(f"Under the latency bound, doubling the threads: {text}.")

    # 2. the plateau and the bound that explains it (None: no plateau, or nothing measurable)
    explained: bool | None = None
    name, lowest = _lowest(result, [best_x])  # the bounds where the plateau peaks
    if knee == xs[-1] and len(xs) > 1:
        findings.append(
            f"pages/s still grew at the top of the sweep ({xs[-1]:g} threads, {best:,.0f} "
            f"pages/s): no plateau within it."
        )
    elif not name:
        findings.append("Too little CPU was used to measure a CPU bound.")
    else:
        share = best / lowest
        explained = share >= EXPLAINED
        bounds = "; ".join(
            f"{_BOUND_NAMES[b]} {v:,.0f}"
            for b in _BOUND_NAMES
            if (v := result.stat(best_x, b).mean) > 0
        )
        findings.append(
            f"More threads stopped helping at {knee:g} threads ({rate[knee].mean:,.0f} pages/s; "
            f"best {best:,.0f} at {best_x:g}, where the latency bound was "
            f"{best_x * 1000 / LATENCY_MS:,.0f}). There: {bounds}. The lowest, "
            f"{_BOUND_NAMES[name]}, "
            + (
                f"explains the plateau: pages/s reached {share:.0%} of it."
                if explained
                else f"does not explain the plateau: pages/s reached only {share:.0%} of it."
            )
        )
    if best_x != xs[-1]:
        top = xs[-1]
        cpu_best = result.stat(best_x, "cpu_ms_per_page").mean
        cpu_top = result.stat(top, "cpu_ms_per_page").mean
        findings.append(
            f"Past the best, {top:g} threads crawled {rate[top].mean:,.0f} pages/s "
            f"({rate[top].mean / best - 1:+.0%}) while CPU per page went from {cpu_best:.2f} to "
            f"{cpu_top:.2f} ms: more threads cost CPU (switching, GIL hand-offs) for no pages."
        )
    rss_low, rss_high = result.stat(xs[0], "peak_rss_mib"), result.stat(xs[-1], "peak_rss_mib")
    findings.append(
        f"Peak RSS {rss_low.mean:.1f} MiB at {xs[0]:g} thread(s), {rss_high.mean:.1f} MiB at "
        f"{xs[-1]:g} (process-wide; the allocator keeps freed memory, so later points carry "
        f"earlier ones)."
    )
    if any(g.startswith("fell") for g in grew) or explained is False:
        verdict = "contradicted"
    elif grew and all(g.startswith("grew") for g in grew) and explained:
        verdict = "holds"
    else:
        verdict = "not significant"
    if min(rate[x].n for x in xs) < 2:
        findings.append("One trial cannot show spread; repeat with more trials.")
    return verdict, tuple(findings)


def _lowest(result: SweepResult, xs: list[float]) -> tuple[str, float]:
    """The lowest CPU-type bound measured at these points (bounds of 0 were not measurable)."""
    measured = {b: v for b in _BOUND_NAMES if (v := min(result.stat(x, b).mean for x in xs)) > 0}
    if not measured:
        return "", math.inf
    name = min(measured, key=measured.__getitem__)
    return name, measured[name]


def _gain(low: Stat, high: Stat) -> str:
    """'grew x%', 'fell x%' (beyond twice the standard error) or 'flat x%' (not significant)."""
    change = (high.mean - low.mean) / low.mean if low.mean else math.inf
    error = math.sqrt(low.stdev**2 / max(low.n, 1) + high.stdev**2 / max(high.n, 1))
    significant = min(low.n, high.n) >= 2 and abs(high.mean - low.mean) > 2 * error
    word = ("grew" if change > 0 else "fell") if significant else "flat"
    return f"{word} {change:+.0%}"


EXPERIMENT = Experiment(
    name=NAME,
    summary="the same crawl at 1, 2, 4 … 128 threads: pages/s and RSS against the bounds",
    claim=(
        "With a fixed latency per request, pages/s grows with threads while threads / latency "
        "(Little's law) is the lowest bound, and stops growing once it reaches the CPU bound "
        "(1 / CPU per page, one core under the GIL): past that point more threads add memory, "
        "not pages/s."
    ),
    bad="few threads: the crawl waits on latency",
    fixed=f"up to {MAX_THREADS} threads: the crawl meets a CPU bound",
    measures=(
        MeasureSpec("pages_per_s", "pages/s", "crawled", better="higher", key=True),
        MeasureSpec("latency_bound", "pages/s", "latency bound"),
        MeasureSpec("cpu_bound", "pages/s", "CPU bound"),
        MeasureSpec("server_bound", "pages/s", "server bound"),
        MeasureSpec("machine_bound", "pages/s", "machine bound"),
        MeasureSpec("cpu_ms_per_page", "ms", "CPU/page"),
        MeasureSpec("peak_rss_mib", "MiB", "peak RSS"),
        MeasureSpec("peak_threads", "threads", "Python threads"),
    ),
    sweep=_sweep,
)
