"""Delivering the outbox: claim due messages, send each through its channel, record the result.

Owns when a message is tried and when it is given up: exponential backoff with jitter,
Retry-After honoured, `max_attempts`, and the rule that one failing channel never holds up
another. The table and its state changes are db.outbox; the transports are alerts.channels.

Guarantees (DESIGN.md: "a crash never loses an alert and a rerun never sends one twice"):

1. Nothing is lost: a message leaves the outbox only as "sent" (after its channel accepted
   it) or "failed" (with the reason in last_error; `db.outbox.requeue_failed` revives it).
2. Nothing acknowledged is sent again: each message is marked sent in its own transaction
   right after its send returns, before the next message is sent.
3. The one window: a process killed after the server accepted a message and before it was
   marked sent leaves that message "sending"; once `lease_seconds` have passed the next run
   sends it again. At most one message per killed sender, recognisable as a repeat (the
   same Message-ID for mail, the same Idempotency-Key for webhooks). Messages are claimed
   one at a time, so that message is the only one a killed sender leaves "sending": the
   others wait for no lease and are charged no attempt they did not make.
"""

from __future__ import annotations

import logging
import random
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlite_utils import Database

from alerts.channels import Channel, ChannelError, OutgoingMessage
from db import outbox as store
from db.outbox import Timestamp

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
BASE_BACKOFF = 30.0  # seconds; 30 s, 1 min, 2 min, 4 min, 8 min: about 15 min in all
MAX_BACKOFF = 6 * 3600.0
# Longer than any send can take (SMTP timeout 30 s, a login, a large mail): a claim older
# than this belongs to a sender that died.
LEASE_SECONDS = 300.0


