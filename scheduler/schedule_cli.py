"""`presswatch schedule` (the daemon) and `presswatch run` (one pass, for cron).

Both read presswatch.toml once, check everything a run will need (sources' schedules, alert
rules, [health] channels) before crawling anything, and leave the work to scheduler.service.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from alerts.channels import ChannelConfigError, build_channels, close_all
from alerts.rules import RuleError
from alerts.runner import alert_setup
from crawler.config import ConfigError, load_config
from crawler.sources import SourceError
from db.redact import protect_logging
from scheduler import jobs, service
from scheduler.health import HealthConfigError, health_channels
from scheduler.jobs import Context, Outcome
from scheduler.options import config_option, db_option, open_database

EX_TEMPFAIL = 75  # sysexits.h: "try again later"; cron wrappers and systemd know it


class ConfigProblem(click.ClickException):
    """presswatch.toml cannot be run as it is; exit status 2, like a usage error."""

    exit_code = 2


crawl_timeout_option = click.option(
    "--crawl-timeout",
    type=click.FloatRange(min=1),
    default=jobs.DEFAULT_CRAWL_TIMEOUT,
    show_default=True,
    help="Seconds a crawl may run; then it is stopped and recorded as failed.",
)


def _context(db_path: str, config_path: str | None, crawl_timeout: float) -> Context:
    try:
        config = load_config(config_path)
        setup = alert_setup(
            config.aliases,
            config.channels,
            config.rules,
            known_sources=[source.key for source in config.registry],
        )
        channels = health_channels(setup, config.raw.get("health"))
        # Each channel checks its table when built: a typo fails now, not at the first alert.
        close_all(build_channels(jobs.delivery_channels(setup, channels)).values())
        for source in config.registry.enabled():
            jobs.source_trigger(source)  # a bad cron expression fails now, not at its time
    except (
        ConfigError,
        SourceError,
        RuleError,
        HealthConfigError,
        ChannelConfigError,
        jobs.ScheduleError,
    ) as exc:
        raise ConfigProblem(str(exc)) from exc
    open_database(db_path, must_exist=False).close()  # created and migrated, or a clear error
    return Context(
        db_path=str(Path(db_path).resolve()),
        config=config,
        setup=setup,
        health_channels=channels,
        crawl_timeout=crawl_timeout,
    )


def _logging(level: int) -> None:
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr
    )
    protect_logging()  # no secret in any line (db.redact)
    # APScheduler's INFO lines ("Running job", "Job executed successfully") and the alerts
    # package's (matched, sent) repeat our one line per job; their warnings stay (a missed
    # or skipped fire, a failed delivery).
    for name in ("apscheduler", "alerts"):
        logging.getLogger(name).setLevel(max(level, logging.WARNING))


@click.command()
@db_option
@config_option
@crawl_timeout_option
@click.option(
    "--stop-grace",
    type=click.FloatRange(min=0),
    default=service.DEFAULT_STOP_GRACE,
    show_default=True,
    help="On SIGTERM or Ctrl-C, seconds running crawls get to finish before they are stopped.",
)
@click.option(
    "--max-crawls",
    type=click.IntRange(min=1, max=16),
    default=service.DEFAULT_MAX_CRAWLS,
    show_default=True,
    help="Crawls (Scrapy processes) running at once.",
)
@click.option("-v", "--verbose", count=True, help="Debug logging.")
def schedule(
    db_path: str,
    config_path: str | None,
    crawl_timeout: float,
    stop_grace: float,
    max_crawls: int,
    verbose: int,
) -> None:
    """Run the daemon: every enabled source on its schedule, alerts after each crawl.

    \b
    Schedules come from the registry and presswatch.toml ("30m", "2h", "1d", or a
    five-field cron expression in UTC). Each crawl runs in its own process under a
    per-source lock, so a second daemon or a cron 'presswatch run --due' never crawls
    the same source at once. Sources overdue at start (or whose last run was
    interrupted) run at once; digests run on their rules' schedules; the outbox is
    retried every minute. SIGTERM or Ctrl-C stops cleanly (Ctrl-C twice: at once).
    Logs one line per crawl to stderr. Reads presswatch.toml at start: restart it
    after editing.
    Examples:
      presswatch schedule --db /var/lib/presswatch/presswatch.db
      presswatch schedule --crawl-timeout 1800 --stop-grace 60
    """
    _logging(logging.DEBUG if verbose else logging.INFO)
    ctx = _context(db_path, config_path, crawl_timeout)
    service.serve(ctx, max_crawls=max_crawls, stop_grace=stop_grace)


@click.command("run")
@click.option("--due", is_flag=True, help="Only the sources that are due (for cron).")
@click.option(
    "--source", "sources", multiple=True, help="This source (repeatable); with --due, if due."
)
@db_option
@config_option
@crawl_timeout_option
@click.option("-v", "--verbose", count=True, help="-v: a line per source; -vv: debug logging.")
@click.pass_context
def run_command(
    click_ctx: click.Context,
    due: bool,
    sources: tuple[str, ...],
    db_path: str,
    config_path: str | None,
    crawl_timeout: float,
    verbose: int,
) -> None:
    """Crawl sources one after another, then match and send alerts: one pass, for cron.

    \b
    --due runs each enabled source whose last successful run is older than its
    schedule (or whose cron fired since), or whose last run was interrupted. After
    downtime, an overdue source runs once. Sources another process is crawling are
    skipped. Quiet unless something fails (-v: a line per source).
    Exit status: 0 all ran fine or nothing was due; 1 a source failed; 2 a usage or
    configuration error; 75 a source was skipped because it was locked (try later).
    Examples:
      presswatch run --due                              # crontab: */5 * * * *
      presswatch run --source globaltimes               # now, due or not
    """
    if not due and not sources:
        raise click.UsageError("Say which sources: --due (those due now) or --source KEY.")
    _logging({0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG))
    ctx = _context(db_path, config_path, crawl_timeout)
    try:
        keys = [ctx.config.registry.get(key).key for key in sources]
    except SourceError as exc:
        raise click.BadParameter(str(exc), param_hint="--source") from exc
    if not keys:
        keys = [source.key for source in ctx.config.registry.enabled()]
    outcomes = service.run_once(ctx, keys, due_only=due)
    for outcome in outcomes:
        _report(outcome, verbose > 0 or sys.stdout.isatty())
    click_ctx.exit(exit_status(outcomes))


def _report(outcome: Outcome, chatty: bool) -> None:
    if outcome.failed:
        click.echo(outcome.line(), err=True)
    elif chatty:
        click.echo(outcome.line())


def exit_status(outcomes: list[Outcome]) -> int:
    """1 when a source failed, else 75 when one was locked or a signal stopped the pass, else 0."""
    if any(outcome.failed for outcome in outcomes):
        return 1
    if any(outcome.status in ("locked", "stopped") for outcome in outcomes):
        return EX_TEMPFAIL
    return 0
