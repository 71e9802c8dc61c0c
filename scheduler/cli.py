"""The `presswatch` command line: one click group, a thin layer over the library.

Each command parses its arguments, calls crawler/db code, and turns their errors into
`click.ClickException`s whose text says how to fix the problem.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from crawler.config import ConfigError
from crawler.sources import Source, SourceError
from db import search as db_search
from db import store
from db.redact import protect_logging, redact
from scheduler.alerts_cli import alert_lines, alerts, load_alert_setup
from scheduler.health_cli import health
from scheduler.options import (
    config_option,
    db_option,
    load,
    open_database,
    since_date,
    source_dict,
)
from scheduler.schedule_cli import run_command, schedule

REPO_ROOT = Path(__file__).resolve().parents[1]
DEMO_ARCHIVE = REPO_ROOT / "demo" / "presswatch-demo.warc.gz"


class _RedactingGroup(click.Group):
    """The command group whose error messages never show a secret: they may quote a URL
    with user:password@ from presswatch.toml, or an exception's text (db.redact)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.ClickException as exc:
            exc.message = redact(exc.message)
            raise


@click.group(cls=_RedactingGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="presswatch")
def main() -> None:
    """presswatch: watch press briefings and news sites; keep clean records in SQLite.

    Start with 'presswatch demo', then 'presswatch search QUERY --db demo.db'.
    """
    # Commands that configure no logging print warnings through logging's last resort
    # handler: it gets the redacting filter too (db.redact).
    protect_logging()


# ---- crawl ---------------------------------------------------------------------------------


@main.command()
@click.option("--source", "sources", multiple=True, help="Registry key; repeat for several.")
@click.option("--url", "urls", multiple=True, help="Crawl a site not in the registry.")
@db_option
@config_option
@click.option(
    "--replay",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="Serve every request from this WARC archive instead of the network.",
)
@click.option(
    "--archive", type=click.Path(dir_okay=False), help="Write every response to this WARC file."
)
@click.option(
    "--max-articles", type=click.IntRange(min=1), help="Article pages per source, at most."
)
@click.option("--since", help="Skip articles published before this date (YYYY-MM-DD).")
@click.option("--max-listing-pages", type=click.IntRange(min=1), help="Cap on listing pagination.")
@click.option("--no-alerts", is_flag=True, help="Store only: match and send alerts later.")
@click.option("-v", "--verbose", count=True, help="-v: Scrapy's INFO log; -vv: DEBUG.")
def crawl(
    sources: tuple[str, ...],
    urls: tuple[str, ...],
    db_path: str,
    config_path: str | None,
    replay: tuple[str, ...],
    archive: str | None,
    max_articles: int | None,
    since: str | None,
    max_listing_pages: int | None,
    no_alerts: bool,
    verbose: int,
) -> None:
    """Crawl sources into the database, then match and send alerts.

    \b
    Examples:
      presswatch crawl                                  # every enabled source
      presswatch crawl --source globaltimes --max-articles 20
      presswatch crawl --url https://example.org/news/  # a site not in the registry
      presswatch crawl --archive today.warc.gz          # keep every response
      presswatch crawl --replay today.warc.gz           # rerun it with no network
    """
    config = load(config_path)
    try:
        keys = [config.registry.get(key).key for key in sources]
    except SourceError as exc:
        raise click.ClickException(str(exc)) from exc
    if not keys and not urls:
        keys = [s.key for s in config.registry.enabled()]
    # Checked before crawling: a broken rule should not surface after an hour of fetching.
    setup = None if no_alerts else load_alert_setup(config)
    failed = _run_and_report(
        db_path,
        keys,
        list(urls),
        config_path=config_path,
        overrides=_crawl_settings(config.crawl),
        replay=list(replay),
        archive=archive,
        max_articles=max_articles,
        since=since_date(since),
        max_listing_pages=max_listing_pages,
        verbose=verbose,
    )
    if setup is not None:
        _alerts_after_crawl(db_path, setup, config)
    if failed:
        raise click.ClickException(
            f"{len(failed)} source(s) failed entirely: {', '.join(failed)}. "
            "See 'presswatch runs' or rerun with -v for the log."
        )


def _alerts_after_crawl(db_path: str, setup: Any, config: Any) -> None:
    """Match what the crawl stored and deliver: after storage, outside the crawl's reactor."""
    from alerts.runner import run_alerts

    run = run_alerts(open_database(db_path), setup, [source_dict(s) for s in config.registry])
    for line in alert_lines(run):
        click.echo(line)


