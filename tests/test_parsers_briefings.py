"""The briefings family: China's MFA (fmprc), the Kremlin and the Russian MFA (mid), field by
field and turn by turn, in strict mode; the shared turn splitting; Russian dates."""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path

import pytest

from crawler.items import Article
from crawler.normalize import ParsedDate, parse_russian_date, split_place_date
from crawler.parsers import ParserFieldError, parse_article_with_report
from crawler.parsers.base import ParseReport
from crawler.parsers.mid import nominative_surname
from crawler.parsers.turns import Block, TurnBuilder, blocks_of, split_label
from crawler.parsers.utility import make_soup
from crawler.sources import default_registry

PAGES = Path(__file__).parent / "data" / "pages"
DEMO_SITE = Path(__file__).parent.parent / "demo" / "site"

FMPRC_EN_2019 = (
    "https://www.fmprc.gov.cn/mfa_eng/xwfw_665399/s2510_665401/2511_665403/t1731268.shtml",
    PAGES / "fmprc_en" / "2019_12_25_geng_shuang_regular_press_conference.html",
)
FMPRC_EN_GUO = (
    "https://www.fmprc.gov.cn/eng/xw/fyrbt/lxjzh/202606/t20260617_11963518.html",
    PAGES / "fmprc_en" / "2026_06_17_guo_jiakun_regular_press_conference.html",
)
FMPRC_EN_LIN = (
    "https://www.fmprc.gov.cn/eng/xw/fyrbt/lxjzh/202609/t20260909_12021746.html",
    PAGES / "fmprc_en" / "2026_09_09_lin_jian_regular_press_conference.html",
)
FMPRC_ZH_2019 = (
    "https://www.fmprc.gov.cn/web/fyrbt_673021/jzhsl_673025/t1731270.shtml",
    PAGES / "fmprc_zh" / "2019_12_25_geng_shuang_regular_press_conference.html",
)
FMPRC_ZH_MEETING = (
    "https://www.fmprc.gov.cn/web/zyxw/t1638430.shtml",
    PAGES / "fmprc_zh" / "2019_02_16_yang_jiechi_meets_luxembourg_foreign_minister.html",
)
FMPRC_ZH_SPEECH = (
    "https://www.fmprc.gov.cn/web/zyxw/t1638506.shtml",
    PAGES / "fmprc_zh" / "2019_02_17_yang_jiechi_munich_security_conference_speech.html",
)
KREMLIN_60672 = (
    "http://en.kremlin.ru/events/president/news/60672",
    PAGES / "kremlin_en" / "2019_06_05_press_statements_russian_chinese_talks.html",
)
KREMLIN_62163 = (
    "http://en.kremlin.ru/events/president/news/62163",
    PAGES / "kremlin_en" / "2019_12_02_gas_exports_to_china_eastern_route.html",
)
KREMLIN_RU = (
    "http://kremlin.ru/events/president/news/60672",
    PAGES / "kremlin_ru" / "2019_06_05_press_statements_russian_chinese_talks.html",
)
MID_EN = (
    "https://mid.ru/en/press_service/spokesman/briefings/2031457/",
    PAGES / "mid_en" / "2026_06_18_briefing_by_maria_zakharova.html",
)
MID_EN_SEPT = (
    "https://mid.ru/en/press_service/spokesman/briefings/2048119/",
    PAGES / "mid_en" / "2026_09_10_briefing_by_maria_zakharova.html",
)
MID_RU = (
    "https://mid.ru/ru/press_service/spokesman/briefings/2031449/",
    PAGES / "mid_ru" / "2026_06_18_briefing_by_maria_zakharova.html",
)


def _parse(page: tuple[str, Path], source: str | None = None) -> tuple[Article, ParseReport]:
    url, path = page
    return parse_article_with_report(url, path.read_bytes(), source, strict=True)


def _strict(page: tuple[str, Path], source: str | None = None) -> Article:
    article, report = _parse(page, source)
    assert report.fallbacks == [], report
    assert report.warnings == [], report
    return article


def _roles(article: Article) -> list[str]:
    return [t["role"] for t in article.turns]


def _speakers(article: Article) -> list[str | None]:
    return [t["speaker"] for t in article.turns]


# --- the registry --------------------------------------------------------------------------------


