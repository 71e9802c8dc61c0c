"""Finding article URLs: RSS/Atom feeds, sitemaps (news sitemaps and indexes), listing pages.

Pure functions of (url, body): the spider fetches, this module reads. XML is parsed with
entity resolution and network access off, so a hostile feed cannot expand entities or make
lxml fetch anything.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

from lxml import etree, html

logger = logging.getLogger(__name__)

_XML_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, huge_tree=False, recover=True, remove_comments=True
)

FEED_HINT_TYPES = ("application/rss+xml", "application/atom+xml", "application/feed+json")
COMMON_FEED_PATHS = ("/feed", "/rss", "/rss.xml", "/feed.xml", "/atom.xml", "/index.xml")
COMMON_SITEMAP_PATHS = ("/sitemap.xml", "/sitemap_index.xml", "/news-sitemap.xml")


@dataclass(frozen=True)
class Link:
    """A URL found by discovery, with the date the feed or sitemap gives for it (if any)."""

    url: str
    published: date | None = None


@dataclass(frozen=True)
class XmlDocument:
    """What an XML body turned out to be: a feed, a sitemap index, a urlset, or nothing."""

    kind: str  # "feed" | "sitemapindex" | "urlset" | "unknown"
    links: tuple[Link, ...] = ()


def _local(tag: object) -> str:
    return tag.split("}", 1)[-1].lower() if isinstance(tag, str) else ""


def parse_date(text: str | None) -> date | None:
    """A date from RFC 822 (RSS), ISO 8601 (Atom, sitemaps) or a bare YYYY-MM-DD."""
    if not text:
        return None
    text = text.strip()
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date()
    except ValueError:
        pass
    try:
        parsed = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        logger.debug("Unreadable feed date %r", text)
        return None
    return parsed.astimezone(UTC).date() if parsed.tzinfo else parsed.date()


_XML_DECLARATION = re.compile(rb"^<\?xml[^>]*?encoding=[\"']([A-Za-z0-9_.:-]+)[\"'][^>]*\?>")
# Chinese sites label GBK (and GB18030) text as GB2312; GB18030 is a superset of both.
_WIDER_ENCODING = {"gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030"}


def _xml_input(body: bytes) -> bytes | str:
    """The body as lxml should read it: re-decoded when its declared charset is too narrow."""
    match = _XML_DECLARATION.match(body)
    if match:
        wider = _WIDER_ENCODING.get(match.group(1).decode("ascii").lower())
        if wider:
            # lxml refuses a str that still carries an encoding declaration: drop it.
            return body[match.end() :].decode(wider, errors="replace")
    return body


def parse_xml(url: str, body: bytes) -> XmlDocument:
    """Read a feed or sitemap body; `unknown` when it is neither (e.g. an HTML stub)."""
    stripped = body.lstrip()
    if not stripped.startswith(b"<"):
        return XmlDocument("unknown")
    try:
        root = etree.fromstring(_xml_input(stripped), parser=_XML_PARSER)
    except etree.XMLSyntaxError as exc:
        logger.warning("Not XML at %s: %s", url, exc)
        return XmlDocument("unknown")
    if root is None:
        return XmlDocument("unknown")
    name = _local(root.tag)
    if name in ("rss", "rdf", "feed"):
        return XmlDocument("feed", tuple(_feed_links(url, root)))
    if name in ("sitemapindex", "urlset"):
        return XmlDocument(name, tuple(_sitemap_links(url, root)))
    return XmlDocument("unknown")


def _feed_links(base: str, root: etree._Element) -> list[Link]:
    links: list[Link] = []
    for entry in root.iter():
        if _local(entry.tag) not in ("item", "entry"):
            continue
        href = None
        when = None
        for child in entry:
            tag = _local(child.tag)
            if tag == "link":
                # RSS: <link>url</link>; Atom: <link rel="alternate" href="url"/>.
                candidate = child.get("href") or (child.text or "").strip()
                if candidate and child.get("rel", "alternate") == "alternate" and not href:
                    href = candidate
            elif tag == "guid" and not href and child.get("isPermaLink", "true") == "true":
                href = (child.text or "").strip() or None
            elif tag in ("pubdate", "published", "updated", "date") and when is None:
                when = parse_date(child.text)
        if href:
            links.append(Link(urljoin(base, href), when))
    return links


def _sitemap_links(base: str, root: etree._Element) -> list[Link]:
    links: list[Link] = []
    for node in root:
        if _local(node.tag) not in ("url", "sitemap"):
            continue
        loc = None
        when = None
        news_when = None
        for child in node.iter():
            tag = _local(child.tag)
            if tag == "loc" and loc is None:
                loc = (child.text or "").strip()
            elif tag == "lastmod":
                when = parse_date(child.text)
            elif tag == "publication_date":
                news_when = parse_date(child.text)
        if loc:
            # A news sitemap's publication date beats lastmod, which some sites (RT) set to
            # the date the sitemap was regenerated.
            links.append(Link(urljoin(base, loc), news_when or when))
    return links


def html_links(url: str, body: str) -> list[str]:
    """Every absolute http(s) link of an HTML page, in page order, without fragments."""
    try:
        tree = html.document_fromstring(body)
    except (etree.ParserError, ValueError) as exc:
        logger.warning("Unparseable listing page %s: %s", url, exc)
        return []
    base = tree.xpath("string(//base/@href)") or url
    seen: dict[str, None] = {}
    for href in tree.xpath("//a/@href"):
        absolute = urljoin(base, href.strip()).split("#", 1)[0]
        if urlsplit(absolute).scheme in ("http", "https"):
            seen.setdefault(absolute, None)
    return list(seen)


def feed_links_in_html(url: str, body: str) -> list[str]:
    """Feeds a page advertises with <link rel="alternate" type="application/rss+xml">."""
    try:
        tree = html.document_fromstring(body)
    except (etree.ParserError, ValueError):
        return []
    found = []
    for link in tree.xpath("//link[@rel='alternate'][@href]"):
        if (link.get("type") or "").lower() in FEED_HINT_TYPES:
            found.append(urljoin(url, link.get("href")))
    return found


def sitemaps_in_robots(body: str) -> list[str]:
    return [
        line.split(":", 1)[1].strip()
        for line in body.splitlines()
        if line.lower().startswith("sitemap:") and line.split(":", 1)[1].strip()
    ]
