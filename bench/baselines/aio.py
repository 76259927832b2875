"""aiohttp + asyncio: one ClientSession, ``concurrency`` worker tasks, selectolax for links.

It uses the same parser as the engine (selectolax/lexbor) so the comparison is about the
fetch path and the concurrency model, not the HTML parser.
"""

from __future__ import annotations

import asyncio

import aiohttp

from bench.baselines.common import Scope, fast_hrefs


async def _crawl(start_url: str, concurrency: int, max_pages: int) -> int:
    scope = Scope(start_url)
    todo: asyncio.Queue[str] = asyncio.Queue()
    todo.put_nowait(start_url)
    scheduled = 1
    pages = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=30, sock_connect=10, sock_read=10)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def worker() -> None:
            nonlocal scheduled, pages
            while True:
                url = await todo.get()
                try:
                    async with session.get(url) as response:
                        ok = response.status == 200 and "html" in response.content_type
                        body = await response.read()
                    if ok:
                        pages += 1
                        for link in scope.new_links(url, fast_hrefs(body)):
                            if scheduled >= max_pages:
                                break
                            scheduled += 1
                            todo.put_nowait(link)
                except (aiohttp.ClientError, TimeoutError):
                    pass  # a failed page is not counted; the crawl goes on
                finally:
                    todo.task_done()

        workers = [asyncio.create_task(worker()) for _ in range(concurrency)]
        await todo.join()
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
    return pages


def crawl(start_url: str, concurrency: int, max_pages: int) -> int:
    return asyncio.run(_crawl(start_url, concurrency, max_pages))
