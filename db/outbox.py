"""The outbox table: messages waiting to be delivered, and their delivery state.

Owns every read and write of `outbox` (schema: db.migrations.m003_outbox). Matching queues a
message with `enqueue` inside its own transaction, so a message exists if and only if the
matches that caused it were stored. A sender then `claim_due`s rows (status "sending"), sends
them, and acknowledges each one at once with `mark_sent`, `mark_retry` or `mark_failed`.

Life of a row::

    pending --claim_due--> sending --mark_sent--> sent        (never claimed again)
                              |----mark_retry--> pending     (next_attempt_at later)
                              |----mark_failed-> failed      (requeue_failed -> pending)
                              '--(sender killed)-> claimed again once the lease has expired

A sender killed between sending and `mark_sent` leaves its row "sending"; after
`lease_seconds` another sender claims it and sends it again. That one message may arrive twice
(mail clients recognise the repeat by its stable Message-ID); a row marked sent never is.

Times are UTC strings "YYYY-MM-DDTHH:MM:SSZ", the store's convention, so that comparing them
as text compares them as times. Functions accept a datetime or such a string and normalise it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlite_utils import Database

from db import redact
from db.store import write_transaction

STATUSES = ("pending", "sending", "sent", "failed")
KINDS = ("alert", "digest", "health")

_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

Timestamp = datetime | str


def to_datetime(value: Timestamp) -> datetime:
    """`value` as an aware UTC datetime; a naive one (or a string without offset) is UTC."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError as exc:
            raise ValueError(
                f"Not an ISO 8601 time: {value!r:.60}; use the form 2024-05-01T12:00:00Z."
            ) from exc
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def to_timestamp(value: Timestamp, *, round_up: bool = False) -> str:
    """`value` as "YYYY-MM-DDTHH:MM:SSZ" UTC.

    Seconds are truncated, or with `round_up` rounded up: a retry scheduled 1 s from
    12:00:00.9 must not become due at 12:00:01.
    """
    moment = to_datetime(value)
    if round_up and moment.microsecond:
        moment = moment.replace(microsecond=0) + timedelta(seconds=1)
    return moment.strftime(_FORMAT)


def later(value: Timestamp, seconds: float) -> str:
    """The timestamp `seconds` after `value`, rounded up to the whole second."""
    return to_timestamp(to_datetime(value) + timedelta(seconds=seconds), round_up=True)


def enqueue(
    db: Database,
    *,
    key: str,
    channel: str,
    kind: str,
    payload: dict[str, Any],
    now: Timestamp,
) -> bool:
    """Queue a message for `channel` unless one with `key` exists; True when it was new.

    Runs inside the caller's open transaction (it neither begins nor commits), so a message
    is queued together with the matches that caused it or not at all; outside a transaction
    the single INSERT commits by itself. `key` is the idempotency key: queueing the same key
    twice (a rerun of matching) changes nothing.
    """
    if kind not in KINDS:
        raise ValueError(f"Unknown outbox kind {kind!r}. Known: {', '.join(KINDS)}.")
    if not key or not channel:
        raise ValueError("An outbox message needs a key and a channel.")
    stamp = to_timestamp(now)
    cursor = db.execute(
        "INSERT OR IGNORE INTO outbox "
        "(key, channel, kind, payload, status, attempts, next_attempt_at, created_at) "
        "VALUES (?, ?, ?, ?, 'pending', 0, ?, ?)",
        # Payloads carry scraped text and URLs: a credential in them is masked (db.redact).
        [
            key,
            channel,
            kind,
            json.dumps(redact.scrub_data(payload), ensure_ascii=False),
            stamp,
            stamp,
        ],
    )
    return cursor.rowcount == 1


def claim_due(
    db: Database, now: Timestamp, limit: int, lease_seconds: float
) -> list[dict[str, Any]]:
    """Take up to `limit` due messages for sending: status "sending", attempts + 1.

    Due means pending with next_attempt_at <= now, or "sending" with a claim older than
    `lease_seconds` (its sender died). One BEGIN IMMEDIATE transaction, so two senders never
    claim the same row. Counting the attempt at claim time means a message whose sending
    kills the sender still runs out of attempts instead of looping forever. Returns the rows
    as they are after the claim, payload decoded, oldest first.
    """
    stamp = to_timestamp(now)
    stale_before = to_timestamp(to_datetime(now) - timedelta(seconds=lease_seconds))
    with write_transaction(db):
        ids = [
            row[0]
            for row in db.execute(
                "SELECT id FROM outbox "
                "WHERE (status = 'pending' AND next_attempt_at <= :now) "
                "OR (status = 'sending' AND claimed_at <= :stale) "
                "ORDER BY id LIMIT :limit",
                {"now": stamp, "stale": stale_before, "limit": limit},
            ).fetchall()
        ]
        for outbox_id in ids:
            db.execute(
                "UPDATE outbox SET status = 'sending', claimed_at = ?, attempts = attempts + 1 "
                "WHERE id = ?",
                [stamp, outbox_id],
            )
        rows = [_decode(row) for row in _select_ids(db, ids)]
    return rows


