"""Run one crawler in this process and print one JSON line with what it cost.

``python -m bench.child NAME URL --concurrency 16 --max-pages 20000``. The parent starts a fresh
process per run, so the CPU time and peak RSS reported here belong to that crawler alone.
"""

from __future__ import annotations

import argparse
import importlib
import json
import resource
import sys
import time

CRAWLERS = {
    "naive": "bench.baselines.naive",
    "threaded": "bench.baselines.threaded",
    "aiohttp": "bench.baselines.aio",
    "scrapy": "bench.baselines.scrapy_crawler",
    "engine": "bench.engine_runner",
    "engine-unpinned": "bench.engine_runner",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.child")
    parser.add_argument("crawler", choices=sorted(CRAWLERS))
    parser.add_argument("url")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--max-pages", type=int, default=1_000_000)
    parser.add_argument("--monitoring", action="store_true", help="engine: sampler + events on")
    parser.add_argument("--metrics", help="engine: write the sampler's series as CSV here")
    parser.add_argument(
        "--track-locks", action="store_true", help="lock tracking on before the crawler is imported"
    )
    args = parser.parse_args(argv)
    if args.track_locks:
        from core.agent import locks

        locks.install()  # before the import: the crawler's module-level locks are tracked too
    module = importlib.import_module(CRAWLERS[args.crawler])
    options = {}
    if args.crawler.startswith("engine"):
        monitoring = args.monitoring or bool(args.metrics)
        options = {"monitoring": monitoring, "metrics_path": args.metrics}
        options["pin_workers"] = args.crawler != "engine-unpinned"
    before, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    pages = module.crawl(args.url, args.concurrency, args.max_pages, **options)
    seconds = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_SELF)
    user, system = after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime
    result = {
        "pages": pages,
        "seconds": seconds,
        "cpu_s": user + system,
        "user_s": user,
        "sys_s": system,
        "peak_rss_mib": after.ru_maxrss / 1024,
    }
    if args.track_locks:
        sites = locks.snapshot()["sites"]
        result["lock_acquisitions"] = sum(s["acquisitions"] for s in sites)
        result["locks_created"] = sum(s["created"] for s in sites)
    sys.stdout.write("\n" + json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
