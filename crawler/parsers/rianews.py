"""The Rossiya Segodnya platform: RIA Novosti (ria.ru) and Sputnik (sputnikglobe.com, formerly
sputniknews.com), one parser class per template (SOURCES.md §12).

* `RiaArticle`, the `article__*` template of ria.ru and sputnikglobe.com: title
  `h1|div.article__title`, subtitle `.article__second-title`, prose in `div.article__text`
  and `div.article__quote-text` blocks, date JSON-LD `datePublished` (+03:00), tags JSON-LD
  `articleSection`, title suffix " - РИА Новости" / ", Sputnik International". Evidence:
  public crawlers of both sites (SOURCES.md §15: jonawalb/rhetoric-corpus
  collectors/ru_statemedia.py); no real page is available, the golden pages are
  reconstructions of that markup. The section is the platform's `analytics:rubric` meta, seen
  on the real Sputnik page of 2019 below.
* `Sputnik2019`, the `b-article__*` template of sputniknews.com. Evidence: one real page,
  https://sputniknews.com/columnists/201911181077343476-royal-self-indicting-arrogance/
  (2019-11-18, tests/data/pages/sputnik/). Lead `div.b-article__lead`, prose
  `div.b-article__text[itemprop=articleBody]`, date `time.b-article__refs-date[datetime]` in
  Moscow time without offset, author link `div.b-article__refs-author a[rel=author]`.
  Its metas `pubdate`/`lastmod` say "2019-11-18T21:17:27Z", but that is the Moscow clock
  labelled UTC: the page's own `analytics:p_ts` (1574101047) is 18:17:27 UTC. So the date
  comes from the <time> element, read in Moscow time, and no update time is taken.

Authors are people only: the platform puts house names ("РИА Новости", "Finian Cunningham.
Sputnik International") where a person's name belongs. RIA datelines ("ПЕКИН, 25 дек – РИА
Новости.") go to `dateline`, the first paragraph keeps the words after it.
"""

from __future__ import annotations

import logging
import re
from functools import cached_property
from typing import Any

from bs4 import BeautifulSoup
from bs4.element import Tag

from crawler.normalize import (
    Caption,
    DateInfo,
    clean_text,
    localize_parsed,
    paragraphs_from,
    parse_date_text,
    split_copyright,
    split_wire_dateline,
)
from crawler.parsers.base import FieldError
from crawler.parsers.utility import (
    absolute_url,
    json_ld_article,
    json_ld_dates,
    json_ld_people,
    meta_content,
    og_images,
    people_only,
    primary_language,
    select_text,
    split_authors,
    split_keywords,
    text_of,
)
from crawler.parsers.wire import WireParser, paragraphs_of

logger = logging.getLogger(__name__)

# "Headline - РИА Новости", "Headline - 25.12.2026, Sputnik International", "Headline, Sputnik".
_TITLE_SUFFIX = re.compile(
    r"(?:\s+-\s+РИА Новости|\s+-\s+\d{2}\.\d{2}\.\d{4},\s+Sputnik.*"
    r"|,\s+Sputnik(?:\s+International)?)\s*$"
)


class RiaNewsParser(WireParser):
    """What both templates share: the language of the source and the title suffix (the
    dateline and body come from `WireParser`)."""

    name = "rianews"

    def language(self) -> str | None:
        # ria.ru is Russian and Sputnik's services each have one language: the source knows.
        if self.page.source is not None:
            return self.page.source.language
        html = self.soup.find("html")
        return primary_language(str(html.get("lang") or "")) if html is not None else None

    def _head_title(self) -> str:
        title = meta_content(self.soup, prop="og:title") or text_of(self.soup.find("title"))
        return _TITLE_SUFFIX.sub("", title)


