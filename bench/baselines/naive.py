"""The crawler people write first: ``requests.get`` per URL on a ThreadPoolExecutor, html.parser.

No Session, so every request pays for a new connection pool and a TCP handshake.
"""

from __future__ import annotations

from html.parser import HTMLParser

import requests

from bench.baselines.common import threaded_crawl


class _Hrefs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            for name, value in attrs:
                if name == "href" and value:
                    self.hrefs.append(value)


def _fetch(url: str) -> tuple[bool, list[str]]:
    response = requests.get(url, timeout=10)
    if response.status_code != 200 or "html" not in response.headers.get("content-type", ""):
        return False, []
    parser = _Hrefs()
    parser.feed(response.text)
    return True, parser.hrefs


def crawl(start_url: str, concurrency: int, max_pages: int) -> int:
    return threaded_crawl(start_url, concurrency, max_pages, _fetch)
