"""crawler.parsers for Chinese media: Xinhua, China Daily, CGTN, People's Daily, huanqiu.

Field by field in strict mode (a selector that stops matching raises instead of falling back),
the shared Chinese-text rules of crawler.normalize, and the fallback when a selector breaks.
Real pages: xinhua_zh/2019_12_10, chinadaily_zh, people_zh/2024, huanqiu; the others are
reconstructions of the markup SOURCES.md documents (see each folder's pages.toml).
"""

from __future__ import annotations

import logging
import re
from datetime import date, datetime
from pathlib import Path

import pytest

from crawler.items import Article
from crawler.normalize import (
    ParsedDate,
    cjk_byline,
    clean_cjk_text,
    is_editor_line,
    is_production_credit,
    prefer_url_date,
    search_date,
    split_cjk_credit,
    split_cjk_dateline,
    split_updated,
    strip_credit_lines,
    trailing_reporters,
    url_date,
)
from crawler.parsers import ParserFieldError, parse_article, parse_article_with_report

PAGES = Path(__file__).parent / "data" / "pages"
GB2312 = "text/html; charset=GB2312"

XINHUA_2019 = PAGES / "xinhua_zh" / "2019_12_10_france_general_strike_transport.html"
XINHUA_2019_URL = "http://www.xinhuanet.com/world/2019-12/10/c_1125327450.htm"
XINHUA_SEED = PAGES / "xinhua_zh" / "2019_12_25_china_russia_scitech_innovation_year.html"
XINHUA_SEED_URL = "http://www.xinhuanet.com/world/2019-12/25/c_1125388562.htm"
XINHUA_ZH_2021 = (
    PAGES / "xinhua_zh" / "2026_06_18_china_russia_cold_region_engineering_laboratory.html"
)
XINHUA_ZH_2021_URL = "https://www.news.cn/politics/20260618/89f092fc00f1e8bfa39d98360325693f/c.html"
XINHUA_EN_RAIN = PAGES / "xinhua_en" / "2026_07_15_china_renews_blue_alert_for_rainstorms.html"
XINHUA_EN_RAIN_URL = "https://english.news.cn/20260715/6e7b0dfecc1708e95c476471568514d9/c.html"
XINHUA_EN_RUN = PAGES / "xinhua_en" / "2026_10_15_beijing_marathon_to_welcome_30000_runners.html"
XINHUA_EN_RUN_URL = "https://english.news.cn/20261015/0000cde4960dafad54c48944ae3749e7/c.html"
CD_ZH = PAGES / "chinadaily_zh" / "2023_11_17_foreign_experts_china_us_cooperation.html"
CD_ZH_URL = "https://china.chinadaily.com.cn/a/202311/17/WS65571297a310d5acd876f404.html"
CD_EN = (
    PAGES
    / "chinadaily_en"
    / "2026_06_19_sino_russian_research_ties_deepen_in_new_materials_and_ai.html"
)
CD_EN_URL = "https://www.chinadaily.com.cn/a/202606/19/WS6a348950a3107494a70c27aa.html"
CD_EN_BE = PAGES / "chinadaily_en" / "2026_10_12_hospitals_expand_online_appointment_services.html"
CD_EN_BE_URL = "https://www.chinadaily.com.cn/a/202610/12/WS6acc323ca310b7ac65386fb0.html"
CGTN_SEED = PAGES / "cgtn" / "2019_12_25_mofa_says_sci_tech_next_focus_of_china_russia_ties.html"
CGTN_SEED_URL = (
    "https://news.cgtn.com/news/2019-12-25/"
    "MOFA-says-sci-tech-is-the-next-focus-of-China-Russia-ties-MIw6OrkiXu/index.html"
)
CGTN_FLU = PAGES / "cgtn" / "2026_09_24_china_starts_autumn_flu_vaccination_drive.html"
CGTN_FLU_URL = (
    "https://news.cgtn.com/news/2026-09-24/"
    "China-starts-autumn-flu-vaccination-drive-for-elderly-1Lb8wPqXyZa/index.html"
)
PEOPLE_2024 = PAGES / "people_zh" / "2024_04_24_china_lac_space_cooperation_forum.html"
PEOPLE_2024_URL = "http://politics.people.com.cn/n1/2024/0424/c1001-40223222.html"
PEOPLE_2019 = PAGES / "people_zh" / "2019_12_25_china_russia_scitech_innovation_years.html"
PEOPLE_2019_URL = "http://world.people.com.cn/n1/2019/1225/c1002-31521877.html"
PEOPLE_EN = PAGES / "people_en" / "2026_07_16_flood_control_response_raised_in_jiangxi.html"
PEOPLE_EN_URL = "http://en.people.cn/n3/2026/0716/c90000-20472631.html"
HUANQIU = PAGES / "huanqiu" / "2020_06_05_buyidao_interparliamentary_alliance.html"
HUANQIU_URL = "https://3w.huanqiu.com/a/d80b1f/3yWyyCuSR4w"

