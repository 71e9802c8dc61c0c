"""A synthetic news site on 127.0.0.1 for the crawl benchmark (bench/crawl_bench.py).

It serves, from memory, everything a crawl of a real news site touches:

    /robots.txt                      Disallow /private/, Sitemap: the index
    /sitemap_index.xml               a sitemap index -> /sitemaps/news-<k>.xml
    /sitemaps/news-<k>.xml           urlsets of at most 1,000 article URLs each
    /news/ and /news/page/<n>        listing pages, LISTING_SIZE articles each
    /news/<yyyy>/<mm>/<dd>/<id>-<slug>.html
                                     N article pages of ~8-15 KB: meta tags and a JSON-LD
                                     NewsArticle in the head, a nav bar, 5-10 paragraphs of
                                     generated prose, a figure with a credited caption, a
                                     related-links rail and a footer

Everything is generated from a seed before the server listens, so every run serves the same
bytes and generating pages costs the crawl nothing. Run it as its own process so that it does
not share a GIL with the crawler it serves:

    python bench/synthetic_site.py --articles 5000 --port 0

It prints `listening on http://127.0.0.1:<port>` on one line once it serves. The server is a
minimal HTTP/1.1 server on asyncio streams with keep-alive (Scrapy reuses connections);
bodies are sent uncompressed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import signal
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import escape

SITEMAP_SIZE = 1000
LISTING_SIZE = 50
SITE_NAME = "The Daily Synthetic"
SECTIONS = ("world", "china", "business", "technology", "science", "opinion", "culture")
# Article dates run back one per ~3.7 hours from here, newest first.
NEWEST = datetime(2026, 6, 30, 18, 0, tzinfo=UTC)
OFFSET = "+08:00"

_SUBJECTS = (
    "The ministry",
    "A spokesperson for the agency",
    "Officials in Beijing",
    "Negotiators from both sides",
    "The central bank",
    "A group of researchers at the national laboratory",
    "Local authorities",
    "The state-owned operator",
    "Analysts at a Moscow think tank",
    "The joint committee",
    "Several provincial governments",
    "The consortium's chief engineer",
    "Industry representatives",
    "A senior diplomat",
    "The regulator",
)
_VERBS = (
    "announced",
    "confirmed",
    "signed an agreement on",
    "outlined plans for",
    "warned about",
    "published a report on",
    "called for closer cooperation on",
    "began testing",
    "postponed a decision on",
    "opened consultations on",
    "allocated new funding for",
    "expressed concern over",
    "presented the results of",
)
_OBJECTS = (
    "satellite navigation",
    "a new generation of supercomputers",
    "cross-border payment systems",
    "the joint lunar research station",
    "semiconductor supply chains",
    "nuclear power plant construction",
    "rare-earth processing",
    "artificial intelligence standards",
    "high-speed rail links",
    "a shared data centre in the Far East",
    "wide-body passenger aircraft",
    "export controls on dual-use goods",
    "undersea cable capacity",
    "agricultural drone exports",
    "quantum communication networks",
)
_CLAUSES = (
    "according to a statement released on {weekday}",
    "after two days of talks in {city}",
    "ahead of a summit scheduled for {month}",
    "despite objections raised by several trading partners",
    "in a move that surprised many observers",
    "citing rising demand in the region",
    "as part of a five-year programme agreed last {month}",
    "without giving a timetable",
    "in comments to reporters in {city}",
    "the first such step since {year}",
)
_FOLLOWUPS = (
    "The details of the arrangement were not made public.",
    "It was not immediately clear how the project would be financed.",
    "Trade between the two countries reached a record last year, official figures show.",
    "Critics say the plan depends on equipment that is still under sanctions.",
    "A second round of talks is expected before the end of the year.",
    "Neither side commented on the cost, which earlier reports put at several billion dollars.",
    "The announcement follows months of speculation in the specialist press.",
    "Engineers will spend the coming months on feasibility studies, officials said.",
    "The move was welcomed by exporters, who had complained of long delays at the border.",
    "Some economists questioned whether the targets were realistic.",
)
_QUOTES = (
    "“We see this as a long-term partnership, not a one-off deal,” {name} said.",
    "“There is still a great deal of work ahead of us,” {name} told reporters.",
    "“The technical questions have largely been resolved,” according to {name}.",
    "“Our priority is reliability, then cost,” {name} said in an interview.",
)
_FIRST = ("Anna", "Wang", "Sergei", "Li", "Elena", "Zhang", "Dmitry", "Chen", "Olga", "Liu")
_LAST = ("Petrova", "Wei", "Ivanov", "Na", "Smirnova", "Jun", "Volkov", "Hui", "Orlova", "Yang")
_CITIES = ("Beijing", "Moscow", "Shanghai", "Vladivostok", "Harbin", "Kazan", "Urumqi", "Minsk")
_MONTHS = ("January", "March", "May", "July", "September", "November")
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
_HEAD_WORDS = (
    "talks",
    "negotiations",
    "preparations",
    "tests",
    "consultations",
    "inspections",
    "trials",
    "deliveries",
)


@dataclass(frozen=True)
class Page:
    body: bytes
    content_type: str


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60]


def _person(rng: random.Random) -> str:
    return f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"


class SyntheticSite:
    """Every page of the site, rendered once, keyed by request path."""

    def __init__(self, base: str, articles: int, seed: int = 1) -> None:
        self.base = base.rstrip("/")
        self.count = articles
        self.seed = seed
        self.meta = [self._article_meta(i) for i in range(1, articles + 1)]
        self.pages: dict[str, Page] = {}
        self._render()

    # --- what exists -----------------------------------------------------------------------

    def _rng(self, n: int) -> random.Random:
        return random.Random(self.seed * 1_000_003 + n)

    def _article_meta(self, n: int) -> dict[str, str]:
        rng = self._rng(n)
        when = NEWEST - timedelta(minutes=223 * (n - 1) + rng.randrange(0, 60))
        local = when + timedelta(hours=8)
        subject = rng.choice(_SUBJECTS).removeprefix("The ").removeprefix("A ")
        title = (
            f"{subject[0].upper()}{subject[1:]} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)} "
            f"as {rng.choice(_HEAD_WORDS)} {rng.choice(('continue', 'stall', 'advance'))}"
        )
        path = f"/news/{local:%Y/%m/%d}/{n}-{_slug(title)}.html"
        return {
            "n": str(n),
            "title": title,
            "path": path,
            "url": self.base + path,
            "section": rng.choice(SECTIONS),
            "published": local.strftime("%Y-%m-%dT%H:%M:%S") + OFFSET,
            "day": local.strftime("%Y-%m-%d"),
            "author": _person(rng),
        }

    def article_urls(self) -> list[str]:
        return [m["url"] for m in self.meta]

    def listing_pages(self) -> int:
        return max(1, -(-self.count // LISTING_SIZE))

    def sitemap_count(self) -> int:
        return max(1, -(-self.count // SITEMAP_SIZE))

    # --- rendering -------------------------------------------------------------------------

    def _render(self) -> None:
        self._add(
            "/robots.txt",
            f"User-agent: *\nDisallow: /private/\n\nSitemap: {self.base}/sitemap_index.xml\n",
            "text/plain; charset=utf-8",
        )
        maps = "".join(
            f"<sitemap><loc>{self.base}/sitemaps/news-{k}.xml</loc>"
            f"<lastmod>{NEWEST:%Y-%m-%d}</lastmod></sitemap>\n"
            for k in range(1, self.sitemap_count() + 1)
        )
        self._add(
            "/sitemap_index.xml",
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
            f"{maps}</sitemapindex>\n",
            "application/xml",
        )
        for k in range(1, self.sitemap_count() + 1):
            chunk = self.meta[(k - 1) * SITEMAP_SIZE : k * SITEMAP_SIZE]
            urls = "".join(
                f"<url><loc>{m['url']}</loc><lastmod>{m['published']}</lastmod></url>\n"
                for m in chunk
            )
            self._add(
                f"/sitemaps/news-{k}.xml",
                '<?xml version="1.0" encoding="UTF-8"?>\n'
                '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
                f"{urls}</urlset>\n",
                "application/xml",
            )
        for page in range(1, self.listing_pages() + 1):
            path = "/news/" if page == 1 else f"/news/page/{page}"
            self._add(path, self._listing(page), "text/html; charset=utf-8")
        for i, meta in enumerate(self.meta):
            self._add(meta["path"], self._article(i), "text/html; charset=utf-8")
        self._add("/", self._listing(1), "text/html; charset=utf-8")

    def _add(self, path: str, text: str, content_type: str) -> None:
        self.pages[path] = Page(text.encode("utf-8"), content_type)

    def _nav(self) -> str:
        items = "".join(f'<li><a href="/{s}/">{s.capitalize()}</a></li>' for s in SECTIONS)
        more = "".join(
            f'<li><a href="/topics/{t}/">{t.replace("-", " ").title()}</a></li>'
            for t in ("belt-and-road", "energy", "space", "trade", "sanctions", "video")
        )
        return (
            '<header class="site-header"><a class="logo" href="/">'
            f"{SITE_NAME}</a>"
            '<form class="search" action="/search"><input name="q" placeholder="Search">'
            "</form></header>\n"
            f'<nav class="main-nav" aria-label="Sections"><ul>{items}{more}</ul></nav>\n'
        )

    def _footer(self) -> str:
        links = "".join(
            f'<a href="/{p}/">{p.replace("-", " ").title()}</a> '
            for p in ("about", "contact", "advertise", "privacy", "terms", "rss", "archive")
        )
        return (
            f'<footer class="site-footer"><p>{links}</p>'
            f"<p>© 2026 {SITE_NAME}. All rights reserved. Reproduction of any part of this "
            "site without written permission is prohibited.</p></footer>\n"
        )

    def _listing(self, page: int) -> str:
        chunk = self.meta[(page - 1) * LISTING_SIZE : page * LISTING_SIZE]
        items = "".join(
            f'<li class="teaser"><a href="{m["path"]}">{escape(m["title"])}</a>'
            f'<time datetime="{m["published"]}">{m["day"]}</time></li>\n'
            for m in chunk
        )
        pager = (
            f'<a rel="next" href="/news/page/{page + 1}">Older</a>'
            if page < self.listing_pages()
            else ""
        )
        return (
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f"<title>Latest news - page {page} - {SITE_NAME}</title></head><body>\n"
            f'{self._nav()}<main><h1>Latest news</h1><ul class="river">\n{items}</ul>'
            f'<div class="pager">{pager}</div></main>\n{self._footer()}</body></html>\n'
        )

    def _sentence(self, rng: random.Random) -> str:
        clause = rng.choice(_CLAUSES).format(
            weekday=rng.choice(_WEEKDAYS),
            city=rng.choice(_CITIES),
            month=rng.choice(_MONTHS),
            year=rng.randrange(2008, 2024),
        )
        subject = rng.choice(_SUBJECTS)
        verb = rng.choice(_VERBS)
        obj = rng.choice(_OBJECTS)
        if rng.random() < 0.5:
            return f"{subject} {verb} {obj} on {rng.choice(_WEEKDAYS)}, {clause}."
        return f"{clause[0].upper()}{clause[1:]}, {subject[0].lower()}{subject[1:]} {verb} {obj}."

    def _paragraph(self, rng: random.Random) -> str:
        parts = [self._sentence(rng) for _ in range(rng.randrange(2, 6))]
        if rng.random() < 0.6:
            parts.append(rng.choice(_FOLLOWUPS))
        if rng.random() < 0.3:
            parts.append(rng.choice(_QUOTES).format(name=_person(rng)))
        if rng.random() < 0.2:
            share = rng.randrange(5, 95)
            parts.append(
                f"The figure rose by {share} percent compared with the same period a year "
                f"earlier, to {rng.randrange(2, 900)} million yuan."
            )
        return " ".join(parts)

    def _article(self, index: int) -> str:
        m = self.meta[index]
        rng = self._rng(10_000_000 + int(m["n"]))
        city = rng.choice(_CITIES).upper()
        paragraphs = [self._paragraph(rng) for _ in range(rng.randrange(5, 11))]
        paragraphs[0] = f"{city}, {m['day']} -- {paragraphs[0]}"
        figure_at = rng.randrange(1, len(paragraphs))
        credit = rng.choice(("Xinhua", "AFP", "Reuters", "TASS", "Staff photographer"))
        image = f"{self.base}/images/{m['n']}-main.jpg"
        figure = (
            f'<figure class="lead-image"><img src="/images/{m["n"]}-main.jpg" '
            f'alt="{escape(m["title"])}" width="1200" height="675" loading="lazy">'
            f"<figcaption>Delegates at the meeting in {city.title()} on "
            f"{rng.choice(_WEEKDAYS)}. Photo: {credit}</figcaption></figure>\n"
        )
        body = ""
        for i, text in enumerate(paragraphs):
            if i == figure_at:
                body += figure
            body += f"<p>{escape(text, quote=False)}</p>\n"
        related = [self.meta[rng.randrange(self.count)] for _ in range(8)]
        rail = "".join(f'<li><a href="{r["path"]}">{escape(r["title"])}</a></li>' for r in related)
        tags = sorted({rng.choice(_OBJECTS) for _ in range(3)})
        ld = {
            "@context": "https://schema.org",
            "@type": "NewsArticle",
            "mainEntityOfPage": {"@type": "WebPage", "@id": m["url"]},
            "headline": m["title"],
            "description": paragraphs[1][:180],
            "image": [image],
            "datePublished": m["published"],
            "dateModified": m["published"],
            "author": [{"@type": "Person", "name": m["author"]}],
            "publisher": {
                "@type": "Organization",
                "name": SITE_NAME,
                "logo": {"@type": "ImageObject", "url": f"{self.base}/static/logo.png"},
            },
            "articleSection": m["section"].capitalize(),
            "keywords": ", ".join(tags),
        }
        title = escape(m["title"])
        return (
            '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{title} - {SITE_NAME}</title>\n"
            f'<link rel="canonical" href="{m["url"]}">\n'
            f'<meta name="description" content="{escape(paragraphs[1][:180])}">\n'
            f'<meta name="author" content="{m["author"]}">\n'
            f'<meta name="keywords" content="{escape(", ".join(tags))}">\n'
            f'<meta property="og:site_name" content="{SITE_NAME}">\n'
            '<meta property="og:type" content="article">\n'
            f'<meta property="og:title" content="{title}">\n'
            f'<meta property="og:url" content="{m["url"]}">\n'
            f'<meta property="og:image" content="{image}">\n'
            f'<meta property="article:published_time" content="{m["published"]}">\n'
            f'<meta property="article:section" content="{m["section"].capitalize()}">\n'
            '<link rel="stylesheet" href="/static/site.css">\n'
            f'<script type="application/ld+json">{json.dumps(ld, ensure_ascii=False)}</script>\n'
            '<script async src="/static/analytics.js"></script>\n'
            f'</head><body class="article section-{m["section"]}">\n{self._nav()}'
            '<div class="container"><main>\n<article class="story">\n'
            f'<p class="kicker"><a href="/{m["section"]}/">{m["section"].capitalize()}</a></p>\n'
            f'<h1 class="headline">{title}</h1>\n'
            f'<p class="byline">By <a rel="author" href="/authors/{_slug(m["author"])}/">'
            f'{m["author"]}</a> | <time datetime="{m["published"]}">{m["day"]}</time></p>\n'
            '<div class="share"><a href="#">Share</a> <a href="#">Tweet</a> '
            '<a href="#">Email</a></div>\n'
            f'<div class="story-body">\n{body}</div>\n'
            f'<p class="tags">Tags: {", ".join(escape(t) for t in tags)}</p>\n'
            "</article></main>\n"
            f'<aside class="related"><h2>Related stories</h2><ul>{rail}</ul>'
            '<div class="ad" data-slot="rail">Advertisement</div></aside></div>\n'
            f"{self._footer()}</body></html>\n"
        )


_NOT_FOUND = Page(b"<!doctype html><title>Not found</title><p>Not found</p>\n", "text/html")


class Server:
    """HTTP/1.1 with keep-alive over asyncio streams; counts what it served."""

    def __init__(self, site: SyntheticSite) -> None:
        self.site = site
        self.requests = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                    break
                request_line, _, header_block = head.decode("latin-1").partition("\r\n")
                parts = request_line.split()
                if len(parts) != 3:
                    break
                method, target, version = parts
                path = target.split("?", 1)[0]
                self.requests += 1
                page = self.site.pages.get(path)
                status = "200 OK" if page else "404 Not Found"
                page = page or _NOT_FOUND
                headers = header_block.lower()
                close = "connection: close" in headers or version == "HTTP/1.0"
                head_out = (
                    f"HTTP/1.1 {status}\r\nContent-Type: {page.content_type}\r\n"
                    f"Content-Length: {len(page.body)}\r\nServer: synthetic-site\r\n"
                    f"Connection: {'close' if close else 'keep-alive'}\r\n\r\n"
                ).encode("latin-1")
                writer.write(head_out if method == "HEAD" else head_out + page.body)
                await writer.drain()
                if close:
                    break
        except ConnectionError:
            pass  # the crawler hung up mid-response; nothing to do for a benchmark server
        finally:
            writer.close()


async def serve(articles: int, port: int, seed: int) -> None:
    holder: dict[str, Server] = {}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await holder["server"].handle(reader, writer)

    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
    bound = server.sockets[0].getsockname()[1]
    # The pages carry absolute URLs, so they are rendered once the port is known.
    holder["server"] = Server(SyntheticSite(f"http://127.0.0.1:{bound}", articles, seed))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    print(f"listening on http://127.0.0.1:{bound}", flush=True)
    async with server:
        await stop.wait()
    print(f"served {holder['server'].requests} requests", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=5000, help="number of article pages")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--seed", type=int, default=1, help="same seed, same site")
    args = parser.parse_args(argv)
    asyncio.run(serve(args.articles, args.port, args.seed))


if __name__ == "__main__":
    main()
