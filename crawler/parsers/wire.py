"""Wire stories: the body and dateline logic that the TASS and RIA/Sputnik parsers share.

A wire story's first paragraph opens with a dateline ("BEIJING, December 25. /TASS/.",
"ПЕКИН, 25 дек – РИА Новости."; see `crawler.normalize.split_wire_dateline`). The dateline
goes to `Article.dateline`; the body keeps every word after it, so nothing of the prose is lost.
A subclass says where the paragraphs are (`_paragraphs`) and which are site furniture
(`boilerplate`); the rest is here.
"""

from __future__ import annotations

import logging
import re
from functools import cached_property
from typing import ClassVar

from bs4.element import Tag

from crawler.normalize import WireHead, detach_wire_dateline, join_paragraphs, paragraphs_from
from crawler.parsers.base import BaseParser, FieldError
from crawler.parsers.utility import drop_matching

logger = logging.getLogger(__name__)


def paragraphs_of(elements: list[Tag]) -> list[str]:
    """The paragraphs of `elements`, in order; inline markup (links, <b>) stays inside its
    paragraph, a <br> or block tag starts a new one (`crawler.normalize.paragraphs_from`)."""
    return [text for element in elements for text in paragraphs_from(element)]


class WireParser(BaseParser):
    """A parser whose body is a wire story (see the module docstring)."""

    # Paragraphs that are site furniture, not prose (searched in each paragraph).
    boilerplate: ClassVar[tuple[re.Pattern[str], ...]] = ()

    def _paragraphs(self) -> list[str]:
        """The story's paragraphs, dateline included ([] or `FieldError` when there are none)."""
        raise NotImplementedError

    @cached_property
    def _story(self) -> tuple[WireHead | None, list[str]]:
        paragraphs = drop_matching(self._paragraphs(), self.boilerplate)
        if not paragraphs:
            raise FieldError("no paragraphs in the article body")
        return detach_wire_dateline(paragraphs)

    def dateline(self) -> str | None:
        head = self._story[0]
        return head.dateline if head else None

    def body(self) -> str:
        return join_paragraphs(self._story[1])
