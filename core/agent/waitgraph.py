"""Reading a lock snapshot: the wait-for graph, its cycles, and the words for both.

Pure functions of the plain dict ``locks.snapshot()`` returns, so the agent (inside the watched
program), ``threadscope dump`` and the window all read a snapshot the same way and say the same
thing ("waiting for Lock created at app.py:12, held by worker-3 for 4.2 s"). Standard library
only, no imports from the rest of Threadscope: this file also runs inside the target.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

MAX_CYCLES = 100  # a pathological graph could hold exponentially many; report the first ones

Snapshot = Mapping[str, Any]


def wait_edges(snap: Snapshot) -> dict[int, set[int]]:
    """Thread -> the threads it waits for, through locks whose owner is the one to release them.

    Left out: locks seen released by a thread other than their acquirer ("handoff": a lock or
    semaphore used as a signal, whose owner is not who will free it) and locks held by several
    threads at once (a semaphore: any one of them could release a permit).
    """
    edges: dict[int, set[int]] = {}
    for lock in snap["locks"]:
        owners = {owner["ident"] for owner in lock["owners"]}
        if lock.get("handoff") or len(owners) != 1:
            continue
        for waiter in lock["waiters"]:
            edges.setdefault(waiter["ident"], set()).update(owners)
    return edges


def find_deadlocks(snap: Snapshot) -> list[list[int]]:
    """Each cycle of the wait-for graph once, as thread idents, smallest ident first."""
    edges = wait_edges(snap)
    cycles: list[list[int]] = []
    for start in sorted(edges):
        # Depth-first over idents above ``start``: every elementary cycle is found exactly once,
        # from its smallest member.
        path = [start]
        branches = [iter(sorted(edges[start]))]
        while branches and len(cycles) < MAX_CYCLES:
            step = next(branches[-1], None)
            if step is None:
                branches.pop()
                path.pop()
            elif step == start:
                cycles.append(list(path))
            elif step > start and step in edges and step not in path:
                path.append(step)
                branches.append(iter(sorted(edges[step])))
    return cycles


def thread_names(snap: Snapshot) -> dict[int, str]:
    return {thread["ident"]: thread["name"] for thread in snap.get("threads", ())}


def short_site(created_at: str) -> str:
    """``/long/path/app.py:12`` -> ``app.py:12``."""
    path, _, line = created_at.rpartition(":")
    return f"{os.path.basename(path)}:{line}" if path else created_at


def lock_text(lock: Mapping[str, Any]) -> str:
    """``Lock created at app.py:12 [lock-7]``: kind, creation site, the id the Locks page shows."""
    return f"{lock['kind']} created at {short_site(lock['created_at'])} [{lock['id']}]"


def _held_by(lock: Mapping[str, Any], names: Mapping[int, str]) -> str:
    owners = lock["owners"]
    if not owners:
        return "held by nobody now"
    held = ", ".join(
        f"{names.get(o['ident'], o['ident'])} for {o['since_s']:.1f} s" for o in owners
    )
    return f"held by {held}"


def thread_locks(snap: Snapshot) -> dict[int, dict[str, Any]]:
    """Per thread ident: ``{"holds": [lock ids], "waiting_for": lock id or None}`` (dump fields).

    ``waiting_for`` is the lock a thread blocks in ``acquire`` for, else the Condition (or the
    Event, Queue, Barrier built on one) whose notify it waits for.
    """
    result: dict[int, dict[str, Any]] = {}

    def entry(ident: int) -> dict[str, Any]:
        return result.setdefault(ident, {"holds": [], "waiting_for": None})

    for lock in snap["locks"]:
        for owner in lock["owners"]:
            entry(owner["ident"])["holds"].append(lock["id"])
        for waiter in lock.get("notify_waiters", ()):
            entry(waiter["ident"])["waiting_for"] = lock["id"]
    for lock in snap["locks"]:  # a blocked acquire outranks a notify wait (Condition re-acquire)
        for waiter in lock["waiters"]:
            entry(waiter["ident"])["waiting_for"] = lock["id"]
    return result


def thread_lines(snap: Snapshot, ident: int) -> list[str]:
    """What one thread holds and waits for, one line each, in the wording every view shares."""
    names = thread_names(snap)
    holds: list[str] = []
    waits: list[str] = []
    for lock in snap["locks"]:
        for owner in lock["owners"]:
            if owner["ident"] == ident:
                levels = f" ({owner['count']} levels)" if owner["count"] > 1 else ""
                holds.append(f"holds {lock_text(lock)} for {owner['since_s']:.1f} s{levels}")
        for waiter in lock["waiters"]:
            if waiter["ident"] == ident:
                waits.append(
                    f"waiting for {lock_text(lock)}, {_held_by(lock, names)} "
                    f"(waiting {waiter['since_s']:.1f} s at {short_site(waiter['where'])})"
                )
        for waiter in lock.get("notify_waiters", ()):
            if waiter["ident"] == ident:
                waits.append(
                    f"waiting for a notify on {lock_text(lock)} "
                    f"(waiting {waiter['since_s']:.1f} s at {short_site(waiter['where'])})"
                )
    return waits + holds


def format_deadlocks(
    snap: Snapshot, cycles: list[list[int]], stacks: Mapping[int, str] | None = None
) -> str:
    """The cycles in jstack's manner: each thread, what it waits for, who holds it, its stack."""
    names = thread_names(snap)
    lines: list[str] = []
    for cycle in cycles:
        lines += ["Found one Python-level deadlock:", "================================="]
        for ident in cycle:
            lines.append(f'"{names.get(ident, "?")}" (ident {ident}):')
            lines += [f"  {line}" for line in thread_lines(snap, ident)]
            if stacks and ident in stacks:
                lines += [f"    {row}" for row in stacks[ident].splitlines()]
        lines.append("")
    if cycles:
        lines.append(f"Found {len(cycles)} deadlock{'s' if len(cycles) > 1 else ''}.")
    return "\n".join(lines)


def dump_fields(snap: Snapshot) -> dict[str, Any]:
    """The ``locks`` and ``deadlocks`` fields of ``threadscope dump --json``, by thread name.

    ``owner`` is the holder's name (the first, for a semaphore held by several; all of them in
    ``owners``); ``waiters`` are the names of threads blocked in acquire.
    """
    names = thread_names(snap)

    def name(ident: int) -> str:
        return names.get(ident, str(ident))

    locks = []
    for lock in snap["locks"]:
        owners = [name(o["ident"]) for o in lock["owners"]]
        locks.append(
            {
                "id": lock["id"],
                "kind": lock["kind"],
                "created_at": lock["created_at"],
                "owner": owners[0] if owners else None,
                "owners": owners,
                "waiters": [name(w["ident"]) for w in lock["waiters"]],
            }
        )
    return {
        "locks": locks,
        "deadlocks": [[name(ident) for ident in cycle] for cycle in find_deadlocks(snap)],
    }
