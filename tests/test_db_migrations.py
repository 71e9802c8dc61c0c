"""Schema migrations and opening the database (db.migrations, db.store.open_db)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlite_utils

from db.migrations import FTS_TOKENIZE, MIGRATIONS, apply_migrations
from db.store import DatabaseOpenError, open_db

# The columns m001_initial creates. If this test fails, an applied migration was edited:
# put the change in a new migration (m002_...) instead and leave m001 as it was.
M001_COLUMNS = {
    "articles": [
        "id", "url", "canonical_url", "source", "kind", "language", "title", "subtitle",
        "authors", "section", "tags", "published_at", "published_local", "date_precision",
        "updated_at", "dateline", "body", "captions", "images", "turns", "access",
        "word_count", "content_hash", "record_hash", "parser", "fetched_at", "first_seen_at",
        "last_changed_at", "version", "duplicate_of", "search_cjk",
    ],
    "article_versions": [
        "id", "article_id", "version", "run_id", "fetched_at", "content_hash", "record_hash",
        "title", "body", "record",
    ],
    "crawl_runs": [
        "id", "source", "mode", "status", "started_at", "finished_at", "pid", "pages_fetched",
        "articles_new", "articles_updated", "articles_unchanged", "articles_dropped",
        "drop_reasons", "http_errors", "fill_rates", "stats", "error",
    ],
    "sources": [
        "key", "name", "language", "timezone", "kind", "homepage", "parser", "schedule",
        "enabled", "builtin", "feeds", "sitemaps", "listings", "article_patterns", "synced_at",
    ],
}  # fmt: skip


@pytest.fixture
def m001_db(tmp_db: Path) -> Iterator[sqlite_utils.Database]:
    """A database with m001_initial applied and no later migration."""
    with sqlite_utils.Database(tmp_db) as db:
        later = [m.name for m in MIGRATIONS.pending(db) if m.name != "m001_initial"]
        MIGRATIONS.apply(db, stop_before=later or None)
        yield db


def test_m001_creates_the_documented_columns(m001_db: sqlite_utils.Database) -> None:
    db = m001_db
    for table, columns in M001_COLUMNS.items():
        assert db[table].columns_dict.keys() == set(columns), table
        assert list(db[table].columns_dict) == columns, table
    assert db["articles"].pks == ["id"]
    assert db["sources"].pks == ["key"]


def test_m001_indexes(m001_db: sqlite_utils.Database) -> None:
    db = m001_db
    indexed = {tuple(index.columns) for index in db["articles"].indexes}
    for column in ("source", "published_at", "content_hash", "canonical_url"):
        assert (column,) in indexed
    unique = {tuple(i.columns) for i in db["article_versions"].indexes if i.unique}
    assert ("article_id", "version") in unique


def test_fts_is_the_sqlite_utils_table_datasette_finds(m001_db: sqlite_utils.Database) -> None:
    db = m001_db
    assert db["articles"].detect_fts() == "articles_fts"
    assert f"tokenize='{FTS_TOKENIZE}'" in db["articles_fts"].schema
    assert db["articles_fts"].columns_dict.keys() == {"title", "body", "search_cjk"}
    assert {t.name for t in db["articles"].triggers} == {
        "articles_ai",
        "articles_ad",
        "articles_au",
    }


def test_migrations_are_recorded_and_idempotent(tmp_db: Path) -> None:
    with sqlite_utils.Database(memory=True) as empty:
        every = [m.name for m in MIGRATIONS.pending(empty)]
    with open_db(tmp_db) as db:
        applied = [m.name for m in MIGRATIONS.applied(db)]
        schema = db.schema
    assert applied == every
    assert applied[0] == "m001_initial"

    with open_db(tmp_db) as db:
        assert apply_migrations(db) == []
        assert [m.name for m in MIGRATIONS.applied(db)] == applied
        assert db.schema == schema
        rows = db.execute("SELECT count(*) FROM _sqlite_migrations").fetchone()[0]
    assert rows == len(applied)


def test_open_db_configures_the_connection(tmp_path: Path) -> None:
    with open_db(tmp_path / "nested" / "dir" / "presswatch.db") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA busy_timeout").fetchone()[0] == 30_000
        assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_many_processes_opening_a_new_database_apply_migrations_once(tmp_db: Path) -> None:
    def open_and_close(_: int) -> list[str]:
        with open_db(tmp_db) as db:
            return [m.name for m in MIGRATIONS.applied(db)]

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(open_and_close, range(6)))
    assert all(r == results[0] for r in results)
    with open_db(tmp_db) as db:
        count = db.execute("SELECT count(*) FROM _sqlite_migrations").fetchone()[0]
    assert count == len(results[0])


def test_a_file_that_is_not_sqlite_is_refused_with_advice(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("these are my notes, not a database\n" * 100)
    with pytest.raises(DatabaseOpenError, match=r"is not a SQLite database.*choose another path"):
        open_db(path)
    assert path.read_text().startswith("these are my notes")


def test_a_folder_is_refused_with_advice(tmp_path: Path) -> None:
    with pytest.raises(DatabaseOpenError, match="is a folder, not a database file"):
        open_db(tmp_path)


def test_an_uncreatable_folder_is_refused_with_advice(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(DatabaseOpenError, match="Cannot create the folder"):
        open_db(blocker / "sub" / "presswatch.db")
