"""What the agent of ``threadscope run`` costs the program it watches (issue 12: <= 2 %).

Two programs, each timing its own work: a CPU-bound one (two threads counting down in pure
Python, a fixed count) and an I/O-bound one (eight threads doing a fixed number of round trips
over socket pairs to a peer process that answers each message after ``LATENCY_MS``, like a
backend; the peer is a separate, unwatched process, so the timed work is the program's threads
waiting on I/O and not a GIL convoy of in-process echo threads, whose run time once varied 4×
between runs). Each is run plainly and under ``threadscope run --headless`` at the given
interval, in adjacent pairs that alternate which goes first: the machine drifts between
minutes, a pair cancels it. Slowdown = median(with / without) - 1 of the work's wall time,
with the pairs' spread. The wall time is the working threads' CPU for the work divided by
their share of the wall (CPU seconds per second), and both are reported the same way: the
agent can make the work cost more CPU (caches, migrations, hand-offs) or leave the threads
less of the time (the GIL it holds while sampling). The share does not move with the host's
speed, which on a VM changes in steps of up to 2x within a second. Also per run: the agent
thread's CPU (its thread CPU clock, exact; ``/proc``'s 10 ms ticks read 0 for a thread that
runs in short bursts) and the ``threadscope run`` process's own CPU during the work (decoding
samples, the table), which competes with the program for the cores.

    python -m bench.agent_cost [--pairs 21] [--interval 100]   (make bench: section "Agent cost")
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from bench.pairs import alternating, median, ratios

# Each program ends by printing: its work's wall seconds, its working threads' own CPU seconds,
# and the agent thread's and the parent's CPU seconds during the work.
REPORT = """
print(seconds, sum(worked), agent_cpu() - agent_before, parent_cpu() - parent_before)
"""

# The agent thread's CPU seconds (its thread CPU clock, exact), and the parent's from /proc
# (10 ms ticks): under the agent, the parent is ``threadscope run``.
CLOCKS = """\
import os, threading, time
worked = []  # each working thread's CPU seconds, appended as it ends
def agent_cpu():
    agent = [t for t in threading.enumerate() if t.name == "threadscope-agent"]
    return time.clock_gettime(time.pthread_getcpuclockid(agent[0].ident)) if agent else 0.0
