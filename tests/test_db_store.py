"""Storing articles, versions, runs and sources (db.store)."""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils

from crawler.items import ARTICLE_FIELDS, Article
from crawler.sources import BUILTIN
from db.dedup import article_id, content_hash
from db.store import (
    RECORD_FIELDS,
    StoreError,
    UpsertResult,
    article_versions,
    articles_per_source,
    count_articles,
    count_results,
    count_words,
    finish_run,
    get_article,
    last_run_id,
    mark_interrupted_runs,
    open_db,
    recent_runs,
    runs_since,
    start_run,
    sync_sources,
    upsert_articles,
)

MakeRecord = Callable[..., dict[str, Any]]
T0 = "2024-01-15T05:00:00Z"
T1 = "2024-01-16T05:00:00Z"


def _snapshot(db: sqlite_utils.Database) -> dict[str, list[tuple[Any, ...]]]:
    tables = ("articles", "article_versions", "crawl_runs", "sources", "articles_fts")
    return {t: db.execute(f"SELECT rowid, * FROM {t} ORDER BY rowid").fetchall() for t in tables}


def test_record_fields_follow_the_article_contract() -> None:
    assert RECORD_FIELDS == ARTICLE_FIELDS


def test_an_article_dict_is_stored_as_version_1(db: sqlite_utils.Database) -> None:
    article = Article(
        url="https://www.globaltimes.cn/content/1.shtml",
        source="globaltimes",
        title="Title",
        body="One two three.",
        authors=["A. Writer"],
        captions=[{"text": "A photo", "credit": "GT"}],
        fetched_at=T0,
    )
    [result] = upsert_articles(db, [article.to_dict()], now=T0)
    assert result == UpsertResult(article_id(article.url), "new", 1)

    stored = get_article(db, result.article_id)
    assert stored is not None
    assert stored["authors"] == ["A. Writer"]
    assert stored["captions"] == [{"text": "A photo", "credit": "GT"}]
    assert stored["tags"] == []
    assert stored["first_seen_at"] == stored["last_changed_at"] == T0
    assert stored["version"] == 1
    assert stored["word_count"] == 3
    assert stored["content_hash"] == content_hash("Title", "One two three.")
    assert stored["search_cjk"] == ""

    [version] = article_versions(db, result.article_id)
    assert version["version"] == 1
    filled = {"word_count": 3, "content_hash": content_hash("Title", "One two three.")}
    assert version["record"] == {**article.to_dict(), **filled}


def test_an_unchanged_record_writes_nothing(
    db: sqlite_utils.Database, tmp_db: Path, make_record: MakeRecord
) -> None:
    upsert_articles(db, [make_record()], now=T0)
    before = _snapshot(db)
    changes_before = db.conn.total_changes
    # data_version, read on another connection, changes whenever anyone commits a change.
    other = sqlite3.connect(tmp_db)
    data_version = other.execute("PRAGMA data_version").fetchone()[0]

    # Only fetched_at differs: the same page fetched a day later.
    results = upsert_articles(db, [make_record(fetched_at=T1)], now=T1)

    assert other.execute("PRAGMA data_version").fetchone()[0] == data_version
    other.close()
    assert [r.status for r in results] == ["unchanged"]
    assert results[0].version == 1
    assert db.conn.total_changes == changes_before
    assert _snapshot(db) == before


def test_a_changed_record_becomes_version_2(
    db: sqlite_utils.Database, make_record: MakeRecord
) -> None:
    [first] = upsert_articles(db, [make_record(title="Old title")], now=T0)
    [second] = upsert_articles(
        db, [make_record(title="New title", fetched_at=T1)], now=T1, run_id=None
    )
    assert second == UpsertResult(first.article_id, "updated", 2)

    stored = get_article(db, first.article_id)
    assert stored is not None
    assert (stored["title"], stored["version"]) == ("New title", 2)
    assert (stored["first_seen_at"], stored["last_changed_at"]) == (T0, T1)
    assert stored["fetched_at"] == T1

    versions = article_versions(db, first.article_id)
    assert [(v["version"], v["title"]) for v in versions] == [(1, "Old title"), (2, "New title")]
    assert versions[1]["record"]["fetched_at"] == T1
    assert count_articles(db) == 1


