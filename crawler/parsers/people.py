"""People's Daily Online: 人民网 (<channel>.people.com.cn, Chinese) and en.people.cn (English),
one class per template, selectors from ../shared/SOURCES.md §8.

* `People2020`: the 人民网 template since 2020, verified on a real page of 2024-04-24: headline
  `h1` between the kicker `h3.pre` and the deck `h4.sub`, the line `div.col-1-1`
  "2024年04月24日23:52 | 来源：新华网" (minute precision), prose in `div.rm_txt_con`, editor
  line `div.edit` "(责编：牛镛、岳弘彬)".
* `People2016`: the 人民网 template of 2016-2019 (`div.box01 div.fl` "2019年06月15日08:18  来源：…",
  prose in `div.box_con#rwb_zw`). No real page is available; the golden page
  people_zh/2019_* is a reconstruction of the documented markup.
* `PeopleEn`: en.people.cn (markup from public crawlers; the golden pages are reconstructions):
  prose in the first of `div.w860.d2txtCon`, `#p_content`, `div.wb_12.wb_left`, `div.main_l`,
  without the "(Web editor: …)" line; the publication day from the `publishdate` meta (the
  template's byline and clock are not documented, so they are not read).

The 人民网 `<title>` is "<headline>--<channel>--人民网": the channel is the section, and the
headline is taken without it. 人民网 pages are GBK-encoded (decoded as GB18030 upstream). Wire
stories reprinted from Xinhua keep Xinhua's dateline ("新华社北京4月24日电") and name their
reporters at the end ("（记者宋晨、田中全）"): those go to `dateline` and `authors`.
"""

from __future__ import annotations

import logging
import re
from datetime import date
from functools import cached_property

from bs4 import BeautifulSoup
from bs4.element import Tag

from crawler.normalize import DateInfo, parse_date_text, search_date
from crawler.parsers.base import FieldError
from crawler.parsers.cnmedia import CnMediaParser
from crawler.parsers.utility import meta_content, split_keywords

logger = logging.getLogger(__name__)

# "<headline>--时政--人民网", "<headline>--人民网", "<headline> - People's Daily Online"
_TITLE_SUFFIX = re.compile(r"\s*(?:--[^-]+)*--\s*人民网\s*$|\s+-\s+People's Daily Online\s*$")
_TITLE_CHANNEL = re.compile(r"--\s*(?P<channel>[^-]+?)\s*--\s*人民网\s*$")


class PeopleParser(CnMediaParser):
    """What the templates share: the <title> conventions, keywords, the editor line."""

    name = "people"
    title_suffix = _TITLE_SUFFIX
    # The editor line, the share bar and the (empty) pager are inside the prose element.
    skip_css = ("div.edit", "p.paper_num", "div.zdfy")

    def tags(self) -> list[str]:
        # 人民网 separates keywords with spaces ("深空探测 探月工程 …"); Chinese tags have none.
        keywords = meta_content(self.soup, name="keywords")
        if self.chinese:
            return split_keywords(keywords.split())
        return split_keywords(keywords)

    def section(self) -> str | None:
        match = _TITLE_CHANNEL.search(
            self.clean(self.soup.title.get_text()) if self.soup.title else ""
        )
        return match.group("channel") if match else None


class PeopleZhParser(PeopleParser):
    """人民网: the headline block sits right before the date line, in both templates."""

    date_css: str = ""

    @cached_property
    def _date_node(self) -> Tag:
        node = self.soup.select_one(self.date_css)
        if node is None:
            raise FieldError(f"no date line {self.date_css!r}")
        return node

    @cached_property
    def _headline(self) -> Tag | None:
        # The first non-empty <h1> before the date line (the page's logo is an <h1> too).
        # Without a date line, title() falls back to <title> minus "--<channel>--人民网".
        date_node = self.soup.select_one(self.date_css)
        node = date_node.find_previous("h1") if date_node is not None else None
        while node is not None and not self.clean(node.get_text(" ")):
            node = node.find_previous("h1")
        return node

    def title(self) -> str:
        headline = self._headline
        return self.clean(headline.get_text(" ")) if headline is not None else super().title()

    def subtitle(self) -> str | None:
        headline = self._headline
        if headline is None:
            return None
        # The deck (h4.sub) under the headline, else the kicker (h3.pre) above it.
        for found in (
            headline.find_next_sibling("h4", class_="sub"),
            headline.find_previous_sibling("h3", class_="pre"),
        ):
            text = self.clean(found.get_text(" ")) if found is not None else ""
            if text:
                return text
        return None

    def published(self) -> DateInfo | None:
        found = search_date(self._date_node.get_text(" "))
        if found is None:
            # The line lost its time: the meta still has the day.
            return self.local_date(parse_date_text(meta_content(self.soup, name="publishdate")))
        return self.local_date(found.parsed)


class People2020(PeopleZhParser):
    """人民网 since 2020 (verified on a real page of 2024-04-24)."""

    version = "2020"
    valid_from = date(2020, 1, 1)
    url_patterns = (r"people\.com\.cn/n[12]/(?:202\d|20[3-9]\d)/",)
    date_css = "div.col-1-1"
    body_css = ("div.rm_txt_con",)

    @classmethod
    def detect(cls, soup: BeautifulSoup) -> bool:
        return soup.select_one("div.rm_txt_con") is not None


class People2016(PeopleZhParser):
    """人民网 of 2016-2019 (documented markup; no real page available)."""

    version = "2016"
    valid_from = date(2016, 1, 1)
    url_patterns = (r"people\.com\.cn/n[12]/201[6-9]/",)
    date_css = "div.box01 div.fl"
    body_css = ("div.box_con#rwb_zw", "div#rwb_zw", "div.box_con")

    @classmethod
    def detect(cls, soup: BeautifulSoup) -> bool:
        return soup.select_one("div#rwb_zw") is not None or soup.select_one("div.box01") is not None


class PeopleEn(PeopleParser):
    """en.people.cn (markup from public crawlers; no real page available)."""

    version = "en"
    url_patterns = (r"//(?:en\.people\.cn|english\.people(?:daily)?\.com\.cn)/",)
    body_css = ("div.w860.d2txtCon", "div#p_content", "div.wb_12.wb_left", "div.main_l")

    @classmethod
    def detect(cls, soup: BeautifulSoup) -> bool:
        return (
            soup.select_one("div.d2txtCon") is not None or soup.select_one("#p_content") is not None
        )

    def published(self) -> DateInfo | None:
        return self.local_date(parse_date_text(meta_content(self.soup, name="publishdate")))


# Markup first (the 2020 and 2016 人民网 templates and the English site differ); then URL shape.
VERSIONS: tuple[type[PeopleParser], ...] = (People2020, People2016, PeopleEn)
