"""What the agent of ``threadscope run`` costs the program it watches (issue 12: <= 2 %).

A CPU-bound program (threads counting in pure Python, a fixed amount of work) and an I/O-bound
one (threads doing round trips over socket pairs to an echo thread) each time their own work
and print the seconds and the agent thread's CPU seconds (from /proc). Each is run plainly and
under ``threadscope run --headless`` at the given interval, alternating which goes first, in
several adjacent pairs: the machine drifts between minutes, a pair cancels it.
Slowdown = median(with / without) - 1. On a crowded machine that ratio is mostly noise; the
agent's CPU share of the run is the steadier figure (sampling holds the GIL, so it bounds the
time taken from a GIL-bound program).

    python -m bench.agent_cost [--pairs 7] [--interval 100]   (make bench: section "Agent cost")
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from functools import partial
from pathlib import Path
from typing import Any

from bench.pairs import alternating, median, ratios

# Each program ends by printing its work's wall seconds and the agent thread's CPU seconds.
REPORT = """
import os, threading
agent = [t for t in threading.enumerate() if t.name == "threadscope-agent"]
cpu = 0.0
if agent:
    with open(f"/proc/self/task/{agent[0].native_id}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
print(seconds, cpu)
"""

CPU_BOUND = """\
import threading, time
def count(n):
    while n:
        n -= 1
threads = [threading.Thread(target=count, args=({count},), name=f"count-{i}") for i in range(2)]
start = time.perf_counter()
for t in threads: t.start()
for t in threads: t.join()
seconds = time.perf_counter() - start
"""

IO_BOUND = """\
import socket, threading, time
def echo(sock):
    while data := sock.recv(64):
        sock.sendall(data)
def client(sock, n):
    for _ in range(n):
        sock.sendall(b"ping")
        sock.recv(64)
    sock.close()
pairs = [socket.socketpair() for _ in range(8)]
for _, server in pairs:
    threading.Thread(target=echo, args=(server,), daemon=True, name="echo").start()
threads = [threading.Thread(target=client, args=(c, {trips}), name=f"client-{i}")
           for i, (c, _) in enumerate(pairs)]
start = time.perf_counter()
for t in threads: t.start()
for t in threads: t.join()
seconds = time.perf_counter() - start
"""

PROGRAMS = {"cpu-bound": CPU_BOUND + REPORT, "io-bound": IO_BOUND + REPORT}
WORK = {"count": 25_000_000, "trips": 20_000}  # about 2-3 s each on this VM at scale 1


def _seconds(command: list[str]) -> tuple[float, float]:
    """(the work's wall seconds, the agent thread's CPU seconds over the whole run)."""
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=True)
    seconds, agent_cpu = done.stdout.strip().splitlines()[-1].split()
    return float(seconds), float(agent_cpu)


def _one_of(plain: list[str], watched: list[str], with_agent: bool) -> tuple[float, float]:
    return _seconds(watched if with_agent else plain)


def measure(pairs: int = 7, interval_ms: int = 100, scale: float = 1.0) -> dict[str, Any]:
    """Per program: the with/without ratio of each pair, their median and the slowdown %.

    ``scale`` shrinks the programs' work (``--quick`` runs them at a few percent).
    """
    root = Path(__file__).resolve().parent.parent
    work = {name: max(1, int(n * scale)) for name, n in WORK.items()}
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, source in PROGRAMS.items():
            script = Path(tmp, f"{name}.py")
            script.write_text(
                source.replace("{count}", str(work["count"])).replace("{trips}", str(work["trips"]))
            )
            plain = [sys.executable, str(script)]
            watched = [
                sys.executable, "-c", f"import sys; sys.path.insert(0, {str(root)!r}); "
                "from core.cli import main; sys.exit(main())",
                "run", "--headless", "--interval", str(interval_ms), "--", *plain,
            ]  # fmt: skip
            bare, agent = alternating(partial(_one_of, plain, watched), pairs)
            pair_ratios = ratios([s for s, _ in bare], [s for s, _ in agent])
            middle = median(pair_ratios)
            results[name] = {
                "interval_ms": interval_ms,
                "without_s": [round(s, 3) for s, _ in bare],
                "with_s": [round(s, 3) for s, _ in agent],
                "ratios": [round(r, 4) for r in pair_ratios],
                "median_ratio": round(middle, 4),
                "slowdown_pct": round(100 * (middle - 1), 2),
                # The agent holds the GIL while it samples, so its CPU share of the run bounds
                # what it takes from a GIL-bound program, whatever the machine's noise.
                "agent_cpu_pct": round(100 * median([cpu / s for s, cpu in agent]), 2),
            }
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=7)
    parser.add_argument("--interval", type=int, default=100, help="agent interval in ms")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    results = measure(args.pairs, args.interval)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    for name, r in results.items():
        print(
            f"{name:10} slowdown {r['slowdown_pct']:+.2f} % (median of {args.pairs} pairs, "
            f"interval {args.interval} ms), agent CPU {r['agent_cpu_pct']:.2f} % of the run; "
            f"ratios {r['ratios']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
