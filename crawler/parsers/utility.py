"""Helpers that more than one parser needs: selecting text, meta tags, JSON-LD, bylines, URLs.

Anything site-specific stays in the site's module; anything a second site could use lives here
(Fundus keeps the same split in `parser/utility.py`).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from typing import Any, ClassVar
from urllib.parse import urljoin

from bs4 import BeautifulSoup
from bs4.element import Comment, Tag

from crawler.normalize import (
    AGENCIES,
    DateInfo,
    clean_text,
    localize_parsed,
    parse_date_text,
)

logger = logging.getLogger(__name__)


class _MetaTags:
    """The `<meta>` tags of the last soup asked about, found with one walk of its tree.

    Parsers look up a dozen meta tags per page; walking the whole tree for each was about a
    third of all parser time (bench/README.md). One slot suffices: a page is parsed to the
    end before the next begins, and holding the soup keeps its identity from being reused.
    """

    soup: ClassVar[BeautifulSoup | None] = None
    tags: ClassVar[list[Tag]] = []

    @classmethod
    def of(cls, soup: BeautifulSoup) -> list[Tag]:
        if cls.soup is not soup:
            cls.soup, cls.tags = soup, soup.find_all("meta")
        return cls.tags


def make_soup(html: str) -> BeautifulSoup:
    """The DOM every parser works on (lxml tree builder, as DESIGN.md names it)."""
    return BeautifulSoup(html, "lxml")


def text_of(node: Tag | None, separator: str = " ") -> str:
    """Clean text of a node ('' for None); `separator` goes between text nodes."""
    if node is None:
        return ""
    return clean_text(node.get_text(separator))


def select_text(root: Tag | BeautifulSoup, css: str) -> str:
    """Clean text of the first match of `css`, '' when nothing matches."""
    return text_of(root.select_one(css))


def meta_content(
    soup: BeautifulSoup,
    *,
    name: str | None = None,
    prop: str | None = None,
    element_id: str | None = None,
    itemprop: str | None = None,
) -> str:
    """Content of the first `<meta>` matching name / property / id / itemprop (case-insensitive
    for name and property, as sites spell them "DESCRIPTION", "og:Title", ...)."""
    for meta in _MetaTags.of(soup):
        attrs = meta.attrs
        if element_id is not None and attrs.get("id") != element_id:
            continue
        if name is not None and str(attrs.get("name", "")).lower() != name.lower():
            continue
        if prop is not None and str(attrs.get("property", "")).lower() != prop.lower():
            continue
        if itemprop is not None and attrs.get("itemprop") != itemprop:
            continue
        content = clean_text(str(attrs.get("content", "")))
        if content:
            return content
    return ""


def meta_contents(
    soup: BeautifulSoup, *, prop: str | None = None, name: str | None = None
) -> list[str]:
    """Every non-empty content of a repeatable meta tag (article:tag, og:image)."""
    found: list[str] = []
    for meta in _MetaTags.of(soup):
        attrs = meta.attrs
        if prop is not None and str(attrs.get("property", "")).lower() != prop.lower():
            continue
        if name is not None and str(attrs.get("name", "")).lower() != name.lower():
            continue
        content = clean_text(str(attrs.get("content", "")))
        if content:
            found.append(content)
    return found


def link_href(soup: BeautifulSoup, rel: str) -> str:
    """href of the first `<link rel=...>` carrying `rel`."""
    for link in soup.find_all("link", href=True):
        rels = link.get("rel") or []
        if isinstance(rels, str):
            rels = rels.split()
        if rel in [r.lower() for r in rels]:
            return clean_text(str(link["href"]))
    return ""


def absolute_url(base: str, href: str | None) -> str | None:
    """`href` resolved against `base`; None for empty, data: and javascript: URLs."""
    href = clean_text(href)
    if not href or href.startswith(("data:", "javascript:", "#")):
        return None
    return urljoin(base, href)


# --- JSON-LD -----------------------------------------------------------------------------------

ARTICLE_TYPES = frozenset(
    {"Article", "NewsArticle", "ReportageNewsArticle", "AnalysisNewsArticle", "OpinionNewsArticle",
     "BackgroundNewsArticle", "ReviewNewsArticle", "BlogPosting", "LiveBlogPosting", "Report",
     "ScholarlyArticle", "TechArticle"}
)  # fmt: skip


def _walk_json_ld(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, list):
        for item in node:
            yield from _walk_json_ld(item)
    elif isinstance(node, dict):
        yield node
        if "@graph" in node:
            yield from _walk_json_ld(node["@graph"])


def json_ld_objects(soup: BeautifulSoup) -> list[dict[str, Any]]:
    """Every JSON-LD object of the page, `@graph` members and list items flattened."""
    objects: list[dict[str, Any]] = []
    for script in soup.find_all("script", type=re.compile(r"application/ld\+json", re.I)):
        raw = script.string or script.get_text()
        if not raw.strip():
            continue
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            # Sites ship broken JSON-LD (trailing commas, raw newlines); the other metadata
            # sources still apply, so note it and go on.
            logger.debug("Unreadable JSON-LD block: %s", exc)
            continue
        objects.extend(_walk_json_ld(data))
    return objects


def _types(obj: dict[str, Any]) -> set[str]:
    kind = obj.get("@type")
    if isinstance(kind, str):
        return {kind}
    if isinstance(kind, list):
        return {k for k in kind if isinstance(k, str)}
    return set()


def json_ld_article(soup: BeautifulSoup) -> dict[str, Any] | None:
    """The first JSON-LD object typed as an article (NewsArticle, Article, ...)."""
    for obj in json_ld_objects(soup):
        if _types(obj) & ARTICLE_TYPES:
            return obj
    return None


def json_ld_text(value: Any) -> str:
    """A JSON-LD value as text: strings as they are, {"name": ...} / {"@value": ...} objects."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return json_ld_text(value.get("name") or value.get("@value") or value.get("@id"))
    if isinstance(value, list) and value:
        return json_ld_text(value[0])
    return ""