def test_the_six_sources_use_their_parsers() -> None:
    registry = default_registry()
    assert {key: registry.get(key).parser for key in (
        "fmprc_en", "fmprc_zh", "kremlin_en", "kremlin_ru", "mid_en", "mid_ru"
    )} == {
        "fmprc_en": "fmprc", "fmprc_zh": "fmprc", "kremlin_en": "kremlin",
        "kremlin_ru": "kremlin", "mid_en": "mid", "mid_ru": "mid",
    }  # fmt: skip


# --- fmprc: the 2019-2020 TRS template -----------------------------------------------------------


def test_fmprc_2019_english_transcript_fields() -> None:
    article = _strict(FMPRC_EN_2019)
    assert article.source == "fmprc_en"
    assert article.parser == "fmprc/2019"
    assert article.title == (
        "Foreign Ministry Spokesperson Geng Shuang's Regular Press Conference on December 25, 2019"
    )
    assert article.kind == "briefing"
    assert article.language == "en"
    assert article.section == (
        "Press and Media Service / Spokesperson's Remarks / Regular Press Conference"
    )
    # The conference day, no time of day: the page shows none.
    assert (article.published_at, article.published_local, article.date_precision) == (
        "2019-12-25",
        "2019-12-25",
        "day",
    )
    assert article.canonical_url == FMPRC_EN_2019[0]
    assert article.access == "full"


def test_fmprc_2019_english_q_and_a_turns() -> None:
    article = _strict(FMPRC_EN_2019)
    assert _roles(article) == ["question", "answer"] * 4
    assert _speakers(article) == [None, "Geng Shuang"] * 4
    assert all(t["outlet"] is None for t in article.turns)
    assert [t["idx"] for t in article.turns] == list(range(8))
    # Acceptance: Geng Shuang's answer on the China-Russia years of sci-tech innovation, all
    # three paragraphs of it, without the "A:" label.
    (answer,) = [
        t
        for t in article.turns
        if t["role"] == "answer" and "Scientific and Technological Innovation" in t["text"]
    ]
    assert answer["speaker"] == "Geng Shuang"
    assert answer["text"].startswith("The China-Russia Years of Scientific and Technological")
    assert answer["text"].count("\n\n") == 2
    assert answer["text"].endswith("bring more benefits to the two peoples.")
    question = article.turns[answer["idx"] - 1]
    assert question["text"].startswith("China and Russia have decided to hold")
    assert not any(t["text"].startswith(("Q:", "A:")) for t in article.turns)


def test_fmprc_2019_body_is_the_transcript_only() -> None:
    body = _strict(FMPRC_EN_2019).body
    assert body.startswith("Q: Typhoon Phanfone swept across")
    assert body.endswith("We wish all of you a happy New Year in advance.")
    assert len(body.split("\n\n")) == 10
    for boilerplate in ("Related News", "Attachments", "Print", "Font", "Recommend", "Copyright"):
        assert boilerplate not in body
    # The related links' dates and titles stay out (the generic parser took one as the date).
    assert "December 24, 2019" not in body


def test_fmprc_2019_chinese_transcript_turns() -> None:
    article = _strict(FMPRC_ZH_2019)
    assert article.title == "2019年12月25日外交部发言人耿爽主持例行记者会"
    assert article.section == "发言人表态 / 例行记者会"
    assert article.published_at == "2019-12-25" and article.date_precision == "day"
    # The holiday announcement comes before the first question: a statement by Geng Shuang.
    assert _roles(article) == ["statement"] + ["question", "answer"] * 3
    assert _speakers(article) == ["耿爽"] + [None, "耿爽"] * 3
    assert article.turns[0]["text"].startswith("各位记者朋友，元旦即将到来。")
    sci_tech = article.turns[4]
    assert sci_tech["text"].startswith("举办中俄科技创新年是两国元首作出的重要决定。")
    assert sci_tech["text"].count("\n\n") == 2
    assert not any(t["text"].startswith(("问", "答")) for t in article.turns)
    # The full-width paragraph indent is gone from body and turns.
    assert "\u3000" not in article.body


