"""TASS: tass.com (English) and tass.ru (Russian), one parser class per template (SOURCES.md §10).

Evidence: no real article page of either site is available (../shared/fixtures/pages/
PROVENANCE.md). The selectors are those SOURCES.md §10 records from public crawlers that parse
these sites (SOURCES.md §15: jonawalb/rhetoric-corpus, collectors/ru_statemedia.py and
ru_tass_ru.py); the golden pages in tests/data/pages/tass_en and tass_ru are reconstructions
of that markup, and nothing here relies on markup of theirs that SOURCES.md does not document.

* `TassCom` (tass.com): title from `og:title` minus " - TASS", lead `.news-header__lead`,
  body `div.text-content` `<p>`, date JSON-LD `datePublished` (+03:00).
* tass.ru, three layouts: `TassRu2021` (`div.text-content > div.text-block`), `TassRu2024`
  (`<article>` + JSON-LD) and `TassRu2025` (Next.js: paragraphs `p.Paragraph_paragraph__<hash>`,
  `datePublished` only in the `self.__next_f.push` flight data). tass.ru answers scripts with a
  ServicePipe challenge (HTTP 403, < 5 KB); such a page is marked `blocked` before any parser
  runs (`crawler.parsers.utility.block_reason`).

Every story opens with a dateline, "BEIJING, December 25. /TASS/." or "МОСКВА, 25 декабря.
/ТАСС/.": it goes to `dateline`, and the first paragraph keeps the words after it. TASS is an
agency, never an author. The section is the URL's first path segment ("science", "politika"):
it is the one section name every layout carries.
"""

from __future__ import annotations

import logging
import re
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit

from bs4 import BeautifulSoup

from crawler.normalize import (
    Caption,
    DateInfo,
    localize_parsed,
    parse_date_text,
    split_copyright,
)
from crawler.parsers.base import FieldError
from crawler.parsers.utility import (
    json_ld_article,
    json_ld_dates,
    json_ld_people,
    meta_content,
    next_flight_value,
    og_images,
    people_only,
    select_text,
    split_keywords,
    text_of,
)
from crawler.parsers.wire import WireParser, paragraphs_of

logger = logging.getLogger(__name__)

# og:title is "Headline - TASS"; <title> adds the section: "Headline - Science & Space - TASS".
_TITLE_SUFFIX = re.compile(r"\s+[-–—]\s+(?:[^-–—]+\s+[-–—]\s+)?(?:TASS|ТАСС)\s*$")


class TassParser(WireParser):
    """What every TASS layout shares: head metadata, JSON-LD dates (the dateline and body
    come from `WireParser`; each layout says where its paragraphs are)."""

    name = "tass"

    # --- fields -------------------------------------------------------------------------------

    def title(self) -> str:
        title = meta_content(self.soup, prop="og:title") or text_of(self.soup.find("h1"))
        return _TITLE_SUFFIX.sub("", title)

    def authors(self) -> list[str]:
        # JSON-LD names the Organization "TASS"; a person would be listed as one.
        article = json_ld_article(self.soup) or {}
        return people_only(json_ld_people(article.get("author")))

    def section(self) -> str | None:
        parts = [p for p in urlsplit(self.url).path.split("/") if p]
        return parts[0] if len(parts) >= 2 else None

    def tags(self) -> list[str]:
        # SOURCES.md documents no tag markup for TASS; the keywords meta is the standard one.
        return split_keywords(meta_content(self.soup, name="keywords"))

    @cached_property
    def _dates(self) -> tuple[DateInfo | None, DateInfo | None]:
        return json_ld_dates(self.soup, self.page.zone)

    def published(self) -> DateInfo | None:
        return self._dates[0]

    def updated(self) -> DateInfo | None:
        return self._dates[1]

    def captions(self) -> list[Caption]:
        # Standard <figure> captions (SOURCES.md documents no TASS-specific caption markup);
        # TASS credits follow a "©" ("… © Sergei Bobylev/TASS").
        captions = [split_copyright(text_of(fc)) for fc in self.soup.select("figure figcaption")]
        return [c for c in captions if c.text or c.credit]

    def images(self) -> list[dict[str, Any]]:
        return og_images(self.soup, self.url)


