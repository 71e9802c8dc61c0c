"""China Daily (www.chinadaily.com.cn, English; cn/china/world.chinadaily.com.cn, Chinese): the
two sites' article templates, selectors from ../shared/SOURCES.md §6.

* `ChinaDailyZh`: verified on a real page of 2023-11-17: headline `h1.dabiaoti`, source line
  and time in `div.fenx div.xinf-le` ("来源：中国日报网", "2023-11-17 15:13"), prose in
  `div#Content.article` (`<strong>` subheads are paragraphs of their own), breadcrumb
  `div.da-bre`, metas `publishdate`, `author`, `editor`. The story ends with editor credits
  ("（编辑：严玉洁 王辉）", "【责任编辑：严玉洁】"), which are removed.
* `ChinaDailyEn`: no real page is available; SOURCES.md documents (from public crawlers) the
  prose in `#Content` and the line `div.info_l` "By Zhang Zhihao | China Daily | Updated:
  2023-03-20 08:10" (Beijing time), which gives the authors and the update time. The golden
  pages in tests/data/pages/chinadaily_en/ are reconstructions of that markup.

The two are concurrent templates of two sites rather than redesigns; the markup picks one.
Publication dates: the meta `publishdate` (a day) and the zh page's time are checked against
the URL's /a/YYYYMM/DD/ day, which wins when they are more than three days apart: the meta
has carried Buddhist-era years ("2569-10-12" for 2026-10-12).

Authors are people only: the zh `author` meta holds the CMS user, who is often the editor
named in `editor` and in the editor lines; such a name is not taken for an author.
"""

from __future__ import annotations

import logging
import re

from bs4 import BeautifulSoup

from crawler.normalize import (
    DateInfo,
    parse_date_text,
    search_date,
    split_updated,
)
from crawler.parsers.cnmedia import CnMediaParser, people_in
from crawler.parsers.utility import meta_content

logger = logging.getLogger(__name__)

_TITLE_SUFFIX = re.compile(r"\s*[-_|]\s*(?:Chinadaily\.com\.cn|China Daily|中国日报网?)\s*$", re.I)
# Editor credits at the end of zh stories, to learn who edited it: "（编辑：严玉洁 王辉）".
_EDITOR_NAMES = re.compile(r"(?:责任编辑|编辑)\s*[:：]\s*([^】)）]+)")


class ChinaDailyParser(CnMediaParser):
    """What both sites share: `#Content`, the publishdate meta, the URL date check."""

    name = "chinadaily"
    title_suffix = _TITLE_SUFFIX
    body_css = ("div#Content",)

    def _meta_date(self) -> DateInfo | None:
        return self.local_date(parse_date_text(meta_content(self.soup, name="publishdate")))


class ChinaDailyZh(ChinaDailyParser):
    """cn/china/world.chinadaily.com.cn articles (verified on a real page of 2023-11-17)."""

    version = "zh"
    url_patterns = (r"//(?:cn|china|world)\.chinadaily\.com\.cn/a/",)
    title_css = ("h1.dabiaoti",)
    info_css = "div.fenx div.xinf-le"

    @classmethod
    def detect(cls, soup: BeautifulSoup) -> bool:
        return (
            soup.select_one("h1.dabiaoti") is not None or soup.select_one(cls.info_css) is not None
        )

    def published(self) -> DateInfo | None:
        # The second xinf-le block prints the time ("2023-11-17 15:13"); the meta only the day.
        for node in self.soup.select(self.info_css):
            found = search_date(node.get_text(" "))
            if found is not None:
                return self.local_date(found.parsed)
        return self._meta_date()

    def section(self) -> str | None:
        # "评论 > 海外观察"; the breadcrumb is printed twice (phone and desktop headers).
        crumbs = (
            self.clean(a.get_text(" ")).lstrip("> ") for a in self.soup.select("div.da-bre a")
        )
        return " / ".join(dict.fromkeys(c for c in crumbs if c)) or None

    def _editors(self) -> set[str]:
        editors = set(people_in(meta_content(self.soup, name="editor")))
        for paragraph in self.body_element.find_all(string=_EDITOR_NAMES):
            for match in _EDITOR_NAMES.finditer(self.clean(str(paragraph))):
                editors.update(people_in(match.group(1)))
        return editors

    def authors(self) -> list[str]:
        authors = people_in(meta_content(self.soup, name="author")) + self.wire_reporters()
        editors = self._editors()
        return [a for a in dict.fromkeys(authors) if a not in editors]


class ChinaDailyEn(ChinaDailyParser):
    """www.chinadaily.com.cn articles (markup from public crawlers; no real page available)."""

    version = "en"
    url_patterns = (r"//www\.chinadaily\.com\.cn/a/",)
    info_css = "div.info_l"

    @classmethod
    def detect(cls, soup: BeautifulSoup) -> bool:
        return soup.select_one(cls.info_css) is not None

    def _info(self) -> tuple[str, DateInfo | None]:
        """("By Zhang Zhihao | China Daily", the "Updated:" time) of `div.info_l`."""
        byline, updated = split_updated(self.text_at((self.info_css,)))
        return byline, self.local_date(updated, check_url=False)

    def authors(self) -> list[str]:
        byline = self._info()[0]
        # "By Zhang Zhihao | China Daily": the people are in the part that starts with "By".
        for part in byline.split("|"):
            if re.match(r"\s*By\b", part, re.IGNORECASE):
                return people_in(part)
        return people_in(meta_content(self.soup, name="author"))

    def published(self) -> DateInfo | None:
        # The page prints only "Updated:"; the publication day is the meta's (or the URL's).
        return self._meta_date()

    def updated(self) -> DateInfo | None:
        return self._info()[1]


# The markup decides (the zh and en sites serve different templates); then the host.
VERSIONS: tuple[type[ChinaDailyParser], ...] = (ChinaDailyZh, ChinaDailyEn)
