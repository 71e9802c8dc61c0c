"""`presswatch run --due` under cron semantics: real subprocess crawls of a site on 127.0.0.1.

"Time passing" is simulated by moving a run's started_at back in the database (what cron
would see after an hour, or after three days of downtime), so nothing here waits for a clock.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from scheduler import locks
from tests.localsite import LocalSite
from tests.test_scheduler import (
    build_site,
    command,
    gone,
    integrity,
    kill_group,
    presswatch,
    runs,
    wait_for,
    write_config,
)

SOURCES = ("hourly", "daily")


@pytest.fixture
def site() -> Iterator[LocalSite]:
    with LocalSite() as s:
        build_site(s, keys=SOURCES)
        yield s
        s.pages.release.set()  # type: ignore[attr-defined]  # end slow requests first


def backdate(db: Path, source: str, **delta: int) -> None:
    """Move the source's runs back in time, as if `delta` (hours=, days=) had passed."""
    shift = f"-{delta.get('days', 0) * 86400 + delta.get('hours', 0) * 3600} seconds"
    conn = sqlite3.connect(db)
    try:
        with conn:
            conn.execute(
                "update crawl_runs set "
                "started_at = strftime('%Y-%m-%dT%H:%M:%SZ', started_at, ?), "
                "finished_at = strftime('%Y-%m-%dT%H:%M:%SZ', finished_at, ?) "
                "where source = ?",
                [shift, shift, source],
            )
    finally:
        conn.close()


def run_due(
    tmp_path: Path, db: Path, config: Path, *extra: str
) -> subprocess.CompletedProcess[str]:
    return presswatch(
        "run", "--due", "--db", str(db), "--config", str(config), *extra, cwd=tmp_path
    )


def test_due_by_interval_and_after_downtime_each_overdue_source_runs_once(
    site: LocalSite, tmp_path: Path
) -> None:
    alerts = tmp_path / "alerts.jsonl"
    rule = (
        f'\n[channels.file]\ntype = "jsonl"\npath = "{alerts}"\n'
        '\n[rules.satellites]\nquery = "satellite navigation"\nchannels = ["file"]\n'
    )
    config = write_config(
        tmp_path / "presswatch.toml", site.base, {"hourly": "1h", "daily": "1d"}, rule
    )
    db = tmp_path / "pw.db"

    first = run_due(tmp_path, db, config)
    assert (first.returncode, first.stdout, first.stderr) == (0, "", ""), first
    assert sorted(r["source"] for r in runs(db)) == ["daily", "hourly"]
    # Then alerts: the rule matched the new articles and the alert was delivered.
    sent = [json.loads(line) for line in alerts.read_text(encoding="utf-8").splitlines()]
    assert sent and sent[0]["kind"] == "alert", sent

    again = run_due(tmp_path, db, config, "-v")
    assert again.returncode == 0, again
    assert len(runs(db)) == 2, "nothing was due yet"

    # Three days of downtime for the hourly source (72 missed runs), three hours for the
    # daily one: the hourly one runs once, the daily one not at all.
    backdate(db, "hourly", days=3)
    backdate(db, "daily", hours=3)
    later = run_due(tmp_path, db, config, "-v")
    assert later.returncode == 0, later
    assert "crawl hourly: ok" in later.stdout, later.stdout
    assert "crawl daily: not_due: last success #" in later.stdout, later.stdout
    assert [r["source"] for r in runs(db)][2:] == ["hourly"]
    assert run_due(tmp_path, db, config).returncode == 0
    assert len(runs(db)) == 3, "an overdue source runs once, not once per missed interval"