def test_fmprc_2019_chinese_news_page_is_an_article_without_turns() -> None:
    article = _strict(FMPRC_ZH_MEETING)
    assert article.kind == "article"
    assert article.turns == []
    assert article.title == "杨洁篪会见卢森堡外交大臣阿瑟伯恩"
    assert article.section == "重要新闻"
    assert article.published_at == "2019-02-16"
    assert article.images == [
        {"src": "https://www.fmprc.gov.cn/web/zyxw/W020190216326250106280.jpg", "alt": None}
    ]
    assert article.body.startswith("当地时间2019年2月15日，中共中央政治局委员")
    assert len(article.body.split("\n\n")) == 4
    for boilerplate in ("相关新闻", "杨洁篪同美国国务卿蓬佩奥举行对话", "打印本页", "版权所有"):
        assert boilerplate not in article.body


def test_fmprc_2019_speech_header_becomes_metadata() -> None:
    article = _strict(FMPRC_ZH_SPEECH)
    assert article.kind == "statement"
    assert article.turns == []
    assert article.subtitle == (
        "倡导国际合作，维护多边主义，推动构建人类命运共同体——在第55届慕尼黑安全会议上的主旨演讲"
    )
    assert article.authors == ["杨洁篪"]
    assert article.dateline == "2019年2月16日，慕尼黑"
    # Published the day after the speech.
    assert article.published_at == "2019-02-17"
    assert article.body.startswith(
        "尊敬的慕尼黑安全会议主席沃尔夫冈·伊申格尔先生，\n\n女士们，先生们！"
    )
    assert "中央外事工作委员会办公室主任\n\n杨洁篪" not in article.body
    assert article.body.endswith("谢谢大家！")


# --- fmprc: the current template -----------------------------------------------------------------


def test_fmprc_2022_outlet_questions_and_named_answers() -> None:
    article = _strict(FMPRC_EN_GUO)
    assert article.parser == "fmprc/2022"
    assert article.title == (
        "Foreign Ministry Spokesperson Guo Jiakun’s Regular Press Conference on June 17, 2026"
    )
    assert article.kind == "briefing"
    assert _roles(article) == ["statement"] + ["question", "answer"] * 4
    assert [t["outlet"] for t in article.turns if t["role"] == "question"] == [
        "CCTV",
        "AFP",
        "Reuters",
        "Global Times",
    ]
    assert {t["speaker"] for t in article.turns if t["role"] != "question"} == {"Guo Jiakun"}
    assert all(t["speaker"] is None for t in article.turns if t["role"] == "question")
    announcement = article.turns[0]
    assert announcement["text"].startswith("At the invitation of the Ministry of Foreign Affairs")
    lunar = article.turns[2]
    assert lunar["text"].startswith("The International Lunar Research Station is an open")
    assert lunar["text"].count("\n\n") == 1
    assert not lunar["text"].startswith("Guo Jiakun")


def test_fmprc_2022_pubdate_time_on_the_conference_day() -> None:
    article = _strict(FMPRC_EN_GUO)
    # meta PubDate "2026-06-17 20:45", Beijing time, on the day the title names.
    assert article.published_at == "2026-06-17T12:45:00Z"
    assert article.published_local == "2026-06-17T20:45:00+08:00"
    assert article.date_precision == "minute"


def test_fmprc_2022_date_is_the_title_date_not_a_related_link() -> None:
    article = _strict(FMPRC_EN_LIN)
    assert (article.published_at, article.date_precision) == ("2026-09-09", "day")
    assert _roles(article) == ["question", "answer"] * 4
    assert article.turns[0]["outlet"] == "Xinhua News Agency"
    assert {t["speaker"] for t in article.turns if t["role"] == "answer"} == {"Lin Jian"}


def test_fmprc_2022_body_stops_before_the_related_links() -> None:
    article = _strict(FMPRC_EN_LIN)
    assert article.body.startswith("Xinhua News Agency: Typhoon season has brought")
    assert article.body.endswith("sharing development opportunities with the rest of the world.")
    for boilerplate in ("Related Links", "September 8, 2026", "Site Map", "Copyright", "Font"):
        assert boilerplate not in article.body


