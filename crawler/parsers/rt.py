"""RT (www.rt.com, English): one parser class per template (SOURCES.md §11).

Evidence: one real page, https://www.rt.com/news/473849-3-morales-supporters-killed-bolivia/
of 2019-11-20 (tests/data/pages/rt/, from scrapinghub/article-extraction-benchmark). The
selectors are that page's; public crawlers (SOURCES.md §15) use the same ones.

* `RT2019`: headline `h1.article__heading`, summary `div.article__summary` (the subtitle),
  prose `div.article__text` without its embedded "Also on rt.com" teasers (`read-more*`),
  cover caption `div.media__title` (`span[data-role=title]` + the `©` credit), date
  `span.date_article-header` "20 Nov, 2019 05:47", which is GMT (the JSON-LD says
  "2019-11-20T05:47:00+00:00"). The JSON-LD author is the Organization "RT", not a person.

Since March 2022 rt.com answers scripts with a DDoS-Guard browser check; such a page is
marked `blocked` before any parser runs (`crawler.parsers.utility.block_reason`).
"""

from __future__ import annotations

import logging
import re
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit

from bs4 import BeautifulSoup
from bs4.element import NavigableString, Tag

from crawler.normalize import (
    Caption,
    DateInfo,
    clean_text,
    join_paragraphs,
    localize_parsed,
    paragraphs_from,
    parse_day_first_english,
    split_copyright,
)
from crawler.parsers.base import BaseParser, FieldError
from crawler.parsers.utility import (
    drop_matching,
    json_ld_article,
    json_ld_dates,
    json_ld_people,
    meta_content,
    og_images,
    people_only,
    select_text,
    text_of,
)

logger = logging.getLogger(__name__)

# twitter:title is "Headline — RT World News"; og:title is the bare headline.
_TITLE_SUFFIX = re.compile(r"\s+[—–-]\s+RT\b.*$")


class RT2019(BaseParser):
    """The rt.com article template seen in 2019."""

    name = "rt"
    version = "2019"
    # valid_from stays unset: the template is known from one page of 2019-11-20, no start date.
    url_patterns = (r"^https?://(?:www\.)?rt\.com/[a-z-]+/\d+-",)

    title_css = "h1.article__heading"
    summary_css = "div.article__summary"
    body_css = "div.article__text"
    # Embedded teasers of other stories ("Also on rt.com …"): a.read-more-big, div.read-more.
    teaser_class = re.compile(r"^read-more")
    caption_css = "div.media__title span[data-role=title]"
    credit_css = "div.media__title span[data-role=copyright]"
    date_css = "span.date_article-header"
    crumbs_css = "div.breadcrumbs a"
    trends_css = "a.tags-trends__link"
    # The share prompt closing every story.
    boilerplate = (re.compile(r"share it with a friend!?$", re.IGNORECASE),)

    @classmethod
    def detect(cls, soup: BeautifulSoup) -> bool:
        return soup.select_one(cls.title_css) is not None

    def language(self) -> str | None:
        return "en"

    def title(self) -> str:
        title = select_text(self.soup, self.title_css)
        return title or _TITLE_SUFFIX.sub("", meta_content(self.soup, prop="og:title"))

    def subtitle(self) -> str | None:
        return select_text(self.soup, self.summary_css) or None

    def authors(self) -> list[str]:
        article = json_ld_article(self.soup) or {}
        return people_only(json_ld_people(article.get("author")))

    def section(self) -> str | None:
        crumbs = [text_of(a) for a in self.soup.select(self.crumbs_css)]
        crumbs = [c for c in crumbs if c and c.lower() != "home"]
        if crumbs:
            return crumbs[-1]
        parts = [p for p in urlsplit(self.url).path.split("/") if p]
        return parts[0] if len(parts) >= 2 else None

    def tags(self) -> list[str]:
        tags: list[str] = []
        for link in self.soup.select(self.trends_css):
            tag = text_of(link)
            if tag and tag not in tags:
                tags.append(tag)
        return tags

    # --- dates --------------------------------------------------------------------------------

    def _shown_date(self) -> str:
        """The date text itself: the span also holds "/ Updated …", which script fills in."""
        span = self.soup.select_one(self.date_css)
        if span is None:
            raise FieldError(f"no date element {self.date_css!r}")
        own = [str(s) for s in span.children if isinstance(s, NavigableString)]
        return clean_text(" ".join(own))

    def published(self) -> DateInfo | None:
        text = self._shown_date()
        parsed = parse_day_first_english(text)
        if parsed is None:
            raise FieldError(f"unreadable date {text!r}")
        return localize_parsed(parsed, self.page.zone)

    def updated(self) -> DateInfo | None:
        # The page computes "Updated N ago" in script from the time JSON-LD names dateModified.
        return json_ld_dates(self.soup, self.page.zone)[1]

    # --- body, captions, images ---------------------------------------------------------------

    def _skip(self, tag: Tag) -> bool:
        return any(self.teaser_class.match(c) for c in tag.get("class") or [])

    @cached_property
    def _paragraphs(self) -> list[str]:
        body = self.soup.select_one(self.body_css)
        if body is None:
            raise FieldError(f"no body element {self.body_css!r}")
        return drop_matching(paragraphs_from(body, skip=self._skip), self.boilerplate)

    def body(self) -> str:
        return join_paragraphs(self._paragraphs)

    def dateline(self) -> str | None:
        return None  # RT stories carry no wire dateline

    def captions(self) -> list[Caption]:
        text = select_text(self.soup, self.caption_css)
        credit = select_text(self.soup, self.credit_css)
        if not (text or credit):
            return []
        return [split_copyright(f"{text} © {credit}" if credit else text)]

    def images(self) -> list[dict[str, Any]]:
        return og_images(self.soup, self.url)


VERSIONS: tuple[type[RT2019], ...] = (RT2019,)
