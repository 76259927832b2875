"""Running one crawler or probe in a child process and reading back what it measured."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True, slots=True)
class CrawlRun:
    """One crawl: what the crawler says it fetched, what the server says it served, the cost."""

    crawler: str
    server: str
    threads: int
    pages: int
    served: int
    seconds: float
    cpu_s: float
    user_s: float
    sys_s: float
    peak_rss_mib: float
    server_cpu_s: float = float("nan")
    lock_acquisitions: int = 0  # with --track-locks: what the tracked locks counted
    locks_created: int = 0

    @property
    def pages_per_s(self) -> float:
        return self.served / self.seconds if self.seconds > 0 else 0.0

    @property
    def cpu_ms_per_page(self) -> float:
        return 1000 * self.cpu_s / self.served if self.served else float("nan")

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        data.update(
            pages_per_s=self.pages_per_s,
            cpu_ms_per_page=self.cpu_ms_per_page,
            server_cpu_ms_per_page=1000 * self.server_cpu_s / self.served if self.served else 0,
        )
        return data


class ChildFailed(RuntimeError):
    pass


def run_json(
    args: Sequence[str],
    timeout: float,
    prefix: Sequence[str] = (),
    env: dict[str, str] | None = None,
) -> dict:
    """Run ``python -m ARGS`` (optionally under ``prefix``, e.g. py-spy) and parse its last line."""
    command = [*prefix, sys.executable, "-m", *args]
    environ = {**os.environ, **(env or {})}
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=environ
    )
    # The JSON is the child's last line; a prefix such as py-spy may print after it.
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr or done.stdout)[-1500:]
        raise ChildFailed(f"{' '.join(args[:2])} exited {done.returncode}: {tail}")
    return json.loads(lines[-1])


def run_crawl(
    crawler: str,
    url: str,
    threads: int,
    max_pages: int,
    served: Callable[[], int],
    server: str,
    extra: Sequence[str] = (),
    prefix: Sequence[str] = (),
    timeout: float = 1800,
    server_pid: int | None = None,
) -> CrawlRun:
    """Crawl ``url`` with ``crawler`` in a fresh process; ``served()`` reads the server's count."""
    before = served()
    server_cpu = server_cpu_seconds(server_pid)
    args = ["bench.child", crawler, url, "--concurrency", str(threads)]
    result = run_json([*args, "--max-pages", str(max_pages), *extra], timeout, prefix)
    return CrawlRun(
        crawler=crawler,
        server=server,
        threads=threads,
        pages=result["pages"],
        served=served() - before,
        seconds=result["seconds"],
        cpu_s=result["cpu_s"],
        user_s=result["user_s"],
        sys_s=result["sys_s"],
        peak_rss_mib=result["peak_rss_mib"],
        server_cpu_s=server_cpu_seconds(server_pid) - server_cpu,
        lock_acquisitions=result.get("lock_acquisitions", 0),
        locks_created=result.get("locks_created", 0),
    )


def server_cpu_seconds(pid: int | None) -> float:
    """User + system CPU of a server process and its children (nginx's worker)."""
    if pid is None:
        return float("nan")
    try:
        process = psutil.Process(pid)
        total = 0.0
        for p in (process, *process.children(recursive=True)):
            times = p.cpu_times()
            total += times.user + times.system
        return total
    except psutil.Error:
        return float("nan")
