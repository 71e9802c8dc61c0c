"""Global Times (www.globaltimes.cn, English): one parser class per site template.

Selectors come from ../shared/SOURCES.md §1. Both templates put the prose in bare text nodes
separated by `<br>` (not `<p>`), so the body is built with `paragraphs_from`, never with a
"text of every <p>" rule, which would both glue paragraphs and swallow the related rail.
Page times carry no zone: they are Beijing time (the source's Asia/Shanghai).

* `GlobalTimes2021`: `/page/YYYYMM/<id>.shtml`, the template in use since about February 2021
  (verified on two real 2026 pages).
* `GlobalTimes2009`: `/content/<id>.shtml`, the Bootstrap-2 template of 2009-2020. No real
  article page of it is available; its selectors come from public crawlers that parsed it
  (see tests/data/pages/globaltimes/pages.toml), and the golden page is a reconstruction.
"""

from __future__ import annotations

import logging
import re
from datetime import date
from functools import cached_property
from typing import Any

from bs4 import BeautifulSoup
from bs4.element import Tag

from crawler.normalize import (
    Caption,
    DateInfo,
    clean_text,
    has_credit,
    join_paragraphs,
    localize_parsed,
    paragraphs_from,
    parse_published_updated,
    split_credit,
)
from crawler.parsers.base import BaseParser, FieldError
from crawler.parsers.utility import (
    absolute_url,
    meta_content,
    select_text,
    split_authors,
    split_keywords,
    text_of,
)

logger = logging.getLogger(__name__)

# A paragraph of the body this short that ends with "Photo: Xinhua" is a caption.
MAX_CAPTION_CHARS = 400
_TITLE_SUFFIX = re.compile(r"\s+-\s+Global Times\s*$")


class GlobalTimesParser(BaseParser):
    """What both templates share: head metadata, caption handling, English."""

    name = "globaltimes"

    body_css: str = ""
    # <p class="picture"> holds the caption under a <center><img>.
    caption_class: str = "picture"

    def language(self) -> str | None:
        return "en"

    def kind(self) -> str:
        return "article"

    def tags(self) -> list[str]:
        # The CMS fills the keywords meta with single lower-case words; they are all the page has.
        return split_keywords(meta_content(self.soup, name="keywords"))

    def canonical_url(self) -> str | None:
        # No og:url or rel=canonical on the 2021 template; twitter:url is the canonical URL.
        href = meta_content(self.soup, name="twitter:url")
        return absolute_url(self.url, href) or super().canonical_url()

    def _title_from_head(self) -> str:
        return meta_content(self.soup, name="twitter:title") or _TITLE_SUFFIX.sub(
            "", text_of(self.soup.find("title"))
        )

    # --- body and captions --------------------------------------------------------------------

    @cached_property
    def _body_element(self) -> Tag:
        element = self.soup.select_one(self.body_css)
        if element is None:
            raise FieldError(f"no body element {self.body_css!r}")
        return element

    def _is_caption_markup(self, tag: Tag) -> bool:
        classes = tag.get("class") or []
        return tag.name == "p" and self.caption_class in classes

    def _skip(self, tag: Tag) -> bool:
        # Images sit in <center>; captions in p.picture; both are kept apart from the prose.
        return tag.name in ("center", "img", "figure") or self._is_caption_markup(tag)

    @cached_property
    def _split(self) -> tuple[list[str], list[Caption]]:
        """(prose paragraphs, captions) of the body element."""
        element = self._body_element
        captions = [
            split_credit(text_of(p))
            for p in element.find_all("p")
            if self._is_caption_markup(p) and text_of(p)
        ]
        alt_list = [clean_text(str(img.get("alt", ""))) for img in element.find_all("img")]
        alts = set(alt_list)
        prose: list[str] = []
        for paragraph in paragraphs_from(element, skip=self._skip):
            # The 2009-2020 template printed captions as text in the body, ending in a credit
            # ("... has been completed. Photo: Xinhua"); the same text may repeat img@alt.
            if paragraph in alts or (len(paragraph) <= MAX_CAPTION_CHARS and has_credit(paragraph)):
                caption = split_credit(paragraph)
                if caption not in captions:
                    captions.append(caption)
            else:
                prose.append(paragraph)
        if not captions:
            # No caption paragraph: the credit-bearing alt text is the caption.
            captions = [split_credit(alt) for alt in dict.fromkeys(alt_list) if has_credit(alt)]
        return prose, captions

    def body(self) -> str:
        return join_paragraphs(self._split[0])

    def captions(self) -> list[Caption]:
        return self._split[1]

    def images(self) -> list[dict[str, Any]]:
        images = []
        for img in self._body_element.find_all("img"):
            src = absolute_url(self.url, str(img.get("src") or ""))
            if src:
                images.append({"src": src, "alt": clean_text(str(img.get("alt") or "")) or None})
        return images

    # --- dates --------------------------------------------------------------------------------

    def _date_line(self) -> str:
        raise NotImplementedError

    @cached_property
    def _dates(self) -> tuple[DateInfo | None, DateInfo | None]:
        line = self._date_line()
        published, updated = parse_published_updated(line)
        if published is None:
            raise FieldError(f"no 'Published:' date in {line!r}")
        return localize_parsed(published, self.page.zone), localize_parsed(updated, self.page.zone)

    def published(self) -> DateInfo | None:
        return self._dates[0]

    def updated(self) -> DateInfo | None:
        return self._dates[1]


