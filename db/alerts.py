"""Alert rules, the match watermark, stories and matches: every SQL statement alerts.* runs.

Owns the reads and writes of the tables made by `db.migrations.m004_alerts`. The alerts
package decides what to write; this module only knows how, with bound parameters. Write
functions here never BEGIN or COMMIT: `alerts.match` calls them inside one
`db.store.write_transaction`, so matches, stories, outbox rows and the watermark advance
commit together or not at all. Only `sync_rules` opens its own transaction (it nests as a
savepoint when the caller already has one).

Times are UTC "YYYY-MM-DDTHH:MM:SSZ" strings, so text order is time order.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from sqlite_utils import Database

from db.store import utc_now, write_transaction

WATERMARK_KEY = "match_watermark"

_RULE_COLUMNS = (
    "name",
    "query",
    "description",
    "channels",
    "mode",
    "digest_schedule",
    "filters",
    "enabled",
    "synced_at",
)

# What alerts.match needs of an article: the matchable text (title, body, turns: never
# captions or sidebars), the filter fields, and what an alert shows about it.
_ARTICLE_COLUMNS = (
    "a.id, a.url, a.source, coalesce(s.name, a.source) AS source_name, a.kind, a.language, "
    "a.title, a.body, a.published_at, a.first_seen_at, a.content_hash, "
    "(SELECT max(v.id) FROM article_versions v WHERE v.article_id = a.id) AS version_id"
)
_ARTICLE_FROM = "FROM articles a LEFT JOIN sources s ON s.key = a.source"


# ---- rules and state -------------------------------------------------------------------


def sync_rules(db: Database, rules: Iterable[Mapping[str, Any]], now: str | None = None) -> None:
    """Make `alert_rules` show exactly `rules` (dicts with the table's columns), in one transaction.

    `channels` and `filters` may be given as a list and a dict; they are stored as JSON.
    Rules no longer configured are deleted: the table is a view of the configuration for
    Datasette, and their matches stay in `alert_matches` under the rule's name.
    """
    now = now or utc_now()
    rows = []
    for rule in rules:
        row = {column: rule.get(column) for column in _RULE_COLUMNS}
        if not row["name"] or not row["query"]:
            raise ValueError(f"An alert rule needs a name and a query: got {dict(rule)!r:.200}")
        for column in ("channels", "filters"):
            if not isinstance(row[column], str):
                row[column] = json.dumps(row[column] or ([] if column == "channels" else {}))
        row["enabled"] = int(bool(row["enabled"]) if row["enabled"] is not None else 1)
        row["mode"] = row["mode"] or "immediate"
        row["synced_at"] = now
        rows.append(row)
    upsert = "INSERT INTO alert_rules ({}) VALUES ({}) ON CONFLICT(name) DO UPDATE SET {}".format(
        ", ".join(_RULE_COLUMNS),
        ", ".join(f":{c}" for c in _RULE_COLUMNS),
        ", ".join(f"{c} = excluded.{c}" for c in _RULE_COLUMNS if c != "name"),
    )
    names = [row["name"] for row in rows]
    with write_transaction(db):
        for row in rows:
            db.execute(upsert, row)
        db.execute(
            "DELETE FROM alert_rules WHERE name NOT IN (SELECT value FROM json_each(?))",
            [json.dumps(names)],
        )


def list_rules(db: Database) -> list[dict[str, Any]]:
    """The synced rules, by name, with channels and filters decoded."""
    rows = list(db.query("SELECT * FROM alert_rules ORDER BY name"))
    for row in rows:
        row["channels"] = json.loads(row["channels"])
        row["filters"] = json.loads(row["filters"])
        row["enabled"] = bool(row["enabled"])
    return rows


def get_state(db: Database, key: str) -> str | None:
    """The stored value of `key` in alert_state, or None."""
    row = db.execute("SELECT value FROM alert_state WHERE key = ?", [key]).fetchone()
    return None if row is None else row[0]


def set_state(db: Database, key: str, value: str) -> None:
    """Store `value` under `key` in alert_state (inside the caller's transaction)."""
    db.execute(
        "INSERT INTO alert_state (key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [key, value],
    )


def get_watermark(db: Database) -> int:
    """The last article_versions.id already matched (0: nothing yet)."""
    value = get_state(db, WATERMARK_KEY)
    return int(value) if value else 0


def set_watermark(db: Database, version_id: int) -> None:
    """Advance the match watermark to `version_id` (inside the caller's transaction)."""
    set_state(db, WATERMARK_KEY, str(version_id))


# ---- the change feed -------------------------------------------------------------------


def versions_after(db: Database, version_id: int, limit: int) -> list[tuple[int, str]]:
    """Up to `limit` (article_versions.id, article_id) pairs after `version_id`, oldest first."""
    return [
        (row[0], row[1])
        for row in db.execute(
            "SELECT id, article_id FROM article_versions WHERE id > ? ORDER BY id LIMIT ?",
            [version_id, limit],
        ).fetchall()
    ]


def latest_version_id(db: Database) -> int:
    """The newest article_versions.id, 0 for an empty database."""
    return db.execute("SELECT coalesce(max(id), 0) FROM article_versions").fetchone()[0]


def _with_turns(db: Database, articles: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_id = {article["id"]: article for article in articles}
    for article in articles:
        article["turns"] = []
    if not by_id:
        return articles
    for row in db.query(
        "SELECT article_id, idx, role, speaker, outlet, text FROM briefing_turns "
        "WHERE article_id IN (SELECT value FROM json_each(?)) ORDER BY article_id, idx",
        [json.dumps(list(by_id))],
    ):
        by_id[row.pop("article_id")]["turns"].append(row)
    return articles


def articles_for_matching(db: Database, article_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The current state of these articles with their turns, in the order of `article_ids`.

    Ids with no article row (none today: articles are never deleted) are left out.
    """
    rows = {
        row["id"]: row
        for row in db.query(
            f"SELECT {_ARTICLE_COLUMNS} {_ARTICLE_FROM} "
            "WHERE a.id IN (SELECT value FROM json_each(?))",
            [json.dumps(list(article_ids))],
        )
    }
    return _with_turns(db, [rows[i] for i in dict.fromkeys(article_ids) if i in rows])


def iter_articles(
    db: Database, since: str | None = None, batch_size: int = 500
) -> Iterator[dict[str, Any]]:
    """Every stored article (published on or after `since`, if given) with its turns.

    Read-only and in rowid batches, so a backtest over a large archive holds one batch in
    memory. An article without a publication date counts from when it was first seen.
    """
    last_rowid = 0
    while True:
        rows = list(
            db.query(
                f"SELECT a.rowid AS _rowid, {_ARTICLE_COLUMNS} {_ARTICLE_FROM} "
                "WHERE a.rowid > :after AND (:since IS NULL OR "
                "coalesce(a.published_at, a.first_seen_at) >= :since) "
                "ORDER BY a.rowid LIMIT :limit",
                {"after": last_rowid, "since": since, "limit": batch_size},
            )
        )
        if not rows:
            return
        last_rowid = rows[-1]["_rowid"]
        for row in rows:
            del row["_rowid"]
        yield from _with_turns(db, rows)


# ---- stories ---------------------------------------------------------------------------


def story_signatures(db: Database, after_version: int = 0) -> list[dict[str, Any]]:
    """Stored MinHash signatures with their article's story, oldest first.

    With `after_version`, only those made from a version newer than that (new articles and
    changed ones since): how a long-lived index catches up with other processes.
    """
    return list(
        db.query(
            "SELECT l.article_id, m.story_id, l.minhash, l.num_perm, l.seed, l.scheme, "
            "l.shingles, l.seen_at, l.version_id FROM story_lsh l "
            "JOIN story_members m ON m.article_id = l.article_id "
            "WHERE coalesce(l.version_id, 0) > ? ORDER BY l.version_id, l.rowid",
            [after_version],
        )
    )


def save_signature(
    db: Database,
    *,
    article_id: str,
    minhash: bytes,
    num_perm: int,
    seed: int,
    scheme: str,
    shingles: int,
    seen_at: str | None,
    version_id: int | None,
) -> None:
    """Store (or replace, for a changed article) the MinHash signature of an article."""
    db.execute(
        "INSERT INTO story_lsh "
        "(article_id, minhash, num_perm, seed, scheme, shingles, seen_at, version_id) "
        "VALUES (:article_id, :minhash, :num_perm, :seed, :scheme, :shingles, :seen_at, "
        ":version_id) ON CONFLICT(article_id) DO UPDATE SET minhash = excluded.minhash, "
        "num_perm = excluded.num_perm, seed = excluded.seed, scheme = excluded.scheme, "
        "shingles = excluded.shingles, seen_at = excluded.seen_at, "
        "version_id = excluded.version_id",
        {
            "article_id": article_id,
            "minhash": minhash,
            "num_perm": num_perm,
            "seed": seed,
            "scheme": scheme,
            "shingles": shingles,
            "seen_at": seen_at,
            "version_id": version_id,
        },
    )


def story_of_article(db: Database, article_id: str) -> int | None:
    """The story an article belongs to, or None if it has not been assigned one."""
    row = db.execute(
        "SELECT story_id FROM story_members WHERE article_id = ?", [article_id]
    ).fetchone()
    return None if row is None else row[0]


def story_with_content(db: Database, content_hash: str, article_id: str) -> int | None:
    """The story of the earliest other assigned article with this exact content, or None."""
    row = db.execute(
        "SELECT m.story_id FROM story_members m JOIN articles a ON a.id = m.article_id "
        "WHERE a.content_hash = ? AND a.id != ? ORDER BY m.rowid LIMIT 1",
        [content_hash, article_id],
    ).fetchone()
    return None if row is None else row[0]


def create_story(db: Database, *, article_id: str, title: str, now: str) -> int:
    """A new story whose first article is `article_id`; returns its id (no member row yet)."""
    cursor = db.execute(
        "INSERT INTO stories (first_article_id, title, first_seen_at, last_seen_at, "
        "article_count) VALUES (?, ?, ?, ?, 0)",
        [article_id, title, now, now],
    )
    story_id = cursor.lastrowid
    assert story_id is not None  # an INSERT into a rowid table always sets it
    return story_id


def add_story_member(
    db: Database, *, story_id: int, article_id: str, method: str, similarity: float, now: str
) -> None:
    """Put `article_id` in `story_id` and count it; an article joins one story only."""
    db.execute(
        "INSERT INTO story_members (story_id, article_id, method, similarity, joined_at) "
        "VALUES (?, ?, ?, ?, ?)",
        [story_id, article_id, method, similarity, now],
    )
    db.execute(
        "UPDATE stories SET article_count = article_count + 1, "
        "last_seen_at = max(last_seen_at, ?) WHERE id = ?",
        [now, story_id],
    )


def get_story(db: Database, story_id: int) -> dict[str, Any] | None:
    """One stories row, or None."""
    rows = list(db.query("SELECT * FROM stories WHERE id = ?", [story_id]))
    return rows[0] if rows else None


def story_members(db: Database, story_id: int) -> list[dict[str, Any]]:
    """The articles of a story in the order they joined, with source names."""
    return list(
        db.query(
            "SELECT m.article_id, m.method, m.similarity, m.joined_at, a.source, "
            "coalesce(s.name, a.source) AS source_name, a.url, a.title, a.published_at, "
            "a.language FROM story_members m JOIN articles a ON a.id = m.article_id "
            "LEFT JOIN sources s ON s.key = a.source WHERE m.story_id = ? ORDER BY m.rowid",
            [story_id],
        )
    )


# ---- matches and alerts ----------------------------------------------------------------


def insert_match(
    db: Database,
    *,
    rule: str,
    article_id: str,
    story_id: int | None,
    turn_idx: int | None,
    snippet: str,
    fields: Sequence[str],
    why: str,
    now: str,
) -> bool:
    """Record that `rule` matched an article (or one of its turns); False if already recorded."""
    cursor = db.execute(
        "INSERT OR IGNORE INTO alert_matches "
        "(rule, article_id, story_id, turn_idx, snippet, fields, why, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [rule, article_id, story_id, turn_idx, snippet, json.dumps(list(fields)), why, now],
    )
    return cursor.rowcount == 1


_MATCH_SELECT = (
    "SELECT m.id, m.rule, m.article_id, m.story_id, m.turn_idx, m.snippet, m.fields, m.why, "
    "m.created_at, a.source, coalesce(s.name, a.source) AS source_name, a.url, a.title, "
    "a.published_at, a.language, a.kind, t.speaker FROM alert_matches m "
    "JOIN articles a ON a.id = m.article_id "
    "LEFT JOIN sources s ON s.key = a.source "
    "LEFT JOIN briefing_turns t ON t.article_id = m.article_id AND t.idx = m.turn_idx"
)


def _decode_match(row: dict[str, Any]) -> dict[str, Any]:
    row["fields"] = json.loads(row["fields"] or "[]")
    return row


def story_matches(db: Database, rule: str, story_id: int) -> list[dict[str, Any]]:
    """Every match of `rule` in `story_id`, oldest first, with what an alert shows."""
    return [
        _decode_match(row)
        for row in db.query(
            f"{_MATCH_SELECT} WHERE m.rule = ? AND m.story_id = ? ORDER BY m.id",
            [rule, story_id],
        )
    ]


def matches_between(db: Database, rule: str, start: str, end: str) -> list[dict[str, Any]]:
    """Matches of `rule` recorded in the period (start, end], oldest first."""
    return [
        _decode_match(row)
        for row in db.query(
            f"{_MATCH_SELECT} WHERE m.rule = ? AND m.created_at > ? AND m.created_at <= ? "
            "ORDER BY m.id",
            [rule, start, end],
        )
    ]


def first_match_at(db: Database, rule: str) -> str | None:
    """When `rule` first matched anything, or None."""
    return db.execute(
        "SELECT min(created_at) FROM alert_matches WHERE rule = ?", [rule]
    ).fetchone()[0]


def list_matches(db: Database, rule: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """The latest matches, newest first, of one rule or all."""
    return [
        _decode_match(row)
        for row in db.query(
            f"{_MATCH_SELECT} WHERE (:rule IS NULL OR m.rule = :rule) ORDER BY m.id DESC "
            "LIMIT :limit",
            {"rule": rule, "limit": limit},
        )
    ]


def count_matches(db: Database, rule: str | None = None) -> int:
    """How many matches are recorded, for one rule or all."""
    return db.execute(
        "SELECT count(*) FROM alert_matches WHERE (:rule IS NULL OR rule = :rule)",
        {"rule": rule},
    ).fetchone()[0]


def mark_alerted(db: Database, *, rule: str, story_id: int, article_id: str, now: str) -> bool:
    """Claim the one alert of `rule` for `story_id`; False if the story already alerted."""
    cursor = db.execute(
        "INSERT OR IGNORE INTO alerts_sent_for (rule, story_id, article_id, created_at) "
        "VALUES (?, ?, ?, ?)",
        [rule, story_id, article_id, now],
    )
    return cursor.rowcount == 1
