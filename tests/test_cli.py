"""The headless CLI, run as a person would: a real subprocess crawling the embedded site."""

import csv
import importlib
import json
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

from core.cli import COMMANDS

CLI = [sys.executable, "-m", "threadscope"]


def run_cli(*args, timeout=60):
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["crawl", "--threads", "0"], "threads"),
        (["crawl", "ftp://example.com/"], "only http and https"),
        (["crawl", "not a url"], "start_urls"),
        (["crawl", "--max-depth", "-2"], "max_depth"),
        (["crawl", "--bogus"], "unrecognized arguments"),
        (["crawl", "--threads", "many"], "invalid int value"),
        (["crawl", "--max-query-params", "-1"], "max_query_params"),
        (["crawl", "--memory-limit-mb", "10", "--memory-warning-mb", "50"], "memory_warning_mb"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, words):
    proc = run_cli(*args)
    assert proc.returncode == 2
    assert words in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "Traceback" not in proc.stderr


def test_crawl_of_the_embedded_site_writes_results_and_metrics(tmp_path):
    out, metrics = tmp_path / "r.jsonl", tmp_path / "m.csv"
    proc = run_cli(
        "crawl", "--site-pages", "150", "--threads", "4", "--quiet",
        "--out", str(out), "--metrics", str(metrics),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "finished: finished" in proc.stdout
    assert "pages     150 " in proc.stdout
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 150
    assert len({r["url"] for r in rows}) == 150
    assert set(rows[0]) == {
        "url", "parent", "depth", "status", "bytes", "elapsed_ms", "links", "error", "truncated"
    }  # fmt: skip
    assert rows[0]["depth"] == 0
    assert rows[0]["parent"] is None
    with metrics.open() as f:
        table = list(csv.DictReader(f))
    assert table, "no metric samples"
    assert {"t", "rss_mib", "pages", "frontier", "busy_workers"} <= set(table[0])
    assert float(table[-1]["pages"]) <= 150


def test_an_unreachable_robots_txt_is_a_skip_that_says_why(tmp_path):
    """Nothing listens on port 1: robots.txt cannot be read, so RFC 9309 says disallow all."""
    out = tmp_path / "r.jsonl"
    proc = run_cli("crawl", "http://127.0.0.1:1/", "--quiet", "--retries", "0", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "pages     0 " in proc.stdout
    assert "errors    0\n" in proc.stdout
    why = "robots.txt unreachable (connection refused): disallow all per RFC 9309"
    assert f"skipped   1  (robots.txt 1, limits 0): {why}" in proc.stdout
    (row,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert row["error"] == {"kind": "robots", "message": why}
    assert row["status"] is None


def test_ctrl_c_stops_gracefully_with_exit_130_and_leaves_no_child(tmp_path):
    out = tmp_path / "r.jsonl"
    proc = subprocess.Popen(
        [*CLI, "crawl", "--site-pages", "5000", "--site-latency-ms", "50",
         "--threads", "4", "--quiet", "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not (out.exists() and out.stat().st_size > 0):
            assert time.monotonic() < deadline, "crawl never produced a result"
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.05)  # polling a file another process writes; no event to wait on
        children = psutil.Process(proc.pid).children(recursive=True)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    assert "finished: stopped" in stdout
    _gone, alive = psutil.wait_procs(children, timeout=5)
    assert not alive
    lines = out.read_text().splitlines()
    assert 0 < len(lines) < 5000
    assert all(json.loads(line)["url"] for line in lines)


@pytest.mark.parametrize("command", [c.name for c in COMMANDS])
def test_no_command_imports_qt(command):
    code = (
        "import sys, threadscope.launcher, core.cli;"
        f"core.cli.build_parser([{command!r}]);"
        "print('PySide6' in sys.modules, 'gui' in sys.modules)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.stdout.strip() == "False False", proc.stderr


@pytest.mark.parametrize("command", [c.name for c in COMMANDS])
def test_every_command_is_a_module_with_add_arguments_and_main(command):
    (entry,) = [c for c in COMMANDS if c.name == command]
    module = importlib.import_module(entry.module)
    assert callable(module.add_arguments)
    assert callable(module.main)


@pytest.mark.parametrize(
    ("command", "shown"),
    [
        ("crawl", ["--threads N", "(default: 16)", "(default: 5.0 s)", "(default: 10.0 s)",
                   "(default: 2097152 bytes)", "1 to 1024", "(default: 0.0 ms)"]),
        ("testsite", ["(default: 1000)", "(default: 0.0 ms)", "(default: 127.0.0.1)"]),
        ("experiment", ["(default: 1.0)", "(default: 3)"]),
    ],
)  # fmt: skip
def test_help_shows_each_default_with_its_unit(command, shown):
    proc = run_cli(command, "--help")
    assert proc.returncode == 0, proc.stderr
    text = " ".join(proc.stdout.split())  # argparse wraps lines
    for words in shown:
        assert words in text, (words, proc.stdout)


def test_a_headless_module_with_no_command_is_a_one_line_usage_error():
    proc = subprocess.run([sys.executable, "-m", "core.cli"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "name a command" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_experiment_list_is_one_name_and_summary_per_line():
    proc = run_cli("experiment", "--list")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) >= 9
    for line in lines:
        name, summary = line.split(maxsplit=1)
        assert name == name.lower()
        assert summary


def test_module_entry_matches_console_script():
    env = {**os.environ}
    proc = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "threadscope"), "crawl", "--threads", "0"],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert proc.returncode == 2


def test_notices_reach_stderr_and_quiet_keeps_only_warnings():
    warned = run_cli("crawl", "--site-pages", "30", "--memory-warning-mb", "1")
    assert warned.returncode == 0, warned.stderr
    assert "warning: " in warned.stderr
    assert "MiB" in warned.stderr
    pinned = "info: crawl threads share CPU"
    if len(os.sched_getaffinity(0)) > 1:
        assert pinned in warned.stderr
    quiet = run_cli("crawl", "--site-pages", "30", "--memory-warning-mb", "1", "--quiet")
    assert "warning: " in quiet.stderr
    assert pinned not in quiet.stderr
    unpinned = run_cli("crawl", "--site-pages", "30", "--no-pin-workers")
    assert pinned not in unpinned.stderr
