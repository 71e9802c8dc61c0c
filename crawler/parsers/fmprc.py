"""China's Ministry of Foreign Affairs (fmprc.gov.cn / mfa.gov.cn, English and Chinese).

Facts from ../shared/SOURCES.md §2. Two template versions:

* `Fmprc2019`: the TRS template of 2019-2020 (`#News_Body_Title`, `#News_Body_Time`,
  `#News_Body_Txt_A`, breadcrumb `div.nav`). Verified on two real Chinese 重要新闻 pages
  (tests/data/pages/fmprc_zh, a meeting report and a speech); the English pages of that era
  used the same ids (the 2019-12-25 transcripts in fmprc_en/fmprc_zh are reconstructions).
* `Fmprc2022`: the current template, described by public crawlers **[code]**: `<title>` (and
  `meta[name=ArticleTitle]`) split on "_", `meta[name=PubDate]`, body
  `div.content_text > div.TRS_UEDITOR` (EN) or `#News_Body_Txt_A > div.TRS_UEDITOR` (ZH),
  ending at `div[style*=clear]`, `div.news-foot` or `div.links`. No real page of it is
  available; the golden pages are reconstructions of that description.

Press conferences become turns (conventions in `crawler.parsers.turns`):

* 2019-2020: "Q:" / "A:" (EN) and "问：" / "答：" (ZH) open the paragraph; a question has no
  speaker and no outlet (the transcripts do not name them); an answer's speaker is the
  spokesperson named in the title.
* later: a question is a paragraph in `<strong>` opened by its outlet ("CCTV:", "总台央视记者："
  -> outlet "总台央视": the Chinese label names the outlet's reporter); an answer opens with the
  spokesperson's name ("Guo Jiakun:", "郭嘉昆：").
* paragraphs before the first label are announcements: one `statement` turn each, by the
  spokesperson of the title.

Dates: the conference date is the title date (SOURCES.md §13); then the URL's tYYYYMMDD, then
`#News_Body_Time` / `meta[name=PubDate]`. All are day precision, except that a PubDate with a
time of day on the title's day gives that time (Beijing time, minute precision). Never the
dates of the related links, which the generic extraction picked up.

kind, from the title formula (SOURCES.md §2): "briefing" for regular press conferences and
the spokesperson's dated "Remarks"/"答记者问" Q&A pages; "statement" for speeches, statements
and undated spokesperson remarks; "article" for the rest (news of meetings). Only briefings
get turns. A speech's full text opens with centred lines (its own title in bold, the occasion
after "——", date and place in brackets, the speaker's office and name, seen on the real 2019
speech page): they become subtitle, dateline and authors, not body. Chinese text gets the
shared Chinese clean-up (`clean_cjk_text`).

A removed page redirects to the site's "system" page (`/web/system/index_17321.shtml`, HTTP
200): that page is reported as no article and comes out with an empty title and body, so the
validate pipeline drops it ("no_title"). It is not `blocked`: nothing stands between us and
the article; there is no article.
"""

from __future__ import annotations

import copy
import logging
import re
from datetime import date, datetime
from functools import cached_property
from typing import Any

from bs4 import BeautifulSoup
from bs4.element import Tag

from crawler.normalize import (
    BLOCK_TAGS,
    DateInfo,
    ParsedDate,
    clean_cjk_text,
    clean_text,
    join_paragraphs,
    localize_parsed,
    parse_date_text,
    url_date,
)
from crawler.parsers.base import FieldError
from crawler.parsers.turns import (
    Block,
    Label,
    TranscriptParser,
    TurnBuilder,
    blocks_of,
    split_label,
    strip_suffix,
)
from crawler.parsers.utility import absolute_url, meta_content, select_text, text_of

logger = logging.getLogger(__name__)

# Spokespersons seen since 2019 (SOURCES.md §2): the answer labels of the later transcripts.
SPOKESPERSONS_EN = (
    "Geng Shuang", "Hua Chunying", "Lu Kang", "Zhao Lijian", "Wang Wenbin", "Mao Ning",
    "Lin Jian", "Guo Jiakun",
)  # fmt: skip
SPOKESPERSONS_ZH = ("耿爽", "华春莹", "陆慷", "赵立坚", "汪文斌", "毛宁", "林剑", "郭嘉昆")