ZH_CURRENT = """<html><head><meta charset="utf-8">
<meta name="ArticleTitle" content="2026年9月30日外交部发言人郭嘉昆主持例行记者会">
<title>2026年9月30日外交部发言人郭嘉昆主持例行记者会_中华人民共和国外交部</title></head><body>
<div class="news-main" id="News_Body_Txt_A"><div class="TRS_UEDITOR trs_paper_default">
<p>　　应王毅外长邀请，某国外长将于10月8日至10日访华。</p>
<p><strong>　　总台央视记者：据报道，中俄科技合作取得新进展。你能否介绍有关情况？</strong></p>
<p>　　郭嘉昆：中俄科技合作是两国务实合作的重要组成部分。</p>
<p>　　双方将继续加强交流。</p>
<p><strong>　　法新社记者：第二个问题。</strong></p>
<p>　　郭嘉昆：我不掌握有关情况。</p>
<div class="links"><p>相关链接：2026年9月29日外交部发言人郭嘉昆主持例行记者会</p></div>
</div></div></body></html>"""


def test_fmprc_2022_chinese_reporter_labels_name_the_outlet() -> None:
    url = "https://www.mfa.gov.cn/web/fyrbt_673021/jzhsl_673025/202609/t20260930_11111111.shtml"
    article, report = parse_article_with_report(url, ZH_CURRENT, "fmprc_zh", strict=True)
    assert report.fallbacks == []
    assert article.parser == "fmprc/2022"
    assert article.title == "2026年9月30日外交部发言人郭嘉昆主持例行记者会"
    assert article.published_at == "2026-09-30"
    assert [(t["role"], t["speaker"], t["outlet"]) for t in article.turns] == [
        ("statement", "郭嘉昆", None),
        ("question", None, "总台央视"),
        ("answer", "郭嘉昆", None),
        ("question", None, "法新社"),
        ("answer", "郭嘉昆", None),
    ]
    assert (
        article.turns[2]["text"]
        == "中俄科技合作是两国务实合作的重要组成部分。\n\n双方将继续加强交流。"
    )
    # div.links ends the body even when it sits inside the TRS_UEDITOR element.
    assert "相关链接" not in article.body


def test_fmprc_not_found_page_is_no_article() -> None:
    url = "https://www.mfa.gov.cn/web/system/index_17321.shtml"
    html = FMPRC_ZH_MEETING[1].read_bytes()  # any page: the final URL decides
    article, report = parse_article_with_report(url, html, "fmprc_zh", strict=True)
    assert (article.title, article.body, article.turns) == ("", "", [])
    assert article.access == "full"  # not a bot wall: the pipeline drops it for "no_title"
    assert report.warnings and "not-found" in report.warnings[0]


# --- Kremlin -------------------------------------------------------------------------------------


def test_kremlin_fields_of_a_real_page() -> None:
    article = _strict(KREMLIN_60672)
    assert article.parser == "kremlin/2019"
    assert article.title == "Press statements following Russian-Chinese talks"
    assert article.subtitle == (
        "Following Russian-Chinese talks, Vladimir Putin and Xi Jinping made statements "
        "for the press."
    )
    # June 5, 2019, 18:15 Moscow time.
    assert article.published_at == "2019-06-05T15:15:00Z"
    assert article.published_local == "2019-06-05T18:15:00+03:00"
    assert article.date_precision == "minute"
    assert article.dateline == "The Kremlin, Moscow"
    assert article.tags == ["People's Republic of China", "Foreign policy", "Xi Jinping"]
    assert article.section == "News, Transcripts"
    # rel=canonical is a relative file on the mirrored copy; og:url is the page's own URL.
    assert article.canonical_url == "http://en.kremlin.ru/events/president/news/60672"
    assert article.kind == "transcript"
    assert article.language == "en"
    assert article.authors == []
    assert article.captions == [
        {"text": "Press statements following Russian-Chinese talks.", "credit": None},
        {"text": "With President of the People's Republic of China Xi Jinping.", "credit": None},
    ]
    assert len(article.images) == 5
    assert all(
        i["src"].startswith("http://static.kremlin.ru/media/events/photos/big/")
        for i in article.images
    )


def test_kremlin_statements_and_retranslated_note() -> None:
    article = _strict(KREMLIN_60672)
    assert _roles(article) == ["statement", "statement"]
    assert _speakers(article) == ["Vladimir Putin", "Xi Jinping"]
    putin, xi = article.turns
    assert putin["text"].startswith("President Xi Jinping, my dear friend, ladies and gentlemen,")
    assert putin["text"].endswith("Thank you for your attention.")
    assert (
        "years of Russian-Chinese scientific, technical and innovation cooperation"
        in (putin["text"])
    )
    assert xi["text"].startswith("(retranslated) Mr President, ladies and gentlemen,")
    assert "(retranslated)" not in putin["text"]