def _crawl_settings(crawl: dict[str, Any]) -> dict[str, object]:
    """Scrapy settings from the [crawl] section of presswatch.toml."""
    names = {
        "user_agent": "USER_AGENT",
        "concurrent_requests_per_domain": "CONCURRENT_REQUESTS_PER_DOMAIN",
        "max_listing_pages": "PRESSWATCH_MAX_LISTING_PAGES",
    }
    # download_delay is applied per source (crawler.config), not as a Scrapy setting.
    return {names[key]: value for key, value in crawl.items() if key in names}


def _run_and_report(db_path: str, keys: list[str], urls: list[str], **kwargs: Any) -> list[str]:
    """Run the crawls, print one summary line per source, return the keys that failed."""
    from crawler.runner import CrawlOptions, run_crawls

    verbose = kwargs.pop("verbose", 0)
    db = open_database(db_path, must_exist=False)
    before = store.last_run_id(db)
    options = CrawlOptions(
        db_path=db_path,
        progress=sys.stderr.isatty(),
        log_level={0: "WARNING", 1: "INFO"}.get(verbose, "DEBUG"),
        **kwargs,
    )
    try:
        run_crawls(options, keys, urls)
    except (FileNotFoundError, ConfigError, SourceError) as exc:
        raise click.ClickException(str(exc)) from exc
    runs = store.runs_since(db, before)
    for run in runs:
        click.echo(_run_line(run))
    return [run["source"] for run in runs if run["status"] == "failed"]


def _run_line(run: dict[str, Any]) -> str:
    errors = run.get("http_errors") or {}
    dropped = run.get("drop_reasons") or {}
    text = (
        f"{run['source']:<16} {run['status']:<8} pages {run['pages_fetched']:>4}  "
        f"new {run['articles_new']:>3}  updated {run['articles_updated']:>3}  "
        f"unchanged {run['articles_unchanged']:>3}  dropped {run['articles_dropped']:>3}"
    )
    if dropped:
        text += " (" + ", ".join(f"{k} {v}" for k, v in sorted(dropped.items())) + ")"
    if errors:
        text += "  http " + ", ".join(f"{k}×{v}" for k, v in sorted(errors.items()))
    if run.get("error") and run["status"] != "ok":
        # Why a run did not go well (a host that rate-limited us, an unreachable robots.txt)
        # belongs beside its numbers, not only in the -v log.
        text += f"\n    {run['error']}"
    return text


@main.command()
@db_option
@click.option("--source", help="Only this source.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(min=1))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per run.")
def runs(db_path: str, source: str | None, limit: int, as_json: bool) -> None:
    """Show recent crawl runs, newest first.

    Example: presswatch runs --source globaltimes --limit 5
    """
    rows = store.recent_runs(open_database(db_path), source=source, limit=limit)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for run in rows:
        click.echo(f"#{run['id']:<5} {run['started_at']}  " + _run_line(run))


# ---- demo ----------------------------------------------------------------------------------


@main.command()
@click.option(
    "--db",
    "db_path",
    default="demo.db",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="Where to write the demo database.",
)
@click.option(
    "--archive",
    "archive_path",
    default=str(DEMO_ARCHIVE),
    show_default=False,
    type=click.Path(exists=True, dir_okay=False),
    help="The WARC archive to replay (default: the bundled demo archive).",
)
def demo(db_path: str, archive_path: str) -> None:
    """Replay the bundled archive into demo.db (no network) and show what it found.

    Example: presswatch demo && presswatch search "technological innovation" --db demo.db
    """
    from crawler.sources import default_registry
    from crawler.warc import WarcIndex

    index = WarcIndex([Path(archive_path)])
    keys = [
        source.key
        for source in default_registry()
        if any(url in index for url in source.start_urls())
    ]
    click.echo(f"Replaying {len(index)} archived responses for {len(keys)} sources into {db_path}")
    failed = _run_and_report(db_path, keys, [], replay=[archive_path])
    db = open_database(db_path)
    click.echo("")
    click.echo(f"{store.count_articles(db)} articles in {db_path}:")
    for row in store.articles_per_source(db):
        click.echo(f"  {row['source']:<16} {row['n']:>3}")
    click.echo("")
    # The shipped rule set, on the console channel: the alerts print right here. A second
    # demo run prints none: every story has alerted once already.
    click.echo("Alerts (the shipped China–Russia technology rule, console channel):")
    from alerts.runner import alert_setup, run_alerts

    registry = default_registry()
    run = run_alerts(db, alert_setup({}, {}, {}), [source_dict(s) for s in registry])
    for line in alert_lines(run):
        click.echo(line)
    click.echo("")
    # The story this project started from: China and Russia's years of sci-tech innovation,
    # as Global Times reported it and as the MFA spokesperson said it on 2019-12-25.
    click.echo('The 2019-12-25 story ("technological innovation"), articles and briefing turns:')
    from alerts.query import parse, search_archive

    story = parse("technological innovation")
    for hit in search_archive(db, story, limit=3):
        click.echo(_hit_lines(hit))
    for hit in search_archive(db, story, role="answer", limit=2):
        click.echo(_hit_lines(hit))
    click.echo("")
    click.echo("Look at them:")
    click.echo(f'  presswatch search "technological innovation" --db {db_path}')
    click.echo(f'  presswatch search Russia --turns --speaker "Geng Shuang" --db {db_path}')
    click.echo(f"  presswatch search 中俄 --db {db_path}")
    click.echo(f"  presswatch show http://www.globaltimes.cn/content/1174814.shtml --db {db_path}")
    click.echo(f"  presswatch serve --db {db_path}        # browse it in Datasette")
    if failed:
        raise click.ClickException(f"Demo sources failed: {', '.join(failed)}")


