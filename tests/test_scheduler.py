"""The `presswatch schedule` daemon, for real: subprocess crawls of a site on 127.0.0.1.

Sources have second-scale schedules; every wait polls the database against a deadline, so a
slow machine makes the tests slower, not flaky. The site can be made slow (each article
waits before it is served) to hold a crawl open while the test kills or stops something.

The helpers here are shared with tests/test_run_due.py.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from alerts.rules import parse_schedule
from crawler.sources import BUILTIN, Source
from scheduler.jobs import DigestTrigger, cron_trigger, crontab_weekdays, due_reason
from tests.localsite import LocalSite

# ---- a site that can be slow -------------------------------------------------------------


class SlowPages(dict[str, Any]):
    """`LocalSite.pages` whose article pages take `delay` seconds to be served.

    The server answers each request in its own thread, so a delay holds one request, not the
    site. `release` ends every wait at once (so a test never waits for the delay to expire).
    """

    def __init__(self) -> None:
        super().__init__()
        self.delay = 0.0
        self.release = threading.Event()

    def get(self, path: str, default: Any = None) -> Any:  # type: ignore[override]
        if self.delay and "/news/" in path:
            self.release.wait(self.delay)
        return super().get(path, default)


def article_html(n: int) -> str:
    body = "".join(
        f"<p>Paragraph {i} of story {n}: officials met to discuss satellite navigation, "
        "supercomputing and joint laboratories, and agreed to publish a plan soon.</p>"
        for i in range(4)
    )
    return (
        f"<!doctype html><html lang='en'><head><title>Story {n} - Local</title>"
        '<script type="application/ld+json">{"@context": "https://schema.org", '
        f'"@type": "NewsArticle", "headline": "Story {n}", '
        f'"datePublished": "2026-07-0{1 + n % 9}T09:30:00Z"}}</script></head>'
        f"<body><article><h1>Story {n}</h1>{body}</article></body></html>"
    )


def build_site(site: LocalSite, articles: int = 3, keys: tuple[str, ...] = ("local",)) -> SlowPages:
    """For each source key, a feed at /KEY/feed.xml of `articles` pages under /KEY/news/.

    Returns the pages: set `.delay` to make the site slow.
    """
    pages = SlowPages()
    site.pages = pages
    site.add("/robots.txt", "User-agent: *\nAllow: /\n", content_type="text/plain")
    for key in keys:
        links = [f"{site.base}/{key}/news/{n}.html" for n in range(1, articles + 1)]
        items = "".join(f"<item><title>Story</title><link>{url}</link></item>" for url in links)
        site.add(
            f"/{key}/feed.xml",
            f'<?xml version="1.0"?><rss version="2.0"><channel><title>{key}</title>{items}'
            "</channel></rss>",
            content_type="application/rss+xml",
        )
        for n in range(1, articles + 1):
            site.add(f"/{key}/news/{n}.html", article_html(n))
    return pages


def write_config(path: Path, base: str, schedules: dict[str, str], extra: str = "") -> Path:
    """presswatch.toml with the built-in sources off and one local source per schedule."""
    # The address policy refuses loopback addresses unless allowed (crawler.netpolicy).
    lines = ['[crawl]\nallow_addresses = ["127.0.0.1"]\n']
    lines += [f"[sources.{source.key}]\nenabled = false\n" for source in BUILTIN]
    for key, schedule in schedules.items():
        lines.append(
            f"[sources.{key}]\n"
            f'name = "Local {key}"\n'
            f'homepage = "{base}/"\n'
            f'feeds = ["{base}/{key}/feed.xml"]\n'
            "article_patterns = ['^http://127\\.0\\.0\\.1:\\d+/" + key + "/news/\\d+\\.html$']\n"
            f'schedule = "{schedule}"\n'
            "download_delay = 0\n"
        )
    path.write_text("\n".join(lines) + extra, encoding="utf-8")
    return path


@pytest.fixture
def site() -> Iterator[LocalSite]:
    with LocalSite() as s:
        build_site(s)
        yield s
        s.pages.release.set()  # type: ignore[attr-defined]  # end slow requests first


# ---- processes and the database ------------------------------------------------------------


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "scheduler.cli", *args]


def presswatch(*args: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command(*args), cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )


class Daemon:
    """A `presswatch schedule` process; its log (stderr) goes to a file the test can read."""

    def __init__(self, tmp_path: Path, db: Path, config: Path, *extra: str) -> None:
        self.log_path = tmp_path / f"daemon-{time.monotonic_ns()}.log"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            command("schedule", "--db", str(db), "--config", str(config), *extra),
            cwd=tmp_path,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    @property
    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 30) -> int:
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            self._log.close()


@pytest.fixture
def daemons(tmp_path: Path) -> Iterator[list[Daemon]]:
    """Daemons a test starts; any left running (a failed test) are killed, with their crawls."""
    started: list[Daemon] = []
    yield started
    for daemon in started:
        if daemon.proc.poll() is None:
            daemon.proc.kill()
            daemon.proc.wait(timeout=10)
    for db in tmp_path.glob("*.db"):
        for (pid,) in rows(db, "select pid from crawl_runs where status = 'running'"):
            kill_group(pid)


def kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        return  # gone already


def gone(pid: int) -> bool:
    """Has process `pid` ended and been reaped? (A zombie still counts as a live pid.)"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def rows(db: Path, sql: str, *params: object) -> list[sqlite3.Row]:
    if not db.exists():
        return []
    conn = sqlite3.connect(db, timeout=30)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql, params).fetchall()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return []  # the daemon has not migrated the new file yet
        raise
    finally:
        conn.close()


