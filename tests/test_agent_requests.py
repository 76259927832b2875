"""The agent's requests (tracemalloc, locks) over a real socket, in real watched programs."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator

import pytest
from conftest import wait_until
from test_agent import EXAMPLES, PYTHON310, Watched, by_name

from core.observe.agent_memory import IDLE_RECHECK_S, AgentTracedMemory
from core.watch.client import AgentClient
from core.watch.errors import WatchError

LEAK_LINE = next(
    n
    for n, line in enumerate((EXAMPLES / "leaky_cache.py").read_text().splitlines(), 1)
    if "# the leak" in line
)


def leak_site(location: str) -> bool:
    return location.endswith(f"leaky_cache.py:{LEAK_LINE}")


@pytest.fixture
def leaky() -> Iterator[Watched]:
    watched = Watched(
        "leaky_cache.py", "--duration", "30", "--rate-mib", "8", names={"cache-filler"}
    )
    yield watched
    with contextlib.suppress(ProcessLookupError):  # a test may have ended it already
        os.kill(watched.pid, signal.SIGKILL)
    watched.finish()


def test_memory_top_and_diff_name_the_line_that_allocates(leaky: Watched) -> None:
    client = leaky.client
    assert client.request("trace_start")["tracing"] is True
    wait_until(lambda: client.request("traced")["current"] > 3 * 1_048_576, timeout=20)
    top = client.request("memory_top", limit=5)
    assert len(top["rows"]) <= 5
    assert leak_site(top["rows"][0]["location"])
    assert top["rows"][0]["size"] > 1_048_576
    assert top["rows"][0]["count"] >= 4
    assert not any("threadscope_agent" in row["location"] for row in top["rows"])
    first = top["rows"][0]["size"]
    wait_until(lambda: client.request("traced")["current"] > first + 1_048_576, timeout=20)
    grown = client.request("memory_diff", limit=5)["rows"]
    assert leak_site(grown[0]["location"])
    assert grown[0]["size_diff"] > 0
    assert grown[0]["count_diff"] > 0
    stopped = client.request("trace_stop")
    assert stopped["tracing"] is False or stopped["stop_pending"] is True
    assert stopped["current"] < first  # the traces are gone either way


def test_a_diff_needs_an_earlier_snapshot_and_errors_name_the_request(leaky: Watched) -> None:
    client = leaky.client
    with pytest.raises(WatchError, match="not tracing"):
        client.request("memory_top")
    client.request("trace_start")
    with pytest.raises(WatchError, match="no earlier snapshot"):
        client.request("memory_diff")
    with pytest.raises(WatchError, match="unknown request 'nonsense'"):
        client.request("nonsense")
    assert client.request("traced")["tracing"] is True  # the connection still serves


def test_a_request_to_an_ended_program_is_a_clear_error_not_a_hang(leaky: Watched) -> None:
    os.kill(leaky.pid, signal.SIGKILL)
    leaky.client.ended.wait(10)
    started = time.monotonic()
    with pytest.raises(WatchError, match="the agent is not connected"):
        leaky.client.request("memory_top", timeout=30)
    assert time.monotonic() - started < 1


def test_locks_lists_the_hang_examples_locks_with_their_owners() -> None:
    watched = Watched("hang.py", "--duration", "20", names={"worker-a", "worker-b"})
    try:
        sample = watched.wait_for(lambda s: bool(s.deadlocks), timeout=10)
        reply = watched.client.request("locks")
    finally:
        os.kill(watched.pid, signal.SIGKILL)
        watched.finish()
    assert reply["tracking"] is True
    assert reply["left_off"] == 0
    at = {lock["created_at"].rsplit("/", 1)[-1]: lock for lock in reply["locks"]}
    ours = {site: at[site] for site in ("hang.py:14", "hang.py:15")}  # accounts, audit
    threads = by_name(sample)
    workers = {threads[name].ident for name in ("worker-a", "worker-b")}  # type: ignore[attr-defined]
    owners = {owner["ident"] for lock in ours.values() for owner in lock["owners"]}
    waiters = {waiter["ident"] for lock in ours.values() for waiter in lock["waiters"]}
    assert owners == workers
    assert waiters == workers


def test_a_diff_of_the_two_snapshots_kept(leaky: Watched) -> None:
    client = leaky.client
    client.request("trace_start")
    first = client.request("memory_top", limit=3)
    wait_until(lambda: client.request("traced")["current"] > 3 * 1_048_576, timeout=20)
    second = client.request("memory_top", limit=3)
    rows = client.request("memory_diff", old=first["snapshot"], new=second["snapshot"])["rows"]
    assert leak_site(rows[0]["location"])
    assert rows[0]["size_diff"] > 1_048_576
    with pytest.raises(WatchError, match="snapshots kept are"):
        client.request("memory_diff", old=first["snapshot"] - 1, new=second["snapshot"])


@pytest.mark.skipif(not PYTHON310.exists(), reason="no Python 3.10 interpreter here")
def test_requests_in_a_python_310_target() -> None:
    watched = Watched("batch_jobs.py", "--duration", "30", names=set(), python=str(PYTHON310))
    try:
        client = watched.client
        client.request("trace_start")
        started = len(watched.samples)
        wait_until(lambda: len(watched.samples) > started + 10)
        top = client.request("memory_top", limit=5)
        stopped = client.request("trace_stop")
    finally:
        os.kill(watched.pid, signal.SIGKILL)
        watched.finish()
    assert top["tracing"] is True
    assert top["rows"]
    assert stopped["stop_pending"] is True  # 3.10: traces cleared, tracing not stopped


class CountingClient:
    """The real client, counting the requests it sends."""

    def __init__(self, client: AgentClient) -> None:
        self.client = client
        self.sent: list[str] = []

    def request(self, kind: str, timeout: float = 10.0, **fields: object) -> dict:
        self.sent.append(kind)
        return self.client.request(kind, timeout, **fields)


def test_the_growth_watcher_asks_an_untraced_program_once_a_second(leaky: Watched) -> None:
    counting = CountingClient(leaky.client)
    memory = AgentTracedMemory(counting)  # type: ignore[arg-type]
    asked_at = time.monotonic()
    assert all(memory.traced() is None for _ in range(200))
    elapsed = time.monotonic() - asked_at
    assert 1 <= len(counting.sent) <= 1 + elapsed / IDLE_RECHECK_S
    leaky.client.request("trace_start")
    wait_until(lambda: memory.traced() is not None, timeout=IDLE_RECHECK_S * 5)
    assert memory.traced() > 0  # type: ignore[operator]