# Editor and credit lines that must never reach a body.
BOILERPLATE = re.compile(r"责任编辑|责编|编辑：|Web editor|Editor:|纠错|图集|新华社音视频部|分享")


def _strict(url: str, path: Path, content_type: str | None = None) -> Article:
    body = path.read_bytes()
    if content_type:
        # As the live site serves it: the fixture is saved as UTF-8, the site sends GBK.
        body = path.read_text(encoding="utf-8").encode("gb18030")
    article, report = parse_article_with_report(url, body, content_type=content_type, strict=True)
    assert report.fallbacks == [], report
    return article


def _paragraphs(article: Article) -> list[str]:
    return article.body.split("\n\n")


# --- Xinhua 2019 template (real page) ---------------------------------------------------------


def test_xinhua_2019_fields_of_a_real_page() -> None:
    article = _strict(XINHUA_2019_URL, XINHUA_2019)
    assert (article.source, article.parser) == ("xinhua_zh", "xinhua/2019")
    assert article.title == "法国全国大罢工再次严重影响交通"  # no "-新华网"
    assert article.language == "zh"
    assert article.section == "world"
    assert article.tags == ["法国", "巴黎", "退休", "制度"]
    # span.h-time " 2019-12-10 07:57:40", Beijing time, to the second.
    assert article.published_at == "2019-12-09T23:57:40Z"
    assert article.published_local == "2019-12-10T07:57:40+08:00"
    assert article.date_precision == "second"
    assert article.dateline == "新华社巴黎12月9日电"
    assert article.authors == ["唐霁"]  # the reporter of "（记者唐霁）"; Xinhua is no author
    assert article.canonical_url == XINHUA_2019_URL
    assert article.images == []  # the 纠错 box's spacer gif is not a picture of the story


def test_xinhua_2019_body_without_gallery_and_editor_line() -> None:
    paragraphs = _paragraphs(_strict(XINHUA_2019_URL, XINHUA_2019))
    assert len(paragraphs) == 5
    # The body keeps the dateline's sentence as printed; the full-width indent is gone.
    assert paragraphs[0].startswith(
        "新华社巴黎12月9日电（记者唐霁）法国9日再次爆发全国跨行业大罢工"
    )
    assert paragraphs[-1].endswith("总理菲利普将于11日宣布退休制度改革的总体架构。")
    for paragraph in paragraphs:
        assert not BOILERPLATE.search(paragraph), paragraph
        assert "\u3000" not in paragraph
    assert "尹世杰" not in "".join(paragraphs)  # the editor


def test_xinhua_seed_story_of_2019_12_25() -> None:
    article = _strict(XINHUA_SEED_URL, XINHUA_SEED)
    assert article.title == "外交部：中俄正加紧制定科技创新年实施计划"
    assert article.published_at == "2019-12-25T10:26:07Z"
    assert (article.dateline, article.authors) == ("新华社北京12月25日电", ["刘晓岚"])
    assert "耿爽" in article.body and "赵文涛" not in article.body


# --- Xinhua 2021+ template: Chinese video story and English wire stories ---------------------


