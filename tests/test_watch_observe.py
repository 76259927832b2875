"""Observability of a watched program (issue 14 for ``threadscope run`` / ``attach``): the
Prometheus endpoint over real sockets, the hang detector on a real deadlock, History.

Every program is a real subprocess of examples/ under ``threadscope run``; the endpoint is
scraped over loopback while it runs.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from collections.abc import Iterator

import psutil
import pytest
from conftest import wait_until
from test_agent import announced, threadscope
from test_observe_metrics import scrape
from test_watch import REPO, cli, one_line_error, plain_program  # noqa: F401 (a fixture)

from core.agent import classify
from core.history import list_runs, load_details, load_metrics
from core.observe.watched import WatchedProgram
from core.watch.model import Sample, StackFrame, WatchedThread

SERVING = re.compile(r"metrics: serving Prometheus metrics at (http://\S+/metrics)")


def metrics_url(stderr: object) -> str:
    """The URL ``run``/``attach`` says it listens on (the first lines of its stderr)."""
    for line in stderr:  # type: ignore[attr-defined]
        if found := SERVING.search(line):
            return found.group(1)
    raise AssertionError("never said where the metrics endpoint listens")


@pytest.fixture
def cpu_bound() -> Iterator[tuple[subprocess.Popen[str], str, int]]:
    """examples/cpu_bound.py under ``run --metrics-port 0``: (run, metrics URL, target pid)."""
    run = threadscope(
        "run", "--headless", "--metrics-port", "0", "--", sys.executable,
        "examples/cpu_bound.py", "--threads", "2", "--duration", "4",
    )  # fmt: skip
    url = metrics_url(run.stderr)
    pid = announced(run.stdout, {"MainThread", "cruncher-1", "cruncher-2"})["MainThread"]
    yield run, url, pid
    if run.returncode is None:
        run.communicate(timeout=30)


def test_run_serves_the_programs_threads_cpu_and_process(cpu_bound) -> None:  # type: ignore[no-untyped-def]
    run, url, pid = cpu_bound
    assert url.startswith("http://127.0.0.1:")
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    seen: set[str] = set()  # states over the scrapes (the sleeper wakes every 50 ms)
    full = [False]  # a scrape has shown all four threads

    def crunched() -> bool:
        now = scrape(url)[1]
        samples.update(now)
        states = {dict(k)["state"]: n for k, n in now.get("threadscope_threads", {}).items()}
        alive = sum(states.values())
        assert alive <= 4  # MainThread, 2 crunchers, the sleeper; never the agent
        seen.update(states)
        full[0] = full[0] or alive == 4
        cpu = samples.get("threadscope_thread_cpu_seconds_total", {})
        crunching = all(cpu.get((("thread", f"cruncher-{i}"),), 0.0) > 0.05 for i in (1, 2))
        return crunching and full[0] and classify.SLEEPING in seen

    wait_until(crunched, timeout=15)
    assert seen <= set(classify.STATES)
    assert seen & {classify.RUNNING, classify.WAIT_GIL}
    # process_* are the program's, not Threadscope's (which has its own prefix)
    target, ours = psutil.Process(pid), psutil.Process(run.pid)
    rss = samples["process_resident_memory_bytes"][()]
    assert abs(rss - target.memory_info().rss) < 0.3 * target.memory_info().rss
    own = samples["threadscope_process_resident_memory_bytes"][()]
    assert abs(own - ours.memory_info().rss) < 0.3 * ours.memory_info().rss
    assert samples["process_cpu_seconds_total"][()] > 0.1
    assert "process_open_fds" in samples
    assert "threadscope_pages_total" not in samples  # no crawl here
    assert "python_gc_objects_collected_total" not in samples  # that would be Threadscope's


def test_a_run_is_saved_to_history_with_its_series(cpu_bound) -> None:  # type: ignore[no-untyped-def]
    run, _url, _pid = cpu_bound
    out, err = run.communicate(timeout=30)
    assert run.returncode == 0
    (record,) = list_runs()
    assert f"saved to history as {record.id}" in err.splitlines()[-2]  # before the ending
    assert "saved to history" not in out  # the program's output stays the program's
    assert record.kind == "watch"
    assert record.title.endswith("examples/cpu_bound.py --threads 2 --duration 4 · exit status 0")
    assert record.settings["command"][1:] == [
        "examples/cpu_bound.py", "--threads", "2", "--duration", "4"
    ]  # fmt: skip
    assert record.summary.duration_s > 3.5
    assert (record.summary.peak_rss_mib or 0) > 5
    metrics = load_metrics(record.id)
    assert set(metrics) == {
        "t",
        "py_threads",
        "busy_threads",
        "os_threads",
        "rss_mib",
        "cpu_percent",
    }
    assert len(metrics["t"]) > 20  # ~10 rows/s for 4 s
    assert max(metrics["py_threads"]) == 4
    assert max(metrics["busy_threads"]) >= 2  # the crunchers
    assert max(metrics["os_threads"]) >= 5  # and the agent
    assert max(metrics["cpu_percent"]) > 20  # crunching (less than a core on a busy machine)
    listed = cli("history")
    assert record.id in listed.stdout
    line = next(line for line in listed.stdout.splitlines() if record.id in line)
    assert " watch " in line
    assert line.endswith("exit status 0")


def test_no_history_saves_nothing() -> None:
    run = threadscope(
        "run", "--headless", "--no-history", "--", sys.executable, "examples/cpu_bound.py",
        "--threads", "1", "--duration", "0.5",
    )  # fmt: skip
    _out, err = run.communicate(timeout=30)
    assert run.returncode == 0, err
    assert "saved to history" not in err
    assert list_runs() == []


def test_a_deadlocked_program_gets_one_hang_dump_kept_with_its_run() -> None:
    run = threadscope(
        "run", "--headless", "--hang-dump-after", "0.5", "--", sys.executable,
        "examples/hang.py", "--duration", "3",
    )  # fmt: skip
    _out, err = run.communicate(timeout=30)
    assert run.returncode == 1  # the example gives up after 3 s
    assert err.count("hang: no progress for") == 1, err
    head = next(line for line in err.splitlines() if line.startswith("hang: no progress"))
    assert "waiting on lock: MainThread, worker-a, worker-b" in head
    assert "Found one Python-level deadlock:" in err
    (record,) = list_runs()
    (dump,) = [f for f in record.path.iterdir() if f.name.startswith("hang-")]
    text = dump.read_text(encoding="utf-8")
    assert '"worker-a"' in text
    assert "- waiting for <" in text  # annotated with the lock and its owner
    assert "held by worker-b" in text
    details = load_details(record.id)
    assert details is not None
    assert len(details["hangs"]) == 1
    assert details["outcome"] == "exit status 1"


def test_a_busy_program_is_no_hang() -> None:
    """Crunchers, a sleeper waking every 50 ms (its stack and 10 ms CPU ticks unchanged, its
    kernel run count not) and the program's exit, never still for 0.3 s."""
    run = threadscope(
        "run", "--headless", "--no-history", "--hang-dump-after", "0.3", "--", sys.executable,
        "examples/cpu_bound.py", "--threads", "2", "--duration", "2",
    )  # fmt: skip
    _out, err = run.communicate(timeout=30)
    assert run.returncode == 0, err
    assert "hang:" not in err


