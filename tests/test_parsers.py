"""crawler.parsers: the Global Times templates field by field, the generic parser, the
fallback policy, and how parse_article picks a parser."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest

from crawler.items import Article
from crawler.normalize import clean_text
from crawler.parsers import (
    ParserFieldError,
    UnknownParserError,
    parse_article,
    parse_article_with_report,
)
from crawler.parsers.utility import primary_language, split_authors
from crawler.sources import BUILTIN, Registry, SourceError

PAGES = Path(__file__).parent / "data" / "pages" / "globaltimes"
GT_2026_07 = PAGES / "2026_07_06_pla_navy_submarine_strategic_missile_test.html"
GT_2026_08 = PAGES / "2026_08_22_pla_tracks_philippines_joint_patrols_scs.html"
GT_SEED = PAGES / "2019_12_25_china_russia_scitech_year.html"
URL_2026_07 = "https://www.globaltimes.cn/page/202607/1365253.shtml"
URL_2026_08 = "https://www.globaltimes.cn/page/202608/1368751.shtml"
URL_SEED = "http://www.globaltimes.cn/content/1174814.shtml"

# A sentence end followed directly by the next sentence: "on Wednesday.The national-level".
GLUED = re.compile(r"[a-z0-9][.!?][\"”’]?[A-Z]")


def _strict(url: str, path: Path) -> Article:
    article, report = parse_article_with_report(url, path.read_bytes(), strict=True)
    assert report.fallbacks == []
    return article


# --- Global Times 2021+ ----------------------------------------------------------------------


def test_gt2021_fields_of_a_two_author_page() -> None:
    article = _strict(URL_2026_07, GT_2026_07)
    assert article.source == "globaltimes"
    assert article.parser == "globaltimes/2021"
    assert article.title.startswith("PLA Navy conducts test launch of strategic missile")
    assert article.authors == ["Guo Yuandan", "Liang Rui"]
    assert article.section == "CHINA / MILITARY"
    assert article.tags == ["strategic", "test", "nuclear", "missile", "launch"]
    assert article.language == "en"
    assert article.kind == "article"
    assert article.canonical_url == URL_2026_07
    # "Published: Jul 06, 2026 06:19 PM", Beijing time.
    assert article.published_at == "2026-07-06T10:19:00Z"
    assert article.published_local == "2026-07-06T18:19:00+08:00"
    assert article.date_precision == "minute"
    assert article.updated_at is None
    assert article.captions == [
        {
            "text": "The Chinese People's Liberation Army (PLA) Navy successfully conducted the "
            "test launch of a strategic missile by a submarine on July 6, 2026.",
            "credit": "Photo: Xinhua",
        }
    ]
    assert article.images == [
        {
            "src": "https://www.globaltimes.cn/Portals/0/attachment/2026/2026-07-06/"
            "2a4442e8-4a62-42c7-8961-96fdf6d7cb7f.jpeg",
            "alt": article.captions[0]["text"] + " Photo: Xinhua",
        }
    ]


def test_gt2021_body_is_prose_only() -> None:
    body = _strict(URL_2026_07, GT_2026_07).body
    paragraphs = body.split("\n\n")
    assert len(paragraphs) == 28
    assert paragraphs[0].startswith("The Chinese People's Liberation Army (PLA) Navy on Monday")
    assert paragraphs[-1].endswith(
        '"We hope relevant countries will not read too much into it," Mao said.'
    )
    assert "Photo:" not in body
    assert "RELATED ARTICLES" not in body
    assert "Land-, sea-, and air-based missiles" not in body  # the related rail
    assert "\u00a0" not in body
    assert not GLUED.search(body)


def test_gt2021_agency_byline_and_update_time() -> None:
    article = _strict(URL_2026_08, GT_2026_08)
    assert article.authors == []  # "By Global Times" names no person
    assert article.published_at == "2026-08-22T04:29:00Z"
    assert article.updated_at == "2026-08-22T14:15:00Z"
    assert article.captions == [{"text": "South China Sea", "credit": "Photo: VCG"}]
    assert article.body.startswith("According to Chinese military sources, on Saturday")
    assert "\n\n" not in article.body
    assert "VCG" not in article.body


# --- Global Times 2009-2020: the seed article (acceptance record) ---------------------------


def test_seed_article_record() -> None:
    article = _strict(URL_SEED, GT_SEED)
    assert article.source == "globaltimes"
    assert article.parser == "globaltimes/2009"
    assert article.published_at == "2019-12-25T12:38:40Z"
    assert article.published_local == "2019-12-25T20:38:40+08:00"
    assert article.date_precision == "second"
    assert article.body.startswith("China and Russia are accelerating")
    paragraphs = article.body.split("\n\n")
    assert len(paragraphs) == 8
    assert paragraphs[0].endswith("on Wednesday.")
    assert paragraphs[1].startswith("The national-level project")
    assert not GLUED.search(article.body)
    assert "Photo: Xinhua" not in article.body
    assert article.captions == [
        {
            "text": "The Russia Pavilion is seen at the second China International Import Expo "
            "(CIIE) in Shanghai, east China, Nov. 2, 2019. The construction of country "
            "pavilions at the second CIIE has been completed.",
            "credit": "Photo: Xinhua",
        }
    ]
    assert article.language == "en"


OLD_TEMPLATE = """<html><head><title>Headline here - Global Times</title></head><body>
<div class="row-fluid" id="contents"><div id="left">
<div class="row-fluid article-title"><h3>Headline here</h3><h4>A deck under it</h4></div>
<div class="row-fluid article-source"><div class="span7 text-left">By Zhang Hui and Liu Xin
 Source:Global Times Published: 2018/3/21 9:05:00 Last Updated: 2018/3/21 23:10:07</div></div>
