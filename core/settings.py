"""The one settings object that flows from the window or the CLI flags to the engine.

Each field is described once, in its ``setting(...)`` metadata: label, help, unit, range,
CLI flag, whether it can change while a crawl runs and its form group. The ``threadscope
crawl`` flags (``core.crawl_cli``) and the window's form (``gui.controls``) are generated from
:data:`SETTINGS`, and validation reads the same ranges. It is validated once, in
``__post_init__``: a bad value raises :class:`SettingsError` naming the field and what is
allowed, so nothing is ever started half-configured.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar
from urllib.parse import urlsplit

from core.settings_error import SettingsError
from core.strategies import STRATEGIES as STRATEGY_CLASSES

DEFAULT_USER_AGENT = "Threadscope/0.1 (+threaded crawl lab)"
STRATEGIES = tuple(STRATEGY_CLASSES)
"""How the crawl schedules URLs on threads, as ``core.strategies`` implements them."""

T = TypeVar("T")


class Kind(StrEnum):
    """What a field holds, read from its annotation: it picks the flag's type and the widget."""

    INT = "int"  # a spin box
    FLOAT = "float"  # a decimal spin box
    BOOL = "bool"  # a check box; --flag / --no-flag
    CHOICE = "choice"  # a combo box; --flag {a,b}
    TEXT = "text"  # a line edit
    TEXTS = "texts"  # a repeatable flag
    PATH = "path"  # an optional file name


class Group(StrEnum):
    """The form's group boxes, top to bottom; ADVANCED starts collapsed."""

    TARGET = "Target"
    CRAWL = "Crawl"
    ADVANCED = "Advanced limits"


@dataclass(frozen=True, slots=True)
class Setting:
    """How one field is shown, bounded and typed on the command line.

    ``help``'s first sentence is the CLI help; all of it is the form's tooltip. ``group``
    ``None`` means CLI-only, ``flag`` ``None`` form-only; ``only`` says why. ``form_scale``
    divides the value for the form (bytes shown as KiB) and ``form_unit`` is then its unit.
    ``name``, ``kind`` and ``default`` are filled in from the field itself (see SETTINGS).
    """

    label: str
    help: str
    flag: str | None
    group: Group | None = Group.CRAWL
    unit: str = ""
    minimum: int | float | None = None
    maximum: int | float | None = None
    above: bool = False  # strictly above ``minimum``
    live: bool = False  # changeable while a crawl runs (threads: on a resizable strategy)
    choices: tuple[str, ...] = ()
    metavar: str | None = None
    form_scale: int = 1
    form_unit: str = ""
    only: str = ""
    name: str = ""
    kind: Kind = Kind.TEXT
    default: Any = None

    @property
    def summary(self) -> str:
        """The first sentence of ``help``: one line for ``--help``."""
        return self.help.split(". ", 1)[0].rstrip(".")

    def bounds(self) -> str:
        """The allowed range in words ("1 to 1024", "above 0", "0 or more") or ""."""
        low, high = self.minimum, self.maximum
        if low is not None and high is not None:
            return f"{low} to {high}"
        if low is not None:
            return f"above {low}" if self.above else f"{low} or more"
        return ""


def setting(default: T, label: str, help: str, flag: str | None, **described: Any) -> T:
    """A dataclass field whose metadata is its :class:`Setting`."""
    meta = Setting(label=label, help=help, flag=flag, **described)
    return dataclasses.field(default=default, metadata={"setting": meta})


