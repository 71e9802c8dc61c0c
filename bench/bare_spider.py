"""The ceiling: a bare Scrapy spider that fetches what presswatch fetches and does nothing else.

It reads the synthetic site's sitemap index and sitemaps with Scrapy's own SitemapSpider,
fetches every article URL in them and every listing page, and drops each body unread. Any
Scrapy-based crawler of the same site pays at least this. Run by bench/crawl_bench.py as

    python bench/bare_spider.py --base http://127.0.0.1:PORT --listing-pages 100 \
        --concurrency 16 --stats-out bare.json
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from typing import Any

from measure import bench_settings, parse_sets
from scrapy import Request
from scrapy.crawler import CrawlerProcess
from scrapy.http import Response
from scrapy.spiders import SitemapSpider


class BareSpider(SitemapSpider):
    name = "bare"

    def __init__(self, base: str, listing_pages: int, **kwargs: Any) -> None:
        self.sitemap_urls = [f"{base}/sitemap_index.xml"]
        super().__init__(**kwargs)
        self.listing_urls = [f"{base}/news/"] + [
            f"{base}/news/page/{n}" for n in range(2, listing_pages + 1)
        ]

    async def start(self) -> AsyncIterator[Any]:
        async for request in super().start():
            yield request
        for url in self.listing_urls:
            yield Request(url, callback=self.parse_listing)

    def parse(self, response: Response) -> None:
        # An article: counted, never read.
        self.crawler.stats.inc_value("bench/articles")

    def parse_listing(self, response: Response) -> None:
        """The same listing pages presswatch fetches; their links are in the sitemaps too."""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=True, help="http://127.0.0.1:PORT")
    parser.add_argument("--listing-pages", type=int, required=True)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--stats-out", required=True, help="where BenchTiming writes JSON")
    parser.add_argument("--set", action="append", default=[], help="extra Scrapy KEY=VALUE")
    args = parser.parse_args(argv)
    settings = bench_settings(args.concurrency, args.stats_out, extra=parse_sets(args.set))
    process = CrawlerProcess(settings)
    process.crawl(BareSpider, base=args.base, listing_pages=args.listing_pages)
    process.start()


if __name__ == "__main__":
    main()
