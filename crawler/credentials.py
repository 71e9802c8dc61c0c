"""Secrets in a crawl: settings that hold them, and user:password@ in URLs (db.redact hides
them everywhere else).

1. `SecretSettings`, a Scrapy add-on (ADDONS in crawler.settings, so `presswatch crawl`,
   `crawler.runner` and `scrapy crawl` all load it): before Scrapy logs its "Overridden
   settings" line, every string setting whose name says it is secret (MAIL_PASS,
   TELNETCONSOLE_PASSWORD, ZYTE_API_KEY, a DEFAULT_REQUEST_HEADERS Authorization) is
   registered with db.redact and wrapped so that it prints as "***" while it still works as
   the string it is. It also attaches db.redact's log filter to Scrapy's root log handler,
   again when each spider opens, because Scrapy replaces that handler after applying a
   crawler's settings.
2. `UrlCredentialsMiddleware`, the first downloader middleware: a request for
   http://user:pass@host/path is sent as http://host/path with the credentials as HTTP
   Basic auth, what a browser or curl does with them. Stock Scrapy fails such a request
   ("invalid hostname: user:pass@host", the password in the error); here nothing after this
   middleware (the log's "Crawled" lines, the response URL, the stored article's url,
   canonical_url and image URLs) ever sees the credentials. Scrapy's redirect middleware
   drops the Authorization header when a redirect leaves the host.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import unquote, urlsplit

from scrapy import signals
from scrapy.settings import SETTINGS_PRIORITIES, BaseSettings
from w3lib.http import basic_auth_header

from db import redact

if TYPE_CHECKING:
    from scrapy import Request, Spider
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)


class MaskedValue(str):
    """A secret setting's value: the string itself to whoever uses it, "***" when printed.

    Scrapy prints settings with pprint, which shows strings by repr().
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return repr(redact.MARKER)


def mask_settings(settings: BaseSettings) -> list[str]:
    """Register and mask every secret string setting; return the names masked.

    A setting is secret when its name says so (db.redact.secret_name); a table setting
    (DEFAULT_REQUEST_HEADERS) is searched one level down for secret keys. Only settings
    someone set count: Scrapy's defaults are not secrets.
    """
    masked = []
    for name in list(settings):
        if (settings.getpriority(name) or 0) <= SETTINGS_PRIORITIES["default"]:
            continue  # Scrapy's own defaults (FTP_PASSWORD = "guest") are nobody's secret
        value = settings[name]
        if isinstance(value, str) and value and redact.secret_name(name):
            redact.add_secret(value)
            settings.set(name, MaskedValue(value), priority=settings.getpriority(name))
            masked.append(name)
        elif isinstance(value, Mapping):
            # A table (DEFAULT_REQUEST_HEADERS): its secret keys, one level down. Component
            # tables (DOWNLOADER_MIDDLEWARES) map class paths to numbers: nothing to mask.
            secret_keys = [
                key
                for key, item in value.items()
                if isinstance(key, str) and isinstance(item, str) and redact.secret_name(key)
            ]
            for key in secret_keys:
                redact.add_secret(value[key])
            if secret_keys and isinstance(value, BaseSettings):
                for key in secret_keys:
                    value.set(key, MaskedValue(value[key]), priority=value.getpriority(key))
            elif secret_keys:
                table = {**value, **{key: MaskedValue(value[key]) for key in secret_keys}}
                settings.set(name, table, priority=settings.getpriority(name))
            if secret_keys:
                masked.append(name)
    return masked


class SecretSettings:
    """Scrapy add-on: secret settings masked and redacted, the log filter kept on Scrapy's
    log handler."""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        addon = cls()
        crawler.signals.connect(addon.spider_opened, signal=signals.spider_opened)
        return addon

    def update_settings(self, settings: BaseSettings) -> None:
        masked = mask_settings(settings)
        # The "Overridden settings" line goes out through the handler installed now.
        redact.protect_logging()
        if masked:
            logger.debug("Secret settings, shown as %s: %s", redact.MARKER, ", ".join(masked))

    def spider_opened(self, spider: Spider) -> None:
        # Scrapy installed a new root handler after applying the settings: filter it too.
        redact.protect_logging()


class UrlCredentialsMiddleware:
    """Downloader middleware: user:password@ in a URL becomes HTTP Basic auth."""

    def __init__(self, stats: StatsCollector) -> None:
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler.stats)

    def process_request(self, request: Request) -> Any:
        parts = urlsplit(request.url)
        if parts.scheme not in ("http", "https") or "@" not in parts.netloc:
            return None  # other schemes are refused by the address policy anyway
        userinfo, _, host = parts.netloc.rpartition("@")
        user, _, password = (unquote(piece) for piece in userinfo.partition(":"))
        # UTF-8, as RFC 7617 lets a server ask for: latin-1 cannot encode every password.
        header = basic_auth_header(user, password, encoding="utf-8")
        redact.add_secret(password)
        redact.add_secret(header.decode("latin-1"))
        clean = parts._replace(netloc=host).geturl()
        headers = request.headers.copy()
        # An Authorization the request already carries was set on purpose: it wins.
        headers.setdefault(b"Authorization", header)
        self.stats.inc_value("credentials/url_userinfo")
        logger.debug("Credentials taken out of the URL of %s: sent as HTTP Basic auth", clean)
        # A new request: Scrapy schedules it again, so every later component sees the URL
        # without the credentials.
        return request.replace(url=clean, headers=headers)
