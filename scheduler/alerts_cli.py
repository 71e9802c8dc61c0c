"""`presswatch alerts ...`: list, try and backtest rules; send what is pending; read the outbox."""

from __future__ import annotations

import json
from typing import Any

import click

from alerts import match as alerts_match
from alerts.query import QueryError, parse
from alerts.rules import Rule, RuleError
from alerts.runner import AlertSetup, alert_setup, run_alerts
from crawler.config import Config
from db import outbox as db_outbox
from scheduler.options import config_option, db_option, load, open_database, since_date, source_dict


def load_alert_setup(config: Config) -> AlertSetup:
    """The rules of presswatch.toml (or the shipped ones), as a ClickException when wrong."""
    try:
        return alert_setup(
            config.aliases,
            config.channels,
            config.rules,
            known_sources=[source.key for source in config.registry],
        )
    except RuleError as exc:
        raise click.ClickException(str(exc)) from exc


def alert_lines(run: Any) -> list[str]:
    """What an alerts pass did, for the crawl and demo summaries."""
    m = run.matched
    lines = [
        f"alerts: {m.articles} new or changed articles matched, {m.matches} matches, "
        f"{m.alerts} alerts queued, {run.digests} digests queued"
    ]
    if run.delivery is not None:
        lines.append(f"delivery: {run.delivery}")
    lines += [f"  {problem}" for problem in run.problems]
    return lines


def _rule_or_query(setup: AlertSetup, text: str) -> tuple[Rule | None, Any]:
    """A rule by name, else `text` parsed as a query (with the configured aliases)."""
    for rule in setup.rules:
        if rule.name == text:
            return rule, rule.query
    try:
        return None, parse(text, setup.aliases)
    except QueryError as exc:
        raise click.ClickException(f"Not a rule name, and not a valid query:\n{exc}") from exc


@click.group()
def alerts() -> None:
    """Keyword alerts: rules in presswatch.toml, matched after each crawl, sent once per story.

    Example: presswatch alerts backtest '@china_russia AND 科技' --since 2019-01-01
    """


@alerts.command("list")
@config_option
@click.option("--json", "as_json", is_flag=True, help="The rules as JSON.")
def list_rules(config_path: str | None, as_json: bool) -> None:
    """List the alert rules in force (presswatch.toml's, or the shipped set).

    Example: presswatch alerts list --json
    """
    setup = load_alert_setup(load(config_path))
    rows = [rule.to_row() for rule in setup.rules]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if setup.default:
        click.echo("(no [rules] in presswatch.toml: the shipped rule set is in force)")
    for rule in setup.rules:
        state = "on " if rule.enabled else "off"
        channels = ", ".join(rule.channels) or "-"
        click.echo(f"{state} {rule.name:<22} {rule.mode:<9} -> {channels}")
        click.echo(f"    {rule.query_text}")


@alerts.command("test")
@click.argument("rule_or_query")
@config_option
def test_rule(rule_or_query: str, config_path: str | None) -> None:
    """Parse a rule or a query and explain how it matches (aliases expanded).

    Example: presswatch alerts test 'Russia NEAR/10 "satellite navigation"'
    """
    setup = load_alert_setup(load(config_path))
    rule, query = _rule_or_query(setup, rule_or_query)
    if rule is not None:
        click.echo(f"Rule {rule.name} ({rule.mode}, channels: {', '.join(rule.channels)})")
    click.echo(query.explain())


@alerts.command()
@click.argument("rule_or_query")
@db_option
@config_option
@click.option("--since", help="Only articles published on or after this date (YYYY-MM-DD).")
@click.option("--samples", default=5, show_default=True, type=click.IntRange(min=0, max=100))
@click.option("--json", "as_json", is_flag=True, help="The report as JSON.")
def backtest(
    rule_or_query: str,
    db_path: str,
    config_path: str | None,
    since: str | None,
    samples: int,
    as_json: bool,
) -> None:
    """What a rule or query would have matched in the archive (nothing is written or sent).

    Example: presswatch alerts backtest china_russia_tech --since 2026-01-01
    """
    setup = load_alert_setup(load(config_path))
    rule, query = _rule_or_query(setup, rule_or_query)
    db = open_database(db_path)
    report = alerts_match.backtest(db, rule or query, since=since_date(since), samples=samples)
    if as_json:
        click.echo(json.dumps(report.__dict__, ensure_ascii=False, indent=2, default=str))
        return
    click.echo(f"{report.hits} of {report.scanned} articles match {report.query}")
    for name, counts in (("source", report.by_source), ("language", report.by_language)):
        if counts:
            click.echo(f"  by {name}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    for sample in report.samples:
        when = sample.get("published_at") or ""
        click.echo(f"- {when}  {sample.get('source')}  {sample.get('title')}")
        click.echo(f"    {sample.get('snippet')}")


@alerts.command()
@db_option
@config_option
@click.option("--retry-failed", is_flag=True, help="First make failed messages pending again.")
def send(db_path: str, config_path: str | None, retry_failed: bool) -> None:
    """Match what is new since the last run, then deliver every pending alert and digest.

    Example: presswatch alerts send --retry-failed
    """
    config = load(config_path)
    setup = load_alert_setup(config)
    db = open_database(db_path)
    if retry_failed:
        from db.store import utc_now

        click.echo(f"{db_outbox.requeue_failed(db, utc_now())} failed messages made pending")
    run = run_alerts(db, setup, [source_dict(s) for s in config.registry])
    for line in alert_lines(run):
        click.echo(line)
    if run.delivery is not None and run.delivery.failed:
        raise click.ClickException(
            f"{run.delivery.failed} message(s) failed for good; see 'presswatch alerts outbox "
            "--failed', fix the channel, then 'presswatch alerts send --retry-failed'."
        )


@alerts.command()
@db_option
@click.option("--failed", is_flag=True, help="Only messages that failed for good.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1, max=10000))
@click.option("--json", "as_json", is_flag=True, help="Rows as JSON (payload included).")
def outbox(db_path: str, failed: bool, limit: int, as_json: bool) -> None:
    """Show the outbox: every alert and digest, its channel, status, attempts and last error.

    Example: presswatch alerts outbox --failed
    """
    db = open_database(db_path)
    rows = db_outbox.list_outbox(db, status="failed" if failed else None, limit=limit)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2, default=str))
        return
    counts = db_outbox.count_by_status(db)
    click.echo(", ".join(f"{status} {n}" for status, n in counts.items()))
    for row in rows:
        error = f"  ({row['last_error']})" if row.get("last_error") else ""
        click.echo(
            f"#{row['id']:<5} {row['status']:<8} {row['channel']:<12} attempts "
            f"{row['attempts']}  {row['key']}{error}"
        )
