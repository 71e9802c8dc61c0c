"""What both crawls of the benchmark share: their Scrapy settings and the timing extension.

The bare spider and the presswatch crawl run with the same `bench_settings`, so the only
difference between them is what each does with a response. `BenchTiming` is added to both:
it writes the crawl's own timing and counts to a JSON file when the spider closes (after the
item pipelines have closed, so presswatch's last batch write is inside the measured time).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from scrapy import signals
from scrapy.exceptions import NotConfigured

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler
    from scrapy.http import Response

TIMING_EXTENSION = "measure.BenchTiming"


def parse_sets(pairs: list[str]) -> dict[str, object]:
    """`--set KEY=VALUE` arguments as settings; VALUE is read as JSON when it is JSON."""
    settings: dict[str, object] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--set {pair!r}: expected KEY=VALUE, e.g. CONCURRENT_ITEMS=1")
        try:
            settings[key] = json.loads(value)
        except json.JSONDecodeError:
            settings[key] = value
    return settings


def bench_settings(
    concurrency: int,
    stats_file: str,
    extensions: dict[str, Any] | None = None,
    extra: dict[str, object] | None = None,
) -> dict[str, object]:
    """Scrapy settings set on both crawls (at cmdline priority, over any project setting).

    One host, so the per-domain limit equals the global one. No politeness delay, no
    AutoThrottle: the benchmark measures how fast a crawler can go, not how fast it should.
    robots.txt is obeyed by both (one extra request each). `extra` (from --set) comes last.
    """
    return {
        "CONCURRENT_REQUESTS": concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency,
        "DOWNLOAD_DELAY": 0,
        "AUTOTHROTTLE_ENABLED": False,
        "ROBOTSTXT_OBEY": True,
        "LOG_LEVEL": "WARNING",
        "EXTENSIONS": {
            **(extensions or {}),
            "scrapy.extensions.telnet.TelnetConsole": None,
            TIMING_EXTENSION: 900,
        },
        "BENCH_STATS_FILE": stats_file,
        **(extra or {}),
    }


class BenchTiming:
    """Times the crawl from spider_opened to spider_closed and writes the counts as JSON."""

    def __init__(self, crawler: Crawler, path: Path) -> None:
        self.crawler = crawler
        self.path = path
        self.opened = 0.0
        self.first_response: float | None = None
        self.last_response = 0.0

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        path = crawler.settings.get("BENCH_STATS_FILE")
        if not path:
            raise NotConfigured("BENCH_STATS_FILE is not set")
        ext = cls(crawler, Path(path))
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.response_received, signal=signals.response_received)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def spider_opened(self, spider: Spider) -> None:
        self.opened = time.perf_counter()

    def response_received(self, response: Response, request: object, spider: Spider) -> None:
        now = time.perf_counter()
        if self.first_response is None:
            self.first_response = now
        self.last_response = now

    def spider_closed(self, spider: Spider, reason: str) -> None:
        closed = time.perf_counter()
        stats = self.crawler.stats.get_stats()
        statuses = {
            key.rsplit("/", 1)[1]: value
            for key, value in stats.items()
            if key.startswith("downloader/response_status_count/")
        }
        result = {
            "reason": reason,
            "crawl_s": round(closed - self.opened, 3),
            "fetch_s": round(self.last_response - (self.first_response or self.opened), 3),
            "responses": stats.get("response_received_count", 0),
            "statuses": statuses,
            "items": stats.get("item_scraped_count", 0),
            "dropped": stats.get("item_dropped_count", 0),
            "articles_seen": stats.get("bench/articles", 0),
            "errors": stats.get("log_count/ERROR", 0),
        }
        self.path.write_text(json.dumps(result, indent=2), encoding="utf-8")
