"""Politeness (crawler.politeness): Retry-After per host, robots.txt failures, Crawl-delay.

Every test crawls real servers on 127.0.0.1 (and 127.0.0.2: Linux routes all of 127/8 to the
loopback interface) in a subprocess, and judges the crawler by what the servers saw: when
each request arrived. Timing assertions are lower bounds (the crawler waited at least this
long), never speed asserts.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import pairwise
from pathlib import Path

import pytest

from crawler.politeness import parse_retry_after
from crawler.sources import Source
from scheduler.jobs import due_reason
from tests.test_crawl import article_html, presswatch, rows


@dataclass
class Reply:
    status: int = 200
    body: str = ""
    content_type: str = "text/html; charset=utf-8"
    # A function, for headers that depend on the moment of the answer (an HTTP-date).
    headers: dict[str, str] | Callable[[], dict[str, str]] = field(default_factory=dict)
    # Seconds to wait before answering: a server too slow to answer at all.
    sleep: float = 0.0
    # Answer only once this is set (by another reply's `then_set`; at most 10 s).
    wait_for: threading.Event | None = None
    # Set once this reply has been sent: orders what two servers see.
    then_set: threading.Event | None = None


@dataclass
class Hit:
    path: str
    arrived: float  # time.time() when the request line had been read
    status: int
    answered: float  # time.time() when the answer had been written
    delivered: bool = True  # False: the crawler had hung up before the answer


class ScriptedSite:
    """An HTTP server on `address` whose paths answer from a script.

    `routes[path]` is a list of replies: each request takes the next one, and the last one
    repeats. Unknown paths are 404. `hits` records every request, in order of arrival.
    """

    def __init__(self, address: str = "127.0.0.1") -> None:
        self.routes: dict[str, list[Reply]] = {}
        self.hits: list[Hit] = []
        self.released = threading.Event()
        lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                arrived = time.time()
                with lock:
                    script = site.routes.get(self.path) or [Reply(404, "not found")]
                    reply = script.pop(0) if len(script) > 1 else script[0]
                if reply.sleep:
                    site.released.wait(reply.sleep)
                if reply.wait_for is not None:
                    reply.wait_for.wait(10)
                body = reply.body.encode("utf-8")
                headers = reply.headers() if callable(reply.headers) else reply.headers
                delivered = True
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", reply.content_type)
                    self.send_header("Content-Length", str(len(body)))
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(body)
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    # The crawler gave up waiting (a timeout test): recorded, not an error.
                    delivered = False
                with lock:
                    hit = Hit(self.path, arrived, reply.status, time.time(), delivered)
                    site.hits.append(hit)
                if reply.then_set is not None:
                    reply.then_set.set()

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: the tests read site.hits instead."""

        self.server = ThreadingHTTPServer((address, 0), Handler)
        self.base = f"http://{address}:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def route(self, path: str, *replies: Reply) -> None:
        self.routes[path] = list(replies)

    def arrivals(self, after: float = 0.0) -> list[Hit]:
        return sorted((h for h in self.hits if h.arrived > after), key=lambda h: h.arrived)

    def first(self, status: int) -> Hit:
        return next(h for h in sorted(self.hits, key=lambda h: h.arrived) if h.status == status)

    def __enter__(self) -> ScriptedSite:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def site_a() -> Iterator[ScriptedSite]:
    with ScriptedSite("127.0.0.1") as site:
        yield site


@pytest.fixture
def site_b() -> Iterator[ScriptedSite]:
    with ScriptedSite("127.0.0.2") as site:
        yield site


def article(n: int, **kwargs: object) -> Reply:
    return Reply(body=article_html(n, f"2026-07-0{n % 9 + 1}T09:30:00"), **kwargs)  # type: ignore[arg-type]


def serve_news(site: ScriptedSite, numbers: range | list[int], **kwargs: object) -> list[str]:
    """Articles /news/N.html on `site`, each answering 200; returns their URLs."""
    for n in numbers:
        site.route(f"/news/{n}.html", article(n, **kwargs))
    return [f"{site.base}/news/{n}.html" for n in numbers]


def serve_feed(site: ScriptedSite, urls: list[str], robots: str = "User-agent: *\n") -> None:
    items = "".join(f"<item><title>{u}</title><link>{u}</link></item>" for u in urls)
    site.route(
        "/feed.xml",
        Reply(
            body=f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}'
            "</channel></rss>",
            content_type="application/rss+xml",
        ),
    )
    site.route("/robots.txt", Reply(body=robots, content_type="text/plain"))


