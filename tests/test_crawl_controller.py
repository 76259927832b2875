"""The crawl controller on its own (no main window): real form, session, bridge and crawls of
the embedded test site over loopback, offscreen."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

pytest.importorskip("pytestqt")

from conftest import crawl_threads

from core.history import list_runs, threads_label
from core.testsite import TestSite
from gui.bridge import EventBridge, LogBuffer
from gui.controls import ControlPanel
from gui.crawl_controller import CrawlController, Phase
from gui.session import CrawlSession

Actions = tuple[bool, bool, bool, str, str]  # start, pause, stop enabled; pause and stop texts

# What each phase allows, as the toolbar shows it.
ACTIONS_BY_PHASE: dict[Phase, Actions] = {
    Phase.IDLE: (True, False, False, "Pause", "Stop"),
    Phase.STARTING: (False, False, False, "Pause", "Stop"),
    Phase.RUNNING: (False, True, True, "Pause", "Stop"),
    Phase.PAUSED: (False, True, True, "Resume", "Stop"),
    Phase.STOPPING: (False, False, True, "Pause", "Stop now"),
    Phase.FINISHED: (True, False, False, "Pause", "Stop"),
}


@dataclass
class Rig:
    crawl: CrawlController
    controls: ControlPanel
    session: CrawlSession
    bridge: EventBridge
    blocked: list[bool]
    phases: list[tuple[Phase, Actions]] = field(default_factory=list)
    markers: list[str] = field(default_factory=list)

    def actions(self) -> Actions:
        c = self.crawl
        return (
            c.start_action.isEnabled(),
            c.pause_action.isEnabled(),
            c.stop_action.isEnabled(),
            c.pause_action.text(),
            c.stop_action.text(),
        )

    def site_target(self, pages: int = 3_000, latency_ms: int = 40, threads: int = 2) -> None:
        controls = self.controls
        controls.site_radio.setChecked(True)
        controls.pages.setValue(pages)
        controls.latency_ms.setValue(latency_ms)
        controls.error_rate.setValue(0.0)
        controls.fields["threads"].setValue(threads)
        controls.obey_robots.setChecked(False)

    def start_running(self, qtbot) -> None:
        self.crawl.start_action.trigger()
        qtbot.waitUntil(lambda: self.crawl.phase is Phase.RUNNING, timeout=15_000)
        crawler = self.session.crawler
        qtbot.waitUntil(lambda: crawler.stats().pages > 5, timeout=10_000)

    def stop_and_wait_saved(self, qtbot) -> None:
        with qtbot.waitSignal(self.crawl.saved, timeout=10_000):
            self.crawl.stop_action.trigger()


@pytest.fixture
def rig(qtbot) -> Iterator[Rig]:
    session = CrawlSession()
    controls = ControlPanel()
    qtbot.addWidget(controls)
    bridge = EventBridge(LogBuffer())
    blocked = [False]
    crawl = CrawlController(session, controls, bridge, lambda: blocked[0])
    rig = Rig(crawl, controls, session, bridge, blocked)
    crawl.phaseChanged.connect(lambda phase: rig.phases.append((phase, rig.actions())))
    crawl.marker.connect(rig.markers.append)
    yield rig
    crawl.close()
    assert session.close()
    bridge.stop()
    assert not crawl_threads()


def test_phases_compare_as_their_names_and_say_what_they_allow():
    assert Phase.RUNNING == "running"
    assert [Phase.IDLE, Phase.FINISHED] == ["idle", "finished"]
    assert [p for p in Phase if p.active] == ["starting", "running", "paused", "stopping"]
    assert [p for p in Phase if p.crawling] == ["running", "paused", "stopping"]
    assert [p for p in Phase if p.steerable] == ["running", "paused"]
    assert [p.label for p in Phase] == [
        "Idle",
        "Starting…",
        "Running",
        "Paused",
        "Stopping…",
        "Finished",
    ]


def test_start_pause_resume_stop_walk_the_phases_and_the_actions_follow(qtbot, rig):
    assert rig.crawl.phase is Phase.IDLE
    assert rig.actions() == ACTIONS_BY_PHASE[Phase.IDLE]
    rig.site_target()
    rig.start_running(qtbot)
    assert not rig.controls.pages.isEnabled()  # the form is locked while a crawl is active
    rig.crawl.pause_action.trigger()
    qtbot.waitUntil(lambda: rig.session.crawler.parked == 2, timeout=5_000)
    rig.crawl.pause_action.trigger()
    rig.stop_and_wait_saved(qtbot)

    walked = [phase for phase, _actions in rig.phases]
    assert walked == ["starting", "running", "paused", "running", "stopping", "finished"]
    assert all(type(phase) is Phase for phase in walked)  # the signal carries the enum
    for phase, actions in rig.phases:  # as each phase was announced, not only at the end
        assert actions == ACTIONS_BY_PHASE[phase], phase
    assert rig.controls.pages.isEnabled()
    assert rig.markers == ["Start (2 threads)", "Pause", "Resume", "Stop", "Done: stopped"]
    (run,) = list_runs()
    assert run.title.endswith("· bounded · 2 threads · stopped")


def test_a_crawl_the_engine_ends_itself_finishes_without_a_stop(qtbot, rig, site):
    rig.controls.url_radio.setChecked(True)
    rig.controls.url.setText(site.url)
    rig.controls.fields["threads"].setValue(3)
    rig.controls.fields["max_pages"].setValue(30)
    with qtbot.waitSignal(rig.crawl.saved, timeout=20_000):
        rig.crawl.start_action.trigger()
    walked = [phase for phase, _actions in rig.phases]
    assert walked[0] == "running"  # no STARTING: no site to boot
    assert walked[-1] == "finished"
    assert set(walked) <= {Phase.RUNNING, Phase.STOPPING, Phase.FINISHED}
    assert rig.session.crawler.reason == "max_pages"
    assert rig.markers == ["Start (3 threads)", "Done: max_pages"]
    assert rig.actions() == ACTIONS_BY_PHASE[Phase.FINISHED]


def test_set_threads_while_running_resizes_and_the_history_says_so(qtbot, rig):
    rig.site_target(threads=2)
    rig.start_running(qtbot)
    crawler = rig.session.crawler
    rig.controls.fields["threads"].setValue(6)  # debounced, like a person typing
    qtbot.waitUntil(lambda: "threads 2→6" in rig.markers, timeout=5_000)
    qtbot.waitUntil(lambda: len(crawler.workers()) == 6, timeout=5_000)
    rig.crawl.set_threads(6)  # the same count again changes nothing
    rig.crawl.set_threads(3)
    assert crawler.stats().threads_target == 3
    rig.stop_and_wait_saved(qtbot)

    assert [m for m in rig.markers if m.startswith("threads")] == ["threads 2→6", "threads 6→3"]
    (run,) = list_runs()
    assert "· bounded · 2→6→3 threads · stopped" in run.title
    workers = {k: v for k, v in run.summary.extra.items() if k.startswith("worker_threads")}
    assert workers == {
        "worker_threads_start": 2,
        "worker_threads_max": 6,
        "worker_threads_end": 3,
    }


def test_set_threads_on_a_strategy_that_cannot_resize_changes_nothing(qtbot, rig):
    rig.site_target(threads=3)
    rig.controls.strategy.setCurrentText("pool")
    rig.start_running(qtbot)
    assert not rig.controls.fields["threads"].isEnabled()  # the form does not offer it
    with qtbot.waitSignal(
        rig.bridge.notice, check_params_cb=lambda _level, text, _thread: "cannot change" in text
    ):
        rig.crawl.set_threads(8)
    assert rig.session.crawler.stats().threads_target == 3
    rig.stop_and_wait_saved(qtbot)
    assert not [m for m in rig.markers if m.startswith("threads")]
    (run,) = list_runs()
    assert "· pool · 3 threads · stopped" in run.title


def test_nothing_starts_while_something_else_blocks_it_or_the_form_is_invalid(qtbot, rig):
    rig.blocked[0] = True  # an experiment is running
    rig.crawl.refresh_actions()
    assert not rig.crawl.start_action.isEnabled()
    rig.crawl.start()  # F5 anyway
    assert rig.crawl.phase is Phase.IDLE
    assert rig.session.crawler is None
    rig.blocked[0] = False
    rig.crawl.refresh_actions()
    assert rig.crawl.start_action.isEnabled()
    rig.controls.url_radio.setChecked(True)
    rig.controls.url.setText("ftp://example.com/")
    assert not rig.crawl.start_action.isEnabled()  # the form's verdict reaches the action
    rig.crawl.start()
    assert rig.phases == []
    assert rig.session.crawler is None


def test_a_test_site_that_cannot_start_says_why_and_leaves_the_phase_idle(qtbot, rig, monkeypatch):
    rig.site_target(pages=1_000)
    monkeypatch.setattr(rig.session, "site_url", broken_site)
    with qtbot.waitSignal(rig.crawl.failed, timeout=5_000) as failed:
        rig.crawl.start_action.trigger()
    assert failed.args[0].startswith("The embedded test site did not start:")
    assert [phase for phase, _ in rig.phases] == ["starting", "idle"]
    assert rig.actions() == ACTIONS_BY_PHASE[Phase.IDLE]
    assert rig.controls.pages.isEnabled()


def broken_site(params):  # a real TestSite that refuses to start: a port out of range
    from concurrent.futures import Future

    future: Future[str] = Future()
    try:
        TestSite(pages=params.pages, port=-1).start()
    except Exception as exc:
        future.set_exception(exc)
    return future


@pytest.mark.parametrize(
    ("counts", "label"),
    [
        ([8], "8 threads"),
        ([8, 32], "8→32 threads"),
        ([8, 32, 4], "8→32→4 threads"),
        ([8, 64, 2, 4], "8→…→4 threads (max 64)"),
    ],
)
def test_the_history_title_says_what_a_crawl_ran_at(counts, label):
    assert threads_label(counts) == label
