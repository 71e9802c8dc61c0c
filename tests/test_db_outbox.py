"""The outbox table and its state changes (db.outbox, migration m003_outbox)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlite_utils

from db import outbox
from db.store import open_db, write_transaction

T0 = "2026-01-01T12:00:00Z"


def _enqueue(db: sqlite_utils.Database, key: str, channel: str = "mail", **kw: object) -> bool:
    return outbox.enqueue(
        db, key=key, channel=channel, kind="alert", payload={"rule": "r", "n": key}, now=T0, **kw
    )


def test_m003_creates_the_outbox_table(db: sqlite_utils.Database) -> None:
    assert list(db["outbox"].columns_dict) == [
        "id", "key", "channel", "kind", "payload", "status", "attempts", "next_attempt_at",
        "claimed_at", "last_error", "created_at", "sent_at", "message_id",
    ]  # fmt: skip
    unique = {tuple(i.columns) for i in db["outbox"].indexes if i.unique}
    assert ("key",) in unique


def test_enqueue_is_idempotent_by_key(db: sqlite_utils.Database) -> None:
    assert _enqueue(db, "alert:r:1:mail") is True
    assert _enqueue(db, "alert:r:1:mail") is False
    assert _enqueue(db, "alert:r:1:slack", channel="slack") is True
    rows = outbox.list_outbox(db)
    assert [r["key"] for r in rows] == ["alert:r:1:slack", "alert:r:1:mail"]
    assert rows[1]["payload"] == {"rule": "r", "n": "alert:r:1:mail"}
    assert rows[1]["status"] == "pending" and rows[1]["attempts"] == 0
    assert rows[1]["next_attempt_at"] == rows[1]["created_at"] == T0


def test_enqueue_joins_the_callers_transaction(db: sqlite_utils.Database) -> None:
    """A rollback of the caller's transaction takes the queued message with it."""

    class Boom(Exception):
        pass

    with pytest.raises(Boom), write_transaction(db):
        db.execute("INSERT INTO sources (key, name) VALUES ('s', 'S')")
        _enqueue(db, "alert:r:1:mail")
        assert db.conn.in_transaction
        raise Boom
    assert outbox.list_outbox(db) == []
    assert db.execute("SELECT count(*) FROM sources").fetchone()[0] == 0

    with write_transaction(db):
        _enqueue(db, "alert:r:1:mail")
        assert db.conn.in_transaction  # enqueue neither committed nor began
    assert len(outbox.list_outbox(db)) == 1


def test_enqueue_outside_a_transaction_commits(tmp_db: Path) -> None:
    with open_db(tmp_db) as db:
        _enqueue(db, "alert:r:1:mail")
        assert not db.conn.in_transaction
    with open_db(tmp_db) as db:
        assert len(outbox.list_outbox(db)) == 1


def test_enqueue_refuses_an_unknown_kind(db: sqlite_utils.Database) -> None:
    with pytest.raises(ValueError, match="Unknown outbox kind 'sms'"):
        outbox.enqueue(db, key="k", channel="c", kind="sms", payload={}, now=T0)


def test_claim_due_takes_due_rows_once(db: sqlite_utils.Database) -> None:
    for n in range(3):
        _enqueue(db, f"k{n}")
    claimed = outbox.claim_due(db, T0, limit=2, lease_seconds=300)
    assert [r["key"] for r in claimed] == ["k0", "k1"]
    assert all(r["status"] == "sending" and r["attempts"] == 1 for r in claimed)
    assert claimed[0]["claimed_at"] == T0
    assert [r["key"] for r in outbox.claim_due(db, T0, 10, 300)] == ["k2"]
    assert outbox.claim_due(db, T0, 10, 300) == []


def test_claim_due_waits_for_next_attempt_at(db: sqlite_utils.Database) -> None:
    _enqueue(db, "k")
    (row,) = outbox.claim_due(db, T0, 10, 300)
    outbox.mark_retry(db, row["id"], "HTTP 500", "2026-01-01T12:00:30Z")
    assert outbox.claim_due(db, "2026-01-01T12:00:29Z", 10, 300) == []
    (again,) = outbox.claim_due(db, "2026-01-01T12:00:30Z", 10, 300)
    assert again["attempts"] == 2 and again["last_error"] == "HTTP 500"


