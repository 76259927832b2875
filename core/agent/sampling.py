"""One sample of the whole program, built inside it: threads, stacks, CPU, states, RSS, gc.

Reading other threads' frames: ``frames.current_stacks()`` (shared with ``core.diagnostics``)
walks every thread's frames to code objects and lines with the cyclic GC paused and before any
other thread can run (on CPython 3.11 a collection inside ``sys._current_frames()`` can deadlock
against an exiting thread, and a frame walked after its thread moved on can crash the
program), and not at all on a free-threaded build, where walking another running thread's
frames is documented as unsafe: there threads keep their names, CPU and OS state, and
``stacks`` says why they are missing.
"""

from __future__ import annotations

import dis
import functools
import gc
import json
import os
import runpy
import sys
import sysconfig
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from . import classify, procstat, queues
from .frames import RawFrame, RawStack, current_stacks
from .protocol import AGENT_THREAD_NAME, AGENT_VERSION

_CALL_OPS = frozenset(i for i, name in enumerate(dis.opname) if name.startswith("CALL"))
_WITH_OPS = frozenset(dis.opmap[n] for n in ("SETUP_WITH", "BEFORE_WITH") if n in dis.opmap)


def gil_disabled() -> bool:
    is_enabled = getattr(sys, "_is_gil_enabled", None)
    if is_enabled is not None:
        return not is_enabled()
    return _built_without_gil()


@functools.cache  # sysconfig's first lookup reads files, releasing the GIL: once, not per sample
def _built_without_gil() -> bool:
    return bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


@functools.cache
def python_version() -> str:
    return f"{sys.implementation.name} {sys.version.split()[0]}"


_HERE = os.path.dirname(os.path.abspath(__file__))
_BOOT_MAIN = os.path.join(os.path.dirname(_HERE), "__main__.py")  # see core.watch.launch


@dataclass(frozen=True)
class _Stack:
    """One thread's stack as last seen, in every form a sample needs, so a thread parked
    where it was costs a walk of its frames and no conversion, classification or encoding."""

    key: tuple[tuple[int, int], ...]  # id(code), lasti per frame, outermost first
    raw: RawStack  # as walked; holds the code objects, so the ids in ``key`` stay theirs
    frames: list[classify.Frame]
    dicts: list[dict[str, Any]]  # the sample's "stack" (shared by samples: never changed)
    json: str  # ``dicts`` encoded
    states: dict[tuple[Any, ...], str] = field(default_factory=dict)  # classify()'s, by input


@dataclass(frozen=True, slots=True)
class _Task:
    """One thread's OS state and CPU as last read."""

    native_id: int  # a thread ident is reused once its thread is gone: this says whose it is
    state: str | None  # /proc's letter: R, S, D, ...
    cpu_s: float | None
    cpu_ns: int | None  # its CPU clock, when it has one
    read_at: float  # when ``state`` was read (monotonic)


# A thread's state letter is read again once it has run, and at least this often: one that has
# not run cannot have gone from S to D or back (it would have to run to change), only woken.
STATE_MAX_AGE_S = 1.0

_stacks: dict[int, _Stack] = {}  # by thread ident; only threads of the last sample
_tasks: dict[int, _Task] = {}  # by ident, as _stacks
_rows: dict[int, tuple[dict[str, Any], str]] = {}  # by ident: the last row and its JSON
# As protocol.encode, made once: json.dumps(separators=...) builds an encoder per call.
_to_json = json.JSONEncoder(separators=(",", ":")).encode


def _seen_stack(ident: int, raw: RawStack) -> _Stack:
    """``ident``'s stack now: the last one when its frames stopped at the same places."""
    key = tuple((id(code), lasti) for code, _line, lasti in raw)
    seen = _stacks.get(ident)
    if seen is not None and seen.key == key:
        return seen
    frames = _stack(raw)
    if seen is not None and seen.frames == frames:  # moved within the same lines
        fresh = _Stack(key, raw, seen.frames, seen.dicts, seen.json, seen.states)
    else:
        dicts = [{"file": f, "line": n, "function": fn} for f, n, fn in frames]
        fresh = _Stack(key, raw, frames, dicts, _to_json(dicts))
    _stacks[ident] = fresh
    return fresh


def _stack(raw: RawStack) -> list[classify.Frame]:
    """Outermost first, without the agent's own frames (the lock tracker's wrappers sit
    between the program and ``threading``; the program did not write them)."""
    frames = [(code.co_filename, line, code.co_name) for code, line, _lasti in raw]
    program = [f for f in frames if not _ours(f[0])]
    start = 0  # the main thread starts in the bootstrap and runpy: the program starts after
    while start < len(program) and _is_boot(program[start][0]):
        start += 1
    return program[start:] or frames  # the agent's own thread keeps its frames


@functools.lru_cache(maxsize=4096)  # a path per frame per sample: the sampler's main cost
def _ours(file: str) -> bool:
    return os.path.dirname(os.path.abspath(file)) == _HERE


def _is_boot(file: str) -> bool:
    return file in ("<frozen runpy>", runpy.__file__) or file == _BOOT_MAIN


