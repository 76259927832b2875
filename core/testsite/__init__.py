"""The embedded test site: a deterministic synthetic website served from a child process.

``TestSite`` (process.py) starts and stops it from Python; ``python -m core.testsite`` (cli.py)
runs it from the shell; site.py is the site itself, server.py/protocol.py serve it, traps.py
holds the misbehaving routes and export.py writes it out as static files for nginx.
"""

from core.testsite.process import TestSite, TestSiteError
from core.testsite.site import TRAPS, SiteConfig

__all__ = ["TRAPS", "SiteConfig", "TestSite", "TestSiteError"]
