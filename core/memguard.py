"""An RSS watchdog for a crawl, like Scrapy's MEMUSAGE_LIMIT_MB / MEMUSAGE_WARNING_MB.

Checked on a slow cadence by the engine's watchdog thread (RSS is one cheap syscall, but a
crawl does not grow by hundreds of MiB in a second).
"""

from __future__ import annotations

import ctypes
import sys

import psutil

CHECK_INTERVAL = 0.5


class MemoryGuard:
    """Says once when RSS passes ``warning_mb``, and every time it is at or past ``limit_mb``."""

    def __init__(self, limit_mb: int, warning_mb: int) -> None:
        self.limit_mb = limit_mb
        self.warning_mb = warning_mb
        self._warned = False
        self._process = psutil.Process()

    @property
    def enabled(self) -> bool:
        return bool(self.limit_mb or self.warning_mb)

    def rss_mib(self) -> float:
        return self._process.memory_info().rss / 1_048_576

    def check(self) -> list[tuple[str, float]]:
        """The levels crossed now, in order: ``("warning", rss)`` the first time, then
        ``("limit", rss)`` whenever RSS is at or past the limit.

        RSS can leap past both between two checks (one big body); the warning still comes
        first, so a person always sees it before the stop.
        """
        rss = self.rss_mib()
        crossed = []
        if self.warning_mb and rss >= self.warning_mb and not self._warned:
            self._warned = True
            crossed.append(("warning", rss))
        if self.limit_mb and rss >= self.limit_mb:
            crossed.append(("limit", rss))
        return crossed


# -- giving memory back ----------------------------------------------------------------------
# glibc gives a thread that mallocs while another holds an arena's lock an arena of its own
# (up to 8 per core), and keeps the pages freed in every arena mapped. A crawl starts and ends
# dozens of threads, so over 100 start/stop cycles in one process RSS grew 29 % (51 % before
# the cyclic GC had run) with threads and files flat. Measured (tests/test_soak.py, 100
# cycles, after gc): trimming after each crawl alone +15-19 %, two arenas alone +9 %, both
# +2.5-5 %. So both are done. Python's small objects come from pymalloc under the GIL, so two
# arenas cost the crawl no measurable speed.
MALLOC_ARENAS = 2
# glibc serves blocks from 128 KiB up with mmap, but raises that threshold (up to 32 MiB) to
# the size of every mmapped block freed; from then on big blocks (the visited table's
# doublings, large bodies) come from the heap and their pages stay in RSS after free. A fixed
# threshold turns that off. At 1 MiB, lexbor's 324 KiB per parse stays on the heap (at
# 128 KiB every page cost an mmap/munmap pair and its page faults). Measured on a
# 200 000-page crawl (bench long_crawl), RSS after 10 000 pages -> highest after: dynamic
# 52.9 -> 63.8 MiB (+20.7 %), fixed 128 KiB 51.5 -> 57.2 (+11.1 %), fixed 1 MiB 56.3 -> 61.9
# (+9.9 %); of the ~5.6 MiB left, 3 MiB was the visited table doubling from 1 to 4 MiB (it now
# grows by half, to 2.25 MiB for 200 000 URLs, and the bench measured 4.4-7.6 %).
MMAP_THRESHOLD = 1024 * 1024
_M_ARENA_MAX = -8  # mallopt parameter numbers, from <malloc.h>
_M_MMAP_THRESHOLD = -3


def _glibc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)
        libc.malloc_trim, libc.mallopt  # noqa: B018 - musl has neither
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _glibc()


def tune_malloc(arenas: int = MALLOC_ARENAS, mmap_threshold: int = MMAP_THRESHOLD) -> bool:
    """Limit glibc to ``arenas`` malloc arenas and fix its mmap threshold; True when done
    (no-op off glibc).

    glibc fixes the arena limit when it first needs a second arena, so this runs at import,
    before any crawl thread exists.
    """
    if _LIBC is None:
        return False
    capped: bool = _LIBC.mallopt(_M_ARENA_MAX, arenas) == 1
    fixed: bool = _LIBC.mallopt(_M_MMAP_THRESHOLD, mmap_threshold) == 1
    return fixed and capped


def release_free_memory() -> bool:
    """Hand the allocator's free pages back to the OS (``malloc_trim(0)``) on glibc.

    Called when a crawl has joined its threads: what they freed is otherwise kept mapped.
    """
    return _LIBC is not None and bool(_LIBC.malloc_trim(0))


tune_malloc()
