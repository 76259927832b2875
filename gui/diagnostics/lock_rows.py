"""The Locks page's rows: one per lock, or one per creation site, read from a lock snapshot.

Pure functions of the plain dict :func:`core.agent.locks.snapshot` returns (this process's, or
a watched program's sent over its socket), so they run on the jobs thread and in tests alike.
No Qt here.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from core.agent.waitgraph import short_site, thread_locks, thread_names

Snapshot = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class LockRow:
    key: str  # the lock's id, or its creation site's "kind created_at function"
    label: str  # first column: the lock id, or "3 alive of 120"
    rank: int  # the first column's sort key: the lock's serial, or how many are alive
    kind: str
    created_at: str  # file:line, shortened
    function: str
    owner: str  # "worker-3 for 4.2 s", "" when free
    owner_s: float  # how long the longest owner has held it, -1 when free (sorts free first)
    waiters: int
    waiter_names: str
    acquisitions: int
    contended: int
    wait_total_s: float
    wait_max_s: float
    hold_max_s: float
    in_cycle: bool  # a lock some thread of a deadlock waits for

    @property
    def contended_pct(self) -> float:
        return 100.0 * self.contended / self.acquisitions if self.acquisitions else 0.0


def site_key(created_at: str) -> tuple[str, int]:
    """``app.py:12`` sorts before ``app.py:100``."""
    path, _, line = created_at.rpartition(":")
    return (path, int(line)) if line.isdigit() else (created_at, 0)


def thread_name(names: Mapping[int, str], ident: int) -> str:
    """A thread's name, or what is left of it once it has exited (a lock it still holds)."""
    return names.get(ident) or f"thread {ident} (exited)"


def cycle_locks(snap: Snapshot, cycles: Iterable[Iterable[int]]) -> set[str]:
    """Ids of the locks the threads of ``cycles`` wait for."""
    waits = thread_locks(snap)
    return {
        lock_id
        for cycle in cycles
        for ident in cycle
        if (lock_id := waits.get(ident, {}).get("waiting_for")) is not None
    }


def _owner(lock: Mapping[str, Any], names: Mapping[int, str]) -> tuple[str, float]:
    owners = sorted(lock["owners"], key=lambda o: -o["since_s"])
    if not owners:
        return "", -1.0
    first = owners[0]
    text = f"{thread_name(names, first['ident'])} for {first['since_s']:.1f} s"
    if len(owners) > 1:
        text += f" (+{len(owners) - 1} more)"
    return text, float(first["since_s"])


def lock_rows(snap: Snapshot, in_cycle: Collection[str] = ()) -> list[LockRow]:
    """One row per live lock."""
    names = thread_names(snap)
    rows = []
    for lock in snap["locks"]:
        owner, owner_s = _owner(lock, names)
        waiters = lock["waiters"]
        rows.append(
            LockRow(
                key=lock["id"],
                label=lock["id"],
                rank=int(lock["id"].rpartition("-")[2] or 0),
                kind=lock["kind"],
                created_at=short_site(lock["created_at"]),
                function=lock["function"],
                owner=owner,
                owner_s=owner_s,
                waiters=len(waiters),
                waiter_names=", ".join(thread_name(names, w["ident"]) for w in waiters),
                acquisitions=lock["acquisitions"],
                contended=lock["contended"],
                wait_total_s=lock["wait_total_s"],
                wait_max_s=lock["wait_max_s"],
                hold_max_s=lock["hold_max_s"],
                in_cycle=lock["id"] in in_cycle,
            )
        )
    return rows


def site_rows(snap: Snapshot, in_cycle: Collection[str] = ()) -> list[LockRow]:
    """One row per creation site: the snapshot's totals over every lock made there (dead ones
    included), owners and waiters of the live ones now."""
    live: dict[tuple[str, str, str], list[LockRow]] = {}
    by_id = {row.key: row for row in lock_rows(snap, in_cycle)}
    for lock in snap["locks"]:
        site = (lock["kind"], lock["created_at"], lock["function"])
        live.setdefault(site, []).append(by_id[lock["id"]])
    rows = []
    for site in snap.get("sites", ()):
        kind, created_at, function = site["kind"], site["created_at"], site["function"]
        now = live.get((kind, created_at, function), [])
        held = [row for row in now if row.owner]
        longest = max(held, key=lambda row: row.owner_s, default=None)
        owner = ""
        if longest is not None:
            owner = longest.owner if len(held) == 1 else f"{len(held)} held; {longest.owner}"
        rows.append(
            LockRow(
                key=f"{kind} {created_at} {function}",
                label=f"{site['alive']:,} alive of {site['created']:,}",
                rank=site["alive"],
                kind=kind,
                created_at=short_site(created_at),
                function=function,
                owner=owner,
                owner_s=longest.owner_s if longest is not None else -1.0,
                waiters=sum(row.waiters for row in now),
                waiter_names=", ".join(row.waiter_names for row in now if row.waiter_names),
                acquisitions=site["acquisitions"],
                contended=site["contended"],
                wait_total_s=site["wait_total_s"],
                wait_max_s=site["wait_max_s"],
                hold_max_s=site["hold_max_s"],
                in_cycle=any(row.in_cycle for row in now),
            )
        )
    return rows