class GlobalTimes2021(GlobalTimesParser):
    """The template since about February 2021 (ids from ~1,212,000)."""

    version = "2021"
    valid_from = date(2021, 2, 1)
    url_patterns = (r"globaltimes\.cn/page/\d{6}/\d+\.shtml",)

    title_css = "div.article_title"
    byline_css = "div.author_share_left span.byline"
    date_css = "span.pub_time"
    section_css = ("span.cloumm_level_one a", "span.cloumm_level_two a")  # sic: "cloumm"
    body_css = "div.article_content > div.article_right"

    @classmethod
    def detect(cls, soup: BeautifulSoup) -> bool:
        return soup.select_one(cls.body_css) is not None

    def title(self) -> str:
        return select_text(self.soup, self.title_css)

    def authors(self) -> list[str]:
        byline = select_text(self.soup, self.byline_css) or meta_content(
            self.soup, element_id="author_name"
        )
        return split_authors(byline)

    def section(self) -> str | None:
        parts = [select_text(self.soup, css) for css in self.section_css]
        parts = [p for p in parts if p]
        if parts:
            return " / ".join(parts)
        channel = meta_content(self.soup, element_id="channel_name")  # "CHINA,Military"
        return " / ".join(p.strip() for p in channel.split(",") if p.strip()) or None

    def _date_line(self) -> str:
        return select_text(self.soup, self.date_css)


class GlobalTimes2009(GlobalTimesParser):
    """The Bootstrap-2 template of 2009-2020 (`/content/<id>.shtml`)."""

    version = "2009"
    valid_from = date(2009, 4, 20)
    url_patterns = (r"globaltimes\.cn/content/\d+\.shtml",)

    title_css = "div.article-title h3"
    subtitle_css = "div.article-title h4"
    # "By <author> Source:Global Times Published: 2019/12/25 20:38:40"; the span width varies.
    source_line_css = ("div.article-source div[class*='text-left']", "div[class*='text-left']")
    body_css = "div.span12.row-content"
    crumbs_css = "div.crumbs a"

    @classmethod
    def detect(cls, soup: BeautifulSoup) -> bool:
        return (
            soup.select_one("div.article-title") is not None
            and soup.select_one(cls.body_css) is not None
        )

    @cached_property
    def _body_element(self) -> Tag:
        # Home and section pages also use div.row-content; the article's sits after its title.
        title = self.soup.select_one("div.article-title")
        element = title.find_next("div", class_="row-content") if title is not None else None
        if element is None:
            element = self.soup.select_one(self.body_css)
        if element is None:
            raise FieldError(f"no body element {self.body_css!r}")
        return element

    def title(self) -> str:
        return select_text(self.soup, self.title_css) or self._title_from_head()

    def subtitle(self) -> str | None:
        return select_text(self.soup, self.subtitle_css) or None

    def _source_line(self) -> str:
        for css in self.source_line_css:
            for node in self.soup.select(css):
                text = text_of(node)
                if "Published" in text:
                    return text
        return ""

    def authors(self) -> list[str]:
        match = re.search(r"\bBy\s+(.+?)\s+Source\s*:", self._source_line())
        return split_authors(match.group(1)) if match else []

    def section(self) -> str | None:
        # "Posted in: CHINA,Diplomacy" under the article, or the breadcrumb.
        for node in self.soup.find_all(string=re.compile(r"Posted in\s*:")):
            parent = node.parent
            text = text_of(parent) if parent is not None else str(node)
            posted = clean_text(text.split(":", 1)[1]) if ":" in text else ""
            if posted:
                return " / ".join(p.strip() for p in posted.split(",") if p.strip())
        crumbs = [text_of(a) for a in self.soup.select(self.crumbs_css)]
        crumbs = [c.rstrip(" >") for c in crumbs if c and c.lower() != "home"]
        return " / ".join(crumbs) or None

    def _date_line(self) -> str:
        return self._source_line()


# Newest first: when neither the markup nor the URL decides, the current template is assumed.
VERSIONS: tuple[type[GlobalTimesParser], ...] = (GlobalTimes2021, GlobalTimes2009)