def test_xinhua_2021_chinese_video_story_loses_its_credits() -> None:
    article = _strict(XINHUA_ZH_2021_URL, XINHUA_ZH_2021)
    assert article.parser == "xinhua/2021"
    assert article.title == "中俄寒区工程联合实验室在哈尔滨揭牌"
    assert article.section == "politics"
    # header-time: year "2026", month/day "06"/"18", clock "20:52:15".
    assert (article.published_at, article.date_precision) == ("2026-06-18T12:52:15Z", "second")
    assert article.dateline == "新华社哈尔滨6月18日电"
    assert article.authors == ["王博", "刘宁"]
    paragraphs = _paragraphs(article)
    assert len(paragraphs) == 4
    assert paragraphs[-1] == "双方计划每年互派约40名研究生，并共同发布研究数据。"
    for credit in ("策划", "监制", "剪辑", "新华社音视频部制作", "李文涛", "【"):
        assert credit not in article.body


def test_xinhua_english_dateline_caption_and_no_agency_author() -> None:
    article = _strict(XINHUA_EN_RAIN_URL, XINHUA_EN_RAIN)
    assert (article.source, article.parser, article.language) == ("xinhua_en", "xinhua/2021", "en")
    assert article.dateline == "BEIJING, July 15 (Xinhua)"
    assert article.authors == []
    assert article.section is None  # english.news.cn URLs carry no channel
    assert article.published_local == "2026-07-15T18:05:33+08:00"
    # The body keeps the dateline sentence; the caption under the picture is not prose.
    assert article.body.startswith("BEIJING, July 15 (Xinhua) -- China's National Meteorological")
    assert article.captions == [
        {
            "text": "Vehicles move slowly on a flooded road in Nanchang, east China's Jiangxi "
            "Province, July 15, 2026.",
            "credit": "Xinhua",
        }
    ]
    assert "Vehicles move slowly" not in article.body
    assert len(article.images) == 1


def test_xinhua_english_editor_line_is_not_body() -> None:
    article = _strict(XINHUA_EN_RUN_URL, XINHUA_EN_RUN)
    assert "Huaxia" not in article.body
    assert _paragraphs(article)[-1] == (
        "First held in 1981, the Beijing Marathon is one of the oldest marathons in China."
    )


def test_xinhua_version_is_chosen_by_markup_before_url() -> None:
    # A 2019-template page served at a new-style URL is still read as the 2019 template.
    html = XINHUA_2019.read_text(encoding="utf-8")
    url = "https://www.news.cn/world/20191210/0123456789abcdef0123456789abcdef/c.html"
    article = parse_article(url, html, source="xinhua_zh")
    assert article.parser == "xinhua/2019"
    assert article.published_at == "2019-12-09T23:57:40Z"


# --- China Daily -------------------------------------------------------------------------------


def test_chinadaily_zh_fields_of_a_real_page() -> None:
    article = _strict(CD_ZH_URL, CD_ZH)
    assert (article.source, article.parser) == ("chinadaily_zh", "chinadaily/zh")
    assert article.title == "外国专家：中美合作共赢符合国际社会利益"
    assert article.section == "评论 / 海外观察"
    # div.xinf-le "2023-11-17 15:13": more precise than the publishdate meta's day.
    assert article.published_local == "2023-11-17T15:13:00+08:00"
    assert article.date_precision == "minute"
    # The author meta names the editor (meta editor, "（编辑：严玉洁 王辉）"): no author.
    assert article.authors == []
    assert article.canonical_url == CD_ZH_URL
    assert article.images == [
        {
            "src": "http://img3.chinadaily.com.cn/images/202311/17/65571373a310d5acb853dcab.jpeg",
            "alt": None,
        }
    ]


def test_chinadaily_zh_body_keeps_subheads_and_drops_editor_lines() -> None:
    paragraphs = _paragraphs(_strict(CD_ZH_URL, CD_ZH))
    assert len(paragraphs) == 11
    assert paragraphs[1] == "中美合作共赢是大势所趋"  # a <strong> subhead, its own paragraph
    assert "美方应当采取更多行动" in paragraphs
    assert paragraphs[-1].endswith("并采取更多令人安心的行动。")
    for paragraph in paragraphs:
        assert not BOILERPLATE.search(paragraph), paragraph


def test_chinadaily_en_byline_and_update_time() -> None:
    article = _strict(CD_EN_URL, CD_EN)
    assert article.parser == "chinadaily/en"
    assert article.authors == ["Chen Mei"]
    # The page prints only "Updated: 2026-06-19 08:12"; the publication day is the meta's.
    assert (article.published_at, article.date_precision) == ("2026-06-19", "day")
    assert article.updated_at == "2026-06-19T00:12:00Z"
    assert _paragraphs(article)[1] == "Wider cooperation"