class TassCom(TassParser):
    """tass.com, the English site: the only layout SOURCES.md documents for it."""

    version = "com"
    url_patterns = (r"^https?://(?:www\.)?tass\.com/",)

    lead_css = ".news-header__lead"
    body_css = "div.text-content"

    @classmethod
    def detect(cls, soup: BeautifulSoup) -> bool:
        return soup.select_one(cls.body_css) is not None

    def language(self) -> str | None:
        return "en"

    def subtitle(self) -> str | None:
        return select_text(self.soup, self.lead_css) or None

    def _paragraphs(self) -> list[str]:
        body = self.soup.select_one(self.body_css)
        if body is None:
            raise FieldError(f"no body element {self.body_css!r}")
        return paragraphs_of(body.find_all("p"))


class TassRu(TassParser):
    """tass.ru, the Russian site: what its three layouts share."""

    url_patterns = (r"^https?://(?:www\.)?tass\.ru/",)

    def language(self) -> str | None:
        return "ru"


class TassRu2025(TassRu):
    """The Next.js layout of 2025-26: hashed CSS-module classes, the date in the flight data."""

    version = "ru-2025"

    # CSS modules append a build hash: Paragraph_paragraph__9WAFK.
    paragraph_css = 'p[class*="Paragraph_paragraph__"]'
    # The footer uses the same paragraph component; the story ends where it begins.
    footer_start = re.compile(r"^©")
    boilerplate = (
        re.compile(r"^©\s*Информационное агентство ТАСС"),
        re.compile(r"Свидетельство о регистрации"),
    )

    @classmethod
    def detect(cls, soup: BeautifulSoup) -> bool:
        return soup.select_one(cls.paragraph_css) is not None

    def _paragraphs(self) -> list[str]:
        paragraphs = paragraphs_of(self.soup.select(self.paragraph_css))
        for index, paragraph in enumerate(paragraphs):
            if self.footer_start.match(paragraph):
                return paragraphs[:index]
        return paragraphs

    def _flight_date(self, key: str) -> DateInfo | None:
        return localize_parsed(parse_date_text(next_flight_value(self.soup, key)), self.page.zone)

    @cached_property
    def _dates(self) -> tuple[DateInfo | None, DateInfo | None]:
        published, updated = json_ld_dates(self.soup, self.page.zone)
        if published is None:
            # SOURCES.md §10: on this layout the date sits in the `self.__next_f.push` data.
            published = self._flight_date("datePublished")
            updated = self._flight_date("dateModified")
        if updated is not None and published is not None and updated == published:
            updated = None
        return published, updated


class TassRu2024(TassRu):
    """The 2024 layout: the story in `<article>`, dates in JSON-LD."""

    version = "ru-2024"

    @classmethod
    def detect(cls, soup: BeautifulSoup) -> bool:
        html = soup.find("html")
        russian = html is not None and str(html.get("lang") or "").lower().startswith("ru")
        return russian and soup.find("article") is not None and json_ld_article(soup) is not None

    def _paragraphs(self) -> list[str]:
        article = self.soup.find("article")
        if article is None:
            raise FieldError("no <article> element")
        return paragraphs_of(article.find_all("p"))


class TassRu2021(TassRu):
    """The 2021 layout: the story in `div.text-block`s inside `div.text-content`."""

    version = "ru-2021"

    block_css = "div.text-content > div.text-block"

    @classmethod
    def detect(cls, soup: BeautifulSoup) -> bool:
        return soup.select_one(cls.block_css) is not None

    def _paragraphs(self) -> list[str]:
        blocks = self.soup.select(self.block_css)
        if not blocks:
            raise FieldError(f"no body blocks {self.block_css!r}")
        return paragraphs_of([p for block in blocks for p in block.find_all("p")])


# Markup decides first (select_parser), so the order matters where two could match: the
# tass.ru layouts are tried before tass.com's `div.text-content`, which TassRu2021 also has.
# By URL alone (no layout recognised), the newest tass.ru layout is assumed.
VERSIONS: tuple[type[TassParser], ...] = (TassRu2025, TassRu2024, TassRu2021, TassCom)
