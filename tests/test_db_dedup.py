"""URL folding, article ids and content/record hashes (db.dedup)."""

from __future__ import annotations

import re

import pytest

from db.dedup import article_id, canonical_url, content_hash, record_hash

SAME_ARTICLE = [
    # http/https, www., tracking parameters
    (
        "http://www.globaltimes.cn/content/1.shtml",
        "https://globaltimes.cn/content/1.shtml?utm_source=x",
    ),
    (
        "https://www.globaltimes.cn/page/202401/1.shtml",
        "https://www.globaltimes.cn/page/202401/1.shtml?utm_medium=social&utm_campaign=a",
    ),
    ("https://example.com/a?id=3", "https://example.com/a?id=3&fbclid=IwAR0abc"),
    ("https://example.com/a", "https://example.com/a?gclid=x&yclid=y&msclkid=z"),
    ("https://example.com/a", "https://example.com/a?mc_cid=1&mc_eid=2"),
    ("https://example.com/a", "https://example.com/a?spm=a2c4g.11186623&from=timeline"),
    ("https://example.com/a", "https://example.com/a?share=wechat&ref=homepage"),
    ("https://example.com/a", "https://example.com/a?cmpid=rss&ito=792"),
    ("https://example.com/a", "https://example.com/a?UTM_Source=Newsletter"),
    # query order, fragments, case of scheme and host, default ports
    ("https://example.com/a?b=2&a=1", "https://example.com/a?a=1&b=2"),
    ("https://example.com/a", "https://example.com/a#comments"),
    ("HTTPS://WWW.GLOBALTIMES.CN/content/1.shtml", "https://www.globaltimes.cn/content/1.shtml"),
    ("https://example.com:443/a", "https://example.com/a"),
    ("http://example.com:80/a", "https://example.com/a"),
    # mobile and AMP twins
    ("https://m.huanqiu.com/article/4GaBcD", "https://www.huanqiu.com/article/4GaBcD"),
    ("https://mobile.reuters.com/world/x", "https://www.reuters.com/world/x"),
    (
        "https://amp.theguardian.com/world/2024/jan/01/story",
        "https://www.theguardian.com/world/2024/jan/01/story",
    ),
    ("https://example.com/amp/news/1.html", "https://example.com/news/1.html"),
    ("https://example.com/2024/01/story/amp/", "https://example.com/2024/01/story/"),
    ("https://example.com/2024/01/story/amp", "https://example.com/2024/01/story"),
    ("https://example.com/news/1.html?amp=1", "https://example.com/news/1.html"),
    ("https://example.com/news/1.html?amp", "https://example.com/news/1.html"),
    ("https://example.com/news/1.html?outputType=amp", "https://example.com/news/1.html"),
    ("https://example.com/news/story.amp", "https://example.com/news/story"),
    ("https://example.com/news/story.amp.html", "https://example.com/news/story.html"),
    # index pages and percent-encoding
    (
        "https://www.fmprc.gov.cn/eng/xw/fyrbt/lxjzh/index.html",
        "https://www.fmprc.gov.cn/eng/xw/fyrbt/lxjzh/",
    ),
    ("https://example.com/news/index.htm", "https://example.com/news/"),
    ("https://example.com/news/index.shtml", "https://example.com/news/"),
    ("https://example.com/新闻/1.html", "https://example.com/%E6%96%B0%E9%97%BB/1.html"),
]

DIFFERENT_ARTICLES = [
    ("https://www.globaltimes.cn/content/1.shtml", "https://www.globaltimes.cn/content/2.shtml"),
    ("https://example.com/article?id=3", "https://example.com/article?id=4"),
    ("https://example.com/article?id=3", "https://example.com/article"),
    ("https://example.com/list?page=2", "https://example.com/list"),
    ("https://example.com/a?outputType=json", "https://example.com/a"),
    ("https://world.huanqiu.com/article/4Ga", "https://china.huanqiu.com/article/4Ga"),
    ("https://example.com/Content/1", "https://example.com/content/1"),
    ("https://example.com/news/amplifier", "https://example.com/news/"),
    ("https://example.com/amp", "https://example.com/"),
    ("https://ampere.example.com/a", "https://example.com/a"),
    ("https://example.com/news/index_2.html", "https://example.com/news/index.html"),
    # A trailing slash can name another resource; servers differ, so it is not folded.
    ("https://example.com/news/1", "https://example.com/news/1/"),
    ("https://example.com:8080/a", "https://example.com/a"),
]


@pytest.mark.parametrize(("a", "b"), SAME_ARTICLE)
def test_variants_of_one_url_get_one_id(a: str, b: str) -> None:
    assert article_id(a) == article_id(b), (canonical_url(a), canonical_url(b))


@pytest.mark.parametrize(("a", "b"), DIFFERENT_ARTICLES)
def test_different_urls_get_different_ids(a: str, b: str) -> None:
    assert article_id(a) != article_id(b), (canonical_url(a), canonical_url(b))


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://m.Example.com/amp/a/1.html?utm_source=x&id=3#top",
            "https://example.com/a/1.html?id=3",
        ),
        (
            "HTTP://WWW.GlobalTimes.cn:80/content/1.shtml?b=2&a=1",
            "http://www.globaltimes.cn/content/1.shtml?a=1&b=2",
        ),
        ("https://amp.dev/about", "https://amp.dev/about"),
        ("https://example.com", "https://example.com/"),
        ("https://example.com/dir/index.html?x=1", "https://example.com/dir/?x=1"),
    ],
)
def test_canonical_url_is_a_fetchable_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


def test_article_id_is_16_hex_digits() -> None:
    assert re.fullmatch(r"[0-9a-f]{16}", article_id("https://example.com/a"))


@pytest.mark.parametrize("url", ["", "   ", "/news/1.html", "ftp://example.com/a", "not a url"])
def test_non_http_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="http"):
        article_id(url)


def test_content_hash_folds_whitespace_and_unicode_forms() -> None:
    base = content_hash("Café talks", "First paragraph.\n\nSecond one.")
    assert content_hash("  Cafe\u0301   talks ", "First paragraph.  Second\tone.") == base
    assert content_hash("Café talks", "First paragraph. Second two.") != base


def test_content_hash_keeps_title_and_body_apart() -> None:
    assert content_hash("a b", "c") != content_hash("a", "b c")


def test_record_hash_ignores_only_fetched_at() -> None:
    record = {"url": "https://example.com/a", "title": "T", "fetched_at": "2024-01-01T00:00:00Z"}
    same = dict(reversed(list({**record, "fetched_at": "2025-01-01T00:00:00Z"}.items())))
    assert record_hash(same) == record_hash(record)
    assert record_hash({**record, "title": "T2"}) != record_hash(record)
    assert record_hash({**record, "tags": ["x"]}) != record_hash({**record, "tags": []})
