"""Briefings as turns: what the fmprc, kremlin and mid parsers share.

This module owns three things:

* `Block` and `blocks_of()`: a body element as the paragraphs the page shows, each with the
  bold run that opens it (speaker and outlet labels are set in `<b>`/`<strong>` on all three
  sites: SOURCES.md §2, §3, §4);
* labels: `split_label()` reads "Label: text", "Label (retranslated): text" and the full-width
  "问：" / "答：" forms; `QA_LABELS` maps the fixed question/answer words of the briefings
  ("Q:"/"A:", "问："/"答：", "Question:"/"Answer:", "Вопрос:"/"Ответ:") to roles;
* `TurnBuilder`, which turns labelled paragraphs into `Article.turns`
  ({idx, role, speaker, outlet, text}; idx from 0, text = the turn's paragraphs joined by a
  blank line, without the label), and `TranscriptParser`, the base class that adds `turns`
  and `access` to the record and stops early on challenge and not-found pages.

Conventions for every briefing parser (documented here so the three agree):

* a turn's `text` never contains its label; a parenthetical interpretation note between the
  label and its colon ("(retranslated)" on the Kremlin site) is kept as the first words of the
  text, "(retranslated) Mr President, …", because it qualifies the words, not the person;
* an unlabelled paragraph continues the open turn (long answers span several `<p>`);
* a heading (a paragraph set wholly in bold, with no label) closes the open turn;
* `speaker` is a person's name, `outlet` a media organisation; either may be None.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from bs4 import BeautifulSoup
from bs4.element import (
    CData,
    Comment,
    Declaration,
    Doctype,
    NavigableString,
    PageElement,
    ProcessingInstruction,
    Tag,
)

from crawler.items import Article
from crawler.normalize import BLOCK_TAGS, SKIP_TAGS, clean_text, join_paragraphs, paragraphs_from
from crawler.parsers.base import BaseParser, ParseReport

logger = logging.getLogger(__name__)

# The fixed question/answer labels of the briefings, by the language they are printed in.
QA_LABELS: dict[str, str] = {
    "Q": "question",  # fmprc EN 2019-2020
    "A": "answer",
    "问": "question",  # fmprc ZH
    "答": "answer",
    "Question": "question",  # mid.ru EN, Kremlin press conferences
    "Answer": "answer",
    "Вопрос": "question",  # mid.ru RU, kremlin.ru
    "Ответ": "answer",
}

# "Label: text" / "Label (note): text" / "标签：text". The label stops at the first colon; a
# note in brackets may sit between label and colon. A label is short: a longer run before a
# colon is a sentence that happens to contain one.
_LABEL = re.compile(
    r"""^(?P<name>[^:：()（）]{1,100}?)\s*
        (?:[(（]\s*(?P<note>[^()（）]{1,40}?)\s*[)）]\s*)?
        [:：]\s*(?P<rest>.*)$""",
    re.VERBOSE | re.DOTALL,
)
_BOLD_TAGS = frozenset({"b", "strong"})
_NOT_TEXT = (Comment, CData, Declaration, Doctype, ProcessingInstruction)
# Inline wrappers a CMS puts around a bold label (<span><strong>CCTV:</strong></span>).
_WRAPPERS = frozenset({"span", "font", "em", "i", "u", "a"})


@dataclass(frozen=True)
class Block:
    """One paragraph of a body as the page shows it."""

    text: str
    # Clean text of the bold run that opens the paragraph ("" when it opens with plain text).
    bold: str = ""

    @property
    def all_bold(self) -> bool:
        """The whole paragraph is bold: a heading, or a question set wholly in <strong>."""
        return bool(self.bold) and self.bold == self.text


@dataclass(frozen=True)
class Label:
    """The label that opens a paragraph: "President of Russia Vladimir Putin", "Q", "CCTV"."""

    name: str
    note: str | None
    # The paragraph's text after the colon.
    rest: str
    # The label was set in bold (<b>/<strong>), the mark of a speaker label on all three sites.
    bold: bool

    @property
    def qa_role(self) -> str | None:
        """ "question"/"answer" for the fixed Q/A words, else None."""
        return QA_LABELS.get(self.name)


def _leading_bold(children: Iterable[PageElement]) -> str:
    """Text of the bold element that opens `children`, looking through anchors and wrappers."""
    for child in children:
        if isinstance(child, NavigableString):
            if isinstance(child, _NOT_TEXT) or not str(child).strip():
                continue
            return ""
        if not isinstance(child, Tag):
            continue
        name = (child.name or "").lower()
        if name in _BOLD_TAGS:
            return clean_text(child.get_text())
        if name == "br" or not clean_text(child.get_text()):
            # <a name="4_1"></a> anchors and stray <br> before the label.
            continue
        if name in _WRAPPERS:
            return _leading_bold(child.children)
        return ""
    return ""


def _inline_lines(nodes: list[PageElement], skip: Callable[[Tag], bool] | None) -> list[str]:
    """Lines of a run of inline nodes (text between blocks), split at <br>."""
    lines: list[str] = []
    current: list[str] = []

    def visit(node: PageElement) -> None:
        if isinstance(node, NavigableString):
            if not isinstance(node, _NOT_TEXT):
                current.append(str(node))
            return
        if not isinstance(node, Tag):
            return
        name = (node.name or "").lower()
        if name in SKIP_TAGS or (skip is not None and skip(node)):
            return
        if name == "br":
            lines.append(clean_text("".join(current)))
            current.clear()
            return
        for child in node.children:
            visit(child)

    for node in nodes:
        visit(node)
    lines.append(clean_text("".join(current)))
    return [line for line in lines if line]


def _has_block_child(tag: Tag, skip: Callable[[Tag], bool] | None) -> bool:
    for child in tag.find_all(True):
        if child.name in BLOCK_TAGS and not (skip and skip(child)):
            return True
    return False


def blocks_of(
    element: Tag | BeautifulSoup, skip: Callable[[Tag], bool] | None = None
) -> list[Block]:
    """The paragraphs of `element` in document order, with the bold run that opens each.

    Leaf block tags (a `<p>` without block descendants) are paragraphs; a `<br>` inside one
    splits it further (only the first line keeps the bold run). Text directly inside a
    container, between blocks, is a paragraph of its own. `skip(tag)` drops a subtree.
    """
    blocks: list[Block] = []

    def add(lines: list[str], bold: str) -> None:
        for number, line in enumerate(lines):
            blocks.append(Block(line, bold if number == 0 else ""))

    def walk(container: Tag | BeautifulSoup) -> None:
        loose: list[PageElement] = []

        def flush_loose() -> None:
            if loose:
                add(_inline_lines(loose, skip), _leading_bold(loose))
                loose.clear()

        for child in container.children:
            if isinstance(child, Tag):
                name = (child.name or "").lower()
                if name in SKIP_TAGS or (skip is not None and skip(child)):
                    continue
                if name in BLOCK_TAGS:
                    flush_loose()
                    if _has_block_child(child, skip):
                        walk(child)
                    else:
                        add(paragraphs_from(child, skip), _leading_bold(child.children))
                    continue
            loose.append(child)
        flush_loose()

    walk(element)
    return blocks


def split_label(block: Block) -> Label | None:
    """The label that opens `block`, or None.

    Only the form is checked here (short text before a colon, text after it); whether the
    label names a speaker, an outlet or a fixed Q/A word is for the caller to decide, using
    `Label.bold` and `Label.qa_role`. A paragraph that is only "Heading:" has no label.
    """
    match = _LABEL.match(block.text)
    if match is None:
        return None
    name = clean_text(match.group("name"))
    rest = clean_text(match.group("rest"))
    if not name or not rest:
        return None
    bold = block.bold.rstrip(":：").strip()
    # The label is bold when the bold run is the label (Kremlin: "<b>Name</b>: …",
    # "<b>Name:</b> …") or starts with it (fmprc: "<strong>CCTV: question…</strong>").
    is_bold = bool(bold) and (bold == name or bold.startswith(name))
    return Label(name=name, note=match.group("note"), rest=rest, bold=is_bold)


def strip_suffix(text: str, suffixes: tuple[str, ...]) -> str:
    """`text` without the first of `suffixes` it ends with ("总台央视记者" -> "总台央视")."""
    for suffix in suffixes:
        if text.endswith(suffix) and len(text) > len(suffix):
            return text[: -len(suffix)].strip()
    return text


@dataclass
class _OpenTurn:
    role: str
    speaker: str | None
    outlet: str | None
    paragraphs: list[str] = field(default_factory=list)


class TurnBuilder:
    """Collects turns paragraph by paragraph; `turns()` gives the `Article.turns` list."""

    def __init__(self) -> None:
        self._done: list[_OpenTurn] = []
        self._open: _OpenTurn | None = None

    @property
    def is_open(self) -> bool:
        return self._open is not None

    @property
    def last_role(self) -> str | None:
        """The role of the open turn, else of the last finished one."""
        turn = self._open or (self._done[-1] if self._done else None)
        return turn.role if turn else None

    def start(
        self, role: str, speaker: str | None, outlet: str | None, text: str, note: str | None = None
    ) -> None:
        """Close the open turn and open a new one with its first paragraph."""
        self.close()
        first = f"({note}) {text}" if note else text
        self._open = _OpenTurn(role, speaker or None, outlet or None, [first])

    def extend(self, text: str) -> bool:
        """Add a paragraph to the open turn; False when no turn is open."""
        if self._open is None:
            return False
        self._open.paragraphs.append(text)
        return True

    def close(self) -> None:
        if self._open is not None:
            self._done.append(self._open)
            self._open = None

    def turns(self) -> list[dict[str, Any]]:
        self.close()
        return [
            {
                "idx": idx,
                "role": turn.role,
                "speaker": turn.speaker,
                "outlet": turn.outlet,
                "text": join_paragraphs(turn.paragraphs),
            }
            for idx, turn in enumerate(self._done)
        ]


class TranscriptParser(BaseParser):
    """A parser whose pages may carry turns, and may be not-found pages.

    `BaseParser.extract` fills the fields of `FIELDS`; this class adds `turns` (a failure is
    logged and reported like any field, and leaves the list empty: the generic extraction has
    no turns to fall back to), and returns at once, without any fallback, for a page that is
    no article at all (`not_an_article()`): title and body empty, so the validate pipeline
    drops it ("no_title"). Challenge pages never get here: `parse_article_with_report`
    recognises them before any parser runs (utility.block_reason).
    """

    def turns(self) -> list[dict[str, Any]]:
        return []

    def not_an_article(self) -> str | None:
        """Why the page is no article (a site's not-found page), or None."""
        return None

    def _empty(self, report: ParseReport, reason: str, access: str) -> tuple[Article, ParseReport]:
        report.warnings.append(reason)
        logger.info("%s: %s (source %r)", self.url, reason, self.page.source_key)
        article = Article(url=self.url, source=self.page.source_key, access=access)
        article.language = self.language()
        article.parser = self.label()
        return article, report

    def extract(
        self, fallback: BaseParser | None = None, strict: bool = False
    ) -> tuple[Article, ParseReport]:
        report = ParseReport(
            url=self.url,
            source=self.page.source_key,
            parser=self.label(),
            encoding=self.page.encoding,
        )
        reason = self.not_an_article()
        if reason is not None:
            return self._empty(report, f"not an article: {reason}", "full")
        article, report = super().extract(fallback=fallback, strict=strict)
        turns, problem, error = self._call("turns")
        if problem is not None:
            # No fallback parser: the generic extraction knows nothing of turns.
            turns = self._recover("turns", problem, error, None, strict, report)
        article.turns = list(turns or [])
        return article, report
