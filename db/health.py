"""Crawl health in the database: the runs a health check reads and the `source_health` rows.

Owns every read and write of `source_health` (schema: db.migrations.m005_health) and the
crawl_runs queries that health needs: a source's recent history, its consecutive failures,
the runs that brought new articles, and the per-source overview of `presswatch health`.
What counts as a problem is decided in scheduler.health; this module only stores it.

The write functions neither begin nor commit: scheduler.health runs a whole check (read the
open problems, update them, queue their alerts with db.outbox.enqueue) in one
`db.store.write_transaction`, so a problem is recorded as open if and only if its alert was
queued. Times are UTC strings "YYYY-MM-DDTHH:MM:SSZ" (db.store.utc_now), so text order is
time order.
"""

from __future__ import annotations

import json
from typing import Any

from sqlite_utils import Database

from db import redact

PROBLEM_STATUSES = ("open", "resolved")
# The run statuses a health check learns from: a run that finished and stored what it found.
SUCCESS_STATUSES = ("ok", "partial")
_RUN_JSON = ("drop_reasons", "http_errors", "fill_rates", "stats")
# A cap on the history a check reads: at a 30-minute schedule seven days hold 336 runs, and a
# source crawled every few seconds (tests, a misconfiguration) must not make a check slow.
MAX_HISTORY_ROWS = 500


def _decode_run(row: dict[str, Any]) -> dict[str, Any]:
    for name in _RUN_JSON:
        value = row.get(name)
        row[name] = json.loads(value) if value else {}
    return row


def _decode_problem(row: dict[str, Any]) -> dict[str, Any]:
    row["evidence"] = json.loads(row["evidence"]) if row.get("evidence") else {}
    return row


def get_run(db: Database, run_id: int) -> dict[str, Any] | None:
    """Crawl run `run_id` with its JSON columns decoded, or None."""
    rows = list(db.query("SELECT * FROM crawl_runs WHERE id = ?", [run_id]))
    return _decode_run(rows[0]) if rows else None


def history_runs(
    db: Database, source: str, *, before_id: int, limit: int, since: str
) -> list[dict[str, Any]]:
    """The source's finished ok/partial live runs before run `before_id`, newest first.

    The last `limit` such runs, and also every one started at or after `since`: a slow
    schedule still gets `limit` runs of history, a fast one a whole period (weekday and
    weekend, day and night). Replays are left out: they replay an archive, not the site.
    """
    return [
        _decode_run(row)
        for row in db.query(
            "SELECT * FROM crawl_runs "
            "WHERE source = :source AND id < :before AND status IN ('ok', 'partial') "
            "AND mode != 'replay' AND (started_at >= :since OR id IN ("
            "  SELECT id FROM crawl_runs "
            "  WHERE source = :source AND id < :before AND status IN ('ok', 'partial') "
            "  AND mode != 'replay' ORDER BY started_at DESC, id DESC LIMIT :limit)) "
            "ORDER BY started_at DESC, id DESC LIMIT :cap",
            {
                "source": source,
                "before": before_id,
                "since": since,
                "limit": limit,
                "cap": MAX_HISTORY_ROWS,
            },
        )
    ]


def latest_finished_runs(
    db: Database, source: str, *, up_to_id: int, limit: int
) -> list[dict[str, Any]]:
    """The source's last `limit` finished live runs up to and including `up_to_id`, newest first.

    Every final status (failed and interrupted too): what a run of failures is counted from.
    """
    return [
        dict(row)
        for row in db.query(
            "SELECT id, status, started_at, finished_at, pages_fetched, error FROM crawl_runs "
            "WHERE source = ? AND id <= ? AND status != 'running' AND mode != 'replay' "
            "ORDER BY started_at DESC, id DESC LIMIT ?",
            [source, up_to_id, limit],
        )
    ]


def new_article_times(db: Database, source: str, *, up_to_id: int, limit: int) -> list[str]:
    """started_at of the source's last `limit` live runs that stored a new article, newest first."""
    return [
        row[0]
        for row in db.execute(
            "SELECT started_at FROM crawl_runs "
            "WHERE source = ? AND id <= ? AND status IN ('ok', 'partial') AND mode != 'replay' "
            "AND articles_new > 0 ORDER BY started_at DESC, id DESC LIMIT ?",
            [source, up_to_id, limit],
        ).fetchall()
    ]


def problems(
    db: Database, source: str | None = None, status: str | None = None
) -> list[dict[str, Any]]:
    """source_health rows (evidence decoded), by source then first_seen; filters optional."""
    if status is not None and status not in PROBLEM_STATUSES:
        raise ValueError(
            f"Unknown problem status {status!r}; use one of {', '.join(PROBLEM_STATUSES)}."
        )
    return [
        _decode_problem(row)
        for row in db.query(
            "SELECT * FROM source_health "
            "WHERE (:source IS NULL OR source = :source) AND (:status IS NULL OR status = :status) "
            "ORDER BY source, first_seen, kind",
            {"source": source, "status": status},
        )
    ]


