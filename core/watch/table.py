"""The headless live table: one row per thread (name, native id, state, CPU %, innermost frame).

On a terminal it redraws in place (cursor up over the last table); piped, it prints a plain
block at most every ``plain_every_s``. CPU % is per thread, from the CPU seconds of two samples.
The agent's own thread is left out (the header counts it).
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from typing import TextIO

from core.watch.model import Sample, WatchedThread


class CpuRates:
    """CPU % per native thread id between consecutive samples (100 % = one core)."""

    def __init__(self) -> None:
        self._last: dict[int, tuple[float, float]] = {}

    def update(self, sample: Sample) -> dict[int, float]:
        rates: dict[int, float] = {}
        seen: dict[int, tuple[float, float]] = {}
        for thread in sample.threads:
            if thread.native_id is None or thread.cpu_s is None:
                continue
            seen[thread.native_id] = (sample.time, thread.cpu_s)
            before = self._last.get(thread.native_id)
            if before is not None and sample.time > before[0]:
                rates[thread.native_id] = (
                    100 * (thread.cpu_s - before[1]) / (sample.time - before[0])
                )
        self._last = seen
        return rates


def _frame(thread: WatchedThread) -> str:
    frame = thread.innermost
    if frame is None:
        return "-"
    return f"{frame.function} ({os.path.basename(frame.file)}:{frame.line})"


def render(sample: Sample, rates: dict[int, float], width: int = 120) -> list[str]:
    rss = f"{sample.rss_bytes / 1_048_576:.1f} MiB" if sample.rss_bytes is not None else "?"
    shown = [t for t in sample.threads if not t.agent]
    source = "agent" if sample.agent else "py-spy"
    head = f"pid {sample.pid}  {sample.python}  threads {len(shown)}  RSS {rss}  via {source}" + (
        f"  dropped {sample.dropped}" if sample.dropped else ""
    )
    lines = [head, *sample.notes]
    lines.append(f"{'THREAD':<24} {'NATIVE':>8} {'STATE':<20} {'CPU%':>6}  INNERMOST FRAME")
    for t in sorted(shown, key=lambda t: -rates.get(t.native_id or -1, 0.0)):
        cpu = rates.get(t.native_id or -1)
        lines.append(
            f"{t.name[:24]:<24} {t.native_id or '-':>8} {t.state[:20]:<20} "
            f"{'-' if cpu is None else f'{cpu:.0f}':>6}  {_frame(t)}"
        )
    for cycle in sample.deadlocks:
        lines.append("DEADLOCK: " + " -> ".join(cycle))
    return [line[:width] for line in lines]


class LiveTable:
    def __init__(self, stream: TextIO | None = None, plain_every_s: float = 2.0) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.plain_every_s = plain_every_s
        self.rates = CpuRates()
        self._drawn = 0
        self._last_plain = 0.0
        self._last_sample: Sample | None = None

    def show(self, sample: Sample | None) -> None:
        if sample is None or sample is self._last_sample:
            return
        self._last_sample = sample
        rates = self.rates.update(sample)
        now = time.monotonic()
        if not self.tty and now - self._last_plain < self.plain_every_s:
            return
        self._last_plain = now
        width = shutil.get_terminal_size((120, 24)).columns if self.tty else 200
        lines = render(sample, rates, width)
        if self.tty:
            up = f"\x1b[{self._drawn}F" if self._drawn else ""
            self.stream.write(up + "\x1b[J" + "\n".join(lines) + "\n")
            self._drawn = len(lines)
        else:
            self.stream.write("\n".join(lines) + "\n\n")
        self.stream.flush()

    def note(self, text: str) -> None:
        """A line that stays below the table (the next redraw starts under it)."""
        self.stream.write(text + "\n")
        self.stream.flush()
        self._drawn = 0
