"""What the agent's sampling profile costs a CPU-bound program, in this process.

Alternating pairs (profile on first, then off first): one thread runs a fixed job (a loop 20
calls deep) while ``--idle`` threads wait; each pair gives the job's wall time and the process's
CPU time with the profile on over off, and the sampler's own CPU as % of one core. Prints the
medians and ranges. On a shared machine wall time is noisy; the CPU ratio is the steadier one.

``PYTHONPATH=. python3.12 scripts/sampling_profile_cost.py --idle 50 --pairs 10`` (any 3.10+)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time

from core.agent.sampling_profile import SamplingProfile


def deep(depth: int, n: int) -> int:
    if depth:
        return deep(depth - 1, n)
    total = 0
    for i in range(n):
        total += i
    return total


def job() -> None:
    for _ in range(40):
        deep(20, 100_000)


def timed(profiled: bool) -> tuple[float, float, float]:
    """(wall s, process CPU s, sampler CPU as % of a core) of one job."""
    profile = SamplingProfile() if profiled else None
    if profile is not None:
        profile.start()
    wall, cpu = time.perf_counter(), time.process_time()
    worker = threading.Thread(target=job, name="job")
    worker.start()
    worker.join()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if profile is None:
        return wall, cpu, 0.0
    reply = profile.stop()
    return wall, cpu, 100 * reply["sampler_cpu_s"] / reply["seconds"]


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} [{min(values):.3f}–{max(values):.3f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle", type=int, default=2, help="threads waiting meanwhile")
    parser.add_argument("--pairs", type=int, default=10)
    args = parser.parse_args()
    done = threading.Event()
    idle = [threading.Thread(target=done.wait, name=f"idle-{i}") for i in range(args.idle)]
    for thread in idle:
        thread.start()
    job()  # warm up
    walls, cpus, costs = [], [], []
    try:
        for pair in range(args.pairs):
            runs = {on: timed(on) for on in ((True, False) if pair % 2 else (False, True))}
            walls.append(runs[True][0] / runs[False][0])
            cpus.append(runs[True][1] / runs[False][1])
            costs.append(runs[True][2])
    finally:
        done.set()
    print(
        f"Python {sys.version.split()[0]}, {args.idle} idle threads, {args.pairs} pairs: "
        f"wall on/off {spread(walls)}, process CPU on/off {spread(cpus)}, "
        f"sampler {spread(costs)} % of a core"
    )


if __name__ == "__main__":
    main()