@dataclass(frozen=True, slots=True)
class CrawlSettings:
    """Everything a crawl needs to know, immutable once validated."""

    start_urls: tuple[str, ...] = dataclasses.field(
        metadata={
            "setting": Setting(
                "URL",
                "Any http(s) URL; the crawl stays on its host.",
                flag="URL",
                group=Group.TARGET,
                only="the CLI and the form take one URL (the CLI none: the embedded test site)",
            )
        }
    )
    threads: int = setting(
        16,
        "Threads",
        "Worker threads in the pool. Crawling is I/O-bound: a thread waiting on a socket "
        "releases the GIL, so more threads overlap more network waits, until the server, the "
        "CPU (parsing holds the GIL) or the frontier becomes the limit. Change it while a crawl "
        "runs and watch the busy-workers line.",
        flag="--threads",
        minimum=1,
        maximum=1024,
        live=True,
        metavar="N",
    )
    max_depth: int = setting(
        40,
        "Max depth",
        "Links followed away from the start URL (trap: infinite calendars). The frontier is "
        "breadth-first, so depth d is finished before d+1 starts.",
        flag="--max-depth",
        minimum=0,
        unit="links",
        metavar="N",
    )
    max_pages: int = setting(
        250_000,
        "Max pages",
        "Stop after this many pages. The count is shared by every worker under a lock, so "
        "the limit is exact however many threads race for it.",
        flag="--max-pages",
        minimum=1,
        unit="pages",
        metavar="N",
    )
    per_host_max_pages: int = setting(
        250_000,
        "Pages per host",
        "Pages fetched per host:port (trap: generated pages).",
        flag="--per-host-max-pages",
        group=Group.ADVANCED,
        minimum=1,
        unit="pages",
        metavar="N",
    )
    frontier_size: int = setting(
        10_000,
        "Frontier bound",
        "URLs waiting in memory; the rest spill to a temp file in order. This is "
        "back-pressure: when it is full, workers do not block on it (a blocked producer that "
        "is also the consumer deadlocks the pool); the overflow comes back as the queue "
        "drains.",
        flag="--frontier",
        minimum=1,
        unit="URLs",
        metavar="N",
    )
    connect_timeout: float = setting(
        5.0,
        "Connect timeout",
        "Seconds to wait for a TCP connection. Every blocking call needs a bound, or one dead "
        "host can hold a worker thread forever and Stop cannot be prompt.",
        flag="--connect-timeout",
        minimum=0,
        above=True,
        unit="s",
        metavar="S",
    )
    read_timeout: float = setting(
        10.0,
        "Read timeout",
        "Seconds a socket may stay silent between bytes. It bounds each wait, not the whole "
        "download: a server trickling one byte at a time never trips it.",
        flag="--read-timeout",
        minimum=0,
        above=True,
        unit="s",
        metavar="S",
    )
    deadline: float = setting(
        30.0,
        "Deadline",
        "Total seconds for one fetch, redirects, retries and back-off included. This is what "
        "catches the trickling server the read timeout cannot.",
        flag="--deadline",
        minimum=0,
        above=True,
        unit="s",
        metavar="S",
    )
    max_body_bytes: int = setting(
        2 * 1024 * 1024,
        "Max body",
        "Decoded body kept per page; the page is marked truncated. Bodies are streamed and cut "
        "at this size (after decompression), so one huge page cannot blow up the memory of "
        "the whole process: N threads times this bound is the worst case in flight.",
        flag="--max-bytes",
        minimum=1,
        unit="bytes",
        metavar="BYTES",
        form_scale=1024,
        form_unit="KiB",
    )
    allowed_hosts: tuple[str, ...] = setting(
        (),
        "Allowed hosts",
        "Also crawl this host (repeatable; the start URL's host always is).",
        flag="--allow-host",
        group=None,
        metavar="HOST",
        only="the window crawls its target's host only",
    )
    obey_robots: bool = setting(
        True,
        "Obey robots.txt",
        "Obey robots.txt rules and Crawl-delay. Each host's robots.txt is fetched once (cached "
        "and shared by all threads under a lock) and what it disallows is skipped.",
        flag="--robots",
    )
    host_delay: float = setting(
        0.0,
        "Per-host delay",
        "Least time between two requests to one host (Crawl-delay wins when longer). The "
        "frontier hands out a host's URLs a delay apart and other hosts' URLs meanwhile, so a "
        "delay caps pages/s per host, not the crawl's.",
        flag="--delay",
        group=Group.ADVANCED,
        minimum=0,
        unit="s",
        metavar="S",
    )
    per_host_threads: int = setting(
        8,
        "Per-host threads",
        "Requests in flight to one host at most (Scrapy's CONCURRENT_REQUESTS_PER_DOMAIN). "
        "Every strategy hands a thread a URL of another host instead, so the cap never idles "
        "a thread while another host has URLs ready.",
        flag="--per-host-threads",
        group=Group.ADVANCED,
        minimum=1,
        maximum=1024,
        metavar="N",
    )
    max_time: float = setting(
        0.0,
        "Max time",
        "End the whole crawl after this many seconds, reason time_limit (0: no limit). "
        "Results are complete up to that point.",
        flag="--max-time",
        minimum=0,
        unit="s",
        metavar="SECONDS",
    )
    autothrottle: bool = setting(
        False,
        "Autothrottle",
        "Adapt each host's delay to its measured latency, like Scrapy's AutoThrottle. "
        "The delay aims at a target of requests in flight (delay = latency / target), never "
        "goes below the robots/--delay floor and backs off on 429/503/5xx and timeouts. Each "
        "change of ×1.5 or more is a marker on the charts.",
        flag="--autothrottle",
        group=Group.ADVANCED,
    )
    retries: int = setting(
        2,
        "Retries",
        "Extra attempts on connection errors, resets, 429 and 503 (back-off 0.25 s, doubling).",
        flag="--retries",
        group=Group.ADVANCED,
        minimum=0,
        maximum=20,
        metavar="N",
    )
    retry_after_cap: float = setting(
        10.0,
        "Retry-After cap",
        "Longest Retry-After wait honoured.",
        flag="--retry-after-cap",
        group=Group.ADVANCED,
        minimum=0,
        unit="s",
        metavar="S",
    )
    max_redirects: int = setting(
        5,
        "Max redirects",
        "Redirect hops per fetch (error too_many_redirects).",
        flag="--max-redirects",
        group=Group.ADVANCED,
        minimum=0,
        maximum=50,
        metavar="N",
    )
    max_url_length: int = setting(
        2048,
        "Max URL length",
        "Longer links are not crawled (trap: ever-growing URLs).",
        flag="--max-url-length",
        group=Group.ADVANCED,
        minimum=16,
        unit="chars",
        metavar="N",
    )
    max_query_params: int = setting(
        16,
        "Max query params",
        "Links with more query parameters are skipped (trap: session ids, faceted search; 0 "
        "refuses every query).",
        flag="--max-query-params",
        group=Group.ADVANCED,
        minimum=0,
        metavar="N",
    )
    user_agent: str = setting(
        DEFAULT_USER_AGENT,
        "User-Agent",
        "The User-Agent sent and matched in robots.txt.",
        flag="--user-agent",
        group=Group.ADVANCED,
        metavar="TEXT",
    )
    results_path: str | None = setting(
        None,
        "Results file",
        "Append one JSON line per URL to this file, written as it happens.",
        flag="--out",
        group=None,
        metavar="results.jsonl",
        only="the window keeps results in its table; File > Export writes them as JSONL",
    )
    memory_limit_mb: int = setting(
        0,
        "Memory limit",
        "Process RSS at which the crawl stops (0: off).",
        flag="--memory-limit-mb",
        group=Group.ADVANCED,
        minimum=0,
        unit="MiB",
        metavar="MIB",
    )
    memory_warning_mb: int = setting(
        0,
        "Memory warning",
        "RSS at which a warning is shown once, before the limit (0: off).",
        flag="--memory-warning-mb",
        group=Group.ADVANCED,
        minimum=0,
        unit="MiB",
        metavar="MIB",
    )
    strategy: str = setting(
        "bounded",
        "Strategy",
        "How URLs are scheduled on threads. Each design publishes the same events and "
        "metrics, so their charts compare directly.",
        flag="--strategy",
        choices=STRATEGIES,
    )
    max_spawned_threads: int = setting(
        2000,
        "Spawned threads",
        "Thread-per-url: cap on its threads alive at once. Past it a finder crawls the link "
        "itself, so a thread explosion stays survivable.",
        flag="--max-spawned-threads",
        group=Group.ADVANCED,
        minimum=1,
        maximum=10_000,
        metavar="N",
    )
    pin_workers: bool = setting(
        True,
        "Workers on one core",
        "Run every crawl thread on one CPU core (Linux, a GIL build, 2+ usable CPUs). Under "
        "the GIL one thread runs Python at a time, and every send and recv hands the GIL to a "
        "waiting thread: waking it on the same core is cheaper than waking it on another. "
        "With every crawl thread pinned to one core those hand-offs stay same-core wake-ups, "
        "which makes a busy crawl faster; the gil-cores experiment measures it.",
        flag="--pin-workers",
    )
    track_locks: bool = setting(
        False,
        "Track locks",
        "Track the locks made while the crawl runs (the engine's own first). The Locks page "
        "and the lock-wait histogram then show who holds each lock, who waits and for how "
        "long. Every lock created in the process from the crawl's creation to its end is "
        "tracked (queues and conditions too); each acquire costs a little more "
        "(bench/lock_cost.py measures it).",
        flag="--track-locks",
    )

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
        for spec in SETTINGS.values():
            _check_range(spec, getattr(self, spec.name))
        if self.memory_limit_mb and self.memory_warning_mb > self.memory_limit_mb:
            raise SettingsError("memory_warning_mb", "must not be above memory_limit_mb")
        depth_limit = STRATEGY_CLASSES[self.strategy].depth_limit
        if depth_limit is not None and self.max_depth > depth_limit:
            raise SettingsError(
                "max_depth",
                f"the {self.strategy} strategy recurses once per level; at most "
                f"{depth_limit}, got {self.max_depth}",
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
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


def _kind(hint: object, choices: tuple[str, ...]) -> Kind:
    if hint in (bool, int, float):
        return {bool: Kind.BOOL, int: Kind.INT, float: Kind.FLOAT}[hint]
    if hint is str:
        return Kind.CHOICE if choices else Kind.TEXT
    if typing.get_origin(hint) is tuple:
        return Kind.TEXTS
    return Kind.PATH  # str | None


def _described() -> dict[str, Setting]:
    hints = typing.get_type_hints(CrawlSettings)
    return {
        f.name: dataclasses.replace(
            f.metadata["setting"],
            name=f.name,
            kind=_kind(hints[f.name], f.metadata["setting"].choices),
            default=None if f.default is dataclasses.MISSING else f.default,
        )
        for f in dataclasses.fields(CrawlSettings)
    }


SETTINGS: dict[str, Setting] = _described()
"""Every field of :class:`CrawlSettings`, in order, with its description filled in."""


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


def _check_range(spec: Setting, value: object) -> None:
    name = spec.name
    if spec.kind is Kind.INT:
        _at_least(name, value, spec.minimum, spec.maximum)
    elif spec.kind is Kind.FLOAT:
        low, high = spec.minimum, spec.maximum
        if (
            not isinstance(value, int | float)
            or isinstance(value, bool)
            or (low is not None and (value <= low if spec.above else value < low))
            or (high is not None and value > high)
        ):
            unit = "seconds" if spec.unit == "s" else spec.unit
            allowed = f"a number of {unit} above {low}" if spec.above else f"{spec.bounds()} {unit}"
            raise SettingsError(name, f"must be {allowed}, got {value!r}")
    elif spec.kind is Kind.CHOICE and value not in spec.choices:
        raise SettingsError(name, f"must be one of {', '.join(spec.choices)}, got {value!r}")


def _at_least(name: str, value: object, lower: float | None, upper: float | None) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise SettingsError(name, f"must be a whole number, got {value!r}")
    if (lower is not None and value < lower) or (upper is not None and value > upper):
        allowed = f"from {lower} to {upper}" if upper is not None else f"{lower} or more"
        raise SettingsError(name, f"must be {allowed}, got {value}")
