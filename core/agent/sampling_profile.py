"""A sampling profile of every thread of the watched program (``profile_start`` / ``profile_stop``).

While it runs, a daemon thread of its own (``threadscope-agent-profile``, started by
``profile_start``, gone at ``profile_stop``: when nobody profiles nothing runs and nothing is
paid) reads every thread's frames ``HZ`` times a second and counts, per thread and per function
(file, first line, name), the samples where it is innermost (self) and where it is anywhere in
the stack (total: once per stack, however deep a recursion). It reaches the threads already
running, on every Python from 3.10 (cProfile reaches only threads started after it, and from
3.12 is one profiler for the whole interpreter), and touches nothing of the program: no hook,
no tracing; its threads only give the sampler the GIL for a few microseconds per sample.

CPU and wall: each thread's own CPU clock (Linux: ``clock_gettime`` on the kernel thread id's
CPU clock, as glibc's ``pthread_getcpuclockid`` builds it; it keeps the GIL and fails cleanly for
a thread gone) says how long the thread ran since its previous sample, and that CPU time is
what the sample weighs in the CPU figures: a sleeping or waiting thread (no CPU) adds nothing to
them however many samples it has, a thread that ran 1 ms in 10 weighs a tenth of a busy one
(a thread started during the profile brings its CPU since it started to its first sample).
Every sample also counts once in the wall figures: where the threads were, waits included (a
hung service's profile). A thread that has not run since its previous sample cannot have moved:
its previous stack is counted again without walking it, so an idle thread costs one clock read.

Why 100 Hz: each sample needs the GIL, and a CPU-bound thread gives it up only after the
interpreter's switch interval (5 ms): the sampler waits up to that long and forces one hand-off
each way. 100 Hz keeps that to 100 a second (two CPU-bound threads already switch up to 200
times a second between themselves) and still gives 6 000 samples a minute: a function taking
1 % of the CPU shows in about 60 of them. Much faster would mostly wait for the GIL and cost
the program more; slower would need minutes to rank functions at a few per cent.

Bounded: at most ``MAX_FUNCTIONS`` functions and ``MAX_ENTRIES`` (thread, function) counters
(past them, samples count under ``OTHER_FUNCTIONS``), ``MAX_THREADS`` threads (past them, one
shared "other threads"), ``MAX_SECONDS`` of sampling (then it stops by itself and keeps its
figures for ``profile_stop``). Safe: stacks are read by ``frames.current_stacks`` (walked to
code objects before any other thread runs: the 3.11 deadlock and crash guards); a
free-threaded build, where the agent reads no
stacks (``sampling``), is refused. The sampler's own lock is a raw one, out of the lock
tracker's figures.
"""

from __future__ import annotations

import _thread
import threading
import time
from types import CodeType
from typing import Any

from .frames import RawStack, current_stacks
from .procstat import thread_cpu_clock, thread_cpu_ns
from .protocol import AGENT_THREAD_NAME
from .sampling import _is_boot, _ours, gil_disabled

HZ = 100
MAX_SECONDS = 600.0
MAX_FUNCTIONS = 10_000
MAX_ENTRIES = 20_000
MAX_THREADS = 1_000
MAX_ROWS = 500
THREAD_ROWS = 100  # per thread in a reply, for at most REPLY_THREADS threads (busiest first)
REPLY_THREADS = 64
THREAD_NAME = f"{AGENT_THREAD_NAME}-profile"
OTHER_FUNCTIONS = ("", 0, "(functions past the profile's cap)")
OTHER_THREADS = "(threads past the profile's cap)"
_NAME_TRIES = 10  # ticks a thread is looked up by name (a thread not yet in threading's table)

# A counter: CPU ns where innermost, CPU ns anywhere, samples innermost, samples anywhere.
Entry = list[int]


class _Thread:
    """One sampled thread's counters, and its previous sample (counted again while idle)."""

    __slots__ = (
        "clock", "cpu_ns", "entries", "last_ns", "last_self", "last_total", "name", "native_id",
        "new", "samples", "tries",
    )  # fmt: skip

    def __init__(self, name: str, native_id: int | None, new: bool) -> None:
        self.name = name
        self.new = new  # started after the profile: its CPU so far is the profile's
        self.native_id = native_id
        self.clock = thread_cpu_clock(native_id)
        self.tries = 0 if native_id is None else _NAME_TRIES
        self.samples = 0
        self.cpu_ns = 0
        self.last_ns: int | None = None
        self.entries: dict[int, Entry] = {}  # by function index
        self.last_self: Entry | None = None
        self.last_total: list[Entry] | None = None


