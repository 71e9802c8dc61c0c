"""The Russian Foreign Ministry (mid.ru, Russian and English): the spokeswoman's briefings.

Facts from ../shared/SOURCES.md §3, all **[code]** (public crawlers); no real page of the site
is available, so the golden pages are reconstructions of that description and this parser
uses only what it documents:

* title `.photo-content__title`; date `.photo-content__date`, "20.08.2026" (ru) or
  "30 September 2026" (en), Moscow, day precision; the title's date when the element is
  missing; the title's place ("…, Moscow, June 18, 2026") -> dateline;
* body `div.text.article-content` without the table of contents (the "Содержание"/"Contents"
  heading and the items that only link to in-page anchors, `href="#N"`) and without the
  "Назад к оглавлению"/"Back to contents" links. Section headings stay in the body;
* the page a script gets instead of the article at times, a "bobcmn" JavaScript cookie
  challenge, is `blocked` (recognised, like every bot wall, by utility.block_reason before
  any parser runs).

Turns: the statements come first, one `statement` turn per section (a heading closes it), by
the spokesperson of the title; the answers to media questions follow, "Question:"/"Answer:"
("Вопрос:"/"Ответ:"; these labels are **[unverified]** in SOURCES.md): a question has no
speaker and no outlet, an answer is the spokesperson's.

The spokesperson: the English title names her ("Briefing by Foreign Ministry Spokeswoman Maria
Zakharova, Moscow, …"). The Russian title gives initials and a surname in the genitive
("…представителя МИД России М.В.Захаровой, Москва, …"): the surname is put in the nominative
(feminine "-ой" -> "-а", "-ской" -> "-ская") and known spokespeople get their given name, so
that both languages say "Maria Zakharova" / "Мария Захарова"; anyone else keeps the initials
("А.Б.Иванова").
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
    DateInfo,
    ParsedDate,
    clean_text,
    join_paragraphs,
    localize_parsed,
    parse_russian_date,
    split_place_date,
)
from crawler.parsers.base import FieldError
from crawler.parsers.turns import Block, TranscriptParser, TurnBuilder, blocks_of, split_label
from crawler.parsers.utility import select_text, text_of

logger = logging.getLogger(__name__)

# Initials + nominative surname -> the name as the English pages print it, in Russian.
KNOWN_SPOKESPEOPLE_RU = {"М.В.Захарова": "Мария Захарова"}

_TOC_HEADING = re.compile(r"^(?:Содержание|Contents|Table of contents)\s*:?$", re.IGNORECASE)
_BACK_TO_TOC = re.compile(
    r"^(?:Назад к оглавлению|К оглавлению|Back to (?:the )?(?:table of )?contents)$",
    re.IGNORECASE,
)
# "Briefing by Foreign Ministry Spokeswoman Maria Zakharova, Moscow, June 18, 2026"
_EN_SPEAKER = re.compile(r"Spokes(?:woman|person|man)\s+(?P<name>[A-Z][\w'-]+(?:\s+[A-Z][\w'-]+)+)")
# "Брифинг официального представителя МИД России М.В.Захаровой, Москва, 18 июня 2026 года"
_RU_SPEAKER = re.compile(
    r"представителя\s+МИД\s+России\s+(?P<initials>(?:[А-ЯЁ]\.\s?){1,2})\s?(?P<surname>[А-ЯЁ][а-яё-]+)"
)
# The title says what the page is (kinds of crawler.items.KINDS).
_BRIEFING = re.compile(
    r"брифинг|briefing|ответ\w* на вопрос|answers? to (?:media )?questions?", re.I
)
_STATEMENT = re.compile(r"^(?:заявлени|комментари|statement|comment)", re.I)


# The F5 "bobcmn" cookie challenge (SOURCES.md §3) and its /TSPD/ script path.
def nominative_surname(genitive: str) -> str:
    """A feminine surname from the genitive of a title: "Захаровой" -> "Захарова"."""
    if genitive.endswith("ской"):
        return genitive[:-4] + "ская"
    if genitive.endswith("ой"):
        return genitive[:-2] + "а"
    return genitive


class Mid2021(TranscriptParser):
    """The portal in use since about August 2021 (`/<lang>/press_service/spokesman/…/<id>/`)."""

    name = "mid"
    version = "2021"
    valid_from = date(2021, 8, 1)
    url_patterns = (r"mid\.ru/(?:ru|en)/",)
    expected = frozenset({"title", "body", "published"})

    title_css = ".photo-content__title"
    date_css = ".photo-content__date"
    body_css = "div.text.article-content"

    @classmethod
    def detect(cls, soup: BeautifulSoup) -> bool:
        return soup.select_one(cls.body_css) is not None

    # --- metadata -----------------------------------------------------------------------------

    def title(self) -> str:
        return select_text(self.soup, self.title_css)

    @cached_property
    def _title_place_date(self) -> tuple[str | None, ParsedDate | None]:
        return split_place_date(select_text(self.soup, self.title_css))

    def dateline(self) -> str | None:
        return self._title_place_date[0]

    def published(self) -> DateInfo | None:
        parsed = parse_russian_date(select_text(self.soup, self.date_css))
        if parsed is None:
            parsed = self._title_place_date[1]
        if parsed is None:
            raise FieldError(f"no date in {self.date_css!r} or the title")
        return localize_parsed(parsed, self.page.zone)

    def kind(self) -> str:
        title = self.title()
        if _BRIEFING.search(title):
            return "briefing"
        if _STATEMENT.search(title):
            return "statement"
        return "article"

    def spokesperson(self) -> str | None:
        title = self.title()
        if match := _EN_SPEAKER.search(title):
            return match.group("name")
        if match := _RU_SPEAKER.search(title):
            initials = match.group("initials").replace(" ", "")
            name = initials + nominative_surname(match.group("surname"))
            return KNOWN_SPOKESPEOPLE_RU.get(name, name)
        return None

    # --- body ---------------------------------------------------------------------------------

    @staticmethod
    def _is_toc_entry(tag: Tag) -> bool:
        """A <li>/<p> of the table of contents: all its text is links to in-page anchors."""
        links = tag.find_all("a", href=True)
        if not links or not all(str(a["href"]).startswith("#") for a in links):
            return False
        return clean_text("".join(text_of(a) for a in links)) == clean_text(tag.get_text(""))

    def _skip(self, tag: Tag) -> bool:
        if tag.name in ("li", "p") and self._is_toc_entry(tag):
            return True
        if tag.name in ("ul", "ol"):
            items = tag.find_all("li")
            return bool(items) and all(self._is_toc_entry(li) for li in items)
        return False

    @cached_property
    def _blocks(self) -> list[Block]:
        element = self.soup.select_one(self.body_css)
        if element is None:
            raise FieldError(f"no body element {self.body_css!r}")
        return [
            block
            for block in blocks_of(element, skip=self._skip)
            if not (_TOC_HEADING.match(block.text) or _BACK_TO_TOC.match(block.text))
        ]

    def body(self) -> str:
        return join_paragraphs(block.text for block in self._blocks)

    # --- turns --------------------------------------------------------------------------------

    def turns(self) -> list[dict[str, Any]]:
        if self.kind() != "briefing":
            return []
        spokesperson = self.spokesperson()
        builder = TurnBuilder()
        for block in self._blocks:
            label = split_label(block)
            role = label.qa_role if label is not None else None
            if label is not None and role is not None:
                speaker = spokesperson if role == "answer" else None
                builder.start(role, speaker, None, label.rest)
            elif block.all_bold:
                builder.close()  # a section heading
            elif not builder.extend(block.text):
                builder.start("statement", spokesperson, None, block.text)
        return builder.turns()


VERSIONS: tuple[type[Mid2021], ...] = (Mid2021,)
