"""What monitoring costs the engine per page: one crawl of the embedded test site, in this process.

``--monitored``: one subscriber on the crawl's events, drained on a thread of its own every
``--drain-interval`` seconds (the window's bridge and ``bench.engine_runner`` drain every
50 ms); no sampler (its ~0.1 ms per tick is not per page). Unmonitored: nobody subscribes, so
the engine builds no events. The site runs in a child process (valgrind does not trace it),
so under callgrind the counts are the crawler's alone. Instruction counts are repeatable where
CPU time on this VM is not; subtract a short crawl from a long one to cancel the start-up::

    for m in "" --monitored; do for n in 200 2200; do
      PYTHONHASHSEED=0 OPENBLAS_NUM_THREADS=1 valgrind --tool=callgrind \\
        --callgrind-out-file=/tmp/cg$m$n .venv/bin/python scripts/monitor_cost.py \\
        --pages $n --threads 1 --drain-interval 2.5 $m
    done; done
    (total of cg2200 - total of cg200) / 2000 = instructions per page

Under valgrind the crawl runs ~50 times slower, so ``--drain-interval 2.5`` keeps the pages
per drain (~150) what 50 ms gives at full speed (at 50 ms each page would pay ~3 k
instructions of wake-ups it does not pay outside valgrind). One thread repeats to ~0.2 %
between runs; 16 threads (the bench's) to ~0.7 %, from how the GIL hands over.

``.venv/bin/python scripts/monitor_cost.py [--pages 2000] [--threads 16] [--monitored]``
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench is not installed

from bench.engine_runner import DRAIN_INTERVAL_S, run_drained, settings_for
from core.engine import Crawler
from core.testsite.process import TestSite


def crawl(
    url: str, pages: int, threads: int, monitored: bool, interval: float = DRAIN_INTERVAL_S
) -> tuple[int, int]:
    """Crawl ``pages`` pages of ``url``; returns (pages, events the subscriber drained)."""
    crawler = Crawler(settings_for(url, threads, pages))
    if not monitored:
        crawler.start()
        crawler.join()
        return crawler.stats().pages, 0
    drained = run_drained(crawler, interval)
    return crawler.stats().pages, drained


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--monitored", action="store_true")
    parser.add_argument("--drain-interval", type=float, default=DRAIN_INTERVAL_S)
    args = parser.parse_args()
    with TestSite(pages=max(args.pages * 2, 1000)) as site:
        pages, events = crawl(
            site.url, args.pages, args.threads, args.monitored, args.drain_interval
        )
    print(f"pages {pages} events {events} ({events / max(pages, 1):.2f} per page)")


if __name__ == "__main__":
    main()
