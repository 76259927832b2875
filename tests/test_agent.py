"""The in-target agent under ``threadscope run``: real subprocesses, real Unix sockets.

Each example prints ``thread NAME native_id N`` as its threads start; the tests compare that
with what the agent reports over its socket.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import wait_until

from core.agent import protocol
from core.watch.client import AgentClient
from core.watch.model import Sample

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
PYTHON310 = Path("/root/.pyenv/versions/3.10.13/bin/python3.10")


def threadscope(*args: str, **popen: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "core.cli", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,  # type: ignore[call-overload]
    )


def announced(stdout: object, names: set[str]) -> dict[str, int]:
    """Read ``thread NAME native_id N`` lines until every name in ``names`` has appeared."""
    seen: dict[str, int] = {}
    for line in stdout:  # type: ignore[attr-defined]
        if line.startswith("thread "):
            _, name, _, native_id = line.split()
            seen[name] = int(native_id)
        if names <= seen.keys():
            return seen
    raise AssertionError(f"the program ended before announcing {names - seen.keys()}")


class Watched:
    """An example under ``threadscope run --headless``, with our own client on its socket."""

    def __init__(self, script: str, *args: str, names: set[str], python: str = sys.executable):
        self.run = threadscope(
            "run", "--headless", "--interval", "50", "--", python, str(EXAMPLES / script), *args
        )
        self.threads = announced(self.run.stdout, names | {"MainThread"})
        self.pid = self.threads["MainThread"]  # the main thread's native id is the pid
        self.path = protocol.socket_path(self.pid)
        wait_until(lambda: os.path.exists(self.path))
        self.samples: list[Sample] = []
        self.ended: list[str] = []
        self.client = AgentClient(self.path, self.samples.append, self.ended.append).connect()

    def wait_for(self, predicate: object, timeout: float = 15.0) -> Sample:
        found: list[Sample] = []

        def check() -> bool:
            found.extend(s for s in self.samples[-3:] if predicate(s))  # type: ignore[operator]
            return bool(found)

        wait_until(check, timeout)
        return found[-1]

    def finish(self) -> tuple[int, str, str]:
        out, err = self.run.communicate(timeout=30)
        self.client.close()
        return self.run.returncode, out, err


@pytest.fixture
def producer_consumer() -> Iterator[Watched]:
    watched = Watched(
        "producer_consumer.py",
        "--duration",
        "3",
        names={"producer", "consumer-1", "consumer-2", "consumer-3"},
    )
    yield watched
    watched.finish()


def by_name(sample: Sample) -> dict[str, object]:
    return {t.name: t for t in sample.threads}


def test_threads_are_named_with_the_programs_own_native_ids(producer_consumer: Watched) -> None:
    sample = producer_consumer.wait_for(lambda s: {"producer", "consumer-3"} <= by_name(s).keys())
    reported = {t.name: t.native_id for t in sample.threads}
    for name, native_id in producer_consumer.threads.items():
        assert reported[name] == native_id
    agent = [t for t in sample.threads if t.agent]
    assert [t.name for t in agent] == [protocol.AGENT_THREAD_NAME]
    assert agent[0].daemon is True
    assert sample.pid == producer_consumer.pid
    assert sample.rss_bytes
    assert sample.rss_bytes > 1_000_000
    assert len(sample.gc_counts) == 3


def test_stacks_hold_the_expected_functions(producer_consumer: Watched) -> None:
    def functions(sample: Sample, name: str) -> list[str]:
        return [f.function for t in sample.threads if t.name == name for f in t.stack]

    sample = producer_consumer.wait_for(lambda s: "consume" in functions(s, "consumer-1"))
    assert "produce" in functions(sample, "producer")
    assert functions(sample, "consumer-1")[0] == "_bootstrap"  # outermost first
    main = next(t for t in sample.threads if t.name == "MainThread")
    assert main.stack[0].function == "<module>"  # the program's, not the bootstrap's or runpy's
    assert main.stack[0].file.endswith("producer_consumer.py")
    assert "main" in functions(sample, "MainThread")
    assert not any(
        "threadscope_agent" in f.file for t in sample.threads if not t.agent for f in t.stack
    )


def test_a_thread_blocked_in_queue_get_is_waiting_on_the_queue(producer_consumer: Watched) -> None:
    def waiting(s: Sample) -> bool:
        return any(
            t.name.startswith("consumer") and t.state == "waiting on queue" for t in s.threads
        )

    sample = producer_consumer.wait_for(waiting)
    consumer = next(t for t in sample.threads if t.state == "waiting on queue")
    assert consumer.os_state in ("S", "D")
    assert [f.function for f in consumer.stack][-2:] == ["get", "wait"]


def test_the_cpu_bound_thread_has_the_most_cpu() -> None:
    watched = Watched(
        "cpu_bound.py", "--threads", "1", "--duration", "3", names={"cruncher-1", "sleeper"}
    )
    sample = watched.wait_for(
        lambda s: any(t.name == "cruncher-1" and (t.cpu_s or 0) > 0.5 for t in s.threads)
    )
    program = [t for t in sample.threads if not t.agent]
    assert max(program, key=lambda t: t.cpu_s or 0).name == "cruncher-1"
    sleeper = next(t for t in program if t.name == "sleeper")
    assert (sleeper.cpu_s or 0) < 0.2
    status, out, _ = watched.finish()
    assert status == 0
    assert "threads counted to" in out


def test_program_exit_status_and_end_of_stream(producer_consumer: Watched) -> None:
    status, out, err = producer_consumer.finish()
    assert status == 0
    assert "consumed" in out
    assert "threadscope run: the program ended; exit status 0" in err
    wait_until(lambda: producer_consumer.ended == ["the program ended"])
    assert not os.path.exists(producer_consumer.path)  # the agent removed its socket


def test_hang_example_gives_up_with_status_1() -> None:
    run = threadscope(
        "run", "--headless", "--", sys.executable, str(EXAMPLES / "hang.py"), "--duration", "0.5"
    )
    out, err = run.communicate(timeout=30)
    assert run.returncode == 1
    assert "gave up waiting" in out  # the first to give up frees the other
    assert "deadlock: worker-" in out
    assert err.strip().endswith("exit status 1")


@pytest.mark.parametrize(
    ("code", "status", "says"),
    [
        ("import sys; sys.exit(3)", 3, "exit status 3"),
        ("raise RuntimeError('boom')", 1, "exit status 1"),
        ("import os; os.abort()", 128 + signal.SIGABRT, "killed by SIGABRT"),
    ],
)
def test_exit_and_crash_pass_through(tmp_path: Path, code: str, status: int, says: str) -> None:
    script = tmp_path / "app.py"
    script.write_text(code + "\n")
    run = threadscope("run", "--headless", "--", sys.executable, str(script))
    _, err = run.communicate(timeout=30)
    assert run.returncode == status
    assert says in err.splitlines()[-1]


def test_the_program_runs_on_when_threadscope_is_killed() -> None:
    watched = Watched("producer_consumer.py", "--duration", "2", names={"producer"})
    watched.run.send_signal(signal.SIGKILL)
    watched.run.wait(10)
    with watched.run:  # closes its pipes after the read
        out = watched.run.stdout.read()  # type: ignore[union-attr]  # the program still writes here
    assert "consumed" in out
    watched.client.ended.wait(10)
    assert watched.client.end_reason == "the program ended"
    watched.client.close()


PROBE = """\
import json, os, sys
print(json.dumps({"argv": sys.argv, "path0": sys.path[0], "name": __name__,
                  "file": __file__, "spec": getattr(__spec__, "name", None),
                  "agent_on_path": any("threadscope-run-" in p for p in sys.path),
                  "threadscope": "threadscope_agent" in sys.modules}))
