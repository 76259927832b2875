"""The hang detector: no progress for N seconds while work is pending -> one thread dump.

"Progress" is whatever the caller says it is (a crawl: pages fetched; a watched program:
any thread moving, see ``core.observe.watched``), as any comparable value; "pending" is a
callable (a crawl: URLs queued, requests in flight or workers busy), asked first: progress
is read only while work is pending. One dump per episode: the detector fires once, then
stays quiet until progress resumes or the work runs out.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.diagnostics import dump_threads
from core.diagnostics.threads import ThreadStack

_UNSEEN = object()  # no progress read yet (or nothing pending): any reading is new


@dataclass(frozen=True, slots=True)
class HangReport:
    """One episode: how long nothing moved, what was pending, the dump and where it went."""

    stalled_s: float
    pending: str
    dump: str
    path: Path | None

    def text(self) -> str:
        head = f"hang: no progress for {self.stalled_s:.1f} s while {self.pending}"
        where = f"\n(thread dump written to {self.path})" if self.path else ""
        return f"{head}; thread dump:\n{self.dump}{where}"


def annotated_dump(
    stacks: list[ThreadStack] | None = None, locks: Mapping[str, Any] | None = None
) -> str:
    """Every thread's stack; with a lock-tracking snapshot, each thread's held locks and the
    lock it waits for (with its owners) under its header."""
    stacks = dump_threads() if stacks is None else stacks
    names = {s.ident: s.name for s in stacks}
    holds: dict[int, list[str]] = {}
    waits: dict[int, list[str]] = {}
    for lock in (locks or {}).get("locks", ()):
        what = f"{lock.get('kind', 'lock')} {lock.get('id')} created at {lock.get('created_at')}"
        owners = lock.get("owners", ())
        for owner in owners:
            holds.setdefault(owner["ident"], []).append(
                f"holds {what} for {owner.get('since_s', 0.0):.1f} s"
            )
        held_by = ", ".join(names.get(o["ident"], str(o["ident"])) for o in owners) or "nobody"
        for waiter in lock.get("waiters", ()):
            waits.setdefault(waiter["ident"], []).append(
                f"waiting {waiter.get('since_s', 0.0):.1f} s for {what}, held by {held_by}"
            )
    parts = []
    for stack in stacks:
        lines = stack.text().split("\n")
        notes = [
            f"  # {note}" for note in (*holds.get(stack.ident, ()), *waits.get(stack.ident, ()))
        ]
        parts.append("\n".join([lines[0], *notes, *lines[1:]]))
    return "\n\n".join(parts)


class HangDetector:
    """Call ``check()`` periodically; it looks at most every ``after_s / 10`` (progress may
    cost /proc reads), calls in between return None. See the module docstring.

    ``pending()`` returns a description of the pending work ("3 requests in flight"), or ""
    when nothing is pending. ``dump()`` makes the dump text; ``dump_dir``, when given, gets
    one ``hang-<UTC time>.txt`` per episode; ``on_hang`` is called with the report (the CLI
    prints it, the window raises an alert and a marker).
    """

    def __init__(
        self,
        after_s: float,
        progress: Callable[[], Hashable],
        pending: Callable[[], str],
        on_hang: Callable[[HangReport], None],
        dump: Callable[[], str] = annotated_dump,
        dump_dir: Path | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not after_s > 0:
            raise ValueError(f"after_s must be above 0 seconds, got {after_s}")
        self.after_s = after_s
        self._progress = progress
        self._pending = pending
        self._on_hang = on_hang
        self._dump = dump
        self._dump_dir = dump_dir
        self._clock = clock
        self._token: Hashable = _UNSEEN
        self._since = clock()
        self._looked = -math.inf
        self._fired = False
        self.reports: list[HangReport] = []
        self.checks = 0

    def check(self) -> HangReport | None:
        now = self._clock()
        if now - self._looked < self.after_s / 10:
            return None
        self._looked = now
        self.checks += 1
        pending = self._pending()
        token = self._progress() if pending else _UNSEEN
        if token != self._token or not pending:
            self._token, self._since, self._fired = token, now, False
            return None
        if self._fired or now - self._since < self.after_s:
            return None
        self._fired = True
        dump = self._dump()
        report = HangReport(now - self._since, pending, dump, self._write(dump))
        self.reports.append(report)
        self._on_hang(report)
        return report

    def _write(self, dump: str) -> Path | None:
        if self._dump_dir is None:
            return None
        self._dump_dir.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%f")
        path = self._dump_dir / f"hang-{stamp}.txt"
        path.write_text(dump + "\n", encoding="utf-8")
        return path