def write_config(tmp_path: Path, site: ScriptedSite, **crawl: object) -> Path:
    """One source whose feed is on `site`; its articles may be on 127.0.0.1 or 127.0.0.2."""
    # One request at a time per host: "no request after the 429" then has no request that
    # was already on its way when the 429 arrived.
    settings = {"concurrent_requests_per_domain": 1, **crawl}
    lines = [
        "[crawl]",
        'allow_addresses = ["127.0.0.1", "127.0.0.2"]',
        *(f"{key} = {json.dumps(value)}" for key, value in settings.items()),
        "[sources.local]",
        'name = "Local"',
        f'homepage = "{site.base}/"',
        f'feeds = ["{site.base}/feed.xml"]',
        r"article_patterns = ['^http://127\.0\.0\.[12]:\d+/news/\d+\.html$']",
        'domains = ["127.0.0.1", "127.0.0.2"]',
        "download_delay = 0",
    ]
    path = tmp_path / "presswatch.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def crawl(tmp_path: Path, config: Path) -> tuple[subprocess.CompletedProcess[str], Path]:
    db = tmp_path / "pw.db"
    args = ("crawl", "--source", "local", "--db", str(db), "--config", str(config))
    return presswatch(*args, "--no-alerts", "-v", cwd=tmp_path), db


