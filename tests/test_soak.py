"""Start/stop cycles in one process (issue 6): nothing accumulates.

After the first cycle (which pays for imports, thread-local sessions and allocator warm-up)
every later cycle must leave the same threads, the same open descriptors, sockets and files,
and RSS within 5 %. Half the cycles run to the end, half are stopped mid-crawl. The CI
variant runs 20 cycles; ``pytest -m soak tests/test_soak.py -s`` runs the 100-cycle one (part
of the benchmarks, deselected by default).
"""

from __future__ import annotations

import gc
import threading

import psutil
import pytest
from conftest import wait_until

from core.engine import Crawler
from core.settings import CrawlSettings
from core.testsite import TestSite


@pytest.fixture(scope="module")
def soak_site() -> TestSite:
    with TestSite(pages=300) as running:
        yield running


def snapshot(process: psutil.Process) -> dict[str, object]:
    gc.collect()
    return {
        "py_threads": sorted(t.name for t in threading.enumerate()),
        "os_threads": process.num_threads(),
        "fds": process.num_fds(),
        "sockets": len(process.net_connections(kind="all")),
        "files": sorted(f.path for f in process.open_files()),
        "rss_mib": process.memory_info().rss / 1_048_576,
    }


def cycle(site: TestSite, n: int) -> None:
    crawler = Crawler(CrawlSettings(site.url, threads=16, max_pages=200))
    crawler.start()
    if n % 2:
        wait_until(lambda: crawler.stats().pages >= 50 or crawler.join(0))
        crawler.stop()
    assert crawler.join(10)
    assert crawler.reason in ("stopped", "max_pages")


def soak(site: TestSite, cycles: int) -> list[float]:
    process = psutil.Process()
    cycle(site, 0)
    first = snapshot(process)
    rss = [first["rss_mib"]]
    for n in range(1, cycles):
        cycle(site, n)
        now = snapshot(process)
        rss.append(now["rss_mib"])
        for key in ("py_threads", "os_threads", "fds", "sockets", "files"):
            assert now[key] == first[key], (n, key, first[key], now[key])
    print(
        f"\n{cycles} start/stop cycles: RSS after the first {rss[0]:.1f} MiB, "
        f"max {max(rss):.1f}, last {rss[-1]:.1f} ({100 * (rss[-1] / rss[0] - 1):+.1f} %)"
    )
    assert max(rss) <= rss[0] * 1.05, [round(r, 1) for r in rss]
    return rss


@pytest.mark.skipif(not hasattr(psutil.Process, "num_fds"), reason="POSIX descriptor count")
def test_20_start_stop_cycles_leave_nothing_behind(soak_site):
    soak(soak_site, 20)


@pytest.mark.soak
@pytest.mark.timeout(600)
@pytest.mark.skipif(not hasattr(psutil.Process, "num_fds"), reason="POSIX descriptor count")
def test_100_start_stop_cycles_leave_nothing_behind(soak_site):
    soak(soak_site, 100)
