"""Crawl health: problems judged against a source's own history, one alert each, one recovery.

Most tests build crawl_runs histories directly with db.store.start_run/finish_run and move
their times; one drives real crawls of a site on 127.0.0.1 whose pages lose their body.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils
import yaml
from click.testing import CliRunner

from alerts.channels import build_channels
from alerts.outbox import deliver
from alerts.runner import AlertSetup, alert_setup
from db import store
from scheduler.cli import main
from scheduler.health import HealthConfigError, Problem, check_after_run, health_channels
from tests.localsite import LocalSite
from tests.test_crawl import build_site, write_config

T0 = datetime(2026, 7, 1, 6, 0, tzinfo=UTC)
SOURCE = "wire"
HEALTHY_FILL = {"title": 1.0, "published_at": 1.0, "body": 1.0, "authors": 0.5}


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def setup(tmp_path: Path) -> AlertSetup:
    """One rule sending to a JSONL file, so health goes there too by default."""
    return alert_setup(
        {},
        {"ops": {"type": "jsonl", "path": str(tmp_path / "ops.jsonl")}},
        {"watch": {"query": "satellite", "channels": ["ops"]}},
    )


class Source:
    """A source's run history, one `run(...)` at a time, each checked as the scheduler would."""

    def __init__(self, db: sqlite_utils.Database, setup: AlertSetup, key: str = SOURCE) -> None:
        self.db, self.setup, self.key = db, setup, key
        self.clock = T0

    def add(
        self,
        *,
        at: datetime | None = None,
        status: str = "ok",
        new: int = 0,
        unchanged: int = 10,
        dropped: dict[str, int] | None = None,
        http: dict[str, int] | None = None,
        fill: dict[str, float | None] | None = None,
        stats: dict[str, Any] | None = None,
        pages: int | None = None,
        error: str | None = None,
    ) -> int:
        """Record one finished run at `at` (default: an hour after the last one)."""
        self.clock = at or self.clock + timedelta(hours=1)
        dropped = dropped or {}
        stored = new + unchanged
        parsed = stored + sum(dropped.values())
        if fill is None:
            fill = HEALTHY_FILL if stored else dict.fromkeys(HEALTHY_FILL)
        run_id = store.start_run(self.db, self.key, "live", pid=1)
        store.finish_run(
            self.db,
            run_id,
            status=status,
            # The feed and robots.txt besides the article pages.
            pages_fetched=parsed + 2 if pages is None else pages,
            articles_new=new,
            articles_unchanged=unchanged,
            articles_dropped=sum(dropped.values()),
            drop_reasons=dropped,
            http_errors=http or {},
            fill_rates=fill,
            stats={
                f"parser/{self.key}/parsed": parsed,
                "item_scraped_count": stored,
                **(stats or {}),
            },
            error=error,
        )
        self.db["crawl_runs"].update(
            run_id,
            {
                "started_at": stamp(self.clock),
                "finished_at": stamp(self.clock + timedelta(minutes=1)),
            },
        )
        return run_id

    def run(self, **kwargs: Any) -> list[Problem]:
        """Add a run and check it."""
        run_id = self.add(**kwargs)
        return check_after_run(
            self.db, self.key, run_id, self.setup, self.clock + timedelta(minutes=2)
        )

    def healthy(self, n: int, **kwargs: Any) -> None:
        for _ in range(n):
            assert self.run(**kwargs) == []


@pytest.fixture
def wire(db: sqlite_utils.Database, setup: AlertSetup) -> Source:
    return Source(db, setup)


