"""Briefing turns: stored one row each, rewritten on change, searchable by text and speaker."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils

from db.migrations import MIGRATIONS, apply_migrations
from db.search import SearchQueryError, search_turns
from db.store import article_turns, open_db, upsert_articles

GENG = "Geng Shuang"


def transcript(make_record, **overrides: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    turns = [
        {"idx": 0, "role": "statement", "speaker": GENG, "outlet": None,
         "text": "President Xi will attend the summit next week."},
        {"idx": 1, "role": "question", "speaker": None, "outlet": "TASS",
         "text": "China and Russia will hold the Years of Scientific and Technological "
                 "Innovation. What are the preparations?"},
        {"idx": 2, "role": "answer", "speaker": GENG, "outlet": None,
         "text": "The two sides are accelerating the formulation of implementation plans "
                 "for cooperation in science and technology."},
        {"idx": 3, "role": "answer", "speaker": GENG, "outlet": None,
         "text": "中俄双方正在加紧制定科技创新年实施方案。"},
    ]  # fmt: skip
    record = {
        "url": "https://www.fmprc.gov.cn/mfa_eng/xwfw_665399/s2510_665401/2511_665403/t1.shtml",
        "source": "fmprc_en",
        "kind": "briefing",
        "title": "Foreign Ministry Spokesperson Geng Shuang's Regular Press Conference",
        "body": "\n\n".join(t["text"] for t in turns),
        "turns": turns,
        "published_at": "2019-12-25",
    }
    record.update(overrides)
    return make_record(**record)


def test_turns_are_stored_in_order(db: sqlite_utils.Database, make_record) -> None:  # type: ignore[no-untyped-def]
    (result,) = upsert_articles(db, [transcript(make_record)])
    turns = article_turns(db, result.article_id)
    assert [(t["idx"], t["role"], t["speaker"]) for t in turns] == [
        (0, "statement", GENG),
        (1, "question", None),
        (2, "answer", GENG),
        (3, "answer", GENG),
    ]
    assert turns[1]["outlet"] == "TASS"


def test_answers_by_a_speaker_that_mention_a_term(db: sqlite_utils.Database, make_record) -> None:  # type: ignore[no-untyped-def]
    upsert_articles(db, [transcript(make_record)])
    hits = search_turns(db, "technology", speaker="geng", role="answer")
    assert [(h["idx"], h["speaker"], h["source"]) for h in hits] == [(2, GENG, "fmprc_en")]
    assert "[technology]" in hits[0]["snippet"]
    # The question mentions "Technological" too, but it is not an answer by Geng Shuang.
    assert {h["role"] for h in search_turns(db, "technological")} == {"question", "answer"}
    assert search_turns(db, "technology", speaker="Zakharova") == []


def test_chinese_turns_are_found_by_a_two_character_term(
    db: sqlite_utils.Database, make_record
) -> None:  # type: ignore[no-untyped-def]
    upsert_articles(db, [transcript(make_record)])
    (hit,) = search_turns(db, "中俄")
    assert hit["idx"] == 3 and "[中俄]" in hit["snippet"]


def test_a_changed_briefing_replaces_its_turns_and_unchanged_writes_nothing(
    db: sqlite_utils.Database, make_record
) -> None:  # type: ignore[no-untyped-def]
    record = transcript(make_record)
    (first,) = upsert_articles(db, [record])
    changes = db.conn.total_changes
    upsert_articles(db, [record])
    assert db.conn.total_changes == changes

    shorter = dict(record, turns=record["turns"][:2], body="Shorter.")
    (second,) = upsert_articles(db, [shorter])
    assert second.status == "updated"
    assert [t["idx"] for t in article_turns(db, first.article_id)] == [0, 1]
    assert search_turns(db, "formulation") == []  # the FTS rows went with the turns


def test_a_malformed_turn_is_refused_before_anything_is_written(
    db: sqlite_utils.Database, make_record
) -> None:  # type: ignore[no-untyped-def]
    bad = transcript(make_record, turns=[{"idx": "0", "role": "answer", "text": "x"}])
    with pytest.raises(ValueError, match="Bad turn"):
        upsert_articles(db, [bad])
    assert db["articles"].count == 0


def test_hostile_queries_are_errors_not_crashes(db: sqlite_utils.Database, make_record) -> None:  # type: ignore[no-untyped-def]
    upsert_articles(db, [transcript(make_record)])
    assert search_turns(db, 'NEAR( "x') == []
    with pytest.raises(SearchQueryError):
        search_turns(db, "OR")


def test_m002_copies_the_turns_of_articles_stored_before_it(tmp_db: Path, make_record) -> None:  # type: ignore[no-untyped-def]
    with sqlite_utils.Database(tmp_db) as old:
        MIGRATIONS.apply(old, stop_before="m002_briefing_turns")
        record = transcript(make_record)
        # Only the columns m001 made: later migrations add record fields (m006: charset).
        columns = old["articles"].columns_dict
        row = {
            k: json.dumps(v) if isinstance(v, list) else v
            for k, v in record.items()
            if k in columns
        }
        old["articles"].insert(
            {
                **row,
                "id": "abc",
                "record_hash": "h",
                "version": 1,
                "first_seen_at": "x",
                "last_changed_at": "x",
            }
        )
        assert "briefing_turns" not in old.table_names()
        assert apply_migrations(old)[0] == "m002_briefing_turns"
        assert [t["idx"] for t in article_turns(old, "abc")] == [0, 1, 2, 3]
    db = open_db(tmp_db)
    assert search_turns(db, "formulation")[0]["id"] == "abc"
    db.close()