# ---- reading -------------------------------------------------------------------------------


@main.command()
@click.argument("query")
@db_option
@config_option
@click.option("--source", help="Only this source.")
@click.option("--since", help="Published on or after this date (YYYY-MM-DD).")
@click.option("--lang", "language", help="Only this language (en, zh, ru).")
@click.option("--turns", is_flag=True, help="Search briefing turns instead of articles.")
@click.option("--speaker", help="Turns by this speaker (part of the name); implies --turns.")
@click.option(
    "--role",
    type=click.Choice(["question", "answer", "statement"]),
    help="Turns in this role; implies --turns.",
)
@click.option("--limit", default=20, show_default=True, type=click.IntRange(min=1, max=1000))
@click.option("--json", "as_json", is_flag=True, help="Results as a JSON list.")
def search(
    query: str,
    db_path: str,
    config_path: str | None,
    source: str | None,
    since: str | None,
    language: str | None,
    turns: bool,
    speaker: str | None,
    role: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """Search titles, bodies and briefing turns with the alert rule language.

    \b
    Words are ANDed; "exact phrase"; OR; NOT word or -word; (groups); prefix*;
    a NEAR/10 b; title: body: speaker: source: lang: kind: scopes; @alias from
    presswatch.toml. Case-insensitive; English and Russian words match in any form
    (satellites, Китая); Chinese by substring, Traditional or Simplified.
    The matched sentence is shown. Full syntax: docs/query-language.md.
    Examples:
      presswatch search "technological innovation"
      presswatch search '"science and technology" Russia -sanctions' --since 2019-01-01
      presswatch search '中俄 AND (科技 OR 创新)' --lang zh
      presswatch search 'russia NEAR/10 "satellite navigation"'
      presswatch search '@china_russia technolog*'
      presswatch search Russia --turns --speaker "Geng Shuang" --role answer
    """
    from alerts.query import QueryError, parse, search_archive

    try:
        parsed = parse(query, _search_aliases(query, config_path))
    except QueryError as exc:
        raise click.ClickException(f"{exc}\nSee docs/query-language.md for the syntax.") from exc
    db = open_database(db_path)
    tty = sys.stdout.isatty() and not as_json
    marks = ("\x1b[1;33m", "\x1b[0m") if tty else ("[", "]")
    try:
        hits = search_archive(
            db,
            parsed,
            turns=turns,
            speaker=speaker,
            role=role,
            source=source,
            since=since_date(since),
            language=language,
            limit=limit,
            marks=marks,
        )
    except db_search.SearchQueryError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(hits, ensure_ascii=False, indent=2))
        return
    if not hits:
        click.echo("No matches.", err=True)
        return
    for hit in hits:
        click.echo(_hit_lines(hit))


def _search_aliases(query: str, config_path: str | None) -> dict[str, list[str]]:
    """The aliases a search may use: presswatch.toml's, else the shipped rule set's.

    Read only when the query names one, so that a plain search never fails on a config.
    """
    if "@" not in query:
        return {}
    aliases = dict(load(config_path).aliases)
    if not aliases:
        from alerts.rules import default_config

        aliases = dict(default_config().get("aliases", {}))
    return aliases


