"""Parsers: pure functions of (url, html) -> Article. No Scrapy, no network, no database.

The public entry points are `parse_article` (external tests and benchmarks call it) and
`parse_article_with_report`, which the Scrapy pipeline uses to count fallbacks. Choosing the
parser:

1. the source: by key when given (`Source.parser` of `registry.get(source)`), else the source
   whose article patterns match the URL, else none (generic parser, times read as UTC);
2. the version of that source's parser: the one whose markup fingerprint matches, else the
   one whose URL shape matches, else the newest;
3. every field the source parser fails on takes the generic parser's value (see
   `crawler.parsers.base` for the policy and strict mode).

A bot wall or challenge page (`crawler.parsers.utility.block_reason`) is not parsed at all,
whatever the source: its record has access "blocked" and nothing else.
"""

from __future__ import annotations

import logging
from functools import lru_cache

from crawler.encoding import decode_html
from crawler.items import Article
from crawler.parsers import (
    cgtn,
    chinadaily,
    fmprc,
    globaltimes,
    huanqiu,
    kremlin,
    mid,
    people,
    rianews,
    rt,
    tass,
    xinhua,
)
from crawler.parsers.base import (
    FIELDS,
    BaseParser,
    FieldError,
    Page,
    ParseReport,
    ParserFieldError,
)
from crawler.parsers.generic import GenericParser
from crawler.parsers.utility import block_reason
from crawler.sources import Registry, Source, default_registry

logger = logging.getLogger(__name__)

__all__ = [
    "FIELDS",
    "PARSERS",
    "BaseParser",
    "FieldError",
    "GenericParser",
    "Page",
    "ParseReport",
    "ParserFieldError",
    "UnknownParserError",
    "parse_article",
    "parse_article_with_report",
    "select_parser",
]

# Parser key (Source.parser) -> its versions, newest first.
PARSERS: dict[str, tuple[type[BaseParser], ...]] = {
    "generic": (GenericParser,),
    "globaltimes": globaltimes.VERSIONS,
    "xinhua": xinhua.VERSIONS,
    "chinadaily": chinadaily.VERSIONS,
    "cgtn": cgtn.VERSIONS,
    "people": people.VERSIONS,
    "huanqiu": huanqiu.VERSIONS,
    "fmprc": fmprc.VERSIONS,
    "kremlin": kremlin.VERSIONS,
    "mid": mid.VERSIONS,
    "tass": tass.VERSIONS,
    "rt": rt.VERSIONS,
    "rianews": rianews.VERSIONS,
}


class UnknownParserError(ValueError):
    """A source names a parser that does not exist."""


@lru_cache(maxsize=1)
def _builtin_registry() -> Registry:
    # Built once: compiling every source's URL patterns per page would dominate small pages.
    return default_registry()


def _resolve_source(url: str, source: str | None, registry: Registry) -> Source | None:
    if source:
        return registry.get(source)  # raises SourceError naming the known keys
    return registry.for_url(url)


def select_parser(key: str, page: Page) -> type[BaseParser]:
    """The version of parser `key` for this page: by markup, then URL shape, then newest."""
    try:
        versions = PARSERS[key]
    except KeyError:
        known = ", ".join(sorted(PARSERS))
        raise UnknownParserError(
            f"Source '{page.source_key}' names parser '{key}', which does not exist. "
            f"Known parsers: {known}. Use 'generic' for a site without its own parser."
        ) from None
    if len(versions) == 1:
        return versions[0]
    for version in versions:
        if version.detect(page.soup):
            return version
    for version in versions:
        if version.matches_url(page.url):
            return version
    return versions[0]


def _blocked_record(
    page: Page, parser_cls: type[BaseParser], reason: str
) -> tuple[Article, ParseReport]:
    """A bot wall or challenge page, whatever its parser: access "blocked" and nothing else,
    so that the validate pipeline drops it and nothing of the challenge is stored."""
    label = parser_cls.label()
    report = ParseReport(url=page.url, source=page.source_key, parser=label, encoding=page.encoding)
    report.warnings.append(f"blocked: {reason}")
    logger.info("%s is a block page (%s), source %r", page.url, reason, page.source_key)
    language = page.source.language if page.source else None
    article = Article(
        url=page.url, source=page.source_key, access="blocked", language=language, parser=label
    )
    return article, report


def parse_article_with_report(
    url: str,
    html: bytes | str,
    source: str | None = None,
    content_type: str | None = None,
    *,
    strict: bool = False,
    registry: Registry | None = None,
) -> tuple[Article, ParseReport]:
    """Parse one article page; also say which fields fell back to the generic extraction.

    `html` as bytes is decoded with `crawler.encoding.decode_html` (using `content_type`, the
    HTTP header, when known, and the source's language). How it was decoded is the fetch's to
    record (the spider sets `charset`), so bytes and text give the same record. `strict=True`
    raises `ParserFieldError` where production would fall back. `registry` defaults to the
    built-in sources.
    """
    if registry is None:
        registry = _builtin_registry()
    src = _resolve_source(url, source, registry)
    encoding: str | None = None
    if isinstance(html, bytes):
        html, encoding = decode_html(html, content_type, src.language if src else None)
    page = Page(url=url, html=html, source=src, encoding=encoding)
    parser_cls = select_parser(src.parser if src else "generic", page)
    blocked = block_reason(page.html)
    if blocked is not None:
        return _blocked_record(page, parser_cls, blocked)
    parser = parser_cls(page)
    fallback = None if isinstance(parser, GenericParser) else GenericParser(page)
    return parser.extract(fallback=fallback, strict=strict)


def parse_article(url: str, html: bytes | str, source: str | None = None) -> Article:
    """Parse one article page into an `Article` (see `parse_article_with_report`)."""
    article, _report = parse_article_with_report(url, html, source)
    return article
