"""What the Chinese-media parsers share: Xinhua, China Daily, CGTN, People's Daily, huanqiu.

These sites (SOURCES.md §5-§9) put an article's prose in one element (`#detail`, `#Content`,
`div.rm_txt_con`, ...) as `<p>` paragraphs, with non-prose blocks inside it (photo galleries,
editor lines, share bars); they print dates in the source's zone (Beijing time) without an
offset, and carry the publication day in the URL. This module owns the part of parsing that
follows from that, so each site module only declares its selectors and reads its own lines:

* `CnMediaParser`: title (selector, then og:title, then `<title>` minus the site suffix),
  body paragraphs of the body element without its non-prose subtrees, captions and images,
  Chinese wire datelines ("新华社巴黎12月9日电（记者唐霁）") and their reporters, English wire
  datelines ("BEIJING, Dec. 25 (Xinhua) --"), editor and production credits, keywords, and
  page dates checked against the URL's date;
* the clean-up rules themselves live in `crawler.normalize` (section "Chinese media").

Chinese text goes through `clean_cjk_text` (full-width spaces and letters, spaces beside
Chinese punctuation); English text through `clean_text`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from datetime import date
from functools import cached_property
from typing import Any, ClassVar

from bs4 import BeautifulSoup
from bs4.element import Tag

from crawler.normalize import (
    Caption,
    DateInfo,
    ParsedDate,
    cjk_byline,
    cjk_names,
    clean_cjk_text,
    clean_text,
    join_paragraphs,
    localize_parsed,
    paragraphs_from,
    prefer_url_date,
    split_cjk_credit,
    split_cjk_dateline,
    split_credit,
    strip_credit_lines,
    trailing_reporters,
)
from crawler.parsers.base import BaseParser, FieldError, find_dateline
from crawler.parsers.utility import (
    absolute_url,
    meta_content,
    split_authors,
    split_keywords,
    text_of,
)

logger = logging.getLogger(__name__)

# A body paragraph this short that ends with a photo credit is a caption, not prose.
MAX_CAPTION_CHARS = 300
# Bylines and repeated headlines sit in the first few paragraphs only.
LEAD_PARAGRAPHS = 3
# "题：<headline>" after a dateline: the wire's repeat of the headline.
_HEADLINE_REPEAT = re.compile(r"^题\s*[:：]\s*")


def first_match(root: Tag | BeautifulSoup, selectors: Iterable[str]) -> Tag | None:
    """The first element matching the first selector that matches anything."""
    for css in selectors:
        found = root.select_one(css)
        if found is not None:
            return found
    return None


class CnMediaParser(BaseParser):
    """Selectors and clean-up shared by the Chinese-media parsers; subclasses set the CSS."""

    # Headline element, first match wins; then og:title, then <title> minus `title_suffix`.
    title_css: ClassVar[tuple[str, ...]] = ()
    title_suffix: ClassVar[re.Pattern[str] | None] = None
    # The element holding the prose, first match wins.
    body_css: ClassVar[tuple[str, ...]] = ()
    # Subtrees of the body element that are never prose (galleries, editor lines, share bars).
    skip_css: ClassVar[tuple[str, ...]] = ()

    # --- helpers ------------------------------------------------------------------------------

    @property
    def chinese(self) -> bool:
        return self.language() == "zh"

    def clean(self, text: str | None) -> str:
        return clean_cjk_text(text) if self.chinese else clean_text(text)

    def text_at(self, selectors: Iterable[str], root: Tag | BeautifulSoup | None = None) -> str:
        """Clean text of the first element matching `selectors` ('' when none does)."""
        node = first_match(self.soup if root is None else root, selectors)
        return self.clean(node.get_text(" ")) if node is not None else ""

    def local_date(self, parsed: ParsedDate | None, check_url: bool = True) -> DateInfo | None:
        """A page date in the record's convention, read in the source's zone.

        `check_url`: the URL's day wins when the page's is more than three days off (China
        Daily's Buddhist-era years); an update time may legitimately be later, so it is not.
        """
        if check_url:
            parsed = prefer_url_date(parsed, self.url)
        elif parsed is not None and not 1990 <= parsed.value.year <= date.today().year + 1:
            # A Buddhist-era or zero year in a time the URL cannot check: no date beats a wrong one.
            logger.warning("Implausible date %s on %s; ignored", parsed.value, self.url)
            return None
        return localize_parsed(parsed, self.page.zone)

    # --- title, tags --------------------------------------------------------------------------

    def title(self) -> str:
        title = self.text_at(self.title_css) if self.title_css else ""
        if title:
            return title
        og_title = self.clean(meta_content(self.soup, prop="og:title"))
        if og_title:
            return og_title
        head = self.clean(text_of(self.soup.find("title")))
        return self.title_suffix.sub("", head).strip() if self.title_suffix else head

    def tags(self) -> list[str]:
        return split_keywords(meta_content(self.soup, name="keywords"))

    # --- body ---------------------------------------------------------------------------------

    @cached_property
    def body_element(self) -> Tag:
        element = first_match(self.soup, self.body_css)
        if element is None:
            raise FieldError(f"no body element {' or '.join(self.body_css)!r}")
        return element

    @cached_property
    def _skipped(self) -> set[int]:
        # Element identities, not a mutated tree: the generic fallback reads the same soup.
        return {id(tag) for css in self.skip_css for tag in self.body_element.select(css)}

    def _skip(self, tag: Tag) -> bool:
        return id(tag) in self._skipped

    def body_paragraphs(self) -> list[str]:
        """The body element's paragraphs, non-prose subtrees left out, text cleaned."""
        paragraphs = paragraphs_from(self.body_element, skip=self._skip)
        return [p for p in (self.clean(p) for p in paragraphs) if p]

    def _as_caption(self, paragraph: str) -> Caption | None:
        if len(paragraph) > MAX_CAPTION_CHARS:
            return None
        caption = split_cjk_credit(paragraph) if self.chinese else split_credit(paragraph)
        return caption if caption.credit else None

    @cached_property
    def _split(self) -> tuple[list[str], list[Caption], list[str]]:
        """(prose paragraphs, captions, names from byline paragraphs) of the body element."""
        captions: list[Caption] = []
        prose: list[str] = []
        for paragraph in self.body_paragraphs():
            caption = self._as_caption(paragraph)
            if caption is None:
                prose.append(paragraph)
            elif caption not in captions:
                captions.append(caption)
        prose = strip_credit_lines(prose)
        prose, byline_names = self._tidy_lead(prose)
        return prose, captions, byline_names

    def _tidy_lead(self, prose: list[str]) -> tuple[list[str], list[str]]:
        """Drop byline paragraphs and the wire's repeat of the headline from the first
        paragraphs; returns (the prose, the names the bylines gave)."""
        if not self.chinese:
            return prose, []
        title = self.title()
        kept: list[str] = []
        names: list[str] = []
        for index, paragraph in enumerate(prose):
            if index < LEAD_PARAGRAPHS:
                byline = cjk_byline(paragraph)
                if byline is not None:
                    names += byline
                    continue
                if self._is_headline_repeat(paragraph, title):
                    continue
            kept.append(paragraph)
        return kept, names

    @staticmethod
    def _is_headline_repeat(paragraph: str, title: str) -> bool:
        # "新华社北京4月24日电 题：<headline>": only a dateline and the headline, no prose.
        wire = split_cjk_dateline(paragraph)
        rest = wire.rest if wire else paragraph
        if not _HEADLINE_REPEAT.match(rest):
            return False
        return _HEADLINE_REPEAT.sub("", rest).strip() == title or not title

    def body(self) -> str:
        return join_paragraphs(self._split[0])

    def captions(self) -> list[Caption]:
        return self._split[1]

    def images(self) -> list[dict[str, Any]]:
        images: list[dict[str, Any]] = []
        seen: set[str] = set()
        for img in self.body_element.find_all("img"):
            if any(id(parent) in self._skipped for parent in img.parents):
                continue  # an icon of a share bar or an editor line, not the story's picture
            src = absolute_url(self.url, str(img.get("src") or img.get("data-src") or ""))
            if src and src not in seen:
                seen.add(src)
                images.append({"src": src, "alt": self.clean(str(img.get("alt") or "")) or None})
        if not images:
            # No picture in the story: the page's share image is its lead picture.
            src = absolute_url(self.url, meta_content(self.soup, prop="og:image"))
            if src:
                images.append({"src": src, "alt": None})
        return images

    # --- datelines and reporters --------------------------------------------------------------

    @cached_property
    def _first_paragraph(self) -> str:
        # The dateline may sit in a paragraph that _tidy_lead dropped ("…电 题：<headline>").
        paragraphs = strip_credit_lines(self.body_paragraphs())
        return paragraphs[0] if paragraphs else ""

    def dateline(self) -> str | None:
        if self.chinese:
            wire = split_cjk_dateline(self._first_paragraph)
            return wire.dateline if wire else None
        return find_dateline(self._first_paragraph)

    def wire_reporters(self) -> list[str]:
        """People a wire story credits: in its dateline ("（记者唐霁）"), in byline paragraphs
        ("本报记者 张三"), and at its end ("（记者宋晨、田中全）")."""
        if not self.chinese:
            return []
        names: list[str] = []
        wire = split_cjk_dateline(self._first_paragraph)
        if wire:
            names += wire.reporters
        names += self._split[2]
        prose = self._split[0]
        if prose:
            names += trailing_reporters(prose[-1])
        return list(dict.fromkeys(names))

    def authors(self) -> list[str]:
        return self.wire_reporters()


def people_in(byline: str | None) -> list[str]:
    """People of an English or Chinese byline, agencies left out ("By Xinhua" -> [])."""
    text = clean_text(byline)
    if not text:
        return []
    if re.search(r"[\u4e00-\u9fff]", text):
        return cjk_names(text)
    return split_authors(text)
