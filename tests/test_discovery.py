"""Discovery: feeds, sitemaps, listing links, URL dates; hostile XML stays harmless."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from crawler import discovery
from crawler.normalize import url_date

RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>GT</title>
<item><title>A</title><link>https://www.globaltimes.cn/page/202607/1365253.shtml</link>
<pubDate>Mon, 06 Jul 2026 18:19:00 +0800</pubDate></item>
<item><title>B</title><guid>https://www.globaltimes.cn/page/202608/1368751.shtml</guid></item>
</channel></rss>"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Kremlin</title>
<entry><title>Talks</title><link rel="alternate" href="/events/president/news/60672"/>
<link rel="enclosure" href="/static/a.jpg"/><published>2019-06-05T18:15:00+03:00</published>
</entry></feed>"""

NEWS_SITEMAP = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
<url><loc>https://tass.com/science/1103515</loc><lastmod>2026-11-01</lastmod>
<news:news><news:publication_date>2019-12-25T14:05:00+03:00</news:publication_date>
<news:title>t</news:title></news:news></url>
</urlset>"""

INDEX = b"""<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<sitemap><loc>https://www.rt.com/sitemap_2026.xml</loc><lastmod>2026-11-20</lastmod></sitemap>
</sitemapindex>"""


def test_rss_items_with_dates_and_guid_permalinks() -> None:
    doc = discovery.parse_xml("https://www.globaltimes.cn/rss/outbrain.xml", RSS)
    assert doc.kind == "feed"
    assert doc.links == (
        discovery.Link("https://www.globaltimes.cn/page/202607/1365253.shtml", date(2026, 7, 6)),
        discovery.Link("https://www.globaltimes.cn/page/202608/1368751.shtml", None),
    )


def test_atom_alternate_links_are_made_absolute_and_enclosures_ignored() -> None:
    doc = discovery.parse_xml("http://en.kremlin.ru/events/president/news/feed", ATOM)
    assert doc.links == (
        discovery.Link("http://en.kremlin.ru/events/president/news/60672", date(2019, 6, 5)),
    )


def test_news_sitemap_publication_date_beats_lastmod() -> None:
    doc = discovery.parse_xml("https://tass.com/sitemap/sitemap_news0.xml", NEWS_SITEMAP)
    assert doc.kind == "urlset"
    assert doc.links == (discovery.Link("https://tass.com/science/1103515", date(2019, 12, 25)),)


def test_sitemap_index() -> None:
    doc = discovery.parse_xml("https://www.rt.com/sitemap.xml", INDEX)
    assert doc.kind == "sitemapindex"
    assert doc.links[0].url == "https://www.rt.com/sitemap_2026.xml"


def test_an_html_challenge_page_is_not_a_feed() -> None:
    stub = b"<html><head><script>bobcmn=1</script></head><body>Checking</body></html>"
    assert discovery.parse_xml("https://mid.ru/en/rss.php", stub).kind == "unknown"
    assert discovery.parse_xml("https://mid.ru/en/rss.php", b"").kind == "unknown"
    assert discovery.parse_xml("https://mid.ru/en/rss.php", b"\x00\x01binary").kind == "unknown"


def test_external_entities_are_never_resolved(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET", encoding="utf-8")
    evil = f"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file://{secret}">]>
<rss version="2.0"><channel><item><link>https://x.example/&xxe;</link></item></channel></rss>"""
    doc = discovery.parse_xml("https://x.example/feed", evil.encode())
    assert all("TOPSECRET" not in link.url for link in doc.links)


def test_billion_laughs_does_not_expand() -> None:
    lol = b"""<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">
<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<rss><channel><item><link>https://x.example/&lol3;</link></item></channel></rss>"""
    doc = discovery.parse_xml("https://x.example/feed", lol)
    assert all(len(link.url) < 200 for link in doc.links)


def test_listing_links_are_absolute_unique_and_without_fragments() -> None:
    page = """<html><head><base href="https://www.globaltimes.cn/china/"></head><body>
    <a href="diplomacy/index.html">D</a><a href="/content/1174814.shtml#top">A</a>
    <a href="/content/1174814.shtml">A again</a><a href="mailto:x@y">mail</a>
    <a href="javascript:void(0)">js</a></body></html>"""
    assert discovery.html_links("https://www.globaltimes.cn/", page) == [
        "https://www.globaltimes.cn/china/diplomacy/index.html",
        "https://www.globaltimes.cn/content/1174814.shtml",
    ]


def test_feeds_advertised_in_html_and_sitemaps_in_robots() -> None:
    page = """<html><head><link rel="alternate" type="application/rss+xml" href="/rss.xml">
    <link rel="alternate" hreflang="ru" href="/ru/"></head></html>"""
    assert discovery.feed_links_in_html("https://x.example/a/", page) == [
        "https://x.example/rss.xml"
    ]
    robots = "User-agent: *\nDisallow: /search\nSitemap: https://x.example/sitemap.xml\n"
    assert discovery.sitemaps_in_robots(robots) == ["https://x.example/sitemap.xml"]


def test_dates_written_into_article_urls() -> None:
    cases = {
        "https://www.fmprc.gov.cn/eng/xw/fyrbt/lxjzh/202609/t20260930_11111111.html": "2026-09-30",
        "https://news.cgtn.com/news/2019-12-25/MOFA-MIw6OrkiXu/index.html": "2019-12-25",
        "http://www.xinhuanet.com/world/2019-12/10/c_1125327450.htm": "2019-12-10",
        "https://china.chinadaily.com.cn/a/202311/17/WS65571297a310d5acd876f404.html": "2023-11-17",
        "http://politics.people.com.cn/n1/2024/0424/c1001-40223222.html": "2024-04-24",
        "https://english.news.cn/20260825/0123456789abcdef0123456789abcdef/c.html": "2026-08-25",
    }
    for url, expected in cases.items():
        assert url_date(url) == date.fromisoformat(expected), url
    assert url_date("https://tass.com/science/1103515") is None
    assert url_date("https://x.example/2026/13/45/") is None


def test_a_feed_labelled_gb2312_keeps_its_gbk_only_characters() -> None:
    # people.com.cn labels GBK text as GB2312; "―" (U+2015) exists in GBK, not in GB2312.
    feed = (
        '<?xml version="1.0" encoding="gb2312"?><rss version="2.0"><channel><item>'
        "<title>中俄―合作</title>"
        "<link>http://politics.people.com.cn/n1/2024/0424/c1001-40223222.html</link>"
        "</item></channel></rss>"
    ).encode("gbk")
    doc = discovery.parse_xml("http://www.people.com.cn/rss/politics.xml", feed)
    assert [link.url for link in doc.links] == [
        "http://politics.people.com.cn/n1/2024/0424/c1001-40223222.html"
    ]
