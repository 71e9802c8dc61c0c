"""What the scheduler runs: one source's crawl in a subprocess, and the alert passes.

Owns the sequence for one source, the same for the daemon and for `presswatch run`:

1. take the source's lock (`scheduler.locks`); busy means another process crawls it: skip;
2. mark runs whose process died as "interrupted" (`db.store.mark_interrupted_runs`);
3. decide whether the source is due (`due_reason`), from `crawl_runs` and not from memory:
   the database, not the scheduler, is the source of truth after a crash or a restart;
4. run `presswatch crawl --source KEY --no-alerts` in its own subprocess and process group
   (Twisted's reactor cannot restart), with a time limit, handing it the lock's descriptor;
5. settle its `crawl_runs` row: a crawl that was killed, timed out or stopped for a shutdown
   says so there, with the reason;
6. the health check (`scheduler.health.check_after_run`), then, in the daemon, the alerts
   pass (match, digests, delivery), still under the lock.

Also owns the triggers of source schedules (`source_trigger`, crontab weekdays read as
crontab(5) reads them) and the daemon's jobs: plain module-level functions with explicit ids
(`crawl:<key>`, `digest:<rule>`, `outbox`), scheduled by `scheduler.service`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlite_utils import Database

from alerts import match
from alerts.channels import build_channels
from alerts.outbox import DeliveryReport, deliver
from alerts.rules import Rule, Schedule
from alerts.runner import AlertSetup, run_alerts
from crawler.config import Config
from crawler.sources import Source, schedule_seconds
from db import store
from scheduler import locks
from scheduler.health import Problem, check_after_run
from scheduler.options import source_dict

logger = logging.getLogger(__name__)

# A crawl still running after this long is stopped and recorded as failed: a hung crawl must
# not hold its source's lock (and so every later run of it) forever.
DEFAULT_CRAWL_TIMEOUT = 3600.0
# After SIGTERM, Scrapy closes the spider cleanly (stores its last batch, records the run);
# a crawl that has not exited this long after it is killed with SIGKILL.
KILL_GRACE = 10.0
# How often a waiting job looks at its crawl process and at the stop flags.
POLL_SECONDS = 0.5
# A crawl killed from outside (the OOM killer, an operator) is redone once, this soon.
REDO_DELAY = 5.0
# Enough runs to find the last successful one behind a streak of failures.
RUNS_LOOKBACK = 50
# For the schedule, a rate-limited run counts as done: the site asked us to come back later,
# so the source waits its interval instead of being due at every opportunity like a failure.
SUCCESS = ("ok", "partial", "rate_limited")
# A source whose interval is shorter than this has jitter and slack scaled down to fit it.
MAX_JITTER = 60.0
MAX_SLACK = 60.0

# What `Outcome.status` can be besides a crawl_runs status: a source that was not crawled.
SKIPPED = ("locked", "not_due", "stopped")


class ScheduleError(ValueError):
    """A source's schedule cannot be turned into a trigger; the message says how to fix it."""


# ---- when a source is due ------------------------------------------------------------------


def slack_seconds(interval: float) -> float:
    """How early an interval source counts as due again.

    A run's started_at is written by the crawl process a few seconds after the job fired (and
    a crontab tick starts a little late, too), so "an hour since the last start" would often
    be a few seconds short at the next tick and the run would slip to the tick after.
    """
    return min(MAX_SLACK, interval / 2)


def jitter_seconds(interval: float | None) -> float:
    """At most how late a crawl job fires past its time (APScheduler's `jitter`).

    Sources sharing a schedule ("1h", or "0 * * * *") would otherwise start in the same
    second, competing for two cores and SQLite's one writer. Never more than the slack, so a
    late (jittered) fire always finds its source due.
    """
    if interval is None:
        return MAX_JITTER
    return min(MAX_JITTER, interval / 10)


def parse_time(value: str) -> datetime:
    """A stored UTC timestamp ("2024-05-01T12:00:00Z") as an aware datetime."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def last_success(runs: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The successful (ok, partial or rate_limited: SUCCESS) run that finished last."""
    done = [run for run in runs if run["status"] in SUCCESS and run.get("finished_at")]
    return max(done, key=lambda run: run["finished_at"], default=None)


