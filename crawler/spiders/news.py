"""NewsSpider: one generic spider, driven by a `Source` declaration.

Navigation only: it reads the source's feeds, sitemaps and listing pages, follows the URLs
that match the source's article patterns, and hands each article page to the parsers.
Extraction is the parsers' job (crawler.parsers), storage the pipelines'.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy.http import Response

from crawler import bounds, discovery
from crawler.config import adhoc_source, load_config
from crawler.encoding import Decoded, decode_page
from crawler.normalize import url_date
from crawler.parsers import parse_article_with_report
from crawler.sources import Registry, Source

logger = logging.getLogger(__name__)

# A sitemap index may nest; deeper than this is a trap, not a site.
MAX_SITEMAP_DEPTH = 3
# An ad-hoc site has no declared listings: links are followed this many pages deep.
ADHOC_MAX_HOPS = 2


class NewsSpider(scrapy.Spider):
    """Crawl one source. Arguments (all strings, as `scrapy crawl -a` passes them):

    source        registry key (or `url` for an ad-hoc site)
    url           crawl a site that is not in the registry, with the generic parser
    config        path of presswatch.toml
    max_articles  stop requesting article pages after this many
    since         YYYY-MM-DD: skip articles known to be older
    max_listing_pages  cap on paginated listing pages
    """

    name = "news"
    # Bounds (crawler.bounds); from_crawler reads them from the settings.
    max_bytes = 0
    max_links = bounds.DEFAULT_MAX_LINKS_PER_DOCUMENT
    max_html_elements = bounds.DEFAULT_MAX_HTML_ELEMENTS

    def __init__(
        self,
        source: str | None = None,
        url: str | None = None,
        config: str | None = None,
        max_articles: str | int | None = None,
        since: str | None = None,
        max_listing_pages: str | int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if bool(source) == bool(url):
            raise ValueError("NewsSpider needs exactly one of source=KEY or url=URL")
        if url:
            delay = load_config(config).crawl.get("download_delay", 1.0)
            self.source: Source = adhoc_source(url, download_delay=delay)
            self.registry = Registry([self.source])
            self.adhoc = True
        else:
            self.registry = load_config(config).registry
            self.source = self.registry.get(str(source))
            self.adhoc = False
        self.max_articles = int(max_articles) if max_articles else None
        self.since: date | None = date.fromisoformat(since) if since else None
        self.max_listing_pages = int(max_listing_pages) if max_listing_pages else None
        self.allowed_domains = list(self.source.allowed_domains)
        self.requested_articles: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> NewsSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        if spider.max_listing_pages is None:
            spider.max_listing_pages = (
                crawler.settings.getint("PRESSWATCH_MAX_LISTING_PAGES") or None
            )
        # The source's politeness delay. Settings are still open here (the crawler applies and
        # freezes them after creating the spider); a replay sets 0 at a higher priority.
        crawler.settings.set("DOWNLOAD_DELAY", spider.source.download_delay, priority="spider")
        settings = crawler.settings
        spider.max_bytes = settings.getint("DOWNLOAD_MAXSIZE")
        spider.max_links = settings.getint("PRESSWATCH_MAX_LINKS_PER_DOCUMENT", spider.max_links)
        spider.max_html_elements = settings.getint(
            "PRESSWATCH_MAX_HTML_ELEMENTS", spider.max_html_elements
        )
        return spider

    # ---- start ---------------------------------------------------------------------------

    async def start(self) -> AsyncIterator[Any]:
        for request in self.start_requests():
            yield request

    def start_requests(self) -> Iterator[scrapy.Request]:
        for url in self.source.feeds:
            yield scrapy.Request(url, callback=self.parse_xml, cb_kwargs={"depth": 0})
        for url in self.source.sitemaps:
            yield scrapy.Request(url, callback=self.parse_xml, cb_kwargs={"depth": 0})
        for listing in self.source.listings:
            for url in listing.urls(self.max_listing_pages):
                yield scrapy.Request(url, callback=self.parse_listing)
        if self.adhoc:
            root = self.source.homepage
            yield scrapy.Request(root + "robots.txt", callback=self.parse_robots)
            for path in discovery.COMMON_FEED_PATHS + discovery.COMMON_SITEMAP_PATHS:
                yield scrapy.Request(
                    root.rstrip("/") + path,
                    callback=self.parse_xml,
                    cb_kwargs={"depth": 0},
                    errback=self.discovery_failed,
                    meta={"handle_httpstatus_list": [404, 410]},
                )

    def discovery_failed(self, failure: Any) -> None:
        logger.info("Discovery probe failed: %s", failure.getErrorMessage())

    # ---- discovery -----------------------------------------------------------------------

    def parse_robots(self, response: Response) -> Iterator[scrapy.Request]:
        if response.status != 200:
            return
        for url in discovery.sitemaps_in_robots(response.text):
            yield scrapy.Request(url, callback=self.parse_xml, cb_kwargs={"depth": 0})

    def parse_xml(self, response: Response, depth: int) -> Iterator[scrapy.Request]:
        if response.status != 200:
            return
        document = discovery.parse_xml(
            response.url, response.body, max_bytes=self.max_bytes, max_links=self.max_links
        )
        self.crawler.stats.inc_value(f"discovery/{document.kind}")
        for problem in document.problems:
            bounds.count(self.crawler.stats, problem)
        if document.kind == "unknown":
            # mid.ru and others answer feed URLs with an HTML challenge page at times.
            logger.warning("Expected a feed or sitemap at %s, got something else", response.url)
            self.crawler.stats.inc_value("discovery/not_xml")
            return
        if document.kind == "sitemapindex":
            if depth >= MAX_SITEMAP_DEPTH:
                logger.warning(
                    "Sitemap index nested too deep at %s (more than %d levels); not followed",
                    response.url,
                    MAX_SITEMAP_DEPTH,
                )
                bounds.count(self.crawler.stats, "sitemap_depth")
                return
            for link in document.links:
                if self._too_old(link.published):
                    continue
                yield scrapy.Request(
                    link.url, callback=self.parse_xml, cb_kwargs={"depth": depth + 1}
                )
            return
        for link in document.links:
            yield from self._article_request(link.url, link.published)

    def parse_listing(self, response: Response) -> Iterator[scrapy.Request]:
        if response.status != 200 or not hasattr(response, "text"):
            return
        self.crawler.stats.inc_value("discovery/listing")
        # Listing links are read by lxml alone (no element count limit needed), which stops
        # reading at depth 256: say so rather than miss links silently.
        problem = bounds.html_problem(response.body, max_elements=0)
        if problem:
            bounds.count(self.crawler.stats, f"listing_{problem}")
            logger.warning(
                "Listing page %s not read: %s", response.url, bounds.PAGE_PROBLEMS[problem]
            )
            return
        text = self._decode(response)
        for url in self._page_links(response.url, text):
            yield from self._article_request(url, None)
        if self.adhoc:
            for url in discovery.feed_links_in_html(response.url, text):
                yield scrapy.Request(url, callback=self.parse_xml, cb_kwargs={"depth": 0})

    def _page_links(self, url: str, text: str) -> list[str]:
        links = discovery.html_links(url, text)
        if len(links) > self.max_links:
            bounds.count(self.crawler.stats, "links_per_document")
            logger.warning(
                "Too many links: %s has %d, only the first %d are taken "
                "(PRESSWATCH_MAX_LINKS_PER_DOCUMENT)",
                url,
                len(links),
                self.max_links,
            )
            links = links[: self.max_links]
        return links

    def _too_old(self, published: date | None) -> bool:
        return bool(self.since and published and published < self.since)

    def _article_request(
        self, url: str, published: date | None, hops: int = 0
    ) -> Iterator[scrapy.Request]:
        if not self.source.is_article_url(url):
            return
        if self.adhoc and urlsplit(url).netloc != urlsplit(self.source.homepage).netloc:
            return
        if self._too_old(published or url_date(url)):
            self.crawler.stats.inc_value("discovery/skipped_older_than_since")
            return
        if url in self.requested_articles:
            return
        if self.max_articles is not None and len(self.requested_articles) >= self.max_articles:
            self.crawler.stats.inc_value("discovery/skipped_max_articles")
            return
        self.requested_articles.add(url)
        yield scrapy.Request(url, callback=self.parse_article, meta={"hops": hops})

    # ---- articles ------------------------------------------------------------------------

    def _decode(self, response: Response) -> str:
        return self._decode_page(response).text

    def _decode_page(self, response: Response) -> Decoded:
        """Decode the body; count the encoding, and say so when the declared one was wrong."""
        content_type = response.headers.get("Content-Type")
        # An ad-hoc site's language is unknown (its Source says "en" only for the parsers):
        # its text is judged by script alone.
        language = None if self.adhoc else self.source.language
        decoded = decode_page(
            response.body, content_type.decode("latin-1") if content_type else None, language
        )
        stats = self.crawler.stats
        stats.inc_value(f"decode/{decoded.encoding}")
        if decoded.repaired_from:
            stats.inc_value(f"decode/repaired/{decoded.repaired_from}->{decoded.encoding}")
            logger.info(
                "Charset repaired at %s: the %s declares %s, but %s; decoded as %s",
                response.url,
                decoded.declared_in,
                decoded.repaired_from,
                decoded.problem,
                decoded.encoding,
            )
        elif decoded.problem:
            stats.inc_value(f"decode/unrepaired/{decoded.encoding}")
            logger.warning(
                "Doubtful charset at %s: the %s declares %s, but %s; no other encoding fits, "
                "kept %s",
                response.url,
                decoded.declared_in,
                decoded.declared,
                decoded.problem,
                decoded.encoding,
            )
        if decoded.invalid:
            stats.inc_value(f"decode/invalid_bytes/{decoded.encoding}")
        return decoded

    def parse_article(self, response: Response) -> Iterator[Any]:
        if not response.body:
            self.crawler.stats.inc_value("dropped/empty_response")
            return
        problem = bounds.html_problem(response.body, self.max_html_elements)
        if problem:
            self._drop_page(response, problem, bounds.PAGE_PROBLEMS[problem])
            return
        decoded = self._decode_page(response)
        text = decoded.text
        try:
            article, report = parse_article_with_report(
                response.url, text, self.source.key, registry=self.registry
            )
        except RecursionError:
            # Nesting html_problem cannot see, such as JSON-LD `[[[[...]]]]` 2,000 deep, which
            # json.loads refuses with RecursionError; nothing else is caught here.
            self._drop_page(response, "too_deep", "nested too deeply for the parsers")
            return
        stats = self.crawler.stats
        stats.inc_value(f"parser/{self.source.key}/parsed")
        for field in report.fallbacks:
            stats.inc_value(f"parser/{self.source.key}/fallback/{field}")
        article.source = self.source.key
        article.fetched_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        article.charset = decoded.encoding
        article.charset_repaired_from = decoded.repaired_from
        yield article
        hops = response.meta.get("hops", 0)
        if self.adhoc and hops < ADHOC_MAX_HOPS:
            # An ad-hoc site has no declared listings: any page may lead to more articles.
            for url in self._page_links(response.url, text):
                yield from self._article_request(url, None, hops + 1)
        elif self.adhoc:
            # A calendar or "next page" chain that never ends stops here.
            if not self.crawler.stats.get_value("bounds/max_hops"):
                logger.info(
                    "Not following the links of %s: %d hops from the start page (the ad-hoc "
                    "crawl's limit); further pages are only counted as bounds/max_hops",
                    response.url,
                    ADHOC_MAX_HOPS,
                )
            bounds.count(self.crawler.stats, "max_hops")

    def _drop_page(self, response: Response, reason: str, why: str) -> None:
        self.crawler.stats.inc_value(f"dropped/{reason}")
        logger.warning("Dropped %s before parsing: %s", response.url, why)