class SamplingProfile:
    """One profile of the whole program: ``start()``, then ``stop(limit)`` for its rows."""

    def __init__(self, hz: int = HZ, max_seconds: float = MAX_SECONDS) -> None:
        if gil_disabled():
            raise RuntimeError(
                "no profile on a free-threaded build: reading other threads' stacks is unsafe there"
            )
        self.hz = hz
        self._period = 1.0 / hz
        self._max_seconds = max_seconds
        self._functions: list[tuple[str, int, str]] = [OTHER_FUNCTIONS]
        self._codes: list[CodeType] = []  # kept alive: an id in _index stays that code's
        self._index: dict[int, int] = {}  # id(code) -> function index; -1: the agent's own
        self._threads: dict[int, _Thread] = {}  # the thread running now under each ident
        self._every: list[_Thread] = []  # every thread sampled, in order of appearance
        self._other: _Thread | None = None
        self._skip: set[int] = set()  # the agent's threads
        self._known: set[int] = set()  # idents in the previous sample
        self._entries = 0
        self.ticks = 0
        self.late = 0  # ticks skipped because the sampler was late (the GIL, a loaded machine)
        self.capped = False
        self.error: str | None = None
        self._sampler_cpu_s = 0.0
        self._began = 0.0
        self._ended: float | None = None
        self._stop = _thread.allocate_lock()
        self._stop.acquire()
        self._thread = threading.Thread(target=self._run, name=THREAD_NAME, daemon=True)

    def start(self) -> dict[str, Any]:
        self._began = time.monotonic()
        self._thread.start()
        return {"covers": "every thread, those already running too", "hz": self.hz}

    def _run(self) -> None:
        """The sampler thread: a steady pace, late ticks skipped, any error of its own kept."""
        began_cpu = time.thread_time()
        try:
            deadline = self._began + self._max_seconds
            next_tick = time.monotonic()
            while True:
                next_tick += self._period
                behind = time.monotonic() - next_tick
                if behind > 0:
                    missed = int(behind / self._period) + 1
                    self.late += missed
                    next_tick += missed * self._period
                if self._stop.acquire(timeout=max(0.0, next_tick - time.monotonic())):
                    break
                if time.monotonic() >= deadline:
                    self.capped = True
                    break
                self._tick()
        except Exception as exc:  # never the program's: the profile ends, the reply says why
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self._sampler_cpu_s = time.thread_time() - began_cpu
            self._ended = time.monotonic()

    def _tick(self) -> None:
        idle = self._idle()
        stacks = current_stacks(idle)
        present = stacks.keys() | idle
        if present != self._known:
            self._meet(present)
        elif any(t.tries for t in self._threads.values()):
            self._name_pending()
        self.ticks += 1
        for ident in idle:
            counters = self._threads[ident]
            counters.samples += 1
            _count(counters.last_self, counters.last_total or [], 0)
        for ident, stack in stacks.items():
            if ident not in self._skip:
                self._sample(self._threads[ident], stack)

    def _idle(self) -> set[int]:
        """Threads whose CPU clock has not moved since their previous sample (their stack
        cannot have moved: see the module docstring); a thread gone has no clock."""
        return {
            ident
            for ident, counters in self._threads.items()
            if counters.clock is not None
            and counters.last_total is not None
            and counters.last_ns is not None
            and thread_cpu_ns(counters.clock) == counters.last_ns
        }

    def _meet(self, present: set[int]) -> None:
        """Threads new since the previous sample get counters of their own (an ident that
        reappears is another thread: a thread never leaves ``_current_frames`` and returns)."""
        fresh = present - self._known
        self._known = present
        for ident in set(self._threads) - self._known:
            del self._threads[ident]
        self._skip &= self._known
        if not fresh:
            return
        by_ident = {t.ident: t for t in threading.enumerate()}
        for ident in fresh:
            thread = by_ident.get(ident)
            name = thread.name if thread is not None else f"<unknown {ident}>"
            if name.startswith(AGENT_THREAD_NAME):
                self._skip.add(ident)
                continue
            self._threads[ident] = self._new_thread(name, getattr(thread, "native_id", None))

    def _new_thread(self, name: str, native_id: int | None) -> _Thread:
        if len(self._every) < MAX_THREADS:
            self._every.append(_Thread(name, native_id, new=self.ticks > 0))
            return self._every[-1]
        if self._other is None:
            self._other = _Thread(OTHER_THREADS, None, new=False)
            self._other.tries = 0
        return self._other  # no clock: its stacks are walked each time, its CPU unknown

    def _name_pending(self) -> None:
        """A thread seen before ``threading`` listed it (it was starting): look again."""
        by_ident = {t.ident: t for t in threading.enumerate()}
        for ident, counters in self._threads.items():
            if not counters.tries:
                continue
            counters.tries -= 1
            thread = by_ident.get(ident)
            if thread is not None and thread.native_id is not None:
                if thread.name.startswith(AGENT_THREAD_NAME):
                    self._skip.add(ident)
                counters.name, counters.native_id = thread.name, thread.native_id
                counters.clock, counters.tries = thread_cpu_clock(thread.native_id), 0

    def _sample(self, counters: _Thread, stack: RawStack) -> None:
        weight = 0
        if counters.clock is not None:
            now = thread_cpu_ns(counters.clock)  # None: it ended meanwhile
            if now is not None and counters.last_ns is not None:
                weight = max(0, now - counters.last_ns)
                if weight == 0 and counters.last_total is not None:  # did not run: same stack
                    counters.samples += 1
                    _count(counters.last_self, counters.last_total, 0)
                    return
            elif now is not None and counters.new:  # a short-lived thread's CPU counts too
                weight = now
            counters.last_ns = now
        counters.samples += 1
        counters.cpu_ns += weight
        entries = counters.entries
        index_of = self._index
        seen: set[int] = set()
        total: list[Entry] = []
        innermost: Entry | None = None
        for code, _line, _lasti in reversed(stack):  # innermost first
            index = index_of.get(id(code))
            if index is None:
                index = self._learn(code)
            if index >= 0:
                entry = entries.get(index)
                if entry is None:
                    index, entry = self._entry(entries, index)
                if index not in seen:
                    seen.add(index)
                    total.append(entry)
                    if innermost is None:
                        innermost = entry
        counters.last_self, counters.last_total = innermost, total
        _count(innermost, total, weight)

    def _learn(self, code: CodeType) -> int:
        file = code.co_filename
        if _ours(file) or _is_boot(file):
            index = -1
        elif len(self._functions) > MAX_FUNCTIONS:
            return 0  # not remembered: once freed, its id may be another code's
        else:
            index = len(self._functions)
            name = getattr(code, "co_qualname", code.co_name)  # 3.11+: Class.method
            self._functions.append((file, code.co_firstlineno, name))
        self._codes.append(code)
        self._index[id(code)] = index
        return index

    def _entry(self, entries: dict[int, Entry], index: int) -> tuple[int, Entry]:
        """A new counter for ``index`` in one thread; past the cap its ``OTHER_FUNCTIONS`` one."""
        if self._entries >= MAX_ENTRIES:
            index = 0
        entry = entries.get(index)
        if entry is None:
            entry = entries[index] = [0, 0, 0, 0]
            self._entries += 1
        return index, entry

    def stop(self, limit: Any = MAX_ROWS) -> dict[str, Any]:
        """Stop sampling (waits for the sampler's current sample) and report: the top ``limit``
        functions over all threads and per thread, by self CPU (and by self samples, so the
        wall view has its top too)."""
        self._stop.release()
        if self._thread.ident is not None:
            self._thread.join(2.0)
            if self._thread.is_alive():
                raise RuntimeError("the sampler did not stop in time; ask again")
        wanted = max(1, min(limit, MAX_ROWS)) if isinstance(limit, int) else MAX_ROWS
        names = {t.ident: t.name for t in threading.enumerate()}
        for ident, counters in self._threads.items():  # renamed since first seen
            counters.name = names.get(ident, counters.name)
        threads = self._every + ([self._other] if self._other is not None else [])
        merged: dict[int, Entry] = {}
        for counters in threads:
            for index, entry in counters.entries.items():
                into = merged.setdefault(index, [0, 0, 0, 0])
                for i in range(4):
                    into[i] += entry[i]
        busiest = sorted(threads, key=lambda t: (t.cpu_ns, t.samples), reverse=True)
        ended = self._ended if self._ended is not None else time.monotonic()
        return {
            "hz": self.hz,
            "seconds": max(0.0, ended - self._began),
            "ticks": self.ticks,
            "late_ticks": self.late,
            "capped": self.capped,
            "error": self.error,
            "cpu_measured": any(t.clock is not None for t in threads),
            "sampler_cpu_s": self._sampler_cpu_s,
            "samples": sum(t.samples for t in threads),
            "cpu_s": sum(t.cpu_ns for t in threads) / 1e9,
            "functions": len(self._functions) - 1,
            "rows": self._rows(merged, wanted),
            "threads": [
                {
                    "name": t.name,
                    "native_id": t.native_id,
                    "samples": t.samples,
                    "cpu_s": t.cpu_ns / 1e9,
                    "rows": self._rows(t.entries, min(wanted, THREAD_ROWS)),
                }
                for t in busiest[:REPLY_THREADS]
            ],
            "threads_left_off": max(0, len(threads) - REPLY_THREADS),
        }

    def _rows(self, entries: dict[int, Entry], limit: int) -> list[dict[str, Any]]:
        """The top ``limit`` by self CPU and the top ``limit`` by self samples, by self CPU."""
        by_cpu = sorted(entries.items(), key=lambda item: (item[1][0], item[1][2]), reverse=True)
        by_wall = sorted(entries.items(), key=lambda item: (item[1][2], item[1][3]), reverse=True)
        chosen = dict(by_cpu[:limit] + by_wall[:limit])
        rows = []
        for index, (self_ns, total_ns, self_n, total_n) in sorted(
            chosen.items(), key=lambda item: (item[1][0], item[1][2]), reverse=True
        ):
            file, line, function = self._functions[index]
            rows.append(
                {
                    "file": file,
                    "line": line,
                    "function": function,
                    "self_cpu_s": self_ns / 1e9,
                    "total_cpu_s": total_ns / 1e9,
                    "self_samples": self_n,
                    "total_samples": total_n,
                }
            )
        return rows


def _count(innermost: Entry | None, total: list[Entry], weight: int) -> None:
    for entry in total:
        entry[1] += weight
        entry[3] += 1
    if innermost is not None:
        innermost[0] += weight
        innermost[2] += 1