def test_any_field_change_is_a_version_not_only_the_text(
    db: sqlite_utils.Database, make_record: MakeRecord
) -> None:
    upsert_articles(db, [make_record()], now=T0)
    [result] = upsert_articles(db, [make_record(tags=["tech"])], now=T1)
    assert (result.status, result.version) == ("updated", 2)


def test_the_same_id_twice_in_a_batch_later_wins(
    db: sqlite_utils.Database, make_record: MakeRecord
) -> None:
    results = upsert_articles(
        db,
        [
            make_record(url="http://www.globaltimes.cn/content/7.shtml", title="First"),
            make_record(url="https://globaltimes.cn/content/7.shtml?utm_source=x", title="Second"),
            make_record(url="https://globaltimes.cn/content/7.shtml?utm_source=x", title="Second"),
        ],
        now=T0,
    )
    assert [(r.status, r.version) for r in results] == [
        ("new", 1),
        ("updated", 2),
        ("unchanged", 2),
    ]
    assert len({r.article_id for r in results}) == 1
    assert count_results(results) == {"new": 1, "updated": 0, "unchanged": 0}
    stored = get_article(db, "https://globaltimes.cn/content/7.shtml")
    assert stored is not None
    assert stored["title"] == "Second"
    assert stored["url"] == "https://globaltimes.cn/content/7.shtml?utm_source=x"
    assert len(article_versions(db, results[0].article_id)) == 2


def test_count_results_counts_each_article_once() -> None:
    results = [
        UpsertResult("a", "updated", 2),
        UpsertResult("a", "unchanged", 2),
        UpsertResult("b", "unchanged", 1),
        UpsertResult("c", "new", 1),
    ]
    assert count_results(results) == {"new": 1, "updated": 1, "unchanged": 1}


def test_canonical_url_decides_identity(db: sqlite_utils.Database, make_record: MakeRecord) -> None:
    canonical = "https://www.globaltimes.cn/page/202401/1.shtml"
    results = upsert_articles(
        db,
        [
            make_record(url="https://m.globaltimes.cn/x?id=1", canonical_url=canonical),
            make_record(url="https://www.globaltimes.cn/amp/x?id=1", canonical_url=canonical),
        ],
        now=T0,
    )
    assert [r.status for r in results] == ["new", "updated"]  # url differs: a new version
    assert results[0].article_id == article_id(canonical)
    assert get_article(db, canonical) is not None


def test_given_hash_and_word_count_are_kept(
    db: sqlite_utils.Database, make_record: MakeRecord
) -> None:
    [result] = upsert_articles(db, [make_record(content_hash="f" * 64, word_count=999)])
    stored = get_article(db, result.article_id)
    assert stored is not None
    assert (stored["content_hash"], stored["word_count"]) == ("f" * 64, 999)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", 0),
        ("China and Russia", 3),
        ("中俄科技合作", 6),
        ("华为5G手机 launched", 6),  # 华 为 5G 手 机 launched
        ("中俄。\n\nRussia's view.", 4),
    ],
)
def test_count_words_counts_each_cjk_character(text: str, words: int) -> None:
    assert count_words(text) == words


def test_the_same_story_at_another_url_is_marked_duplicate(
    db: sqlite_utils.Database, make_record: MakeRecord
) -> None:
    original, copy, later_copy, other = upsert_articles(
        db,
        [
            make_record(url="https://example.com/a"),
            make_record(url="https://example.com/b"),
            make_record(url="https://example.com/c"),
            make_record(url="https://example.com/d", body="Another story."),
        ],
        now=T0,
    )

    def duplicate_of(result: UpsertResult) -> str | None:
        stored = get_article(db, result.article_id)
        assert stored is not None
        return stored["duplicate_of"]

    assert duplicate_of(original) is None
    assert duplicate_of(copy) == original.article_id
    assert duplicate_of(later_copy) == original.article_id
    assert duplicate_of(other) is None

    # The copy is edited into a story of its own, so it is no longer a duplicate.
    upsert_articles(db, [make_record(url="https://example.com/b", body="Edited.")], now=T1)
    assert duplicate_of(copy) is None