def test_a_run_killed_mid_crawl_is_recorded_as_interrupted_and_redone(
    site: LocalSite, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "presswatch.toml", site.base, {"hourly": "1h"})
    db = tmp_path / "pw.db"
    site.pages.delay = 5  # type: ignore[attr-defined]
    cron = subprocess.Popen(
        command("run", "--due", "--db", str(db), "--config", str(config)),
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    (crawl,) = wait_for(
        "a crawl in progress", lambda: [r for r in runs(db) if r["status"] == "running"]
    )
    # As a power cut would: the cron job and its crawl die at once, without a word.
    cron.kill()
    kill_group(crawl["pid"])
    assert cron.wait(timeout=10) == -signal.SIGKILL
    # The orphaned crawl is reaped by init (a zombie's pid still looks alive).
    wait_for("the killed crawl to be gone", lambda: gone(crawl["pid"]))
    assert integrity(db) == "ok"
    site.pages.delay = 0  # type: ignore[attr-defined]
    site.pages.release.set()  # type: ignore[attr-defined]

    redo = run_due(tmp_path, db, config, "-v")
    assert redo.returncode == 0, redo
    assert "was interrupted: redo" in redo.stderr  # the reason, in the -v log
    killed, again = runs(db)
    assert (killed["id"], killed["status"]) == (crawl["id"], "interrupted")
    assert again["status"] == "ok"
    assert integrity(db) == "ok"


def test_a_locked_source_is_skipped_with_exit_status_75(site: LocalSite, tmp_path: Path) -> None:
    config = write_config(tmp_path / "presswatch.toml", site.base, {"hourly": "1h"})
    db = tmp_path / "pw.db"
    with locks.acquire(db, "hourly"):  # a daemon (or another cron job) crawling it now
        busy = run_due(tmp_path, db, config, "-v")
    assert busy.returncode == 75, busy
    assert "crawl hourly: locked" in busy.stdout and f"pid {os.getpid()}" in busy.stdout
    assert runs(db) == []
    # Released: the next pass crawls it.
    assert run_due(tmp_path, db, config).returncode == 0
    assert [r["status"] for r in runs(db)] == ["ok"]


def test_failures_exit_1_and_usage_or_config_errors_exit_2(tmp_path: Path) -> None:
    with LocalSite() as dead:
        base = dead.base  # nothing listens here once the block ends
    config = write_config(tmp_path / "presswatch.toml", base, {"hourly": "1h"})
    db = tmp_path / "pw.db"
    failed = run_due(tmp_path, db, config)
    assert failed.returncode == 1, failed
    assert "crawl hourly: failed" in failed.stderr
    assert [r["status"] for r in runs(db)] == ["failed"]

    neither = presswatch("run", "--db", str(db), "--config", str(config), cwd=tmp_path)
    assert neither.returncode == 2 and "--due" in neither.stderr
    unknown = presswatch(
        "run", "--source", "nyt", "--db", str(db), "--config", str(config), cwd=tmp_path
    )
    assert unknown.returncode == 2 and "Unknown source 'nyt'" in unknown.stderr
    # crontab's 9th weekday does not exist; found before anything is crawled.
    bad = write_config(tmp_path / "bad.toml", base, {"hourly": "0 8 * * 9"})
    broken = run_due(tmp_path, db, bad)
    assert broken.returncode == 2 and "day of week '9'" in broken.stderr, broken
    assert len(runs(db)) == 1


def test_the_time_limit_stops_a_hung_crawl_and_says_so(tmp_path: Path) -> None:
    with LocalSite() as site:
        # Every article hangs for a minute: the crawl would take many.
        build_site(site, articles=6, keys=("hourly",)).delay = 60
        config = write_config(tmp_path / "presswatch.toml", site.base, {"hourly": "1h"})
        db = tmp_path / "pw.db"
        began = time.monotonic()
        hung = run_due(tmp_path, db, config, "--crawl-timeout", "4")
        site.pages.release.set()  # type: ignore[attr-defined]
    # 4 s, then SIGTERM; Scrapy's clean shutdown waits for its hung requests, so SIGKILL
    # follows after the kill grace (10 s).
    assert time.monotonic() - began < 30
    assert hung.returncode == 1, hung
    assert "SIGKILL" in hung.stderr
    (run,) = runs(db)
    assert run["status"] == "failed"
    assert run["error"] == "stopped after the time limit of 4 s", run["error"]
    assert integrity(db) == "ok"
