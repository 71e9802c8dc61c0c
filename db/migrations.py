"""The database schema, as an ordered set of sqlite-utils migrations.

Owns every table, index, trigger and FTS table of the presswatch database. A migration that
has been applied anywhere is never edited: a schema change is a new function below
(m002_..., m003_...), registered with `@MIGRATIONS()`. Migration bodies spell their columns
out rather than reusing constants from other modules, so later code changes cannot alter
what an old migration did.
"""

from __future__ import annotations

import json
import logging

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

logger = logging.getLogger(__name__)

MIGRATIONS = Migrations("presswatch")

# unicode61 for alphabetic scripts, porter so that "innovations" finds "innovation", and
# remove_diacritics 2 so that "Medvedev" finds "Medvédev". Chinese goes through the
# search_cjk column (bigrams, see db.search.cjk_bigrams).
FTS_TOKENIZE = "porter unicode61 remove_diacritics 2"


@MIGRATIONS()
def m001_initial(db: Database) -> None:
    """articles (+ articles_fts), article_versions, crawl_runs, sources."""
    db.table("articles").create(
        {
            "id": str,
            "url": str,
            "canonical_url": str,
            "source": str,
            "kind": str,
            "language": str,
            "title": str,
            "subtitle": str,
            "authors": str,  # JSON list
            "section": str,
            "tags": str,  # JSON list
            "published_at": str,
            "published_local": str,
            "date_precision": str,
            "updated_at": str,
            "dateline": str,
            "body": str,
            "captions": str,  # JSON list of {text, credit}
            "images": str,  # JSON list of {src, alt}
            "turns": str,  # JSON list of {idx, role, speaker, outlet, text}
            "access": str,
            "word_count": int,
            "content_hash": str,
            "record_hash": str,
            "parser": str,
            "fetched_at": str,
            "first_seen_at": str,
            "last_changed_at": str,
            "version": int,
            "duplicate_of": str,
            "search_cjk": str,
        },
        pk="id",
        not_null={
            "url",
            "source",
            "title",
            "body",
            "content_hash",
            "record_hash",
            "first_seen_at",
            "last_changed_at",
            "version",
            "search_cjk",
        },
        defaults={"title": "", "body": "", "search_cjk": "", "version": 1},
        foreign_keys=[("duplicate_of", "articles", "id")],
    )
    for column in ("source", "published_at", "content_hash", "canonical_url"):
        db.table("articles").create_index([column])

    db.table("crawl_runs").create(
        {
            "id": int,
            "source": str,
            "mode": str,  # live | replay | archive
            "status": str,  # running | ok | partial | failed | interrupted
            "started_at": str,
            "finished_at": str,
            "pid": int,
            "pages_fetched": int,
            "articles_new": int,
            "articles_updated": int,
            "articles_unchanged": int,
            "articles_dropped": int,
            "drop_reasons": str,  # JSON {reason: count}
            "http_errors": str,  # JSON {"404": count}
            "fill_rates": str,  # JSON {field: share of stored records with it filled}
            "stats": str,  # JSON, selected Scrapy stats
            "error": str,
        },
        pk="id",
        not_null={"source", "mode", "status", "started_at"},
    )
    db.table("crawl_runs").create_index(["source", "started_at"])
    db.table("crawl_runs").create_index(["status"])

    db.table("article_versions").create(
        {
            "id": int,
            "article_id": str,
            "version": int,
            "run_id": int,
            "fetched_at": str,
            "content_hash": str,
            "record_hash": str,
            "title": str,
            "body": str,
            "record": str,  # JSON of the full record as stored
        },
        pk="id",
        not_null={"article_id", "version", "content_hash", "record_hash", "record"},
        foreign_keys=[("article_id", "articles", "id"), ("run_id", "crawl_runs", "id")],
    )
    db.table("article_versions").create_index(["article_id", "version"], unique=True)

    db.table("sources").create(
        {
            "key": str,
            "name": str,
            "language": str,
            "timezone": str,
            "kind": str,
            "homepage": str,
            "parser": str,
            "schedule": str,
            "enabled": int,
            "builtin": int,
            "feeds": str,  # JSON list
            "sitemaps": str,  # JSON list
            "listings": str,  # JSON list of {url, pages, first_page, max_pages}
            "article_patterns": str,  # JSON list of regexes
            "synced_at": str,
        },
        pk="key",
    )

    # The sqlite-utils naming (articles_fts, triggers articles_ai/_ad/_au) is what Datasette
    # detects without configuration. The FTS table is external-content on articles.rowid,
    # which a TEXT primary key does not pin down: VACUUM may renumber it, so anything that
    # runs VACUUM must run db["articles"].rebuild_fts() after it. UPDATE keeps the rowid,
    # so the store updates rows in place and never uses INSERT OR REPLACE.
    db.table("articles").enable_fts(
        ["title", "body", "search_cjk"], tokenize=FTS_TOKENIZE, create_triggers=True
    )


