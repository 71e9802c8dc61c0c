"""CGTN (news.cgtn.com and its regional hosts, English), selectors from ../shared/SOURCES.md §7.

No real CGTN page is available: the markup is documented from public crawlers (the text blocks,
the section-and-date line, the byline) and from RSS fragments (the image blocks); the golden
pages in tests/data/pages/cgtn/ are reconstructions of it.

* headline `div.news-title`;
* `div.news-section-date` "Politics 13:37, 25-Apr-2025": the section, then the time
  (`%H:%M, %d-%b-%Y`, Beijing time, minute precision);
* byline `div.news-author` "By Gong Zhe", which may also hold an "Updated" time; "CGTN" alone
  names no person;
* prose: the `div.text … en` blocks inside `#cmsMainContent`, up to `sourceTextDiv` (the
  "Source(s): …" line, which is not prose);
* images `div.cmsImage`, captions `div.imageCaption p.title` ending with a credit ("/Xinhua").
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
    DateMatch,
    clean_text,
    paragraphs_from,
    search_date,
    split_credit,
    split_updated,
)
from crawler.parsers.base import FieldError
from crawler.parsers.cnmedia import CnMediaParser, people_in
from crawler.parsers.utility import absolute_url

logger = logging.getLogger(__name__)


class Cgtn(CnMediaParser):
    """The CGTN article template (the only one documented)."""

    name = "cgtn"
    version = "1"
    url_patterns = (r"cgtn\.com/news/\d{4}-\d{2}-\d{2}/",)
    title_suffix = re.compile(r"\s*-\s*CGTN\s*$")

    title_css = ("div.news-title",)
    body_css = ("#cmsMainContent",)
    section_date_css = "div.news-section-date"
    author_css = "div.news-author"
    # A prose block is a div whose classes include both "text" and "en".
    text_classes = frozenset({"text", "en"})
    image_class = "cmsImage"
    block_caption_css = "div.imageCaption p.title"
    # The "Source(s): …" line that closes the story (class and id).
    end_marker = "sourceTextDiv"

    @classmethod
    def detect(cls, soup: BeautifulSoup) -> bool:
        return soup.select_one("#cmsMainContent") is not None

    @cached_property
    def _blocks(self) -> list[tuple[str, Tag]]:
        """("text" | "image", block) of the story in page order, up to the sources line."""
        blocks: list[tuple[str, Tag]] = []
        for tag in self.body_element.find_all("div"):
            classes = set(tag.get("class") or [])
            if self.end_marker in classes or tag.get("id") == self.end_marker:
                break
            if self.text_classes <= classes:
                blocks.append(("text", tag))
            elif self.image_class in classes:
                blocks.append(("image", tag))
        return blocks

    def body_paragraphs(self) -> list[str]:
        paragraphs: list[str] = []
        for kind, block in self._blocks:
            if kind == "text":
                paragraphs += [p for p in (clean_text(t) for t in paragraphs_from(block)) if p]
        if not paragraphs:
            raise FieldError("no 'div.text … en' block before sourceTextDiv")
        return paragraphs

    def captions(self) -> list[Caption]:
        captions: list[Caption] = []
        for kind, block in self._blocks:
            if kind != "image":
                continue
            for node in block.select(self.block_caption_css):
                caption = split_credit(node.get_text(" "))
                if caption.text or caption.credit:
                    captions.append(caption)
        return captions

    def images(self) -> list[dict[str, Any]]:
        images: list[dict[str, Any]] = []
        for kind, block in self._blocks:
            if kind != "image":
                continue
            for img in block.find_all("img"):
                src = absolute_url(self.url, str(img.get("src") or img.get("data-src") or ""))
                if src:
                    alt = clean_text(str(img.get("alt") or "")) or None
                    images.append({"src": src, "alt": alt})
        return images

    # --- section, dates, byline ---------------------------------------------------------------

    @cached_property
    def _section_date(self) -> DateMatch:
        line = self.text_at((self.section_date_css,))
        found = search_date(line)
        if found is None:
            raise FieldError(f"no date in {self.section_date_css!r}: {line!r}")
        return found

    def section(self) -> str | None:
        return self._section_date.before or None

    def published(self) -> DateInfo | None:
        return self.local_date(self._section_date.parsed)

    @cached_property
    def _byline(self) -> tuple[str, DateInfo | None]:
        byline, updated = split_updated(self.text_at((self.author_css,)))
        return byline, self.local_date(updated, check_url=False)

    def authors(self) -> list[str]:
        return people_in(self._byline[0])

    def updated(self) -> DateInfo | None:
        return self._byline[1]


VERSIONS: tuple[type[Cgtn], ...] = (Cgtn,)
