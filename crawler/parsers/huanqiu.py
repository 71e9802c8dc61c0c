"""环球网 huanqiu.com (Chinese sibling of Global Times), selectors from ../shared/SOURCES.md §9,
verified on a real page of 2020-06-05 (a browser-rendered DOM: it even holds an iframe that
the saver's browser extension injected, which is outside the article and never read).

* headline `h1.a-title`; time `div.a-info span.time` "2020-06-05 20:35" (Beijing time, minute
  precision); authors `div.a-info span.original` (one `<span>` per person);
* prose in `div.a-con`, which may open with a byline paragraph ("执笔/叨叨姐、胡一刀&李小飞刀")
  and close with a picture-source line ("图片均来自网络"), both removed; the editor line
  `div.a-edit` "责编：…" sits after it and is never read as prose;
* the channel ("国际新闻") is the `category` of the page's `window.global` settings script.
"""

from __future__ import annotations

import logging
import re

from bs4 import BeautifulSoup

from crawler.normalize import DateInfo, search_date
from crawler.parsers.base import FieldError
from crawler.parsers.cnmedia import CnMediaParser

logger = logging.getLogger(__name__)

# window.global = { ..., category: '国际新闻', // 频道 ... }
_CATEGORY = re.compile(r"\bcategory\s*:\s*['\"](?P<category>[^'\"]+)['\"]")


class Huanqiu(CnMediaParser):
    """The huanqiu.com article template of 2020 (verified on one real page)."""

    name = "huanqiu"
    version = "2020"
    url_patterns = (r"huanqiu\.com/(?:article|a)/",)
    title_suffix = re.compile(r"\s*[-_|]\s*环球网\s*$")

    title_css = ("h1.a-title",)
    body_css = ("div.a-con",)
    skip_css = ("div.a-edit",)
    time_css = "div.a-info span.time"
    authors_css = "div.a-info span.original span"

    @classmethod
    def detect(cls, soup: BeautifulSoup) -> bool:
        return soup.select_one("div.a-con") is not None

    def published(self) -> DateInfo | None:
        line = self.text_at((self.time_css,))
        found = search_date(line)
        if found is None:
            raise FieldError(f"no date in {self.time_css!r}: {line!r}")
        return self.local_date(found.parsed)

    def authors(self) -> list[str]:
        names = [self.clean(span.get_text(" ")) for span in self.soup.select(self.authors_css)]
        names += self.wire_reporters()  # the "执笔/…" byline paragraph, a wire dateline
        return list(dict.fromkeys(n for n in names if n))

    def section(self) -> str | None:
        for script in self.soup.find_all("script"):
            match = _CATEGORY.search(script.string or "")
            if match:
                return self.clean(match.group("category"))
        return None


VERSIONS: tuple[type[Huanqiu], ...] = (Huanqiu,)