def _hit_lines(hit: dict[str, Any]) -> str:
    """A search hit as three lines: date, source and title (or speaker); snippet; URL."""
    when = (hit.get("published_at") or "")[:10] or "????-??-??"
    if "role" in hit:
        who = hit.get("speaker") or hit.get("outlet") or "?"
        head = f"{when}  {hit['source']:<14} {hit['role']} #{hit['idx']} by {who}: {hit['title']}"
    else:
        head = f"{when}  {hit['source']:<14} {hit['title']}"
    return f"{head}\n    {hit['snippet']}\n    {hit['url']}  (id {hit['id']})"


@main.command()
@click.argument("id_or_url")
@db_option
@click.option("--json", "as_json", is_flag=True, help="The whole record as JSON.")
def show(id_or_url: str, db_path: str, as_json: bool) -> None:
    """Show one article by id or URL.

    Example: presswatch show http://www.globaltimes.cn/content/1174814.shtml
    """
    article = store.get_article(open_database(db_path), id_or_url)
    if article is None:
        raise click.ClickException(
            f"No article '{id_or_url}'. Find ids with 'presswatch search QUERY'."
        )
    if as_json:
        click.echo(json.dumps(article, ensure_ascii=False, indent=2))
        return
    click.echo(article["title"])
    if article.get("subtitle"):
        click.echo(article["subtitle"])
    click.echo("")
    rows = [
        ("source", article["source"]),
        ("url", article["url"]),
        ("published", _when(article)),
        ("updated", article.get("updated_at")),
        ("authors", ", ".join(article.get("authors") or [])),
        ("section", article.get("section")),
        ("dateline", article.get("dateline")),
        ("language", article.get("language")),
        ("kind", article.get("kind")),
        ("version", article.get("version")),
        ("parser", article.get("parser")),
    ]
    for name, value in rows:
        if value:
            click.echo(f"{name:>10}: {value}")
    for caption in article.get("captions") or []:
        credit = f" [{caption['credit']}]" if caption.get("credit") else ""
        click.echo(f"{'caption':>10}: {caption['text']}{credit}")
    click.echo("")
    if article.get("turns"):
        for turn in article["turns"]:
            who = turn.get("speaker") or turn.get("outlet") or ""
            label = f"{turn['role']}" + (f", {who}" if who else "")
            click.echo(f"[{turn['idx']}] ({label}) {turn['text']}\n")
        return
    click.echo(article["body"])


def _when(article: dict[str, Any]) -> str | None:
    if not article.get("published_at"):
        return None
    local = article.get("published_local")
    extra = f" (local {local})" if local and local != article["published_at"] else ""
    return f"{article['published_at']}{extra}, precision {article.get('date_precision')}"


@main.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="The registry as JSON.")
def sources(config_path: str | None, as_json: bool) -> None:
    """List the sources: built-in ones and those added in presswatch.toml.

    Example: presswatch sources --json
    """
    registry = load(config_path).registry
    if as_json:
        click.echo(json.dumps([source_dict(s) for s in registry], ensure_ascii=False, indent=2))
        return
    for s in registry:
        state = "on " if s.enabled else "off"
        click.echo(
            f"{state} {s.key:<14} {s.language}  {s.kind:<9} {s.schedule:>5}  "
            f"{_discovery(s):<24} {s.name}"
        )


def _discovery(source: Source) -> str:
    parts = []
    if source.feeds:
        parts.append("feed")
    if source.sitemaps:
        parts.append("sitemap")
    if source.listings:
        parts.append("listing")
    return "+".join(parts) or "-"


@main.command()
@db_option
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to bind; anything but loopback also needs --public.",
)
@click.option("--port", default=8001, show_default=True, type=int)
@click.option(
    "--public",
    is_flag=True,
    help="Allow a non-loopback --host: anyone who can reach it reads everything, no login.",
)
def serve(db_path: str, host: str, port: int, public: bool) -> None:
    """Browse the database in Datasette (read-only), with presswatch's metadata.

    Example: presswatch serve --db demo.db   # then open http://127.0.0.1:8001/
    """
    from scheduler import serve as datasette_serve

    try:
        warning = datasette_serve.check_bind(host, public)
    except datasette_serve.ServeError as exc:
        raise click.ClickException(str(exc)) from exc
    if warning:
        click.echo(warning, err=True)
    open_database(db_path).close()  # applies migrations and fails clearly on a missing file
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"Serving {db_path} at http://{shown}:{port}/ (Ctrl-C stops)", err=True)
    datasette_serve.run(db_path, host=host, port=port)


main.add_command(alerts)
main.add_command(health)
main.add_command(schedule)
main.add_command(run_command)


if __name__ == "__main__":  # pragma: no cover
    main()
