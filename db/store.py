"""Writing and reading the presswatch database: articles and their versions, runs, sources.

Owns the connection settings (WAL, busy_timeout, foreign keys), the write transactions and
the rules of an upsert: one article per id (`db.dedup.article_id`), nothing written when a
record is unchanged, a new `article_versions` row for every change. Takes plain dicts (the
output of `Article.to_dict()`); imports nothing from crawler, alerts or scheduler.

Every write function runs in one BEGIN IMMEDIATE transaction: taking the write lock up front
means a second writer waits (busy_timeout) instead of failing with "database is locked" when
it upgrades from reading. Batching many records into one transaction is what makes writes
fast: lock, commit and FTS index flush happen once per batch instead of once per row.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import re
import sqlite3
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from sqlite_utils import Database

from db import dedup, redact
from db.migrations import apply_migrations
from db.search import CJK_CHARS, CJK_RE, cjk_bigrams

logger = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 30_000
# A run of non-space, non-CJK characters holding a letter or digit: "5G" in "华为5G手机"
# is a word, the "。" in "中俄。" is not.
_OTHER_WORD = re.compile(f"[^\\s{CJK_CHARS}]*?[^\\W_{CJK_CHARS}][^\\s{CJK_CHARS}]*")

# The Article record's fields (crawler/items.py), in its order; a test keeps them in step.
RECORD_FIELDS: tuple[str, ...] = (
    "url",
    "source",
    "title",
    "body",
    "canonical_url",
    "kind",
    "language",
    "subtitle",
    "authors",
    "section",
    "tags",
    "published_at",
    "published_local",
    "date_precision",
    "updated_at",
    "dateline",
    "captions",
    "images",
    "turns",
    "access",
    "word_count",
    "content_hash",
    "parser",
    "fetched_at",
    "charset",
    "charset_repaired_from",
)
JSON_FIELDS = frozenset({"authors", "tags", "captions", "images", "turns"})
# The roles of briefing turns (crawler.items.TURN_ROLES; db imports nothing from crawler).
TURN_ROLES = ("question", "answer", "statement")
_DEFAULTS: dict[str, Any] = {"title": "", "body": "", "kind": "article", "access": "full"}

RUN_MODES = ("live", "replay", "archive")
# rate_limited: a host rate-limited the crawl beyond [crawl] max_retry_after, or too many
# times in a row, and was given up for the run (crawler.politeness); `error` says which.
RUN_STATUSES = ("running", "ok", "partial", "failed", "interrupted", "rate_limited")
_RUN_JSON = ("drop_reasons", "http_errors", "fill_rates", "stats")

SOURCE_COLUMNS = (
    "key",
    "name",
    "language",
    "timezone",
    "kind",
    "homepage",
    "parser",
    "schedule",
    "enabled",
    "builtin",
    "feeds",
    "sitemaps",
    "listings",
    "article_patterns",
)
_SOURCE_JSON = frozenset({"feeds", "sitemaps", "listings", "article_patterns"})


class StoreError(Exception):
    """Reading or writing the database failed; the message says why and what to do."""


class DatabaseOpenError(StoreError):
    """The database file cannot be opened for writing; the message says how to fix it."""


Status = Literal["new", "updated", "unchanged"]


@dataclass(frozen=True)
class UpsertResult:
    article_id: str
    status: Status
    version: int


def utc_now() -> str:
    """The current time as the record convention has it: "2024-05-01T12:00:00Z"."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _explain_open_error(path: Path, exc: sqlite3.Error) -> str:
    message = str(exc)
    if "not a database" in message or "encrypted" in message:
        return (
            f"{path} is not a SQLite database ({message}). Move it away or choose another "
            "path; presswatch creates the database when the file does not exist."
        )
    if "readonly" in message or "unable to open" in message:
        return (
            f"Cannot write to {path} ({message}). Make the file and its folder writable "
            "(SQLite keeps -wal and -shm files beside it) or choose another path."
        )
    if "locked" in message or "busy" in message:
        return (
            f"{path} stayed locked for {BUSY_TIMEOUT_MS // 1000} s ({message}). Another "
            "process holds a long write transaction; wait for it to finish, then retry."
        )
    return f"Cannot open {path}: {message}."


