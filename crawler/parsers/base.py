"""The parser contract: a `Page` in, one typed method per `Article` field, a `ParseReport` out.

A parser is a class (Fundus's pattern): selectors as class attributes, one method per field,
and a subclass per site redesign, with `valid_from` and the URL shape it serves. This module
owns the loop that calls the field methods and the failure policy:

* a field method that raises one of `FIELD_ERRORS`, or returns nothing for a field in
  `expected` (a field every page of the template has), has *failed*;
* in production the generic extraction's value is used instead, the field is listed in
  `ParseReport.fallbacks` (the pipeline turns it into the stat
  `parser/<source>/fallback/<field>`), and a warning names URL, source, parser and field;
* in strict mode (tests) `ParserFieldError` is raised instead, so a broken selector fails
  loudly where it is introduced.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import Any, ClassVar

from bs4 import BeautifulSoup

from crawler.items import Article
from crawler.normalize import Caption, DateInfo, clean_text, split_paragraphs
from crawler.parsers.utility import (
    absolute_url,
    link_href,
    make_soup,
    meta_content,
)
from crawler.sources import Source

logger = logging.getLogger(__name__)

# The field methods every parser has, in the order they are called.
FIELDS: tuple[str, ...] = (
    "title",
    "subtitle",
    "authors",
    "section",
    "tags",
    "published",
    "updated",
    "dateline",
    "body",
    "captions",
    "images",
    "canonical_url",
    "language",
    "kind",
)

# What a selector that no longer matches raises: None.get_text (AttributeError), an empty
# select()[0] (IndexError), attrs["x"] (KeyError), strptime on changed text (ValueError, and
# FieldError, which is one), or a None where a str was expected (TypeError).
FIELD_ERRORS: tuple[type[Exception], ...] = (
    AttributeError,
    IndexError,
    KeyError,
    TypeError,
    ValueError,
)


class FieldError(ValueError):
    """A field method found nothing usable where its template always has a value."""


class ParserFieldError(Exception):
    """Strict mode: a source parser failed on a field (instead of falling back to generic)."""


@dataclass
class ParseReport:
    """What happened while parsing one page, for stats and logs."""

    url: str
    source: str
    # "<name>/<version>" of the parser that made the record, e.g. "globaltimes/2021".
    parser: str
    # Fields for which the source parser failed and the generic extraction was used.
    fallbacks: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    encoding: str | None = None


@dataclass
class Page:
    """One fetched page as every parser sees it: decoded text, its DOM, and its source."""

    url: str
    html: str
    source: Source | None = None
    encoding: str | None = None

    @cached_property
    def soup(self) -> BeautifulSoup:
        return make_soup(self.html)

    @property
    def source_key(self) -> str:
        # A page of no registered source keeps an empty key; the pipeline decides about it.
        return self.source.key if self.source else ""

    @property
    def zone(self) -> str:
        """The zone page times without an offset are read in (UTC for unknown sites)."""
        return self.source.timezone if self.source else "UTC"


def is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == ()


_DATELINE = re.compile(
    r"""^(
        [A-Z][A-Z .'\-]{1,40}(?:,\s[A-Z][A-Za-z .'\-]{1,40})?   # BEIJING / NEW YORK, USA
        ,\s[A-Z][a-z]{2,8}\.?\s\d{1,2}                           # , Dec. 25
        (?:\s\((?:Xinhua|ANI|AFP|Reuters|AP|CNS|TASS|Sputnik|IANS|GT|CGTN)\))?
    )\s*(?:--|—|–|-|\.\s*/\s*TASS\s*/\.?)""",
    re.VERBOSE,
)


def find_dateline(first_paragraph: str) -> str | None:
    """The dateline that opens a wire story: "BEIJING, Dec. 25 (Xinhua) -- ..." -> its head."""
    match = _DATELINE.match(first_paragraph)
    return clean_text(match.group(1)) if match else None


class BaseParser:
    """One parser version. Subclasses set the class attributes and override field methods.

    The defaults here are what any page offers (canonical link, the source's language and
    kind, a wire dateline at the start of the body); a site parser overrides what its template
    does better.
    """

    name: ClassVar[str] = "base"
    version: ClassVar[str] = "0"
    # First day this template was served (documentation, and the order of versions).
    valid_from: ClassVar[date | None] = None
    # Regexes searched in the URL: the URL shapes this version serves.
    url_patterns: ClassVar[tuple[str, ...]] = ()
    # Fields every page of this template has: empty means the parser is broken.
    expected: ClassVar[frozenset[str]] = frozenset({"title", "body", "published"})

    def __init__(self, page: Page) -> None:
        self.page = page
        self.url = page.url
        self.soup = page.soup

    @classmethod
    def label(cls) -> str:
        return f"{cls.name}/{cls.version}"

    @classmethod
    def matches_url(cls, url: str) -> bool:
        return any(re.search(p, url) for p in cls.url_patterns)

    @classmethod
    def detect(cls, soup: BeautifulSoup) -> bool:
        """True when the markup is this version's template (used before the URL shape)."""
        return False

    # --- field methods (override) -------------------------------------------------------------

    def title(self) -> str:
        raise NotImplementedError

    def subtitle(self) -> str | None:
        return None

    def authors(self) -> list[str]:
        return []

    def section(self) -> str | None:
        return None

    def tags(self) -> list[str]:
        return []

    def published(self) -> DateInfo | None:
        raise NotImplementedError

    def updated(self) -> DateInfo | None:
        return None

    def dateline(self) -> str | None:
        paragraphs = split_paragraphs(self.body())
        return find_dateline(paragraphs[0]) if paragraphs else None

    def body(self) -> str:
        raise NotImplementedError

    def captions(self) -> list[Caption]:
        return []

    def images(self) -> list[dict[str, Any]]:
        return []

    def canonical_url(self) -> str | None:
        for href in (
            link_href(self.soup, "canonical"),
            meta_content(self.soup, prop="og:url"),
            meta_content(self.soup, name="twitter:url"),
        ):
            url = absolute_url(self.url, href)
            if url:
                return url
        return self.url

    def language(self) -> str | None:
        return self.page.source.language if self.page.source else None

    def kind(self) -> str:
        return self.page.source.kind if self.page.source else "article"

    # --- the loop -----------------------------------------------------------------------------

    def field_value(self, name: str) -> tuple[Any, str | None]:
        """(value, None) or (None, why the field failed)."""
        value, problem, _error = self._call(name)
        return value, problem

    def _call(self, name: str) -> tuple[Any, str | None, Exception | None]:
        method = getattr(self, name)
        try:
            value = method()
        except FIELD_ERRORS as exc:
            return None, f"{type(exc).__name__}: {exc}", exc
        if is_empty(value) and name in self.expected:
            return None, "empty", None
        return value, None, None

    def extract(
        self, fallback: BaseParser | None = None, strict: bool = False
    ) -> tuple[Article, ParseReport]:
        """Call every field method; failed fields take `fallback`'s value (or raise if strict)."""
        report = ParseReport(
            url=self.url,
            source=self.page.source_key,
            parser=self.label(),
            encoding=self.page.encoding,
        )
        values: dict[str, Any] = {}
        for name in FIELDS:
            value, problem, error = self._call(name)
            if problem is not None:
                value = self._recover(name, problem, error, fallback, strict, report)
            values[name] = value
        return self._article(values), report

    def _recover(
        self,
        name: str,
        problem: str,
        error: Exception | None,
        fallback: BaseParser | None,
        strict: bool,
        report: ParseReport,
    ) -> Any:
        if strict:
            raise ParserFieldError(
                f"Parser {self.label()} failed on field '{name}' ({problem}) for {self.url} "
                f"(source '{self.page.source_key}'). Fix its selector in "
                f"crawler/parsers/{self.name}.py, or add a new version class if the site changed."
            ) from error
        if fallback is None:
            report.warnings.append(f"{name}: {problem}")
            logger.warning(
                "Parser %s found no %s (%s) for %s (source %r)",
                self.label(),
                name,
                problem,
                self.url,
                self.page.source_key,
            )
            return None
        logger.warning(
            "Parser %s failed on %s (%s) for %s (source %r); using %s",
            self.label(),
            name,
            problem,
            self.url,
            self.page.source_key,
            fallback.label(),
        )
        report.fallbacks.append(name)
        value, generic_problem = fallback.field_value(name)
        if generic_problem is not None:
            report.warnings.append(f"{name}: {fallback.label()} also failed ({generic_problem})")
        return value

    def _article(self, values: dict[str, Any]) -> Article:
        published: DateInfo | None = values["published"]
        updated: DateInfo | None = values["updated"]
        captions: list[Caption] = values["captions"] or []
        return Article(
            url=self.url,
            source=self.page.source_key,
            title=values["title"] or "",
            body=values["body"] or "",
            canonical_url=values["canonical_url"],
            kind=values["kind"] or "article",
            language=values["language"],
            subtitle=values["subtitle"] or None,
            authors=list(values["authors"] or []),
            section=values["section"] or None,
            tags=list(values["tags"] or []),
            published_at=published.published_at if published else None,
            published_local=published.published_local if published else None,
            date_precision=published.precision if published else None,
            updated_at=updated.published_at if updated else None,
            dateline=values["dateline"] or None,
            captions=[c.as_dict() for c in captions],
            images=list(values["images"] or []),
            parser=self.label(),
        )