def test_a_stale_claim_is_taken_again_after_the_lease(db: sqlite_utils.Database) -> None:
    """A sender that died leaves 'sending' rows: another sender takes them after the lease."""
    _enqueue(db, "k")
    outbox.claim_due(db, T0, 10, lease_seconds=300)
    assert outbox.claim_due(db, "2026-01-01T12:04:59Z", 10, lease_seconds=300) == []
    (row,) = outbox.claim_due(db, "2026-01-01T12:05:00Z", 10, lease_seconds=300)
    assert row["attempts"] == 2 and row["claimed_at"] == "2026-01-01T12:05:00Z"


def test_sent_rows_are_never_claimed_again(db: sqlite_utils.Database) -> None:
    _enqueue(db, "k")
    (row,) = outbox.claim_due(db, T0, 10, 300)
    outbox.mark_sent(db, row["id"], T0, "<id@x>")
    assert outbox.claim_due(db, "2030-01-01T00:00:00Z", 10, lease_seconds=0) == []
    sent = outbox.get_message(db, "k")
    assert sent is not None
    assert (sent["status"], sent["sent_at"], sent["message_id"]) == ("sent", T0, "<id@x>")
    assert outbox.get_message(db, sent["id"]) == sent


def test_mark_retry_without_an_attempt_gives_the_attempt_back(
    db: sqlite_utils.Database,
) -> None:
    _enqueue(db, "k")
    (row,) = outbox.claim_due(db, T0, 10, 300)
    outbox.mark_retry(db, row["id"], None, T0, attempted=False)
    message = outbox.get_message(db, "k")
    assert message is not None
    assert (message["status"], message["attempts"], message["last_error"]) == ("pending", 0, None)


def test_failed_rows_stay_failed_until_requeued(db: sqlite_utils.Database) -> None:
    _enqueue(db, "a")
    _enqueue(db, "b")
    for row in outbox.claim_due(db, T0, 10, 300):
        outbox.mark_failed(db, row["id"], "HTTP 404: no_service")
    assert outbox.count_by_status(db) == {"pending": 0, "sending": 0, "sent": 0, "failed": 2}
    assert outbox.claim_due(db, "2030-01-01T00:00:00Z", 10, 0) == []
    assert [r["last_error"] for r in outbox.list_outbox(db, status="failed")] == [
        "HTTP 404: no_service"
    ] * 2
    a = outbox.get_message(db, "a")
    assert a is not None
    assert outbox.requeue_failed(db, T0, ids=[a["id"]]) == 1
    assert outbox.requeue_failed(db, T0) == 1
    assert {r["attempts"] for r in outbox.claim_due(db, T0, 10, 300)} == {1}


def test_list_outbox_refuses_an_unknown_status(db: sqlite_utils.Database) -> None:
    with pytest.raises(ValueError, match="Known: pending, sending, sent, failed"):
        outbox.list_outbox(db, status="done")


def test_timestamps_are_normalised_to_utc_seconds() -> None:
    assert outbox.to_timestamp("2026-01-01T13:00:00.5+01:00") == "2026-01-01T12:00:00Z"
    assert outbox.to_timestamp("2026-01-01T12:00:00.5Z", round_up=True) == "2026-01-01T12:00:01Z"
    assert outbox.later("2026-01-01T12:00:00Z", 1) == "2026-01-01T12:00:01Z"
    assert outbox.later("2026-01-01T12:00:00Z", 0.2) == "2026-01-01T12:00:01Z"
    with pytest.raises(ValueError, match="Not an ISO 8601 time"):
        outbox.to_timestamp("yesterday")


def test_a_taken_over_claim_is_not_ours_any_more(db: sqlite_utils.Database) -> None:
    """A slow sender whose lease ran out can neither send nor undo the new owner's work."""
    _enqueue(db, "k")
    (slow,) = outbox.claim_due(db, T0, 10, lease_seconds=300)
    assert outbox.renew_claim(db, slow["id"], slow["attempts"], T0)
    (fast,) = outbox.claim_due(db, "2026-01-01T12:05:00Z", 10, lease_seconds=300)
    assert fast["attempts"] == slow["attempts"] + 1
    assert not outbox.renew_claim(db, slow["id"], slow["attempts"], "2026-01-01T12:05:01Z")
    outbox.mark_sent(db, fast["id"], "2026-01-01T12:05:02Z")
    outbox.mark_retry(db, slow["id"], "timed out", "2026-01-01T12:10:00Z")
    outbox.mark_failed(db, slow["id"], "timed out")
    message = outbox.get_message(db, "k")
    assert message is not None
    assert (message["status"], message["last_error"]) == ("sent", None)
