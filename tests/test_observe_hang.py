"""The hang detector: a crawl stuck on never-answering routes gets exactly one thread dump
(log, file, stderr), not one per check; progress ends an episode and a new hang dumps again."""

from __future__ import annotations

import logging

from core import cli
from core.diagnostics.threads import FrameInfo, ThreadStack
from core.history import list_runs, load_details
from core.observe.hang import HangDetector, HangReport, annotated_dump
from core.observe.options import Observability
from tests.conftest import start_hung_crawl, wait_until


def test_a_hung_crawl_gets_one_dump_not_one_per_check(trap_site, tmp_path, caplog):
    crawler = start_hung_crawl(trap_site, 3, tag="hang")
    said: list[str] = []
    reports: list[HangReport] = []
    try:
        with (
            caplog.at_level(logging.WARNING, logger="core.observe.options"),
            Observability(
                hang_dump_after=0.3, notify=said.append, on_hang=reports.append, dump_dir=tmp_path
            ) as observe,
        ):
            observe.watch_crawl(crawler)
            wait_until(lambda: reports, timeout=10)
            hang = observe.hang
            assert hang is not None
            seen = hang.checks
            wait_until(lambda: hang.checks >= seen + 20, timeout=10)  # 2 s more, 6x after_s
    finally:
        crawler.stop()
        crawler.stop()
        assert crawler.join(10)
    assert len(reports) == 1
    report = reports[0]
    assert report.stalled_s >= 0.3
    assert report.pending.startswith("work is pending (requests in flight: 3,")
    assert [p.name for p in tmp_path.iterdir()] == [report.path.name]  # one file
    text = report.path.read_text(encoding="utf-8")
    assert text.count('Thread "crawl-worker-') == 3  # every worker, with its stack
    assert "fetcher.py" in text
    assert len([line for line in said if line.startswith("hang: no progress")]) == 1
    assert [r.getMessage().splitlines()[0] for r in caplog.records] == [said[0].splitlines()[0]]


def test_progress_ends_an_episode_and_idle_is_not_a_hang():
    now = [0.0]
    pages = [0]
    pending = ["1 request in flight"]
    reports: list[HangReport] = []
    detector = HangDetector(
        5.0,
        lambda: pages[0],
        lambda: pending[0],
        reports.append,
        dump=lambda: "dump",
        clock=lambda: now[0],
    )

    def at(t: float) -> None:
        now[0] = t
        detector.check()

    for t in (0.0, 4.9, 5.1, 6.0, 30.0):
        at(t)
    assert len(reports) == 1  # one episode, one report
    pages[0] = 1
    at(31.0)  # progress: the episode is over
    at(35.0)
    assert len(reports) == 1
    at(36.5)
    assert len(reports) == 2  # a new episode
    pending[0] = ""
    for t in (37.0, 60.0, 90.0):  # nothing pending: waiting is not hanging
        at(t)
    assert len(reports) == 2


def test_dump_is_annotated_with_lock_owners_and_waiters():
    stacks = [
        ThreadStack(1, "holder", 11, False, (FrameInfo("a.py", 3, "hold"),)),
        ThreadStack(2, "waiter", 12, False, (FrameInfo("b.py", 7, "wait"),)),
    ]
    locks = {
        "locks": [
            {
                "id": "L1",
                "kind": "Lock",
                "created_at": "app.py:10",
                "owners": [{"ident": 1, "since_s": 4.0, "count": 1}],
                "waiters": [{"ident": 2, "since_s": 3.5, "where": "b.py:7"}],
            }
        ]
    }
    text = annotated_dump(stacks, locks)
    holder, waiter = text.split("\n\n")
    assert "# holds Lock L1 created at app.py:10 for 4.0 s" in holder
    assert "# waiting 3.5 s for Lock L1 created at app.py:10, held by holder" in waiter
    assert waiter.endswith('File "b.py", line 7, in wait')


def test_the_crawl_command_prints_one_dump_and_keeps_it_with_the_run(trap_site, capsys):
    """End to end: `threadscope crawl` on a route that never answers, with a 2 s deadline."""
    url = f"{trap_site.url}trap/never-answer?cli=1"
    status = cli.main(
        [
            "crawl",
            url,
            "--hang-dump-after",
            "0.5",
            "--deadline",
            "2",
            "--timeout",
            "2",
            "--retries",
            "0",
            "--no-robots",
            "--quiet",
        ]
    )
    assert status == 0
    err = capsys.readouterr().err
    assert err.count("hang: no progress for") == 1, err
    assert 'Thread "crawl-worker-1"' in err
    (run,) = list_runs()
    dumps = [f.name for f in run.path.iterdir() if f.name.startswith("hang-")]
    assert len(dumps) == 1
    details = load_details(run.id)
    assert details is not None
    assert len(details["hangs"]) == 1


def test_progress_is_read_only_while_work_is_pending_and_every_tenth_of_the_delay():
    """A watched program's progress reads /proc: not while nothing is pending, and not at
    every tick of the observe thread."""
    now = [0.0]
    pending = [""]
    reads: list[float] = []
    detector = HangDetector(
        10.0,
        lambda: reads.append(now[0]) or 0,
        lambda: pending[0],
        lambda report: None,
        dump=lambda: "dump",
        clock=lambda: now[0],
    )
    for t in (0.0, 1.0, 2.0):
        now[0] = t
        detector.check()
    assert reads == []  # nothing pending: progress is never read
    pending[0] = "1 request in flight"
    for t in (3.0, 3.5, 4.0, 4.5, 5.0, 13.0, 13.5):
        now[0] = t
        detector.check()
    assert reads == [3.0, 4.0, 5.0, 13.0]
    assert len(detector.reports) == 1  # 3.0 -> 13.0 unchanged: one hang