@MIGRATIONS()
def m002_briefing_turns(db: Database) -> None:
    """briefing_turns (+ briefing_turns_fts): one row per question, answer or statement.

    A copy of articles.turns, one row each, so that "answers by the MFA spokesperson that
    mention Russia" is one indexed query. The store rewrites an article's turns whenever the
    article is new or changed.
    """
    db.table("briefing_turns").create(
        {
            "id": int,
            "article_id": str,
            "idx": int,  # order within the briefing, from 0
            "role": str,  # question | answer | statement
            "speaker": str,
            "outlet": str,  # the outlet that asked (questions)
            "text": str,
            "search_cjk": str,  # CJK bigrams of text, as articles.search_cjk
        },
        pk="id",
        not_null={"article_id", "idx", "role", "text"},
        foreign_keys=[("article_id", "articles", "id")],
    )
    db.table("briefing_turns").create_index(["article_id", "idx"], unique=True)
    db.table("briefing_turns").create_index(["speaker"])
    db.table("briefing_turns").enable_fts(
        ["text", "speaker", "search_cjk"],
        tokenize="porter unicode61 remove_diacritics 2",
        create_triggers=True,
    )
    # Articles stored before this migration keep their turns in articles.turns: copy them.
    from db.search import cjk_bigrams

    rows = db.execute("SELECT id, turns FROM articles WHERE turns NOT IN ('', '[]')").fetchall()
    for article_id, turns_json in rows:
        for turn in json.loads(turns_json or "[]"):
            db.execute(
                "INSERT INTO briefing_turns "
                "(article_id, idx, role, speaker, outlet, text, search_cjk) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    article_id,
                    turn["idx"],
                    turn["role"],
                    turn.get("speaker"),
                    turn.get("outlet"),
                    turn["text"],
                    cjk_bigrams(turn["text"]),
                ],
            )


@MIGRATIONS()
def m003_outbox(db: Database) -> None:
    """outbox: every alert, digest or health message to deliver, one row per channel.

    Written in the same transaction as the matches that caused it (db.outbox.enqueue), then
    sent by alerts.outbox.deliver. `key` is the idempotency key ("alert:<rule>:<story>:<channel>"):
    its UNIQUE index is what makes a rerun of matching unable to queue a message twice.
    Times are UTC "YYYY-MM-DDTHH:MM:SSZ", so text order is time order.
    """
    db.table("outbox").create(
        {
            "id": int,
            "key": str,
            "channel": str,  # a [channels.NAME] of presswatch.toml
            "kind": str,  # alert | digest | health
            "payload": str,  # JSON, rendered by alerts.templates
            "status": str,  # pending | sending | sent | failed
            "attempts": int,  # sends started, counted when a row is claimed
            "next_attempt_at": str,
            "claimed_at": str,  # when a sender took it; a stale claim means a crashed sender
            "last_error": str,  # redacted: never a secret
            "created_at": str,
            "sent_at": str,
            "message_id": str,  # the mail Message-ID (or the channel's receipt)
        },
        pk="id",
        not_null={
            "key",
            "channel",
            "kind",
            "payload",
            "status",
            "attempts",
            "next_attempt_at",
            "created_at",
        },
        defaults={"status": "pending", "attempts": 0},
    )
    db.table("outbox").create_index(["key"], unique=True)
    # claim_due's query: the due pending rows and the stale sending ones.
    db.table("outbox").create_index(["status", "next_attempt_at"])