def open_db(path: str | Path) -> Database:
    """Open (creating if needed) the database at `path`, configured and migrated.

    WAL (readers such as Datasette never block the writer), a 30 s busy_timeout, foreign keys
    on, synchronous=NORMAL (no fsync per commit: a power cut may lose the last commits but
    never corrupts a WAL database, and a recrawl restores them). Raises DatabaseOpenError
    when the path cannot hold a writable SQLite database.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatabaseOpenError(
            f"Cannot create the folder {path.parent} for the database ({exc.strerror}). "
            "Choose a path in a folder you can write to."
        ) from exc
    if path.is_dir():
        raise DatabaseOpenError(
            f"{path} is a folder, not a database file. Give a file path such as "
            f"{path / 'presswatch.db'}."
        )
    db: Database | None = None
    try:
        db = Database(path)
        # busy_timeout first: the other settings may need a lock another process holds.
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        _enable_wal(db)
        if db.journal_mode != "wal":
            # SQLite silently keeps the old mode when it cannot create the -wal file.
            raise sqlite3.OperationalError("readonly: cannot switch to WAL mode")
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute("PRAGMA foreign_keys = ON")
        apply_migrations(db)
    except sqlite3.Error as exc:
        if db is not None:
            db.close()
        raise DatabaseOpenError(_explain_open_error(path, exc)) from exc
    return db


def _enable_wal(db: Database) -> None:
    # Switching a new file to WAL needs an exclusive lock and SQLite answers "database is
    # locked" at once, without busy_timeout, while another process opens the same new file.
    # It happens once per database file, so a short retry loop is enough.
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            db.enable_wal()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            logger.debug("Waiting to switch %s to WAL: %s", db, exc)
            time.sleep(0.05)


@contextlib.contextmanager
def write_transaction(db: Database) -> Iterator[Database]:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on error; a savepoint inside an open transaction.

    SQLite errors leave as StoreError (the sqlite3 error is its __cause__), so callers such
    as the store pipeline catch one exception type for "the write did not happen".
    """
    try:
        if db.conn.in_transaction:
            with db.atomic():
                yield db
            return
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
            db.execute("COMMIT")
        except BaseException:
            db.rollback()
            raise
    except sqlite3.Error as exc:
        raise StoreError(_explain_write_error(exc)) from exc


def _explain_write_error(exc: sqlite3.Error) -> str:
    message = str(exc)
    if "locked" in message or "busy" in message:
        return (
            f"Database write failed: {message} for over {BUSY_TIMEOUT_MS // 1000} s. Another "
            "process holds a long write transaction; nothing was written, retry later."
        )
    if "readonly" in message:
        return f"Database write failed: {message}. Make the file and its folder writable."
    if "disk" in message or "full" in message:
        return f"Database write failed: {message}. Free disk space; nothing was written."
    return f"Database write failed, nothing was written: {message}."


def count_words(text: str | None) -> int:
    """Words in `text`: each CJK character counts as one, other words by whitespace."""
    text = text or ""
    return len(CJK_RE.findall(text)) + len(_OTHER_WORD.findall(text))


def _to_json(value: Any) -> str:
    def default(obj: Any) -> Any:
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            return dataclasses.asdict(obj)
        if isinstance(obj, (set, frozenset)):
            return sorted(obj)
        # Scrapy stats carry datetimes; their ISO text is what a reader wants.
        if isinstance(obj, datetime):
            return obj.isoformat()
        raise TypeError(f"{type(obj).__name__} is not JSON serialisable")

    return json.dumps(value, ensure_ascii=False, default=default)


@dataclass
class _Prepared:
    id: str
    record: dict[str, Any]  # the record as stored: defaults and derived fields filled
    record_hash: str