def parent_cpu():
    try:
        with open(f"/proc/{os.getppid()}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return 0.0
"""

CPU_BOUND = """\
import threading, time
def count(n):
    while n:
        n -= 1
    worked.append(time.thread_time())
threads = [threading.Thread(target=count, args=({count},), name=f"count-{i}") for i in range(2)]
agent_before, parent_before = agent_cpu(), parent_cpu()
start = time.perf_counter()
for t in threads: t.start()
for t in threads: t.join()
seconds = time.perf_counter() - start
"""

IO_BOUND = """\
import socket, subprocess, sys, threading, time
PEER = '''
import heapq, selectors, socket, sys, time
latency = float(sys.argv[1])
socks = {int(fd): socket.socket(fileno=int(fd)) for fd in sys.argv[2:]}
selector, due, left = selectors.DefaultSelector(), [], len(socks)
for sock in socks.values():
    selector.register(sock, selectors.EVENT_READ)
while left:
    timeout = max(0.0, due[0][0] - time.monotonic()) if due else None
    for key, _ in selector.select(timeout):
        data = key.fileobj.recv(64)
        if data:
            heapq.heappush(due, (time.monotonic() + latency, key.fd, data))
        else:
            selector.unregister(key.fileobj)
            left -= 1
    while due and due[0][0] <= time.monotonic():
        _, fd, data = heapq.heappop(due)
        socks[fd].sendall(data)
'''
pairs = [socket.socketpair() for _ in range(8)]
ends = [peer_end.fileno() for _, peer_end in pairs]
peer = subprocess.Popen([sys.executable, "-c", PEER, str({latency_ms} / 1000), *map(str, ends)],
                        pass_fds=ends)
for _, peer_end in pairs:
    peer_end.close()
def client(sock, n):
    for _ in range(n):
        sock.sendall(b"ping")
        sock.recv(64)
def work(sock, n):
    client(sock, n)
    worked.append(time.thread_time())
for sock, _ in pairs:
    client(sock, 1)  # the peer is up
threads = [threading.Thread(target=work, args=(c, {trips}), name=f"client-{i}")
           for i, (c, _) in enumerate(pairs)]
agent_before, parent_before = agent_cpu(), parent_cpu()
start = time.perf_counter()
for t in threads: t.start()
for t in threads: t.join()
seconds = time.perf_counter() - start
for sock, _ in pairs:
    sock.close()
peer.wait()
"""

PROGRAMS = {"cpu-bound": CLOCKS + CPU_BOUND + REPORT, "io-bound": CLOCKS + IO_BOUND + REPORT}
# About 1 s each on this VM at scale 1, 10 samples or more: many pairs (a pair cancels drift).
WORK = {"count": 30_000_000, "trips": 800}
LATENCY_MS = 1.0
PAIRS = 21  # the wall time's pairs spread ±15 % on this VM: the median needs many


@dataclass(frozen=True, slots=True)
class Run:
    seconds: float  # the work's wall time
    threads_cpu: float  # the working threads' own CPU (wall = threads_cpu / their share)
    agent_cpu: float  # the agent thread's during the work
    parent_cpu: float  # the parent's during the work: threadscope run's (ticks of 10 ms)


def _run(command: list[str]) -> Run:
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=True)
    return Run(*map(float, done.stdout.strip().splitlines()[-1].split()))


def _share(run: Run) -> float:
    """The working threads' CPU per second of the work's wall time."""
    return run.threads_cpu / run.seconds if run.seconds else 0.0


def _one_of(plain: list[str], watched: list[str], with_agent: bool) -> Run:
    return _run(watched if with_agent else plain)


def _spread(values: list[float]) -> list[float]:
    """Min, lower quartile, median, upper quartile, max."""
    if len(values) < 2:
        return [values[0]] * 5 if values else []
    low, mid, high = statistics.quantiles(values, n=4, method="inclusive")
    return [min(values), low, mid, high, max(values)]


def measure(pairs: int = PAIRS, interval_ms: int = 100, scale: float = 1.0) -> dict[str, Any]:
    """Per program: each pair's with/without ratio (wall and CPU), their median, the slowdown %.

    ``scale`` shrinks the programs' work (``--quick`` runs them at a few percent).
    """
    root = Path(__file__).resolve().parent.parent
    work = {name: max(1, int(n * scale)) for name, n in WORK.items()}
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, source in PROGRAMS.items():
            script = Path(tmp, f"{name}.py")
            script.write_text(
                source.replace("{count}", str(work["count"]))
                .replace("{trips}", str(work["trips"]))
                .replace("{latency_ms}", str(LATENCY_MS))
            )
            plain = [sys.executable, str(script)]
            watched = [
                sys.executable, "-c", f"import sys; sys.path.insert(0, {str(root)!r}); "
                "from core.cli import main; sys.exit(main())",
                "run", "--headless", "--interval", str(interval_ms), "--", *plain,
            ]  # fmt: skip
            bare, agent = alternating(partial(_one_of, plain, watched), pairs)
            wall = ratios([r.seconds for r in bare], [r.seconds for r in agent])
            work_cpu = ratios([r.threads_cpu for r in bare], [r.threads_cpu for r in agent])
            share = ratios([_share(r) for r in bare], [_share(r) for r in agent])
            results[name] = {
                "interval_ms": interval_ms,
                "without_s": [round(r.seconds, 3) for r in bare],
                "with_s": [round(r.seconds, 3) for r in agent],
                "ratios": [round(r, 4) for r in wall],
                "ratio_spread": [round(r, 4) for r in _spread(wall)],
                "median_ratio": round(median(wall), 4),
                "slowdown_pct": round(100 * (median(wall) - 1), 2),
                "without_threads_cpu_s": [round(r.threads_cpu, 3) for r in bare],
                "with_threads_cpu_s": [round(r.threads_cpu, 3) for r in agent],
                # wall = the threads' CPU for the work / their share of the wall: the agent can
                # make the work take more CPU (caches, hand-offs) or give them less of the time.
                "work_cpu_pct": round(100 * (median(work_cpu) - 1), 2),
                "work_cpu_spread": [round(r, 4) for r in _spread(work_cpu)],
                "share_lost_pct": round(100 * (1 - median(share)), 2),
                "share_spread": [round(r, 4) for r in _spread(share)],
                # Sampling holds the GIL, so the agent's CPU share of the work bounds what it
                # takes from a GIL-bound program, whatever the machine's noise.
                "agent_cpu_pct": round(100 * median([r.agent_cpu / r.seconds for r in agent]), 2),
                "launcher_cpu_pct": round(
                    100 * median([r.parent_cpu / r.seconds for r in agent]), 2
                ),
            }
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=PAIRS, help="default %(default)s")
    parser.add_argument(
        "--interval", type=int, default=100, help="agent interval in ms (default %(default)s)"
    )
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="the programs' work, 1 = ~1 s (default %(default)s)",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    results = measure(args.pairs, args.interval, args.scale)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    for name, r in results.items():
        low, q1, _mid, q3, high = r["ratio_spread"]
        print(
            f"{name:10} slowdown {r['slowdown_pct']:+.2f} % (median of {args.pairs} pairs, "
            f"interval {args.interval} ms; pairs {low:.3f} [{q1:.3f} {q3:.3f}] {high:.3f}); "
            f"work's CPU {r['work_cpu_pct']:+.2f} %, threads' share of the wall "
            f"{-r['share_lost_pct']:+.2f} %; agent thread {r['agent_cpu_pct']:.2f} % and "
            f"threadscope run {r['launcher_cpu_pct']:.2f} % of a core"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