def json_ld_people(value: Any) -> list[str]:
    """Names of the Person entries of a JSON-LD author value (organisations left out)."""
    items = value if isinstance(value, list) else [value]
    names: list[str] = []
    for item in items:
        if isinstance(item, str):
            names.extend(split_authors(item))
        elif isinstance(item, dict) and "Organization" not in _types(item):
            names.extend(split_authors(json_ld_text(item.get("name"))))
    return names


# --- bylines and keywords ----------------------------------------------------------------------

# Bylines that name an organisation, not a person ("By Global Times", "By Xinhua").
_NOT_PEOPLE = frozenset(
    a.lower() for a in (*AGENCIES, "Global Times", "GT", "Xinhua News Agency", "agencies",
                        "Global Times reporter", "Global Times reporters", "staff reporter",
                        "Web", "Staff", "Editor", "Reporter")
)  # fmt: skip
_BY_PREFIX = re.compile(r"^\s*by\s*:?\s+", re.IGNORECASE)
_AUTHOR_SEPARATORS = re.compile(r"\s*(?:,|;|\||&|\band\b)\s*", re.IGNORECASE)


def is_organisation(name: str) -> bool:
    """True for agency and house bylines that are not people."""
    return clean_text(name).lower().rstrip(".") in _NOT_PEOPLE


def split_authors(byline: str | None) -> list[str]:
    """People named by a byline: "By Guo Yuandan and Liang Rui" -> ["Guo Yuandan", "Liang Rui"].

    Organisation bylines ("By Xinhua", "By Global Times") name no person and give [].
    """
    text = _BY_PREFIX.sub("", clean_text(byline))
    names = [clean_text(part) for part in _AUTHOR_SEPARATORS.split(text)]
    seen: list[str] = []
    for name in names:
        # CMS user ids ("105092") sit in some author metas; a name has letters.
        has_letters = any(ch.isalpha() for ch in name)
        if has_letters and not is_organisation(name) and name not in seen:
            seen.append(name)
    return seen


