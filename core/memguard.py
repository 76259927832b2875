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
_M_ARENA_MAX = -8  # mallopt parameter number, from <malloc.h>


def _glibc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)
        libc.malloc_trim, libc.mallopt  # noqa: B018 - musl has neither
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _glibc()


def cap_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """Limit glibc to ``arenas`` malloc arenas; True when done (no-op off glibc).

    glibc fixes the limit when it first needs a second arena, so this runs at import, before
    any crawl thread exists.
    """
    return _LIBC is not None and _LIBC.mallopt(_M_ARENA_MAX, arenas) == 1


def release_free_memory() -> bool:
    """Hand the allocator's free pages back to the OS (``malloc_trim(0)``) on glibc.

    Called when a crawl has joined its threads: what they freed is otherwise kept mapped.
    """
    return _LIBC is not None and bool(_LIBC.malloc_trim(0))


cap_malloc_arenas()
