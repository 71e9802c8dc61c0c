"""Bounds: how much a site can make one crawl fetch, wait for, inflate, follow and parse.

A watched site may be slow, broken or hostile. Each limit below stops cleanly: a warning that
names the URL and the limit, a stat `bounds/<what>` (kept in `crawl_runs.stats`), and the rest
of the crawl goes on. The limits, their settings and their presswatch.toml keys ([crawl]):

1. Response size, on the wire and decompressed (gzip, deflate, br, zstd): DOWNLOAD_MAXSIZE,
   `max_response_bytes`. Scrapy enforces both (its download handler and its
   HttpCompressionMiddleware); `DownloadBoundsMiddleware` and `BoundedCompressionMiddleware`
   name and count them, and do not retry them. Gzipped sitemaps (.xml.gz bodies) are inflated
   by `crawler.discovery` under the same limit.
2. Redirects: REDIRECT_MAX_TIMES, `max_redirects`; a redirect (or meta refresh) back to a URL
   of its own chain is a loop and stops at once (`BoundedRedirectMiddleware`,
   `BoundedMetaRefreshMiddleware`).
3. Time: DOWNLOAD_TIMEOUT, `download_timeout`, is a deadline for the whole response, so a
   server that sends a byte a second is cut off at it (counted by `DownloadBoundsMiddleware`);
   PRESSWATCH_MAX_CRAWL_SECONDS, `max_crawl_seconds`, ends the whole crawl (`CrawlTimeLimit`):
   what was parsed is stored and the run is recorded as partial.
4. Traps (a listing or calendar that never ends, ever-growing paths): the requests one crawl
   may issue, PRESSWATCH_MAX_REQUESTS, `max_requests`; URL length and pathological paths
   (`RequestBoundsMiddleware`); links taken from one feed, sitemap or page,
   PRESSWATCH_MAX_LINKS_PER_DOCUMENT (the spider); sitemap index depth and ad-hoc link hops
   (crawler.spiders.news).
5. Hostile HTML: binary bodies, nesting deeper than lxml reads, element bombs
   (`html_problem`, which the spider calls before any parser); nesting the parsers' own
   recursion cannot take (e.g. JSON-LD) is caught where the spider calls them.
6. XML: entities are never expanded and nothing is fetched for a DTD (crawler.discovery);
   declarations and libxml2's limits (entity amplification, depth) are named and counted.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import urlsplit

from lxml import etree
from scrapy import Request, signals
from scrapy.downloadermiddlewares.httpcompression import HttpCompressionMiddleware
from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware, RedirectMiddleware
from scrapy.exceptions import (
    DownloadCancelledError,
    DownloadTimeoutError,
    IgnoreRequest,
    NotConfigured,
    StopDownload,
)
from scrapy.utils.defer import deferred_from_coro
from twisted.internet import defer

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.statscollectors import StatsCollector
    from twisted.internet.base import DelayedCall

logger = logging.getLogger(__name__)

# presswatch.toml [crawl] key -> the Scrapy setting it sets (crawler.runner applies them).
CONFIG_SETTINGS = {
    "max_response_bytes": "DOWNLOAD_MAXSIZE",
    "download_timeout": "DOWNLOAD_TIMEOUT",
    "max_redirects": "REDIRECT_MAX_TIMES",
    "max_crawl_seconds": "PRESSWATCH_MAX_CRAWL_SECONDS",
    "max_requests": "PRESSWATCH_MAX_REQUESTS",
}

# Sitemaps hold at most 50,000 URLs (sitemaps.org); no feed or listing page needs more.
DEFAULT_MAX_LINKS_PER_DOCUMENT = 50_000
# Real news pages have a few thousand elements; parsing costs grow with the count (an 8 MiB
# page of nested <b> took the parsers 86 s and 3 GB before this bound).
DEFAULT_MAX_HTML_ELEMENTS = 50_000
# Longer URLs are session ids, base64 blobs or traps (browsers cope with about 2,000).
DEFAULT_MAX_URL_LENGTH = 2_000
# Paths deeper than this are generated, not written (Heritrix uses the same bound).
MAX_PATH_SEGMENTS = 20


def count(stats: StatsCollector | None, what: str, n: int = 1) -> None:
    if stats is not None:
        stats.inc_value(f"bounds/{what}", n)


# --- 1. and 3.: size and time of one response --------------------------------------------------


class DownloadBoundsMiddleware:
    """Names and counts the downloads Scrapy cut off (too large, too slow, or under way when
    the crawl's time ran out) and ends them as IgnoreRequest: a warning, not a traceback.

    Placed below the retry middleware, so it sees an exception only once retrying is over: a
    timeout after the retries (counted once per URL), a size cut-off (never retried).
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.maxsize = crawler.settings.getint("DOWNLOAD_MAXSIZE")
        self.timeout = crawler.settings.getfloat("DOWNLOAD_TIMEOUT")

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def process_exception(self, request: Request, exception: Exception) -> None:
        if isinstance(exception, DownloadTimeoutError):
            timeout = request.meta.get("download_timeout", self.timeout)
            count(self.crawler.stats, "timeout")
            logger.warning(
                "Timed out: %s sent no complete response within %g s (download_timeout), "
                "%d attempt(s)",
                request.url,
                timeout,
                request.meta.get("retry_times", 0) + 1,
            )
            raise IgnoreRequest(f"timed out: {request.url}") from exception
        if isinstance(exception, _TimeUp):
            count(self.crawler.stats, "stopped_at_crawl_time_limit")
            raise IgnoreRequest(f"crawl time limit: {request.url}") from exception
        # The handler cancels with DownloadCancelledError when Content-Length is over the
        # limit, and cancels its own deferred (CancelledError) when a body without one grows
        # over it; both only for that reason.
        if isinstance(exception, DownloadCancelledError | defer.CancelledError):
            maxsize = request.meta.get("download_maxsize", self.maxsize)
            count(self.crawler.stats, "too_large")
            logger.warning(
                "Too large: %s is over %d bytes (max_response_bytes); not fetched again",
                request.url,
                maxsize,
            )
            raise IgnoreRequest(f"response over {maxsize} bytes: {request.url}") from exception


class BoundedCompressionMiddleware(HttpCompressionMiddleware):
    """Scrapy's decompression (gzip, deflate, br, zstd, bounded by DOWNLOAD_MAXSIZE), counted.

    Also drops, with a reason, a body whose declared encoding does not decode (a gzip header on
    random bytes), which stock Scrapy lets escape as an unexplained download error.
    """

    def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Request | Response:
        try:
            return super().process_response(request, response)
        except IgnoreRequest:
            # The only IgnoreRequest the stock middleware raises: the size limit, hit while
            # decompressing (it logged the sizes already).
            count(self.stats, "decompressed_too_large")
            logger.warning(
                "Too large decompressed: %s (%s, %d bytes on the wire) inflates past %d bytes "
                "(max_response_bytes); a compression bomb or an oversized page",
                response.url,
                _encodings(response),
                len(response.body),
                request.meta.get("download_maxsize", self._max_size),
            )
            raise
        except (OSError, EOFError, ValueError) as exc:
            # zlib.error, brotli.error and ZstdError are these (or subclasses of them).
            count(self.stats, "bad_encoding")
            logger.warning(
                "Undecodable body: %s declares Content-Encoding %s but does not decode (%s)",
                response.url,
                _encodings(response),
                exc,
            )
            raise IgnoreRequest(f"undecodable {_encodings(response)} body: {response.url}") from exc


def _encodings(response: Response) -> str:
    return b", ".join(response.headers.getlist("Content-Encoding")).decode("latin-1")


# --- 2. redirects ------------------------------------------------------------------------------


class _RedirectBounds:
    """The check both redirect middlewares share, at Scrapy's one decision point (`_redirect`).

    Stock Scrapy discards the redirect past REDIRECT_MAX_TIMES with a DEBUG line and no stat,
    and a loop only ends when the duplicate filter silently drops the repeated URL.
    """

    crawler: Crawler
    max_redirect_times: int

    def _redirect(self, redirected: Request, request: Request, reason: Any) -> Request:
        chain = [*request.meta.get("redirect_urls", []), request.url]
        stats = self.crawler.stats
        if redirected.url in chain:
            count(stats, "redirect_loop")
            logger.warning(
                "Redirect loop: %s (%s) leads back to %s after %d hop(s); not followed",
                request.url,
                reason,
                redirected.url,
                len(chain),
            )
            raise IgnoreRequest(f"redirect loop: {redirected.url}")
        if request.meta.get("redirect_times", 0) >= self.max_redirect_times:
            count(stats, "max_redirects")
            logger.warning(
                "Too many redirects: %s (%s) would be hop %d, over %d (max_redirects); chain "
                "started at %s",
                redirected.url,
                reason,
                len(chain),
                self.max_redirect_times,
                chain[0],
            )
            raise IgnoreRequest(f"more than {self.max_redirect_times} redirects: {chain[0]}")
        return super()._redirect(redirected, request, reason)  # type: ignore[misc]


class BoundedRedirectMiddleware(_RedirectBounds, RedirectMiddleware):
    """Scrapy's HTTP redirects, with loops and overlong chains stopped and counted."""


class BoundedMetaRefreshMiddleware(_RedirectBounds, MetaRefreshMiddleware):
    """Scrapy's meta refresh redirects, with loops and overlong chains stopped and counted."""


# --- 3. time of the whole crawl ----------------------------------------------------------------


class _TimeUp(StopDownload):
    """A download stopped because the crawl's time ran out."""

    def __init__(self) -> None:
        super().__init__(fail=True)


class CrawlTimeLimit:
    """Closes the spider after PRESSWATCH_MAX_CRAWL_SECONDS, as `crawl_time_limit`.

    Closing stops new requests, but Scrapy still completes every request already handed to
    the downloader (up to CONCURRENT_REQUESTS, each waiting its download delay and taking up
    to DOWNLOAD_TIMEOUT). So at the limit the requests waiting in the downloader are dropped,
    and every download under way is stopped at its next headers or bytes; only a server that
    sends nothing at all keeps one until DOWNLOAD_TIMEOUT. The pipelines then store what was
    parsed and record the run as partial. Off when the setting is 0.
    """

    def __init__(self, crawler: Crawler, seconds: float) -> None:
        self.crawler = crawler
        self.seconds = seconds
        self.call: DelayedCall | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        seconds = crawler.settings.getfloat("PRESSWATCH_MAX_CRAWL_SECONDS")
        if seconds <= 0:
            raise NotConfigured("PRESSWATCH_MAX_CRAWL_SECONDS is 0: no time limit")
        ext = cls(crawler, seconds)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def spider_opened(self, spider: Spider) -> None:
        from twisted.internet import reactor

        self.call = reactor.callLater(self.seconds, self.expire, spider)  # type: ignore[attr-defined]

    def expire(self, spider: Spider) -> None:
        count(self.crawler.stats, "crawl_time_limit")
        key = getattr(getattr(spider, "source", None), "key", spider.name)
        logger.warning(
            "Crawl time limit: stopping the crawl of %s after %g s (max_crawl_seconds); what "
            "was fetched is stored, the run is recorded as partial",
            key,
            self.seconds,
        )
        self.crawler.signals.connect(self.stop_download, signal=signals.headers_received)
        self.crawler.signals.connect(self.stop_download, signal=signals.bytes_received)
        assert self.crawler.engine is not None
        for slot in self.crawler.engine.downloader.slots.values():
            while slot.queue:
                _request, waiting = slot.queue.popleft()
                waiting.errback(_TimeUp())
        deferred_from_coro(self.crawler.engine.close_spider_async(reason="crawl_time_limit"))

    def stop_download(self, **kwargs: Any) -> None:
        raise _TimeUp

    def spider_closed(self, spider: Spider) -> None:
        if self.call is not None and self.call.active():
            self.call.cancel()


# --- 4. traps -----------------------------------------------------------------------------------

# A run of path segments repeated three times in a row: /a/a/a/, /x/y/x/y/x/y/ (relative links
# that resolve against themselves, or a site echoing its path).
_REPEATED_SEGMENTS = re.compile(r"/((?:[^/]+/)+?)\1\1")


def url_trap(url: str, max_length: int = DEFAULT_MAX_URL_LENGTH) -> str | None:
    """Why `url` looks like a crawler trap (`url_too_long`, `path_too_deep`,
    `repeated_path_segments`), or None."""
    if len(url) > max_length:
        return "url_too_long"
    path = urlsplit(url).path
    if path.count("/") > MAX_PATH_SEGMENTS:
        return "path_too_deep"
    if _REPEATED_SEGMENTS.search(path if path.endswith("/") else path + "/"):
        return "repeated_path_segments"
    return None


class RequestBoundsMiddleware:
    """Bounds the requests the spider's callbacks issue: their number per crawl
    (PRESSWATCH_MAX_REQUESTS) and the shape of their URLs (see `url_trap`).

    Start requests come from the declaration and are not counted; redirects and retries do not
    pass through spider middlewares. A refused request is counted, and logged once per reason
    with its URL, so a trap of a million links writes one warning, not a million.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        settings = crawler.settings
        self.max_requests = settings.getint("PRESSWATCH_MAX_REQUESTS")
        self.max_url_length = settings.getint("PRESSWATCH_MAX_URL_LENGTH", DEFAULT_MAX_URL_LENGTH)
        self.issued = 0
        self.logged: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def process_spider_output(self, response: Response, result: Iterable[Any]) -> Iterator[Any]:
        for item in result:
            if not isinstance(item, Request) or self._allowed(item, response):
                yield item

    async def process_spider_output_async(
        self, response: Response, result: AsyncIterator[Any]
    ) -> AsyncIterator[Any]:
        async for item in result:
            if not isinstance(item, Request) or self._allowed(item, response):
                yield item

    def _allowed(self, request: Request, response: Response) -> bool:
        reason = url_trap(request.url, self.max_url_length)
        if reason is None and self.max_requests and self.issued >= self.max_requests:
            reason = "max_requests"
        if reason is None:
            self.issued += 1
            return True
        count(self.crawler.stats, reason)
        if reason not in self.logged:
            self.logged.add(reason)
            logger.warning(
                "%s: not requesting %s (linked from %s)%s; further ones are only counted as "
                "bounds/%s",
                _REASONS[reason],
                request.url[:300],
                response.url,
                f", {self.max_requests} requests issued" if reason == "max_requests" else "",
                reason,
            )
        return False


_REASONS = {
    "url_too_long": "URL too long (a session id or a trap)",
    "path_too_deep": f"URL path deeper than {MAX_PATH_SEGMENTS} segments (a trap)",
    "repeated_path_segments": "URL path repeats itself (a trap: /a/a/a/)",
    "max_requests": "Request limit of the crawl reached (max_requests)",
}


# --- 5. hostile HTML ---------------------------------------------------------------------------

# File signatures that never start an HTML page.
_BINARY_MAGIC = (
    b"\x89PNG",
    b"GIF87a",
    b"GIF89a",
    b"\xff\xd8\xff",  # JPEG
    b"%PDF-",
    b"PK\x03\x04",  # zip, docx, epub
    b"\x1f\x8b",  # gzip
    b"\x28\xb5\x2f\xfd",  # zstd
    b"\xfd7zXZ\x00",
    b"7z\xbc\xaf\x27\x1c",
    b"Rar!\x1a\x07",
    b"\x7fELF",
    b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",  # MS Office
    b"\x00asm",
)
# C0 controls no text encoding of an HTML page uses (TAB, LF, VT, FF, CR and ESC are left
# out: ESC is ISO-2022-JP's shift). Random bytes are 10% these; text, about 0%.
_BINARY_CONTROLS = bytes([*range(0x00, 0x09), *range(0x0E, 0x1B), *range(0x1C, 0x20)])
_BINARY_RATIO = 0.01
# UTF-16 and UTF-32 text is full of NUL bytes; a BOM or NUL-padded "<" announces it.
_WIDE_TEXT = (b"\xff\xfe", b"\xfe\xff", b"<\x00", b"\x00<", b"\x00\x00\xfe\xff")
_START_TAG = re.compile(rb"<[A-Za-z]")


def is_binary(body: bytes) -> bool:
    """A body that is no text at all: a known file signature, or more than 1% of bytes that
    are control characters no text uses (a stray NUL in a real page is fine)."""
    head = body[:16].lstrip()
    if head.startswith(_BINARY_MAGIC):
        return True
    if body.startswith(_WIDE_TEXT):
        return False
    controls = len(body) - len(body.translate(None, _BINARY_CONTROLS))
    return controls > len(body) * _BINARY_RATIO


# What each answer of `html_problem` means, for the log.
PAGE_PROBLEMS = {
    "binary": "not text (a binary file served as a page)",
    "too_many_elements": "more HTML elements than PRESSWATCH_MAX_HTML_ELEMENTS",
    "too_deep": "HTML nested deeper than the parsers can read",
}


def html_problem(body: bytes, max_elements: int = DEFAULT_MAX_HTML_ELEMENTS) -> str | None:
    """Why this body must not reach the parsers (`binary`, `too_many_elements`, `too_deep`),
    or None. `max_elements` 0 counts no elements.

    Nesting: lxml (libxml2) stops reading at depth 256, so trafilatura and lxml-based code
    lose everything below it, while BeautifulSoup builds the whole tree and the recursive
    parsers (briefing turns) then die of RecursionError at about depth 1,000, after seconds
    of quadratic work. A page nested past lxml's limit is dropped before any of that.
    """
    if is_binary(body):
        return "binary"
    # body.count is a cheap upper bound; the regex counts only when it could matter.
    if (
        max_elements
        and body.count(b"<") > max_elements
        and len(_START_TAG.findall(body)) > max_elements
    ):
        return "too_many_elements"
    parser = etree.HTMLParser(recover=True, no_network=True)
    try:
        etree.fromstring(body, parser)
    except (etree.XMLSyntaxError, etree.ParserError, ValueError):
        # An empty or unreadable document: the parsers find no title and the validate
        # pipeline drops it with that reason.
        return None
    for error in parser.error_log:
        if error.type == etree.ErrorTypes.ERR_RESOURCE_LIMIT:
            return "too_deep"
    return None