def crawl_with_settings(
    tmp_path: Path, config: Path, overrides: dict[str, object]
) -> tuple[subprocess.CompletedProcess[str], Path]:
    """Like `crawl`, with Scrapy settings presswatch.toml has no key for (a short timeout)."""
    db = tmp_path / "pw.db"
    # The CLI, not the runner, turns [crawl] concurrent_requests_per_domain into a setting.
    overrides = {"CONCURRENT_REQUESTS_PER_DOMAIN": 1, **overrides}
    code = (
        "import json, sys\n"
        "from crawler.runner import CrawlOptions, run_crawls\n"
        "options = CrawlOptions(db_path=sys.argv[1], config_path=sys.argv[2],\n"
        "    log_level='INFO', overrides=json.loads(sys.argv[3]))\n"
        "run_crawls(options, ['local'])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(db), str(config), json.dumps(overrides)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return result, db


def the_run(db: Path) -> dict[str, object]:
    (run,) = rows(db, "select * from crawl_runs")
    record = dict(run)
    record["stats"] = json.loads(run["stats"] or "{}")
    return record


def stored(db: Path) -> set[str]:
    return {r["url"] for r in rows(db, "select url from articles")}


# ---- Retry-After ----------------------------------------------------------------------------


# Without AutoThrottle (and with download_delay = 0) a slot has no delay at all: Scrapy's own
# penalty is skipped, and the next queued request leaves the moment the 429 is in.
@pytest.mark.parametrize("autothrottle", [True, False], ids=["autothrottle", "no_delay"])
def test_429_retry_after_seconds_holds_the_host_and_not_the_other_one(
    site_a: ScriptedSite, site_b: ScriptedSite, tmp_path: Path, autothrottle: bool
) -> None:
    urls_a = serve_news(site_a, [1, 2, 3])
    # The 429 takes 0.3 s: a request sent before the crawler could know of it (with no delay,
    # Scrapy sends two at once whatever CONCURRENT_REQUESTS_PER_DOMAIN) arrives meanwhile.
    limited_now = threading.Event()
    limit = Reply(429, "slow down", headers={"Retry-After": "2"}, sleep=0.3, then_set=limited_now)
    site_a.route("/news/1.html", limit, article(1))
    # Host B's articles wait for its robots.txt, which answers once A has sent its 429: they
    # can only be requested while A is held.
    urls_b = serve_news(site_b, range(11, 14))
    robots_b = Reply(body="User-agent: *\n", content_type="text/plain", wait_for=limited_now)
    site_b.route("/robots.txt", robots_b)
    serve_feed(site_a, urls_a + urls_b)
    config = write_config(tmp_path, site_a)
    if autothrottle:
        result, db = crawl(tmp_path, config)
    else:
        result, db = crawl_with_settings(tmp_path, config, {"AUTOTHROTTLE_ENABLED": False})
    assert result.returncode == 0, result.stdout + result.stderr

    limited = site_a.first(429)
    after = site_a.arrivals(after=limited.answered)
    assert [h.path for h in after if h.path == "/news/1.html"], "the 429 was never retried"
    early = [(h.path, round(h.arrived - limited.answered, 3)) for h in after]
    assert all(h.arrived >= limited.answered + 2 for h in after), (
        f"requests to the rate-limited host within Retry-After: 2 (s after the 429): {early}"
    )
    # The other host went on meanwhile.
    b_news = [round(h.arrived - limited.answered, 3) for h in site_b.arrivals() if "news" in h.path]
    assert b_news and b_news[0] < 2, f"host B held up by A's Retry-After (s after 429): {b_news}"
    assert stored(db) == set(urls_a + urls_b)
    run = the_run(db)
    assert run["status"] == "ok", run["error"]
    assert run["stats"]["ratelimit/holds"] == 1
    assert run["stats"]["ratelimit/max_hold_seconds"] == 2


def test_503_retry_after_http_date_is_honoured(site_a: ScriptedSite, tmp_path: Path) -> None:
    # Whole seconds: an HTTP-date has no fractions, so "in 3 s" is the next full second + 3.
    until: list[float] = []

    def later() -> dict[str, str]:
        until.append(math.ceil(time.time()) + 3)
        return {"Retry-After": formatdate(until[-1], usegmt=True)}

    urls = serve_news(site_a, [1, 2, 3])
    site_a.route("/news/2.html", Reply(503, "maintenance", headers=later), article(2))
    serve_feed(site_a, urls)
    result, db = crawl(tmp_path, write_config(tmp_path, site_a))
    assert result.returncode == 0, result.stdout + result.stderr

    unavailable = site_a.first(503)
    after = site_a.arrivals(after=unavailable.answered)
    assert after, "nothing was requested after the 503"
    # 10 ms for reading the wall clock from two processes; the wait itself is over 2 s.
    early = [(h.path, round(h.arrived - until[0], 3)) for h in after if h.arrived < until[0] - 0.01]
    assert not early, f"requested before the Retry-After date: {early}"
    assert stored(db) == set(urls)
    assert the_run(db)["stats"]["ratelimit/answers/503"] == 1


def test_retry_after_above_the_ceiling_gives_up_the_host(
    site_a: ScriptedSite, tmp_path: Path
) -> None:
    urls = serve_news(site_a, [1, 2, 3, 4])
    site_a.route("/news/3.html", Reply(429, "come back tomorrow", headers={"Retry-After": "3600"}))
    serve_feed(site_a, urls)
    config = write_config(tmp_path, site_a, max_retry_after=5)
    result, db = crawl(tmp_path, config)
    assert result.returncode == 0, result.stdout + result.stderr

    limited = site_a.first(429)
    assert not site_a.arrivals(after=limited.answered), "requested after Retry-After: 3600"
    run = the_run(db)
    assert run["status"] == "rate_limited"
    assert run["stats"]["ratelimit/abandoned_hosts"] == 1
    assert "Retry-After 3600 s" in run["stats"]["ratelimit/abandoned/127.0.0.1"]
    assert "stopped requesting 127.0.0.1" in str(run["error"])
    assert "max_retry_after" in str(run["error"])
    # Only what came before the 429 was stored.
    before = {h.path for h in site_a.hits if h.arrived < limited.arrived}
    assert stored(db) == {u for u in urls if u.removeprefix(site_a.base) in before}

    listed = presswatch("runs", "--db", str(db), cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "rate_limited" in listed.stdout


def test_rate_limit_answers_in_a_row_give_up_the_host(site_a: ScriptedSite, tmp_path: Path) -> None:
    urls = [f"{site_a.base}/news/{n}.html" for n in (1, 2, 3)]
    for url in urls:
        site_a.route(url.removeprefix(site_a.base), Reply(429, "no", headers={"Retry-After": "0"}))
    serve_feed(site_a, urls)
    result, db = crawl(tmp_path, write_config(tmp_path, site_a))
    assert result.returncode == 0, result.stdout + result.stderr

    # Five answers in a row (PRESSWATCH_RATE_LIMIT_MAX_CONSECUTIVE), then not one more request;
    # stock Scrapy sends every article three times (RETRY_TIMES = 2): nine.
    articles = [h for h in site_a.hits if h.path.startswith("/news/")]
    assert len(articles) == 5, [h.path for h in articles]
    run = the_run(db)
    assert run["status"] == "rate_limited"
    assert "5 rate-limit answers" in str(run["error"])
    assert run["stats"]["ratelimit/refused_requests"] >= 1


# ---- robots.txt (RFC 9309) ------------------------------------------------------------------


def test_robots_txt_503_disallows_the_whole_host(site_a: ScriptedSite, tmp_path: Path) -> None:
    urls = serve_news(site_a, [1, 2])
    serve_feed(site_a, urls)
    site_a.route("/robots.txt", Reply(503, "down for maintenance", content_type="text/plain"))
    result, db = crawl(tmp_path, write_config(tmp_path, site_a))

    assert {h.path for h in site_a.hits} == {"/robots.txt"}, [h.path for h in site_a.hits]
    run = the_run(db)
    assert run["status"] == "failed"
    assert "robots.txt of 127.0.0.1" in str(run["error"]) and "HTTP 503" in str(run["error"])
    assert run["stats"]["robotstxt/unreachable_disallow_all"] == 1
    assert "failed entirely: local" in result.stderr


def test_robots_txt_timeout_disallows_the_whole_host(site_a: ScriptedSite, tmp_path: Path) -> None:
    urls = serve_news(site_a, [1, 2])
    serve_feed(site_a, urls)
    site_a.route("/robots.txt", Reply(body="User-agent: *\n", sleep=30))
    config = write_config(tmp_path, site_a)
    result, db = crawl_with_settings(tmp_path, config, {"DOWNLOAD_TIMEOUT": 1})
    assert result.returncode == 0, result.stderr

    assert {h.path for h in site_a.hits} <= {"/robots.txt"}, [h.path for h in site_a.hits]
    assert not stored(db)
    run = the_run(db)
    assert run["status"] == "failed"
    assert "robots.txt of 127.0.0.1" in str(run["error"]) and "TimeoutError" in str(run["error"])
    assert run["stats"]["robotstxt/unreachable_disallow_all"] == 1
    assert "is unreachable" in result.stderr  # the warning in the log


@pytest.mark.parametrize("status", [404, 403])
def test_robots_txt_4xx_allows_everything_whatever_its_body_says(
    site_a: ScriptedSite, tmp_path: Path, status: int
) -> None:
    urls = serve_news(site_a, [1, 2, 3])
    serve_feed(site_a, urls)
    # An error page that happens to read as rules: stock Scrapy parses it and obeys it.
    site_a.route(
        "/robots.txt", Reply(status, "User-agent: *\nDisallow: /\n", content_type="text/plain")
    )
    result, db = crawl(tmp_path, write_config(tmp_path, site_a))
    assert result.returncode == 0, result.stdout + result.stderr

    assert stored(db) == set(urls)
    run = the_run(db)
    assert run["status"] == "ok", run["error"]
    assert run["stats"]["robotstxt/unavailable_allow_all"] == 1


def test_crawl_delay_spaces_requests_to_the_host(site_a: ScriptedSite, tmp_path: Path) -> None:
    urls = serve_news(site_a, [1, 2, 3])
    serve_feed(site_a, urls, robots="User-agent: *\nCrawl-delay: 1\n")
    result, db = crawl(tmp_path, write_config(tmp_path, site_a))
    assert result.returncode == 0, result.stdout + result.stderr

    hits = site_a.arrivals()
    assert len(hits) == 5  # robots.txt, feed, three articles
    gaps = [round(b.arrived - a.arrived, 3) for a, b in pairwise(hits)]
    # The crawler counts the delay from when it starts a request; the server sees it once
    # the connection is made, so one arrival may be a few milliseconds later than the next.
    assert min(gaps) >= 0.98, f"seconds between requests with Crawl-delay: 1: {gaps}"
    assert stored(db) == set(urls)
    assert the_run(db)["stats"]["robotstxt/crawl_delay_seconds"] == 1


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        (" 2 ", 2.0),
        ("Wed, 01 Jul 2026 12:00:30 GMT", 30.0),  # IMF-fixdate
        ("Wednesday, 01-Jul-26 12:00:30 GMT", 30.0),  # obsolete RFC 850 form
        ("Wed Jul  1 12:00:30 2026", 30.0),  # obsolete asctime form
        ("Wed, 01 Jul 2026 11:00:00 GMT", 0.0),  # in the past: no wait
        ("soon", None),
        ("-5", None),
        ("", None),
    ],
)
def test_retry_after_values(value: str, seconds: float | None) -> None:
    now = datetime(2026, 7, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after(value, now) == seconds


def test_a_rate_limited_source_waits_its_interval_before_the_next_crawl() -> None:
    # A failed run leaves its source due at every opportunity (`presswatch run --due` from
    # cron); a site that asked us to back off must not be asked again every few minutes.
    now = datetime(2026, 7, 6, 12, 0, 0, tzinfo=UTC)
    hourly = Source(
        key="s", name="S", language="en", timezone="UTC", homepage="http://x/",
        article_patterns=("/n/",), schedule="1h",
    )  # fmt: skip
    ten_minutes_ago = "2026-07-06T11:50:00Z"
    run = {"id": 2, "started_at": ten_minutes_ago, "finished_at": ten_minutes_ago}
    assert due_reason(hourly, [{**run, "status": "rate_limited"}], now) is None
    assert due_reason(hourly, [{**run, "status": "failed"}], now) == "no successful run yet"
