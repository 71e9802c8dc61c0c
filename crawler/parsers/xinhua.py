"""Xinhua (www.news.cn / www.xinhuanet.com, Chinese; english.news.cn, English): one class per
page template, selectors from ../shared/SOURCES.md §5.

* `Xinhua2021`: the template of `/<section>/YYYYMMDD/<32 hex>/c.html` pages (2021 on), shared
  by the Chinese and English sites: headline `div.head-line h1 span.title`, time split into
  `div.header-time` year / month-day / clock, prose in `div#detail`, editor `span.editor`.
  SOURCES.md documents it from a 2023 Chinese page that is not among our fixtures; the golden
  pages (tests/data/pages/xinhua_en/, xinhua_zh/2021_*) are reconstructions of that markup.
* `Xinhua2019`: the template of `/<section>/YYYY-MM/DD/c_<n>.htm` pages, verified on a real
  2019 page: headline `div.h-title`, time `span.h-time` "2019-12-10 07:57:40", prose in
  `div#p-detail`, which opens with an empty photo-gallery swiper (`div.lb`, whose "图集" label
  the generic extraction took for prose) and ends with the "责任编辑：…" line.

Wire datelines go to `dateline` ("新华社巴黎12月9日电", "BEIJING, Dec. 25 (Xinhua)"), the
reporters the Chinese dateline credits to `authors`; "Xinhua" itself is never an author. The
body keeps the dateline's sentence, as the story prints it. Times are Beijing time.
"""

from __future__ import annotations

import logging
import re
from datetime import date
from urllib.parse import urlsplit

from bs4 import BeautifulSoup

from crawler.normalize import DateInfo, ParsedDate, parse_date_text, search_date
from crawler.parsers.base import FieldError
from crawler.parsers.cnmedia import CnMediaParser

logger = logging.getLogger(__name__)

# "<headline>-新华网", "<headline>-Xinhua", "<headline> - Xinhua | English.news.cn"
_TITLE_SUFFIX = re.compile(r"\s*[-_|–]\s*(?:新华网|新华社|Xinhua(?:net)?)\b.*$", re.IGNORECASE)
# The channel in the URL path: www.news.cn/<section>/..., www.xinhuanet.com/<section>/...
_URL_SECTION = re.compile(r"^/(?P<section>[a-z]+)/(?:\d{8}/[0-9a-f]{32}/|\d{4}-\d{2}/\d{2}/)")


class XinhuaParser(CnMediaParser):
    """What both templates share: the keywords meta, the URL's channel, the wire conventions."""

    name = "xinhua"
    title_suffix = _TITLE_SUFFIX

    def section(self) -> str | None:
        match = _URL_SECTION.match(urlsplit(self.url).path)
        if match is None or match.group("section") == "english":
            return None
        return match.group("section")


class Xinhua2021(XinhuaParser):
    """The template of the 2021+ URL scheme (news.cn and english.news.cn)."""

    version = "2021"
    valid_from = date(2021, 1, 1)
    url_patterns = (r"\.cn/(?:[a-z]+/)?\d{8}/[0-9a-f]{32}/c\.html",)

    title_css = ("div.head-line h1 span.title", "div.head-line h1")
    body_css = ("div#detail",)
    # The editor line sits in or after #detail: "【责任编辑:张樵苏 】", "Editor: Huaxia".
    skip_css = ("span.editor", "div.editor")
    time_css = "div.header-time"

    @classmethod
    def detect(cls, soup: BeautifulSoup) -> bool:
        return soup.select_one("div#detail") is not None and (
            soup.select_one(cls.time_css) is not None
            or soup.select_one("div.head-line") is not None
        )

    def _header_time(self) -> ParsedDate:
        """`div.header-time`: year "2026", month/day "06"/"18", clock "16:42:07"."""
        header = self.soup.select_one(self.time_css)
        if header is None:
            raise FieldError(f"no {self.time_css!r}")
        year = self.clean(header.select_one("span.year").get_text())
        month, day = (self.clean(em.get_text()) for em in header.select("span.day em")[:2])
        clock = header.select_one("span.time")
        clock_text = self.clean(clock.get_text()) if clock is not None else ""
        parsed = parse_date_text(f"{year}-{month}-{day} {clock_text}".strip())
        if parsed is None:
            raise FieldError(f"unreadable header time {header.get_text(' ')!r}")
        return parsed

    def published(self) -> DateInfo | None:
        return self.local_date(self._header_time())


class Xinhua2019(XinhuaParser):
    """The template of the `c_<n>.htm` URL scheme (verified on a real page of 2019-12-10)."""

    version = "2019"
    valid_from = None  # the start of this URL scheme and template is not established
    url_patterns = (r"/\d{4}-\d{2}/\d{2}/c_\d+\.htm",)

    title_css = ("div.h-title",)
    body_css = ("div#p-detail",)
    # The gallery swiper (div.lb, "图集"), the hidden video slot, the like/share bar
    # (div.tadd) and the tags line holding "【纠错】" and "责任编辑：…" (div.p-tags).
    skip_css = ("div.lb", "div.video-url", "div.tadd", "div.p-tags")
    time_css = "span.h-time"

    @classmethod
    def detect(cls, soup: BeautifulSoup) -> bool:
        return (
            soup.select_one("div#p-detail") is not None
            or soup.select_one("div.h-title") is not None
        )

    def published(self) -> DateInfo | None:
        line = self.text_at((self.time_css,))
        found = search_date(line)
        if found is None:
            raise FieldError(f"no date in {self.time_css!r}: {line!r}")
        return self.local_date(found.parsed)


# Newest first: when neither markup nor URL decides, the current template is assumed.
VERSIONS: tuple[type[XinhuaParser], ...] = (Xinhua2021, Xinhua2019)
