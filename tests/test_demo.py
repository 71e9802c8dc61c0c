"""`presswatch demo`: the bundled archive replayed end to end, and the seed article right."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

SEED_URL = "http://www.globaltimes.cn/content/1174814.shtml"


def presswatch(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "scheduler.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """Run the demo twice into one database; return it and both runs' output."""
    cwd = tmp_path_factory.mktemp("demo")
    first = presswatch("demo", cwd=cwd)
    second = presswatch("demo", cwd=cwd)
    return cwd / "demo.db", [first.stdout, second.stdout]


def query(db: Path, sql: str) -> list[sqlite3.Row]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_demo_stores_at_least_30_articles_from_4_sources(demo) -> None:  # type: ignore[no-untyped-def]
    db, outputs = demo
    per_source = query(db, "select source, count(*) n from articles group by source")
    assert sum(r["n"] for r in per_source) >= 30
    assert len(per_source) >= 4
    assert "articles in demo.db" in outputs[0]


def test_seed_article_is_a_clean_record(demo) -> None:  # type: ignore[no-untyped-def]
    db, _ = demo
    (seed,) = query(db, f"select * from articles where url = '{SEED_URL}'")
    assert seed["source"] == "globaltimes"
    assert seed["published_at"].startswith("2019-12-25T") and seed["published_at"].endswith("Z")
    assert seed["date_precision"] in ("minute", "second")
    assert seed["published_local"].endswith("+08:00")
    body = seed["body"]
    assert body.startswith("China and Russia are accelerating")
    assert "Wednesday.The" not in body
    assert "on Wednesday.\n\nThe national-level project" in body
    assert "Photo: Xinhua" not in body and "Russia Pavilion" not in body
    (caption,) = json.loads(seed["captions"])
    assert caption["text"].startswith("The Russia Pavilion is seen")
    assert caption["credit"] == "Photo: Xinhua"


def test_search_finds_the_seed_and_chinese_terms(demo) -> None:  # type: ignore[no-untyped-def]
    db, _ = demo
    english = presswatch(
        "search", "technological innovation", "--db", str(db), "--json", cwd=db.parent
    )
    assert SEED_URL in [hit["url"] for hit in json.loads(english.stdout)]

    chinese = json.loads(
        presswatch("search", "中俄", "--db", str(db), "--json", cwd=db.parent).stdout
    )
    assert chinese, "a two-character Chinese term found nothing"
    assert {hit["source"] for hit in chinese} <= {
        "fmprc_zh",
        "xinhua_zh",
        "people_zh",
        "huanqiu",
        "chinadaily_zh",
    }
    assert all("[中俄]" in hit["snippet"] for hit in chinese)


def test_replaying_twice_adds_nothing_and_the_runs_say_so(demo) -> None:  # type: ignore[no-untyped-def]
    db, _ = demo
    runs = query(db, "select * from crawl_runs order by id")
    sources = {r["source"] for r in runs}
    first, second = runs[: len(sources)], runs[len(sources) :]
    assert len(second) == len(first)
    assert sum(r["articles_new"] for r in first) >= 30
    assert all(r["articles_new"] == 0 and r["articles_updated"] == 0 for r in second)
    assert sum(r["articles_unchanged"] for r in second) == sum(r["articles_new"] for r in first)
    assert all(r["mode"] == "replay" and r["status"] == "ok" for r in runs)
    versions = query(db, "select count(*) n from article_versions")[0]["n"]
    assert versions == query(db, "select count(*) n from articles")[0]["n"]


def test_demo_shows_the_story_as_article_and_as_geng_shuangs_answer(demo) -> None:  # type: ignore[no-untyped-def]
    _, outputs = demo
    story = outputs[0].split("The 2019-12-25 story", 1)[1].split("Look at them", 1)[0]
    assert SEED_URL in story
    assert "answer #" in story and "by Geng Shuang" in story


def test_turns_can_be_searched_by_speaker(demo) -> None:  # type: ignore[no-untyped-def]
    db, _ = demo
    found = presswatch(
        "search", "innovation", "--speaker", "Geng Shuang", "--db", str(db), "--json", cwd=db.parent
    )
    hits = json.loads(found.stdout)
    assert hits and all(h["speaker"] == "Geng Shuang" for h in hits)
    assert any("[Innovation]" in h["snippet"] and h["role"] == "answer" for h in hits)
    assert {h["published_at"][:10] for h in hits} == {"2019-12-25"}


def test_demo_alerts_once_for_the_story_naming_every_outlet(demo) -> None:  # type: ignore[no-untyped-def]
    _, (first, second) = demo
    alerts = first.split("Alerts (", 1)[1].split("\nalerts: ", 1)[0]
    blocks = alerts.split("[presswatch] ")[1:]
    (story,) = [b for b in blocks if "stories of 2019-12-25" in b or "2019-12-25 ·" in b]
    outlets = story.split("Outlets (", 1)[1].splitlines()[0]
    for outlet in ("Global Times", "China MFA press conferences (English)", "TASS (English)",
                   "CGTN", "РИА Новости", "新华网", "人民网"):  # fmt: skip
        assert outlet in outlets
    # The matched sentence, with the terms marked.
    assert "«China and Russia» are accelerating the formulation" in story
    # Nothing unrelated alerts: weather, sport, fairs, health, the gas pipeline.
    for unrelated in ("rainstorm", "Marathon", "INNOPROM", "flu vaccination", "gas exports"):
        assert unrelated not in alerts
    # The second demo run finds every story alerted already.
    assert "0 alerts queued" in second.split("Alerts (", 1)[1]