def _prepare(record: dict[str, Any]) -> _Prepared:
    unknown = sorted(set(record) - set(RECORD_FIELDS))
    if unknown:
        raise ValueError(
            f"Unknown record fields {', '.join(unknown)} (url {record.get('url')!r}). "
            "A new Article field needs a db migration and db.store.RECORD_FIELDS updated."
        )
    filled: dict[str, Any] = {}
    for name in RECORD_FIELDS:
        value = record.get(name)
        if value is None:
            value = [] if name in JSON_FIELDS else _DEFAULTS.get(name)
        if name in JSON_FIELDS:
            if not isinstance(value, (list, tuple)):
                raise ValueError(
                    f"Record field {name} must be a list, got {type(value).__name__} "
                    f"(url {record.get('url')!r})."
                )
            value = list(value)
        filled[name] = value
    if not filled["url"] or not filled["source"]:
        raise ValueError(f"A record needs a url and a source: got {record!r:.200}")
    for turn in filled["turns"]:
        if not (
            isinstance(turn, dict)
            and isinstance(turn.get("idx"), int)
            and turn.get("role") in TURN_ROLES
            and isinstance(turn.get("text"), str)
        ):
            raise ValueError(
                f"Bad turn {turn!r:.200} (url {filled['url']!r}): a turn needs an int idx, "
                f"a role in {', '.join(TURN_ROLES)} and a text."
            )
    # A URL the crawler was given with user:password@ is stored without it (the article id
    # never depended on it); anything else that would hand out a credential is masked.
    for name in ("url", "canonical_url"):
        if filled[name]:
            filled[name] = redact.strip_userinfo(filled[name])
    filled = redact.scrub_data(filled)
    if not filled["content_hash"]:
        filled["content_hash"] = dedup.content_hash(filled["title"], filled["body"])
    if not filled["word_count"]:
        filled["word_count"] = count_words(filled["body"])
    return _Prepared(
        id=dedup.article_id(filled["canonical_url"] or filled["url"]),
        record=filled,
        record_hash=dedup.record_hash(filled),
    )


def _article_row(prep: _Prepared) -> dict[str, Any]:
    row = {
        name: _to_json(value) if name in JSON_FIELDS else value
        for name, value in prep.record.items()
    }
    # Built only for rows that get written: unchanged records are the common case.
    search_cjk = cjk_bigrams(f"{prep.record['title']}\n{prep.record['body']}")
    row.update(id=prep.id, record_hash=prep.record_hash, search_cjk=search_cjk)
    return row


def _find_original(db: Database, prep: _Prepared, first_seen_at: str) -> str | None:
    """The earliest-seen other article with the same content, or None."""
    if not prep.record["body"]:
        # Blocked pages and error pages share an empty body; they are not duplicates.
        return None
    row = db.execute(
        "SELECT id, duplicate_of FROM articles "
        "WHERE content_hash = ? AND id != ? AND first_seen_at <= ? "
        "ORDER BY first_seen_at, rowid LIMIT 1",
        [prep.record["content_hash"], prep.id, first_seen_at],
    ).fetchone()
    if row is None:
        return None
    original = row[1] or row[0]
    return None if original == prep.id else original


_ARTICLE_COLUMNS = (
    "id",
    *RECORD_FIELDS,
    "record_hash",
    "search_cjk",
    "first_seen_at",
    "last_changed_at",
    "version",
    "duplicate_of",
)
_INSERT_ARTICLE = "INSERT INTO articles ({}) VALUES ({})".format(
    ", ".join(_ARTICLE_COLUMNS), ", ".join(f":{c}" for c in _ARTICLE_COLUMNS)
)
_UPDATE_ARTICLE = "UPDATE articles SET {} WHERE id = :id".format(
    ", ".join(f"{c} = :{c}" for c in _ARTICLE_COLUMNS if c not in ("id", "first_seen_at"))
)
_INSERT_VERSION = (
    "INSERT INTO article_versions (article_id, version, run_id, fetched_at, content_hash, "
    "record_hash, title, body, record) VALUES (:article_id, :version, :run_id, :fetched_at, "
    ":content_hash, :record_hash, :title, :body, :record)"
)