def test_chinadaily_buddhist_era_meta_date_yields_to_the_url(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # meta publishdate "2569-10-12" (Buddhist era) on a /a/202610/12/ URL.
    with caplog.at_level(logging.WARNING, logger="crawler.normalize"):
        article = _strict(CD_EN_BE_URL, CD_EN_BE)
    assert (article.published_at, article.published_local, article.date_precision) == (
        "2026-10-12",
        "2026-10-12",
        "day",
    )
    assert article.updated_at == "2026-10-12T01:05:00Z"
    assert "2569-10-12" in caplog.text and CD_EN_BE_URL in caplog.text


# --- CGTN --------------------------------------------------------------------------------------


def test_cgtn_section_minute_time_caption_and_house_byline() -> None:
    article = _strict(CGTN_SEED_URL, CGTN_SEED)
    assert (article.source, article.parser) == ("cgtn", "cgtn/1")
    assert article.title == "MOFA says sci-tech is the next focus of China-Russia ties"
    # "China 17:21, 25-Dec-2019": section, then Beijing time to the minute.
    assert article.section == "China"
    assert article.published_at == "2019-12-25T09:21:00Z"
    assert article.date_precision == "minute"
    assert article.authors == []  # "CGTN" is no person
    assert article.captions == [
        {
            "text": "Chinese Foreign Ministry spokesperson Geng Shuang at a regular press "
            "conference in Beijing, December 25, 2019.",
            "credit": "Xinhua",
        }
    ]
    paragraphs = _paragraphs(article)
    assert len(paragraphs) == 5
    assert "Source(s)" not in article.body and "Related Stories" not in article.body
    assert "Geng Shuang at a regular press conference in Beijing, December" not in article.body


def test_cgtn_image_between_text_blocks_and_personal_byline() -> None:
    article = _strict(CGTN_FLU_URL, CGTN_FLU)
    assert article.authors == ["Liu Qing"]
    assert article.section == "Health"
    assert len(_paragraphs(article)) == 3
    assert [c["credit"] for c in article.captions] == ["Xinhua"]
    assert article.images[0]["src"].endswith("/img/0f1e2d3c4b5a69788796a5b4c3d2e1f0.jpeg")


def test_cgtn_byline_with_update_time() -> None:
    html = CGTN_FLU.read_text(encoding="utf-8").replace(
        '<div class="news-author">By Liu Qing</div>',
        '<div class="news-author">By Liu Qing and Gong Zhe Updated 18:02, 24-Sep-2026</div>',
    )
    article, _report = parse_article_with_report(CGTN_FLU_URL, html, strict=True)
    assert article.authors == ["Liu Qing", "Gong Zhe"]
    assert article.updated_at == "2026-09-24T10:02:00Z"
    # An update time in a Buddhist-era year is dropped, not stored as 2569.
    article = parse_article(CGTN_FLU_URL, html.replace("18:02, 24-Sep-2026", "18:02, 24-Sep-2569"))
    assert (article.updated_at, article.published_at) == (None, "2026-09-24T03:46:00Z")


def test_people_title_without_date_line_comes_from_the_head() -> None:
    html = PEOPLE_2024.read_text(encoding="utf-8").replace('class="col-1-1"', 'class="moved"')
    article, report = parse_article_with_report(PEOPLE_2024_URL, html)
    assert "published" in report.fallbacks
    assert article.title.endswith("为中拉深化航天合作指明方向")  # no "--时政--人民网"
    assert article.section == "时政"


# --- People's Daily ----------------------------------------------------------------------------


def test_people_2020_fields_of_a_real_gbk_page() -> None:
    article = _strict(PEOPLE_2024_URL, PEOPLE_2024, content_type=GB2312)
    assert (article.source, article.parser) == ("people_zh", "people/2020")
    assert article.title.startswith("促进航天技术更好惠及人民――习近平主席向首届")
    assert not article.title.endswith("人民网")
    assert article.section == "时政"  # from "<headline>--时政--人民网"
    assert article.subtitle is None  # h3.pre and h4.sub are empty on this page
    assert article.tags[:3] == ["深空探测", "探月工程", "加勒比国家"]
    # "2024年04月24日23:52 | 来源：新华网"
    assert article.published_local == "2024-04-24T23:52:00+08:00"
    assert article.date_precision == "minute"
    assert article.dateline == "新华社北京4月24日电"
    # "（记者宋晨、田中全、胡…" at the end; the names the page's bad bytes destroyed are left out.
    assert article.authors == ["宋晨", "田中全"]


def test_people_2020_body_without_headline_repeat_bylines_and_editor() -> None:
    paragraphs = _paragraphs(_strict(PEOPLE_2024_URL, PEOPLE_2024, content_type=GB2312))
    assert len(paragraphs) == 10
    # "新华社北京4月24日电 题：<headline>" and "新华社记者" are no prose.
    assert paragraphs[0].startswith("4月24日，习近平主席向首届")
    for paragraph in paragraphs:
        assert not BOILERPLATE.search(paragraph), paragraph
    assert "牛镛" not in "".join(paragraphs)


def test_people_2016_template() -> None:
    article = _strict(PEOPLE_2019_URL, PEOPLE_2019, content_type=GB2312)
    assert article.parser == "people/2016"
    assert article.title == "外交部：中俄科技创新年将成为两国关系新亮点"
    assert article.subtitle == "两年间将举办联合研究、人才交流和创新论坛等活动"
    assert article.section == "国际"
    assert article.published_at == "2019-12-25T08:43:00Z"
    assert (article.dateline, article.authors) == ("人民网北京12月25日电", ["林雪"])
    assert len(_paragraphs(article)) == 3
    assert "责编" not in article.body


def test_people_english_strips_web_editor() -> None:
    article = _strict(PEOPLE_EN_URL, PEOPLE_EN)
    assert (article.source, article.parser) == ("people_en", "people/en")
    assert article.title == "Flood control response raised in Jiangxi as rivers swell"
    assert (article.published_at, article.date_precision) == ("2026-07-16", "day")
    assert "Web editor" not in article.body
    assert len(_paragraphs(article)) == 4


# --- huanqiu -----------------------------------------------------------------------------------


def test_huanqiu_fields_of_a_real_rendered_page() -> None:
    article = _strict(HUANQIU_URL, HUANQIU)
    assert (article.source, article.parser) == ("huanqiu", "huanqiu/2020")
    assert article.title == "补壹刀：别笑！18人的“新八国联军”今天成立了"
    assert article.authors == ["叨叨姐", "胡一刀", "李小飞刀"]
    assert article.section == "国际新闻"
    assert article.published_local == "2020-06-05T20:35:00+08:00"
    assert article.date_precision == "minute"
    assert len(article.images) == 9  # the pictures inside div.a-con
    paragraphs = _paragraphs(article)
    assert paragraphs[0] == "西方世界的一些反华分子正试图串联起来。"
    assert paragraphs[-1] == "刀哥想说，都9020年了，自信一点，理性一点，可以吗。"
    for text in ("执笔", "图片均来自网络", "薛艺磊", "感谢您的反馈", "Evernote", "caretBlink"):
        assert text not in article.body


# --- fallback when a selector breaks -----------------------------------------------------------


def _without(html: str, pattern: str) -> str:
    changed = re.sub(pattern, "", html, count=1, flags=re.S)
    assert changed != html
    return changed


def test_broken_xinhua_time_falls_back_and_is_reported(caplog: pytest.LogCaptureFixture) -> None:
    html = _without(XINHUA_2019.read_text(encoding="utf-8"), r'<span class="h-time">.*?</span>')
    with caplog.at_level(logging.WARNING, logger="crawler.parsers"):
        article, report = parse_article_with_report(XINHUA_2019_URL, html)
    assert report.fallbacks == ["published"]
    assert article.parser == "xinhua/2019"
    # The generic extraction finds the day only; no time of day is made up.
    assert (article.published_at, article.date_precision) == ("2019-12-10", "day")
    assert article.authors == ["唐霁"]  # the other fields are still the site parser's
    assert XINHUA_2019_URL in caplog.text and "published" in caplog.text
    with pytest.raises(ParserFieldError, match="xinhua/2019 failed on field 'published'"):
        parse_article_with_report(XINHUA_2019_URL, html, strict=True)


def test_missing_chinadaily_body_falls_back_to_trafilatura() -> None:
    html = CD_ZH.read_text(encoding="utf-8").replace('id="Content"', 'id="Moved"')
    article, report = parse_article_with_report(CD_ZH_URL, html)
    assert {"body", "captions", "images", "dateline"} <= set(report.fallbacks)
    assert "中美合作共赢是大势所趋" in article.body
    assert article.published_local == "2023-11-17T15:13:00+08:00"  # still the site parser's


def test_broken_cgtn_date_line_falls_back() -> None:
    html = _without(
        CGTN_SEED.read_text(encoding="utf-8"), r'<div class="news-section-date">.*?</div>'
    )
    article, report = parse_article_with_report(CGTN_SEED_URL, html)
    assert report.fallbacks == ["section", "published"]
    assert article.section is None
    assert (article.published_at, article.date_precision) == ("2019-12-25", "day")


# --- normalize: Chinese text, dates, datelines, credits ---------------------------------------


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("　　新华社巴黎12月9日电", "新华社巴黎12月9日电"),
        ("来源： 新华网", "来源：新华网"),
        ("【责任编辑:张樵苏 】", "【责任编辑:张樵苏】"),
        ("颠覆不了。 西方", "颠覆不了。西方"),
        ("２０２４年ＣＥＣＣ", "2024年CECC"),
        ("新华社北京4月24日电　题：促进", "新华社北京4月24日电 题：促进"),  # a separator: kept
    ],
)
def test_clean_cjk_text(raw: str, clean: str) -> None:
    assert clean_cjk_text(raw) == clean