def health_messages(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    rows = db.query("SELECT key, channel, payload FROM outbox WHERE kind = 'health' ORDER BY id")
    return [{**row, "payload": json.loads(row["payload"])} for row in rows]


def health_rows(db: sqlite_utils.Database) -> dict[str, dict[str, Any]]:
    return {row["kind"]: row for row in db.query("SELECT * FROM source_health")}


# --- empty bodies: one alert, one recovery --------------------------------------------------


def test_empty_bodies_raise_one_alert_over_many_runs_and_one_recovery_notice(
    wire: Source, db: sqlite_utils.Database
) -> None:
    wire.healthy(1, new=10, unchanged=0)
    wire.healthy(4)
    # The redesign: every page now parses without a body, and validation drops it.
    broken = {"dropped": {"no_body": 10}, "unchanged": 0}
    first = wire.run(**broken)
    assert [(p.kind, p.opened) for p in first] == [("fill_rate:body", True)]
    for _ in range(4):
        assert [(p.kind, p.opened) for p in wire.run(**broken)] == [("fill_rate:body", False)]

    (alert,) = health_messages(db)
    assert alert["channel"] == "ops"
    assert alert["key"].startswith(f"health:{SOURCE}:fill_rate:body:")
    payload = alert["payload"]
    assert payload["title"] == f"Health: {SOURCE}: body missing from pages"
    assert "Body filled on 0% of 10 article pages, usually 100%" in payload["text"]
    assert "10 pages were dropped for having none" in payload["text"]
    assert payload["evidence"]["usual"] == 1.0 and payload["evidence"]["rate"] == 0.0
    row = health_rows(db)["fill_rate:body"]
    assert row["status"] == "open" and row["occurrences"] == 1
    assert row["last_seen"] > row["first_seen"]

    # Five broken runs did not make "no body" the usual: the first healthy run recovers.
    assert wire.run() == []
    wire.healthy(3)
    alert_again, recovery = health_messages(db)
    assert alert_again == alert
    assert recovery["payload"]["title"] == f"Recovered: {SOURCE}: body missing from pages"
    assert recovery["key"] == alert["key"].replace(":open:", ":resolved:")
    assert "Body filled on 100% of 10 article pages" in recovery["payload"]["text"]
    assert health_rows(db)["fill_rate:body"]["status"] == "resolved"

    # The same problem coming back later is a new occurrence: one more alert.
    wire.run(**broken)
    wire.run(**broken)
    assert len(health_messages(db)) == 3
    assert health_rows(db)["fill_rate:body"]["occurrences"] == 2


def test_health_messages_render_through_the_alert_channels(
    wire: Source, db: sqlite_utils.Database, setup: AlertSetup, tmp_path: Path
) -> None:
    wire.healthy(4)
    wire.run(dropped={"no_body": 10}, unchanged=0)
    report = deliver(db, build_channels(setup.channels), now=wire.clock + timedelta(minutes=5))
    assert report.sent == 1
    (line,) = (tmp_path / "ops.jsonl").read_text(encoding="utf-8").splitlines()
    record = json.loads(line)
    assert record["kind"] == "health"
    assert record["subject"] == f"[presswatch] Health: {SOURCE}: body missing from pages"


# --- rare publishers --------------------------------------------------------------------------


def test_a_source_whose_runs_are_often_empty_is_not_alerted_for_an_empty_run(
    wire: Source, db: sqlite_utils.Database
) -> None:
    # A feed that lists only today's items: most runs find nothing, and that is normal.
    for day in range(10):
        wire.healthy(1, new=2 if day % 3 == 0 else 0, unchanged=0)
    assert wire.run(new=0, unchanged=0) == []
    assert health_messages(db) == [] and health_rows(db) == {}


def test_a_weekly_briefing_is_not_broken_on_tuesday(
    wire: Source, db: sqlite_utils.Database
) -> None:
    # Crawled daily; a new briefing every Monday; the listing shows the latest one.
    for day in range(36):
        monday = day % 7 == 0
        wire.healthy(1, at=T0 + timedelta(days=day), new=int(monday), unchanged=int(not monday))
    assert health_messages(db) == [] and health_rows(db) == {}


def test_no_articles_where_there_always_are_some_is_a_problem(
    wire: Source, db: sqlite_utils.Database
) -> None:
    wire.healthy(5)
    (problem,) = wire.run(unchanged=0, pages=3, stats={"discovery/not_xml": 2})
    assert problem.kind == "no_articles"
    assert "2 feed or sitemap URLs answered with something other than XML" in problem.message
    assert "No article page in this run (3 responses), while 5 of the last 5 runs" in (
        problem.message
    )
    assert wire.run() == []
    assert [m["payload"]["state"] for m in health_messages(db)] == ["open", "resolved"]


# --- HTTP errors, blocks, fallbacks -----------------------------------------------------------


def test_http_errors_beyond_the_usual_are_a_problem_and_a_stray_404_is_not(
    wire: Source, db: sqlite_utils.Database
) -> None:
    wire.healthy(5, http={"404": 1, "301": 2})
    (problem,) = wire.run(http={"403": 8, "404": 1}, pages=20)
    assert problem.kind == "http_errors"
    assert "9 of 20 requests failed (45%), usually 8%: 403×8, 404×1." in problem.message
    assert "rate-limits the crawler" in problem.message
    assert problem.evidence["codes"] == {"403": 8, "404": 1}
    wire.healthy(1, http={"404": 1})
    assert health_rows(db)["http_errors"]["status"] == "resolved"


def test_a_run_with_no_answers_is_http_errors_not_no_articles(wire: Source) -> None:
    wire.healthy(5)
    problems = wire.run(
        unchanged=0, pages=14, http={"503": 12}, stats={"downloader/exception_count": 3}
    )
    assert [p.kind for p in problems] == ["http_errors"]
    assert "15 of 17 requests failed" in problems[0].message
    assert "3 unanswered" in problems[0].message


def test_bot_walls_and_robots_bans_are_blocks(wire: Source, db: sqlite_utils.Database) -> None:
    wire.healthy(5)
    (wall,) = wire.run(unchanged=1, dropped={"blocked": 9})
    assert wall.kind == "blocked"
    assert "9 of 10 article pages were blocked (90%)" in wall.message
    wire.healthy(1)

    # robots.txt now disallows every article: nothing is fetched, and it says why.
    (ban,) = wire.run(unchanged=0, stats={"robotstxt/forbidden": 10}, pages=2)
    assert ban.kind == "blocked" and ban.evidence["robots_forbidden"] == 10
    assert [m["payload"]["state"] for m in health_messages(db)] == ["open", "resolved", "open"]


def test_parser_fallbacks_rising_are_a_problem(wire: Source) -> None:
    wire.healthy(5, stats={f"parser/{SOURCE}/fallback/published_at": 1})
    (problem,) = wire.run(stats={f"parser/{SOURCE}/fallback/published_at": 8})
    assert problem.kind == "fallbacks:published_at"
    assert "for published_at on 8 of 10 pages (80%), usually 10%" in problem.message
    assert wire.run(stats={f"parser/{SOURCE}/fallback/published_at": 1}) == []


def test_a_fallback_that_leaves_the_field_empty_is_reported_once_as_a_fill_rate(
    wire: Source,
) -> None:
    wire.healthy(5)
    problems = wire.run(
        unchanged=0,
        dropped={"no_body": 10},
        stats={f"parser/{SOURCE}/fallback/body": 10},
    )
    assert [p.kind for p in problems] == ["fill_rate:body"]


def test_a_date_that_stops_being_found_is_a_fill_rate_problem(wire: Source) -> None:
    wire.healthy(5)
    (problem,) = wire.run(fill={**HEALTHY_FILL, "published_at": 0.2})
    assert problem.kind == "fill_rate:published_at"
    assert "Publication date filled on 20% of 10 article pages, usually 100%" in problem.message


# --- feeds, failures --------------------------------------------------------------------------


def test_a_feed_that_stops_bringing_new_articles_is_stale(
    wire: Source, db: sqlite_utils.Database
) -> None:
    # Every 6 hours; new articles once a day: a stale feed is one with none for 4 days.
    for run in range(32):
        wire.healthy(1, at=T0 + timedelta(hours=6 * run), new=2 if run % 4 == 0 else 0)
    for _ in range(12):  # up to four days without anything new: still fine
        wire.healthy(1, at=wire.clock + timedelta(hours=6))
    stale = [wire.run(at=wire.clock + timedelta(hours=6)) for _ in range(4)]
    assert [[(p.kind, p.opened) for p in problems] for problems in stale] == [
        [("feed_stale", True)],
        [("feed_stale", False)],
        [("feed_stale", False)],
        [("feed_stale", False)],
    ]
    assert "No new article for 4.0 days" in stale[0][0].message
    assert "usually come every 24.0 hours" in stale[0][0].message
    assert wire.run(at=wire.clock + timedelta(hours=6), new=3) == []
    assert [m["payload"]["state"] for m in health_messages(db)] == ["open", "resolved"]


def test_one_failed_run_is_tolerated_two_are_a_problem_and_neither_clears_others(
    wire: Source, db: sqlite_utils.Database
) -> None:
    wire.healthy(5)
    wire.run(unchanged=0, dropped={"no_body": 10})
    failed = {"status": "failed", "unchanged": 0, "pages": 0, "error": "finish reason: shutdown"}
    assert wire.run(**failed) == []
    (problem,) = wire.run(**failed)
    assert problem.kind == "run_failed" and problem.opened
    assert "The last 2 runs of wire did not finish (failed, failed)" in problem.message
    assert "finish reason: shutdown" in problem.message
    # A failed run measured nothing, so the body problem is still open.
    assert health_rows(db)["fill_rate:body"]["status"] == "open"

    assert wire.run() == []
    rows = health_rows(db)
    assert rows["run_failed"]["status"] == rows["fill_rate:body"]["status"] == "resolved"
    states = [(m["payload"]["problem"], m["payload"]["state"]) for m in health_messages(db)]
    assert sorted(states) == [
        ("fill_rate:body", "open"),
        ("fill_rate:body", "resolved"),
        ("run_failed", "open"),
        ("run_failed", "resolved"),
    ]


def test_a_new_source_is_not_judged_until_it_has_history(wire: Source) -> None:
    wire.healthy(1, new=10, unchanged=0)
    assert wire.run(unchanged=0, dropped={"no_body": 10}) == []


def test_running_and_replayed_runs_are_not_judged(
    db: sqlite_utils.Database, setup: AlertSetup
) -> None:
    running = store.start_run(db, SOURCE, "live")
    assert check_after_run(db, SOURCE, running, setup, T0) == []
    replay = store.start_run(db, SOURCE, "replay")
    store.finish_run(db, replay, status="failed")
    assert check_after_run(db, SOURCE, replay, setup, T0) == []
    with pytest.raises(ValueError, match="is of 'wire', not 'other'"):
        check_after_run(db, "other", replay, setup, T0)


# --- channels ---------------------------------------------------------------------------------


def test_health_channels_default_to_the_rules_channels_or_come_from_the_config(
    db: sqlite_utils.Database, tmp_path: Path
) -> None:
    setup = alert_setup(
        {},
        {"ops": {"type": "jsonl", "path": str(tmp_path / "a")}, "pager": {"type": "console"}},
        {"watch": {"query": "satellite", "channels": ["ops"]}},
    )
    assert health_channels(setup) == ["ops"]
    channels = health_channels(setup, {"channels": ["pager", "ops"]})
    assert channels == ["pager", "ops"]
    with pytest.raises(HealthConfigError, match=r"Add \[channels.nope\] to presswatch.toml"):
        health_channels(setup, {"channels": ["nope"]})

    wire = Source(db, setup)
    wire.healthy(4)
    run_id = wire.add(unchanged=0, dropped={"no_body": 10})
    check_after_run(db, SOURCE, run_id, setup, wire.clock, channels=channels)
    assert sorted(m["channel"] for m in health_messages(db)) == ["ops", "pager"]


# --- the command and Datasette ----------------------------------------------------------------


def test_health_command_shows_a_table_and_json(
    wire: Source, db: sqlite_utils.Database, tmp_db: Path, make_record: Callable[..., Any]
) -> None:
    store.upsert_articles(db, [make_record(source=SOURCE)])  # first stored today
    wire.healthy(4, new=3, unchanged=7)
    wire.run(unchanged=0, dropped={"no_body": 10})
    Source(db, wire.setup, key="quiet").healthy(1, fill={**HEALTHY_FILL, "published_at": 0.5})
    store.sync_sources(db, [{"key": "never_run", "enabled": True}])

    result = CliRunner().invoke(main, ["health", "--db", str(tmp_db)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == (
        "SOURCE LAST SUCCESS LAST RUN 7D TITLE DATE BODY OPEN PROBLEMS".split()
    )
    by_source = {line.split()[0]: line for line in lines[1:4]}
    assert by_source["never_run"].split()[1:3] == ["never", "-"]
    assert by_source["quiet"].split()[-4:] == ["100%", "50%", "100%", "-"]
    assert by_source[SOURCE].split()[-4:] == ["-", "-", "0%", "fill_rate:body"]
    assert f"{SOURCE} fill_rate:body (body missing from pages), since" in result.output

    as_json = CliRunner().invoke(main, ["health", "--db", str(tmp_db), "--json"])
    assert as_json.exit_code == 0, as_json.output
    report = {row["source"]: row for row in json.loads(as_json.output)}
    assert set(report) == {SOURCE, "quiet", "never_run"}
    wire_row = report[SOURCE]
    assert wire_row["last_run_status"] == "ok"
    assert wire_row["fill_rates"] == {"title": None, "published_at": None, "body": 0.0}
    assert [p["kind"] for p in wire_row["open_problems"]] == ["fill_rate:body"]
    # Counted by when presswatch first stored them, not by the runs' (made-up) times.
    assert wire_row["articles_last_7_days"] == 1
    assert report["quiet"]["articles_last_7_days"] == 0


def test_datasette_queries_for_health_and_runs_run(wire: Source, db: sqlite_utils.Database) -> None:
    wire.healthy(4)
    wire.run(unchanged=0, dropped={"no_body": 10})
    metadata = yaml.safe_load(
        (Path(__file__).resolve().parents[1] / "db" / "metadata.yml").read_text(encoding="utf-8")
    )["databases"]["presswatch"]
    assert "source_health" in metadata["tables"]
    queries = metadata["queries"]
    (open_row,) = db.query(queries["open_health_problems"]["sql"])
    assert open_row["kind"] == "fill_rate:body"
    runs = list(db.query(queries["recent_runs"]["sql"], {"source": SOURCE}))
    assert [r["body_share"] for r in runs] == [0.0, 1.0, 1.0, 1.0, 1.0]
    assert len(list(db.query(queries["recent_runs"]["sql"], {"source": ""}))) == 5


# --- real crawls ------------------------------------------------------------------------------


def shell_page(n: int) -> str:
    """The redesigned page: a client-side app shell with its metadata but no text."""
    return f"""<!doctype html><html lang="en"><head><title>Local story number {n}</title>
<script type="application/ld+json">{{"@context": "https://schema.org", "@type": "NewsArticle",
"headline": "Local story number {n}", "datePublished": "2026-07-0{n}T09:30:00"}}</script>
</head><body><div id="app"></div><script src="/app.js"></script></body></html>"""


@pytest.fixture
def site() -> Iterator[LocalSite]:
    with LocalSite() as s:
        build_site(s)
        yield s


def test_real_crawls_of_a_site_that_loses_its_body_markup(
    site: LocalSite, tmp_path: Path, setup: AlertSetup
) -> None:
    config = write_config(tmp_path / "presswatch.toml", site.base)
    db_path = tmp_path / "pw.db"

    def crawl_and_check() -> list[Problem]:
        result = subprocess.run(
            [
                *(sys.executable, "-m", "scheduler.cli", "crawl", "--source", "local"),
                *("--no-alerts", "--db", str(db_path), "--config", str(config)),
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        with store.open_db(db_path) as db:
            run_id = store.last_run_id(db)
            return check_after_run(db, "local", run_id, setup, store.utc_now())

    for _ in range(3):
        assert crawl_and_check() == []
    healthy = dict(site.pages)
    for n in range(1, 8):
        site.add(f"/news/{n}.html", shell_page(n))
    assert [p.kind for p in crawl_and_check()] == ["fill_rate:body"]
    assert [(p.kind, p.opened) for p in crawl_and_check()] == [("fill_rate:body", False)]
    site.pages.update(healthy)
    assert crawl_and_check() == []

    with store.open_db(db_path) as db:
        messages = health_messages(db)
        assert [(m["payload"]["problem"], m["payload"]["state"]) for m in messages] == [
            ("fill_rate:body", "open"),
            ("fill_rate:body", "resolved"),
        ]
        assert (
            "Body filled on 0% of 7 article pages, usually 100%" in (messages[0]["payload"]["text"])
        )
        assert health_rows(db)["fill_rate:body"]["status"] == "resolved"
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
