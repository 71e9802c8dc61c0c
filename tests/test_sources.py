"""The registry: every built-in source is valid and its patterns match the documented URLs."""

from __future__ import annotations

import pytest

from crawler.sources import BUILTIN, Listing, SourceError, default_registry, schedule_seconds

# Article URLs documented in ../shared/SOURCES.md, and the source each belongs to.
DOCUMENTED_ARTICLES = {
    "https://www.globaltimes.cn/page/202607/1365253.shtml": "globaltimes",
    "http://www.globaltimes.cn/content/1174814.shtml": "globaltimes",
    "https://www.fmprc.gov.cn/eng/xw/fyrbt/lxjzh/202609/t20260930_11111111.html": "fmprc_en",
    "https://www.fmprc.gov.cn/mfa_eng/xwfw_665399/s2510_665401/2511_665403/t1727788.shtml": (
        "fmprc_en"
    ),
    "https://www.mfa.gov.cn/web/fyrbt_673021/jzhsl_673025/202609/t20260930_11111112.shtml": (
        "fmprc_zh"
    ),
    "https://www.fmprc.gov.cn/web/zyxw/t1638430.shtml": "fmprc_zh",
    "http://en.kremlin.ru/events/president/news/60672": "kremlin_en",
    "http://kremlin.ru/events/president/transcripts/62163": "kremlin_ru",
    "https://mid.ru/en/press_service/spokesman/briefings/1944137/": "mid_en",
    "https://mid.ru/ru/press_service/spokesman/briefings/1944136/": "mid_ru",
    "https://english.news.cn/20260825/0123456789abcdef0123456789abcdef/c.html": "xinhua_en",
    "http://www.xinhuanet.com/english/2019-12/25/c_138657011.htm": "xinhua_en",
    "http://www.xinhuanet.com/world/2019-12/10/c_1125327450.htm": "xinhua_zh",
    "https://www.chinadaily.com.cn/a/202303/20/WS6417a1b2a31057c47ebb5a3c.html": "chinadaily_en",
    "https://china.chinadaily.com.cn/a/202311/17/WS65571297a310d5acd876f404.html": "chinadaily_zh",
    "https://news.cgtn.com/news/2019-12-25/"
    "MOFA-says-sci-tech-is-the-next-focus-of-China-Russia-ties-MIw6OrkiXu/index.html": "cgtn",
    "http://en.people.cn/n3/2024/0424/c90000-20160000.html": "people_en",
    "http://politics.people.com.cn/n1/2024/0424/c1001-40223222.html": "people_zh",
    "https://3w.huanqiu.com/a/d80b1f/3yWyyCuSR4w": "huanqiu",
    "https://tass.com/science/1103515": "tass_en",
    "https://tass.ru/politika/22000000": "tass_ru",
    "https://www.rt.com/news/473849-3-morales-supporters-killed-bolivia/": "rt",
    "https://sputniknews.com/columnists/201911181077343476-royal-self-indicting-arrogance/": (
        "sputnik"
    ),
    "https://ria.ru/20260825/kitay-1234567890.html": "ria",
    "https://ria.ru/20191225/1562811927.html": "ria",
}


@pytest.mark.parametrize(("url", "key"), sorted(DOCUMENTED_ARTICLES.items()))
def test_documented_article_urls_belong_to_their_source(url: str, key: str) -> None:
    assert default_registry().for_url(url).key == key  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "url",
    [
        "https://www.globaltimes.cn/china/diplomacy/index.html",
        "https://www.globaltimes.cn/page/202607/1365253.shtml?from=rss#top",
        "http://en.kremlin.ru/events/president/news/feed",
        "https://mid.ru/en/press_service/spokesman/briefings/",
        "https://www.mfa.gov.cn/web/system/index_17321.shtml",
        "https://tass.com/rss/v2.xml",
    ],
)
def test_listing_and_feed_urls_are_not_articles(url: str) -> None:
    assert default_registry().for_url(url) is None


def test_every_builtin_source_has_a_way_in() -> None:
    for source in BUILTIN:
        assert source.start_urls(), f"{source.key} has no feed, sitemap or listing"
        for url in source.start_urls():
            assert not source.is_article_url(url), f"{source.key}: start URL {url} is an article"


def test_required_sources_are_declared() -> None:
    keys = {s.key for s in BUILTIN}
    assert {"globaltimes", "fmprc_en", "kremlin_en", "xinhua_en", "tass_en", "mid_en"} <= keys


def test_listing_pagination_is_capped() -> None:
    listing = Listing("https://x.example/", pages="https://x.example/index_{n}.html", max_pages=3)
    assert listing.urls() == [
        "https://x.example/",
        "https://x.example/index_2.html",
        "https://x.example/index_3.html",
    ]
    assert listing.urls(cap=1) == ["https://x.example/"]


def test_unknown_source_error_lists_the_known_keys() -> None:
    with pytest.raises(SourceError, match=r"Unknown source 'nyt'\. Known: .*globaltimes"):
        default_registry().get("nyt")


def test_schedule_seconds() -> None:
    assert schedule_seconds("30m") == 1800
    assert schedule_seconds("2h") == 7200
    assert schedule_seconds("0 */2 * * *") is None