def _thread(name: str, state: str, cpu: float = 1.0, line: int = 1) -> WatchedThread:
    return WatchedThread(
        name, hash(name) % 10_000, hash(name), False, state, "S", cpu,
        (StackFrame("app.py", line, "work"),),
    )  # fmt: skip


def _sample(*threads: WatchedThread) -> Sample:
    agent = WatchedThread("threadscope-agent", 1, 1, True, "running", "R", 0.5, (), agent=True)
    return Sample(pid=1, python="cpython", agent=True, time=0.0, threads=(*threads, agent))


def test_idle_by_design_threads_are_no_pending_work() -> None:
    program = WatchedProgram(psutil.Process().pid)
    assert program.pending() == ""  # no sample yet
    program.offer(_sample(_thread("pool-1", classify.IDLE_POOL), _thread("q", classify.WAIT_QUEUE)))
    assert program.pending() == ""
    program.offer(_sample(_thread("sleepy", classify.SLEEPING), _thread("a", classify.WAIT_LOCK)))
    assert program.pending() == "1 of the program's threads are not idle (waiting on lock: a)"
    before = program.progress()
    program.offer(_sample(_thread("sleepy", classify.SLEEPING), _thread("a", classify.WAIT_LOCK)))
    assert program.progress() == before  # nothing moved (the agent's own CPU does not count)
    program.offer(
        _sample(_thread("sleepy", classify.SLEEPING, line=2), _thread("a", "waiting on lock"))
    )
    assert program.progress() != before  # a stack moved