def due_reason(source: Source, runs: Sequence[Mapping[str, Any]], now: datetime) -> str | None:
    """Why `source` is due at `now`, or None when it is not; `runs` are its recent
    crawl_runs rows, newest first (`db.store.recent_runs`).

    Due: its newest finished run was interrupted (redo it); it never succeeded; its last
    success started at least one interval ago (less the slack); or, on a cron schedule, the
    cron fired since the last success started. A failed run is not a success, so a failing
    source is due at every opportunity.
    """
    due, reason = check_due(source, runs, now)
    return reason if due else None


def check_due(source: Source, runs: Sequence[Mapping[str, Any]], now: datetime) -> tuple[bool, str]:
    """(due, why) for `due_reason`; "why" also explains a source that is not due."""
    finished = [run for run in runs if run["status"] != "running"]
    if finished and finished[0]["status"] == "interrupted":
        return True, f"run #{finished[0]['id']} was interrupted: redo"
    success = last_success(runs)
    if success is None:
        return True, "no successful run yet"
    started = parse_time(success["started_at"])
    last = f"last success #{success['id']} started {_span((now - started).total_seconds())} ago"
    interval = schedule_seconds(source.schedule)
    if interval is not None:
        due = (now - started).total_seconds() >= interval - slack_seconds(interval)
        return due, f"{last}, every {source.schedule}"
    # The first fire strictly after the run started: cron fires on whole seconds.
    after = started.replace(microsecond=0) + timedelta(seconds=1)
    fire = cron_trigger(source.schedule).get_next_fire_time(None, after)
    if fire is None:
        return False, f"{last}; cron '{source.schedule}' never fires again"
    when = f"{fire:%Y-%m-%d %H:%M:%S}Z"
    if fire <= now:
        return True, f"{last}; cron '{source.schedule}' fired since, at {when}"
    return False, f"{last}; cron '{source.schedule}' fires next at {when}"