@pytest.mark.parametrize(
    ("line", "value", "precision", "before", "after"),
    [
        (
            "2024年04月24日23:52 | 来源：新华网",
            datetime(2024, 4, 24, 23, 52),
            "minute",
            "",
            "| 来源：新华网",
        ),
        (
            "2019年06月15日08:18\u00a0\u00a0来源：人民网",
            datetime(2019, 6, 15, 8, 18),
            "minute",
            "",
            "来源：人民网",
        ),
        (" 2019-12-10 07:57:40", datetime(2019, 12, 10, 7, 57, 40), "second", "", ""),
        ("Politics 13:37, 25-Apr-2025", datetime(2025, 4, 25, 13, 37), "minute", "Politics", ""),
        ("发布于２０２３年１１月１７日", date(2023, 11, 17), "day", "发布于", ""),
    ],
)
def test_search_date(
    line: str, value: date | datetime, precision: str, before: str, after: str
) -> None:
    found = search_date(line)
    assert found is not None
    assert (found.parsed, found.before, found.after) == (
        ParsedDate(value, precision),
        before,
        after,
    )


def test_search_date_without_a_valid_date() -> None:
    assert search_date("来源：新华网") is None
    assert search_date("2019-13-45") is None


def test_split_updated() -> None:
    assert split_updated("By Zhang Zhihao | China Daily | Updated: 2023-03-20 08:10") == (
        "By Zhang Zhihao | China Daily",
        ParsedDate(datetime(2023, 3, 20, 8, 10), "minute"),
    )
    assert split_updated("By Gong Zhe") == ("By Gong Zhe", None)


