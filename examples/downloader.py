"""A ``ThreadPoolExecutor`` downloader: fetch a site's pages on a pool of threads.

Point it at the embedded test site (``threadscope testsite --port 0`` prints its URL); it reads
the links of each page it fetches and downloads up to ``--pages`` pages with ``--workers``
threads named ``download_N``. Ends when done or after ``--duration`` seconds.
"""

from __future__ import annotations

import argparse
import re
import sys
import threading
import time
import urllib.request
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from urllib.parse import urljoin

LINK = re.compile(rb'href="([^"#]+)"')


def announce() -> None:
    me = threading.current_thread()
    # One write per line: print() writes the text and the newline separately.
    sys.stdout.write(f"thread {me.name} native_id {threading.get_native_id()}\n")
    sys.stdout.flush()


def fetch(url: str) -> list[str]:
    with urllib.request.urlopen(url, timeout=10) as response:
        body = response.read()
    return [urljoin(url, href.decode()) for href in LINK.findall(body)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--duration", type=float, default=60.0)
    args = parser.parse_args()
    announce()
    until = time.monotonic() + args.duration
    seen = {args.url}
    done = 0
    with ThreadPoolExecutor(args.workers, "download", initializer=announce) as pool:
        pending: set[Future[list[str]]] = {pool.submit(fetch, args.url)}
        while pending and time.monotonic() < until:
            finished, pending = wait(pending, timeout=1.0, return_when=FIRST_COMPLETED)
            for future in finished:
                done += 1
                for link in future.result():
                    if link.startswith(args.url) and link not in seen and len(seen) < args.pages:
                        seen.add(link)
                        pending.add(pool.submit(fetch, link))
        for future in pending:
            future.cancel()
    print(f"downloaded {done} pages", flush=True)


if __name__ == "__main__":
    main()