def _innermost_program_frame(raw: RawStack) -> RawFrame | None:
    return next((frame for frame in reversed(raw) if not _ours(frame[0].co_filename)), None)


def _unmoved(clocks: dict[int, int | None]) -> set[int]:
    """Threads whose CPU clock has not moved since their stack was last walked: a thread's
    Python stack changes only when it runs, so the last walk still stands (each is read
    before the walk, so a thread that ran after a sample's reading is walked at the next)."""
    return {
        ident
        for ident, cpu_ns in clocks.items()
        if cpu_ns is not None
        and (last := _tasks.get(ident)) is not None
        and last.cpu_ns == cpu_ns
        and ident in _stacks
    }


def _task(
    pid: int, ident: int, native_id: int, cpu_ns: int | None, now: float, letter_needed: bool
) -> tuple[_Task | None, int]:
    """``native_id``'s state and CPU, and the CPU nanoseconds it ran since the last sample (since
    it started, at its first). Its CPU clock ``cpu_ns`` is read each sample (exact, one call
    that keeps the GIL), its /proc stat file (three calls, the kernel formatting 52 fields:
    most of a sample's cost) only when the thread has run since it was read and its state
    letter is needed, or the reading is ``STATE_MAX_AGE_S`` old. Not needed for a thread
    stopped between bytecodes: sleeping or on a CPU, it waits for the GIL the sampler holds
    (``_show_the_interrupted_one``). The agent's own thread is running, as it reads this."""
    cpu_s = cpu_ns / 1e9 if cpu_ns is not None else None
    last = _tasks.get(ident)
    if last is not None and (
        last.native_id != native_id or (cpu_ns or 0) < (last.cpu_ns or 0)
    ):  # another thread's, gone
        last = None
    before = last.cpu_ns if last is not None and last.cpu_ns is not None else 0
    ran = cpu_ns - before if cpu_ns is not None else 0
    if native_id == threading.get_native_id():
        fresh = _Task(native_id, "R", cpu_s, cpu_ns, now)
    elif (
        last is not None
        and cpu_ns is not None
        and now - last.read_at < STATE_MAX_AGE_S
        and (ran == 0 or not letter_needed)
    ):
        if ran == 0:
            return last, 0
        fresh = _Task(native_id, last.state, cpu_s, cpu_ns, last.read_at)  # the letter as read
    else:
        stat = procstat.task_stat(pid, native_id)
        if stat is None:
            _tasks.pop(ident, None)
            return None, 0
        fresh = _Task(
            native_id, stat.state, cpu_s if cpu_s is not None else stat.cpu_s, cpu_ns, now
        )
    _tasks[ident] = fresh
    return fresh, ran


def _show_the_interrupted_one(rows: list[dict[str, Any]], ran: dict[int, int]) -> None:
    """The sampler holds the GIL while it looks, so every thread running Python code looks as
    if it waited for the GIL: one of them held it until the sampler took it. Of those that ran
    since the last sample the one that ran most is shown running (one thread runs Python at a
    time); the others do wait for it. A CPU-bound thread alone is then running, not waiting."""
    stopped = [
        row
        for row in rows
        if row["state"] == classify.WAIT_GIL
        and ran.get(row["ident"], 0) > 0
        and not row["name"].startswith(AGENT_THREAD_NAME)
    ]
    if stopped:
        max(stopped, key=lambda row: ran[row["ident"]])["state"] = classify.RUNNING


def _stopped_at(frame: RawFrame | None) -> tuple[bool | None, bool]:
    """(at a call instruction, at a ``with`` entry) for the innermost frame."""
    if frame is None:
        return None, False
    code, lasti = frame[0].co_code, frame[2]
    if not 0 <= lasti < len(code):
        return None, False
    op = code[lasti]
    return op in _CALL_OPS, op in _WITH_OPS


def _lock_view(snap: dict[str, Any], deadlocks: list[list[int]], names: dict[int, str]) -> Any:
    """The lock tracker's snapshot in the dump's shape, plus per-thread holds / waiting_for."""
    holds: dict[int, list[str]] = {}
    waiting: dict[int, str] = {}
    locks = []
    for lock in snap.get("locks", []):
        if _ours(str(lock.get("created_at") or "?:0").rsplit(":", 1)[0]):
            continue  # the agent's own (its thread's start-up locks)
        owners = [o["ident"] for o in lock.get("owners", [])]
        waiters = [w["ident"] for w in lock.get("waiters", [])]
        for ident in owners:
            holds.setdefault(ident, []).append(lock["id"])
        for ident in waiters:
            waiting[ident] = lock["id"]
        locks.append(
            {
                "id": lock["id"],
                "kind": lock.get("kind"),
                "created_at": lock.get("created_at"),
                "owner": names.get(owners[0], str(owners[0])) if owners else None,
                "waiters": [names.get(i, str(i)) for i in waiters],
            }
        )
    cycles = [[names.get(i, str(i)) for i in cycle] for cycle in deadlocks]
    return holds, waiting, locks, cycles