<div class="row-fluid"><div class="span12 row-content">
First paragraph.<br><br>Second paragraph.<br><br>
<center><img src="/Portals/0/a.jpg" alt="A boat. Photo: IC"></center><br>A boat. Photo: IC<br><br>
Third.<br></div></div>
<div class="text-muted">Posted in: <a>CHINA</a>,<a>DIPLOMACY</a></div>
</div></div></body></html>"""


def test_gt2009_template_fields() -> None:
    url = "http://www.globaltimes.cn/content/1094620.shtml"
    article, report = parse_article_with_report(url, OLD_TEMPLATE, strict=True)
    assert report.parser == "globaltimes/2009"
    assert article.title == "Headline here"
    assert article.subtitle == "A deck under it"
    assert article.authors == ["Zhang Hui", "Liu Xin"]
    assert article.section == "CHINA / DIPLOMACY"
    assert article.published_at == "2018-03-21T01:05:00Z"
    assert article.date_precision == "second"
    assert article.updated_at == "2018-03-21T15:10:07Z"
    assert article.body == "First paragraph.\n\nSecond paragraph.\n\nThird."
    assert article.captions == [{"text": "A boat.", "credit": "Photo: IC"}]
    assert article.images == [
        {"src": "http://www.globaltimes.cn/Portals/0/a.jpg", "alt": "A boat. Photo: IC"}
    ]


def test_gt_version_is_chosen_by_markup_before_url() -> None:
    # Old /content/ URLs now serve the 2021 template: the markup decides.
    html = GT_2026_08.read_text(encoding="utf-8")
    article = parse_article("https://www.globaltimes.cn/content/1368751.shtml", html)
    assert article.parser == "globaltimes/2021"
    assert article.published_at == "2026-08-22T04:29:00Z"


# --- failure policy: fall back to generic, or raise when strict ----------------------------


def _without(html: str, pattern: str) -> str:
    changed = re.sub(pattern, "", html, count=1, flags=re.S)
    assert changed != html
    return changed


def test_broken_date_falls_back_to_generic_and_is_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    html = _without(GT_2026_07.read_text(encoding="utf-8"), r'<span\s+class="pub_time">.*?</span>')
    with caplog.at_level(logging.WARNING, logger="crawler.parsers"):
        article, report = parse_article_with_report(URL_2026_07, html)
    assert report.fallbacks == ["published", "updated"]
    assert report.parser == article.parser == "globaltimes/2021"
    # htmldate finds the day; no time of day is invented.
    assert (article.published_at, article.date_precision) == ("2026-07-06", "day")
    assert article.authors == ["Guo Yuandan", "Liang Rui"]  # other fields still site-parsed
    message = caplog.text
    assert URL_2026_07 in message and "globaltimes/2021" in message and "published" in message


def test_missing_body_element_falls_back_to_trafilatura() -> None:
    html = GT_2026_08.read_text(encoding="utf-8").replace("article_right", "moved_elsewhere")
    article, report = parse_article_with_report(URL_2026_08, html)
    # The dateline is read from the body, so it falls back with it.
    assert report.fallbacks == ["dateline", "body", "captions", "images"]
    # trafilatura's text of the degraded page: the prose is there, the caption is not.
    assert "According to Chinese military sources, on Saturday" in article.body
    assert "Photo: VCG" not in article.body
    assert article.captions == [{"text": "South China Sea", "credit": "Photo: VCG"}]


def test_strict_mode_raises_instead_of_falling_back() -> None:
    html = _without(GT_2026_07.read_text(encoding="utf-8"), r'<span\s+class="pub_time">.*?</span>')
    with pytest.raises(ParserFieldError, match="globaltimes/2021 failed on field 'published'"):
        parse_article_with_report(URL_2026_07, html, strict=True)


# --- generic parser ----------------------------------------------------------------------------

JSON_LD = {
    "@context": "https://schema.org",
    "@graph": [
        {"@type": "WebSite", "name": "Example News", "url": "https://news.example.org/"},
        {
            "@type": "NewsArticle",
            "headline": "Moscow and Beijing sign space protocol",
            "alternativeHeadline": "Lunar station instruments",
            "datePublished": "2026-06-16T14:05:31+03:00",
            "dateModified": "2026-06-16T15:00:00+03:00",
            "author": [
                {"@type": "Person", "name": "Ivan Petrov"},
                {"@type": "Organization", "name": "Example News"},
            ],
            "articleSection": "Science",
            "keywords": ["space", "Moon", "space"],
            "inLanguage": "en-GB",
        },
    ],
}
PROSE = [
    "MOSCOW, June 16. Russia and China signed a protocol on instruments for the lunar station "
    "on Tuesday, the space agency said in a statement published on its website today.",
    "The document lists the instruments each side will build, and the schedule of the joint "
    "missions, which the agencies expect to start before the end of the decade.",
    "Officials of both agencies said that further agreements would follow next year, after "
    "the engineering groups finish their review of the landing sites and the power systems.",
]


def _generic_page(json_ld: dict | None = None) -> str:
    ld = json.dumps(json_ld or JSON_LD)
    paragraphs = "".join(f"<p>{p}</p>" for p in PROSE)
    return f"""<html><head><title>Moscow and Beijing sign space protocol | Example News</title>