@pytest.mark.parametrize(
    ("url", "day"),
    [
        (CD_ZH_URL, date(2023, 11, 17)),
        (XINHUA_2019_URL, date(2019, 12, 10)),
        (XINHUA_EN_RAIN_URL, date(2026, 7, 15)),
        (CGTN_SEED_URL, date(2019, 12, 25)),
        (PEOPLE_2024_URL, date(2024, 4, 24)),
        (HUANQIU_URL, None),
        ("https://www.globaltimes.cn/page/202607/1365253.shtml", None),
    ],
)
def test_url_date(url: str, day: date | None) -> None:
    assert url_date(url) == day


def test_prefer_url_date() -> None:
    close = ParsedDate(datetime(2026, 10, 11, 23, 50), "minute")
    assert prefer_url_date(close, CD_EN_BE_URL) == close  # within three days: the page's
    far = ParsedDate(date(2569, 10, 12), "day")
    assert prefer_url_date(far, CD_EN_BE_URL) == ParsedDate(date(2026, 10, 12), "day")
    assert prefer_url_date(None, CD_EN_BE_URL) == ParsedDate(date(2026, 10, 12), "day")
    assert prefer_url_date(far, HUANQIU_URL) == far  # no date in the URL: nothing to check


@pytest.mark.parametrize(
    ("paragraph", "dateline", "reporters"),
    [
        ("　　新华社巴黎12月9日电（记者唐霁）法国9日", "新华社巴黎12月9日电", ["唐霁"]),
        ("新华社北京4月24日电　题：促进", "新华社北京4月24日电", []),
        ("人民网北京12月25日电（记者林雪）外交部", "人民网北京12月25日电", ["林雪"]),
        ("本报北京12月25日讯（记者 张三 通讯员 李四）", "本报北京12月25日讯", ["张三", "李四"]),
    ],
)
def test_split_cjk_dateline(paragraph: str, dateline: str, reporters: list[str]) -> None:
    wire = split_cjk_dateline(paragraph)
    assert wire is not None
    assert (wire.dateline, wire.reporters) == (dateline, reporters)