def _upsert_one(db: Database, prep: _Prepared, run_id: int | None, now: str) -> UpsertResult:
    existing = db.execute(
        "SELECT record_hash, version, content_hash, duplicate_of, first_seen_at "
        "FROM articles WHERE id = ?",
        [prep.id],
    ).fetchone()
    if existing is not None and existing[0] == prep.record_hash:
        return UpsertResult(prep.id, "unchanged", existing[1])
    row = _article_row(prep)
    if existing is None:
        version = 1
        row.update(
            first_seen_at=now,
            last_changed_at=now,
            version=version,
            duplicate_of=_find_original(db, prep, now),
        )
        db.execute(_INSERT_ARTICLE, row)
    else:
        _, old_version, old_content_hash, old_duplicate_of, first_seen_at = existing
        version = old_version + 1
        same_content = old_content_hash == prep.record["content_hash"]
        row.update(
            last_changed_at=now,
            version=version,
            duplicate_of=(
                old_duplicate_of if same_content else _find_original(db, prep, first_seen_at)
            ),
        )
        db.execute(_UPDATE_ARTICLE, row)
    _replace_turns(db, prep.id, prep.record.get("turns") or [])
    db.execute(
        _INSERT_VERSION,
        {
            "article_id": prep.id,
            "version": version,
            "run_id": run_id,
            "fetched_at": prep.record["fetched_at"],
            "content_hash": prep.record["content_hash"],
            "record_hash": prep.record_hash,
            "title": prep.record["title"],
            "body": prep.record["body"],
            "record": _to_json(prep.record),
        },
    )
    return UpsertResult(prep.id, "new" if version == 1 else "updated", version)


def _replace_turns(db: Database, article_id: str, turns: list[dict[str, Any]]) -> None:
    """Rewrite the briefing_turns rows of a new or changed article (FTS follows by trigger)."""
    db.execute("DELETE FROM briefing_turns WHERE article_id = ?", [article_id])
    for turn in turns:
        db.execute(
            "INSERT INTO briefing_turns (article_id, idx, role, speaker, outlet, text, search_cjk) "
            "VALUES (:article_id, :idx, :role, :speaker, :outlet, :text, :search_cjk)",
            {
                "article_id": article_id,
                "idx": turn["idx"],
                "role": turn["role"],
                "speaker": turn.get("speaker"),
                "outlet": turn.get("outlet"),
                "text": turn["text"],
                "search_cjk": cjk_bigrams(turn["text"]),
            },
        )


def article_turns(db: Database, article_id: str) -> list[dict[str, Any]]:
    """The turns of one briefing, in order."""
    return [
        dict(row)
        for row in db.query(
            "SELECT idx, role, speaker, outlet, text FROM briefing_turns "
            "WHERE article_id = ? ORDER BY idx",
            [article_id],
        )
    ]


def upsert_articles(
    db: Database,
    records: Iterable[dict[str, Any]],
    run_id: int | None = None,
    now: str | None = None,
) -> list[UpsertResult]:
    """Store `records` (Article.to_dict() output) in one transaction; one result per record.

    New id: inserted as version 1 (also written to article_versions). Same record_hash as
    stored: nothing is written at all. Otherwise: the row is updated, version + 1, and the
    new version is added to article_versions. Records are applied in order, so when one id
    occurs twice in a batch the later wins and is reported against the earlier one ("new",
    then "updated" or "unchanged"); `count_results` counts each article once.
    content_hash and word_count are filled when missing; `now` (UTC ISO) stamps
    first_seen_at and last_changed_at. A bad record raises ValueError before anything is
    written.
    """
    now = now or utc_now()
    prepared = [_prepare(record) for record in records]
    results: list[UpsertResult] = []
    with write_transaction(db):
        for prep in prepared:
            results.append(_upsert_one(db, prep, run_id, now))
    logger.debug("Upserted %d records: %s", len(results), count_results(results))
    return results


def count_results(results: Iterable[UpsertResult]) -> dict[str, int]:
    """{"new": n, "updated": n, "unchanged": n}, each article counted once.

    An article that is both new and then updated within the results counts as new; one both
    updated and unchanged counts as updated. This is what a crawl run reports.
    """
    rank = {"unchanged": 0, "updated": 1, "new": 2}
    best: dict[str, Status] = {}
    for result in results:
        seen = best.get(result.article_id)
        if seen is None or rank[result.status] > rank[seen]:
            best[result.article_id] = result.status
    counts = dict.fromkeys(("new", "updated", "unchanged"), 0)
    for status in best.values():
        counts[status] += 1
    return counts


