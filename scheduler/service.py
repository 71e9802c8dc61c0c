"""When things run: the `presswatch schedule` daemon and the `presswatch run` pass for cron.

The daemon is one small process: an APScheduler 3 BackgroundScheduler holding one job per
enabled source (`crawl:<key>`), one per digest rule (`digest:<rule>`) and one that delivers
the outbox every minute (`outbox`); each crawl runs in its own subprocess (scheduler.jobs).
The main thread only waits for a signal. SIGTERM or Ctrl-C stops it in three steps: nothing
new starts; running crawls get `stop_grace` seconds to finish; then they are stopped
(SIGTERM, SIGKILL after a grace) and recorded as "interrupted", to be redone at the next
start. A second signal skips the wait. Nothing is half-written: every write is one SQLite
transaction.

The job store is in memory on purpose: after a restart, what is due comes from
`crawl_runs` (`scheduler.jobs.due_reason`), which also knows about runs made by cron or by
another daemon; a persistent APScheduler job store would know only its own.

A second daemon on the same database is allowed and harmless: the per-source locks keep
them from crawling one source at once, and a fire finds a source crawled by the other
daemon not due.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from db import store
from scheduler import jobs
from scheduler.jobs import Context, Outcome

logger = logging.getLogger(__name__)

DEFAULT_STOP_GRACE = 30.0
DEFAULT_MAX_CRAWLS = 2  # two cores: more parallel Scrapy processes only queue on the CPU
OUTBOX_SECONDS = 60


def build_scheduler(ctx: Context, max_crawls: int = DEFAULT_MAX_CRAWLS) -> BackgroundScheduler:
    """The daemon's scheduler with every job added; not started."""
    scheduler = BackgroundScheduler(
        executors={
            # Crawl jobs have their own pool: a long crawl never delays a digest or the
            # outbox, and at most `max_crawls` Scrapy processes run at once. A fire that
            # finds the pool full waits in it (that is why crawls tolerate any lateness).
            "crawls": ThreadPoolExecutor(max_crawls),
            "default": ThreadPoolExecutor(2),
        },
        # Every job: several fires missed while the process was busy or suspended become
        # ONE run (coalesce; downtime is the due check's business, at start), and a job
        # never runs beside itself (max_instances=1): a crawl still running at its next
        # fire time makes that fire a no-op, logged by APScheduler as skipped.
        job_defaults={"coalesce": True, "max_instances": 1},
        timezone=UTC,
    )
    add_jobs(scheduler, ctx)
    return scheduler


def add_jobs(scheduler: BackgroundScheduler, ctx: Context) -> None:
    now = datetime.now(UTC)
    db = store.open_db(ctx.db_path)
    try:
        # Runs left "running" by a crash are interrupted: due now, and recorded as such.
        store.mark_interrupted_runs(db)
        for source in ctx.config.registry.enabled():
            runs = store.recent_runs(db, source.key, jobs.RUNS_LOOKBACK)
            success = jobs.last_success(runs)
            anchor = jobs.parse_time(success["started_at"]) if success else None
            due = jobs.due_reason(source, runs, now)
            when: dict[str, Any] = {"next_run_time": now} if due else {}
            scheduler.add_job(
                jobs.crawl_job,
                jobs.source_trigger(source, anchor),
                args=[ctx, source.key],
                id=f"crawl:{source.key}",
                name=f"crawl {source.key} ({source.schedule})",
                executor="crawls",
                # No limit: a crawl is still wanted however late it starts (after a suspend,
                # or queued behind other crawls); skipping it would wait a whole interval.
                misfire_grace_time=None,
                **when,
            )
            logger.info(
                "crawl %s: every %s; %s",
                source.key,
                source.schedule,
                f"due now ({due})" if due else "next at the next fire time",
            )
    finally:
        db.close()
    for rule in ctx.setup.rules:
        if not rule.enabled or rule.mode != "digest" or rule.schedule is None:
            continue
        scheduler.add_job(
            jobs.digest_job,
            jobs.DigestTrigger(rule.schedule),
            args=[ctx, rule],
            id=f"digest:{rule.name}",
            name=f"digest {rule.name} ({rule.schedule.text})",
            # No jitter: a digest is expected at its time, and each rule is one cheap job.
            # No lateness limit: build_digests catches up every ended period in one run
            # anyway, so a late run is never wrong; run once at start for those that ended
            # while the daemon was down.
            misfire_grace_time=None,
            next_run_time=now,
        )
    scheduler.add_job(
        jobs.deliver_job,
        # Retries come due at their own times (backoff, Retry-After); a minute is as late
        # as one waits. No jitter: it is one local job.
        IntervalTrigger(seconds=OUTBOX_SECONDS, timezone=UTC),
        args=[ctx],
        id="outbox",
        name="deliver the outbox",
        # Later than half its interval, the next tick is nearer: skip this one.
        misfire_grace_time=OUTBOX_SECONDS // 2,
        next_run_time=now,
    )


