"""A launched program's stdout and stderr, read off its pipes for the window's Log.

The program must never block on a full pipe because the window is slow, and a chatty one
must not grow our memory: one thread, ``threadscope-watch-output``, reads whatever the pipes
hold (a selector over both, ``os.read``), cuts it into lines (at most ``MAX_LINE``
characters; a partial line waits for its newline or ``PARTIAL_FLUSH_S`` of quiet, so a prompt
shows) and keeps them in a bounded buffer. Past ``capacity`` lines the oldest go and are
counted, so the newest are always there: a crash's traceback is the last thing it writes.
``on_ready`` runs on the reader thread when lines land in an empty buffer, so the consumer
gets one wake-up per batch it ``take()``s, however many lines the program writes; a consumer
that takes at most ``limit`` lines at a time (a burst shown over a few ticks) is told there
are ``more`` and asks again.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import IO, Any

STDOUT = "stdout"
STDERR = "stderr"
CAPACITY = 10_000  # lines waiting to be taken
MAX_LINE = 2_000  # characters; a longer line comes as several (so at most ~20 MB waits)
PARTIAL_FLUSH_S = 0.5  # a line the program is half-way through writing is rarely this slow
_CHUNK = 65_536


@dataclass(frozen=True, slots=True)
class OutputLine:
    stream: str  # STDOUT or STDERR
    text: str
    time: float  # wall clock when it was read


@dataclass(frozen=True, slots=True)
class OutputBatch:
    lines: tuple[OutputLine, ...]
    dropped: int  # lines lost since the previous take because the buffer was full
    more: bool = False  # lines left after a take's limit


class ProgramOutput:
    """See the module docstring. ``pipes``: stream name -> the pipe's read end (closed here
    at its end of file)."""

    def __init__(
        self,
        pipes: Mapping[str, IO[Any]],
        on_ready: Callable[[], object],
        capacity: int = CAPACITY,
    ) -> None:
        self._pipes = dict(pipes)
        self._on_ready = on_ready
        self._lines: deque[OutputLine] = deque()
        self._capacity = capacity
        self._dropped = 0
        self.dropped_total = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(
            target=self._read, name="threadscope-watch-output", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float) -> bool:
        """True once both pipes reached their end (a child of the program that keeps them
        open keeps the reader going)."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def take(self, limit: int | None = None) -> OutputBatch:
        """What was read since the last take, oldest first: all of it, or ``limit`` lines."""
        with self._lock:
            if limit is None or len(self._lines) <= limit:
                lines, self._lines = tuple(self._lines), deque()
            else:
                lines = tuple(self._lines.popleft() for _ in range(limit))
            dropped, self._dropped = self._dropped, 0
            more = bool(self._lines)
        return OutputBatch(lines, dropped, more)

    # -- the reader thread ------------------------------------------------------------------

    def _read(self) -> None:
        selector = selectors.DefaultSelector()
        partial: dict[str, bytes] = {}
        for name, pipe in self._pipes.items():
            selector.register(pipe.fileno(), selectors.EVENT_READ, name)
            partial[name] = b""
        try:
            while selector.get_map():
                events = selector.select(PARTIAL_FLUSH_S)
                if not events:  # quiet: show what waits for its newline (a prompt)
                    for name, rest in partial.items():
                        if rest:
                            partial[name] = b""
                            self._put(name, [rest])
                    continue
                for key, _mask in events:
                    name = key.data
                    try:
                        chunk = os.read(key.fd, _CHUNK)
                    except OSError:
                        chunk = b""
                    if not chunk:
                        selector.unregister(key.fd)
                        rest, partial[name] = partial[name], b""
                        self._put(name, [rest] if rest else [])
                        continue
                    *lines, rest = (partial[name] + chunk).split(b"\n")
                    if len(rest) > MAX_LINE:
                        lines.append(rest)
                        rest = b""
                    partial[name] = rest
                    self._put(name, lines)
        finally:
            selector.close()
            for pipe in self._pipes.values():
                with contextlib.suppress(OSError):
                    pipe.close()

    def _put(self, stream: str, raw: list[bytes]) -> None:
        if not raw:
            return
        now = time.time()
        lines = [
            OutputLine(stream, text[i : i + MAX_LINE], now)
            for line in raw
            for text in (line.decode("utf-8", "replace").removesuffix("\r"),)
            for i in range(0, max(len(text), 1), MAX_LINE)
        ]
        with self._lock:
            was_empty = not self._lines
            self._lines.extend(lines)
            over = len(self._lines) - self._capacity
            for _ in range(max(over, 0)):
                self._lines.popleft()
            if over > 0:
                self._dropped += over
                self.dropped_total += over
        if was_empty:
            self._on_ready()