def test_pages_without_a_body_are_not_duplicates(
    db: sqlite_utils.Database, make_record: MakeRecord
) -> None:
    results = upsert_articles(
        db,
        [
            make_record(
                url="https://example.com/a", title="Access denied", body="", access="blocked"
            ),
            make_record(
                url="https://example.com/b", title="Access denied", body="", access="blocked"
            ),
        ],
    )
    for result in results:
        stored = get_article(db, result.article_id)
        assert stored is not None
        assert stored["duplicate_of"] is None


def test_a_batch_of_1000_records_is_one_transaction(
    db: sqlite_utils.Database, make_record: MakeRecord
) -> None:
    statements: list[str] = []
    db.conn.set_trace_callback(statements.append)
    try:
        results = upsert_articles(
            db,
            [
                make_record(url=f"https://example.com/news/{i}", body=f"Story {i}.")
                for i in range(1000)
            ],
        )
    finally:
        db.conn.set_trace_callback(None)
    assert count_results(results) == {"new": 1000, "updated": 0, "unchanged": 0}
    control = [s for s in statements if s.split()[0].upper() in ("BEGIN", "COMMIT", "ROLLBACK")]
    assert control == ["BEGIN IMMEDIATE", "COMMIT"]
    assert count_articles(db) == 1000
    assert db.execute("SELECT count(*) FROM article_versions").fetchone()[0] == 1000


def test_a_bad_record_stops_the_batch_before_anything_is_written(
    db: sqlite_utils.Database, make_record: MakeRecord
) -> None:
    with pytest.raises(ValueError, match="Unknown record fields headline"):
        upsert_articles(db, [make_record(), make_record(url="https://example.com/x", headline="x")])
    with pytest.raises(ValueError, match="authors must be a list"):
        upsert_articles(db, [make_record(authors="A. Writer")])
    with pytest.raises(ValueError, match="http"):
        upsert_articles(db, [make_record(url="/relative/path")])
    assert count_articles(db) == 0


def test_a_failure_inside_the_batch_rolls_it_all_back(
    db: sqlite_utils.Database, make_record: MakeRecord
) -> None:
    # run 404 does not exist: the foreign key fails on the first version row.
    with pytest.raises(StoreError, match="nothing was written") as raised:
        upsert_articles(db, [make_record(), make_record(url="https://example.com/2")], run_id=404)
    assert isinstance(raised.value.__cause__, sqlite3.IntegrityError)
    assert count_articles(db) == 0
    assert not db.conn.in_transaction
    upsert_articles(db, [make_record()])
    assert count_articles(db) == 1