def test_kremlin_multi_speaker_transcript() -> None:
    article = _strict(KREMLIN_62163)
    assert article.dateline == "Sochi"
    assert article.published_at == "2019-12-02T09:30:00Z"
    assert article.tags == ["Energy"]
    assert _speakers(article) == [
        "Vladimir Putin", "Xi Jinping", "Alexei Miller", "Igor Krutikov", "Alexei Miller",
        "Wang Jiuling", "Alexei Miller", "Vladimir Putin", "Alexei Miller", "Igor Krutikov",
        "Alexei Miller", "Wang Jiuling", "Xi Jinping", "Wang Jiuling", "Vladimir Putin",
        "Xi Jinping",
    ]  # fmt: skip
    assert set(_roles(article)) == {"statement"}
    # "<b>Gazprom CEO Alexei Miller:</b>" and "<b>CNPC Director Wang Jiuling</b> (<i>…</i>)":
    # the name without the office; the report before the first label is no one's turn.
    assert article.turns[2]["text"].startswith("President Putin, President Xi Jinping,")
    assert article.turns[5]["text"].startswith("(retranslated) President Xi Jinping,")
    assert not any(
        "Power of Siberia gas pipeline has a capacity" in t["text"] for t in article.turns
    )
    assert article.turns[-1] == {
        "idx": 15,
        "role": "statement",
        "speaker": "Xi Jinping",
        "outlet": None,
        "text": "Thank you very much.",
    }
    assert {"text": "During the launch of the Power of Siberia gas pipeline.",
            "credit": "Photo: Mikhail Metzel, TASS"} in article.captions  # fmt: skip


def test_kremlin_body_has_no_tooltips_boxes_or_footer() -> None:
    body = _strict(KREMLIN_62163).body
    assert body.startswith("In May 2014, Gazprom signed a 30-year agreement")
    assert body.endswith("Xi Jinping: Thank you very much.")
    assert "included Dmitry Kozak, Deputy Prime Minister" in body  # the link text stays
    for boilerplate in (
        "Deputy Chief of Staff",  # the person tooltip of Dmitry Kozak
        "Kozak Dmitry",
        "See also",
        "Publication status",
        "Direct link",
        "Text version",
        "Topics",
    ):
        assert boilerplate not in body
    assert "Ceremony for launching the Power of Siberia gas pipeline" in body.split("\n\n")


def test_kremlin_russian_twin() -> None:
    article = _strict(KREMLIN_RU)
    assert article.language == "ru"
    assert article.title == "Заявления для прессы по итогам российско-китайских переговоров"
    assert article.dateline == "Москва, Кремль"
    assert article.published_at == "2019-06-05T15:15:00Z"
    assert article.section == "Новости, Стенограммы"
    assert article.tags == ["Китайская Народная Республика", "Внешняя политика", "Си Цзиньпин"]
    assert _speakers(article) == ["В.Путин", "Си Цзиньпин"]
    assert "Годы российско-китайского научно-технического" in article.turns[0]["text"]
    assert "Председатель Китайской Народной Республики\n" not in article.body
    assert "Си Цзиньпина. Государственный визит" in article.body


KREMLIN_PRESS_CONFERENCE = """<html><head><meta property="og:url"
content="http://en.kremlin.ru/events/president/news/70001"></head><body>
<article class="read__in"><h1 class="entry-title">News conference following talks</h1>
<div class="read__meta"><time class="read__published" datetime="2026-09-03">September 3, 2026</time>
<div class="read__time">16:40</div><div class="read__place">Vladivostok</div></div>
<div class="entry-content e-content" itemprop="articleBody">
<p>Vladimir Putin answered questions from journalists.</p>
<p><b>Dmitry Peskov</b>: Please, the first question.</p>
<p><b>Question</b>: Good afternoon. How do you assess the talks?</p>
<p><b>Vladimir Putin</b>: Positively.</p>
<p>We agreed on many things.</p>
<p><b>Question</b> (<i>retranslated</i>): And the next steps?</p>
<p><b>Vladimir Putin</b>: We will see.</p>
</div></article></body></html>"""


