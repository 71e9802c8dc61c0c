"""Alert rules (alerts.rules): checks, filters, schedules, and the shipped rules on the demo."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils

from alerts.match import backtest, match_new
from alerts.query import Document
from alerts.rules import RuleError, default_config, load_rules, parse_schedule
from db import alerts as db_alerts
from db import outbox
from db.store import open_db

ROOT = Path(__file__).resolve().parent.parent
CHANNELS = {"console": {"type": "console", "name": "console"}, "team_mail": {"type": "email"}}
ALIASES = {"china_russia": ['"China-Russia"', "中俄", "российско-китайск*"]}


def rule(**table: Any) -> dict[str, Any]:
    return {"query": "@china_russia AND technolog*", "channels": ["console"], **table}


def load_one(**table: Any) -> Any:
    (loaded,) = load_rules({"r": rule(**table)}, ALIASES, CHANNELS)
    return loaded


def test_a_rule_is_checked_and_compiled() -> None:
    loaded = load_one(
        channels=["console", "team_mail"],
        mode="digest",
        digest_schedule="0 8 * * *",
        sources=["tass_en"],
        kinds=["article"],
        languages=["ZH-Hans", "en"],
        description="tech",
    )
    assert loaded.name == "r" and loaded.query_text == "@china_russia AND technolog*"
    assert loaded.channels == ("console", "team_mail")
    assert loaded.mode == "digest" and loaded.digest_schedule == "0 8 * * *"
    assert loaded.languages == frozenset({"zh", "en"})
    assert loaded.to_row() == {
        "name": "r",
        "query": "@china_russia AND technolog*",
        "description": "tech",
        "channels": ["console", "team_mail"],
        "mode": "digest",
        "digest_schedule": "0 8 * * *",
        "filters": {"sources": ["tass_en"], "kinds": ["article"], "languages": ["en", "zh"]},
        "enabled": True,
    }


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"channels": ["slak"]}, r"Rule 'r': unknown channel 'slak'.*Define \[channels.slak\]"),
        ({"query": "china AND (russia OR"}, r"Rule 'r': the query does not parse\. Expected"),
        ({"query": "@nope AND china"}, r"Rule 'r': the query does not parse"),
        ({"query": "  "}, r"Rule 'r' needs a query"),
        ({"mode": "hourly"}, r"Rule 'r': mode must be one of immediate, digest"),
        ({"mode": "digest"}, r"Rule 'r': mode = \"digest\" needs a digest_schedule"),
        ({"mode": "digest", "digest_schedule": "0 8 * *"}, r"digest_schedule.*5-field cron"),
        ({"digest_schedule": "1d"}, r"digest_schedule is only used with mode = \"digest\""),
        ({"kinds": ["blog"]}, r"Rule 'r': unknown kind 'blog'"),
        ({"languages": "en"}, r"Rule 'r': languages must be a list"),
        ({"enabled": "yes"}, r"Rule 'r': enabled must be true or false"),
        ({"schedule": "1d"}, r"Rule 'r': unknown key 'schedule'"),
    ],
)
def test_rule_errors_name_the_rule_and_the_fix(table: dict[str, Any], message: str) -> None:
    with pytest.raises(RuleError, match=message):
        load_one(**table)


def test_a_parse_error_keeps_the_caret_pointing_at_the_position() -> None:
    with pytest.raises(RuleError) as caught:
        load_one(query="china AND (russia OR")
    assert "^" in str(caught.value)


def test_unknown_sources_are_refused_when_the_registry_is_given() -> None:
    table = {"r": rule(sources=["nyt"])}
    assert load_rules(table, ALIASES, CHANNELS)  # not checked without the registry
    with pytest.raises(RuleError, match=r"unknown source 'nyt'.*presswatch sources"):
        load_rules(table, ALIASES, CHANNELS, known_sources={"tass_en"})


def test_filters() -> None:
    loaded = load_one(sources=["tass_en"], kinds=["article"], languages=["zh"])
    assert loaded.accepts("tass_en", "article", "zh-CN")
    assert not loaded.accepts("tass_en", "article", "en")
    assert not loaded.accepts("ria", "article", "zh")
    assert not loaded.accepts("tass_en", "briefing", "zh")
    assert load_one().accepts("anything", None, None)


def test_schedules() -> None:
    at = datetime(2026, 6, 18, 9, 30, tzinfo=UTC)
    daily = parse_schedule("0 8 * * *")
    assert daily.next_fire(at) == datetime(2026, 6, 19, 8, 0, tzinfo=UTC)
    assert daily.next_fire(datetime(2026, 6, 19, 8, 0, tzinfo=UTC)) == datetime(
        2026, 6, 20, 8, 0, tzinfo=UTC
    )
    assert parse_schedule("1d").next_fire(at) == datetime(2026, 6, 19, tzinfo=UTC)
    assert parse_schedule("12h").next_fire(at) == datetime(2026, 6, 18, 12, tzinfo=UTC)
    assert parse_schedule("1w").next_fire(at) == datetime(2026, 6, 22, tzinfo=UTC)  # Monday
    with pytest.raises(ValueError, match="neither a 5-field cron expression"):
        parse_schedule("every day")


def test_the_default_rule_set_loads_and_is_package_data() -> None:
    config = default_config()
    rules = load_rules(config["rules"], config["aliases"], config["channels"])
    assert [r.name for r in rules] == ["china_russia_tech"]
    assert rules[0].channels == ("console",) and rules[0].mode == "immediate"
    assert config["channels"]["console"] == {"type": "console", "name": "console"}
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    package_data = pyproject["tool"]["setuptools"]["package-data"]
    assert "default_rules.toml" in package_data["alerts"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("China and Russia will deepen cooperation in science and technology.", True),
        ("Sino-Russian research ties deepen in new materials and AI", True),
        ("中俄两国决定于2020年至2021年举办中俄科技创新年。", True),
        ("中俄兩國決定舉辦中俄科技創新年。", True),  # Traditional script
        ("Годы российско-китайского научно-технического сотрудничества пройдут в 2020 году.", True),
        ("Россия и Китай создадут совместную лабораторию.", True),
        # Energy is not technology; "high-tech" alone is how a gas field gets described.
        (
            "This step takes Russian-Chinese energy cooperation to a new level: a high-tech "
            "gas pipeline.",
            False,
        ),
        # The pair and the technology word in unrelated parts of a long briefing.
        (
            "Q: How do you see China-Russia relations this year? A: Relations are at their best "
            "level in history, and the two heads of state will meet again in the autumn to "
            "discuss trade, energy and the international situation. Q: Apple presented a phone "
            "today. A: We do not comment on companies; ask the ministry of technology.",
            False,
        ),
        ("China's space agency launched a satellite with Latin American partners.", False),
    ],
)
def test_the_default_rule_on_single_texts(text: str, expected: bool) -> None:
    assert (_default_rule().query.match(Document(body=text)) is not None) is expected


# ---- the shipped rule set on the demo archive ------------------------------------------

# What china_russia_tech must match in the demo archive (URL fragments): the 2019-12-25
# sci-tech story in every outlet and language, the June 2019 summit where the years of
# sci-tech innovation were agreed, and the 2026 China-Russia science and technology items.
DEMO_MATCHES = {
    "globaltimes.cn/content/1174814": "Global Times, 2019-12-25",
    "fmprc.gov.cn/mfa_eng/xwfw_665399/s2510_665401/2511_665403/t1731268": "MFA en, 2019-12-25",
    "fmprc.gov.cn/web/fyrbt_673021/jzhsl_673025/t1731270": "MFA zh, 2019-12-25",
    "news.cgtn.com/news/2019-12-25/MOFA-says-sci-tech": "CGTN, 2019-12-25",
    "tass.com/science/1103515": "TASS, 2019-12-25",
    "ria.ru/20191225/rossiya-kitay-nauka": "RIA Novosti, 2019-12-25",
    "xinhuanet.com/world/2019-12/25/c_1125388562": "Xinhua zh, 2019-12-25",
    "people.com.cn/n1/2019/1225/c1002-31521877": "People's Daily zh, 2019-12-25",
    "en.kremlin.ru/events/president/news/60672": "Kremlin en, 2019-06-05 summit",
    "//kremlin.ru/events/president/news/60672": "Kremlin ru, 2019-06-05 summit",
    "tass.com/science/2151874": "TASS, 2026-06-16 lunar station",
    "fmprc.gov.cn/eng/xw/fyrbt/lxjzh/202606/t20260617": "MFA en, 2026-06-17",
    "mid.ru/en/press_service/spokesman/briefings/2031457": "Zakharova en, 2026-06-18",
    "mid.ru/ru/press_service/spokesman/briefings/2031449": "Zakharova ru, 2026-06-18",
    "english.news.cn/20260618/": "Xinhua en, 2026-06-18 joint laboratory",
    "news.cn/politics/20260618/": "Xinhua zh, 2026-06-18 joint laboratory",
    "chinadaily.com.cn/a/202606/19/": "China Daily, 2026-06-19 new materials and AI",
    "tass.ru/nauka/24871532": "TASS ru, 2026-08-20 microelectronics laboratory",
    "sputnikglobe.com/20260917/russia-china-link-satellite": "Sputnik, 2026-09-17 GLONASS/BeiDou",
}
# What it must not match: China-Russia news that is not about technology (the Power of
# Siberia gas pipeline), technology news that is not China-Russia (China-Latin America space
# forum, China's nuclear triad), and the unrelated items (weather, sport, expos, health).
DEMO_NOT_MATCHED = {
    "en.kremlin.ru/events/president/news/62163": "Kremlin, Power of Siberia gas pipeline",
    "politics.people.com.cn/n1/2024/0424": "People's Daily zh, China-LAC space forum",
    "globaltimes.cn/page/202607/1365253": "Global Times, nuclear triad",
    "globaltimes.cn/page/202608/1368751": "Global Times, South China Sea",
    "fmprc.gov.cn/web/zyxw/t1638430": "MFA zh, Yang Jiechi meets Luxembourg FM",
    "fmprc.gov.cn/web/zyxw/t1638506": "MFA zh, Munich Security Conference speech",
    "3w.huanqiu.com/a/d80b1f": "Huanqiu, inter-parliamentary alliance",
    "china.chinadaily.com.cn/a/202311/17": "China Daily zh, China-US cooperation",
    "tass.com/economy/2158230": "TASS, INNOPROM industrial fair",
    "tass.com/society/1103301": "TASS, Moscow weather",
    "tass.com/sports/2166409": "TASS, youth chess festival",
    "xinhuanet.com/world/2019-12/10": "Xinhua zh, French strike",
    "sputniknews.com/columnists/201911181077343476": "Sputnik, column",
    "rt.com/news/473849": "RT, Bolivia",
    "news.cgtn.com/news/2026-07-14": "CGTN, heat wave",
    "news.cgtn.com/news/2026-09-24": "CGTN, flu vaccination",
    "english.news.cn/20260715/": "Xinhua en, rainstorms",
    "english.news.cn/20260917/": "Xinhua en, China-ASEAN Expo",
    "english.news.cn/20261015/": "Xinhua en, Beijing Marathon",
    "en.people.cn/n3/2026/0716": "People's Daily en, floods",
    "en.people.cn/n3/2026/0828": "People's Daily en, village football",
    "chinadaily.com.cn/a/202610/12/": "China Daily, hospitals",
    "fmprc.gov.cn/eng/xw/fyrbt/lxjzh/202609": "MFA en, 2026-09-09 (typhoon, sport, health)",
    "mid.ru/en/press_service/spokesman/briefings/2048119": "Zakharova, 2026-09-10",
}


def _urls(urls: list[str], fragments: dict[str, str]) -> dict[str, str]:
    """{url: label} for the urls that hold one of the fragments."""
    found = {}
    for url in urls:
        for fragment, label in fragments.items():
            if fragment in url and not (fragment.startswith("//") and "//en." in url):
                found[url] = label
    return found


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Any:
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    result = subprocess.run(
        [sys.executable, "-m", "scheduler.cli", "demo", "--db", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    db = open_db(path)
    yield db
    db.close()


def _default_rule() -> Any:
    config = default_config()
    (china_russia_tech,) = load_rules(config["rules"], config["aliases"], config["channels"])
    return china_russia_tech


def test_the_default_rules_match_the_china_russia_tech_items_of_the_demo(
    demo_db: sqlite_utils.Database,
) -> None:
    urls = [row["url"] for row in demo_db.query("SELECT url FROM articles")]
    must, must_not = _urls(urls, DEMO_MATCHES), _urls(urls, DEMO_NOT_MATCHED)
    assert len(must) == len(DEMO_MATCHES), "a demo page moved: update DEMO_MATCHES"
    assert len(must_not) == len(DEMO_NOT_MATCHED), "a demo page moved: update DEMO_NOT_MATCHED"

    report = backtest(demo_db, _default_rule(), samples=1000)
    matched = {sample["url"] for sample in report.samples}
    assert report.hits == len(matched)
    missed = sorted(label for url, label in must.items() if url not in matched)
    wrong = sorted(label for url, label in must_not.items() if url in matched)
    assert not missed, f"china_russia_tech missed: {missed}"
    assert not wrong, f"china_russia_tech matched unrelated items: {wrong}"
    assert set(report.by_language) == {"en", "zh", "ru"}


def test_the_demo_alerts_once_per_story(demo_db: sqlite_utils.Database) -> None:
    # `presswatch demo` ran the shipped rules after storing (console channel).
    rule = _default_rule()
    hits = backtest(demo_db, rule).hits
    matches = db_alerts.list_matches(demo_db, rule.name, limit=1000)
    assert len(matches) == hits >= len(DEMO_MATCHES)
    stories = {m["story_id"] for m in matches}
    # Every story alerts once; stories published on the same day share one message.
    rows = outbox.list_outbox(demo_db, limit=1000)
    assert 0 < len(rows) < len(stories)
    alerted = [
        s["id"] for row in rows for s in row["payload"].get("stories", [row["payload"]["story"]])
    ]
    assert sorted(alerted) == sorted(stories)
    for row in rows:
        payload = row["payload"]
        assert row["status"] == "sent"
        assert row["channel"] == "console" and payload["rule"] == "china_russia_tech"
        assert payload["outlets"] and all("«" in item["snippet"] for item in payload["items"])
        assert len({item["published_at"][:10] for item in payload["items"]}) == 1
    # Matching again finds nothing new: the watermark persisted.
    assert match_new(demo_db, [rule]).matches == 0