def _decode_article(row: dict[str, Any]) -> dict[str, Any]:
    for name in JSON_FIELDS:
        if row.get(name) is not None:
            row[name] = json.loads(row[name])
    return row


def get_article(db: Database, id_or_url: str) -> dict[str, Any] | None:
    """The stored article with this id, or at this URL (any variant that folds to it)."""
    article_id = dedup.article_id(id_or_url) if "://" in id_or_url else id_or_url
    rows = list(db.query("SELECT * FROM articles WHERE id = ?", [article_id]))
    return _decode_article(rows[0]) if rows else None


def article_versions(db: Database, article_id: str) -> list[dict[str, Any]]:
    """Every stored version of an article, oldest first, with `record` decoded."""
    rows = list(
        db.query(
            "SELECT * FROM article_versions WHERE article_id = ? ORDER BY version",
            [article_id],
        )
    )
    for row in rows:
        row["record"] = json.loads(row["record"])
    return rows


def count_articles(db: Database, source: str | None = None) -> int:
    """How many articles are stored, for one source or all."""
    if source is None:
        return db.execute("SELECT count(*) FROM articles").fetchone()[0]
    return db.execute("SELECT count(*) FROM articles WHERE source = ?", [source]).fetchone()[0]


def articles_per_source(db: Database) -> list[dict[str, Any]]:
    """[{"source": key, "n": article count}], by source key."""
    return list(
        db.query("SELECT source, count(*) AS n FROM articles GROUP BY source ORDER BY source")
    )


def start_run(db: Database, source: str, mode: str, pid: int | None = None) -> int:
    """Record the start of a crawl of `source`; return the run id. pid defaults to ours."""
    if mode not in RUN_MODES:
        raise ValueError(f"Unknown run mode {mode!r}; use one of {', '.join(RUN_MODES)}.")
    with write_transaction(db):
        cursor = db.execute(
            "INSERT INTO crawl_runs (source, mode, status, started_at, pid, pages_fetched, "
            "articles_new, articles_updated, articles_unchanged, articles_dropped) "
            "VALUES (?, ?, 'running', ?, ?, 0, 0, 0, 0, 0)",
            [source, mode, utc_now(), os.getpid() if pid is None else pid],
        )
    run_id = cursor.lastrowid
    assert run_id is not None  # an INSERT into a rowid table always sets it
    return run_id


def finish_run(
    db: Database,
    run_id: int,
    *,
    status: str,
    pages_fetched: int = 0,
    articles_new: int = 0,
    articles_updated: int = 0,
    articles_unchanged: int = 0,
    articles_dropped: int = 0,
    drop_reasons: dict[str, int] | None = None,
    http_errors: dict[str, int] | None = None,
    fill_rates: dict[str, float] | None = None,
    stats: dict[str, Any] | None = None,
    error: str | None = None,
) -> None:
    """Record how crawl run `run_id` ended, with its counts and quality numbers."""
    if status not in RUN_STATUSES or status == "running":
        final = ", ".join(s for s in RUN_STATUSES if s != "running")
        raise ValueError(f"Unknown final run status {status!r}; use one of {final}.")
    values = {
        "id": run_id,
        "status": status,
        "finished_at": utc_now(),
        "pages_fetched": pages_fetched,
        "articles_new": articles_new,
        "articles_updated": articles_updated,
        "articles_unchanged": articles_unchanged,
        "articles_dropped": articles_dropped,
        "drop_reasons": _to_json(drop_reasons or {}),
        "http_errors": _to_json({str(k): v for k, v in (http_errors or {}).items()}),
        "fill_rates": _to_json(fill_rates or {}),
        # Errors quote URLs and exception texts, and stats may too: both are redacted.
        "stats": _to_json(redact.redact_data(stats or {})),
        "error": redact.redact(error) if error else error,
    }
    with write_transaction(db):
        cursor = db.execute(
            "UPDATE crawl_runs SET {} WHERE id = :id".format(
                ", ".join(f"{c} = :{c}" for c in values if c != "id")
            ),
            values,
        )
    if cursor.rowcount == 0:
        raise ValueError(f"No crawl run with id {run_id}; start_run() returns the id to use.")


