"""Scrapy's own crawler: CrawlerProcess, CONCURRENT_REQUESTS=concurrency, its dupefilter.

robots.txt, cookies, telnet and retries are off so it does what the other baselines do.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import scrapy
from scrapy.crawler import CrawlerProcess


class _SiteSpider(scrapy.Spider):
    name = "bench"
    pages = 0

    async def start(self):
        # Scrapy exempts start URLs from its dupefilter; without this, "/" is fetched twice.
        for url in self.start_urls:
            yield scrapy.Request(url, callback=self.parse)

    def parse(self, response):
        if response.status != 200 or not isinstance(response, scrapy.http.HtmlResponse):
            return
        type(self).pages += 1
        for href in response.css("a::attr(href)").getall():
            yield response.follow(href, callback=self.parse)


def crawl(start_url: str, concurrency: int, max_pages: int) -> int:
    host = urlsplit(start_url).hostname
    process = CrawlerProcess(
        settings={
            "CONCURRENT_REQUESTS": concurrency,
            "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency,
            "ROBOTSTXT_OBEY": False,
            "COOKIES_ENABLED": False,
            "RETRY_ENABLED": False,
            "TELNETCONSOLE_ENABLED": False,
            "LOG_LEVEL": "WARNING",
            "CLOSESPIDER_PAGECOUNT": max_pages,
        },
    )
    _SiteSpider.pages = 0
    process.crawl(_SiteSpider, start_urls=[start_url], allowed_domains=[host])
    process.start()
    return _SiteSpider.pages