@MIGRATIONS()
def m004_alerts(db: Database) -> None:
    """alert_rules, alert_state, stories (+ members, MinHash signatures), matches, alerts sent.

    Written by alerts.match through db.alerts. The change feed is article_versions.id: every
    new or changed article adds a version row, and alert_state["match_watermark"] holds the
    last id matched. Times are UTC "YYYY-MM-DDTHH:MM:SSZ", so text order is time order.
    """
    db.table("alert_rules").create(
        {
            "name": str,
            "query": str,
            "description": str,
            "channels": str,  # JSON list of [channels.NAME]
            "mode": str,  # immediate | digest
            "digest_schedule": str,  # cron (5 fields) or an interval such as "1d"
            "filters": str,  # JSON {"sources": [...], "kinds": [...], "languages": [...]}
            "enabled": int,
            "synced_at": str,
        },
        pk="name",
        not_null={"query", "channels", "mode", "filters", "enabled", "synced_at"},
    )
    db.table("alert_state").create({"key": str, "value": str}, pk="key", not_null={"value"})

    db.table("stories").create(
        {
            "id": int,
            "first_article_id": str,
            "title": str,
            "first_seen_at": str,
            "last_seen_at": str,
            "article_count": int,
        },
        pk="id",
        not_null={"first_article_id", "first_seen_at", "last_seen_at", "article_count"},
        foreign_keys=[("first_article_id", "articles", "id")],
    )
    db.table("story_members").create(
        {
            "story_id": int,
            "article_id": str,
            "method": str,  # first | content_hash | minhash
            "similarity": float,  # estimated Jaccard to the member it joined through
            "joined_at": str,
        },
        not_null={"story_id", "article_id", "method", "similarity", "joined_at"},
        foreign_keys=[("story_id", "stories", "id"), ("article_id", "articles", "id")],
    )
    db.table("story_members").create_index(["article_id"], unique=True)
    db.table("story_members").create_index(["story_id"])
    # One MinHash signature per article, so the in-memory LSH index can be rebuilt after a
    # restart without re-reading every body. The scheme and seed are stored because a
    # signature is only comparable with one made the same way.
    db.table("story_lsh").create(
        {
            "article_id": str,
            "minhash": bytes,  # num_perm unsigned 32-bit hash values, little-endian
            "num_perm": int,
            "seed": int,
            "scheme": str,  # datasketch MinHash scheme, e.g. affine32
            "shingles": int,  # size of the shingle set (for containment estimates)
            "seen_at": str,  # published_at, else first_seen_at: the story time window
            # The article_versions.id the signature was made from: a long-lived index loads
            # what other processes added since (rows with a higher version_id).
            "version_id": int,
        },
        pk="article_id",
        not_null={"minhash", "num_perm", "seed", "scheme", "shingles"},
        foreign_keys=[("article_id", "articles", "id")],
    )
    db.table("story_lsh").create_index(["version_id"])

    db.table("alert_matches").create(
        {
            "id": int,
            "rule": str,
            "article_id": str,
            "story_id": int,
            "turn_idx": int,  # NULL unless the match came from one briefing turn
            "snippet": str,  # matched sentence(s), terms between « and »
            "fields": str,  # JSON list: title | body | turns
            "why": str,  # which terms matched
            "created_at": str,
        },
        pk="id",
        not_null={"rule", "article_id", "created_at"},
        foreign_keys=[("article_id", "articles", "id"), ("story_id", "stories", "id")],
    )
    # UNIQUE(rule, article_id, turn_idx) with NULLs counted as equal: a plain UNIQUE index
    # treats every NULL as distinct, so a rerun would add article-level matches again.
    db.execute(
        "CREATE UNIQUE INDEX idx_alert_matches_rule_article_turn "
        "ON alert_matches (rule, article_id, coalesce(turn_idx, -1))"
    )
    db.table("alert_matches").create_index(["rule", "created_at"])
    db.table("alert_matches").create_index(["story_id"])

    db.table("alerts_sent_for").create(
        {"rule": str, "story_id": int, "article_id": str, "created_at": str},
        pk=("rule", "story_id"),
        not_null={"article_id", "created_at"},
        foreign_keys=[("story_id", "stories", "id"), ("article_id", "articles", "id")],
    )