def _pid_alive(pid: int | None) -> bool:
    if pid is None or pid <= 0:
        return False
    if sys.platform == "win32":
        # os.kill(pid, 0) would terminate the process on Windows; assume it is alive.
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    return True


def mark_interrupted_runs(db: Database, source: str | None = None) -> list[int]:
    """Mark "running" runs (of `source`, or of all) whose process is gone as "interrupted";
    return their ids.

    A process id can be reused after a crash, so a run may stay "running" until the new
    owner of its pid exits too; the next call then catches it.
    """
    running = db.execute(
        "SELECT id, pid FROM crawl_runs WHERE status = 'running' "
        "AND (:source IS NULL OR source = :source)",
        {"source": source},
    ).fetchall()
    dead = [(run_id, pid) for run_id, pid in running if not _pid_alive(pid)]
    if not dead:
        return []
    now = utc_now()
    with write_transaction(db):
        for run_id, pid in dead:
            db.execute(
                "UPDATE crawl_runs SET status = 'interrupted', finished_at = ?, error = ? "
                "WHERE id = ? AND status = 'running'",
                [now, f"process {pid} ended without finishing the run", run_id],
            )
    for run_id, pid in dead:
        logger.warning("Crawl run %s (pid %s) was interrupted", run_id, pid)
    return [run_id for run_id, _ in dead]


def recent_runs(db: Database, source: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
    """The latest crawl runs, newest first, JSON columns decoded."""
    rows = list(
        db.query(
            "SELECT * FROM crawl_runs WHERE (:source IS NULL OR source = :source) "
            "ORDER BY started_at DESC, id DESC LIMIT :limit",
            {"source": source, "limit": limit},
        )
    )
    for row in rows:
        _decode_run(row)
    return rows


def last_run_id(db: Database) -> int:
    """The id of the newest crawl run, 0 when there is none: a bookmark for `runs_since`."""
    return db.execute("SELECT coalesce(max(id), 0) FROM crawl_runs").fetchone()[0]


def runs_since(db: Database, run_id: int) -> list[dict[str, Any]]:
    """Crawl runs started after run `run_id` (see `last_run_id`), oldest first, JSON decoded."""
    rows = list(db.query("SELECT * FROM crawl_runs WHERE id > ? ORDER BY id", [run_id]))
    for row in rows:
        _decode_run(row)
    return rows


def _decode_run(row: dict[str, Any]) -> dict[str, Any]:
    for name in _RUN_JSON:
        if row[name] is not None:
            row[name] = json.loads(row[name])
    return row


def sync_sources(db: Database, sources: Iterable[dict[str, Any]]) -> None:
    """Upsert the source registry into `sources`, in one transaction.

    Keys other than the table's columns (download_delay, domains, ...) are ignored: the table
    is a view of the registry for Datasette, not its source of truth. Sources missing from
    `sources` are left as they were; their synced_at shows they are stale.
    """
    now = utc_now()
    rows = []
    for source in sources:
        if not source.get("key"):
            raise ValueError(f"A source needs a key: got {source!r:.200}")
        row: dict[str, Any] = {}
        for column in SOURCE_COLUMNS:
            value = source.get(column)
            # A feed URL with user:password@ in presswatch.toml: shown without it.
            value = redact.scrub_data(value)
            if column in _SOURCE_JSON:
                value = _to_json(list(value or ()))
            elif column in ("enabled", "builtin") and value is not None:
                value = int(bool(value))
            row[column] = value
        row["synced_at"] = now
        rows.append(row)
    columns = (*SOURCE_COLUMNS, "synced_at")
    sql = "INSERT INTO sources ({}) VALUES ({}) ON CONFLICT(key) DO UPDATE SET {}".format(
        ", ".join(columns),
        ", ".join(f":{c}" for c in columns),
        ", ".join(f"{c} = excluded.{c}" for c in columns if c != "key"),
    )
    with write_transaction(db):
        for row in rows:
            db.execute(sql, row)