def test_kremlin_press_conference_questions_and_answers() -> None:
    url = "http://en.kremlin.ru/events/president/news/70001"
    article, _ = parse_article_with_report(url, KREMLIN_PRESS_CONFERENCE, "kremlin_en", strict=True)
    assert [(t["role"], t["speaker"]) for t in article.turns] == [
        ("statement", "Dmitry Peskov"),
        ("question", None),
        ("answer", "Vladimir Putin"),
        ("question", None),
        ("answer", "Vladimir Putin"),
    ]
    assert article.turns[2]["text"] == "Positively.\n\nWe agreed on many things."
    assert article.turns[3]["text"] == "(retranslated) And the next steps?"
    assert article.published_local == "2026-09-03T16:40:00+03:00"


def test_kremlin_news_without_labels_is_an_article() -> None:
    html = KREMLIN_PRESS_CONFERENCE.replace("<b>", "").replace("</b>", "")
    url = "http://en.kremlin.ru/events/president/news/70001"
    article, _ = parse_article_with_report(url, html, "kremlin_en", strict=True)
    assert article.kind == "article"
    assert article.turns == []


# --- mid.ru --------------------------------------------------------------------------------------


def test_mid_english_briefing_fields() -> None:
    article = _strict(MID_EN)
    assert article.parser == "mid/2021"
    assert article.title == (
        "Briefing by Foreign Ministry Spokeswoman Maria Zakharova, Moscow, June 18, 2026"
    )
    assert article.kind == "briefing"
    assert (article.published_at, article.date_precision) == ("2026-06-18", "day")
    assert article.dateline == "Moscow"
    assert article.canonical_url == MID_EN[0]
    # og:image is the site's logo card, not a picture of the briefing.
    assert article.images == []


def test_mid_body_without_contents_and_back_links() -> None:
    body = _strict(MID_EN).body
    paragraphs = body.split("\n\n")
    assert paragraphs[0] == "St Petersburg International Economic Forum"
    assert "Contents" not in paragraphs
    assert "Back to contents" not in body
    assert "Answers to media questions:" in paragraphs
    # The table of contents' entries appear once, as the section headings.
    assert paragraphs.count("Russian-Chinese cooperation in lunar exploration") == 1
    assert "International chess tournament" not in body  # a contents-only entry
    for boilerplate in ("Share", "Other briefings", "June 11, 2026", "Smolenskaya"):
        assert boilerplate not in body


def test_mid_statements_then_questions_and_answers() -> None:
    article = _strict(MID_EN)
    assert _roles(article) == ["statement"] * 3 + ["question", "answer"] * 2
    assert _speakers(article) == ["Maria Zakharova"] * 3 + [None, "Maria Zakharova"] * 2
    assert all(t["outlet"] is None for t in article.turns)
    lunar = article.turns[1]
    assert lunar["text"].startswith("On June 16, the State Space Corporation Roscosmos")
    assert lunar["text"].count("\n\n") == 1
    floods = article.turns[6]
    assert floods["text"].startswith("We are grateful to all those who have expressed sympathy.")
    assert floods["text"].endswith("including the exchange of hydrological data.")
    assert article.turns[5]["text"].startswith("Have foreign partners offered assistance")


def test_mid_september_briefing() -> None:
    article = _strict(MID_EN_SEPT)
    assert (article.published_at, article.dateline) == ("2026-09-10", "Moscow")
    assert _roles(article) == ["statement"] * 2 + ["question", "answer"] * 2


def test_mid_russian_briefing() -> None:
    article = _strict(MID_RU)
    assert article.language == "ru"
    assert article.title.startswith("Брифинг официального представителя МИД России М.В.Захаровой")
    # .photo-content__date "18.06.2026"
    assert (article.published_at, article.date_precision) == ("2026-06-18", "day")
    assert article.dateline == "Москва"
    assert _roles(article) == ["statement"] * 3 + ["question", "answer"] * 2
    assert {t["speaker"] for t in article.turns if t["role"] != "question"} == {"Мария Захарова"}
    assert article.body.startswith("О Петербургском международном экономическом форуме")
    assert "Содержание" not in article.body and "Назад к оглавлению" not in article.body
    assert "Вопрос: Примут ли российские шахматисты" in article.body
    assert article.turns[4]["text"].startswith("Вопросы участия спортсменов решают")