def test_split_cjk_dateline_leaves_prose_alone() -> None:
    assert split_cjk_dateline("5月28日拉布威胁称，若中国继续推进") is None


def test_trailing_reporters_and_bylines() -> None:
    assert trailing_reporters("指明了方向。（记者宋晨、田中全）") == ["宋晨", "田中全"]
    assert trailing_reporters("指明了方向。") == []
    assert cjk_byline("新华社记者") == []
    assert cjk_byline("执笔/叨叨姐、胡一刀&李小飞刀") == ["叨叨姐", "胡一刀", "李小飞刀"]
    assert cjk_byline("记者：请介绍一下这次论坛的情况") is None  # an interview question
    assert cjk_byline("文化部表示，将加强合作。") is None


@pytest.mark.parametrize(
    "line",
    [
        "责任编辑： 尹世杰",
        "【责任编辑:张樵苏 】",
        "(责任编辑：牛镛、岳弘彬)",
        "(责编：牛镛、岳弘彬)",
        "（编辑：严玉洁 王辉）",
        "责编：薛艺磊",
        "(Web editor: Chen Lu, Zhang Yu)",
        "Editor: Huaxia",
    ],
)
def test_editor_lines(line: str) -> None:
    assert is_editor_line(line)


@pytest.mark.parametrize(
    "line", ["Editor's note: this story was updated.", "编辑部认为，这是好事。", "编辑们说"]
)
def test_prose_is_not_an_editor_line(line: str) -> None:
    assert not is_editor_line(line)


def test_production_credits_only_at_the_end() -> None:
    assert is_production_credit("策划：孙海涛")
    assert is_production_credit("监制：周明、陈静 制片：赵越")
    assert is_production_credit("新华社音视频部制作")
    assert is_production_credit("新华通讯社出品")
    assert not is_production_credit("记者：您怎么看这次会谈？")
    paragraphs = [
        "记者：王博",  # mid-story: an interview label, kept
        "正文。（责任编辑：李文涛）",
        "策划：孙海涛",
        "记者：王博、刘宁",
        "新华社音视频部制作",
        "(Web editor: Chen Lu)",
    ]
    assert strip_credit_lines(paragraphs) == ["记者：王博", "正文。"]


@pytest.mark.parametrize(
    ("caption", "text", "credit"),
    [
        (
            "这是12月9日在巴黎拍摄的罢工现场。新华社记者 高静 摄",
            "这是12月9日在巴黎拍摄的罢工现场。",
            "新华社记者 高静 摄",
        ),
        ("游客在公园赏花。（新华社发）", "游客在公园赏花。", "新华社发"),
        ("游客在公园赏花。（张三 摄）", "游客在公园赏花。", "张三 摄"),
        ("Residents cool off in a park. /Xinhua", "Residents cool off in a park.", "Xinhua"),
        ("他用手机拍摄了这一幕", "他用手机拍摄了这一幕", None),
    ],
)
def test_split_cjk_credit(caption: str, text: str, credit: str | None) -> None:
    found = split_cjk_credit(caption)
    assert (found.text, found.credit) == (text, credit)