"""


@pytest.mark.parametrize("mode", ["script", "module"])
def test_the_program_sees_what_plain_python_gives_it(tmp_path: Path, mode: str) -> None:
    package = tmp_path / "probepkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text(PROBE)
    target = ["-m", "probepkg"] if mode == "module" else [str(package / "__main__.py")]
    plain = subprocess.run(
        [sys.executable, *target, "a b", "--flag"], cwd=tmp_path, capture_output=True, text=True
    )
    watched = subprocess.run(
        [
            sys.executable,
            "-m",
            "core.cli",
            "run",
            "--headless",
            "--",
            sys.executable,
            *target,
            "a b",
            "--flag",
        ],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
    )
    assert watched.returncode == 0, watched.stderr
    import json

    seen, expected = json.loads(watched.stdout), json.loads(plain.stdout)
    assert seen["threadscope"] is True  # the agent is loaded (as threadscope_agent)
    assert seen["agent_on_path"] is False  # but its directory is gone from sys.path
    seen.pop("threadscope"), expected.pop("threadscope")
    assert seen == expected


def test_socket_and_directory_are_owner_only(producer_consumer: Watched) -> None:
    directory = os.path.dirname(producer_consumer.path)
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(producer_consumer.path).st_mode) == 0o600
    assert os.stat(producer_consumer.path).st_uid == os.getuid()


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to become another user")
def test_another_user_cannot_connect(producer_consumer: Watched) -> None:
    import socket

    child = os.fork()
    if child == 0:  # pragma: no cover - the child only reports through its exit status
        code = 3
        try:
            os.setgid(65534)
            os.setuid(65534)
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(producer_consumer.path)
                code = 0
            except PermissionError:
                code = 1
        finally:
            os._exit(code)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 1  # refused: permission denied


def test_a_slow_reader_gets_drops_counted_and_the_program_does_not_wait() -> None:
    import socket

    run = threadscope(
        "run",
        "--headless",
        "--interval",
        "10",
        "--",
        sys.executable,
        str(EXAMPLES / "producer_consumer.py"),
        "--duration",
        "4",
    )
    pid = announced(run.stdout, {"MainThread"})["MainThread"]
    path = protocol.socket_path(pid)
    wait_until(lambda: os.path.exists(path))
    slow = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.connect(path)
    reader = slow.makefile("rb")
    pause = threading.Event()
    dropped = 0
    for _ in range(400):  # read one message every 20 ms: slower than 10 ms samples
        line = reader.readline()
        if not line:
            break
        dropped = max(dropped, protocol.decode(line).get("dropped", 0))
        if dropped:
            break
        pause.wait(0.02)
    slow.close()
    out, _ = run.communicate(timeout=30)
    assert dropped > 0
    assert run.returncode == 0
    assert "consumed" in out


@pytest.mark.skipif(not PYTHON310.exists(), reason="no Python 3.10 interpreter here")
def test_a_python_310_target() -> None:
    watched = Watched(
        "producer_consumer.py", "--duration", "2", names={"producer"}, python=str(PYTHON310)
    )
    sample = watched.wait_for(lambda s: "producer" in by_name(s))
    assert sample.python.startswith("cpython 3.10")
    assert by_name(sample)["producer"].native_id == watched.threads["producer"]  # type: ignore[attr-defined]
    status, _, _ = watched.finish()
    assert status == 0


def test_a_dump_request_over_the_socket(producer_consumer: Watched) -> None:
    dump = producer_consumer.client.request_dump()
    assert dump.agent is True
    assert {"producer", "consumer-1", protocol.AGENT_THREAD_NAME} <= by_name(dump).keys()


def test_a_lock_order_deadlock_is_named_in_the_dump_when_locks_are_tracked() -> None:
    """The lock tracker fills holds / waiting_for / deadlocks."""
    watched = Watched("hang.py", "--duration", "20", names={"worker-a", "worker-b"})
    sample = watched.wait_for(lambda s: bool(s.deadlocks), timeout=10)
    assert {frozenset(cycle) for cycle in sample.deadlocks} == {frozenset({"worker-a", "worker-b"})}
    threads = by_name(sample)
    for name in ("worker-a", "worker-b"):
        thread = threads[name]
        assert thread.state == "waiting on lock"  # type: ignore[attr-defined]
        assert len(thread.holds) == 1  # type: ignore[attr-defined]
        assert thread.waiting_for is not None  # type: ignore[attr-defined]
    os.kill(watched.pid, signal.SIGKILL)  # end the hang now, not after its 20 s
    status, _, _ = watched.finish()
    assert status == 128 + signal.SIGKILL


def test_the_pool_downloader_against_the_test_site() -> None:
    from core.testsite import TestSite

    with TestSite(pages=120, latency_ms=40) as site:
        watched = Watched(
            "downloader.py", site.url, "--workers", "4", "--pages", "120",
            names={"download_0", "download_1"},
        )  # fmt: skip
        states: set[str] = set()

        def seen(sample: Sample) -> bool:
            states.update(t.state for t in sample.threads if t.name.startswith("download_"))
            return "socket I/O" in states

        sample = watched.wait_for(seen)
        pool = {t.name: t.native_id for t in sample.threads if t.name.startswith("download_")}
        for name, native_id in pool.items():
            assert watched.threads.get(name, native_id) == native_id
        status, out, _ = watched.finish()
    assert status == 0
    assert "downloaded 120 pages" in out
    assert states <= {"socket I/O", "idle in pool", "running", "waiting for GIL", "in C call"}
