"""Reference crawlers: each exposes ``crawl(start_url, concurrency, max_pages) -> pages``.

All of them crawl from ``start_url``, stay on its host, dedupe on the URL with the fragment
dropped, and count the HTML pages fetched with status 200.
"""
