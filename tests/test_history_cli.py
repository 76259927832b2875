"""``threadscope crawl`` / ``experiment`` save to History like the window; ``threadscope
history`` lists, shows, exports and deletes those runs (the list the window shows)."""

from __future__ import annotations

import zipfile

import pytest

from core import cli
from core.engine import Crawler
from core.history import crawl_run, list_runs, load_metrics
from core.sampler import MetricsSampler
from core.settings import CrawlSettings
from tests.conftest import SITE_PAGES


def crawl(site, *extra: str) -> int:
    return cli.main(["crawl", site.url, "--threads", "4", "--quiet", *extra])


def test_a_cli_crawl_is_in_the_windows_history_list(site, capsys):
    assert crawl(site) == 0
    out = capsys.readouterr().out
    (run,) = list_runs()  # what the window's History view lists
    assert f"saved to history as {run.id}" in out
    assert run.kind == "crawl"
    assert run.summary.pages == SITE_PAGES
    assert run.summary.errors == 0
    assert (run.summary.peak_rss_mib or 0) > 10
    assert run.settings["start_urls"] == [site.url]
    assert run.title == f"{site.url} · bounded · 4 threads · finished"
    metrics = load_metrics(run.id)
    assert metrics["t"][0] >= 0
    assert metrics["pages"][-1] == SITE_PAGES


def test_no_history_saves_nothing(site):
    assert crawl(site, "--no-history") == 0
    assert list_runs() == []


def test_history_lists_shows_exports_and_deletes(site, tmp_path, capsys):
    assert crawl(site) == 0
    assert crawl(site, "--max-pages", "10") == 0
    newest, older = list_runs()
    capsys.readouterr()

    assert cli.main(["history"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["id", "kind", "title"]
    assert [line.split()[0] for line in lines[1:]] == [newest.id, older.id]  # newest first
    assert lines[1].rstrip().endswith("10 pages")
    assert lines[2].rstrip().endswith(f"{SITE_PAGES} pages")

    assert cli.main(["history", "show", older.id]) == 0
    shown = capsys.readouterr().out
    assert f"id        {older.id}" in shown
    assert f"Pages         {SITE_PAGES} pages" in shown
    assert "metrics.csv" in shown

    assert cli.main(["history", "export", older.id, str(tmp_path)]) == 0
    archive = tmp_path / f"{older.id}.zip"
    assert capsys.readouterr().out.strip() == str(archive)
    with zipfile.ZipFile(archive) as opened:
        assert {f"{older.id}/run.json", f"{older.id}/metrics.csv"} <= set(opened.namelist())

    assert cli.main(["history", "delete", older.id]) == 0
    assert [r.id for r in list_runs()] == [newest.id]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["show", "20990101T000000-crawl-abcdef"], "no run '20990101T000000-crawl-abcdef'"),
        (["delete", "../etc"], "'../etc' is not a run id"),
        (["export", "nope"], "no run 'nope'"),
        (["show"], "name a run id"),
    ],
)
def test_a_bad_id_is_a_one_line_error(argv, message, capsys):
    assert cli.main(["history", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert message in err[0]
    assert err[0].startswith(f"threadscope history {argv[0]}: ")


def test_an_experiment_from_the_cli_is_listed_with_its_verdict(capsys):
    assert cli.main(["experiment", "counter-race", "--scale", "0.1", "--trials", "2"]) == 0
    (run,) = list_runs()
    assert run.kind == "experiment"
    capsys.readouterr()
    assert cli.main(["history", "--kind", "experiment"]) == 0
    row = capsys.readouterr().out.splitlines()[1]
    assert row.startswith(run.id)
    assert row.split("  ")[-1].strip() in {"holds", "contradicted", "mixed", "not significant"}


def test_experiment_no_history_saves_nothing(capsys):
    assert (
        cli.main(["experiment", "counter-race", "--scale", "0.1", "--trials", "1", "--no-history"])
        == 0
    )
    assert list_runs() == []


def test_crawl_run_keeps_only_the_samples_since_the_crawl_started(site):
    sampler = MetricsSampler()
    sampler.sample_once()
    sampler.sample_once()
    since = float(sampler.times()[-1]) + 1e-9
    crawler = Crawler(CrawlSettings((site.url,), threads=2, max_pages=20))
    sampler.set_source(crawler)
    crawler.start()
    assert crawler.join(20)
    run = crawl_run(crawler, sampler, since)
    assert len(run.metrics["t"]) == 1  # the final sample only: the two before are older
    assert run.metrics["t"][0] >= 0
    assert run.summary.pages == 20
    assert run.details["reason"] == "max_pages"
    record = run.save()
    assert list_runs()[0].id == record.id
