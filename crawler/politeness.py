"""Politeness toward the sites we crawl: Retry-After, robots.txt failures and Crawl-delay.

Three components, registered in crawler/settings.py in place of the stock Scrapy ones:

1. `RateLimitMiddleware` (replaces RetryMiddleware). A 429, or a 503 with Retry-After, holds
   every request to that host, not just the retried one, until the wait is over; other hosts
   go on. A Retry-After above the ceiling ([crawl] max_retry_after) or too many rate-limit
   answers in a row make us stop requesting the host for the rest of the run; the run is then
   recorded as `rate_limited` in crawl_runs (crawler.pipelines, via `run_problems`).
2. `RobotsTxtMiddleware` (replaces Scrapy's). RFC 9309: a robots.txt answered with 5xx (or
   429), or not answered at all, disallows the whole host for this run; a 4xx allows
   everything, whatever the error page says; a 2xx is parsed, and its Crawl-delay becomes
   the host's minimum delay.
3. `PoliteAutoThrottle` (replaces AutoThrottle). Stock AutoThrottle lowers a host's delay
   towards the server's latency and knows no floor but DOWNLOAD_DELAY; this one never takes a
   host below its own floor (the DOWNLOAD_SLOTS delay, which Crawl-delay sets).

How a host is held: Scrapy's downloader has one slot per host, and `Downloader._process_queue`
sends nothing from a slot while `slot.latercall` is set. A hold sets that timer itself, so it
works whatever the slot's delay (a delay of 0 skips Scrapy's own penalty entirely), and
AutoThrottle, which only changes `slot.delay`, cannot shorten it. The hold is set from the
`response_downloaded` signal, which fires before the downloader looks at the slot's queue
again: waiting for the middleware's process_response would let the next queued request out.
This relies on Scrapy internals (pinned to 2.19.x in pyproject.toml); tests/test_politeness.py
measures the waits from the server side, so a Scrapy upgrade that breaks them fails there.

Stats: `ratelimit/...` and `robotstxt/...`, kept in crawl_runs.stats.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Self

from scrapy import signals
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware as StockRobotsTxt
from scrapy.exceptions import IgnoreRequest
from scrapy.extensions.throttle import AutoThrottle
from scrapy.http import Request, Response
from scrapy.http.request import NO_CALLBACK
from scrapy.utils.asyncio import call_later
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.misc import build_from_crawler, load_object
from twisted.internet.defer import Deferred

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.core.downloader import Downloader
    from scrapy.crawler import Crawler
    from scrapy.robotstxt import RobotParser
    from scrapy.settings import BaseSettings

logger = logging.getLogger(__name__)

# Answers that may carry Retry-After and that RetryMiddleware retries. A 429 is a rate limit
# with or without the header; a 503 only with it (without, it is a plain server error).
RATE_LIMIT_CODES = (429, 503)
# Longest Retry-After we wait for; above it the host is given up for the run. A monitor runs
# every hour or so: a site that asks for more than five minutes is asking us to come back on
# the next run. presswatch.toml: [crawl] max_retry_after.
DEFAULT_MAX_RETRY_AFTER = 300.0
# A 429 without a (readable) Retry-After: the server wants less, but does not say how much.
DEFAULT_RATE_LIMIT_WAIT = 5.0
# This many rate-limit answers in a row from one host, and we stop asking it: each one already
# made us wait, so more waiting is unlikely to help and only adds load.
DEFAULT_MAX_CONSECUTIVE = 5
# A Crawl-delay above this is capped (and logged): a site asking for an hour between pages
# would keep one crawl running for days. AUTOTHROTTLE_MAX_DELAY is 60 s too.
DEFAULT_MAX_CRAWL_DELAY = 60.0

# What a robots.txt that cannot be read means (RFC 9309 2.3.1.4): complete disallow.
DISALLOW_ALL = b"User-agent: *\nDisallow: /\n"

_DELAY_SECONDS = re.compile(r"\d+(?:\.\d+)?")


def parse_retry_after(value: str, now: datetime | None = None) -> float | None:
    """Seconds to wait for a Retry-After value: delay-seconds or an HTTP-date (RFC 9110
    10.2.3). A date in the past is 0. None when the value is neither."""
    value = value.strip()
    # delay-seconds is 1*DIGIT; a decimal fraction is not allowed but is clear enough.
    if _DELAY_SECONDS.fullmatch(value):
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        # An HTTP-date is always GMT; "-0000" (no zone information) parses as naive.
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def run_problems(stats: Mapping[str, Any]) -> list[str]:
    """Why politeness cut this run short, one sentence per host, for crawl_runs.error."""
    problems = []
    for key, value in sorted(stats.items()):
        if key.startswith("ratelimit/abandoned/"):
            host = key.removeprefix("ratelimit/abandoned/")
            problems.append(f"rate-limited: stopped requesting {host} for this run: {value}")
        elif key.startswith("robotstxt/unreachable/"):
            host = key.removeprefix("robotstxt/unreachable/")
            problems.append(
                f"robots.txt of {host} unreachable ({value}): nothing else requested from it "
                "this run (RFC 9309: an unreachable robots.txt disallows everything)"
            )
    return problems


def rate_limited(stats: Mapping[str, Any]) -> bool:
    """Did this run give up a host because it rate-limited us (crawl_runs status)?"""
    return bool(stats.get("ratelimit/abandoned_hosts"))


def _replaying(settings: BaseSettings) -> bool:
    # A replay answers from an archive: there is no site to wait for.
    return bool(settings.getlist("PRESSWATCH_REPLAY"))


def set_delay_floor(downloader: Downloader, key: str, seconds: float) -> None:
    """Make `seconds` the least delay between requests to slot `key`, now and after the slot
    is recreated (the downloader drops slots idle for a minute, and builds new ones from
    DOWNLOAD_SLOTS, which `per_slot_settings` holds)."""
    slot_settings = downloader.per_slot_settings.setdefault(key, {})
    slot_settings["delay"] = max(float(slot_settings.get("delay", 0.0)), seconds)
    # A floor is a minimum: Scrapy's ±50 % jitter would take it down to half.
    slot_settings["jitter"] = 0.0
    slot = downloader.slots.get(key)
    if slot is not None:
        slot.delay = max(slot.delay, slot_settings["delay"])
        slot.jitter = 0.0


class RateLimitMiddleware(RetryMiddleware):
    """RetryMiddleware that waits as long as Retry-After says, for the whole host."""

    def __init__(self, settings: BaseSettings) -> None:
        super().__init__(settings)
        self.max_wait = settings.getfloat("PRESSWATCH_MAX_RETRY_AFTER", DEFAULT_MAX_RETRY_AFTER)
        self.default_wait = settings.getfloat("PRESSWATCH_RATE_LIMIT_WAIT", DEFAULT_RATE_LIMIT_WAIT)
        self.max_consecutive = settings.getint(
            "PRESSWATCH_RATE_LIMIT_MAX_CONSECUTIVE", DEFAULT_MAX_CONSECUTIVE
        )
        self.hold_hosts = not _replaying(settings)
        # Per slot key (the host): rate-limit answers since its last other answer, the
        # monotonic time its current hold ends, and why it was given up.
        self.consecutive: dict[str, int] = {}
        self.held_until: dict[str, float] = {}
        self.abandoned: dict[str, str] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        middleware = super().from_crawler(crawler)
        crawler.signals.connect(middleware.response_downloaded, signal=signals.response_downloaded)
        return middleware

    @property
    def downloader(self) -> Downloader:
        assert self.crawler.engine is not None  # middlewares run inside a running engine
        return self.crawler.engine.downloader

    def process_request(self, request: Request) -> None:
        key = self.downloader.get_slot_key(request)
        reason = self.abandoned.get(key)
        if reason is not None:
            self.crawler.stats.inc_value("ratelimit/refused_requests")
            raise IgnoreRequest(f"not requesting {key} again this run: {reason}")

    def process_response(self, request: Request, response: Response) -> Request | Response:
        if response.status in RATE_LIMIT_CODES and self._key(request) in self.abandoned:
            return response  # no retry: the host is given up
        # The wait, if any, is already in place (response_downloaded); retry as usual, within
        # the request's RETRY_TIMES budget.
        return super().process_response(request, response)

    def _key(self, request: Request) -> str:
        key = request.meta.get(self.downloader.DOWNLOAD_SLOT)
        return key if key is not None else self.downloader.get_slot_key(request)

    # ---- signal: the response is in, the slot's queue not yet looked at again -------------

    def response_downloaded(self, response: Response, request: Request, spider: Spider) -> None:
        key = self._key(request)
        status = response.status
        if status not in RATE_LIMIT_CODES:
            if status < 500:
                self.consecutive.pop(key, None)
            return
        wait = None
        header = response.headers.get(b"Retry-After")
        if header is not None:
            text = header.decode("latin-1")
            wait = parse_retry_after(text)
            if wait is None:
                self.crawler.stats.inc_value("ratelimit/retry_after_invalid")
                logger.warning(
                    "Unreadable Retry-After %r on %s (HTTP %s): neither seconds nor an HTTP-date",
                    text,
                    response.url,
                    status,
                )
        if wait is None:
            if status != 429:
                return  # a 503 with nothing to honour: a server error, retried as stock
            wait = self.default_wait
        self._rate_limited(key, status, wait, response.url)

    def _rate_limited(self, key: str, status: int, wait: float, url: str) -> None:
        stats = self.crawler.stats
        stats.inc_value("ratelimit/answers")
        stats.inc_value(f"ratelimit/answers/{status}")
        if key in self.abandoned:
            return
        count = self.consecutive[key] = self.consecutive.get(key, 0) + 1
        if wait > self.max_wait:
            self.abandon(
                key,
                f"HTTP {status} with Retry-After {wait:.0f} s, above the ceiling of "
                f"{self.max_wait:.0f} s ([crawl] max_retry_after in presswatch.toml)",
            )
        elif count >= self.max_consecutive:
            self.abandon(key, f"{count} rate-limit answers (HTTP 429/503) in a row")
        elif self.hold_hosts and wait > 0:
            self.hold(key, wait, f"HTTP {status} on {url}")

    def hold(self, key: str, seconds: float, why: str) -> None:
        """Send nothing to `key` for `seconds`; requests to other hosts go on."""
        until = time.monotonic() + seconds
        if until <= self.held_until.get(key, 0.0):
            return  # already held at least that long
        downloader = self.downloader
        slot = downloader.slots.get(key)
        if slot is None:
            # The slot of a response being processed exists; if Scrapy ever changes that, say
            # so instead of silently not waiting.
            logger.error(
                "Cannot hold %s for %.1f s: the downloader has no slot for it", key, seconds
            )
            self.crawler.stats.inc_value("ratelimit/hold_failed")
            return
        self.held_until[key] = until
        if slot.latercall:
            slot.latercall.cancel()
        # _process_queue sends nothing while latercall is set; _latercall clears it and sends.
        slot.latercall = call_later(seconds, downloader._latercall, slot)
        # After the hold, the slot's own delay counts from its end; and a slot that looks busy
        # until then is not garbage-collected (with its hold) by the downloader.
        slot.lastseen = max(slot.lastseen, until)
        stats = self.crawler.stats
        stats.inc_value("ratelimit/holds")
        stats.inc_value("ratelimit/hold_seconds", round(seconds, 3))
        stats.max_value("ratelimit/max_hold_seconds", round(seconds, 3))
        logger.info("%s: holding every request to %s for %.1f s (Retry-After)", why, key, seconds)

    def abandon(self, key: str, reason: str) -> None:
        """Stop requesting `key` for the rest of the run, including what already waits for it."""
        self.abandoned[key] = reason
        stats = self.crawler.stats
        stats.inc_value("ratelimit/abandoned_hosts")
        stats.set_value(f"ratelimit/abandoned/{key}", reason)
        logger.warning("Stopped requesting %s for this run: %s", key, reason)
        slot = self.downloader.slots.get(key)
        if slot is None:
            return
        if slot.latercall:
            slot.latercall.cancel()
            slot.latercall = None
        # Requests already queued in the slot passed process_request; fail them here, or they
        # would be sent the moment the slot frees up.
        while slot.queue:
            request, deferred = slot.queue.popleft()
            stats.inc_value("ratelimit/refused_requests")
            deferred.errback(IgnoreRequest(f"not requesting {key} again this run: {reason}"))
            logger.debug("Dropped %s: %s given up", request, key)


class RobotsTxtMiddleware(StockRobotsTxt):
    """Scrapy's robots.txt middleware with RFC 9309's answers to a robots.txt that fails."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        settings = crawler.settings
        self.max_crawl_delay = settings.getfloat(
            "PRESSWATCH_MAX_CRAWL_DELAY", DEFAULT_MAX_CRAWL_DELAY
        )
        self.apply_crawl_delay = not _replaying(settings)
        # netloc -> why its robots.txt could not be read.
        self.unreachable: dict[str, str] = {}
        # Network failures: what RetryMiddleware retries when no answer came.
        self.network_errors = tuple(
            load_object(name) if isinstance(name, str) else name
            for name in settings.getlist("RETRY_EXCEPTIONS")
        )

    async def robot_parser(self, request: Request) -> RobotParser | None:
        # Stock, except for what a failed fetch means: stock logs a traceback and allows all.
        url = urlparse_cached(request)
        netloc = url.netloc
        if netloc not in self._parsers:
            self._parsers[netloc] = Deferred()
            robots_request = Request(
                f"{url.scheme}://{netloc}/robots.txt",
                priority=self.DOWNLOAD_PRIORITY,
                meta={"dont_obey_robotstxt": True},
                callback=NO_CALLBACK,
            )
            try:
                response = await self.crawler.engine.download_async(robots_request)
            except IgnoreRequest as exc:
                cause = exc.__cause__
                if isinstance(cause, self.network_errors):
                    # A network failure that a middleware gave up on and turned into
                    # IgnoreRequest (crawler.bounds does so with timeouts): unreachable.
                    self._fetch_failed(netloc, cause)
                else:
                    # Refused by a policy (the address policy, a host given up for rate
                    # limiting) that refuses the host's pages as well, or too many redirects
                    # ("unavailable", RFC 9309 2.3.1.2): allowed, as stock does.
                    logger.info(
                        "robots.txt of %s not fetched: %s; so nothing is disallowed", netloc, exc
                    )
                    self._stats.inc_value("robotstxt/ignored")
                    self._settle(netloc, None)
            except Exception as exc:  # noqa: BLE001 - every failure to fetch is "unreachable"
                self._fetch_failed(netloc, exc)
            else:
                await self._parse_robots(response, netloc, request)
            self._stats.inc_value("robotstxt/request_count")
        parser = self._parsers[netloc]
        if isinstance(parser, Deferred):
            return await maybe_deferred_to_future(parser)
        return parser

    async def _parse_robots(self, response: Response, netloc: str, request: Request) -> None:
        status = response.status
        self._stats.inc_value("robotstxt/response_count")
        self._stats.inc_value(f"robotstxt/response_status_count/{status}")
        if status >= 500 or status == 429:
            # 429 is a 4xx, but means "too busy for you", not "no robots.txt here"; Google
            # treats it as a server error too.
            self._disallow_all(netloc, f"HTTP {status}")
            return
        if not 200 <= status < 300:
            # 4xx, or a redirect that was not followed: "unavailable", so everything is
            # allowed (RFC 9309 2.3.1.3), whatever the error page's text would parse to.
            logger.info("robots.txt of %s: HTTP %s, so nothing is disallowed", netloc, status)
            self._stats.inc_value("robotstxt/unavailable_allow_all")
            self._settle(netloc, None)
            return
        parser = build_from_crawler(self._parserimpl, self.crawler, response.body)
        await self.crawler.signals.send_catch_log_async(
            signal=signals.robots_parsed, robotparser=parser, request=request
        )
        # Before the requests waiting for this parser go on, so the first of them waits too.
        self._crawl_delay(parser, request)
        self._settle(netloc, parser)

    def _fetch_failed(self, netloc: str, exc: BaseException) -> None:
        self._stats.inc_value(f"robotstxt/exception_count/{type(exc)}")
        self._disallow_all(netloc, f"{type(exc).__name__}: {exc}")

    def _settle(self, netloc: str, parser: RobotParser | None) -> None:
        waiting = self._parsers[netloc]
        self._parsers[netloc] = parser
        if isinstance(waiting, Deferred):
            waiting.callback(parser)

    def _disallow_all(self, netloc: str, reason: str) -> None:
        self.unreachable[netloc] = reason
        self._stats.inc_value("robotstxt/unreachable_disallow_all")
        self._stats.set_value(f"robotstxt/unreachable/{netloc}", reason)
        logger.warning(
            "robots.txt of %s is unreachable (%s): requesting nothing from %s in this run "
            "(RFC 9309: an unreachable robots.txt disallows everything)",
            netloc,
            reason,
            netloc,
        )
        self._settle(netloc, build_from_crawler(self._parserimpl, self.crawler, DISALLOW_ALL))

    def process_request_2(self, rp: RobotParser | None, request: Request) -> None:
        netloc = urlparse_cached(request).netloc
        reason = self.unreachable.get(netloc)
        if reason is not None:
            self._stats.inc_value("robotstxt/forbidden_unreachable")
            raise IgnoreRequest(f"robots.txt of {netloc} unreachable ({reason}): host disallowed")
        super().process_request_2(rp, request)

    def _crawl_delay(self, parser: RobotParser, request: Request) -> None:
        if not self.apply_crawl_delay:
            return
        useragent = self._robotstxt_useragent or request.headers.get(
            b"User-Agent", self._default_useragent
        )
        asked = parser.crawl_delay(useragent)
        if not asked or asked <= 0:
            return
        downloader = self.crawler.engine.downloader
        key = downloader.get_slot_key(request)
        delay = asked
        if asked > self.max_crawl_delay:
            delay = self.max_crawl_delay
            self._stats.inc_value("robotstxt/crawl_delay_capped")
            logger.warning(
                "robots.txt of %s asks for Crawl-delay %s s; capped at %.0f s "
                "(PRESSWATCH_MAX_CRAWL_DELAY)",
                key,
                asked,
                delay,
            )
        # The source's own delay (DOWNLOAD_DELAY, set by the spider) stays the floor if larger.
        delay = max(delay, self.crawler.settings.getfloat("DOWNLOAD_DELAY"))
        set_delay_floor(downloader, key, delay)
        self._stats.max_value("robotstxt/crawl_delay_seconds", delay)
        logger.info(
            "robots.txt of %s: Crawl-delay %s s, so %.1f s between requests", key, asked, delay
        )


class PoliteAutoThrottle(AutoThrottle):
    """AutoThrottle that never takes a host's delay below its floor (set_delay_floor)."""

    def _response_downloaded(self, response: Response, request: Request, spider: Spider) -> None:
        super()._response_downloaded(response, request, spider)
        key, slot = self._get_slot(request, spider)
        if slot is None or key is None:
            return
        floor = self.crawler.engine.downloader.per_slot_settings.get(key, {}).get("delay")
        if floor is not None and slot.delay < floor:
            slot.delay = float(floor)
