"""Compare strategies: real crawls of the embedded test site, one strategy after the other."""

from __future__ import annotations

import argparse
import math
import threading

import pytest

from core import compare_cli
from core.compare import MEASURES, ComparisonRunner, StrategyRun, winners
from core.history import list_runs, load_metrics
from core.settings import CrawlSettings


def test_each_strategy_crawls_the_same_site_and_is_saved(site):
    settings = CrawlSettings((site.url,), threads=4, obey_robots=False)
    seen: list[str] = []
    runner = ComparisonRunner(
        settings, ("bounded", "pool"), on_run=lambda r: seen.append(r.strategy)
    )
    result = runner.run()
    assert seen == ["bounded", "pool"]
    assert [run.strategy for run in result.runs] == ["bounded", "pool"]
    for run in result.runs:
        assert run.pages == 300
        assert run.reason == "finished"
        assert run.series["t"][0] < 0.5  # each run's time from its own start
        assert run.figures["pages_per_s"] > 0
        assert run.figures["cpu_ms_per_page"] > 0
        assert run.figures["peak_rss_mib"] > 10
    assert set(result.winners) == {m.key for m in MEASURES}
    saved = {r.id: r for r in list_runs()}
    assert {run.record_id for run in result.runs} <= set(saved)
    record = saved[result.runs[1].record_id]
    assert "pool" in record.title
    assert record.summary.extra["cpu_ms_per_page"] > 0
    assert len(load_metrics(record.id)["frontier"]) > 0


def _run(name: str, **figures: float) -> StrategyRun:
    values = {"pages_per_s": 1.0, "cpu_ms_per_page": 1.0, "peak_threads": 1.0}
    values |= {"peak_rss_mib": 1.0, "errors": 0.0} | figures
    return StrategyRun(name, 10, 1.0, values, {}, "finished")


def test_winner_rule_higher_pages_per_s_lower_everything_else_ties_and_nan():
    a = _run("a", pages_per_s=500, cpu_ms_per_page=0.4, peak_threads=20, peak_rss_mib=60)
    b = _run("b", pages_per_s=700, cpu_ms_per_page=0.6, peak_threads=10, peak_rss_mib=math.nan)
    best = winners([a, b])
    assert best["pages_per_s"] == ("b",)
    assert best["cpu_ms_per_page"] == ("a",)
    assert best["peak_threads"] == ("b",)
    assert best["peak_rss_mib"] == ("a",)  # NaN never wins
    assert best["errors"] == ("a", "b")  # a tie names both


def test_stop_ends_the_current_run_and_skips_the_rest(site):
    stop = threading.Event()
    settings = CrawlSettings((site.url,), threads=2, obey_robots=False)
    runner = ComparisonRunner(
        settings, ("bounded", "pool"), on_run=lambda _r: stop.set(), stop=stop, save=False
    )
    stop.set()
    result = runner.run()
    assert result.runs == ()
    assert result.stopped
    stop.clear()
    result = runner.run()  # stopped after the first run: the second never starts
    assert [r.strategy for r in result.runs] == ["bounded"]
    assert result.stopped


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    compare_cli.add_arguments(parser)
    return parser.parse_args(argv)


def test_cli_prints_the_table_with_a_winner_per_measure(site, capsys):
    status = compare_cli.main(
        _args(site.url, "--strategies", "bounded,recursive", "--threads", "4", "--no-robots")
    )
    assert status == 0
    out = capsys.readouterr()
    lines = out.out.splitlines()
    assert lines[0].split()[:3] == ["measure", "bounded", "recursive"]
    assert any(line.startswith("Pages/s") and "higher is better" in line for line in lines)
    assert any(line.startswith("CPU ms/page") and "lower is better" in line for line in lines)
    assert "one after the other" in out.err


def test_registered_as_threadscope_compare_and_no_history_saves_nothing(site, capsys):
    from core import cli

    status = cli.main(
        ["compare", site.url, "--strategies", "pool", "--threads", "2", "--no-history"]
    )
    assert status == 0
    assert capsys.readouterr().out.splitlines()[0].split()[:2] == ["measure", "pool"]
    assert list_runs() == []


@pytest.mark.parametrize("text", ["bounded,nope", " , "])
def test_cli_bad_strategy_list_is_one_line_and_exit_2(text, capsys):
    assert compare_cli.main(_args("--strategies", text)) == 2
    err = capsys.readouterr().err
    assert err.startswith("threadscope compare: error: --strategies")
    assert err.count("\n") == 1
