"""What lock tracking costs: a lock-heavy micro-benchmark and a crawl with and without it.

``python -m bench.lock_cost [--pages 20000] [--pairs 5] [--json]`` runs both;
``micro()`` and ``crawl_cost(url, ...)`` are what ``make bench`` can call. Each crawl runs in a
fresh child process (``python -m bench.lock_cost child URL [--track-locks]``) that installs
tracking before it imports the engine, so every engine lock is a tracked one. The machine is
shared and drifts by minutes: runs alternate tracked/untracked in adjacent pairs, each pair
swaps which goes first, and the median pair ratio decides. The micro-benchmark counts
acquire/release pairs per CPU second of this process (other programs' load does not count).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

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
    """``measure(tracked)`` in adjacent pairs, alternating which runs first."""
    off: list[float] = []
    on: list[float] = []
    for i in range(pairs):
        for tracked in (False, True) if i % 2 == 0 else (True, False):
            (on if tracked else off).append(measure(tracked))
    ratios = sorted(b / a for a, b in zip(off, on, strict=True) if a)
    return {
        "untracked_per_s": statistics.median(off),
        "tracked_per_s": statistics.median(on),
        "pair_ratios": [round(r, 4) for r in ratios],
        "slowdown": 1 - statistics.median(ratios),
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


def _crawl_once(url: str, pages: int, tracked: bool) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.lock_cost", "child", url, "--pages", str(pages)]
    if tracked:
        command.append("--track-locks")
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=600)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def crawl_cost(url: str, pages: int = 20_000, pairs: int = 5) -> dict[str, Any]:
    """Pages/s of the engine crawling ``url``, untracked vs tracked (child process per run)."""
    runs: list[dict[str, Any]] = []

    def measure(tracked: bool) -> float:
        runs.append(_crawl_once(url, pages, tracked))
        return float(runs[-1]["pages"] / runs[-1]["seconds"])

    summary: dict[str, Any] = dict(_paired(measure, pairs))
    # CPU per page is steadier than pages/s on a shared machine: the cost is CPU, not waiting.
    cpu = {flag: [r["cpu_s"] / r["pages"] for r in runs if r["tracked"] == flag] for flag in (0, 1)}
    cpu_ratios = sorted(b / a for a, b in zip(cpu[0], cpu[1], strict=True))
    summary["cpu_ms_per_page"] = {
        "untracked": statistics.median(cpu[0]) * 1e3,
        "tracked": statistics.median(cpu[1]) * 1e3,
    }
    summary["cpu_pair_ratios"] = [round(r, 4) for r in cpu_ratios]
    summary["cpu_overhead"] = statistics.median(cpu_ratios) - 1
    tracked_runs = [r for r in runs if r["tracked"]]
    summary["acquisitions_per_page"] = statistics.median(
        r["acquisitions"] / r["pages"] for r in tracked_runs
    )
    summary["tracked_locks"] = statistics.median(r["locks_created"] for r in tracked_runs)
    return summary


def _child(url: str, pages: int, track_locks: bool) -> dict[str, Any]:
    if track_locks:
        locks.install()  # before the engine is imported: its module-level locks are tracked too
    from bench.engine_runner import crawl

    start, cpu_start = time.perf_counter(), time.process_time()
    fetched = crawl(url, concurrency=16, max_pages=pages)
    seconds, cpu_s = time.perf_counter() - start, time.process_time() - cpu_start
    sites = locks.snapshot()["sites"]
    return {
        "tracked": track_locks,
        "pages": fetched,
        "seconds": seconds,
        "cpu_s": cpu_s,
        "acquisitions": sum(s["acquisitions"] for s in sites),
        "locks_created": sum(s["created"] for s in sites),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.lock_cost")
    parser.add_argument("mode", nargs="?", choices=["all", "child"], default="all")
    parser.add_argument("url", nargs="?")
    parser.add_argument("--pages", type=int, default=20_000)
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--track-locks", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.mode == "child":
        print(json.dumps(_child(args.url, args.pages, args.track_locks)))
        return 0
    from core.testsite import TestSite

    report: dict[str, Any] = {"micro": micro(pairs=args.pairs)}
    with TestSite(pages=args.pages, latency_ms=0) as site:
        report["crawl"] = crawl_cost(site.url, args.pages, args.pairs)
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
