"""A tiny ``make bench`` (``--quick``) so the harness cannot rot. No speed assertion."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.timeout(150)  # ~50 s on an idle 2-core machine: every section at tiny scale
def test_quick_bench_writes_a_report_with_complete_crawls(tmp_path: Path) -> None:
    out, assets = tmp_path / "BENCHMARKS.md", tmp_path / "assets"
    command = [sys.executable, "-m", "bench.run", "--quick", "--out", str(out)]
    done = subprocess.run(
        [*command, "--assets", str(assets)], cwd=ROOT, capture_output=True, text=True, timeout=140
    )
    assert done.returncode == 0, done.stderr[-4000:]

    results = json.loads((assets / "results.json").read_text())
    sections, pages = results["sections"], results["plan"]["pages"]
    for name in ("throughput_fast", "throughput_latency"):
        runs = sections[name]["data"]
        assert {r["crawler"] for r in runs} == set(results["crawlers"])
        for run in runs:
            assert "error" not in run, run
            assert run["served"] == run["pages"] == pages, run
    for run in sections["scaling"]["data"]:
        assert run["served"] == run["pages"] > 0, run
    long = sections["long_crawl"]["data"]
    assert long["run"]["served"] == results["plan"]["long_pages"]
    visited = sections["visited"]["data"]
    assert visited["new_reported_seen"] == visited["unseen_reported_seen"] == 0
    for name in ("stop", "window_stop"):
        stop = sections[name]["data"]
        assert len(stop["seconds"]) == results["plan"]["stop_trials"], name
        assert all(left == 0 for left in stop["threads_left"]), name
        assert stop["threads"] == results["plan"]["stop_threads"], name

    agent = sections["agent_cost"]["data"]["programs"]
    assert set(agent) == {"cpu-bound", "io-bound"}
    for program in agent.values():
        assert len(program["ratios"]) == results["plan"]["agent_pairs"], program
    lock = sections["lock_cost"]["data"]
    assert set(lock["micro"]) == {
        f"{kind} {how}" for kind in ("Lock", "RLock") for how in ("uncontended", "contended")
    }
    for run in lock["crawl"]["untracked"] + lock["crawl"]["tracked"]:
        assert run["served"] == run["pages"] == results["plan"]["lock_pages"], run
    assert all(run["lock_acquisitions"] > 0 for run in lock["crawl"]["tracked"])
    assert all(run["lock_acquisitions"] == 0 for run in lock["crawl"]["untracked"])
    variants_section = sections["site_variants"]
    if variants_section["status"] == "skipped":  # nginx and aiohttp come with make bench only
        assert "not installed" in variants_section["why"]
    else:
        variants = variants_section["data"]
        assert [row["variant"] for row in variants][:2] == ["plain", "relative"]
        assert len(variants) == 7
        for row in variants:
            for run in row["engine"] + row["aiohttp"]:
                assert run["served"] == run["pages"] == results["plan"]["variant_pages"], run

    report = out.read_text()
    for heading in (
        "## 1. Throughput",
        "## 2. Scaling",
        "## 5. Memory",
        "## 6. Stop latency",
        "## 7. Agent cost",
        "## 8. Lock-tracking cost",
        "## 9. Sites it was not tuned for",
    ):
        assert heading in report
    assert "Engine on the embedded site" in report
    assert "| window Stop button, " in report
    if variants_section["status"] != "skipped":
        assert "| engine vs aiohttp, many hosts | ≥ 0.8×" in report
    assert "| lock tracking, crawl | ≤ 5 % fewer pages/s |" in report