@MIGRATIONS()
def m005_health(db: Database) -> None:
    """source_health: one row per (source, problem kind) that crawl health has ever raised.

    Written by scheduler.health through db.health after each crawl run. A row is "open"
    while runs keep showing the problem and "resolved" once a run no longer does; when the
    problem comes back the same row opens again with a new first_seen (occurrences counts
    the openings). One open row is what makes a problem alert once, not once per run.
    Times are UTC "YYYY-MM-DDTHH:MM:SSZ", so text order is time order.
    """
    db.table("source_health").create(
        {
            "source": str,
            "kind": str,  # no_articles, fill_rate:body, fallbacks:body, http_errors, ...
            "status": str,  # open | resolved
            "first_seen": str,  # when the current (or last) occurrence opened
            "last_seen": str,  # the last run that showed it
            "resolved_at": str,  # NULL while open
            "message": str,  # what and why, with the numbers of the last run that showed it
            "evidence": str,  # JSON: the measurements, the usual value and the threshold
            "first_run_id": int,
            "last_run_id": int,
            "resolved_run_id": int,
            "occurrences": int,
        },
        pk=("source", "kind"),
        # SQLite lets a NULL into a primary key that is not an INTEGER PRIMARY KEY.
        not_null={
            "source",
            "kind",
            "status",
            "first_seen",
            "last_seen",
            "message",
            "evidence",
            "occurrences",
        },
        defaults={"occurrences": 1},
        foreign_keys=[
            ("first_run_id", "crawl_runs", "id"),
            ("last_run_id", "crawl_runs", "id"),
            ("resolved_run_id", "crawl_runs", "id"),
        ],
    )
    db.table("source_health").create_index(["status", "first_seen"])


@MIGRATIONS()
def m006_article_charset(db: Database) -> None:
    """articles.charset and articles.charset_repaired_from: how the page's bytes were decoded.

    charset is the codec the text was decoded with; charset_repaired_from the charset the
    page declared when it did not fit the bytes and was overridden (crawler.encoding). Both
    stay NULL for articles stored before this migration until their text changes: they are
    left out of record_hash, so adding them does not make every stored article "updated".
    article_versions needs no column: its `record` JSON carries every record field.
    """
    db.table("articles").add_column("charset", str)
    db.table("articles").add_column("charset_repaired_from", str)


def apply_migrations(db: Database) -> list[str]:
    """Apply pending migrations; return their names (empty when the schema is current).

    All pending migrations run in one BEGIN IMMEDIATE transaction, so two processes opening a
    new database at once cannot both try to create the tables: the second waits for the
    first (busy_timeout), then finds nothing pending. Checking first keeps the common case,
    an up-to-date database, free of any write lock.
    """
    if not MIGRATIONS.pending(db):
        return []
    if any(not m.transactional for m in MIGRATIONS.pending(db)):
        # A VACUUM-style migration cannot run inside our transaction; apply() runs it alone.
        before = {m.name for m in MIGRATIONS.applied(db)}
        MIGRATIONS.apply(db)
        return [m.name for m in MIGRATIONS.applied(db) if m.name not in before]
    db.execute("BEGIN IMMEDIATE")
    try:
        names = [m.name for m in MIGRATIONS.pending(db)]
        MIGRATIONS.apply(db)
    except BaseException:
        db.rollback()
        raise
    db.execute("COMMIT")
    for name in names:
        logger.info("Applied migration %s", name)
    return names