def split_keywords(value: str | list[Any] | None) -> list[str]:
    """Tags from a comma-separated keywords string or a JSON-LD list, order kept, no duplicates."""
    if value is None:
        return []
    parts = value if isinstance(value, list) else re.split(r"[,;，、]", value)
    tags: list[str] = []
    for part in parts:
        tag = clean_text(str(part))
        if tag and tag.lower() not in (t.lower() for t in tags):
            tags.append(tag)
    return tags


# --- language ----------------------------------------------------------------------------------


def primary_language(tag: str | None) -> str | None:
    """The primary BCP-47 subtag, lower-case: "en-US" -> "en", "zh_CN" -> "zh"."""
    tag = clean_text(tag)
    # Whole-tag check: sites put "utf-8" in Content-Language, which is no language.
    if not re.fullmatch(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*", tag):
        return None
    return re.split(r"[-_]", tag)[0].lower()


# --- bot walls and challenge pages -------------------------------------------------------------
# What a crawler gets instead of the article when a site's bot protection answers (SOURCES.md
# §3, §10, §11): ServicePipe's JavaScript cookie challenge on tass.ru (HTTP 403, < 5 KB),
# F5/Shape's "bobcmn" stub on mid.ru, DDoS-Guard's browser check on rt.com, and the generic
# "Checking your browser" / "Access denied" / captcha pages. Conservative by design: a marker
# only counts on a page with almost no visible text, so an article that mentions DDoS-Guard, or
# a real page with a captcha in its comment form (Sputnik 2019), is never taken for a wall.

# Markers in the markup (scripts, ids, URLs) that challenge pages carry.
_CHALLENGE_MARKUP = (
    ("servicepipe.ru/static/", "ServicePipe challenge"),
    ("get_cookie_spsn", "ServicePipe challenge"),
    ("id_captcha_frame_div", "ServicePipe challenge"),
    ("bobcmn", "F5 bobcmn challenge"),  # window["bobcmn"] = "…" and the TSPD cookie script
    ("tspd_101", "F5 bobcmn challenge"),
    ("/tspd/", "F5 bobcmn challenge"),  # mid.ru's stub loads its script from /TSPD/…
    ("ddos-guard.net/", "DDoS-Guard check"),
    ("/.well-known/ddos-guard/", "DDoS-Guard check"),
    ("_cf_chl_opt", "Cloudflare challenge"),
    ("cf-browser-verification", "Cloudflare challenge"),
)
# Phrases in the visible text (or <title>) of a block page.
_CHALLENGE_PHRASES = re.compile(
    r"checking your browser|verify(?:ing)? (?:that )?you are (?:a )?human|are you a robot"
    r"|access denied|access to this page has been denied|captcha|ddos protection"
    r"|please enable (?:javascript|cookies)|just a moment\.\.\."
    r"|проверка браузера|доступ запрещ[её]н|вы не робот",
    re.IGNORECASE,
)
# The same phrases, case-sensitive, for text already lowered (a case-insensitive search over
# every raw page cost ~1 ms a page, bench/README.md).
_CHALLENGE_PHRASES_LOWER = re.compile(_CHALLENGE_PHRASES.pattern)
# A page with a marker or a phrase is a block page only if it shows less text than this
# (characters): challenge pages show a line or two, while even a short news item, with its
# headline, lead and a few paragraphs, shows more.
MAX_BLOCK_PAGE_TEXT = 600
# Phrase-only block pages are small; anything bigger is a page, not a wall.
MAX_BLOCK_PAGE_BYTES = 64_000
_INVISIBLE_TAGS = frozenset({"script", "style", "noscript", "template", "head", "title"})


def _visible_text(soup: BeautifulSoup) -> str:
    """The text a browser would show (no scripts, styles or head), whitespace folded."""
    parts = []
    for string in soup.find_all(string=True):
        if isinstance(string, Comment):
            continue
        if any(parent.name in _INVISIBLE_TAGS for parent in string.parents):
            continue
        parts.append(str(string))
    return clean_text(" ".join(parts))


def block_reason(html: str | BeautifulSoup) -> str | None:
    """Why the page is a bot wall or challenge instead of an article, or None (see above)."""
    raw = html if isinstance(html, str) else str(html)
    lowered = raw.lower()
    marker = next((why for needle, why in _CHALLENGE_MARKUP if needle in lowered), None)
    if marker is None and (
        len(raw) > MAX_BLOCK_PAGE_BYTES or not _CHALLENGE_PHRASES_LOWER.search(lowered)
    ):
        return None  # the common case, decided without building a DOM
    soup = make_soup(raw) if isinstance(html, str) else html
    visible = _visible_text(soup)
    if len(visible) >= MAX_BLOCK_PAGE_TEXT:
        return None
    if marker is not None:
        return marker
    # Only what the page shows counts for a phrase: a script may say "captcha" anywhere.
    phrase = _CHALLENGE_PHRASES.search(f"{text_of(soup.find('title'))} {visible}")
    return f"block page ({phrase.group(0).lower()!r})" if phrase else None


def is_block_page(html: str | BeautifulSoup) -> bool:
    """True for a bot wall or challenge page (`block_reason` says which)."""
    return block_reason(html) is not None


# --- Russian media (TASS, RT, RIA Novosti, Sputnik) ------------------------------------------

# House names that these sites put where a person's name belongs (meta author, JSON-LD author
# strings, "Finian Cunningham. Sputnik International"); `split_authors` does not know them.
_HOUSE_NAMES = ("РИА Новости", "ТАСС", "RT", "Sputnik", "Sputnik International", "RIA Novosti")
_HOUSE_SUFFIX = re.compile(
    r"\s*[.,]\s*(?:" + "|".join(re.escape(n) for n in _HOUSE_NAMES) + r")\s*$", re.IGNORECASE
)


def people_only(names: list[str]) -> list[str]:
    """`names` without house names, and with a trailing ". Sputnik International" removed."""
    house = {n.lower() for n in _HOUSE_NAMES}
    people: list[str] = []
    for name in names:
        name = _HOUSE_SUFFIX.sub("", clean_text(name))
        if name and name.lower() not in house and not is_organisation(name) and name not in people:
            people.append(name)
    return people


# Next.js (app router) pages ship their data as `self.__next_f.push([1, "…"])` script chunks,
# JSON inside a JS string, so quotes arrive escaped:
# \"datePublished\":\"2026-08-16T00:02:03+03:00\".
_NEXT_FLIGHT = "self.__next_f.push"


def next_flight_value(soup: BeautifulSoup, key: str) -> str | None:
    """The first string value of `key` in the page's Next.js flight data, or None."""
    pattern = re.compile(rf'\\*"{re.escape(key)}\\*"\s*:\s*\\*"(?P<value>[^"\\]+)\\*"')
    for script in soup.find_all("script"):
        code = script.string or ""
        if _NEXT_FLIGHT not in code:
            continue
        match = pattern.search(code)
        if match:
            return clean_text(match.group("value"))
    return None


def drop_matching(paragraphs: list[str], patterns: tuple[re.Pattern[str], ...]) -> list[str]:
    """`paragraphs` without those that a house-boilerplate pattern matches."""
    return [p for p in paragraphs if not any(pattern.search(p) for pattern in patterns)]


def og_images(soup: BeautifulSoup, base_url: str) -> list[dict[str, Any]]:
    """The page's `og:image` pictures as `Article.images` entries (no alt text: metas have none)."""
    images: list[dict[str, Any]] = []
    for src in meta_contents(soup, prop="og:image"):
        url = absolute_url(base_url, src)
        if url and all(image["src"] != url for image in images):
            images.append({"src": url, "alt": None})
    return images


def json_ld_dates(soup: BeautifulSoup, zone: str) -> tuple[DateInfo | None, DateInfo | None]:
    """(published, updated) from the JSON-LD article's datePublished and dateModified.

    `updated` is None when it equals `published`: these sites repeat the publication time as
    dateModified on articles never edited, and `updated_at` is for an update the page shows.
    """
    article = json_ld_article(soup) or {}
    published = localize_parsed(parse_date_text(json_ld_text(article.get("datePublished"))), zone)
    updated = localize_parsed(parse_date_text(json_ld_text(article.get("dateModified"))), zone)
    if updated is not None and published is not None and updated == published:
        updated = None
    return published, updated
