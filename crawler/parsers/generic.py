"""The generic parser: metadata standards plus trafilatura, for any news page.

It is the parser of every source without its own, and the per-field fallback of source
parsers. Where each field comes from, first hit wins:

1. JSON-LD (NewsArticle, Article, ReportageNewsArticle, ... also inside `@graph`);
2. Open Graph and `article:*` meta tags, then other common meta tags;
3. `<title>` and `<html lang>`;
4. the publication date, first hit wins (`published`): JSON-LD `datePublished`; the
   `article:published_time` / `og:` metas; named metas (`publishdate`, `PubDate`, `date`, ...);
   a `<time itemprop=datePublished>`; a `<time datetime>` inside the article (`<article>`,
   `<main>`), outside its link lists; the date in the URL; and last htmldate, on the page
   without its link lists and without free-text search (day only: htmldate cannot tell a
   found time from midnight, and we never guess a time). Taking htmldate's oldest date
   anywhere on the page, as this parser once did, dated pages by their related-news lists;
5. trafilatura for the body, without comments and tables. Its text is the baseline; the only
   clean-up on top removes what the record keeps elsewhere: photo captions, bylines and
   source/date lines near the top, and a line near the top that repeats the headline.

Times without an offset are read in the source's zone (UTC for a page of no known source).
"""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Iterable
from datetime import date
from functools import cached_property
from typing import Any

import trafilatura
from bs4.element import Tag
from htmldate import find_date

from crawler.normalize import (
    Caption,
    DateInfo,
    ParsedDate,
    clean_text,
    has_credit,
    join_paragraphs,
    localize,
    localize_parsed,
    parse_date_text,
    split_credit,
    split_paragraphs,
    url_date,
)
from crawler.parsers.base import BaseParser
from crawler.parsers.utility import (
    absolute_url,
    json_ld_article,
    json_ld_people,
    json_ld_text,
    make_soup,
    meta_content,
    meta_contents,
    primary_language,
    split_authors,
    split_keywords,
    text_of,
)

logger = logging.getLogger(__name__)

# A paragraph this short that ends with a credit is a caption; a longer one is prose that
# happens to end oddly, and is left alone.
MAX_CAPTION_CHARS = 400
# Bylines ("By Guo Yuandan and Liang Rui") that extraction leaves at the top of the text.
# "By Zhou Ping (People's Daily Online) 10:14, July 16, 2026" too; a sentence ("By Monday,
# officials had left.") ends with a full stop and is kept.
_BYLINE = re.compile(r"^By\s+[A-Z][\w'’.-]*(?:\s+[\w'’.,:()&|-]+){0,15}(?<![.!?\"”])$")
_BYLINE_CHARS = 100
# Source/date lines ("Source:Global Times Published: 2019/12/25 20:38:40") above the text.
_DATE_LINE = re.compile(r"\b(?:Published|Updated|Posted|Source)\s*:", re.IGNORECASE)
_DATE_LINE_CHARS = 160

_PUBLISHED_META = (
    {"prop": "article:published_time"},
    {"prop": "og:published_time"},
    {"itemprop": "datePublished"},
    {"name": "article:published_time"},
    {"name": "pubdate"},
    {"name": "publishdate"},
    {"name": "PubDate"},
    {"name": "publish-date"},
    {"name": "parsely-pub-date"},
    {"name": "sailthru.date"},
    {"name": "DC.date.issued"},
    {"name": "dcterms.created"},
    {"name": "date"},
)
_MODIFIED_META = (
    {"prop": "article:modified_time"},
    {"prop": "og:updated_time"},
    {"itemprop": "dateModified"},
    {"name": "lastmod"},
    {"name": "dcterms.modified"},
)


# Where the article's own <time> sits (its header or body), in the order tried.
_CONTENT_CONTAINERS = "article, main, [role=main], [itemprop=articleBody]"
# Containers of link lists: related news, sidebars, most-read boxes, "read also". Their dates
# are other articles' dates.
_LINK_LIST_TAGS = frozenset({"aside", "nav", "footer", "li", "a"})
_LINK_LIST_NAMES = re.compile(
    r"(?<![a-z])(?:related|recommend|sidebar|rail|read-?also|more-?news"
    r"|most-?(?:read|viewed|popular)|links?-?list|relnews|hot-?news)",
    re.IGNORECASE,
)
# Never taken for a link list, whatever their class says ("has-sidebar" on <body>).
_PAGE_TAGS = frozenset({"html", "body", "main", "article"})


