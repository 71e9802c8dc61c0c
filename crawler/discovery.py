"""Finding article URLs: RSS/Atom feeds, sitemaps (news sitemaps and indexes), listing pages.

Pure functions of (url, body): the spider fetches, this module reads. XML is parsed with
entity resolution and network access off, so a hostile feed cannot expand entities or make
lxml fetch anything (no file:// or http:// entity, no external DTD). What a hostile or broken
document tried is still reported: `XmlDocument.problems` names it (the spider counts each as
`bounds/<problem>`) and a warning names the URL:

- `xml_entities`: the document declares entities (billion laughs, XXE); none is expanded,
  and a link whose text holds an entity reference is left out rather than cut short;
- `xml_limit`: libxml2 stopped reading at one of its limits (entity amplification, depth);
  the links read before it are kept;
- `decompressed_too_large` / `bad_gzip`: a gzipped body (a .xml.gz sitemap) inflates past
  the response size limit, or is not gzip;
- `links_per_document`: more links than the spider takes from one document.
"""

from __future__ import annotations

import logging
import re
import zlib
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

from lxml import etree, html
from scrapy.utils.gz import gunzip

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
    # What was wrong with it, for the stats: see the module docstring.
    problems: tuple[str, ...] = ()


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


GZIP_MAGIC = b"\x1f\x8b"


def parse_xml(url: str, body: bytes, *, max_bytes: int = 0, max_links: int = 0) -> XmlDocument:
    """Read a feed or sitemap body; `unknown` when it is neither (e.g. an HTML stub).

    A gzipped body (a .xml.gz sitemap served as a file, not with Content-Encoding) is inflated
    first, to at most `max_bytes` (0: no limit). At most `max_links` links are returned.
    """
    problems: list[str] = []
    if body.startswith(GZIP_MAGIC):
        try:
            body = gunzip(body, max_size=max_bytes)
        except ValueError:
            # Scrapy's gunzip raises a ValueError subclass, and only that, at the size limit.
            logger.warning(
                "Too large decompressed: gzipped %s inflates past %d bytes (max_response_bytes)",
                url,
                max_bytes,
            )
            return XmlDocument("unknown", problems=("decompressed_too_large",))
        except (OSError, EOFError, zlib.error) as exc:
            logger.warning("Not gzip, though it says so: %s (%s)", url, exc)
            return XmlDocument("unknown", problems=("bad_gzip",))
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
    problems += _hostile_xml(url, root, _XML_PARSER.error_log)
    name = _local(root.tag)
    if name in ("rss", "rdf", "feed"):
        kind, links = "feed", _feed_links(url, root)
    elif name in ("sitemapindex", "urlset"):
        kind, links = name, _sitemap_links(url, root)
    else:
        return XmlDocument("unknown", problems=tuple(problems))
    if "xml_limit" in problems:
        # The element libxml2 was reading when it stopped is cut short: so is its link.
        links = links[:-1]
    if max_links and len(links) > max_links:
        logger.warning(
            "Too many links: %s lists %d, only the first %d are taken "
            "(PRESSWATCH_MAX_LINKS_PER_DOCUMENT)",
            url,
            len(links),
            max_links,
        )
        problems.append("links_per_document")
        links = links[:max_links]
    return XmlDocument(kind, tuple(links), tuple(problems))


def _hostile_xml(url: str, root: etree._Element, errors: etree._ListErrorLog) -> list[str]:
    """The problems of a parsed document that a well-meaning feed or sitemap never has."""
    problems = []
    dtd = root.getroottree().docinfo.internalDTD
    entities = list(dtd.iterentities()) if dtd is not None else []
    if entities:
        named = ", ".join(
            f"{e.name}" + (f" SYSTEM {e.system_url}" if e.system_url else "") for e in entities[:5]
        )
        logger.warning(
            "XML entities declared in %s (%d: %s%s); none is expanded or fetched",
            url,
            len(entities),
            named,
            ", ..." if len(entities) > 5 else "",
        )
        problems.append("xml_entities")
    limits = [e.message for e in errors if e.type == etree.ErrorTypes.ERR_RESOURCE_LIMIT]
    if limits:
        logger.warning(
            "XML parsing stopped in %s at a limit (%s); the links read before it are kept",
            url,
            limits[0].strip(),
        )
        problems.append("xml_limit")
    return problems


def _text(element: etree._Element) -> str:
    """An element's text; empty when it holds an unexpanded entity reference (&xxe;), whose
    text alone would be a cut-short URL."""
    if any(isinstance(child, etree._Entity) for child in element):
        return ""
    return (element.text or "").strip()


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
                candidate = child.get("href") or _text(child)
                if candidate and child.get("rel", "alternate") == "alternate" and not href:
                    href = candidate
            elif tag == "guid" and not href and child.get("isPermaLink", "true") == "true":
                href = _text(child) or None
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
                loc = _text(child)
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
