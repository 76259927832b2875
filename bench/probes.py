"""Measurements that are not a plain crawl, each run in a fresh process by ``bench.run``.

``python -m bench.probes visited N`` and ``python -m bench.probes stop URL --threads T
--trials K`` print one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import tracemalloc


def visited(n: int) -> dict:
    """VisitedSet bytes per URL at ``n`` URLs (tracemalloc) and its false positives."""
    from core.urls import fingerprint
    from core.visited import VisitedSet

    template = "http://127.0.0.1:8080/page/{}?from=bench"
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    store = VisitedSet()
    added = sum(store.add(fingerprint(template.format(i))) for i in range(n))
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    unseen = sum(fingerprint(template.format(i)) in store for i in range(n, 2 * n))
    return {
        "urls": n,
        "bytes_per_url": (current - before) / n,
        "peak_bytes_per_url": (peak - before) / n,
        "nbytes_per_url": store.nbytes / n,
        "new_reported_seen": n - added,  # new URLs that add() called duplicates
        "unseen_reported_seen": unseen,  # URLs never added that test as present
        "len_ok": len(store) == n,
    }


def stop(url: str, threads: int, trials: int) -> dict:
    """``stop()`` + ``join()`` with every worker blocked on the never-answering route."""
    from core.engine import Crawler
    from core.settings import CrawlSettings

    baseline = threading.active_count()
    latencies, stuck, left = [], 0, []
    for trial in range(trials):
        starts = tuple(f"{url}trap/never-answer?bench={trial}-{i}" for i in range(threads))
        settings = CrawlSettings(
            start_urls=starts,
            threads=threads,
            per_host_threads=threads,  # one host: every request in flight at once
            obey_robots=False,
            retries=0,
            read_timeout=60,
            deadline=60,
        )
        crawler = Crawler(settings)
        crawler.start()
        deadline = time.monotonic() + 20
        while crawler.stats().in_flight < threads and time.monotonic() < deadline:
            time.sleep(0.01)  # polling the engine's counter, bounded; not a sync-by-sleep
        if crawler.stats().in_flight < threads:
            stuck += 1
        t0 = time.perf_counter()
        crawler.stop()
        joined = crawler.join(5.0)
        latencies.append(time.perf_counter() - t0)
        left.append(threading.active_count() - baseline if joined else -1)
    return {
        "threads": threads,
        "trials": trials,
        "seconds": latencies,
        "not_all_in_flight": stuck,
        "threads_left": left,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.probes")
    sub = parser.add_subparsers(dest="probe", required=True)
    v = sub.add_parser("visited")
    v.add_argument("urls", type=int)
    s = sub.add_parser("stop")
    s.add_argument("url")
    s.add_argument("--threads", type=int, default=64)
    s.add_argument("--trials", type=int, default=20)
    args = parser.parse_args(argv)
    if args.probe == "visited":
        result = visited(args.urls)
    else:
        result = stop(args.url, args.threads, args.trials)
    sys.stdout.write("\n" + json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
