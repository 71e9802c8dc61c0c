"""Item pipelines: validate -> normalise -> store. Each does one job; a drop says why.

Every drop is counted as `dropped/<reason>` in the crawl stats, and the store pipeline writes
those counts, with the rest of the run's bookkeeping, to `crawl_runs` when the spider closes.
"""

from __future__ import annotations

import logging
import os
import time
from datetime import date
from typing import TYPE_CHECKING, Any, Self

from scrapy import signals
from scrapy.exceptions import DropItem, NotConfigured

from crawler import politeness
from crawler.items import ACCESS, KINDS, Article
from crawler.normalize import clean_text
from db import store
from db.dedup import content_hash

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)

# Fields whose fill rate `crawl_runs` records: a redesign shows up as a falling rate.
FILL_FIELDS = ("title", "published_at", "body", "authors")


def _drop(stats: StatsCollector | None, reason: str, url: str) -> DropItem:
    if stats is not None:
        stats.inc_value(f"dropped/{reason}")
    return DropItem(f"{reason}: {url}")


class ValidatePipeline:
    """Drops what must never be stored: bot walls, pages with no title or no body, old news."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def process_item(self, item: Article) -> Article:
        stats = self.crawler.stats
        if item.access == "blocked":
            raise _drop(stats, "blocked", item.url)
        if not item.title.strip():
            raise _drop(stats, "no_title", item.url)
        if not item.body.strip() and not item.turns:
            raise _drop(stats, "no_body", item.url)
        if item.kind not in KINDS or item.access not in ACCESS:
            raise _drop(stats, "invalid_kind_or_access", item.url)
        since = getattr(self.crawler.spider, "since", None)
        if since and item.published_at and date.fromisoformat(item.published_at[:10]) < since:
            raise _drop(stats, "older_than_since", item.url)
        return item


class NormalizePipeline:
    """Fills what is derived from the record: canonical URL, counts and hashes."""

    def process_item(self, item: Article) -> Article:
        item.title = clean_text(item.title)
        item.canonical_url = item.canonical_url or item.url
        item.word_count = item.word_count or store.count_words(item.body)
        item.content_hash = content_hash(item.title, item.body)
        return item


class StorePipeline:
    """Writes articles to SQLite in batches and records the run in `crawl_runs`."""

    def __init__(self, crawler: Crawler, db_path: str, mode: str, batch_size: int) -> None:
        self.crawler = crawler
        self.db_path = db_path
        self.mode = mode
        self.batch_size = batch_size
        self.buffer: list[dict[str, Any]] = []
        self.last_flush = time.monotonic()
        self.filled = dict.fromkeys(FILL_FIELDS, 0)
        self.seen = 0
        self.db: Any = None
        self.run_id: int | None = None
        self.store_error: str | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        db_path = crawler.settings.get("PRESSWATCH_DB")
        if not db_path:
            raise NotConfigured("PRESSWATCH_DB is not set: nothing to store into")
        mode = "replay" if crawler.settings.getlist("PRESSWATCH_REPLAY") else "live"
        pipeline = cls(crawler, db_path, mode, crawler.settings.getint("PRESSWATCH_BATCH_SIZE", 50))
        # The run is recorded on spider_closed, the one place that is told why the crawl
        # ended: pipelines close before it, and before Scrapy puts finish_reason in the stats.
        crawler.signals.connect(pipeline.spider_closed, signal=signals.spider_closed)
        return pipeline

    @property
    def source_key(self) -> str:
        return self.crawler.spider.source.key  # type: ignore[union-attr]

    def open_spider(self) -> None:
        self.db = store.open_db(self.db_path)
        # A crawl of this source killed outright (kill -9, the OOM killer, a reboot) left its
        # run "running"; the scheduler settles such runs, but a crawl started by hand or by
        # the user's own cron did not, so `presswatch runs` showed them running for ever.
        # Only this source's: another source's run may be one the scheduler is settling.
        store.mark_interrupted_runs(self.db, self.source_key)
        self.run_id = store.start_run(self.db, self.source_key, self.mode, pid=os.getpid())
        self.crawler.stats.set_value("presswatch/run_id", self.run_id)

    def process_item(self, item: Article) -> Article:
        self.seen += 1
        for name in FILL_FIELDS:
            if getattr(item, name):
                self.filled[name] += 1
        self.buffer.append(item.to_dict())
        # Batches make writes ~40x cheaper; the time bound keeps a slow crawl's rows visible.
        if len(self.buffer) >= self.batch_size or time.monotonic() - self.last_flush > 5:
            self.flush()
        return item

    def flush(self) -> None:
        if not self.buffer:
            return
        results = store.upsert_articles(self.db, self.buffer, run_id=self.run_id)
        # count_results counts an article fetched twice in one batch once.
        for status, count in store.count_results(results).items():
            self.crawler.stats.inc_value(f"articles/{status}", count)
        self.buffer = []
        self.last_flush = time.monotonic()

    def close_spider(self) -> None:
        try:
            self.flush()
        except store.StoreError as exc:
            # Keep going to record the run: the next crawl refetches what was not written.
            self.store_error = f"store failed: {exc}"
            logger.error("Could not write articles to %s: %s", self.db_path, exc)

    def spider_closed(self, reason: str) -> None:
        """Record the run, with the reason the crawl ended (finished, shutdown, a limit)."""
        if self.run_id is None:
            return  # the spider never opened: there is no run to finish
        error = self.store_error
        values = self.crawler.stats.get_stats()
        new = values.get("articles/new", 0)
        updated = values.get("articles/updated", 0)
        unchanged = values.get("articles/unchanged", 0)
        dropped = {
            key.split("/", 1)[1]: n for key, n in values.items() if key.startswith("dropped/")
        }
        http_errors = {
            key.rsplit("/", 1)[1]: n
            for key, n in values.items()
            if key.startswith("downloader/response_status_count/") and not key.endswith("/200")
        }
        pages = values.get("response_received_count", 0)
        # A host given up for rate limiting or an unreachable robots.txt: say so in `error`.
        error = "; ".join(([error] if error else []) + politeness.run_problems(values)) or None
        status = _run_status(reason, pages, self.seen, new + updated + unchanged, error)
        if politeness.rate_limited(values):
            status = "rate_limited"
        store.finish_run(
            self.db,
            self.run_id,
            status=status,
            pages_fetched=pages,
            articles_new=new,
            articles_updated=updated,
            articles_unchanged=unchanged,
            articles_dropped=sum(dropped.values()),
            drop_reasons=dropped,
            http_errors=http_errors,
            fill_rates={
                name: round(count / self.seen, 3) if self.seen else None
                for name, count in self.filled.items()
            },
            stats=_stats_for_db(values),
            error=error or (None if reason == "finished" else f"finish reason: {reason}"),
        )


def _run_status(reason: str, pages: int, parsed: int, stored: int, error: str | None) -> str:
    """ok, partial (something stored but trouble), or failed (nothing fetched or stored)."""
    if error or reason not in ("finished", "closespider_itemcount"):
        return "partial" if stored else "failed"
    if pages == 0:
        return "failed"
    return "ok"


def _stats_for_db(values: dict[str, Any]) -> dict[str, Any]:
    """The Scrapy stats worth keeping, as JSON-friendly values."""
    keep = (
        "downloader/",
        "parser/",
        "discovery/",
        "dropped/",
        "articles/",
        "decode/",
        "replay/",
        "robotstxt/",
        "netpolicy/",
        "credentials/",
        "ratelimit/",
        "bounds/",
    )
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key.startswith(keep) or key in ("item_scraped_count", "elapsed_time_seconds"):
            out[key] = value.isoformat() if hasattr(value, "isoformat") else value
    return out
