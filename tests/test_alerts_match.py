"""Matching after storage (alerts.match): watermark, one alert per story, atomicity, digests."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import sqlite_utils

from alerts import match as alerts_match
from alerts.match import backtest, build_digests, match_new
from alerts.rules import Rule, load_rules
from db import alerts as db_alerts
from db import outbox
from db.store import sync_sources, upsert_articles

ALIASES = {"china_russia": ['"China-Russia"', '"China and Russia"', "中俄", "российско-китайск*"]}
CHANNELS = {name: {"type": "console", "name": name} for name in ("console", "mail")}
NOW = "2026-06-18T12:00:00Z"

GT_BODY = (
    "China and Russia are accelerating the formulation of implementation plans for the "
    "China-Russia year of scientific and technological innovation in 2020-21, in a bid to "
    "achieve more results from cooperation in the sector, China's Foreign Ministry said on "
    "Wednesday.\n\nThe national-level project makes clear the key areas for bilateral "
    "cooperation, showcasing the two countries' strong will and firm determination to "
    "continuously boost cooperation and improve bilateral relations, Geng Shuang, "
    "spokesperson for the Foreign Ministry, said at a regular press briefing on Wednesday.\n\n"
    "Russia has advantages in basic research and original innovation, while China is going "
    "into the global arena in telecommunications, satellite navigation, drones and "
    "supercomputing, Geng said."
)
RIA_BODY = (
    "Россия и Китай разрабатывают планы мероприятий на Годы российско-китайского "
    "научно-технического и инновационного сотрудничества, которые пройдут в 2020 и 2021 "
    "годах, сообщил официальный представитель МИД КНР Гэн Шуан."
)
WEATHER_BODY = (
    "Moscow weather forecasters see no lasting snow before the New Year. Temperatures will "
    "stay above zero for most of the week, with rain and sleet expected in the city."
)


def make_rules(**overrides: dict[str, Any]) -> list[Rule]:
    tables: dict[str, dict[str, Any]] = {
        "tech": {"query": "@china_russia AND (technolog* OR научн*)", "channels": ["console"]},
    }
    tables.update(overrides)
    return load_rules(tables, ALIASES, CHANNELS)


@pytest.fixture
def store(
    db: sqlite_utils.Database, make_record: Callable[..., dict[str, Any]]
) -> Callable[..., str]:
    """`store(slug, body, **fields)`: store one article, return its id."""

    def _store(slug: str, body: str, **fields: Any) -> str:
        record = make_record(url=f"https://example.org/{slug}.html", body=body, **fields)
        (result,) = upsert_articles(db, [record], now=fields.get("fetched_at"))
        return result.article_id

    return _store


def outbox_rows(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    return outbox.list_outbox(db, limit=1000)


def count(db: sqlite_utils.Database, table: str) -> int:
    return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_new_articles_are_matched_once_and_the_watermark_persists(
    db: sqlite_utils.Database, store: Callable[..., str]
) -> None:
    rules = make_rules()
    gt = store("gt", GT_BODY, title="China, Russia speed up plans for sci-tech innovation year")
    store("weather", WEATHER_BODY, title="Moscow weather", source="tass_en")

    report = match_new(db, rules, NOW)
    assert (report.versions, report.articles, report.matches, report.alerts) == (2, 2, 1, 1)
    assert report.watermark == db_alerts.get_watermark(db) == db_alerts.latest_version_id(db)
    (row,) = db_alerts.list_matches(db)
    assert row["rule"] == "tech" and row["article_id"] == gt and row["turn_idx"] is None
    assert "«" in row["snippet"] and "»" in row["snippet"]
    assert "body" in row["fields"] or "title" in row["fields"]

    # A rerun (a new process: nothing but the database) finds nothing new.
    again = match_new(db, rules, NOW)
    assert (again.versions, again.matches, again.alerts) == (0, 0, 0)
    assert len(outbox_rows(db)) == 1

    # A new article after the watermark is matched, and only it.
    store("ria", RIA_BODY, title="Россия и Китай готовят планы", source="ria", language="ru")
    third = match_new(db, rules, NOW)
    assert (third.versions, third.matches, third.alerts) == (1, 1, 1)


def test_one_alert_per_rule_per_story_listing_every_outlet(
    db: sqlite_utils.Database, store: Callable[..., str]
) -> None:
    sync_sources(
        db,
        [
            {"key": "globaltimes", "name": "Global Times"},
            {"key": "chinadaily_en", "name": "China Daily (English)"},
        ],
    )
    rules = make_rules(
        tech={"query": "@china_russia AND technolog*", "channels": ["console", "mail"]},
    )
    store("gt", GT_BODY, title="China, Russia speed up plans")
    first = match_new(db, rules, NOW)
    assert first.alerts == 2  # one per channel
    keys = sorted(row["key"] for row in outbox_rows(db))
    story_id = first.alerted[0][1]
    assert keys == [f"alert:tech:{story_id}:console", f"alert:tech:{story_id}:mail"]
    payload = outbox_rows(db)[0]["payload"]
    assert payload["rule"] == "tech" and payload["query"] == "@china_russia AND technolog*"
    assert payload["story"]["id"] == story_id
    assert payload["story"]["title"] == "China, Russia speed up plans"
    assert payload["outlets"] == ["Global Times"]
    (item,) = payload["items"]
    assert item["source_name"] == "Global Times" and item["url"] == "https://example.org/gt.html"
    assert "«" in item["snippet"] and payload["why"]

    # China Daily republishes the copy: it joins the story, is matched, and sends nothing.
    copy = store("cd", GT_BODY + "\n\nSource: Global Times", source="chinadaily_en", title="x")
    second = match_new(db, rules, NOW)
    assert (second.matches, second.alerts, second.new_stories) == (1, 0, 0)
    assert db_alerts.story_of_article(db, copy) == story_id
    assert len(outbox_rows(db)) == 2
    outlets = [m["source_name"] for m in db_alerts.story_members(db, story_id)]
    assert outlets == ["Global Times", "China Daily (English)"]
    assert len(db_alerts.story_matches(db, "tech", story_id)) == 2


def test_stories_of_one_day_are_one_alert_and_each_story_alerts_once(
    db: sqlite_utils.Database, store: Callable[..., str]
) -> None:
    rules = make_rules()
    gt = store("gt", GT_BODY, published_at="2019-12-25T12:38:40Z")
    ria = store("ria", RIA_BODY, source="ria", language="ru", published_at="2019-12-25T08:05:00Z")
    report = match_new(db, rules, NOW)
    assert report.new_stories == 2 and report.alerts == 1
    (row,) = outbox_rows(db)
    payload = row["payload"] if isinstance(row["payload"], dict) else json.loads(row["payload"])
    assert {item["url"] for item in payload["items"]} == {
        "https://example.org/gt.html",
        "https://example.org/ria.html",
    }
    assert len(payload["stories"]) == 2
    assert {db_alerts.story_of_article(db, gt), db_alerts.story_of_article(db, ria)} == {
        s["id"] for s in payload["stories"]
    }


def test_a_story_alerts_once_per_rule(db: sqlite_utils.Database, store: Callable[..., str]) -> None:
    rules = make_rules(other={"query": "satellite", "channels": ["console"]})
    store("gt", GT_BODY)
    report = match_new(db, rules, NOW)
    assert sorted(rule for rule, _ in report.alerted) == ["other", "tech"]
    assert report.alerts == 2


def test_matches_and_alerts_of_a_batch_commit_with_the_watermark_or_not_at_all(
    db: sqlite_utils.Database, store: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    rules = make_rules()
    store("gt", GT_BODY, published_at="2019-12-25")
    # Another day: its own alert, so the batch writes two outbox rows.
    store("ria", RIA_BODY, source="ria", language="ru", published_at="2019-12-26")
    real_enqueue = outbox.enqueue
    calls = []

    def crash_on_second(db: sqlite_utils.Database, **kwargs: Any) -> bool:
        calls.append(kwargs["key"])
        if len(calls) == 2:
            raise RuntimeError("killed mid-batch")
        return real_enqueue(db, **kwargs)

    monkeypatch.setattr(outbox, "enqueue", crash_on_second)
    with pytest.raises(RuntimeError, match="killed mid-batch"):
        match_new(db, rules, NOW)
    assert len(calls) == 2  # the first message had been written when the crash came
    for table in ("alert_matches", "outbox", "stories", "story_members", "alerts_sent_for"):
        assert count(db, table) == 0, table
    assert db_alerts.get_watermark(db) == 0

    # The rerun does everything once.
    monkeypatch.setattr(outbox, "enqueue", real_enqueue)
    report = match_new(db, rules, NOW)
    assert (report.matches, report.alerts, report.new_stories) == (2, 2, 2)
    assert count(db, "outbox") == 2


def test_a_crash_in_a_later_batch_keeps_the_earlier_batches(
    db: sqlite_utils.Database, store: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    rules = make_rules()
    store("gt", GT_BODY)
    store("ria", RIA_BODY, source="ria", language="ru")
    real = alerts_match._Matcher.matches
    seen: list[str] = []

    def crash_on_ria(self: Any, article: dict[str, Any]) -> Any:
        seen.append(article["source"])
        if article["source"] == "ria":
            raise RuntimeError("crash")
        return real(self, article)

    monkeypatch.setattr(alerts_match._Matcher, "matches", crash_on_ria)
    with pytest.raises(RuntimeError):
        match_new(db, rules, NOW, batch_size=1)
    assert seen == ["globaltimes", "ria"]
    assert count(db, "alert_matches") == 1 and count(db, "outbox") == 1
    assert db_alerts.get_watermark(db) == 1
    monkeypatch.setattr(alerts_match._Matcher, "matches", real)
    report = match_new(db, rules, NOW, batch_size=1)
    assert (report.versions, report.matches, report.alerts) == (1, 1, 1)


def test_filters_sources_kinds_and_languages(
    db: sqlite_utils.Database, store: Callable[..., str]
) -> None:
    query = "@china_russia AND (technolog* OR научн*)"
    rules = make_rules(
        tech={"query": query, "channels": ["console"], "languages": ["ru"]},
        gt_only={"query": query, "channels": ["console"], "sources": ["globaltimes"]},
        briefings={"query": query, "channels": ["console"], "kinds": ["briefing"]},
    )
    store("gt", GT_BODY)
    store("ria", RIA_BODY, source="ria", language="ru")
    match_new(db, rules, NOW)
    matched = {(m["rule"], m["source"]) for m in db_alerts.list_matches(db)}
    assert matched == {("tech", "ria"), ("gt_only", "globaltimes")}


def test_disabled_rules_and_rules_without_channels(
    db: sqlite_utils.Database, store: Callable[..., str]
) -> None:
    rules = make_rules(
        tech={"query": "satellite", "channels": ["console"], "enabled": False},
        quiet={"query": "satellite", "channels": []},
    )
    store("gt", GT_BODY)
    report = match_new(db, rules, NOW)
    assert report.matches == 1 and report.alerts == 0
    assert [m["rule"] for m in db_alerts.list_matches(db)] == ["quiet"]


def test_only_title_body_and_turns_are_matched_never_captions(
    db: sqlite_utils.Database, store: Callable[..., str]
) -> None:
    rules = make_rules(sat={"query": "satellite", "channels": ["console"]})
    store(
        "photo",
        WEATHER_BODY,
        captions=[{"text": "A satellite image of the snow", "credit": "Roscosmos"}],
        source="tass_en",
        title="Snow in Moscow",
    )
    assert match_new(db, rules, NOW).matches == 0


def test_a_match_in_a_briefing_turn_names_the_turn_and_speaker(
    db: sqlite_utils.Database, store: Callable[..., str]
) -> None:
    turns = [
        {"idx": 0, "role": "question", "speaker": None, "outlet": "TASS", "text": "On Russia?"},
        {
            "idx": 1,
            "role": "answer",
            "speaker": "Geng Shuang",
            "outlet": None,
            "text": "China and Russia will hold years of technological innovation.",
        },
    ]
    body = "\n\n".join(turn["text"] for turn in turns)
    rules = make_rules(geng={"query": 'speaker:"Geng Shuang" AND russia', "channels": ["console"]})
    store("mfa", body, kind="briefing", turns=turns, source="fmprc_en")
    match_new(db, rules, NOW)
    by_rule = {m["rule"]: m for m in db_alerts.list_matches(db)}
    assert by_rule["geng"]["turn_idx"] == 1 and by_rule["geng"]["speaker"] == "Geng Shuang"
    (message,) = [r for r in outbox_rows(db) if r["key"].startswith("alert:geng:")]
    assert message["payload"]["items"][0]["speaker"] == "Geng Shuang"
    assert message["payload"]["items"][0]["turn_idx"] == 1


def test_a_changed_article_is_matched_again_without_a_second_alert(
    db: sqlite_utils.Database, store: Callable[..., str]
) -> None:
    rules = make_rules()
    store("gt", GT_BODY)
    match_new(db, rules, NOW)
    store("gt", GT_BODY + "\n\nUpdated with more details.")
    report = match_new(db, rules, NOW)
    assert (report.versions, report.matches, report.alerts) == (1, 0, 0)


def test_without_backfill_a_new_database_starts_at_its_newest_version(
    db: sqlite_utils.Database, store: Callable[..., str]
) -> None:
    rules = make_rules()
    store("gt", GT_BODY)
    report = match_new(db, rules, NOW, backfill=False)
    assert report.matches == 0 and db_alerts.get_watermark(db) == 1
    store("ria", RIA_BODY, source="ria", language="ru")
    assert match_new(db, rules, NOW, backfill=False).matches == 1


def test_digests_are_built_once_per_due_period(
    db: sqlite_utils.Database, store: Callable[..., str]
) -> None:
    rules = make_rules(
        tech={
            "query": "@china_russia AND (technolog* OR научн*)",
            "channels": ["console", "mail"],
            "mode": "digest",
            "digest_schedule": "1d",
        }
    )
    store("gt", GT_BODY)
    report = match_new(db, rules, "2026-06-18T10:00:00Z")
    assert report.matches == 1 and report.alerts == 0  # digests only, no immediate alert
    assert build_digests(db, rules, "2026-06-18T23:59:59Z") == 0  # the day has not ended
    store("ria", RIA_BODY, source="ria", language="ru")
    match_new(db, rules, "2026-06-19T00:00:00Z")  # the second the period ends: in it
    assert build_digests(db, rules, "2026-06-19T00:00:01Z") == 2  # one per channel
    assert build_digests(db, rules, "2026-06-19T08:00:00Z") == 0  # built already
    rows = outbox_rows(db)
    assert sorted(row["key"] for row in rows) == [
        "digest:tech:2026-06-19T00:00:00Z:console",
        "digest:tech:2026-06-19T00:00:00Z:mail",
    ]
    payload = rows[0]["payload"]
    assert payload["rule"] == "tech" and payload["period"].endswith("/2026-06-19T00:00:00Z")
    assert len(payload["alerts"]) == 2  # two stories
    assert {a["items"][0]["source"] for a in payload["alerts"]} == {"globaltimes", "ria"}

    # Nothing matched on the 19th: no digest for that day; a match on the 20th: one.
    store("gt2", GT_BODY.replace("Wednesday", "Friday") + " More.", source="cgtn")
    match_new(db, rules, "2026-06-20T09:00:00Z")
    assert build_digests(db, rules, "2026-06-21T00:00:05Z") == 2
    assert db_alerts.get_state(db, "digest:tech") == "2026-06-21T00:00:00Z"


def test_backtest_counts_hits_without_writing(
    db: sqlite_utils.Database, store: Callable[..., str]
) -> None:
    store("gt", GT_BODY, published_at="2019-12-25T12:38:40Z")
    store("ria", RIA_BODY, source="ria", language="ru", published_at="2019-12-25T08:05:00Z")
    store(
        "weather",
        WEATHER_BODY,
        title="Snow in Moscow",
        source="tass_en",
        published_at="2019-12-24T11:05:00Z",
    )
    store("old", GT_BODY + " Old.", source="tass_en", published_at="2018-01-01T00:00:00Z")
    changes = db.conn.total_changes

    report = backtest(db, "@china_russia AND (technolog* OR научн*)", aliases=ALIASES)
    assert (report.scanned, report.hits) == (4, 3)
    assert report.by_source == {"globaltimes": 1, "ria": 1, "tass_en": 1}
    assert report.by_language == {"en": 2, "ru": 1}
    assert [s["source"] for s in report.samples] == ["globaltimes", "ria", "tass_en"]
    assert all("«" in s["snippet"] for s in report.samples)

    since = backtest(db, "@china_russia AND (technolog* OR научн*)", "2019-01-01", aliases=ALIASES)
    assert (since.scanned, since.hits) == (3, 2)
    (rule,) = make_rules(tech={"query": "@china_russia", "languages": ["ru"], "channels": []})
    assert backtest(db, rule).by_source == {"ria": 1}
    assert db.conn.total_changes == changes
    assert db_alerts.get_state(db, db_alerts.WATERMARK_KEY) is None


def test_sync_rules_shows_the_configured_rules(db: sqlite_utils.Database) -> None:
    rules = make_rules(other={"query": "satellite", "channels": [], "enabled": False})
    db_alerts.sync_rules(db, [rule.to_row() for rule in rules])
    rows = db_alerts.list_rules(db)
    assert [(r["name"], r["enabled"], r["channels"]) for r in rows] == [
        ("other", False, []),
        ("tech", True, ["console"]),
    ]
    db_alerts.sync_rules(db, [rules[0].to_row()])
    assert [r["name"] for r in db_alerts.list_rules(db)] == ["tech"]