def test_mid_challenge_stub_is_blocked() -> None:
    stub = (DEMO_SITE / "mid.ru" / "en" / "rss.php").read_bytes()
    article, report = parse_article_with_report(MID_EN[0], stub, "mid_en", strict=True)
    assert article.access == "blocked"
    assert (article.title, article.body, article.turns) == ("", "", [])
    assert article.parser == "mid/2021"
    assert report.fallbacks == [] and "bobcmn" in report.warnings[0]


def test_mid_f5_tspd_challenge_is_blocked() -> None:
    stub = '<html><head><script>window["bobcmn"] = "1011";</script></head><body></body></html>'
    article, _ = parse_article_with_report(MID_RU[0], stub, "mid_ru", strict=True)
    assert article.access == "blocked"


def test_mid_challenge_that_only_loads_its_tspd_script_is_blocked() -> None:
    stub = '<html><head><script src="/TSPD/08a1b2c3d4?type=7"></script></head><body></body></html>'
    article, _ = parse_article_with_report(MID_RU[0], stub, "mid_ru", strict=True)
    assert article.access == "blocked"


@pytest.mark.parametrize(
    ("genitive", "nominative"),
    [("Захаровой", "Захарова"), ("Лавровой", "Лаврова"), ("Вознесенской", "Вознесенская")],
)
def test_mid_russian_surnames_in_the_nominative(genitive: str, nominative: str) -> None:
    assert nominative_surname(genitive) == nominative


# --- failures fall back and are reported ---------------------------------------------------------


def test_missing_kremlin_title_falls_back_to_generic_and_is_reported() -> None:
    url, path = KREMLIN_60672
    html = path.read_text(encoding="utf-8").replace('class="entry-title p-name"', 'class="x"')
    with pytest.raises(ParserFieldError, match=r"kremlin/2019 failed on field 'title'"):
        parse_article_with_report(url, html, "kremlin_en", strict=True)
    article, report = parse_article_with_report(url, html, "kremlin_en")
    assert report.fallbacks == ["title"]
    assert article.title == "Press statements following Russian-Chinese talks"  # og:title
    assert article.parser == "kremlin/2019"
    assert len(article.turns) == 2  # the rest of the page is still parsed by the source parser


def test_missing_mid_body_falls_back_and_turns_are_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    url, path = MID_EN
    html = path.read_text(encoding="utf-8").replace('class="text article-content"', 'class="x"')
    article, report = parse_article_with_report(url, html, "mid_en")
    assert "body" in report.fallbacks
    assert "Roscosmos" in article.body  # the generic extraction found the text
    assert article.turns == []
    assert any(w.startswith("turns:") for w in report.warnings)
    assert "failed on body" in caplog.text and url in caplog.text
    with pytest.raises(ParserFieldError, match="'body'"):
        parse_article_with_report(url, html, "mid_en", strict=True)


def test_missing_fmprc_date_everywhere_falls_back() -> None:
    url = "https://www.fmprc.gov.cn/mfa_eng/xwfw_665399/s2510_665401/2511_665403/t1.shtml"
    html = FMPRC_EN_2019[1].read_text(encoding="utf-8")
    html = html.replace(" on December 25, 2019", "").replace("2019-12-25", "")
    _, report = parse_article_with_report(url, html, "fmprc_en")
    assert "published" in report.fallbacks


# --- turns: labels, blocks, builder --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "bold", "expected"),
    [
        ("Q: Will China help?", "", ("Q", None, "Will China help?", False)),
        ("答：我们注意到有关报道。", "", ("答", None, "我们注意到有关报道。", False)),
        ("CCTV: A question?", "CCTV: A question?", ("CCTV", None, "A question?", True)),
        (
            "President of China Xi Jinping (retranslated): Mr President,",
            "President of China Xi Jinping",
            ("President of China Xi Jinping", "retranslated", "Mr President,", True),
        ),
        ("Gazprom CEO Alexei Miller: President Putin,", "Gazprom CEO Alexei Miller:",
         ("Gazprom CEO Alexei Miller", None, "President Putin,", True)),
        ("В.Путин: Уважаемые коллеги!", "В.Путин:", ("В.Путин", None, "Уважаемые коллеги!", True)),
    ],
)  # fmt: skip
def test_split_label(text: str, bold: str, expected: tuple[str, str | None, str, bool]) -> None:
    label = split_label(Block(text, bold))
    assert label is not None
    assert (label.name, label.note, label.rest, label.bold) == expected


