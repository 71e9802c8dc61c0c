"""crawler.normalize: text folding, paragraphs from <br> markup, captions, dates."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from bs4 import BeautifulSoup

from crawler.normalize import (
    DateInfo,
    ParsedDate,
    clean_text,
    join_paragraphs,
    localize,
    paragraphs_from,
    parse_date_text,
    parse_published_updated,
    split_credit,
    split_paragraphs,
)


def _div(html: str) -> BeautifulSoup:
    return BeautifulSoup(f"<div id='x'>{html}</div>", "lxml").find("div")


# --- text ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("said.\u00a0 Next", "said. Next"),
        ("zero\u200bwidth\ufeff", "zerowidth"),
        ("\u3000\u3000外交部发言人", "外交部发言人"),
        ("  many \n\t spaces  ", "many spaces"),
        ("cafe\u0301", "café"),  # NFC composes e + combining acute
        ("narrow\u202fno-break", "narrow no-break"),
        (None, ""),
    ],
)
def test_clean_text_folds_spaces_and_normalises(raw: str | None, clean: str) -> None:
    assert clean_text(raw) == clean


def test_join_and_split_paragraphs_are_inverse() -> None:
    body = join_paragraphs([" One. ", "", "Two\u00a0two."])
    assert body == "One.\n\nTwo two."
    assert split_paragraphs(body) == ["One.", "Two two."]


# --- paragraphs ------------------------------------------------------------------------------


def test_paragraphs_from_br_separated_text_nodes_never_glues() -> None:
    div = _div("on Wednesday.<br><br>The national-level project.<br /><br />Geng said.<br>Recent")
    assert paragraphs_from(div) == [
        "on Wednesday.",
        "The national-level project.",
        "Geng said.",
        "Recent",
    ]


def test_paragraphs_from_mixed_p_and_block_tags() -> None:
    div = _div("Lead text<p>First <b>bold</b>ly.</p><div>Second</div>Tail<ul><li>Item</li></ul>")
    assert paragraphs_from(div) == ["Lead text", "First boldly.", "Second", "Tail", "Item"]


def test_paragraphs_from_inline_tags_do_not_split_or_add_spaces() -> None:
    div = _div("Xi<a href='#'>nhua</a> said <span>so</span>.")
    assert paragraphs_from(div) == ["Xinhua said so."]


def test_paragraphs_from_drops_scripts_comments_and_skipped_tags() -> None:
    div = _div(
        "<script>var x = 1;</script><!-- ad -->Kept.<br><br>"
        "<p class='picture'>A caption Photo: Xinhua</p>Also kept.&nbsp;<br>"
    )
    skip = lambda tag: "picture" in (tag.get("class") or [])  # noqa: E731
    assert paragraphs_from(div, skip=skip) == ["Kept.", "Also kept."]


# --- captions --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "text", "credit"),
    [
        (
            "The Russia Pavilion is seen in Shanghai, Nov. 2, 2019. Photo: Xinhua",
            "The Russia Pavilion is seen in Shanghai, Nov. 2, 2019.",
            "Photo: Xinhua",
        ),
        ("South China Sea Photo: VCG", "South China Sea", "Photo: VCG"),
        ("Delegates meet. Photo: IC", "Delegates meet.", "Photo: IC"),
        ("A rally in Paris. Photo: AFP", "A rally in Paris.", "Photo: AFP"),
        ("Workers at the site. Photos: Li Hao/GT", "Workers at the site.", "Photos: Li Hao/GT"),
        ("Sun Chunlan attends. (Xinhua/Yue Yuewei)", "Sun Chunlan attends.", "Xinhua/Yue Yuewei"),
        ("A ship on Nov. 2, 2019. /Xinhua", "A ship on Nov. 2, 2019.", "Xinhua"),
        ("Photo: VCG", "", "Photo: VCG"),
        ("No credit in this caption.", "No credit in this caption.", None),
    ],
)
def test_split_credit(raw: str, text: str, credit: str | None) -> None:
    caption = split_credit(raw)
    assert (caption.text, caption.credit) == (text, credit)
    assert caption.as_dict() == {"text": text, "credit": credit}


def test_split_credit_leaves_prose_that_mentions_photos() -> None:
    prose = "He said the photo: it was taken in Beijing. Then he left."
    assert split_credit(prose).credit is None


# --- dates -----------------------------------------------------------------------------------


def test_localize_second_precision_in_beijing() -> None:
    info = localize(datetime(2019, 12, 25, 20, 38, 40), "Asia/Shanghai", "second")
    assert info == DateInfo("2019-12-25T12:38:40Z", "2019-12-25T20:38:40+08:00", "second")


def test_localize_minute_precision_keeps_seconds_at_zero() -> None:
    info = localize(datetime(2026, 8, 22, 12, 29), "Asia/Shanghai", "minute")
    assert info == DateInfo("2026-08-22T04:29:00Z", "2026-08-22T12:29:00+08:00", "minute")


def test_localize_day_precision_never_guesses_a_time() -> None:
    assert localize(date(2019, 12, 25), "Asia/Shanghai") == DateInfo(
        "2019-12-25", "2019-12-25", "day"
    )
    # A midnight datetime flagged as "day" stays a day: not 2019-12-24T16:00Z.
    assert localize(datetime(2019, 12, 25), "Asia/Shanghai", "day").published_at == "2019-12-25"


def test_localize_aware_value_keeps_its_own_offset() -> None:
    moscow = timezone(timedelta(hours=3))
    info = localize(datetime(2019, 12, 25, 10, 0, 5, tzinfo=moscow), "Asia/Shanghai")
    assert info == DateInfo("2019-12-25T07:00:05Z", "2019-12-25T10:00:05+03:00", "second")


def test_localize_infers_precision_and_rejects_unknown() -> None:
    assert localize(datetime(2020, 1, 1, 8, 0), "UTC").precision == "minute"
    with pytest.raises(ValueError, match="day, minute or second"):
        localize(datetime(2020, 1, 1), "UTC", "hour")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Aug 22, 2026 12:29 PM", ParsedDate(datetime(2026, 8, 22, 12, 29), "minute")),
        ("Jul 06, 2026 06:19 PM", ParsedDate(datetime(2026, 7, 6, 18, 19), "minute")),
        ("Jan 01, 2026 12:05 AM", ParsedDate(datetime(2026, 1, 1, 0, 5), "minute")),
        ("Dec. 25, 2019", ParsedDate(date(2019, 12, 25), "day")),
        ("2019/12/25 20:38:40", ParsedDate(datetime(2019, 12, 25, 20, 38, 40), "second")),
        ("2019/1/5 8:03", ParsedDate(datetime(2019, 1, 5, 8, 3), "minute")),
        ("2023-11-17 17:33", ParsedDate(datetime(2023, 11, 17, 17, 33), "minute")),
        ("2024年04月24日23:52", ParsedDate(datetime(2024, 4, 24, 23, 52), "minute")),
        ("2019-12-25", ParsedDate(date(2019, 12, 25), "day")),
        (
            "2019-12-25T20:38:40+08:00",
            ParsedDate(
                datetime(2019, 12, 25, 20, 38, 40, tzinfo=timezone(timedelta(hours=8))), "second"
            ),
        ),
        (
            "2019-11-20T05:47Z",
            ParsedDate(datetime(2019, 11, 20, 5, 47, tzinfo=UTC), "minute"),
        ),
    ],
)
def test_parse_date_text_formats(text: str, expected: ParsedDate) -> None:
    assert parse_date_text(text) == expected


@pytest.mark.parametrize("text", ["", "yesterday", "2019/13/45 10:00", "Foo 12, 2019"])
def test_parse_date_text_rejects_non_dates(text: str) -> None:
    assert parse_date_text(text) is None


def test_parse_published_updated_gt_2021_line() -> None:
    published, updated = parse_published_updated(
        "Published: Aug 22, 2026 12:29 PM Updated: Aug 22, 2026 10:15 PM"
    )
    assert published == ParsedDate(datetime(2026, 8, 22, 12, 29), "minute")
    assert updated == ParsedDate(datetime(2026, 8, 22, 22, 15), "minute")


def test_parse_published_updated_gt_2009_line_without_update() -> None:
    published, updated = parse_published_updated(
        "By Zhang Hui Source:Global Times Published: 2019/12/25 20:38:40"
    )
    assert published == ParsedDate(datetime(2019, 12, 25, 20, 38, 40), "second")
    assert updated is None
    assert parse_published_updated("no date here") == (None, None)
