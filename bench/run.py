"""``make bench`` / ``python -m bench.run [--quick]``: run every section, write the report.

Each section is independent: one that cannot run (nginx missing, a library not installed) or
that fails is recorded as such in the report and the rest still runs.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import traceback
from contextlib import ExitStack
from pathlib import Path

from bench import nginx, sections
from bench.machine import describe
from bench.plan import FULL, QUICK, Plan, available_crawlers

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a tiny run (CI smoke test)")
    parser.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    parser.add_argument("--assets", type=Path, default=ROOT / "assets" / "bench")
    parser.add_argument(
        "--render-only",
        action="store_true",
        help="measure nothing: rewrite the report and plots from ASSETS/results.json",
    )
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    args.assets.mkdir(parents=True, exist_ok=True)
    raw = args.assets / "results.json"
    if args.render_only:
        results = json.loads(raw.read_text())
    else:
        results = run(plan)
        raw.write_text(json.dumps(results, indent=1, default=str))
    from bench import report

    args.out.write_text(report.render(results, args.out.parent, args.assets))
    failed = [name for name, s in results["sections"].items() if s["status"] == "failed"]
    print(f"wrote {args.out}" + (f"; failed sections: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


def run(plan: Plan) -> dict:
    crawlers = available_crawlers()
    results: dict = {
        "plan": _fields(plan),
        "machine": describe(),
        "crawlers": crawlers,
        "sections": {},
    }
    started = time.monotonic()
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ts-bench-")))
        fast = _fast_server(plan, stack, results)
        latency_site = stack.enter_context(sections.embedded(plan.pages, plan.latency_ms))
        slow = sections.embedded_server(latency_site, plan.latency_ms)

        def section(name: str, work) -> None:
            _log(f"{name}…")
            t0 = time.monotonic()
            try:
                data = work()
            except sections.Skipped as why:
                results["sections"][name] = {"status": "skipped", "why": str(why)}
            except Exception as exc:  # recorded in the report; the other sections still run
                traceback.print_exc()
                error = f"{type(exc).__name__}: {exc}"
                results["sections"][name] = {"status": "failed", "error": error}
            else:
                results["sections"][name] = {"status": "ok", "data": data}
            results["sections"][name]["seconds"] = time.monotonic() - t0

        section(
            "throughput_fast",
            lambda: _log_runs(
                sections.throughput(plan, fast, crawlers, repeats=plan.throughput_repeats)
            ),
        )
        section("throughput_latency", lambda: _log_runs(sections.throughput(plan, slow, crawlers)))
        section("scaling", lambda: _log_runs(_dicts(sections.scaling(plan, slow))))
        section("cpu_by_threads", lambda: _log_runs(_dicts(sections.cpu_by_threads(plan, fast))))
        section("overhead", lambda: sections.overhead(plan, fast))
        section("window", lambda: sections.window(plan))
        section("visited", lambda: sections.visited(plan))
        section("long_crawl", lambda: sections.long_crawl(plan, workdir))
        section("stop", lambda: sections.stop_latency(plan))
        section("window_stop", lambda: sections.window_stop(plan))
        section("profile", lambda: sections.engine_profile(plan, fast, workdir))
    results["seconds"] = time.monotonic() - started
    return results


def _fast_server(plan: Plan, stack: ExitStack, results: dict) -> sections.Server:
    """nginx on a static export when it is installed; else the embedded site at 0 ms."""
    if nginx.nginx_binary() is not None:
        root = sections.exported_site(plan.pages)
        server = stack.enter_context(nginx.Nginx(root))
        results["fast_server"] = "nginx"
        return sections.Server("nginx", server.url, server.pages_served, server.pid)
    _log(f"nginx is not installed ({nginx.APT_COMMAND}); using the embedded site at 0 ms")
    results["fast_server"] = "embedded"
    site = stack.enter_context(sections.embedded(plan.pages, 0))
    return sections.embedded_server(site, 0)


def _log_runs(runs: list[dict]) -> list[dict]:
    for r in runs:
        if "error" in r:
            _log(f"  {r['crawler']:9} {r['server']}: FAILED {r['error'][-300:]}")
        else:
            _log(
                f"  {r['crawler']:9} {r['server']}: {r['served']} pages, "
                f"{r['pages_per_s']:.0f} pages/s, {r['cpu_ms_per_page']:.2f} CPU ms/page, "
                f"{r['peak_rss_mib']:.0f} MiB, {r['threads']} threads"
            )
    return runs


def _dicts(runs: list) -> list[dict]:
    return [r.as_dict() for r in runs]


def _fields(plan: Plan) -> dict:
    return {name: getattr(plan, name) for name in plan.__dataclass_fields__}


def _log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
