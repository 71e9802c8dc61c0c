"""The Kremlin (en.kremlin.ru, kremlin.ru): news, statements and transcripts.

Facts from ../shared/SOURCES.md §4, verified on two real English pages of 2019
(tests/data/pages/kremlin_en, from a wget mirror: internal links and rel=canonical are relative
there, so the canonical URL comes from og:url). The Russian template is the same markup
(pages are twins by id); the kremlin_ru golden page is a reconstruction of it.

* title `h1.entry-title`; lead `div.read__lead` -> subtitle; place `div.read__place` ->
  dateline ("The Kremlin, Moscow");
* date `time.read__published[datetime]` (the day) + `div.read__time` ("18:15", Moscow time)
  -> minute precision; without the time, day precision;
* body `div.entry-content[itemprop=articleBody]` without everything the site marks
  `masha-ignore` (photo slider, video, "See also" box, tags and publication-status footer,
  person tooltips `span.read__tooltip`) or `hidden-copy`;
* tags: the Geography / Topics / Persons links of `div.read__tags`; section: the "Published in
  sections" links of the status footer ("News, Transcripts");
* images and captions: the slider's photos; a caption is the slide's description, split from
  the photo credit that some descriptions end with ("… Photo: Mikhail Metzel, TASS").

Turns: a paragraph opened by a bold label, `<b>President of Russia Vladimir Putin</b>: …`,
`<b>Gazprom CEO Alexei Miller:</b> …`, `<b>В.Путин:</b> …`, starts a turn.

* speaker: the person's name without the office. A label that ends in a name seen elsewhere
  on the page (a shorter label such as "Alexei Miller", a Persons tag, a person link) gives
  that name; otherwise the last two words of a longer English label ("President of Russia
  Vladimir Putin" -> "Vladimir Putin"). Russian labels ("В.Путин") are names already.
* "(retranslated)", inside or outside `<i>`, is not part of the speaker: it stays at the start
  of the turn's text, "(retranslated) Mr President, …" (see `crawler.parsers.turns`).
* role: "statement", except at a press conference: "Question:"/"Вопрос:" is a question (no
  speaker, no outlet) and the turn right after it an answer.
* narrative paragraphs outside any turn (the report before the first label) and headings
  (a wholly bold paragraph, "Ceremony for launching …") are body text, not turns; a heading
  closes the open turn.

kind is "transcript" when the page has turns, else "article".
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from functools import cached_property
from typing import Any

from bs4 import BeautifulSoup
from bs4.element import Tag

from crawler.normalize import (
    Caption,
    DateInfo,
    ParsedDate,
    clean_text,
    join_paragraphs,
    localize_parsed,
    parse_iso,
    split_credit,
)
from crawler.parsers.base import FieldError
from crawler.parsers.turns import (
    Block,
    Label,
    TranscriptParser,
    TurnBuilder,
    blocks_of,
    split_label,
)
from crawler.parsers.utility import absolute_url, meta_content, select_text, text_of

logger = logging.getLogger(__name__)

# Classes the site puts on everything that is not the text (its "masha" quoting tool skips them).
_NOT_TEXT_CLASSES = frozenset({"masha-ignore", "hidden-copy", "read__tooltip"})
# "18:15"
_TIME = re.compile(r"^(?P<H>\d{1,2}):(?P<M>\d{2})$")
# A label longer than this is a sentence with a colon, not a speaker.
_MAX_LABEL_WORDS = 16


def _skip(tag: Tag) -> bool:
    classes = tag.get("class") or []
    return any(c in _NOT_TEXT_CLASSES for c in classes)


class Kremlin2019(TranscriptParser):
    """The kremlin.ru template of the real 2019 pages (both languages)."""

    name = "kremlin"
    version = "2019"
    # In use by 2019 (real pages of June and December 2019); when it started is not established.
    valid_from = None
    url_patterns = (r"kremlin\.ru/events/president/(?:news|transcripts)/\d+",)
    expected = frozenset({"title", "body", "published"})

    title_css = "h1.entry-title"
    lead_css = "div.read__lead"
    date_css = "time.read__published"
    time_css = "div.read__time"
    place_css = "div.read__place"
    body_css = "div.entry-content[itemprop=articleBody]"
    tags_css = "div.read__tags a[rel~=tag]"
    status_links_css = "div.read__status a[href]"
    slide_css = "div.slider div.slide"

    @classmethod
    def detect(cls, soup: BeautifulSoup) -> bool:
        return soup.select_one(cls.body_css) is not None

    # --- metadata -----------------------------------------------------------------------------

    def title(self) -> str:
        return select_text(self.soup, self.title_css)

    def subtitle(self) -> str | None:
        return select_text(self.soup, self.lead_css) or None

    def dateline(self) -> str | None:
        return select_text(self.soup, self.place_css) or None

    def tags(self) -> list[str]:
        found: list[str] = []
        for link in self.soup.select(self.tags_css):
            tag = text_of(link)
            if tag and tag not in found:
                found.append(tag)
        return found

    def section(self) -> str | None:
        # The status footer's "Published in sections: News, Transcripts": links to /events/
        # listings (the other footer links go to /d/<id> and /copy/<id>).
        sections = [
            text_of(a)
            for a in self.soup.select(self.status_links_css)
            if re.search(r"/events/[a-z/_-]+$", str(a.get("href") or ""))
        ]
        return ", ".join(dict.fromkeys(s for s in sections if s)) or None

    def canonical_url(self) -> str | None:
        # og:url is absolute; rel=canonical is relative on mirrored copies ("60672.html").
        return (
            absolute_url(self.url, meta_content(self.soup, prop="og:url"))
            or super().canonical_url()
        )

    def published(self) -> DateInfo | None:
        node = self.soup.select_one(self.date_css)
        if node is None:
            raise FieldError(f"no {self.date_css!r}")
        day = parse_iso(str(node.get("datetime") or ""))
        if day is None:
            raise FieldError(f"no date in {node!s:.120}")
        clock = _TIME.match(select_text(self.soup, self.time_css))
        if clock is None:
            return localize_parsed(day, self.page.zone)
        value = day.value
        moment = datetime(value.year, value.month, value.day, int(clock["H"]), int(clock["M"]))
        return localize_parsed(ParsedDate(moment, "minute"), self.page.zone)

    # --- body, images ---------------------------------------------------------------------------

    @cached_property
    def _body_element(self) -> Tag:
        element = self.soup.select_one(self.body_css)
        if element is None:
            raise FieldError(f"no body element {self.body_css!r}")
        return element

    @cached_property
    def _blocks(self) -> list[Block]:
        return blocks_of(self._body_element, skip=_skip)

    def body(self) -> str:
        return join_paragraphs(block.text for block in self._blocks)

    def images(self) -> list[dict[str, Any]]:
        found = []
        for img in self.soup.select(f"{self.slide_css} img"):
            src = absolute_url(self.url, str(img.get("src") or ""))
            if src:
                found.append({"src": src, "alt": clean_text(str(img.get("alt") or "")) or None})
        return found

    def captions(self) -> list[Caption]:
        found: list[Caption] = []
        for slide in self.soup.select(self.slide_css):
            # A credit, where the site prints one, ends the description ("… Photo: <name>, TASS").
            caption = split_credit(str(slide.get("data-cycle-desc") or ""))
            if caption.text and caption not in found:
                found.append(caption)
        return found

    # --- turns ----------------------------------------------------------------------------------

    @cached_property
    def _known_names(self) -> list[str]:
        """Names the page spells out: Persons tags, person links, short labels. Longest first."""
        names = {text_of(a) for a in self.soup.select("div.read__tags a[href*='/persons/']")}
        for link in self._body_element.select("a.person_tag"):
            names.add(clean_text("".join(link.find_all(string=True, recursive=False))))
        for block in self._blocks:
            label = split_label(block)
            if label is not None and label.bold and self._looks_like_name(label.name):
                names.add(label.name)
        return sorted((n for n in names if n), key=len, reverse=True)

    @staticmethod
    def _looks_like_name(text: str) -> bool:
        words = text.split()
        return 1 <= len(words) <= 3 and all(w[:1].isupper() for w in words)

    def speaker_name(self, label: str) -> str:
        """The person a label names, without the office ("Gazprom CEO Alexei Miller" -> …)."""
        for name in self._known_names:
            if label == name or label.endswith(" " + name):
                return name
        words = label.split()
        if len(words) <= 3:
            return label
        return " ".join(words[-2:])

    def _turn_label(self, label: Label | None) -> Label | None:
        if label is None or not label.bold or len(label.name.split()) > _MAX_LABEL_WORDS:
            return None
        return label

    def turns(self) -> list[dict[str, Any]]:
        return self._turns

    @cached_property
    def _turns(self) -> list[dict[str, Any]]:
        builder = TurnBuilder()
        for block in self._blocks:
            label = self._turn_label(split_label(block))
            if label is not None:
                if label.qa_role == "question":
                    builder.start("question", None, None, label.rest, label.note)
                    continue
                role = "answer" if builder.last_role == "question" else "statement"
                builder.start(role, self.speaker_name(label.name), None, label.rest, label.note)
            elif block.all_bold:
                builder.close()  # a heading: what follows belongs to no one yet
            else:
                builder.extend(block.text)  # narrative outside a turn stays body only
        return builder.turns()

    def kind(self) -> str:
        return "transcript" if self._turns else "article"


VERSIONS: tuple[type[Kremlin2019], ...] = (Kremlin2019,)