def take_sample(locks: Any = None) -> dict[str, Any]:
    """The program right now, as plain JSON-able data (``locks``: the tracker module or None)."""
    pid = os.getpid()
    free_threaded = gil_disabled()
    threads = {t.ident: t for t in threading.enumerate()}
    clocks = {
        ident: procstat.thread_cpu_ns(procstat.thread_cpu_clock(t.native_id))
        for ident, t in threads.items()
        if ident is not None
    }
    frames: dict[int, RawStack] = {}
    if not free_threaded:  # see the module docstring
        unmoved = _unmoved(clocks)
        frames = current_stacks(unmoved)
        frames.update((ident, _stacks[ident].raw) for ident in unmoved)
    names = {ident: t.name for ident, t in threads.items() if ident is not None}
    holds: dict[int, list[str]] = {}
    waiting: dict[int, str] = {}
    lock_list: list[dict[str, Any]] = []
    cycles: list[list[str]] = []
    notes = []
    if locks is not None:
        try:
            snap = locks.snapshot(per_site=False, in_use_only=True)
            holds, waiting, lock_list, cycles = _lock_view(snap, locks.find_deadlocks(snap), names)
        except Exception as exc:  # the tracker's fault must not cost the sample
            notes.append(f"lock tracking failed: {exc!r}")
    fresh: list[dict[str, Any]] = []
    ran: dict[int, int] = {}
    now = time.monotonic()
    for ident in sorted(set(threads) | set(frames), key=lambda i: names.get(i or 0, "~")):
        if ident is None:
            continue
        thread = threads.get(ident)
        raw = frames.get(ident, ())
        native_id = thread.native_id if thread is not None else None
        stack = _seen_stack(ident, raw)
        at_call, in_with = _stopped_at(_innermost_program_frame(raw))
        task, ran[ident] = (
            _task(pid, ident, native_id, clocks.get(ident), now, at_call is not False)
            if native_id is not None
            else (None, 0)
        )
        inputs = (task.state if task else None, at_call, in_with, ident in waiting)
        state = stack.states.get(inputs)
        if state is None:
            state = stack.states[inputs] = classify.classify(
                stack.frames,
                inputs[0],
                at_call=at_call,
                blocked_in_with=in_with,
                waiting_for_lock=inputs[3],
            )
        if state == classify.RUNNING and at_call is False:  # can't be: this thread has the GIL
            state = classify.WAIT_GIL  # on a CPU in the GIL's wait (_show_the_interrupted_one)
        fresh.append(
            {
                "name": names.get(ident, f"<unknown {ident}>"),
                "native_id": native_id,
                "ident": ident,
                "daemon": thread.daemon if thread is not None else None,
                "alive": thread.is_alive() if thread is not None else True,
                "state": state,
                "os_state": inputs[0],
                "cpu_s": task.cpu_s if task else None,
                "stack": stack.dicts,
                "holds": holds.get(ident, []),
                "waiting_for": waiting.get(ident),
                "agent": names.get(ident) == AGENT_THREAD_NAME,
            }
        )
    _show_the_interrupted_one(fresh, ran)
    rows = []
    for row in fresh:
        last = _rows.get(row["ident"])
        rows.append(last[0] if last is not None and last[0] == row else row)  # see encode()
    for cache in (_stacks, _rows, _tasks):  # forget threads gone
        for ident in [i for i in list(cache) if i not in threads and i not in frames]:
            cache.pop(ident, None)
    return {
        "pid": pid,
        "python": python_version(),
        "agent": True,
        "agent_version": AGENT_VERSION,
        "time": time.time(),
        "stacks": "unavailable on a free-threaded build" if free_threaded else "ok",
        "notes": notes,
        "rss_bytes": procstat.rss_bytes(pid),
        "gc": {
            "counts": list(gc.get_count()),
            "collections": [s["collections"] for s in gc.get_stats()],
        },
        "threads": rows,
        "locks": lock_list,
        "deadlocks": cycles,
        "queues": queues.depths(),
    }


def encode(sample: dict[str, Any]) -> bytes:
    """``protocol.encode(sample)`` of a ``take_sample`` result (keys in another order): a
    thread's row is encoded once and reused while it stays the same, its stack once per
    change. Encoding every row every time was a quarter of a sample's cost."""
    head = _to_json({k: v for k, v in sample.items() if k != "threads"})
    rows = ",".join(_row_json(row) for row in sample.get("threads", ()))
    comma = "," if len(head) > 2 else ""
    return f'{head[:-1]}{comma}"threads":[{rows}]}}\n'.encode()


def _row_json(row: dict[str, Any]) -> str:
    ident = row.get("ident")
    if not isinstance(ident, int):
        return _to_json(row)
    last = _rows.get(ident)
    if last is not None and last[0] is row:
        return last[1]
    stack = _stacks.get(ident)
    if stack is None or stack.dicts is not row.get("stack"):
        return _to_json(row)
    fields = {k: v for k, v in row.items() if k != "stack"}
    text = f'{_to_json(fields)[:-1]},"stack":{stack.json}}}'
    _rows[ident] = (row, text)
    return text