def _span(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


# ---- triggers --------------------------------------------------------------------------------

_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def _weekday(token: str, expr: str) -> int:
    if token in _WEEKDAYS:
        return _WEEKDAYS.index(token)
    if token.isdigit() and int(token) <= 7:
        return int(token)
    raise ScheduleError(
        f"Cron expression '{expr}': day of week '{token}' is not 0-7 or sun..sat "
        "(0 and 7 are Sunday, as in crontab)."
    )


def crontab_weekdays(field_text: str, expr: str = "") -> str:
    """A crontab(5) day-of-week field as APScheduler 3 names: "1-5" -> "mon,tue,wed,thu,fri".

    APScheduler 3 numbers weekdays from Monday = 0 (its issue 286, fixed only in 4.x), so
    passing crontab numbers through would run "1-5" from Tuesday to Saturday. Names mean the
    same to both, so numbers, ranges and steps are expanded to names here.
    """
    text = field_text.strip().lower()
    if text in ("*", "?"):
        return "*"
    days: set[int] = set()
    for item in text.split(","):
        base, _, step_text = item.partition("/")
        if step_text and not step_text.isdigit():
            raise ScheduleError(f"Cron expression '{expr}': bad step in '{item}'.")
        step = int(step_text) if step_text else 1
        if base == "*":
            low, high = 0, 6
        elif "-" in base:
            first, last = base.split("-", 1)
            low, high = _weekday(first, expr), _weekday(last, expr)
        else:
            low = _weekday(base, expr)
            high = 6 if step_text else low  # "1/2" is "1-6/2" (7 would repeat Sunday)
        if low > high or step < 1:
            raise ScheduleError(f"Cron expression '{expr}': '{item}' is an empty range.")
        days.update(day % 7 for day in range(low, high + 1, step))
    if len(days) == 7:
        return "*"
    return ",".join(_WEEKDAYS[day] for day in sorted(days, key=lambda d: (d + 6) % 7))


def cron_trigger(expr: str, jitter: float | None = None) -> CronTrigger:
    """A UTC CronTrigger that reads a five-field `expr` as crontab(5) does.

    One difference stays: when both day of month and day of week are restricted, crontab
    runs on either and APScheduler only on days matching both.
    """
    fields = expr.split()
    if len(fields) != 5:
        raise ScheduleError(f"Cron expression '{expr}' needs five fields: m h dom mon dow.")
    minute, hour, day, month, weekdays = fields
    try:
        return CronTrigger(
            minute=minute,
            hour=hour,
            day=day,
            month=month,
            day_of_week=crontab_weekdays(weekdays, expr),
            timezone=UTC,
            jitter=jitter,
        )
    except ValueError as exc:
        if isinstance(exc, ScheduleError):
            raise
        raise ScheduleError(f"Cron expression '{expr}': {exc}.") from exc


def source_trigger(source: Source, anchor: datetime | None = None) -> BaseTrigger:
    """The trigger of a source's crawl job, in UTC, with jitter.

    An interval counts from `anchor` (the start of the last success), so a restarted daemon
    keeps the rhythm instead of waiting a whole interval from its own start.
    """
    interval = schedule_seconds(source.schedule)
    if interval is None:
        try:
            return cron_trigger(source.schedule, jitter=jitter_seconds(None))
        except ScheduleError as exc:
            raise ScheduleError(f"Source '{source.key}': {exc}") from exc
    if interval < 1:
        raise ScheduleError(f"Source '{source.key}': schedule '{source.schedule}' must be >= 1s.")
    return IntervalTrigger(
        seconds=interval,
        start_date=anchor or datetime.now(UTC),
        timezone=UTC,
        jitter=jitter_seconds(interval),
    )


class DigestTrigger(BaseTrigger):
    """Fires `delay` seconds after each period end of a digest rule's Schedule.

    `alerts.match.build_digests` closes a period only once its end is a whole second in the
    past, so a job firing at the end itself would find nothing to build. The period ends come
    from the rule's own Schedule, so the job and build_digests can never disagree on them.
    """

    def __init__(self, schedule: Schedule, delay: float = 2.0) -> None:
        self.schedule = schedule
        self.delay = timedelta(seconds=delay)

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        after = (previous_fire_time or now) - self.delay
        return self.schedule.next_fire(after) + self.delay

    def __str__(self) -> str:
        return f"digest[{self.schedule.text}]"


# ---- one source's crawl ----------------------------------------------------------------------


@dataclass
class Context:
    """What every job shares: where things are, what is configured, and the stop flags."""

    db_path: str
    config: Config
    setup: AlertSetup
    # Where health messages go (scheduler.health.health_channels of [health]).
    health_channels: list[str] = field(default_factory=list)
    crawl_timeout: float = DEFAULT_CRAWL_TIMEOUT
    kill_grace: float = KILL_GRACE
    # Set first on SIGTERM/Ctrl-C: start nothing new (queued jobs return at once).
    stopping: threading.Event = field(default_factory=threading.Event)
    # Set when the stop grace period is over: running crawls are stopped and recorded.
    terminate: threading.Event = field(default_factory=threading.Event)
    # One alerts pass at a time in this process: they would only queue on SQLite's writer.
    alerts_lock: threading.Lock = field(default_factory=threading.Lock)
    # The daemon's hook to run a crawl job again soon (`crawl_job` redo after a kill).
    reschedule: Callable[[str, float], None] | None = None
    _active: set[str] = field(default_factory=set)
    _changed: threading.Condition = field(default_factory=threading.Condition)

    def source(self, key: str) -> Source:
        return self.config.registry.get(key)

    @contextlib.contextmanager
    def crawling(self, key: str) -> Iterator[None]:
        with self._changed:
            self._active.add(key)
        try:
            yield
        finally:
            with self._changed:
                self._active.discard(key)
                self._changed.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no crawl is running (True) or `timeout` seconds pass (False)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._active:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
        return True

    def active(self) -> list[str]:
        with self._changed:
            return sorted(self._active)


@dataclass
class Outcome:
    """What happened to one source: a crawl_runs status, or why it was skipped."""

    source: str
    status: str  # ok | partial | failed | interrupted, or one of SKIPPED
    reason: str = ""
    run: dict[str, Any] | None = None
    seconds: float = 0.0
    timed_out: bool = False
    problems: list[Problem] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        """Did the source fail to crawl (for `run`'s exit status)? Skips are not failures."""
        return self.status in ("failed", "interrupted") or self.timed_out

    def line(self) -> str:
        """One log line: source, outcome, the run's numbers and the reason."""
        text = f"crawl {self.source}: {self.status}"
        run = self.run
        if run is not None:
            text += (
                f" in {self.seconds:.1f} s (run #{run['id']}: pages {run['pages_fetched']}, "
                f"new {run['articles_new']}, updated {run['articles_updated']}, "
                f"unchanged {run['articles_unchanged']}, dropped {run['articles_dropped']})"
            )
        if self.reason:
            text += f": {self.reason}"
        if self.problems:
            kinds = (p.kind + (" (new)" if p.opened else "") for p in self.problems)
            text += "; health: " + ", ".join(kinds)
        return text


def crawl_command(ctx: Context, key: str) -> list[str]:
    """The subprocess that crawls one source: the `crawl` command, storing only."""
    command = [sys.executable, "-m", "scheduler.cli", "crawl", "--source", key, "--no-alerts"]
    command += ["--db", ctx.db_path]
    if ctx.config.path is not None:
        # The file the scheduler read, not whatever the child's default lookup finds.
        command += ["--config", str(ctx.config.path.resolve())]
    return command


def run_source(ctx: Context, key: str, *, only_if_due: bool, alerts: bool) -> Outcome:
    """Crawl `key` under its lock (when due, with `only_if_due`), then health and alerts."""
    if ctx.stopping.is_set():
        return Outcome(key, "stopped", "the scheduler is stopping")
    try:
        lock = locks.acquire(ctx.db_path, key)
    except locks.LockBusy as exc:
        return Outcome(key, "locked", str(exc))
    with lock, ctx.crawling(key):
        db = store.open_db(ctx.db_path)
        try:
            return _run_locked(ctx, db, key, lock, only_if_due=only_if_due, alerts=alerts)
        finally:
            db.close()


def _run_locked(
    ctx: Context,
    db: Database,
    key: str,
    lock: locks.SourceLock,
    *,
    only_if_due: bool,
    alerts: bool,
) -> Outcome:
    store.mark_interrupted_runs(db)
    runs = store.recent_runs(db, key, RUNS_LOOKBACK)
    due, reason = check_due(ctx.source(key), runs, datetime.now(UTC))
    if only_if_due and not due:
        # In the daemon: usually another process (cron, a second daemon) crawled it.
        return Outcome(key, "not_due", reason)
    logger.info("crawl %s: started (%s)", key, reason if due else "asked for")
    began = time.monotonic()
    run, stopped_for, timed_out = _crawl(ctx, db, key, lock)
    outcome = Outcome(
        key, run["status"], run.get("error") or "", run, time.monotonic() - began, timed_out
    )
    if stopped_for != "shutdown":
        # A run stopped for our own shutdown says nothing about the source's health.
        outcome.problems = _check_health(ctx, db, key, run["id"])
    if alerts and not ctx.stopping.is_set():
        # When stopping, the alerts wait: matching resumes from its watermark next time.
        alerts_pass(ctx, db)
    return outcome


def _crawl(
    ctx: Context, db: Database, key: str, lock: locks.SourceLock
) -> tuple[dict[str, Any], str | None, bool]:
    """Run the crawl subprocess to its end; return its settled run row, why we stopped it
    ("shutdown", "timeout" or None) and whether it ran out of time."""
    before = store.last_run_id(db)
    deadline = time.monotonic() + ctx.crawl_timeout
    stopped_for: str | None = None
    with tempfile.TemporaryFile() as errors:
        # A file, not a pipe: nobody has to read Scrapy's warnings while it runs.
        child = subprocess.Popen(
            crawl_command(ctx, key),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,  # its summary line repeats our end-of-job line
            stderr=errors,
            # The crawl keeps the source locked even if this process dies first.
            pass_fds=(lock.fileno(),),
            # Its own process group: Ctrl-C in a terminal reaches only us (we decide when the
            # crawl stops), and a stop signal reaches everything the crawl started.
            start_new_session=True,
        )
        while child.poll() is None:
            if ctx.terminate.wait(POLL_SECONDS):
                why = "shutdown"
            elif time.monotonic() >= deadline:
                why = "timeout"
            else:
                continue
            # Only a crawl we actually stop is recorded as stopped: one that ended by itself
            # meanwhile keeps the outcome it recorded.
            if child.poll() is None:
                stopped_for = why
                _stop(child, ctx.kill_grace)
            break
        errors.seek(0)
        tail = _tail(errors.read())
    run = _settle(ctx, db, key, before, child, stopped_for, tail)
    return run, stopped_for, stopped_for == "timeout"


def _stop(child: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM the crawl's process group (Scrapy then shuts down cleanly), SIGKILL after
    `grace` seconds."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        # ProcessLookupError: the whole group is gone already, nothing left to signal.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, sig)
        try:
            child.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            if sig == signal.SIGTERM:
                logger.warning(
                    "crawl pid %s still running %.0f s after SIGTERM: SIGKILL", child.pid, grace
                )
    child.wait()


def _tail(data: bytes, lines: int = 5) -> str:
    text = data.decode("utf-8", "replace").strip().splitlines()
    return " | ".join(text[-lines:])


def _settle(
    ctx: Context,
    db: Database,
    key: str,
    before: int,
    child: subprocess.Popen[bytes],
    stopped_for: str | None,
    tail: str,
) -> dict[str, Any]:
    """Make the crawl's run row say how the crawl ended, and return it.

    A crawl that was stopped or died never finished its row (or finished it with a reason
    that hides ours); one that died before it started gets a row so the failure is seen.
    """
    code = child.returncode
    if stopped_for == "shutdown":
        status, reason = "interrupted", "stopped: the scheduler was shutting down"
    elif stopped_for == "timeout":
        # Not "interrupted": a crawl that hung would hang again if redone at once.
        status, reason = "failed", f"stopped after the time limit of {ctx.crawl_timeout:.0f} s"
    elif code is not None and code < 0:
        status, reason = "interrupted", f"crawl process killed by {signal.Signals(-code).name}"
    else:
        status, reason = (
            "failed",
            f"crawl process exited with status {code}" + (f": {tail}" if tail else ""),
        )
    mine = [
        run
        for run in store.runs_since(db, before)
        if run["source"] == key and run["pid"] == child.pid
    ]
    if not mine:
        # It died before it could record a run (or never opened its spider): record one, so
        # that `presswatch runs`, health and the due check all see the failure.
        if stopped_for is None and code is not None and code >= 0:
            reason = f"crawl process exited with status {code} without recording a run" + (
                f": {tail}" if tail else ""
            )
        run_id = store.start_run(db, key, "live", pid=child.pid)
        store.finish_run(db, run_id, status=status, error=reason)
        return _reload(db, run_id)
    run = mine[-1]
    if run["status"] == "running":
        store.finish_run(db, run["id"], status=status, error=reason)
    elif stopped_for is not None:
        # Scrapy closed the run itself ("finish reason: shutdown"); keep its numbers, say why.
        final = run["status"] if stopped_for == "timeout" else status
        error = reason + (f"; {run['error']}" if run.get("error") else "")
        store.finish_run(db, run["id"], status=final, error=error, **_numbers(run))
    else:
        return run
    return _reload(db, run["id"])


def _reload(db: Database, run_id: int) -> dict[str, Any]:
    return store.runs_since(db, run_id - 1)[0]


def _numbers(run: Mapping[str, Any]) -> dict[str, Any]:
    names = (
        "pages_fetched",
        "articles_new",
        "articles_updated",
        "articles_unchanged",
        "articles_dropped",
        "drop_reasons",
        "http_errors",
        "fill_rates",
        "stats",
    )
    return {name: run[name] for name in names}


def _check_health(ctx: Context, db: Database, key: str, run_id: int) -> list[Problem]:
    try:
        return check_after_run(
            db, key, run_id, ctx.setup, store.utc_now(), channels=ctx.health_channels
        )
    except store.StoreError as exc:
        # The crawl is stored; the next run checks health again.
        logger.error("health check of %s after run #%s failed: %s", key, run_id, exc)
        return []


# ---- alerts ----------------------------------------------------------------------------------


def delivery_channels(
    setup: AlertSetup, health_channels: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """The channel tables to deliver through: those of the rules and of health messages.

    Only channels in use are built: an unused channel with an unset ${VAR} must not stop the
    others (alerts.runner does the same for rules). Health's channels must be among them, or
    delivery would fail its messages as sent to an unknown channel.
    """
    used = {channel for rule in setup.rules for channel in rule.channels}
    used.update(health_channels)
    return {name: table for name, table in setup.channels.items() if name in used}


def deliver_pending(ctx: Context, db: Database) -> DeliveryReport:
    """Send every due outbox message: new alerts, digests, health notices and retries."""
    return deliver(db, build_channels(delivery_channels(ctx.setup, ctx.health_channels)))


def alerts_pass(ctx: Context, db: Database) -> None:
    """Match what is new, queue due digests, deliver; one pass at a time in this process."""
    sources = [source_dict(source) for source in ctx.config.registry]
    with ctx.alerts_lock:
        try:
            run = run_alerts(db, ctx.setup, sources, send=False)
            report = deliver_pending(ctx, db)
        except store.StoreError as exc:
            # Nothing is lost: matching resumes from its watermark, the outbox keeps its rows.
            logger.error("alerts pass failed, retried after the next crawl: %s", exc)
            return
    if run.matched.alerts or run.digests or report.claimed:
        logger.info(
            "alerts: %d queued, %d digests queued; delivery: %s",
            run.matched.alerts,
            run.digests,
            report,
        )


# ---- the daemon's jobs -----------------------------------------------------------------------


def crawl_job(ctx: Context, key: str) -> None:
    """Job `crawl:<key>`: crawl the source if it is due, then health and alerts.

    A fire finds the source not due when another process crawled it meanwhile. A crawl
    killed from outside is redone once, soon: APScheduler has already moved the job's next
    run a whole interval on.
    """
    outcome = run_source(ctx, key, only_if_due=True, alerts=True)
    if outcome.status in ("not_due", "stopped"):
        logger.debug("%s", outcome.line())
        return
    level = logging.WARNING if outcome.failed else logging.INFO
    logger.log(level, "%s", outcome.line())
    if (
        outcome.status == "interrupted"
        and ctx.reschedule is not None
        and not ctx.stopping.is_set()
        and _first_interruption(ctx, key)
    ):
        interval = schedule_seconds(ctx.source(key).schedule)
        delay = REDO_DELAY if interval is None else min(REDO_DELAY, interval / 2)
        logger.info("crawl %s: redoing the interrupted run in %.0f s", key, delay)
        ctx.reschedule(key, delay)


def _first_interruption(ctx: Context, key: str) -> bool:
    """Was the run before the newest one not interrupted? (No redo loop on a crash loop.)"""
    db = store.open_db(ctx.db_path)
    try:
        finished = [r for r in store.recent_runs(db, key, 3) if r["status"] != "running"]
    finally:
        db.close()
    return len(finished) < 2 or finished[1]["status"] != "interrupted"


def digest_job(ctx: Context, rule: Rule) -> None:
    """Job `digest:<rule>`: queue the rule's digests for the periods that ended, deliver."""
    db = store.open_db(ctx.db_path)
    try:
        with ctx.alerts_lock:
            queued = match.build_digests(db, [rule])
            report = deliver_pending(ctx, db) if queued else None
    finally:
        db.close()
    if queued:
        logger.info("digest %s: %d queued; delivery: %s", rule.name, queued, report)


def deliver_job(ctx: Context) -> None:
    """Job `outbox`: deliver messages that are due (retries, health notices, leftovers)."""
    # An alerts pass running now delivers anyway; this tick is not needed then.
    if not ctx.alerts_lock.acquire(blocking=False):
        return
    try:
        db = store.open_db(ctx.db_path)
        try:
            deliver_pending(ctx, db)  # logs what it sent (alerts.outbox)
        finally:
            db.close()
    finally:
        ctx.alerts_lock.release()