def test_a_writer_waits_for_another_connection_instead_of_failing(
    db: sqlite_utils.Database, tmp_db: Path, make_record: MakeRecord
) -> None:
    holder = sqlite3.connect(tmp_db, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO sources (key) VALUES ('held')")
    # Without busy_timeout, a writer fails at once while the lock is held.
    impatient = sqlite3.connect(tmp_db, timeout=0)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        impatient.execute("BEGIN IMMEDIATE")
    impatient.close()

    release = threading.Timer(0.3, lambda: holder.execute("COMMIT"))
    release.start()
    started = time.monotonic()
    [result] = upsert_articles(db, [make_record()])
    waited = time.monotonic() - started
    release.join()
    holder.close()
    assert result.status == "new"
    assert waited >= 0.2  # it waited for the holder to commit


def test_a_lock_held_too_long_is_a_store_error_that_says_so(
    db: sqlite_utils.Database, tmp_db: Path, make_record: MakeRecord
) -> None:
    db.execute("PRAGMA busy_timeout = 50")  # instead of 30 s, to keep the test short
    holder = sqlite3.connect(tmp_db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreError, match=r"locked.*retry later"):
            upsert_articles(db, [make_record()])
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert not db.conn.in_transaction
    assert count_articles(db) == 0


def test_concurrent_writers_do_not_raise_database_is_locked(
    tmp_db: Path, make_record: MakeRecord
) -> None:
    def writer(n: int) -> int:
        with open_db(tmp_db) as db:
            for batch in range(10):
                records = [
                    make_record(url=f"https://example.com/{n}/{batch}/{i}", body=f"{n} {batch} {i}")
                    for i in range(20)
                ]
                upsert_articles(db, records)
                start_run(db, f"source{n}", "live")
        return n

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert sorted(pool.map(writer, range(4))) == [0, 1, 2, 3]
    with open_db(tmp_db) as db:
        assert count_articles(db) == 4 * 10 * 20
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        fts_rows = db.execute("SELECT count(*) FROM articles_fts").fetchone()[0]
        assert fts_rows == 800


def test_get_article_by_id_or_any_url_variant(
    db: sqlite_utils.Database, make_record: MakeRecord
) -> None:
    [result] = upsert_articles(db, [make_record(url="https://www.globaltimes.cn/content/9.shtml")])
    assert get_article(db, result.article_id) is not None
    found = get_article(db, "http://globaltimes.cn/content/9.shtml?utm_source=rss#top")
    assert found is not None
    assert found["id"] == result.article_id
    assert get_article(db, "0000000000000000") is None
    assert get_article(db, "https://www.globaltimes.cn/content/10.shtml") is None


def test_count_articles_per_source(db: sqlite_utils.Database, make_record: MakeRecord) -> None:
    upsert_articles(
        db,
        [
            make_record(url="https://example.com/1", source="a"),
            make_record(url="https://example.com/2", source="a"),
            make_record(url="https://example.com/3", source="b"),
        ],
    )
    assert (count_articles(db), count_articles(db, "a"), count_articles(db, "c")) == (3, 2, 0)


def test_run_bookkeeping(db: sqlite_utils.Database, make_record: MakeRecord) -> None:
    run_id = start_run(db, "globaltimes", "live")
    [running] = recent_runs(db)
    assert (running["id"], running["status"], running["pid"]) == (run_id, "running", os.getpid())

    results = upsert_articles(db, [make_record()], run_id=run_id)
    finish_run(
        db,
        run_id,
        status="partial",
        pages_fetched=12,
        **{f"articles_{k}": v for k, v in count_results(results).items()},
        articles_dropped=2,
        drop_reasons={"no body": 2},
        http_errors={404: 1},
        fill_rates={"title": 1.0, "published_at": 0.5, "body": 1.0, "authors": 0.0},
        stats={"downloader/response_count": 12, "start_time": datetime(2024, 1, 15, tzinfo=UTC)},
        error="2 pages had no body",
    )
    [run] = recent_runs(db, source="globaltimes")
    assert run["status"] == "partial"
    assert run["finished_at"] is not None
    assert (run["pages_fetched"], run["articles_new"], run["articles_dropped"]) == (12, 1, 2)
    assert run["drop_reasons"] == {"no body": 2}
    assert run["http_errors"] == {"404": 1}
    assert run["fill_rates"]["published_at"] == 0.5
    assert run["stats"]["downloader/response_count"] == 12
    assert run["stats"]["start_time"] == "2024-01-15T00:00:00+00:00"
    [version] = article_versions(db, results[0].article_id)
    assert version["run_id"] == run_id


def test_runs_refuse_unknown_modes_statuses_and_ids(db: sqlite_utils.Database) -> None:
    with pytest.raises(ValueError, match="Unknown run mode 'fast'"):
        start_run(db, "globaltimes", "fast")
    run_id = start_run(db, "globaltimes", "replay")
    with pytest.raises(ValueError, match="Unknown final run status 'running'"):
        finish_run(db, run_id, status="running")
    with pytest.raises(ValueError, match="No crawl run with id 999"):
        finish_run(db, 999, status="ok")


def test_recent_runs_newest_first_and_limited(db: sqlite_utils.Database) -> None:
    ids = [start_run(db, source, "live") for source in ("a", "b", "a", "a")]
    assert [r["id"] for r in recent_runs(db, limit=2)] == [ids[3], ids[2]]
    assert [r["id"] for r in recent_runs(db, source="a")] == [ids[3], ids[2], ids[0]]


def test_runs_since_a_bookmark(db: sqlite_utils.Database) -> None:
    assert last_run_id(db) == 0
    first = start_run(db, "a", "live")
    bookmark = last_run_id(db)
    assert bookmark == first
    later = [start_run(db, "b", "replay"), start_run(db, "c", "archive")]
    finish_run(db, later[0], status="failed", error="boom", drop_reasons={"no body": 1})
    runs = runs_since(db, bookmark)
    assert [r["id"] for r in runs] == later
    assert runs[0]["drop_reasons"] == {"no body": 1}


def test_articles_per_source(db: sqlite_utils.Database, make_record: MakeRecord) -> None:
    upsert_articles(
        db,
        [
            make_record(url="https://example.com/1", source="b"),
            make_record(url="https://example.com/2", source="a"),
            make_record(url="https://example.com/3", source="b"),
        ],
    )
    assert articles_per_source(db) == [{"source": "a", "n": 1}, {"source": "b", "n": 2}]


def test_runs_of_dead_processes_are_marked_interrupted(db: sqlite_utils.Database) -> None:
    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    dead_pid = int(finished.stdout)
    dead = start_run(db, "globaltimes", "live", pid=dead_pid)
    alive = start_run(db, "huanqiu", "live")  # this process
    done = start_run(db, "kremlin_en", "live", pid=dead_pid)
    finish_run(db, done, status="ok")

    assert mark_interrupted_runs(db) == [dead]
    runs = {r["id"]: r for r in recent_runs(db)}
    assert runs[dead]["status"] == "interrupted"
    assert str(dead_pid) in runs[dead]["error"]
    assert runs[alive]["status"] == "running"
    assert runs[done]["status"] == "ok"
    assert mark_interrupted_runs(db) == []

    # A crawl settles the dead runs of its own source only.
    other = start_run(db, "tass_en", "live", pid=dead_pid)
    mine = start_run(db, "globaltimes", "live", pid=dead_pid)
    assert mark_interrupted_runs(db, "globaltimes") == [mine]
    assert {r["id"]: r["status"] for r in recent_runs(db)}[other] == "running"


def test_sync_sources_upserts_the_registry(db: sqlite_utils.Database) -> None:
    registry = [dataclasses.asdict(source) for source in BUILTIN]
    sync_sources(db, registry)
    sync_sources(db, registry)  # twice: still one row per source
    assert db.execute("SELECT count(*) FROM sources").fetchone()[0] == len(BUILTIN)

    first = BUILTIN[0]
    sync_sources(db, [{**dataclasses.asdict(first), "schedule": "30m", "enabled": False}])
    [row] = db.query("SELECT * FROM sources WHERE key = ?", [first.key])
    assert (row["schedule"], row["enabled"], row["builtin"]) == ("30m", 0, 1)
    assert json.loads(row["feeds"]) == list(first.feeds)
    assert json.loads(row["listings"])[0]["url"] == first.listings[0].url
    assert db.execute("SELECT count(*) FROM sources").fetchone()[0] == len(BUILTIN)


def test_the_database_stays_consistent(db: sqlite_utils.Database, make_record: MakeRecord) -> None:
    run_id = start_run(db, "globaltimes", "live")
    for day, title in enumerate(["One", "Two", "Two", "Three"]):
        upsert_articles(
            db, [make_record(title=title)], run_id=run_id, now=f"2024-01-1{day}T00:00:00Z"
        )
    finish_run(db, run_id, status="ok")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    # The external-content FTS index agrees with the articles table.
    db.execute("INSERT INTO articles_fts(articles_fts, rank) VALUES ('integrity-check', 1)")
    [article] = db.query("SELECT id, version FROM articles")
    assert article["version"] == 3
    assert [v["version"] for v in article_versions(db, article["id"])] == [1, 2, 3]