def serve(
    ctx: Context,
    *,
    max_crawls: int = DEFAULT_MAX_CRAWLS,
    stop_grace: float = DEFAULT_STOP_GRACE,
) -> None:
    """Run the daemon until SIGTERM or SIGINT; return once everything has stopped cleanly."""
    scheduler = build_scheduler(ctx, max_crawls)

    def reschedule(key: str, delay: float) -> None:
        job = scheduler.get_job(f"crawl:{key}")
        when = datetime.now(UTC) + timedelta(seconds=delay)
        if job is not None and (job.next_run_time is None or job.next_run_time > when):
            job.modify(next_run_time=when)

    ctx.reschedule = reschedule
    wake = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if ctx.stopping.is_set():
            logger.warning("%s again: stopping running crawls now", name)
            ctx.terminate.set()
        else:
            logger.info("%s: stopping (again to stop running crawls at once)", name)
            ctx.stopping.set()
        wake.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        scheduler.start()
        logger.info(
            "presswatch schedule: %d jobs; database %s", len(scheduler.get_jobs()), ctx.db_path
        )
        while not ctx.stopping.is_set():
            wake.wait(60)  # a signal sets `wake`; the timeout only bounds a missed wakeup
        # Step 1: no new fires; queued jobs see `stopping` and return at once.
        scheduler.pause()
        # Step 2: running crawls may finish within the grace period.
        active = ctx.active()
        if active:
            logger.info("waiting up to %.0f s for %s", stop_grace, ", ".join(active))
            _wait_or_signal(ctx, stop_grace)
        # Step 3: stop what still runs; each job records its run as interrupted.
        ctx.terminate.set()
        scheduler.shutdown(wait=True)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    logger.info("presswatch schedule: stopped")


def _wait_or_signal(ctx: Context, grace: float) -> None:
    """Wait up to `grace` seconds for the running crawls, less if a second signal comes."""
    deadline = time.monotonic() + grace
    while not ctx.terminate.is_set():
        left = deadline - time.monotonic()
        if left <= 0 or ctx.wait_idle(min(left, 0.5)):
            return


def run_once(ctx: Context, keys: Sequence[str], *, due_only: bool) -> list[Outcome]:
    """`presswatch run`: crawl `keys` one after another (only the due ones with
    `due_only`), then one alerts pass; return what happened to each source.

    SIGTERM or Ctrl-C stops the crawl in progress (recorded as interrupted, redone next
    time) and skips the rest.
    """

    def on_signal(signum: int, frame: FrameType | None) -> None:
        logger.warning("%s: stopping", signal.Signals(signum).name)
        ctx.stopping.set()
        ctx.terminate.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    outcomes: list[Outcome] = []
    try:
        for key in keys:
            outcomes.append(jobs.run_source(ctx, key, only_if_due=due_only, alerts=False))
        if not ctx.stopping.is_set():
            # Always, even when nothing was due: digests and retries come due by the clock.
            db = store.open_db(ctx.db_path)
            try:
                jobs.alerts_pass(ctx, db)
            finally:
                db.close()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return outcomes
