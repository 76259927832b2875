"""The one settings object that flows from the window or the CLI flags to the engine.

It is validated once, in ``__post_init__``: a bad value raises :class:`SettingsError`
naming the field and what is allowed, so nothing is ever started half-configured.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_USER_AGENT = "Threadscope/0.1 (+threaded crawl lab)"
STRATEGIES = ("bounded", "pool", "recursive", "thread-per-url")
"""How the crawl schedules URLs on threads (``core.strategies`` implements each)."""
MAX_RECURSIVE_DEPTH = 500
"""The recursive strategies recurse once per link level; this keeps clear of the recursion limit."""


class SettingsError(ValueError):
    """A setting has a value the engine cannot use; ``field`` names it."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


@dataclass(frozen=True, slots=True)
class CrawlSettings:
    """Everything a crawl needs to know, immutable once validated."""

    start_urls: tuple[str, ...]
    threads: int = 16
    max_depth: int = 40
    max_pages: int = 250_000
    per_host_max_pages: int = 250_000
    frontier_size: int = 10_000
    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    deadline: float = 30.0
    max_body_bytes: int = 2 * 1024 * 1024
    allowed_hosts: tuple[str, ...] = ()
    obey_robots: bool = True
    host_delay: float = 0.0
    per_host_threads: int = 8  # requests in flight to one host at most
    max_time: float = 0.0  # seconds the whole crawl may take (0: no limit)
    autothrottle: bool = False  # adapt each host's delay to its latency and errors
    retries: int = 2
    retry_after_cap: float = 10.0
    max_redirects: int = 5
    max_url_length: int = 2048
    max_query_params: int = 16
    user_agent: str = DEFAULT_USER_AGENT
    results_path: str | None = None
    memory_limit_mb: int = 0
    memory_warning_mb: int = 0
    strategy: str = "bounded"
    max_spawned_threads: int = 2000
    pin_workers: bool = True  # all crawl threads on one core: see core.affinity

    def __post_init__(self) -> None:
        urls = self.start_urls
        if isinstance(urls, str):
            urls = (urls,)
        urls = tuple(u.strip() for u in urls)
        object.__setattr__(self, "start_urls", urls)
        if not urls:
            raise SettingsError("start_urls", "give at least one http(s) URL to start from")
        for url in urls:
            _check_url(url)
        _at_least("threads", self.threads, 1, upper=1024)
        _at_least("max_depth", self.max_depth, 0)
        _at_least("max_pages", self.max_pages, 1)
        _at_least("per_host_max_pages", self.per_host_max_pages, 1)
        _at_least("frontier_size", self.frontier_size, 1)
        _positive("connect_timeout", self.connect_timeout)
        _positive("read_timeout", self.read_timeout)
        _positive("deadline", self.deadline)
        _at_least("max_body_bytes", self.max_body_bytes, 1)
        if self.host_delay < 0:
            raise SettingsError("host_delay", f"must be 0 or more seconds, got {self.host_delay}")
        _at_least("per_host_threads", self.per_host_threads, 1, upper=1024)
        if not isinstance(self.max_time, int | float) or self.max_time < 0:
            raise SettingsError("max_time", f"must be 0 (no limit) or more, got {self.max_time}")
        _at_least("retries", self.retries, 0, upper=20)
        if self.retry_after_cap < 0:
            raise SettingsError("retry_after_cap", "must be 0 or more seconds")
        _at_least("max_redirects", self.max_redirects, 0, upper=50)
        _at_least("max_url_length", self.max_url_length, 16)
        _at_least("max_query_params", self.max_query_params, 0)
        _at_least("memory_limit_mb", self.memory_limit_mb, 0)
        _at_least("memory_warning_mb", self.memory_warning_mb, 0)
        if self.memory_limit_mb and self.memory_warning_mb > self.memory_limit_mb:
            raise SettingsError("memory_warning_mb", "must not be above memory_limit_mb")
        if self.strategy not in STRATEGIES:
            raise SettingsError(
                "strategy", f"must be one of {', '.join(STRATEGIES)}, got {self.strategy!r}"
            )
        _at_least("max_spawned_threads", self.max_spawned_threads, 1, upper=10_000)
        if (
            self.strategy in ("recursive", "thread-per-url")
            and self.max_depth > MAX_RECURSIVE_DEPTH
        ):
            raise SettingsError(
                "max_depth",
                f"the {self.strategy} strategy recurses once per level; at most "
                f"{MAX_RECURSIVE_DEPTH}, got {self.max_depth}",
            )
        if not self.user_agent.strip():
            raise SettingsError("user_agent", "must not be empty")
        hosts = self.allowed_hosts
        if isinstance(hosts, str):
            hosts = (hosts,)
        hosts = tuple(h.strip().lower() for h in hosts if h.strip())
        if not hosts:
            hosts = tuple(dict.fromkeys(urlsplit(u).hostname or "" for u in urls))
        object.__setattr__(self, "allowed_hosts", hosts)

    def replace(self, **changes: object) -> CrawlSettings:
        """A copy with some fields changed, validated again.

        New start URLs with no explicit ``allowed_hosts`` re-derive the scope from them.
        """
        if "start_urls" in changes and "allowed_hosts" not in changes:
            changes["allowed_hosts"] = ()
        return dataclasses.replace(self, **changes)


def _check_url(url: str) -> None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise SettingsError("start_urls", f"cannot parse {url!r}: {exc}") from None
    if parts.scheme not in ("http", "https"):
        shown = parts.scheme or "none"
        raise SettingsError(
            "start_urls", f"{url!r} has scheme {shown}; only http and https can be crawled"
        )
    if not parts.hostname:
        raise SettingsError("start_urls", f"{url!r} has no host name")


def _at_least(name: str, value: object, lower: int, upper: int | None = None) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise SettingsError(name, f"must be a whole number, got {value!r}")
    if value < lower or (upper is not None and value > upper):
        allowed = f"from {lower} to {upper}" if upper is not None else f"{lower} or more"
        raise SettingsError(name, f"must be {allowed}, got {value}")


def _positive(name: str, value: object) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool) or not value > 0:
        raise SettingsError(name, f"must be a number of seconds above 0, got {value!r}")