# "Foreign Ministry Spokesperson Geng Shuang's Regular Press Conference on December 25, 2019"
_EN_SPOKESPERSON = re.compile(
    r"Spokesperson\s+(?P<name>[A-Z][a-z]+(?:[ -][A-Z][a-z]+){1,2})[’'`]s\b"
)
_EN_TITLE_DATE = re.compile(r"\bon\s+(?P<date>[A-Z][a-z]{2,8}\.?\s+\d{1,2},?\s+\d{4})\b")
# "2019年12月25日外交部发言人耿爽主持例行记者会", "外交部发言人郭嘉昆答记者问"
_ZH_SPOKESPERSON = re.compile(
    r"外交部发言人(?P<name>[\u4e00-\u9fff]{2,4}?)(?:主持|答|就|表示|发表|宣布)"
)
_ZH_TITLE_DATE = re.compile(r"\d{4}年\d{1,2}月\d{1,2}日")
# The site's not-found page, where removed and unknown paths redirect (SOURCES.md §2).
_NOT_FOUND_URL = re.compile(r"/web/system/|index_17321")
# Title suffixes: "… — 中华人民共和国外交部" (2019), "…_Ministry of Foreign Affairs of …" (now).
_TITLE_SUFFIX = re.compile(
    r"\s*(?:_|—|–|-)\s*"
    r"(?:中华人民共和国外交部|Ministry of Foreign Affairs"
    r"(?: of the People's Republic of China)?)\s*$"
)

# Kind by title formula (SOURCES.md §2): conferences and the written "Remarks"/"答记者问" pages
# of the recess are Q&A; speeches and statements are one person's words.
_EN_BRIEFING = re.compile(
    r"Regular Press Conference|Spokesperson\s.+?[’'`]s\s+(?:Remarks|Answers?|Comments?)\b"
)
# "Foreign Ministry Spokesperson’s Remarks on …" (no name, no date) is one statement.
_EN_STATEMENT = re.compile(
    r"\b(?:Speech|Address|Keynote|Toast|Statement|Remarks (?:by|at))\b"
    r"|Spokesperson[’'`]s\s+(?:Remarks|Comments?)\b",
    re.IGNORECASE,
)
_ZH_BRIEFING = re.compile(r"例行记者会|答记者问")
_ZH_STATEMENT = re.compile(r"讲话|致辞|演讲|主旨发言|声明|谈话")
# A speech's header (see FmprcParser._header): centred lines, few of them.
_MAX_HEADER_LINES = 8
_OCCASION_DASHES = ("——", "—", "--")
_BRACKETED = re.compile(r"[(（]\s*(.+?)\s*[)）]")
# A name alone on a line: "杨洁篪", "Wang Yi".
_SPEAKER_NAME = re.compile(r"[\u4e00-\u9fff]{2,4}|[A-Z][a-z'-]+(?: [A-Z][a-z'-]+){1,3}")
# "总台央视记者" is the reporter of 总台央视 (CMG's CCTV): the outlet is the label without it.
_ZH_REPORTER_SUFFIXES = ("记者",)


def _is_centred(tag: Tag) -> bool:
    style = str(tag.get("style") or "").replace(" ", "").lower()
    return str(tag.get("align") or "").lower() == "center" or "text-align:center" in style


