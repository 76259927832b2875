"""The crawl frontier: a bounded FIFO of ``(url, parent, depth)`` that never blocks a producer.

Workers both consume URLs and produce links, so a ``put`` that blocked on a full queue could
deadlock the whole pool (every worker waiting for room only workers can make). Policy:

* At most ``maxsize`` items live in memory. Items that do not fit are appended, in order, to
  an anonymous temporary file (``spill_dir`` or the system temp dir); it is deleted on
  ``close()`` (and by the OS if the process dies).
* FIFO order is global: while anything is spilled, new items go behind it on disk, and items
  are read back in batches when memory falls to half of ``maxsize``. So BFS-by-depth holds,
  nothing is lost, and memory is bounded whatever a page links to.
* If the disk write itself fails (disk full), the items are dropped and counted in
  ``dropped``, never raised into a worker.

The frontier also counts unfinished items (put but not yet ``task_done``), like
``queue.Queue``: when the last one is done with nothing left, the crawl is over and every
waiter wakes (``drained``). One ``threading.Condition`` on a plain lock guards it all; a
worker takes it twice per URL (``get`` and ``task_done`` with that page's new links).
"""

from __future__ import annotations

import marshal
import struct
import tempfile
import threading
import time
from collections import deque
from collections.abc import Iterable
from typing import IO

Item = tuple[str, str | None, int]

_LEN = struct.Struct("<I")
_MAX_REFILL = 4096
_READ_CHUNK = 1 << 20


class Frontier:
    """Bounded in-memory FIFO with an on-disk overflow; see the module docstring."""

    def __init__(self, maxsize: int, spill_dir: str | None = None) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be 1 or more, got {maxsize}")
        self.maxsize = maxsize
        self._spill_dir = spill_dir
        self._cond = threading.Condition(threading.Lock())
        self._items: deque[Item] = deque()
        self._low_water = maxsize // 2
        self._file: IO[bytes] | None = None
        self._read_pos = 0
        self._write_pos = 0
        self._spilled = 0
        self._unfinished = 0
        self._wakeups = 0
        self._closed = False
        self._drained = False
        self.dropped = 0
        self.spilled_total = 0

    # -- producers ---------------------------------------------------------------------------
    def put(self, item: Item) -> None:
        self.put_many((item,))

    def put_many(self, items: Iterable[Item]) -> None:
        with self._cond:
            self._add(items)

    def task_done(self, new_items: Iterable[Item] = ()) -> bool:
        """Mark one item from ``get`` handled, adding the links it produced in the same lock.

        Returns True when this call drained the frontier (nothing queued, nothing in hand).
        """
        with self._cond:
            if new_items:
                self._add(new_items)
            self._unfinished -= 1
            if self._unfinished <= 0 and not self._items and not self._spilled:
                self._drained = True
                self._cond.notify_all()
                return True
            return False

    def _add(self, items: Iterable[Item]) -> None:
        if self._closed:
            return
        memory = self._items
        added = 0
        overflow: list[Item] | None = None
        for item in items:
            if overflow is None and not self._spilled and len(memory) < self.maxsize:
                memory.append(item)
                added += 1
            else:
                if overflow is None:
                    overflow = []
                overflow.append(item)
        if overflow:
            self._spill(overflow)
        if added:
            self._unfinished += added
            self._cond.notify(added)

    def _spill(self, items: list[Item]) -> None:
        data = b"".join(_LEN.pack(len(b)) + b for b in map(marshal.dumps, items))
        try:
            if self._file is None:  # lives until close(), so no context manager
                self._file = tempfile.TemporaryFile(  # noqa: SIM115
                    prefix="frontier-", dir=self._spill_dir
                )
            self._file.seek(self._write_pos)
            self._file.write(data)
        except OSError:
            self.dropped += len(items)
            return
        self._write_pos += len(data)
        self._spilled += len(items)
        self.spilled_total += len(items)
        self._unfinished += len(items)
        self._cond.notify(len(items))

    # -- consumers ---------------------------------------------------------------------------
    def get(self, timeout: float | None = None, since: int | None = None) -> Item | None:
        """The oldest item, or None on timeout, ``close()``, drain or ``wake()``.

        ``since``: a ``wakeups`` value read before the caller checked its own flags; a
        ``wake()`` after that read (even one before this call) returns None at once, so a
        wake-up that lands between the check and the wait is never lost.
        """
        with self._cond:
            wakeups = self._wakeups if since is None else since
            deadline = None
            while True:
                if self._closed:
                    return None
                if self._spilled and len(self._items) <= self._low_water:
                    self._refill()
                if self._items:
                    return self._items.popleft()
                if self._drained or self._wakeups != wakeups:
                    return None
                if timeout is None:
                    self._cond.wait()
                    continue
                if deadline is None:
                    deadline = time.monotonic() + timeout
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(remaining)

    def _refill(self) -> None:
        want = min(self.maxsize - len(self._items), _MAX_REFILL, self._spilled)
        file = self._file
        assert file is not None  # something was spilled, so the file exists
        file.seek(self._read_pos)
        available = self._write_pos - self._read_pos
        data = file.read(min(_READ_CHUNK, available))
        (first,) = _LEN.unpack_from(data)
        if 4 + first > len(data):  # one record bigger than a chunk (a very long URL)
            data += file.read(4 + first - len(data))
        view = memoryview(data)
        pos = 0
        taken = 0
        append = self._items.append
        while taken < want and pos + 4 <= len(view):
            (size,) = _LEN.unpack_from(view, pos)
            if pos + 4 + size > len(view):
                break
            append(marshal.loads(view[pos + 4 : pos + 4 + size]))
            pos += 4 + size
            taken += 1
        self._read_pos += pos
        self._spilled -= taken
        if not self._spilled:
            # Empty again: rewind so the file does not grow without bound over a long crawl.
            file.seek(0)
            file.truncate()
            self._read_pos = self._write_pos = 0

    # -- control -----------------------------------------------------------------------------
    def wake(self) -> None:
        """Make every current ``get`` return None so its caller re-checks its own flags."""
        with self._cond:
            self._wakeups += 1
            self._cond.notify_all()

    def close(self) -> None:
        """Wake all waiters for good, forget the items and delete the spill file."""
        with self._cond:
            self._closed = True
            self._items.clear()
            self._spilled = 0
            if self._file is not None:
                self._file.close()
                self._file = None
            self._cond.notify_all()

    @property
    def wakeups(self) -> int:
        return self._wakeups

    @property
    def drained(self) -> bool:
        return self._drained

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def in_memory(self) -> int:
        return len(self._items)

    @property
    def spilled(self) -> int:
        return self._spilled

    def __len__(self) -> int:
        return len(self._items) + self._spilled
