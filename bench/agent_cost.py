"""What the agent of ``threadscope run`` costs the program it watches (issue 12: <= 2 %).

A CPU-bound program (threads counting in pure Python, a fixed amount of work) and an I/O-bound
one (threads doing round trips over socket pairs to an echo thread) each time their own work
and print the seconds and the agent thread's CPU seconds (from /proc). Each is run plainly and
under ``threadscope run --headless`` at the given interval, alternating which goes first, in
several adjacent pairs: the machine drifts between minutes, a pair cancels it.
Slowdown = median(with / without) - 1. On a crowded machine that ratio is mostly noise; the
agent's CPU share of the run is the steadier figure (sampling holds the GIL, so it bounds the
time taken from a GIL-bound program).

    python -m bench.agent_cost [--pairs 7] [--interval 100]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

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
threads = [threading.Thread(target=count, args=(25_000_000,), name=f"count-{i}") for i in range(2)]
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
threads = [threading.Thread(target=client, args=(c, 20000), name=f"client-{i}")
           for i, (c, _) in enumerate(pairs)]
start = time.perf_counter()
for t in threads: t.start()
for t in threads: t.join()
seconds = time.perf_counter() - start
"""

PROGRAMS = {"cpu-bound": CPU_BOUND + REPORT, "io-bound": IO_BOUND + REPORT}


def _seconds(command: list[str]) -> tuple[float, float]:
    """(the work's wall seconds, the agent thread's CPU seconds over the whole run)."""
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=True)
    seconds, agent_cpu = done.stdout.strip().splitlines()[-1].split()
    return float(seconds), float(agent_cpu)


def measure(pairs: int = 7, interval_ms: int = 100) -> dict[str, dict[str, object]]:
    """Per program: the with/without ratio of each pair, their median and the slowdown %."""
    root = Path(__file__).resolve().parent.parent
    results: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, source in PROGRAMS.items():
            script = Path(tmp, f"{name}.py")
            script.write_text(source)
            plain = [sys.executable, str(script)]
            watched = [
                sys.executable, "-c", f"import sys; sys.path.insert(0, {str(root)!r}); "
                "from core.cli import main; sys.exit(main())",
                "run", "--headless", "--interval", str(interval_ms), "--", *plain,
            ]  # fmt: skip
            ratios, bare, agent, shares = [], [], [], []
            for i in range(pairs):
                if i % 2:
                    (with_s, agent_cpu), (without_s, _) = _seconds(watched), _seconds(plain)
                else:
                    (without_s, _), (with_s, agent_cpu) = _seconds(plain), _seconds(watched)
                bare.append(without_s)
                agent.append(with_s)
                ratios.append(with_s / without_s)
                shares.append(agent_cpu / with_s)
            median = statistics.median(ratios)
            results[name] = {
                "without_s": [round(s, 3) for s in bare],
                "with_s": [round(s, 3) for s in agent],
                "ratios": [round(r, 4) for r in ratios],
                "median_ratio": round(median, 4),
                "slowdown_pct": round(100 * (median - 1), 2),
                # The agent holds the GIL while it samples, so its CPU share of the run bounds
                # what it takes from a GIL-bound program, whatever the machine's noise.
                "agent_cpu_pct": round(100 * statistics.median(shares), 2),
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
