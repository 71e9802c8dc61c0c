"""`presswatch health`: each source's crawl health at a glance, from the database alone."""

from __future__ import annotations

import json
from typing import Any

import click

from db.store import utc_now
from scheduler.health import FILL_FIELDS, HISTORY_DAYS, headline, source_report
from scheduler.options import db_option, open_database

_FILL_HEADINGS = {"title": "TITLE", "published_at": "DATE", "body": "BODY"}


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def health_lines(report: list[dict[str, Any]]) -> list[str]:
    """The health table, then one line per open problem with its message."""
    head = (
        f"{'SOURCE':<18} {'LAST SUCCESS':<20} {'LAST RUN':<12} {f'{HISTORY_DAYS}D':>5} "
        + " ".join(f"{_FILL_HEADINGS[name]:>5}" for name in FILL_FIELDS)
        + "  OPEN PROBLEMS"
    )
    lines = [head]
    for row in report:
        problems = ", ".join(p["kind"] for p in row["open_problems"]) or "-"
        lines.append(
            f"{row['source']:<18} {row['last_success_at'] or 'never':<20} "
            f"{row['last_run_status'] or '-':<12} {row['articles_last_7_days']:>5} "
            + " ".join(f"{_rate(row['fill_rates'][name]):>5}" for name in FILL_FIELDS)
            + f"  {problems}"
        )
    details = [
        f"{row['source']} {problem['kind']} ({headline(problem['kind'])}), since "
        f"{problem['first_seen']}, last seen {problem['last_seen']}:\n  {problem['message']}"
        for row in report
        for problem in row["open_problems"]
    ]
    if details:
        lines += ["", *details]
    return lines


@click.command()
@db_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per source.")
def health(db_path: str, as_json: bool) -> None:
    """Show each source's crawl health: last success, new articles, fill rates, problems.

    \b
    Columns: the last successful run's end; the last run's status; articles first stored
    in the last 7 days; the share of parsed article pages with a title, a date and a body
    in the last successful run (pages dropped for lacking one count as missing); the open
    health problems, explained below the table. Problems are raised after each scheduled
    run and alert once through the health channels.
    Example: presswatch health --json
    """
    report = source_report(open_database(db_path), utc_now())
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    if not report:
        click.echo("No sources have run yet: run 'presswatch crawl' first.", err=True)
        return
    for line in health_lines(report):
        click.echo(line)