def runs(db: Path, source: str | None = None) -> list[sqlite3.Row]:
    return rows(
        db,
        "select * from crawl_runs where ? is null or source = ? order by id",
        source,
        source,
    )


def wait_for(what: str, check: Callable[[], Any], timeout: float = 20) -> Any:
    """Poll `check` until it returns something true; fail naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"Timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)


def overlaps(spans: list[sqlite3.Row]) -> list[tuple[int, int]]:
    """Pairs of finished runs whose [started_at, finished_at] intersect (to the second)."""
    found: list[tuple[int, int]] = []
    latest: tuple[str, int] | None = None  # (the latest end so far, its run)
    for run in sorted((r for r in spans if r["finished_at"]), key=lambda r: r["started_at"]):
        if latest is not None and run["started_at"] < latest[0]:
            found.append((latest[1], run["id"]))
        if latest is None or run["finished_at"] > latest[0]:
            latest = (run["finished_at"], run["id"])
    return found


def integrity(db: Path) -> str:
    return rows(db, "pragma integrity_check")[0][0]


# ---- schedules (no processes) ----------------------------------------------------------------


def test_crontab_weekdays_count_from_sunday_as_crontab_does() -> None:
    assert crontab_weekdays("1-5") == "mon,tue,wed,thu,fri"
    assert crontab_weekdays("0") == crontab_weekdays("7") == "sun"
    assert crontab_weekdays("5-7") == "fri,sat,sun"
    assert crontab_weekdays("*/2") == "tue,thu,sat,sun"  # 0, 2, 4, 6
    assert crontab_weekdays("sat,sun") == "sat,sun"
    assert crontab_weekdays("0-7") == "*"
    # 2026-07-06 is a Monday: "1" (Monday in crontab) fires that day, not on Tuesday.
    fire = cron_trigger("0 8 * * 1").get_next_fire_time(None, datetime(2026, 7, 4, tzinfo=UTC))
    assert fire == datetime(2026, 7, 6, 8, 0, tzinfo=UTC)


def test_digest_jobs_fire_just_after_each_period_ends() -> None:
    # build_digests closes a period once its end is a whole second past: fire 2 s after it.
    daily = DigestTrigger(parse_schedule("1d"))
    now = datetime(2026, 7, 6, 12, 0, tzinfo=UTC)
    first = daily.get_next_fire_time(None, now)
    assert first == datetime(2026, 7, 7, 0, 0, 2, tzinfo=UTC)
    assert daily.get_next_fire_time(first, first) == datetime(2026, 7, 8, 0, 0, 2, tzinfo=UTC)
    mornings = DigestTrigger(parse_schedule("0 8 * * *"))
    assert mornings.get_next_fire_time(None, now) == datetime(2026, 7, 7, 8, 0, 2, tzinfo=UTC)


def _run(id: int, status: str, started: datetime) -> dict[str, Any]:
    stamp = started.strftime("%Y-%m-%dT%H:%M:%SZ")
    finished = (started + timedelta(seconds=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"id": id, "status": status, "started_at": stamp, "finished_at": finished}


def test_due_by_interval_cron_and_interruption() -> None:
    now = datetime(2026, 7, 6, 12, 0, 30, tzinfo=UTC)
    hourly = Source(
        key="s", name="S", language="en", timezone="UTC", homepage="http://x/",
        article_patterns=("/n/",), schedule="1h",
    )  # fmt: skip
    at_eight = hourly.with_overrides(schedule="0 8 * * *")
    assert due_reason(hourly, [], now) == "no successful run yet"
    recent = [_run(2, "ok", now - timedelta(minutes=30))]
    assert due_reason(hourly, recent, now) is None
    # Started 59 min 20 s ago: within the slack, so a crontab tick does not slip a whole tick.
    assert due_reason(hourly, [_run(2, "ok", now - timedelta(seconds=3560))], now)
    # A failure is not a success: the last success counts, however many runs failed since.
    failed_since = [
        _run(3, "failed", now - timedelta(minutes=5)),
        _run(2, "ok", now - timedelta(hours=2)),
    ]
    assert due_reason(hourly, failed_since, now)
    # An interrupted last run is redone, however recent the last success.
    interrupted = [_run(3, "interrupted", now - timedelta(minutes=1)), *recent]
    assert "interrupted" in (due_reason(hourly, interrupted, now) or "")
    # Cron: due when it fired since the last success started, not before.
    assert due_reason(at_eight, [_run(2, "ok", now - timedelta(hours=3))], now) is None
    assert due_reason(at_eight, [_run(2, "ok", now - timedelta(hours=5))], now)


# ---- the daemon --------------------------------------------------------------------------------


def finished(db: Path, status: str = "ok") -> Callable[[], list[sqlite3.Row]]:
    return lambda: [r for r in runs(db) if r["status"] == status]


def running(db: Path) -> Callable[[], list[sqlite3.Row]]:
    return lambda: [r for r in runs(db) if r["status"] == "running" and r["pid"]]


def test_runs_happen_on_schedule_and_sigterm_lets_the_running_crawl_finish(
    site: LocalSite, tmp_path: Path, daemons: list[Daemon]
) -> None:
    config = write_config(tmp_path / "presswatch.toml", site.base, {"local": "3s"})
    db = tmp_path / "pw.db"
    daemons.append(daemon := Daemon(tmp_path, db, config, "--stop-grace", "20"))

    done = wait_for("two scheduled runs", lambda: len(finished(db)()) >= 2 and finished(db)())
    first, second = (datetime.fromisoformat(r["started_at"]) for r in done[:2])
    # Due again one interval after the last start, less the slack (half of 3 s).
    assert (second - first).total_seconds() >= 1, [tuple(r) for r in done]
    assert not overlaps(runs(db))

    site.pages.delay = 0.7  # type: ignore[attr-defined]
    (crawl,) = wait_for("a crawl in progress", running(db))
    assert daemon.stop(signal.SIGTERM) == 0, daemon.log
    # It was given the grace period and finished: recorded as the success it was.
    (after,) = [r for r in runs(db) if r["id"] == crawl["id"]]
    assert after["status"] == "ok", dict(after)
    assert not running(db)()
    log = daemon.log
    assert "crawl local: started" in log and "crawl local: ok in" in log
    assert "SIGTERM: stopping" in log and "presswatch schedule: stopped" in log
    assert "Traceback" not in log


def test_a_slow_crawl_is_not_started_twice(
    site: LocalSite, tmp_path: Path, daemons: list[Daemon]
) -> None:
    site.pages.delay = 0.8  # type: ignore[attr-defined]
    # Fires every second; a crawl takes several.
    config = write_config(tmp_path / "presswatch.toml", site.base, {"local": "1s"})
    db = tmp_path / "pw.db"
    daemons.append(daemon := Daemon(tmp_path, db, config))

    wait_for("two slow runs", lambda: len(finished(db)()) >= 2)
    assert daemon.stop() == 0, daemon.log
    assert not overlaps(runs(db)), [tuple(r) for r in runs(db)]
    assert all(r["status"] == "ok" for r in runs(db))
    # The fires during a crawl happened, and were skipped by max_instances.
    assert "maximum number of running instances reached" in daemon.log


def test_two_daemons_on_one_database_never_crawl_a_source_at_once(
    site: LocalSite, tmp_path: Path, daemons: list[Daemon]
) -> None:
    site.pages.delay = 0.4  # type: ignore[attr-defined]
    config = write_config(tmp_path / "presswatch.toml", site.base, {"local": "1s"})
    db = tmp_path / "pw.db"
    daemons.append(first := Daemon(tmp_path, db, config))
    daemons.append(second := Daemon(tmp_path, db, config))

    wait_for("two runs", lambda: len(finished(db)()) >= 2)
    assert first.stop() == 0 and second.stop() == 0, first.log + second.log
    assert not overlaps(runs(db)), [tuple(r) for r in runs(db)]
    # Each found the other crawling at least once (the per-source lock), or the source
    # already crawled by the other (the due check): both stayed out of the way.
    both = first.log + second.log
    assert "is being crawled by another process" in both, both


def test_a_killed_crawl_is_recorded_as_interrupted_and_redone(
    site: LocalSite, tmp_path: Path, daemons: list[Daemon]
) -> None:
    site.pages.delay = 5  # type: ignore[attr-defined]
    # Hourly: a redo within seconds can only be the redo of the interrupted run.
    config = write_config(tmp_path / "presswatch.toml", site.base, {"local": "1h"})
    db = tmp_path / "pw.db"
    daemons.append(daemon := Daemon(tmp_path, db, config))

    (crawl,) = wait_for("a crawl in progress", running(db))
    kill_group(crawl["pid"])
    site.pages.delay = 0  # type: ignore[attr-defined]
    site.pages.release.set()  # type: ignore[attr-defined]

    killed = wait_for("the killed run to be recorded", lambda: finished(db, "interrupted")())[0]
    assert killed["id"] == crawl["id"]
    assert "killed by SIGKILL" in killed["error"]
    redo = wait_for("the redo", finished(db))[0]
    assert redo["id"] > crawl["id"]
    assert integrity(db) == "ok"
    assert daemon.stop() == 0, daemon.log
    assert "redoing the interrupted run" in daemon.log


def test_sigkill_of_the_daemon_mid_crawl_leaves_a_consistent_database_and_no_overlap(
    site: LocalSite, tmp_path: Path, daemons: list[Daemon]
) -> None:
    site.pages.delay = 5  # type: ignore[attr-defined]
    config = write_config(tmp_path / "presswatch.toml", site.base, {"local": "2s"})
    db = tmp_path / "pw.db"
    daemons.append(crashed := Daemon(tmp_path, db, config))
    (orphan,) = wait_for("a crawl in progress", running(db))
    assert crashed.stop(signal.SIGKILL) == -signal.SIGKILL
    assert integrity(db) == "ok"

    # The orphaned crawl kept the source's lock: the restarted daemon stays off it...
    daemons.append(restarted := Daemon(tmp_path, db, config))
    wait_for("the restarted daemon to find it locked", lambda: "being crawled" in restarted.log)
    # ...until it dies too; then its run is recorded as interrupted, and redone.
    kill_group(orphan["pid"])
    site.pages.delay = 0  # type: ignore[attr-defined]
    site.pages.release.set()  # type: ignore[attr-defined]
    wait_for("the redo", finished(db))
    # Recorded once the killed process is gone for good (reaped by init).
    wait_for("the killed run to be recorded", finished(db, "interrupted"))
    assert restarted.stop() == 0, restarted.log

    (killed,) = [r for r in runs(db) if r["id"] == orphan["id"]]
    assert killed["status"] == "interrupted", dict(killed)
    assert not running(db)()
    assert not overlaps(runs(db))
    assert integrity(db) == "ok"


def test_sigterm_after_the_grace_period_records_the_crawl_as_interrupted(
    site: LocalSite, tmp_path: Path, daemons: list[Daemon]
) -> None:
    # Each article takes 1 s: Scrapy's own clean shutdown (after our SIGTERM) waits for the
    # requests in flight, well within the kill grace.
    build_site(site, articles=10).delay = 1
    config = write_config(tmp_path / "presswatch.toml", site.base, {"local": "1h"})
    db = tmp_path / "pw.db"
    daemons.append(daemon := Daemon(tmp_path, db, config, "--stop-grace", "0"))

    (crawl,) = wait_for("a crawl in progress", running(db))
    began = time.monotonic()
    assert daemon.stop(signal.SIGTERM) == 0, daemon.log
    assert time.monotonic() - began < 15
    (after,) = runs(db)
    assert after["id"] == crawl["id"]
    assert after["status"] == "interrupted", dict(after)
    assert "shutting down" in after["error"]
    assert not running(db)()
    assert integrity(db) == "ok"
