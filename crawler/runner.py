"""Running crawls: Scrapy settings for one invocation, and the CrawlerProcess that runs them.

Twisted's reactor cannot restart, so a process runs one `run_crawls` call; the scheduler runs
each crawl in its own subprocess (DESIGN.md, "Decisions already taken").
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings

from crawler import bounds
from crawler.config import load_config
from crawler.spiders.news import NewsSpider
from db.redact import protect_logging

logger = logging.getLogger(__name__)

REPLAY_HANDLER = "crawler.warc.ReplayDownloadHandler"


@dataclass
class CrawlOptions:
    db_path: str
    config_path: str | None = None
    replay: list[str] = field(default_factory=list)
    archive: str | None = None
    max_articles: int | None = None
    since: str | None = None
    max_listing_pages: int | None = None
    progress: bool = False
    log_level: str = "WARNING"
    # Extra Scrapy settings (tests and benchmarks tune concurrency through this).
    overrides: dict[str, object] = field(default_factory=dict)


def build_settings(options: CrawlOptions) -> Settings:
    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    settings.set("PRESSWATCH_DB", options.db_path, priority="cmdline")
    settings.set("PRESSWATCH_PROGRESS", options.progress, priority="cmdline")
    settings.set("LOG_LEVEL", options.log_level, priority="cmdline")
    crawl = load_config(options.config_path).crawl
    allowed = crawl.get("allow_addresses", [])
    settings.set("PRESSWATCH_ALLOW_ADDRESSES", list(allowed), priority="cmdline")
    if "max_retry_after" in crawl:
        settings.set("PRESSWATCH_MAX_RETRY_AFTER", crawl["max_retry_after"], priority="cmdline")
    for key, name in bounds.CONFIG_SETTINGS.items():
        if key in crawl:
            settings.set(name, crawl[key], priority="cmdline")
    if options.replay:
        missing = [p for p in options.replay if not Path(p).is_file()]
        if missing:
            raise FileNotFoundError(f"Replay archive not found: {', '.join(missing)}")
        settings.set("PRESSWATCH_REPLAY", list(options.replay), priority="cmdline")
        settings.set(
            "DOWNLOAD_HANDLERS", {"http": REPLAY_HANDLER, "https": REPLAY_HANDLER}, "cmdline"
        )
        # Nothing is fetched from a site, so there is nobody to be polite to.
        settings.set("AUTOTHROTTLE_ENABLED", False, priority="cmdline")
        settings.set("DOWNLOAD_DELAY", 0, priority="cmdline")
        settings.set("CONCURRENT_REQUESTS_PER_DOMAIN", 16, priority="cmdline")
    if options.archive:
        extensions = dict(settings.getdict("EXTENSIONS"))
        extensions["crawler.warc.ArchiveWriter"] = 400
        settings.set("EXTENSIONS", extensions, priority="cmdline")
        settings.set("PRESSWATCH_ARCHIVE", options.archive, priority="cmdline")
    for key, value in options.overrides.items():
        settings.set(key, value, priority="cmdline")
    return settings


def run_crawls(options: CrawlOptions, sources: list[str], urls: list[str] | None = None) -> None:
    """Crawl every source (registry keys) and ad-hoc site (URLs) concurrently, then return."""
    process = CrawlerProcess(build_settings(options))
    common = {
        "config": options.config_path,
        "max_articles": options.max_articles,
        "since": options.since,
        "max_listing_pages": options.max_listing_pages,
    }
    for key in sources:
        process.crawl(NewsSpider, source=key, **common)
    for url in urls or []:
        process.crawl(NewsSpider, url=url, **common)
    process.start()
    # What this process logs next (the crawl command's alerts) goes through Scrapy's last
    # root handler; the add-on filtered it when a spider opened, unless none did.
    protect_logging()
