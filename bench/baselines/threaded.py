"""A typical "good" threaded crawler: one ``requests.Session`` per thread, selectolax for links.

Not in the issue's required set; it shows how much of the gap to the naive baseline a careful
author closes without an engine, and so what the engine adds on top.
"""

from __future__ import annotations

import threading

import requests
from requests.adapters import HTTPAdapter

from bench.baselines.common import fast_hrefs, threaded_crawl


def crawl(start_url: str, concurrency: int, max_pages: int) -> int:
    local = threading.local()

    def fetch(url: str) -> tuple[bool, list[str]]:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
            session.mount("http://", HTTPAdapter(pool_connections=1, pool_maxsize=1))
        response = session.get(url, timeout=10)
        if response.status_code != 200 or "html" not in response.headers.get("content-type", ""):
            return False, []
        return True, fast_hrefs(response.content)

    return threaded_crawl(start_url, concurrency, max_pages, fetch)
