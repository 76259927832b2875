"""An RSS watchdog for a crawl, like Scrapy's MEMUSAGE_LIMIT_MB / MEMUSAGE_WARNING_MB.

Checked on a slow cadence by the engine's watchdog thread (RSS is one cheap syscall, but a
crawl does not grow by hundreds of MiB in a second).
"""

from __future__ import annotations

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

    def check(self) -> tuple[str, float] | None:
        """``("limit", rss)``, ``("warning", rss)`` the first time, or None."""
        rss = self.rss_mib()
        if self.limit_mb and rss >= self.limit_mb:
            return "limit", rss
        if self.warning_mb and rss >= self.warning_mb and not self._warned:
            self._warned = True
            return "warning", rss
        return None