<meta property="og:site_name" content="Example News">
<link rel="canonical" href="/news/2026/space-protocol">
<script type="application/ld+json">{ld}</script></head><body>
<nav><a href="/">Home</a> <a href="/world">World</a></nav>
<article><h1>Moscow and Beijing sign space protocol</h1><p>By Ivan Petrov</p>
<figure><img src="/img/moon.jpg" alt="moon"><figcaption>The Moon seen from Moscow.
Photo: TASS</figcaption></figure>{paragraphs}</article>
<footer>Copyright Example News</footer></body></html>"""


def test_generic_parser_on_a_json_ld_page() -> None:
    url = "https://news.example.org/news/2026/space-protocol?utm_source=x"
    article, report = parse_article_with_report(url, _generic_page(), strict=True)
    assert report.parser == article.parser == "generic/1"
    assert article.source == ""
    assert article.title == "Moscow and Beijing sign space protocol"
    assert article.subtitle == "Lunar station instruments"
    assert article.authors == ["Ivan Petrov"]
    assert article.section == "Science"
    assert article.tags == ["space", "Moon"]
    assert article.language == "en"
    assert article.canonical_url == "https://news.example.org/news/2026/space-protocol"
    assert article.published_at == "2026-06-16T11:05:31Z"
    assert article.published_local == "2026-06-16T14:05:31+03:00"
    assert article.date_precision == "second"
    assert article.updated_at == "2026-06-16T12:00:00Z"
    assert article.captions == [{"text": "The Moon seen from Moscow.", "credit": "Photo: TASS"}]
    assert article.images == [{"src": "https://news.example.org/img/moon.jpg", "alt": "moon"}]
    assert article.body.split("\n\n") == PROSE  # no byline, caption, nav or footer


def test_generic_reads_times_without_offset_in_the_source_zone() -> None:
    ld = {"@type": "NewsArticle", "headline": "H", "datePublished": "2026-06-16T14:05"}
    url = "https://tass.com/science/1234567"
    article = parse_article(url, _generic_page(ld))
    assert article.source == "tass_en"
    assert (article.published_at, article.published_local, article.date_precision) == (
        "2026-06-16T11:05:00Z",
        "2026-06-16T14:05:00+03:00",
        "minute",
    )
    # The same page from an unknown site is read as UTC.
    unknown = parse_article("https://unknown.example/a/1", _generic_page(ld))
    assert unknown.source == ""
    assert unknown.published_at == "2026-06-16T14:05:00Z"


def test_generic_ignores_implausible_metadata_dates_and_drops_dated_bylines() -> None:
    ld = {"@type": "NewsArticle", "headline": JSON_LD["@graph"][1]["headline"]}
    ld["datePublished"] = "2569-10-12"  # a Buddhist-era year in a real China Daily meta
    html = _generic_page(ld).replace(
        "<p>By Ivan Petrov</p>", "<p>By Zhou Ping (People's Daily Online) 10:14, July 16, 2026</p>"
    )
    html = html.replace(
        "</head>", '<meta property="article:published_time" content="2026-06-16"></head>'
    )
    article = parse_article("https://unknown.example/a/2", html)
    assert (article.published_at, article.date_precision) == ("2026-06-16", "day")
    assert article.body.split("\n\n") == PROSE


def test_generic_body_matches_trafilatura_on_real_gt_pages() -> None:
    import trafilatura

    from crawler.parsers import GenericParser, Page
    from crawler.sources import default_registry

    html = GT_2026_07.read_text(encoding="utf-8")
    page = Page(URL_2026_07, html, default_registry().get("globaltimes"))
    generic = GenericParser(page).body().split("\n\n")
    baseline = trafilatura.extract(html, include_comments=False, include_tables=False)
    lines = [clean_text(line) for line in baseline.splitlines() if line.strip()]
    # Everything trafilatura finds is kept, except the caption line.
    assert [line for line in lines if not line.endswith("Photo: Xinhua")] == generic
    assert generic == _strict(URL_2026_07, GT_2026_07).body.split("\n\n")


# --- choosing the parser -----------------------------------------------------------------------


def test_parse_article_picks_parser_by_url_and_by_key() -> None:
    html = GT_2026_08.read_bytes()
    by_url = parse_article(URL_2026_08, html)
    assert (by_url.source, by_url.parser) == ("globaltimes", "globaltimes/2021")
    # A mirror URL no source matches: the key decides.
    mirror = "https://mirror.example/gt/1368751.html"
    assert parse_article(mirror, html).parser == "generic/1"
    by_key = parse_article(mirror, html, source="globaltimes")
    assert (by_key.source, by_key.parser) == ("globaltimes", "globaltimes/2021")
    assert by_key.published_at == by_url.published_at
    # The key wins over the URL: a Global Times page given as another source gets that
    # source's parser (whose fields then fall back to the generic extraction).
    as_tass = parse_article(URL_2026_08, html, source="tass_en")
    assert as_tass.source == "tass_en" and as_tass.parser.startswith("tass/")


def test_parse_article_bytes_and_str_give_the_same_record() -> None:
    raw = GT_SEED.read_bytes()
    assert parse_article(URL_SEED, raw) == parse_article(URL_SEED, raw.decode("utf-8"))


def test_parse_article_uses_the_content_type_header_for_bytes() -> None:
    # The page says utf-8 in <meta>; the header says GBK and the bytes are GBK: header wins.
    html = GT_SEED.read_text(encoding="utf-8").replace("Source:Global Times", "Source:环球时报")
    article, report = parse_article_with_report(
        URL_SEED, html.encode("gb18030"), content_type="text/html; charset=GBK"
    )
    assert report.encoding == "gb18030"
    assert article.published_at == "2019-12-25T12:38:40Z"


def test_unknown_source_key_says_how_to_fix() -> None:
    with pytest.raises(SourceError, match=r"Unknown source 'nyt'\. Known: .*globaltimes"):
        parse_article(URL_SEED, "<html></html>", source="nyt")


def test_source_naming_a_missing_parser_says_how_to_fix() -> None:
    broken = BUILTIN[0].with_overrides(parser="globaltimes_v9")
    registry = Registry((broken,))
    with pytest.raises(
        UnknownParserError, match=r"Known parsers: (\w+, )*generic, (\w+, )*globaltimes\b"
    ):
        parse_article_with_report(URL_SEED, GT_SEED.read_bytes(), registry=registry)


# --- helpers -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("byline", "people"),
    [
        ("By Guo Yuandan and Liang Rui ", ["Guo Yuandan", "Liang Rui"]),
        ("By Xinhua", []),
        ("By Global Times", []),
        ("By Zhang Hui, Liu Xin & Wang Qi", ["Zhang Hui", "Liu Xin", "Wang Qi"]),
        ("Yang Sheng and Global Times reporters", ["Yang Sheng"]),
        ("105092", []),
        ("", []),
    ],
)
def test_split_authors(byline: str, people: list[str]) -> None:
    assert split_authors(byline) == people


@pytest.mark.parametrize(
    ("tag", "language"),
    [("en-US", "en"), ("zh_CN", "zh"), ("RU", "ru"), ("utf-8", None), ("", None)],
)
def test_primary_language(tag: str, language: str | None) -> None:
    assert primary_language(tag) == language