def open_problem(
    db: Database,
    *,
    source: str,
    kind: str,
    message: str,
    evidence: dict[str, Any],
    run_id: int,
    now: str,
) -> None:
    """Record problem `kind` of `source` as opened now (a new row, or a resolved one reopened).

    Call it only when the problem is not open already (see `problems`): reopening sets a new
    first_seen, and first_seen is part of the alert's idempotency key.
    """
    db.execute(
        "INSERT INTO source_health (source, kind, status, first_seen, last_seen, resolved_at, "
        "message, evidence, first_run_id, last_run_id, resolved_run_id, occurrences) "
        "VALUES (:source, :kind, 'open', :now, :now, NULL, :message, :evidence, :run_id, "
        ":run_id, NULL, 1) "
        "ON CONFLICT (source, kind) DO UPDATE SET status = 'open', first_seen = :now, "
        "last_seen = :now, resolved_at = NULL, message = :message, evidence = :evidence, "
        "first_run_id = :run_id, last_run_id = :run_id, resolved_run_id = NULL, "
        "occurrences = occurrences + 1",
        {
            "source": source,
            "kind": kind,
            "now": now,
            # Messages and evidence quote run errors: redacted like them (db.redact).
            "message": redact.redact(message),
            "evidence": json.dumps(
                redact.redact_data(evidence), ensure_ascii=False, sort_keys=True
            ),
            "run_id": run_id,
        },
    )


def touch_problem(
    db: Database,
    *,
    source: str,
    kind: str,
    message: str,
    evidence: dict[str, Any],
    run_id: int,
    now: str,
) -> None:
    """Record that run `run_id` still shows open problem `kind`: last_seen, message, evidence."""
    db.execute(
        "UPDATE source_health SET last_seen = ?, message = ?, evidence = ?, last_run_id = ? "
        "WHERE source = ? AND kind = ? AND status = 'open'",
        [
            now,
            redact.redact(message),
            json.dumps(redact.redact_data(evidence), ensure_ascii=False, sort_keys=True),
            run_id,
            source,
            kind,
        ],
    )


def resolve_problem(db: Database, *, source: str, kind: str, run_id: int, now: str) -> None:
    """Mark open problem `kind` of `source` resolved by run `run_id`."""
    db.execute(
        "UPDATE source_health SET status = 'resolved', resolved_at = ?, resolved_run_id = ? "
        "WHERE source = ? AND kind = ? AND status = 'open'",
        [now, run_id, source, kind],
    )


def source_overview(db: Database, *, since: str) -> list[dict[str, Any]]:
    """One row per source for `presswatch health`, by key.

    The sources are the enabled ones of the synced registry plus any source with a run or a
    health row. Each row: source, last_success_at (finished_at of the last ok/partial run),
    last_run_id and last_run_status (the last finished run of any status),
    last_success_run_id, articles_recent (articles first stored at or after `since`) and
    open_problems (how many).
    """
    return [
        dict(row)
        for row in db.query(
            "WITH keys(source) AS ("
            "  SELECT key FROM sources WHERE enabled = 1 "
            "  UNION SELECT source FROM crawl_runs "
            "  UNION SELECT source FROM source_health) "
            "SELECT k.source, "
            "  (SELECT finished_at FROM crawl_runs r WHERE r.source = k.source "
            "   AND r.status IN ('ok', 'partial') ORDER BY r.finished_at DESC, r.id DESC LIMIT 1) "
            "   AS last_success_at, "
            "  (SELECT id FROM crawl_runs r WHERE r.source = k.source "
            "   AND r.status IN ('ok', 'partial') ORDER BY r.finished_at DESC, r.id DESC LIMIT 1) "
            "   AS last_success_run_id, "
            "  (SELECT id FROM crawl_runs r WHERE r.source = k.source AND r.status != 'running' "
            "   ORDER BY r.started_at DESC, r.id DESC LIMIT 1) AS last_run_id, "
            "  (SELECT status FROM crawl_runs r WHERE r.source = k.source "
            "   AND r.status != 'running' ORDER BY r.started_at DESC, r.id DESC LIMIT 1) "
            "   AS last_run_status, "
            "  (SELECT count(*) FROM articles a WHERE a.source = k.source "
            "   AND a.first_seen_at >= :since) AS articles_recent, "
            "  (SELECT count(*) FROM source_health h WHERE h.source = k.source "
            "   AND h.status = 'open') AS open_problems "
            "FROM keys k ORDER BY k.source",
            {"since": since},
        )
    ]