@dataclass
class DeliveryReport:
    """What one `deliver` run did; `problems` has one redacted line per retry or failure."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    deferred: int = 0  # not tried: their channel had already failed or rate-limited this run
    problems: list[str] = field(default_factory=list)

    @property
    def claimed(self) -> int:
        return self.sent + self.retried + self.failed + self.deferred

    def __str__(self) -> str:
        return f"{self.sent} sent, {self.retried + self.deferred} to retry, {self.failed} failed"


def backoff(attempts: int, base: float, maximum: float, rng: random.Random) -> float:
    """Seconds before retrying after failed attempt number `attempts` (1 for the first).

    base * 2**(attempts-1), capped at `maximum`, times 1 to 1.25: the jitter spreads out the
    messages that failed together so they do not all come back at the same second.
    """
    delay = min(base * 2 ** max(attempts - 1, 0), maximum)
    return delay * rng.uniform(1.0, 1.25)


def deliver(
    db: Database,
    channels: Mapping[str, Channel],
    now: Timestamp | None = None,
    max_attempts: int = MAX_ATTEMPTS,
    base_backoff: float = BASE_BACKOFF,
    *,
    lease_seconds: float = LEASE_SECONDS,
    max_backoff: float = MAX_BACKOFF,
    rng: random.Random | None = None,
) -> DeliveryReport:
    """Send every due outbox message through `channels` (by name); return what happened.

    `now` fixes the clock for the whole run (tests, backfills); by default the real time is
    read at each step. A transient failure schedules a retry (Retry-After if the server gave
    one, else `backoff`) and defers the channel's other messages until then without
    counting an attempt, so a dead server costs one timeout per run, not one per message. A
    permanent failure, an unknown channel, or a transient failure on attempt `max_attempts`
    marks the message failed. Channels are closed at the end.
    """
    rng = rng or random.Random()
    report = DeliveryReport()
    # Channels that failed transiently in this run -> when their messages are due again.
    resting: dict[str, str] = {}

    def clock() -> datetime:
        return store.to_datetime(now) if now is not None else datetime.now(UTC)

    try:
        while True:
            # One message per claim. A claim marks a row "sending" and counts an attempt, so
            # a batch claimed by a sender that is then killed stays "sending" until the lease
            # runs out, every row charged an attempt it never had: a few kills (or one
            # message that crashes the sender) failed messages that were never tried.
            rows = store.claim_due(db, clock(), 1, lease_seconds)
            if not rows:
                break
            _deliver_one(
                db,
                rows[0],
                channels,
                resting,
                report,
                clock,
                rng,
                max_attempts=max_attempts,
                base_backoff=base_backoff,
                max_backoff=max_backoff,
            )
    finally:
        for channel in channels.values():
            channel.close()
    if report.claimed:
        logger.info("Outbox delivery: %s", report)
    return report


def _deliver_one(
    db: Database,
    row: dict[str, Any],
    channels: Mapping[str, Channel],
    resting: dict[str, str],
    report: DeliveryReport,
    clock: Callable[[], datetime],
    rng: random.Random,
    *,
    max_attempts: int,
    base_backoff: float,
    max_backoff: float,
) -> None:
    outbox_id, key, name, attempts = row["id"], row["key"], row["channel"], row["attempts"]
    # A channel rests until the time its failure set; once that has passed (a short
    # Retry-After while other channels were sending), it is tried again. Deferring to a time
    # already past would make the row due at once and this loop claim it forever.
    if name in resting and resting[name] > store.to_timestamp(clock()):
        store.mark_retry(db, outbox_id, None, resting[name], attempted=False)
        report.deferred += 1
        return
    channel = channels.get(name)
    if channel is None:
        known = ", ".join(sorted(channels)) or "none"
        reason = (
            f"Unknown channel {name!r} (configured: {known}). Add [channels.{name}] to "
            "presswatch.toml, then requeue the failed messages."
        )
        _fail(db, row, report, reason)
        return
    if attempts > max_attempts:
        # Only a reclaimed row gets here: its sender died mid-send on the last attempt.
        reason = (
            f"Gave up after {max_attempts} attempts; the last one was interrupted. "
            f"Last error: {row['last_error'] or 'none'}"
        )
        _fail(db, row, report, reason)
        return
    if not store.renew_claim(db, outbox_id, attempts, clock()):
        logger.warning("Skipping %s: another sender took it over (its lease ran out)", key)
        return
    message = OutgoingMessage(key=key, kind=row["kind"], payload=row["payload"], channel=name)
    try:
        receipt = channel.send(message)
    except ChannelError as exc:
        error, permanent, retry_after = str(exc), exc.permanent, exc.retry_after
    except Exception as exc:  # noqa: BLE001 - one message's bug must not stop the others
        # The exception text may quote anything the channel touched, so it is redacted, and
        # the traceback is logged without it (frames only: file, line, code).
        error = channel.redact(f"Unexpected {type(exc).__name__}: {exc}")
        permanent, retry_after = False, None
        logger.error(
            "Channel %s raised on %s: %s\n%s",
            name,
            key,
            error,
            "".join(traceback.format_tb(exc.__traceback__)),
        )
    else:
        store.mark_sent(db, outbox_id, clock(), receipt)
        report.sent += 1
        logger.info("Sent %s through %s", key, name)
        return

    if permanent:
        _fail(db, row, report, error)
        return
    if attempts >= max_attempts:
        _fail(db, row, report, f"{error} (gave up after {attempts} attempts)")
        return
    delay = (
        retry_after
        if retry_after is not None
        else backoff(attempts, base_backoff, max_backoff, rng)
    )
    when = store.later(clock(), max(delay, 1.0))
    store.mark_retry(db, outbox_id, error, when)
    resting[name] = when
    report.retried += 1
    report.problems.append(f"{key}: {error}; retry at {when}")
    logger.warning("Delivery of %s through %s failed: %s; retrying at %s", key, name, error, when)


def _fail(db: Database, row: dict[str, Any], report: DeliveryReport, error: str) -> None:
    store.mark_failed(db, row["id"], error)
    report.failed += 1
    report.problems.append(f"{row['key']}: failed: {error}")
    logger.error("Delivery of %s through %s failed for good: %s", row["key"], row["channel"], error)
