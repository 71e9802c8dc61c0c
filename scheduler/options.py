"""What every presswatch command shares: the --db and --config options and their loading.

Library errors become click.ClickExceptions whose text says how to fix the problem.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import click

from crawler.config import Config, ConfigError, load_config
from crawler.sources import Source, SourceError
from db import store

DEFAULT_DB = "presswatch.db"

db_option = click.option(
    "--db",
    "db_path",
    envvar="PRESSWATCH_DB",
    default=DEFAULT_DB,
    show_default=True,
    type=click.Path(dir_okay=False),
    help="SQLite database file (or set PRESSWATCH_DB).",
)
config_option = click.option(
    "--config",
    "config_path",
    envvar="PRESSWATCH_CONFIG",
    type=click.Path(dir_okay=False),
    help="presswatch.toml (default: ./presswatch.toml if it exists).",
)


def open_database(db_path: str, must_exist: bool = True) -> Any:
    if must_exist and not Path(db_path).exists():
        raise click.ClickException(
            f"No database at '{db_path}'. Run 'presswatch crawl' (or 'presswatch demo' and "
            "use --db demo.db) first, or point --db / PRESSWATCH_DB at your database."
        )
    try:
        return store.open_db(db_path)
    except store.StoreError as exc:
        raise click.ClickException(str(exc)) from exc


def load(config_path: str | None) -> Config:
    try:
        return load_config(config_path)
    except (ConfigError, SourceError) as exc:
        raise click.ClickException(str(exc)) from exc


def since_date(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise click.BadParameter(f"'{value}' is not a date; use YYYY-MM-DD.") from None


def source_dict(source: Source) -> dict[str, Any]:
    """A registry entry as plain data: for `sources --json` and the `sources` table."""
    return {
        "key": source.key,
        "name": source.name,
        "language": source.language,
        "timezone": source.timezone,
        "kind": source.kind,
        "homepage": source.homepage,
        "feeds": list(source.feeds),
        "sitemaps": list(source.sitemaps),
        "listings": [
            {"url": li.url, "pages": li.pages, "max_pages": li.max_pages} for li in source.listings
        ],
        "article_patterns": list(source.article_patterns),
        "parser": source.parser,
        "schedule": source.schedule,
        "enabled": source.enabled,
        "builtin": source.builtin,
        "download_delay": source.download_delay,
    }