def test_run_with_the_port_in_use_is_one_line_and_starts_nothing() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cli(
            "run", "--headless", "--metrics-port", str(port), "--", sys.executable,
            "examples/cpu_bound.py", "--duration", "0.2",
        )  # fmt: skip
    one_line_error(result, f"cannot serve metrics on 127.0.0.1:{port}")
    assert "thread MainThread" not in result.stdout  # the program never started


def test_trace_memory_is_for_crawls_and_run_and_attach_says_why() -> None:
    helps = " ".join(cli("run", "--help").stdout.split())
    assert "--metrics-port" in helps
    assert "--hang-dump-after" in helps
    assert "--trace-memory trace allocations (tracemalloc; in a watched program" in helps
    assert "--trace-memory is for crawls" not in helps
    attach = cli("attach", "--trace-memory", "1")
    assert attach.returncode == 2
    assert "--trace-memory is for crawls and `threadscope run`" in " ".join(
        cli("attach", "--help").stdout.split()
    )


def test_run_trace_memory_warns_once_naming_the_leaking_line() -> None:
    leak = next(
        n
        for n, line in enumerate((REPO / "examples/leaky_cache.py").read_text().splitlines(), 1)
        if "# the leak" in line
    )
    result = cli(
        "run", "--headless", "--trace-memory", "--no-history", "--", sys.executable,
        "examples/leaky_cache.py", "--duration", "2", "--rate-mib", "60", "--chunk-kib", "64",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    warnings = result.stderr.split("memory growth: ")[1:]
    assert len(warnings) == 1, result.stderr
    lines = warnings[0].splitlines()
    assert "traced memory grew" in lines[0]
    assert lines[1].strip().startswith(f"examples/leaky_cache.py:{leak}  +")  # as run named it
    assert "threadscope_agent" not in warnings[0]


def test_run_without_trace_memory_does_not_trace_the_program() -> None:
    result = cli(
        "run", "--headless", "--no-history", "--", sys.executable,
        "examples/leaky_cache.py", "--duration", "0.5", "--rate-mib", "60",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "memory growth" not in result.stderr


def test_attach_serves_the_processes_metrics_and_saves_the_watch(plain_program) -> None:  # type: ignore[no-untyped-def] # noqa: F811
    program, _threads = plain_program
    attach = threadscope("attach", str(program.pid), "--metrics-port", "0")
    try:
        url = metrics_url(attach.stderr)
    except AssertionError:
        _out, err = attach.communicate(timeout=30)
        if "may not trace" in err:
            pytest.skip(f"py-spy cannot attach here: {err.strip()}")
        raise
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}

    def seen() -> bool:
        samples.update(scrape(url)[1])
        return (("state", "waiting on queue"),) in samples.get("threadscope_threads", {})

    wait_until(seen, timeout=15)
    rss = samples["process_resident_memory_bytes"][()]
    target = psutil.Process(program.pid).memory_info().rss
    assert abs(rss - target) < 0.3 * target
    assert "threadscope_sampler_cpu_seconds_per_tick" not in samples  # py-spy: cost is ours
    out, _err = attach.communicate(timeout=60)
    (record,) = list_runs()
    assert f"saved to history as {record.id}" in out
    assert record.kind == "watch"
    assert record.title.startswith(f"attach {program.pid}: ")
    assert "producer_consumer.py" in record.title
