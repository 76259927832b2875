"""The embedded test site: a deterministic synthetic website served from a child process.

``TestSite`` (process.py) starts and stops it from Python; ``python -m core.testsite`` (cli.py)
runs it from the shell; site.py is the site itself, server.py/protocol.py serve it, traps.py
holds the misbehaving routes and export.py writes it out as static files for nginx.
"""

from typing import TYPE_CHECKING

from core.testsite.site import TRAPS, SiteConfig

if TYPE_CHECKING:  # imported lazily at run time, by __getattr__ below
    from core.testsite.process import TestSite, TestSiteError

__all__ = ["TRAPS", "SiteConfig", "TestSite", "TestSiteError"]


def __getattr__(name: str) -> object:
    # Lazy, so the child process (python -m core.testsite) skips the parent-side imports.
    if name in ("TestSite", "TestSiteError"):
        from core.testsite import process

        return getattr(process, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