class FmprcParser(TranscriptParser):
    """What both templates share: title formula, dates, kind and turns."""

    name = "fmprc"
    expected = frozenset({"title", "body", "published"})

    title_css: str = ""
    # Where the body prose stops, when these sit inside the body element.
    body_end_css: tuple[str, ...] = ()

    # --- page identity ------------------------------------------------------------------------

    def not_an_article(self) -> str | None:
        if _NOT_FOUND_URL.search(self.url):
            return "the MFA's not-found page (/web/system/index_17321)"
        return None

    def _is_zh(self) -> bool:
        return self.language() == "zh"

    def _clean(self, text: str) -> str:
        """Chinese pages get the Chinese clean-up (full-width digits, spaces by punctuation)."""
        return clean_cjk_text(text) if self._is_zh() else text

    def _title_from_head(self) -> str:
        title = meta_content(self.soup, name="ArticleTitle") or text_of(self.soup.find("title"))
        return self._clean(_TITLE_SUFFIX.sub("", title).strip())

    def title(self) -> str:
        return self._clean(select_text(self.soup, self.title_css)) if self.title_css else ""

    @cached_property
    def _title(self) -> str:
        return self.title() or self._title_from_head()

    def spokesperson(self) -> str | None:
        """The spokesperson the title names ("Geng Shuang", "耿爽"), or None."""
        pattern = _ZH_SPOKESPERSON if self._is_zh() else _EN_SPOKESPERSON
        match = pattern.search(self._title)
        return match.group("name") if match else None

    def kind(self) -> str:
        title = self._title
        if self._is_zh():
            briefing, statement = _ZH_BRIEFING, _ZH_STATEMENT
        else:
            briefing, statement = _EN_BRIEFING, _EN_STATEMENT
        if briefing.search(title):
            return "briefing"
        if statement.search(title):
            return "statement"
        return "article"

    # --- dates --------------------------------------------------------------------------------

    def _title_date(self) -> ParsedDate | None:
        if self._is_zh():
            match = _ZH_TITLE_DATE.search(self._title)
            return parse_date_text(match.group(0)) if match else None
        match = _EN_TITLE_DATE.search(self._title)
        return parse_date_text(match.group("date")) if match else None

    def _url_date(self) -> ParsedDate | None:
        day = url_date(self.url)
        return ParsedDate(day, "day") if day else None

    def _page_date(self) -> ParsedDate | None:
        """The date the template prints or declares (day, or a PubDate with a time)."""
        return None

    def published(self) -> DateInfo | None:
        page = self._page_date()
        chosen = self._title_date() or self._url_date() or page
        if chosen is None:
            raise FieldError("no date in title, URL or page")
        # A PubDate time is the page's own publication time; it is used only when it falls on
        # the conference day (a later re-publication keeps the title's day, without a time).
        if (
            page is not None
            and isinstance(page.value, datetime)
            and page.value.date() == chosen.value
        ):
            chosen = page
        return localize_parsed(chosen, self.page.zone)

    # --- body ---------------------------------------------------------------------------------

    def _body_container(self) -> Tag:
        raise NotImplementedError

    @cached_property
    def _body_element(self) -> Tag:
        # A private copy: cutting the tail off must not change the DOM the generic fallback sees.
        element = copy.copy(self._body_container())
        for css in self.body_end_css:
            end = element.select_one(css)
            if end is not None:
                # The copy is a tree of its own: everything after the marker is body tail.
                for node in [end, *end.next_elements]:
                    node.extract()
        return element

    @cached_property
    def _all_blocks(self) -> list[Block]:
        return [
            Block(self._clean(b.text), self._clean(b.bold)) for b in blocks_of(self._body_element)
        ]

    @cached_property
    def _header(self) -> list[Block]:
        """The centred lines that open a speech's full text, before the prose.

        The real 2019 speech page opens with the speech's own title (bold), the occasion
        ("——在第55届慕尼黑安全会议上的主旨演讲"), date and place in brackets, the speaker's office
        and name, each a centred `<p>`: metadata, not prose.
        """
        if self.kind() != "statement":
            return []
        count = 0
        for child in self._body_element.find_all(True, recursive=False):
            if child.name not in BLOCK_TAGS or not _is_centred(child):
                break
            count += len(blocks_of(child))
        return self._all_blocks[:count] if count <= _MAX_HEADER_LINES else []

    @cached_property
    def _blocks(self) -> list[Block]:
        return self._all_blocks[len(self._header) :]

    def body(self) -> str:
        return join_paragraphs(block.text for block in self._blocks)

    def subtitle(self) -> str | None:
        """A speech's own title and occasion, from its header."""
        joiner = "" if self._is_zh() else " "
        title = joiner.join(b.text for b in self._header if b.all_bold)
        occasion = [b.text for b in self._header if b.text.startswith(_OCCASION_DASHES)]
        return clean_text(title + joiner.join(occasion)) or None

    def authors(self) -> list[str]:
        """The speaker, who closes a speech's header ("杨洁篪")."""
        if self._header and _SPEAKER_NAME.fullmatch(self._header[-1].text):
            return [self._header[-1].text]
        return []

    def dateline(self) -> str | None:
        """A speech's date and place, bracketed in its header ("2019年2月16日，慕尼黑")."""
        for block in self._header:
            match = _BRACKETED.fullmatch(block.text)
            if match:
                return clean_text(match.group(1))
        return None

    def images(self) -> list[dict[str, Any]]:
        found = []
        for img in self._body_element.find_all("img"):
            src = absolute_url(self.url, str(img.get("src") or ""))
            if src:
                found.append({"src": src, "alt": clean_text(str(img.get("alt") or "")) or None})
        return found

    # --- turns --------------------------------------------------------------------------------

    def _answerers(self) -> set[str]:
        names = set(SPOKESPERSONS_ZH if self._is_zh() else SPOKESPERSONS_EN)
        if spokesperson := self.spokesperson():
            names.add(spokesperson)
        return names

    def _classify(self, label: Label) -> tuple[str, str | None, str | None] | None:
        """(role, speaker, outlet) of a label, or None when it is no turn label."""
        if label.qa_role == "question" and label.name in ("Q", "问"):
            return "question", None, None
        if label.qa_role == "answer" and label.name in ("A", "答"):
            return "answer", self.spokesperson(), None
        if label.name in self._answerers():
            return "answer", label.name, None
        if label.bold:
            outlet = label.name
            if self._is_zh():
                outlet = strip_suffix(outlet, _ZH_REPORTER_SUFFIXES)
            return "question", None, outlet
        return None

    def turns(self) -> list[dict[str, Any]]:
        if self.kind() != "briefing":
            return []
        builder = TurnBuilder()
        labelled = False
        for block in self._blocks:
            label = split_label(block)
            found = self._classify(label) if label is not None else None
            if found is not None and label is not None:
                role, speaker, outlet = found
                builder.start(role, speaker, outlet, label.rest)
                labelled = True
            elif not labelled:
                # Announcements before the first question: one statement each.
                builder.start("statement", self.spokesperson(), None, block.text)
            elif not builder.extend(block.text):
                builder.start("statement", self.spokesperson(), None, block.text)
        turns = builder.turns()
        return turns if labelled else []


