"""Reading every thread's stack without letting another thread move it (core.agent.frames)."""

from __future__ import annotations

import gc
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

from core.agent.frames import current_stacks

ROOT = Path(__file__).resolve().parent.parent


def test_stacks_are_outermost_first_with_the_callers_function_innermost() -> None:
    stop = threading.Event()

    def parked_here() -> None:
        stop.wait(10)

    thread = threading.Thread(target=parked_here, name="parked")
    thread.start()
    try:
        stacks = current_stacks()
        ours = [code.co_name for code, _line, _lasti in stacks[threading.get_ident()]]
        assert ours[-2:] == [
            "test_stacks_are_outermost_first_with_the_callers_function_innermost",
            "current_stacks",
        ]
        theirs = [code.co_name for code, _line, _lasti in stacks[thread.ident]]  # type: ignore[index]
        assert theirs[0] == "_bootstrap"
        assert "parked_here" in theirs
        assert theirs[-1] == "wait"  # Event.wait's Condition.wait, innermost
        assert all(line > 0 for _code, line, _lasti in stacks[thread.ident])  # type: ignore[index]
    finally:
        stop.set()
        thread.join()


def test_the_switch_interval_and_the_gc_are_as_they_were() -> None:
    interval = sys.getswitchinterval()
    current_stacks()
    assert sys.getswitchinterval() == interval
    assert gc.isenabled()
    gc.disable()
    try:
        current_stacks()
        assert not gc.isenabled()  # the caller's choice is kept
    finally:
        gc.enable()


CHURN = """
import sys, threading, time
sys.path.insert(0, sys.argv[1])
from core.agent.frames import current_stacks

sys.setswitchinterval(1e-6)  # hand the GIL over as often as CPython allows
until = time.monotonic() + float(sys.argv[2])

def deep(n):
    return deep(n - 1) if n else sum(gen())

def gen():
    for i in range(50):
        yield i

def short_lived():
    for _ in range(20):
        deep(30)

def churn():
    while time.monotonic() < until:
        threads = [threading.Thread(target=short_lived) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

churners = [threading.Thread(target=churn) for _ in range(2)]
for t in churners:
    t.start()
walks = 0
while time.monotonic() < until:
    assert current_stacks()
    walks += 1
for t in churners:
    t.join()
print(walks)
"""


def test_walking_while_threads_start_end_and_run_generators_never_crashes(tmp_path: Path) -> None:
    script = tmp_path / "churn.py"
    script.write_text(textwrap.dedent(CHURN))
    run = subprocess.run(
        [sys.executable, "-X", "faulthandler", str(script), str(ROOT), "3"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert int(run.stdout) > 100  # it really walked, many times


def test_threads_skipped_are_left_out_and_the_rest_walked() -> None:
    done = threading.Event()
    parked = threading.Thread(target=done.wait, args=(10,), name="parked")
    parked.start()
    try:
        everyone = current_stacks()
        some = current_stacks(skip={parked.ident or 0})
        assert parked.ident in everyone
        assert parked.ident not in some
        assert threading.get_ident() in some
    finally:
        done.set()
        parked.join(10)
