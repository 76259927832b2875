"""The agent's sampling profile: every thread of a real ``threadscope run`` program, on each
Python here (3.11 in the venv; 3.10, 3.12 and 3.13 when installed), and its caps in this process."""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import wait_until
from test_agent import Watched

from core.agent import sampling_profile
from core.agent.sampling_profile import OTHER_FUNCTIONS, THREAD_NAME, SamplingProfile
from core.watch.errors import WatchError

PROGRAM = """
import sys, threading, time

def announce():
    me = threading.current_thread()
    sys.stdout.write(f"thread {me.name} native_id {threading.get_native_id()}\\n")
    sys.stdout.flush()

def spin_in_known_function(until):
    announce()
    n = 0
    while time.monotonic() < until:
        n += 1

def doze(until):
    announce()
    while time.monotonic() < until:
        time.sleep(0.01)

until = time.monotonic() + float(sys.argv[1])
threads = [
    threading.Thread(target=spin_in_known_function, args=(until,), name="spinner"),
    threading.Thread(target=doze, args=(until,), name="dozer"),
]
for thread in threads:
    thread.start()
announce()
for thread in threads:
    thread.join()
"""
PYTHONS = [
    pytest.param(sys.executable, id=f"{sys.version_info[0]}.{sys.version_info[1]}"),
    *(
        pytest.param(
            str(path),
            id=path.parts[-3][:4],
            marks=pytest.mark.skipif(not path.exists(), reason=f"no {path} here"),
        )
        for path in (
            Path("/root/.pyenv/versions/3.10.13/bin/python"),
            Path("/root/.pyenv/versions/3.12.1/bin/python"),
            Path("/root/.pyenv/versions/3.13.0/bin/python"),
        )
    ),
]


def write_program(directory: Path) -> Path:
    path = directory / "spin_and_doze.py"
    path.write_text(PROGRAM)
    return path


@pytest.fixture(params=PYTHONS)
def spinning(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Watched]:
    script = write_program(tmp_path)  # an absolute path: Watched's EXAMPLES / script is it
    watched = Watched(str(script), "30", names={"spinner", "dozer"}, python=request.param)
    yield watched
    os.kill(watched.pid, signal.SIGKILL)
    watched.finish()


def thread_names(watched: Watched) -> set[str]:
    return {t.name for t in watched.samples[-1].threads}


def test_a_profile_of_threads_already_running_puts_the_busy_function_on_top(
    spinning: Watched,
) -> None:
    client = spinning.client
    wait_until(lambda: bool(spinning.samples))
    assert THREAD_NAME not in thread_names(spinning)  # nothing runs until asked
    started = client.request("profile_start")
    assert started["hz"] == 100
    assert "every thread" in started["covers"]
    with pytest.raises(WatchError, match="already running"):
        client.request("profile_start")
    spinning.wait_for(lambda s: THREAD_NAME in {t.name for t in s.threads})
    count = len(spinning.samples)
    wait_until(lambda: len(spinning.samples) > count + 10)  # 0.5 s: about 50 ticks
    reply = client.request("profile_stop", limit=20)

    top = reply["rows"][0]
    assert top["function"] == "spin_in_known_function"
    assert top["file"].endswith("spin_and_doze.py")
    assert top["self_cpu_s"] > 0.5 * reply["cpu_s"]
    assert reply["ticks"] >= 10
    assert reply["cpu_measured"] is True
    assert reply["error"] is None
    assert not any("threadscope_agent" in row["file"] for row in reply["rows"])
    threads = {t["name"]: t for t in reply["threads"]}
    assert {"MainThread", "spinner", "dozer"} <= threads.keys()
    assert not any(name.startswith("threadscope-agent") for name in threads)
    spinner, dozer = threads["spinner"], threads["dozer"]
    # The sleeping thread is sampled as often, and weighs next to nothing in CPU.
    assert dozer["samples"] >= reply["ticks"] - 2
    assert dozer["cpu_s"] < spinner["cpu_s"] / 10
    doze = next(row for row in dozer["rows"] if row["function"] == "doze")
    assert doze["self_samples"] >= dozer["samples"] - 2  # wall: where it was
    assert doze["self_cpu_s"] < top["self_cpu_s"] / 10
    for row in reply["rows"]:
        assert row["total_samples"] >= row["self_samples"]
        assert row["total_cpu_s"] >= row["self_cpu_s"]
    spinning.wait_for(lambda s: THREAD_NAME not in {t.name for t in s.threads})  # gone again
    with pytest.raises(WatchError, match="no profile is running"):
        client.request("profile_stop")


def test_past_its_caps_a_profile_counts_the_rest_together(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Fifty distinct functions, room for five: the rest count under OTHER_FUNCTIONS."""
    monkeypatch.setattr(sampling_profile, "MAX_FUNCTIONS", 5)
    namespace: dict[str, object] = {}
    exec(  # fifty functions, each with a code object of its own
        "\n".join(f"def f{i}():\n    return sum(range(200))" for i in range(50)), namespace
    )
    functions = [namespace[f"f{i}"] for i in range(50)]

    def call_them_all() -> None:
        for function in functions:
            function()  # type: ignore[operator]

    done = threading.Event()

    def caller() -> None:
        while not done.is_set():
            call_them_all()

    worker = threading.Thread(target=caller, name="caller")
    worker.start()
    profile = SamplingProfile()
    try:
        profile.start()
        wait_until(lambda: profile.ticks >= 30)
    finally:
        reply = profile.stop()
        done.set()
        worker.join()
    assert reply["functions"] == 5
    caller = next(t for t in reply["threads"] if t["name"] == "caller")
    other = next(r for r in caller["rows"] if r["function"] == OTHER_FUNCTIONS[2])
    assert other["self_samples"] > 0
    assert sum(r["self_samples"] for r in caller["rows"]) == caller["samples"]


def test_a_free_threaded_build_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sampling_profile, "gil_disabled", lambda: True)
    with pytest.raises(RuntimeError, match="free-threaded"):
        SamplingProfile()


def test_a_profile_left_running_never_keeps_the_program_alive(tmp_path: Path) -> None:
    """Nobody stops it: the program still ends on its own, with its own status and output."""
    watched = Watched(str(write_program(tmp_path)), "1.5", names={"spinner", "dozer"})
    watched.client.request("profile_start")
    status, out, err = watched.finish()
    assert status == 0
    assert "Traceback" not in out + err
