"""A program under ``threadscope run`` as observability sees it (issue 14): its lock waits on
the real endpoint, and the hang detector on real programs that poll, crunch or block.

Each program is written to a temporary file and run as a real subprocess under ``threadscope
run --headless``; the endpoint is scraped over loopback while it runs.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import pytest
from conftest import wait_until
from test_agent import announced, threadscope
from test_observe_metrics import scrape
from test_watch_observe import metrics_url

from core.agent.locks import WAIT_BUCKETS

ROUNDS = 5  # waits for an RLock, each longer than HOLD_S - (a thread switch)
HOLD_S = 0.15

CONTENDED = """
import gc, os, sys, threading, time

def announce():
    sys.stdout.write(f"thread {threading.current_thread().name} native_id "
                     f"{threading.get_native_id()}\\n")
    sys.stdout.flush()

def one_round(hold):
    lock = threading.RLock()  # a new lock each round, garbage after it
    trying = threading.Event()

    def waiter():
        trying.set()
        with lock:
            pass

    with lock:
        thread = threading.Thread(target=waiter, name="waiter")
        thread.start()
        trying.wait()
        time.sleep(hold)
    thread.join()

announce()
rounds, hold, marker = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
for _ in range(rounds):
    one_round(hold)
gc.collect()
quiet = threading.RLock()
for _ in range(10_000):  # uncontended: counts nothing
    with quiet:
        pass
print("rounds done", flush=True)
give_up = time.monotonic() + 60
while not os.path.exists(marker) and time.monotonic() < give_up:
    time.sleep(0.02)
"""


def program(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.fixture
def contended(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str, Path]]:
    """The contended program under ``run --metrics-port 0``: (run, metrics URL, marker file
    that ends it)."""
    marker = tmp_path / "stop"
    run = threadscope(
        "run", "--headless", "--no-history", "--metrics-port", "0", "--", sys.executable,
        program(tmp_path, "contended.py", CONTENDED), str(ROUNDS), str(HOLD_S), str(marker),
    )  # fmt: skip
    url = metrics_url(run.stderr)
    announced(run.stdout, {"MainThread"})
    try:
        yield run, url, marker
    finally:
        marker.touch()
        run.communicate(timeout=30)


def lock_waits(url: str) -> dict[str, dict[str, float]]:
    """Per kind: every ``le`` bucket, ``count`` and ``sum`` of the endpoint's histogram."""
    samples = scrape(url)[1]
    kinds: dict[str, dict[str, float]] = {}
    for suffix in ("bucket", "count", "sum"):
        for labels, value in samples.get(f"threadscope_lock_wait_seconds_{suffix}", {}).items():
            named = dict(labels)
            kinds.setdefault(named["kind"], {})[named.get("le", suffix)] = value
    return kinds


def test_run_serves_the_programs_lock_waits_bucket_by_bucket(contended) -> None:  # type: ignore[no-untyped-def]
    run, url, _marker = contended
    scrapes: list[dict[str, dict[str, float]]] = []

    def counted() -> bool:  # scraped again and again while the rounds go on
        scrapes.append(lock_waits(url))
        return scrapes[-1].get("RLock", {}).get("count", 0) >= ROUNDS

    wait_until(counted)
    assert next(line for line in run.stdout if line.startswith("rounds done"))
    scrapes.append(lock_waits(url))  # after 10 000 uncontended acquisitions too
    assert len(scrapes) > ROUNDS
    last = scrapes[-1]
    assert set(last) == {"Lock", "RLock", "Condition", "Semaphore", "BoundedSemaphore"}
    rlock = last["RLock"]
    assert set(rlock) == {*(repr(b) for b in WAIT_BUCKETS), "+Inf", "count", "sum"}
    assert rlock["count"] == rlock["+Inf"] == ROUNDS  # the rounds' locks are all gone by now
    assert rlock["0.05"] == 0  # each waited about HOLD_S
    assert rlock["sum"] >= ROUNDS * 0.05
    for earlier, later in pairwise(scrapes):  # consistent, monotonic
        for kind, values in later.items():
            buckets = [values[repr(b)] for b in WAIT_BUCKETS] + [values["+Inf"]]
            assert buckets == sorted(buckets)
            assert values["count"] == values["+Inf"]
            for key, value in values.items():
                assert value >= earlier.get(kind, {}).get(key, 0.0), (kind, key)