def _is_link_list(tag: Tag) -> bool:
    if tag.name in _LINK_LIST_TAGS:
        return True
    if tag.name in _PAGE_TAGS:
        return False
    names = " ".join([*(tag.get("class") or []), str(tag.get("id") or "")])
    return bool(names.strip()) and bool(_LINK_LIST_NAMES.search(names))


def _in_link_list(tag: Tag, container: Tag) -> bool:
    """True when `tag` sits in a link list between itself and `container`."""
    for parent in tag.parents:
        if parent is container:
            return False
        if _is_link_list(parent):
            return True
    return False


def _without_link_lists(html: str) -> str:
    """The page without asides, navigation, footers, linked list items and related boxes."""
    soup = make_soup(html)
    doomed = [tag for tag in soup.find_all(True) if _is_link_list(tag) and tag.name != "a"]
    doomed += [li for li in soup.find_all("li") if li.find("a") is not None]
    for tag in doomed:
        if not tag.decomposed:
            tag.decompose()
    return str(soup)


def _plausible(parsed: ParsedDate) -> bool:
    """Metadata dates outside 1990..next year are CMS bugs (a Buddhist-era "2569", a "0001")."""
    return 1990 <= parsed.value.year <= date.today().year + 1


class GenericParser(BaseParser):
    name = "generic"
    version = "1"
    # A page of an unknown site may lack anything; emptiness is reported, not a failure.
    expected = frozenset({"title", "body", "published"})

    @cached_property
    def _ld(self) -> dict[str, Any]:
        return json_ld_article(self.soup) or {}

    def _first_date(self, values: Iterable[str | None]) -> DateInfo | None:
        """The first of `values` that is a plausible date; later ones are not even computed."""
        for value in values:
            if not value:
                continue
            parsed = parse_date_text(value)
            if parsed is None:
                continue
            if not _plausible(parsed):
                logger.warning("Implausible date %r on %s; ignored", value, self.url)
                continue
            return localize_parsed(parsed, self.page.zone)
        return None

    # --- fields -------------------------------------------------------------------------------

    def title(self) -> str:
        for candidate in (
            json_ld_text(self._ld.get("headline")),
            meta_content(self.soup, prop="og:title"),
            meta_content(self.soup, name="twitter:title"),
            text_of(self.soup.find("h1")),
            self._title_tag(),
        ):
            if candidate:
                return candidate
        return ""

    def _title_tag(self) -> str:
        title = text_of(self.soup.find("title"))
        site = meta_content(self.soup, prop="og:site_name")
        for sep in (" - ", " | ", " — ", " – ", "_"):
            head, _, tail = title.rpartition(sep)
            if head and (not site or tail.strip().lower() == site.lower()):
                return head.strip()
        return title

    def subtitle(self) -> str | None:
        return json_ld_text(self._ld.get("alternativeHeadline")) or None

    def authors(self) -> list[str]:
        people = json_ld_people(self._ld.get("author"))
        if people:
            return people
        for value in (
            meta_content(self.soup, name="author"),
            meta_content(self.soup, prop="article:author"),
            meta_content(self.soup, name="byl"),
        ):
            if value and not value.startswith(("http://", "https://")):
                names = split_authors(value)
                if names:
                    return names
        return []

    def section(self) -> str | None:
        return (
            json_ld_text(self._ld.get("articleSection"))
            or meta_content(self.soup, prop="article:section")
            or None
        )

    def tags(self) -> list[str]:
        tags = meta_contents(self.soup, prop="article:tag")
        if tags:
            return split_keywords(tags)
        keywords = self._ld.get("keywords")
        if keywords:
            return split_keywords(keywords)
        return split_keywords(
            meta_content(self.soup, name="news_keywords")
            or meta_content(self.soup, name="keywords")
        )

    def published(self) -> DateInfo | None:
        # The order is the order of trust: metadata that names the publication date, then the
        # article's own <time>, then the URL, then htmldate (see the module docstring).
        found = self._first_date(
            itertools.chain(
                [json_ld_text(self._ld.get("datePublished"))],
                (meta_content(self.soup, **attrs) for attrs in _PUBLISHED_META),
                # Looked up only when no metadata names a date: they walk the tree.
                (get() for get in (self._time_datetime, self._content_time)),
            )
        )
        if found is not None:
            return found
        day = url_date(self.url)
        if day is not None:
            return localize(day, self.page.zone, "day")
        return self._htmldate()

    def _time_datetime(self) -> str:
        """`<time itemprop="datePublished" datetime=...>`: microdata naming the date."""
        tag = self.soup.find("time", attrs={"itemprop": "datePublished", "datetime": True})
        return str(tag["datetime"]) if tag is not None else ""

    def _content_time(self) -> str:
        """The first `<time datetime>` of the article itself, not of a list inside it."""
        for container in self.soup.select(_CONTENT_CONTAINERS):
            for tag in container.find_all("time", datetime=True):
                if not _in_link_list(tag, container):
                    return str(tag["datetime"])
        return ""

    def _htmldate(self) -> DateInfo | None:
        # On a copy without link lists, whose dates are other articles', and without
        # htmldate's free-text search, which invents days (January 1 for a bare year): it
        # finds the right day or none (measured in tests/test_parsers_russian.py).
        html = _without_link_lists(self.page.html)
        day = find_date(html, original_date=True, extensive_search=False, url=self.url)
        if not day:
            return None
        parsed = parse_date_text(day)
        if parsed is None:
            return None
        return localize(parsed.value, self.page.zone, "day")

    def updated(self) -> DateInfo | None:
        return self._first_date(
            itertools.chain(
                [json_ld_text(self._ld.get("dateModified"))],
                (meta_content(self.soup, **attrs) for attrs in _MODIFIED_META),
            )
        )

    @cached_property
    def _extracted(self) -> list[str]:
        """trafilatura's paragraphs, unchanged but for whitespace."""
        text = trafilatura.extract(
            self.page.html,
            url=self.url,
            include_comments=False,
            include_tables=False,
            include_images=False,
            include_links=False,
        )
        return split_paragraphs(text or "")

    @cached_property
    def _figure_captions(self) -> list[Caption]:
        captions = [split_credit(text_of(fc)) for fc in self.soup.find_all("figcaption")]
        return [c for c in captions if c.text or c.credit]

    @cached_property
    def _split(self) -> tuple[list[str], list[Caption]]:
        """(body paragraphs, captions found among the extracted paragraphs)."""
        known = {clean_text(f"{c.text} {c.credit or ''}") for c in self._figure_captions}
        known |= {c.text for c in self._figure_captions if c.text}
        known |= {
            clean_text(str(img.get("alt", "")))
            for img in self.soup.find_all("img", alt=True)
            if len(clean_text(str(img.get("alt", "")))) > 20
        }
        body: list[str] = []
        captions: list[Caption] = []
        # trafilatura may keep the <h1> headline at the top; the record has it as title.
        headline = self.title()
        for index, paragraph in enumerate(self._extracted):
            if index < 3 and paragraph == headline:
                continue
            if paragraph in known or (
                len(paragraph) <= MAX_CAPTION_CHARS and has_credit(paragraph)
            ):
                captions.append(split_credit(paragraph))
            elif index < 3 and self._is_byline(paragraph):
                continue
            else:
                body.append(paragraph)
        return body, captions

    @staticmethod
    def _is_byline(paragraph: str) -> bool:
        if len(paragraph) <= _BYLINE_CHARS and _BYLINE.match(paragraph):
            return True
        return len(paragraph) <= _DATE_LINE_CHARS and bool(_DATE_LINE.search(paragraph))

    def body(self) -> str:
        return join_paragraphs(self._split[0])

    def captions(self) -> list[Caption]:
        captions = list(self._figure_captions)
        for caption in self._split[1]:
            if caption not in captions:
                captions.append(caption)
        return captions

    def images(self) -> list[dict[str, Any]]:
        images: list[dict[str, Any]] = []
        seen: set[str] = set()

        def add(src: str | None, alt: str | None) -> None:
            url = absolute_url(self.url, src)
            if url and url not in seen:
                seen.add(url)
                images.append({"src": url, "alt": clean_text(alt) or None})

        for src in meta_contents(self.soup, prop="og:image"):
            add(src, None)
        for figure in self.soup.find_all("figure"):
            for img in figure.find_all("img"):
                add(str(img.get("src") or img.get("data-src") or ""), str(img.get("alt") or ""))
        return images

    def canonical_url(self) -> str | None:
        url = super().canonical_url()
        if url and url != self.url:
            return url
        ld_url = json_ld_text(self._ld.get("url")) or json_ld_text(self._ld.get("mainEntityOfPage"))
        return absolute_url(self.url, ld_url) or url

    def language(self) -> str | None:
        html = self.soup.find("html")
        for tag in (
            str(html.get("lang") or html.get("xml:lang") or "") if html else "",
            meta_content(self.soup, name="language"),
            json_ld_text(self._ld.get("inLanguage")),
            meta_content(self.soup, prop="og:locale"),
        ):
            language = primary_language(tag)
            if language:
                return language
        for meta in self.soup.find_all("meta", attrs={"http-equiv": True}):
            if str(meta.get("http-equiv", "")).lower() == "content-language":
                language = primary_language(str(meta.get("content", "")))
                if language:
                    return language
        return super().language()
