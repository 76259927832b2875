"""``threadscope dump`` / ``attach`` and the errors of ``run``: real processes, real py-spy."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest
from test_agent import EXAMPLES, REPO, Watched, announced, threadscope

from core.watch import permissions

THREAD_KEYS = {
    "name",
    "native_id",
    "ident",
    "daemon",
    "state",
    "cpu_s",
    "stack",
    "holds",
    "waiting_for",
}


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "core.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


def one_line_error(result: subprocess.CompletedProcess[str], says: str) -> None:
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert says in lines[0]
    assert "Traceback" not in result.stderr


def check_dump_object(dump: dict[str, object], pid: int, agent: bool) -> None:
    assert set(dump) == {"pid", "python", "agent", "threads", "locks", "deadlocks"}
    assert dump["pid"] == pid
    assert dump["agent"] is agent
    assert dump["deadlocks"] == []
    locks = dump["locks"]
    assert isinstance(locks, list)
    if not agent:  # py-spy sees stacks, not lock owners
        assert locks == []
    for lock in locks:
        assert {"id", "kind", "created_at", "owner", "waiters"} <= set(lock)
    known = {lock["id"] for lock in locks}
    for thread in dump["threads"]:  # type: ignore[attr-defined]
        assert set(thread) == THREAD_KEYS
        assert set(thread["holds"]) <= known
        assert thread["waiting_for"] is None or thread["waiting_for"] in known


@pytest.fixture
def plain_program() -> Iterator[tuple[subprocess.Popen[str], dict[str, int]]]:
    """producer_consumer.py under a plain interpreter (no agent)."""
    program = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "producer_consumer.py"), "--duration", "4"],
        stdout=subprocess.PIPE,
        text=True,
    )
    threads = announced(program.stdout, {"MainThread", "producer", "consumer-1"})
    yield program, threads
    program.communicate(timeout=30)


def pyspy_dump(pid: int, *flags: str) -> subprocess.CompletedProcess[str]:
    result = cli("dump", str(pid), *flags)
    if result.returncode != 0 and "may not trace" in result.stderr:
        pytest.skip(f"py-spy cannot attach here: {result.stderr.strip()}")
    return result


def test_dump_json_through_the_agent() -> None:
    watched = Watched("producer_consumer.py", "--duration", "3", names={"producer", "consumer-1"})
    result = cli("dump", str(watched.pid), "--json")
    assert result.returncode == 0, result.stderr
    dump = json.loads(result.stdout)
    check_dump_object(dump, watched.pid, agent=True)
    threads = {t["name"]: t for t in dump["threads"]}
    assert threads["producer"]["native_id"] == watched.threads["producer"]
    consumer = [f["function"] for f in threads["consumer-1"]["stack"]]
    assert consumer[0] == "_bootstrap"
    assert "consume" in consumer
    text = cli("dump", str(watched.pid))
    assert '"consumer-1"' in text.stdout
    assert "through the agent" in text.stdout
    assert "    at consume (" in text.stdout
    watched.finish()


def test_dump_json_of_a_plain_python_process_through_pyspy(plain_program) -> None:  # type: ignore[no-untyped-def]
    program, announced_threads = plain_program
    result = pyspy_dump(program.pid, "--json")
    assert result.returncode == 0, result.stderr
    dump = json.loads(result.stdout)
    check_dump_object(dump, program.pid, agent=False)
    threads = {t["name"]: t for t in dump["threads"]}
    assert threads["consumer-1"]["native_id"] == announced_threads["consumer-1"]
    stack = [f["function"] for f in threads["consumer-1"]["stack"]]
    assert stack[0] == "_bootstrap"
    assert "consume" in stack
    assert threads["consumer-1"]["state"] == "waiting on queue"
    assert threads["producer"]["cpu_s"] is not None


def test_attach_shows_the_live_table_until_the_process_ends(plain_program) -> None:  # type: ignore[no-untyped-def]
    program, _ = plain_program
    attach = threadscope("attach", str(program.pid))
    _out, err = attach.communicate(timeout=60)
    if "may not trace" in err:
        pytest.skip(f"py-spy cannot attach here: {err.strip()}")
    assert attach.returncode == 0, err
    assert "via py-spy" in err
    assert any(
        line.startswith("consumer-1 ") and "waiting on queue" in line for line in err.splitlines()
    )
    assert "exited" in err.strip().splitlines()[-1]  # "no process with pid…" or "…has exited"


def test_dump_of_a_process_that_is_not_python() -> None:
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        one_line_error(cli("dump", str(sleeper.pid)), "is not a Python process")
    finally:
        sleeper.kill()
        sleeper.wait()


def test_dump_and_attach_of_a_dead_pid() -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    one_line_error(cli("dump", str(gone.pid)), f"no process with pid {gone.pid}")
    one_line_error(cli("attach", str(gone.pid)), f"no process with pid {gone.pid}")


@pytest.mark.parametrize(
    ("command", "says"),
    [
        (["no-such-python-3000", "app.py"], "interpreter not found: no-such-python-3000"),
        ([sys.executable, "/no/such/app.py"], "script not found: /no/such/app.py"),
        (["/bin/true", "app.py"], "script not found"),
        (["/bin/ls", str(EXAMPLES / "hang.py")], "is not a Python interpreter"),
        ([sys.executable], "no script or -m MODULE"),
        ([], "no program given"),
    ],
)
def test_run_errors_are_one_line_and_exit_2(command: list[str], says: str) -> None:
    one_line_error(cli("run", "--headless", "--", *command), says)


def test_run_without_headless_and_without_the_launcher_shows_the_table() -> None:
    result = cli("run", "--", sys.executable, str(EXAMPLES / "hang.py"), "--duration", "0.1")
    assert "no window from `python -m core.cli`" in result.stderr
    assert result.returncode == 1  # hang.py's own status


@pytest.mark.parametrize(
    ("target_uid", "scope", "cap", "says"),
    [
        (1000, 0, False, "belongs to another user (uid 1000"),
        (0, 1, False, "ptrace_scope is 1"),
        (0, 2, False, "ptrace_scope is 2"),
        (0, 3, False, "ptrace is disabled"),
    ],
)
def test_ptrace_refusals_say_why_and_what_works(
    target_uid: int, scope: int, cap: bool, says: str
) -> None:
    reason = permissions.explain_denied(42, target_uid, 0, scope, cap, "/usr/bin/py-spy")
    assert reason is not None
    assert says in reason
    assert "threadscope run" in reason
    if scope in (1, 2):
        assert "setcap cap_sys_ptrace=eip /usr/bin/py-spy" in reason


def test_ptrace_allowed_with_the_capability_or_an_open_scope() -> None:
    assert permissions.explain_denied(42, 1000, 0, 1, True, "py-spy") is None
    assert permissions.explain_denied(42, 0, 0, 0, False, "py-spy") is None