class RiaArticle(RiaNewsParser):
    """The `article__*` template of ria.ru and sputnikglobe.com."""

    version = "article"
    url_patterns = (r"^https?://(?:ria\.ru|sputnikglobe\.com)/\d{8}/",)

    title_css = "h1.article__title, div.article__title"
    subtitle_css = ".article__second-title"
    # Text and quote blocks, in page order; the quote blocks are the story's own quotations.
    blocks_css = "div.article__text, div.article__quote-text"

    @classmethod
    def detect(cls, soup: BeautifulSoup) -> bool:
        return soup.select_one("div.article__text") is not None

    @cached_property
    def _ld(self) -> dict[str, Any]:
        return json_ld_article(self.soup) or {}

    def title(self) -> str:
        return select_text(self.soup, self.title_css) or self._head_title()

    def subtitle(self) -> str | None:
        return select_text(self.soup, self.subtitle_css) or None

    def authors(self) -> list[str]:
        names = json_ld_people(self._ld.get("author"))
        # "… – РИА Новости, Анна Петрова.": read without `_story`, which raises on a page
        # without paragraphs; that failure belongs to the body, not to the authors.
        paragraphs = self._paragraphs()
        head = split_wire_dateline(paragraphs[0]) if paragraphs else None
        if head is not None and head.author:
            names.append(head.author)
        return people_only(names)

    def section(self) -> str | None:
        return meta_content(self.soup, name="analytics:rubric") or None

    def tags(self) -> list[str]:
        sections = self._ld.get("articleSection")
        if sections:
            return split_keywords(sections)
        return split_keywords(meta_content(self.soup, name="keywords"))

    @cached_property
    def _dates(self) -> tuple[DateInfo | None, DateInfo | None]:
        return json_ld_dates(self.soup, self.page.zone)

    def published(self) -> DateInfo | None:
        return self._dates[0]

    def updated(self) -> DateInfo | None:
        return self._dates[1]

    def _paragraphs(self) -> list[str]:
        return paragraphs_of(self.soup.select(self.blocks_css))

    def images(self) -> list[dict[str, Any]]:
        return og_images(self.soup, self.url)


class Sputnik2019(RiaNewsParser):
    """The `b-article__*` template of sputniknews.com (real page of 2019-11-18)."""

    version = "b-article"
    url_patterns = (r"^https?://(?:www\.)?sputniknews\.com/[a-z_-]+/\d{12,}-",)

    title_css = "div.b-article__header-title h1"
    lead_css = "div.b-article__lead"
    body_css = "div.b-article__text[itemprop=articleBody]"
    # "The views and opinions expressed in the article do not necessarily reflect those of Sputnik."
    disclaimer_class = "b-disclaimer"
    date_css = "time.b-article__refs-date[datetime]"
    author_css = "div.b-article__refs-author a[rel=author]"
    rubric_css = "a.b-article__refs-rubric"
    cover_css = "div.b-article__header img"
    cover_credit_css = "div.b-article__header-copy"

    @classmethod
    def detect(cls, soup: BeautifulSoup) -> bool:
        return soup.select_one(cls.body_css) is not None

    def title(self) -> str:
        return select_text(self.soup, self.title_css) or self._head_title()

    def subtitle(self) -> str | None:
        return select_text(self.soup, self.lead_css) or None

    def authors(self) -> list[str]:
        names = [text_of(a) for a in self.soup.select(self.author_css)]
        if not any(names):
            # "Finian Cunningham. Sputnik International"
            names = split_authors(meta_content(self.soup, name="author"))
        return people_only([n for n in names if n])

    def section(self) -> str | None:
        return select_text(self.soup, self.rubric_css) or None

    def published(self) -> DateInfo | None:
        tag = self.soup.select_one(self.date_css)
        if tag is None:
            raise FieldError(f"no date element {self.date_css!r}")
        parsed = parse_date_text(str(tag["datetime"]))
        if parsed is None:
            raise FieldError(f"unreadable datetime {tag['datetime']!r}")
        return localize_parsed(parsed, self.page.zone)

    def _skip(self, tag: Tag) -> bool:
        return self.disclaimer_class in (tag.get("class") or [])

    def _paragraphs(self) -> list[str]:
        body = self.soup.select_one(self.body_css)
        if body is None:
            raise FieldError(f"no body element {self.body_css!r}")
        return paragraphs_from(body, skip=self._skip)

    @cached_property
    def _cover(self) -> Tag | None:
        return self.soup.select_one(self.cover_css)

    def captions(self) -> list[Caption]:
        # The cover's caption is its title/alt text; the credit sits beside it after a "©".
        cover = self._cover
        text = clean_text(str(cover.get("title") or cover.get("alt") or "")) if cover else ""
        credit = select_text(self.soup, self.cover_credit_css)
        if not (text or credit):
            return []
        return [split_copyright(f"{text} {credit}".strip())]

    def images(self) -> list[dict[str, Any]]:
        # og:image is a generated sharing card (/sharing_snippet/<id>.png), not the photo.
        cover = self._cover
        src = absolute_url(self.url, str(cover.get("src") or "")) if cover else None
        if src is None:
            return og_images(self.soup, self.url)
        return [{"src": src, "alt": clean_text(str(cover.get("alt") or "")) or None}]


# Markup decides first; by URL, sputniknews.com is the 2019 template and the rest the current one.
VERSIONS: tuple[type[RiaNewsParser], ...] = (RiaArticle, Sputnik2019)