class Fmprc2022(FmprcParser):
    """The current template (EN `/eng/xw/…/tYYYYMMDD_N.html`, ZH `/web/…/tYYYYMMDD_N.shtml`)."""

    version = "2022"
    # EN listings in this scheme reach back to July 2022; the switch happened in 2021-2022.
    valid_from = date(2022, 7, 1)
    url_patterns = (r"/t\d{8}_\d+\.s?html$",)

    body_css = ("div.content_text div.TRS_UEDITOR", "#News_Body_Txt_A div.TRS_UEDITOR")
    body_end_css = ("div[style*='clear']", "div.news-foot", "div.links")

    @classmethod
    def detect(cls, soup: BeautifulSoup) -> bool:
        return any(soup.select_one(css) is not None for css in cls.body_css)

    def title(self) -> str:
        return self._title_from_head()

    def _body_container(self) -> Tag:
        for css in self.body_css:
            element = self.soup.select_one(css)
            if element is not None:
                return element
        raise FieldError(f"no body element {' or '.join(self.body_css)!r}")

    def _page_date(self) -> ParsedDate | None:
        # "2026-06-17 20:45" or a bare date; either way Beijing time.
        return parse_date_text(meta_content(self.soup, name="PubDate"))


class Fmprc2019(FmprcParser):
    """The TRS template of 2019-2020 (t-number URLs `…/t1731268.shtml`)."""

    version = "2019"
    # The earliest real page we have of it; the template is older.
    valid_from = date(2019, 2, 16)
    url_patterns = (r"/t\d+\.shtml$",)

    title_css = "#News_Body_Title"
    subtitle_css = "#News_Body_subitle"  # sic
    date_css = "#News_Body_Time"
    body_css = "#News_Body_Txt_A"
    crumbs_css = "div.nav a"

    @classmethod
    def detect(cls, soup: BeautifulSoup) -> bool:
        return (
            soup.select_one(cls.title_css) is not None and soup.select_one(cls.body_css) is not None
        )

    def subtitle(self) -> str | None:
        return select_text(self.soup, self.subtitle_css) or super().subtitle()

    def section(self) -> str | None:
        crumbs = [text_of(a) for a in self.soup.select(self.crumbs_css)]
        # The first crumb is the home page ("Home", "首页").
        return " / ".join(c for c in crumbs[1:] if c) or None

    def _body_container(self) -> Tag:
        element = self.soup.select_one(self.body_css)
        if element is None:
            raise FieldError(f"no body element {self.body_css!r}")
        return element

    def _page_date(self) -> ParsedDate | None:
        return parse_date_text(select_text(self.soup, self.date_css))


# Newest first: when neither the markup nor the URL decides, the current template is assumed.
VERSIONS: tuple[type[FmprcParser], ...] = (Fmprc2022, Fmprc2019)
