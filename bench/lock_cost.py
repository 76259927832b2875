"""What lock tracking costs: a lock-heavy micro-benchmark and a crawl with and without it.

``make bench`` runs both (section "Lock-tracking cost", on nginx);
``python -m bench.lock_cost [--pages 20000] [--pairs 5] [--json]`` runs them alone against the
embedded site. Each crawl runs in a fresh ``bench.child`` process, as every bench crawl does.
The machine is shared and drifts by minutes: runs alternate tracked/untracked in adjacent
pairs (:mod:`bench.pairs`) and the median pair ratio decides. The micro-benchmark counts
acquire/release pairs per CPU second of this process (other programs' load does not count).
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from bench.measure import CrawlRun
from bench.pairs import alternating, median, ratios
from core.agent import locks

CONTENDING_THREADS = 4


def _uncontended(lock: Any, n: int) -> float:
    start = time.process_time()
    for _ in range(n):
        with lock:
            pass
    return n / (time.process_time() - start)


def _contended(lock: Any, n: int) -> float:
    """Acquire/release pairs per second over ``CONTENDING_THREADS`` threads sharing one lock."""
    per_thread = n // CONTENDING_THREADS
    go = threading.Barrier(CONTENDING_THREADS + 1)

    def hammer() -> None:
        go.wait()
        for _ in range(per_thread):
            with lock:
                pass

    threads = [threading.Thread(target=hammer) for _ in range(CONTENDING_THREADS)]
    for thread in threads:
        thread.start()
    go.wait()
    start = time.process_time()
    for thread in threads:
        thread.join()
    return per_thread * CONTENDING_THREADS / (time.process_time() - start)


def _paired(measure: Callable[[bool], float], pairs: int) -> dict[str, float | list[float]]:
    off, on = alternating(measure, pairs)
    pair_ratios = ratios(off, on)
    return {
        "untracked_per_s": median(off),
        "tracked_per_s": median(on),
        "pair_ratios": [round(r, 4) for r in pair_ratios],
        "slowdown": 1 - median(pair_ratios),
    }


def micro(n: int = 200_000, pairs: int = 7) -> dict[str, dict[str, float | list[float]]]:
    """Acquire/release per second, plain vs tracked, for Lock and RLock, alone and contended."""
    import _thread

    kinds = {
        "Lock": (_thread.allocate_lock, locks.TrackedLock),
        "RLock": (_thread.RLock, locks.TrackedRLock),
    }
    results = {}
    for kind, (plain, tracked) in kinds.items():
        for name, run in (("uncontended", _uncontended), ("contended", _contended)):
            results[f"{kind} {name}"] = _paired(
                lambda on, p=plain, t=tracked, r=run: r(t() if on else p(), n), pairs
            )
    return results


def crawl_cost(crawl: Callable[[bool], CrawlRun], pairs: int = 5) -> dict[str, Any]:
    """The engine's crawl untracked vs tracked; ``crawl(tracked)`` runs one in a fresh child
    (``bench.child engine URL [--track-locks]``, which installs tracking before it imports
    the engine, so every engine lock is a tracked one)."""
    off, on = alternating(crawl, pairs)
    rates = ratios([r.pages_per_s for r in off], [r.pages_per_s for r in on])
    # CPU per page is steadier than pages/s on a shared machine: the cost is CPU, not waiting.
    cpu = ratios([r.cpu_ms_per_page for r in off], [r.cpu_ms_per_page for r in on])
    return {
        "untracked": [r.as_dict() for r in off],
        "tracked": [r.as_dict() for r in on],
        "untracked_per_s": median([r.pages_per_s for r in off]),
        "tracked_per_s": median([r.pages_per_s for r in on]),
        "pair_ratios": [round(r, 4) for r in rates],
        "slowdown": 1 - median(rates),
        "cpu_ms_per_page": {
            "untracked": median([r.cpu_ms_per_page for r in off]),
            "tracked": median([r.cpu_ms_per_page for r in on]),
        },
        "cpu_pair_ratios": [round(r, 4) for r in cpu],
        "cpu_overhead": median(cpu) - 1,
        "acquisitions_per_page": median([r.lock_acquisitions / r.served for r in on if r.served]),
        "tracked_locks": median([float(r.locks_created) for r in on]),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.lock_cost", description=__doc__)
    parser.add_argument("--pages", type=int, default=20_000)
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    from bench import sections
    from bench.plan import FULL

    plan = replace(FULL, pages=args.pages)
    report: dict[str, Any] = {"micro": micro(pairs=args.pairs)}
    with sections.embedded(args.pages, 0) as site:
        server = sections.embedded_server(site, 0)

        def crawl(tracked: bool) -> CrawlRun:
            extra = ["--track-locks"] if tracked else []
            return sections.crawl(plan, "engine", server, extra=extra)

        report["crawl"] = crawl_cost(crawl, args.pairs)
    if args.json:
        print(json.dumps(report))
        return 0
    for name, row in report["micro"].items():
        print(
            f"{name:18} {row['untracked_per_s']:>12,.0f}/s untracked  "
            f"{row['tracked_per_s']:>12,.0f}/s tracked  slowdown {row['slowdown']:.1%}"
        )
    crawl = report["crawl"]
    print(
        f"crawl of {args.pages} pages: {crawl['untracked_per_s']:,.0f} pages/s untracked, "
        f"{crawl['tracked_per_s']:,.0f} tracked, slowdown {crawl['slowdown']:.1%} "
        f"(median of {args.pairs} pairs {crawl['pair_ratios']}); "
        f"CPU per page {crawl['cpu_ms_per_page']['untracked']:.3f} vs "
        f"{crawl['cpu_ms_per_page']['tracked']:.3f} ms, +{crawl['cpu_overhead']:.1%} "
        f"(pairs {crawl['cpu_pair_ratios']}); "
        f"{crawl['acquisitions_per_page']:.1f} tracked acquisitions per page"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