def renew_claim(db: Database, id: int, attempts: int, now: Timestamp) -> bool:
    """Refresh the claim on message `id` just before sending it; False if it is not ours.

    A claim is identified by (id, attempts), since every claim adds an attempt. A batch may
    take longer than the lease to send; renewing before each send keeps another sender
    from taking over a row this one is about to send, and tells this one to skip a row
    another sender already took over.
    """
    with write_transaction(db):
        cursor = db.execute(
            "UPDATE outbox SET claimed_at = ? WHERE id = ? AND status = 'sending' AND attempts = ?",
            [to_timestamp(now), id, attempts],
        )
    return cursor.rowcount == 1


def mark_sent(db: Database, id: int, now: Timestamp, message_id: str | None = None) -> None:
    """Acknowledge message `id` as delivered: it is never sent again."""
    with write_transaction(db):
        db.execute(
            "UPDATE outbox SET status = 'sent', sent_at = ?, message_id = ?, claimed_at = NULL, "
            "last_error = NULL WHERE id = ?",
            [to_timestamp(now), message_id, id],
        )


def mark_retry(
    db: Database,
    id: int,
    error: str | None,
    next_attempt_at: Timestamp,
    *,
    attempted: bool = True,
) -> None:
    """Put claimed message `id` back to pending, due at `next_attempt_at`.

    Like mark_failed, it changes only a row still "sending": a slow sender whose claim was
    taken over cannot turn a message another sender delivered back into a pending one.

    `error` (already redacted by the channel) goes to last_error. With `attempted=False`
    the claim's attempt is given back: the message was not tried at all, only deferred
    because its channel had just failed or asked to slow down.
    """
    with write_transaction(db):
        db.execute(
            "UPDATE outbox SET status = 'pending', next_attempt_at = ?, claimed_at = NULL, "
            "last_error = coalesce(?, last_error), "
            "attempts = CASE WHEN ? THEN attempts ELSE max(attempts - 1, 0) END "
            "WHERE id = ? AND status = 'sending'",
            [
                to_timestamp(next_attempt_at, round_up=True),
                redact.redact(error) if error else error,
                int(attempted),
                id,
            ],
        )


def mark_failed(db: Database, id: int, error: str) -> None:
    """Give up on message `id`: status failed, with the (redacted) reason in last_error."""
    with write_transaction(db):
        db.execute(
            "UPDATE outbox SET status = 'failed', last_error = ?, claimed_at = NULL "
            "WHERE id = ? AND status = 'sending'",
            [redact.redact(error), id],
        )


def requeue_failed(db: Database, now: Timestamp, ids: Iterable[int] | None = None) -> int:
    """Make failed messages (all, or those in `ids`) pending again with fresh attempts.

    For after the cause is fixed (a password, a revoked webhook). Returns how many.
    """
    stamp = to_timestamp(now)
    with write_transaction(db):
        if ids is None:
            cursor = db.execute(
                "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = ? "
                "WHERE status = 'failed'",
                [stamp],
            )
            return cursor.rowcount
        count = 0
        for outbox_id in ids:
            cursor = db.execute(
                "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = ? "
                "WHERE status = 'failed' AND id = ?",
                [stamp, outbox_id],
            )
            count += cursor.rowcount
        return count


def list_outbox(
    db: Database, status: str | None = None, limit: int | None = 100
) -> list[dict[str, Any]]:
    """Outbox rows, newest first, payload decoded; only those with `status` when given."""
    if status is not None and status not in STATUSES:
        raise ValueError(f"Unknown outbox status {status!r}. Known: {', '.join(STATUSES)}.")
    rows = db.execute(
        "SELECT * FROM outbox WHERE (:status IS NULL OR status = :status) "
        "ORDER BY id DESC LIMIT :limit",
        {"status": status, "limit": -1 if limit is None else limit},
    )
    columns = [c[0] for c in rows.description]
    return [_decode(dict(zip(columns, row, strict=True))) for row in rows.fetchall()]


def get_message(db: Database, id_or_key: int | str) -> dict[str, Any] | None:
    """One outbox row by id or key, payload decoded; None when there is none."""
    column = "id" if isinstance(id_or_key, int) else "key"
    rows = list(db.query(f"SELECT * FROM outbox WHERE {column} = ?", [id_or_key]))
    return _decode(rows[0]) if rows else None


def count_by_status(db: Database) -> dict[str, int]:
    """{status: number of rows} for every status, zeros included."""
    counts = dict.fromkeys(STATUSES, 0)
    for status, count in db.execute(
        "SELECT status, count(*) FROM outbox GROUP BY status"
    ).fetchall():
        counts[status] = count
    return counts


def _select_ids(db: Database, ids: list[int]) -> list[dict[str, Any]]:
    if not ids:
        return []
    marks = ", ".join("?" for _ in ids)
    return list(db.query(f"SELECT * FROM outbox WHERE id IN ({marks}) ORDER BY id", ids))


def _decode(row: dict[str, Any]) -> dict[str, Any]:
    row["payload"] = json.loads(row["payload"])
    return row
