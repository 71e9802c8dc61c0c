"""Live crawl progress on a terminal: one line per source, redrawn every second.

Without a terminal (cron, CI) it prints nothing; the CLI prints one summary line per source
from `crawl_runs` when the crawl ends.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, ClassVar, Self

from scrapy import signals
from scrapy.exceptions import NotConfigured
from twisted.internet import task

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler


class CrawlProgress:
    """Redraws `source: pages, new/updated/unchanged, dropped, errors` while crawls run."""

    active: ClassVar[list[CrawlProgress]] = []
    _loop: ClassVar[task.LoopingCall | None] = None
    _lines_drawn: ClassVar[int] = 0

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.key = "?"
        self.done = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        if not crawler.settings.getbool("PRESSWATCH_PROGRESS") or not sys.stderr.isatty():
            raise NotConfigured("progress is shown on a terminal only")
        ext = cls(crawler)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def spider_opened(self, spider: Spider) -> None:
        self.key = getattr(getattr(spider, "source", None), "key", spider.name)
        CrawlProgress.active.append(self)
        if CrawlProgress._loop is None:
            CrawlProgress._loop = task.LoopingCall(CrawlProgress.draw)
            CrawlProgress._loop.start(1.0, now=False)

    def spider_closed(self, spider: Spider) -> None:
        CrawlProgress.draw()
        if all(ext is self or ext.done for ext in CrawlProgress.active):
            if CrawlProgress._loop is not None and CrawlProgress._loop.running:
                CrawlProgress._loop.stop()
            CrawlProgress._loop = None
        self.done = True

    def line(self) -> str:
        stats = self.crawler.stats.get_stats()
        errors = stats.get("downloader/exception_count", 0) + sum(
            n
            for k, n in stats.items()
            if k.startswith("downloader/response_status_count/") and not k.endswith("/200")
        )
        dropped = sum(n for k, n in stats.items() if k.startswith("dropped/"))
        state = "done" if self.done else "…"
        return (
            f"{self.key:<16} pages {stats.get('response_received_count', 0):>5}  "
            f"new {stats.get('articles/new', 0):>4}  "
            f"updated {stats.get('articles/updated', 0):>3}  "
            f"unchanged {stats.get('articles/unchanged', 0):>4}  "
            f"dropped {dropped:>3}  errors {errors:>3} {state}"
        )

    @classmethod
    def draw(cls) -> None:
        out = sys.stderr
        if cls._lines_drawn:
            out.write(f"\x1b[{cls._lines_drawn}F")
        for ext in cls.active:
            out.write("\x1b[2K" + ext.line() + "\n")
        cls._lines_drawn = len(cls.active)
        out.flush()