@pytest.mark.parametrize(
    "text",
    ["Answers to media questions:", "No label here.", "x" * 120 + ": too long to be a label"],
)
def test_split_label_rejects_headings_and_sentences(text: str) -> None:
    assert split_label(Block(text, text)) is None


def test_blocks_keep_the_opening_bold_run_and_split_at_br() -> None:
    soup = make_soup(
        '<div><p><a name="4_1"></a><strong>Question:</strong> Why?</p>'
        "<p>Line one<br>Line two</p>loose <b>text</b><div><p>nested</p></div></div>"
    )
    assert blocks_of(soup.div) == [
        Block("Question: Why?", "Question:"),
        Block("Line one", ""),
        Block("Line two", ""),
        Block("loose text", ""),
        Block("nested", ""),
    ]


def test_turn_builder_numbers_and_joins() -> None:
    builder = TurnBuilder()
    assert builder.extend("orphan") is False
    builder.start("question", None, "AFP", "First?")
    builder.start("answer", "Mao Ning", None, "One.", note="retranslated")
    builder.extend("Two.")
    assert builder.last_role == "answer"
    assert builder.turns() == [
        {"idx": 0, "role": "question", "speaker": None, "outlet": "AFP", "text": "First?"},
        {"idx": 1, "role": "answer", "speaker": "Mao Ning", "outlet": None,
         "text": "(retranslated) One.\n\nTwo."},
    ]  # fmt: skip


# --- Russian dates (crawler.normalize) -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("20 августа 2026", ParsedDate(date(2026, 8, 20), "day")),
        ("20 августа 2026 года", ParsedDate(date(2026, 8, 20), "day")),
        ("20.08.2026", ParsedDate(date(2026, 8, 20), "day")),
        ("30 September 2026", ParsedDate(date(2026, 9, 30), "day")),
        ("Москва, 20 августа 2026 года", ParsedDate(date(2026, 8, 20), "day")),
        ("5 июня 2019 года, 18:15", ParsedDate(datetime(2019, 6, 5, 18, 15), "minute")),
        ("1 мая 2020", ParsedDate(date(2020, 5, 1), "day")),
    ],
)
def test_parse_russian_date(text: str, expected: ParsedDate) -> None:
    assert parse_russian_date(text) == expected


@pytest.mark.parametrize("text", ["", "31.02.2026", "2019.12.25", "20 чего-то 2026", "Москва"])
def test_parse_russian_date_rejects_non_dates(text: str) -> None:
    assert parse_russian_date(text) is None


@pytest.mark.parametrize(
    ("text", "place", "day"),
    [
        ("Москва, 20 августа 2026 года", "Москва", date(2026, 8, 20)),
        (
            "Брифинг официального представителя МИД России М.В.Захаровой, Москва, "
            "18 июня 2026 года",
            "Москва",
            date(2026, 6, 18),
        ),
        (
            "Briefing by Foreign Ministry Spokeswoman Maria Zakharova, Moscow, June 18, 2026",
            "Moscow",
            date(2026, 6, 18),
        ),
        ("20.08.2026", None, date(2026, 8, 20)),
    ],
)
def test_split_place_date(text: str, place: str | None, day: date) -> None:
    found_place, parsed = split_place_date(text)
    assert found_place == place
    assert parsed is not None and parsed.value == day and parsed.precision == "day"


def test_no_turn_text_keeps_a_label() -> None:
    labels = re.compile(r"^(?:Q|A|问|答|Question|Answer|Вопрос|Ответ)\s*[:：]")
    for page, source in (
        (FMPRC_EN_2019, None), (FMPRC_ZH_2019, None), (MID_EN, None), (MID_RU, None),
    ):  # fmt: skip
        for turn in _strict(page, source).turns:
            assert not labels.match(turn["text"]), turn
