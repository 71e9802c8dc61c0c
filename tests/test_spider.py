"""NewsSpider navigation, on responses built in the test (no network, as Scrapy's own tests)."""

from __future__ import annotations

from scrapy.crawler import Crawler
from scrapy.http import HtmlResponse, Request, XmlResponse
from scrapy.utils.reactor import install_reactor, is_reactor_installed

from crawler.items import Article
from crawler.runner import CrawlOptions, build_settings
from crawler.spiders.news import MAX_SITEMAP_DEPTH, NewsSpider


def make_spider(replay: bool = False, **kwargs: object) -> NewsSpider:
    """A spider on a crawler set up as Crawler.crawl() does it, without running the engine."""
    if not is_reactor_installed():
        # Installed, never run: Crawler checks that the configured reactor is the one in place.
        install_reactor("twisted.internet.asyncioreactor.AsyncioSelectorReactor")
    settings = build_settings(CrawlOptions(db_path=":memory:"))
    if replay:
        settings.set("PRESSWATCH_REPLAY", ["x.warc.gz"], priority="cmdline")
        settings.set("DOWNLOAD_DELAY", 0, priority="cmdline")
    crawler = Crawler(NewsSpider, settings, init_reactor=False)
    crawler.spider = NewsSpider.from_crawler(crawler, **kwargs)
    crawler._apply_settings()  # what Crawler.crawl() does next: stats, then freeze
    return crawler.spider


def test_the_source_delay_becomes_the_download_delay() -> None:
    spider = make_spider(source="kremlin_en")
    assert spider.crawler.settings.getfloat("DOWNLOAD_DELAY") == 15.0
    assert "en.kremlin.ru" in spider.allowed_domains


def test_a_replay_owes_no_delay() -> None:
    spider = make_spider(replay=True, source="kremlin_en")
    assert spider.crawler.settings.getfloat("DOWNLOAD_DELAY") == 0


def test_start_requests_cover_feeds_sitemaps_and_capped_listings() -> None:
    spider = make_spider(source="fmprc_en", max_listing_pages=2)
    urls = [r.url for r in spider.start_requests()]
    assert urls == [
        "https://www.fmprc.gov.cn/eng/xw/fyrbt/lxjzh/index.html",
        "https://www.fmprc.gov.cn/eng/xw/fyrbt/lxjzh/index_1.html",
    ]


def test_listing_yields_only_article_urls_once() -> None:
    spider = make_spider(source="globaltimes")
    body = b"""<html><body>
    <a href="/content/1174814.shtml">seed</a><a href="/content/1174814.shtml#c">again</a>
    <a href="/page/202607/1365253.shtml">new</a><a href="/china/index.html">section</a>
    <a href="https://elsewhere.example/content/1.shtml">elsewhere</a></body></html>"""
    response = HtmlResponse(
        "https://www.globaltimes.cn/china/diplomacy/index.html", body=body, encoding="utf-8"
    )
    urls = [r.url for r in spider.parse_listing(response)]
    assert urls == [
        "https://www.globaltimes.cn/content/1174814.shtml",
        "https://www.globaltimes.cn/page/202607/1365253.shtml",
    ]


def test_since_skips_old_urls_and_max_articles_caps() -> None:
    spider = make_spider(source="fmprc_en", since="2026-01-01", max_articles=1)
    body = b"""<html><body>
    <a href="./202512/t20251230_1.html">old</a>
    <a href="./202609/t20260930_2.html">new</a>
    <a href="./202609/t20260929_3.html">also new</a></body></html>"""
    response = HtmlResponse(
        "https://www.fmprc.gov.cn/eng/xw/fyrbt/lxjzh/index.html", body=body, encoding="utf-8"
    )
    urls = [r.url for r in spider.parse_listing(response)]
    assert urls == ["https://www.fmprc.gov.cn/eng/xw/fyrbt/lxjzh/202609/t20260930_2.html"]
    stats = spider.crawler.stats
    assert stats.get_value("discovery/skipped_older_than_since") == 1
    assert stats.get_value("discovery/skipped_max_articles") == 1


def test_nested_sitemap_indexes_stop_at_the_depth_limit() -> None:
    spider = make_spider(source="rt")
    body = b"""<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
    <sitemap><loc>https://www.rt.com/sitemap_2026.xml</loc></sitemap></sitemapindex>"""
    response = XmlResponse("https://www.rt.com/sitemap.xml", body=body)
    assert [r.url for r in spider.parse_xml(response, depth=0)] == [
        "https://www.rt.com/sitemap_2026.xml"
    ]
    assert list(spider.parse_xml(response, depth=MAX_SITEMAP_DEPTH)) == []


def test_article_page_becomes_an_article_with_fallback_stats() -> None:
    spider = make_spider(source="globaltimes")
    # A Global Times URL whose page lost the template: every field falls back to generic.
    body = (
        b"""<html><head><title>Redesigned page - Global Times</title></head><body>
    <article><h1>Redesigned page</h1><p>"""
        + b"Some text of the story. " * 40
        + b"""</p>
    </article></body></html>"""
    )
    url = "https://www.globaltimes.cn/page/202611/1400000.shtml"
    response = HtmlResponse(url, body=body, encoding="utf-8", request=Request(url))
    (article,) = list(spider.parse_article(response))
    assert isinstance(article, Article)
    assert article.source == "globaltimes" and article.fetched_at
    assert article.body.startswith("Some text of the story.")
    assert spider.crawler.stats.get_value("parser/globaltimes/fallback/body") == 1