POLLER = """
import sys, threading, time

until = time.monotonic() + float(sys.argv[1])

def poll():  # polls a flag on short sleeps: its stack and CPU seconds look the same
    while time.monotonic() < until:
        time.sleep(0.01)

threads = [threading.Thread(target=poll, name=f"poller-{i}") for i in (1, 2)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()  # the main thread is not idle: it waits for them
"""

STALLS = """
import queue, socket, sys, threading

stall = float(sys.argv[1])

def on_lock(lock):
    lock.acquire(timeout=stall)

def on_queue(jobs):
    try:
        jobs.get(timeout=stall)
    except queue.Empty:
        pass

def on_socket(sock):  # a peer that never answers
    sock.settimeout(stall)
    try:
        sock.recv(1)
    except TimeoutError:
        pass

def episode(n):
    lock = threading.Lock()
    lock.acquire()
    ours, theirs = socket.socketpair()
    threads = [
        threading.Thread(target=on_lock, args=(lock,), name=f"on-lock-{n}"),
        threading.Thread(target=on_queue, args=(queue.Queue(),), name=f"on-queue-{n}"),
        threading.Thread(target=on_socket, args=(ours,), name=f"on-socket-{n}"),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ours.close()
    theirs.close()

for n in (1, 2):  # two episodes: everything blocked for `stall` seconds, twice
    episode(n)
"""


SERVER = """
import select, socket, sys, threading
from concurrent.futures import ThreadPoolExecutor

idle = float(sys.argv[1])
listener = socket.create_server(("127.0.0.1", 0))
events = socket.create_server(("127.0.0.1", 0))

def event_loop():  # waits for events that do not come, as a server's loop does
    select.select([events], [], [], idle)

pool = ThreadPoolExecutor(2, thread_name_prefix="handler")
pool.submit(int).result()  # a pool worker idle, waiting for work
loop = threading.Thread(target=event_loop, name="event-loop")
loop.start()
listener.settimeout(idle)
try:
    listener.accept()  # the main thread waits for a client that does not come
except TimeoutError:
    pass
loop.join()
pool.shutdown()
"""


def run_headless(tmp_path: Path, text: str, *args: str) -> subprocess.CompletedProcess[str]:
    run = threadscope(
        "run", "--headless", "--no-history", "--hang-dump-after", "0.3", "--", sys.executable,
        program(tmp_path, "program.py", text), *args,
    )  # fmt: skip
    out, err = run.communicate(timeout=60)
    return subprocess.CompletedProcess(run.args, run.returncode, out, err)


def test_threads_polling_on_short_sleeps_are_no_hang(tmp_path: Path) -> None:
    run = run_headless(tmp_path, POLLER, "2")
    assert run.returncode == 0, run.stderr
    assert "hang:" not in run.stderr


def test_an_idle_server_waiting_for_connections_is_no_hang(tmp_path: Path) -> None:
    run = run_headless(tmp_path, SERVER, "2")
    assert run.returncode == 0, run.stderr
    assert "hang:" not in run.stderr


def test_threads_blocked_on_a_lock_a_queue_and_a_socket_are_one_hang_per_episode(
    tmp_path: Path,
) -> None:
    run = run_headless(tmp_path, STALLS, "1.5")
    assert run.returncode == 0, run.stderr
    heads = [line for line in run.stderr.splitlines() if line.startswith("hang: no progress")]
    assert len(heads) == 2, run.stderr
    for n, head in enumerate(heads, 1):
        assert f"waiting on lock: MainThread, on-lock-{n}" in head
        assert f"socket I/O: on-socket-{n}" in head
        assert f"on-queue-{n}" not in head  # waiting for work: idle by design
    assert run.stderr.count('"on-queue-1"') == 1  # but in the first dump
