"""No secret in logs, in the database or in error messages (db.redact, crawler.credentials).

The end-to-end test runs `presswatch crawl -vv` (Scrapy at DEBUG) against a site on 127.0.0.1
whose feed and articles sit behind HTTP Basic auth and are reached through URLs with
user:password@ in them (one on a port nobody listens on); then `scrapy crawl` with a password
in a Scrapy setting (MAIL_PASS, as `-s`); the crawl's alerts go to a real SMTP server
(STARTTLS + AUTH, one channel with a wrong password) and to real webhook servers (a token in
the URL path and in the Authorization header; one answers 401 echoing the token, a Slack one
404 echoing its path), every secret in an environment variable. Then every line those
processes printed and every text column of every table (FTS shadow tables included) is
searched for each secret. A control test shows stock Scrapy printing the same secrets, so the
search would catch a regression.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from scrapy.settings import Settings

from crawler.credentials import mask_settings
from db import health as db_health
from db import outbox, redact
from db.dedup import article_id
from db.store import finish_run, open_db, start_run, sync_sources, upsert_articles
from tests.localsite import LocalSite
from tests.test_alerts_delivery import (
    HOOK_TOKEN,
    OK,
    SLACK_PATH,
    SMTP_PASSWORD,
    Hook,
    Inbox,
    authenticator,
    certificate,  # noqa: F401 - the fixture, used by name
    free_port,
    server_context,
)

REPO = Path(__file__).resolve().parent.parent

USER, URL_PASSWORD = "user", "S3cretURLpw"
BASIC = base64.b64encode(f"{USER}:{URL_PASSWORD}".encode()).decode()
SETTING_SECRET = "mailPASS-S3cret-4d2a"
WRONG_SMTP_PASSWORD = "wrong-PASSWORD-0b7d3e"
HOOK_PATH = "/hooks/whTOKEN-3e9f1a2b7c"
TOKEN = HOOK_TOKEN.removeprefix("Bearer ")
SLACK_TOKEN = SLACK_PATH.rsplit("/", 1)[1]
# Each as it may leak: the value, and the base64 a login or an Authorization header carries.
SECRETS = (
    URL_PASSWORD,
    BASIC,
    SETTING_SECRET,
    SMTP_PASSWORD,
    WRONG_SMTP_PASSWORD,
    # AUTH PLAIN, as smtplib logs in: "\0user\0password" in base64.
    base64.b64encode(f"\0alerts@example.org\0{SMTP_PASSWORD}".encode()).decode(),
    TOKEN,
    HOOK_PATH.rsplit("/", 1)[1],
    SLACK_TOKEN,
)


# --- a site behind HTTP Basic auth ------------------------------------------------------------


def article_page(n: int, base: str, leaky: bool = False) -> str:
    """An article about satellite navigation; `leaky` echoes a credentialed URL as og:url
    and og:image, as a site that prints the URL it was asked for would."""
    echo = f"http://{USER}:{URL_PASSWORD}@{base.removeprefix('http://')}"
    head = (
        f'<meta property="og:url" content="{echo}/news/{n}.html">'
        f'<meta property="og:image" content="{echo}/img/{n}.jpg">'
        if leaky
        else ""
    )
    text = (
        f"Story {n}: officials met on Tuesday to discuss satellite navigation, supercomputing "
        "and joint laboratories, and agreed to publish a plan before the spring. "
    )
    paragraphs = "".join(f"<p>Paragraph {i}. {text * 3}</p>" for i in range(4))
    return f"""<!doctype html><html lang="en"><head><title>Navigation talks {n}</title>{head}
<script type="application/ld+json">{{"@context": "https://schema.org", "@type": "NewsArticle",
"headline": "Navigation talks {n}", "datePublished": "2026-07-0{n}T09:30:00Z"}}</script></head>
<body><article><h1>Navigation talks {n}</h1>{paragraphs}</article></body></html>"""


def secret_base(site: LocalSite) -> str:
    """The site's base URL with user:password@ in it."""
    return site.base.replace("http://", f"http://{USER}:{URL_PASSWORD}@")


@pytest.fixture
def site() -> Iterator[LocalSite]:
    """An intranet: the feed and the articles only for the right Basic credentials."""
    with LocalSite() as s:
        s.add("/robots.txt", "User-agent: *\nAllow: /\n", content_type="text/plain")
        auth = f"Basic {BASIC}"
        items = "".join(
            f"<item><title>Talks {n}</title><link>{secret_base(s)}/news/{n}.html</link></item>"
            for n in (1, 2, 3)
        )
        s.add(
            "/feed.xml",
            f'<?xml version="1.0"?><rss version="2.0"><channel><title>Intranet</title>{items}'
            "</channel></rss>",
            content_type="application/rss+xml",
            auth=auth,
        )
        for n in (1, 2, 3):
            s.add(f"/news/{n}.html", article_page(n, s.base, leaky=n == 3), auth=auth)
        yield s


def run(command: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=180, check=False
    )


def leaks(text: str) -> list[str]:
    return [secret for secret in SECRETS if secret in text]


def database_text(path: Path) -> dict[str, str]:
    """{"table.column": all its text} for every text value of every table, FTS shadow
    tables and sqlite_master included."""
    conn = sqlite3.connect(path)
    try:
        tables = [
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        ]
        found: dict[str, str] = {}
        for table in [*tables, "sqlite_master"]:
            cursor = conn.execute(f'SELECT * FROM "{table}"')
            columns = [d[0] for d in cursor.description]
            for row in cursor:
                for column, value in zip(columns, row, strict=True):
                    if isinstance(value, bytes):
                        value = value.decode("utf-8", "replace")
                    if isinstance(value, str):
                        key = f"{table}.{column}"
                        found[key] = found.get(key, "") + "\n" + value
        return found
    finally:
        conn.close()


# --- the control: stock Scrapy prints them ------------------------------------------------------

TINY_CRAWL = """
import sys
import scrapy
from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings

mode, password, *urls = sys.argv[1:]

class Tiny(scrapy.Spider):
    name = "tiny"
    async def start(self):
        for url in urls:
            yield scrapy.Request(url)
    def parse(self, response):
        self.logger.info("Fetched %s", response.url)

settings = Settings()
if mode == "presswatch":
    settings.setmodule("crawler.settings", priority="project")
    settings.set("ITEM_PIPELINES", {}, priority="cmdline")  # no items, no database
    settings.set("PRESSWATCH_ALLOW_ADDRESSES", ["127.0.0.1"], priority="cmdline")
settings.set("LOG_LEVEL", "DEBUG", priority="cmdline")
settings.set("ROBOTSTXT_OBEY", False, priority="cmdline")
settings.set("TELNETCONSOLE_ENABLED", False, priority="cmdline")
for name, value in (("DOWNLOAD_DELAY", 0), ("AUTOTHROTTLE_ENABLED", False), ("RETRY_TIMES", 0)):
    settings.set(name, value, priority="cmdline")  # fast: one try, no politeness delay
settings.set("MAIL_PASS", password, priority="cmdline")  # as `scrapy crawl -s MAIL_PASS=...`
process = CrawlerProcess(settings)
process.crawl(Tiny)
process.start()
"""


@pytest.mark.parametrize("mode", ["stock", "presswatch"])
def test_stock_scrapy_logs_the_secrets_presswatch_settings_do_not(
    mode: str, site: LocalSite, tmp_path: Path
) -> None:
    urls = [
        f"{secret_base(site)}/news/1.html",
        # A port bound and released: nothing listens there.
        f"http://{USER}:{URL_PASSWORD}@127.0.0.1:{free_port()}/x",
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = run([sys.executable, "-c", TINY_CRAWL, mode, SETTING_SECRET, *urls], env, tmp_path)
    log = result.stdout + result.stderr
    assert "Overridden settings" in log, log
    if mode == "stock":
        # What the issue reported: the password in "Overridden settings", the URL's
        # password in "Error downloading" and in the exception Twisted raises for it.
        assert f"'MAIL_PASS': '{SETTING_SECRET}'" in log
        assert f"invalid hostname: {USER}:{URL_PASSWORD}@127.0.0.1" in log
        assert not site.authorizations  # stock Scrapy cannot fetch such a URL at all
        return
    assert leaks(log) == [], log
    assert "'MAIL_PASS': '***'" in log
    # The credentials went where they belong, as Basic auth, and the page was fetched.
    assert ("/news/1.html", f"Basic {BASIC}") in site.authorizations
    assert f"Fetched {site.base}/news/1.html" in log
    assert "Connection refused" in log  # the error path ran, and said why


# --- the whole thing --------------------------------------------------------------------------


def write_config(path: Path, site: LocalSite, smtp_port: int, ca_file: Path) -> Path:
    dead = f"http://{USER}:{URL_PASSWORD}@127.0.0.1:{free_port()}"  # nothing listens there
    mail = (
        'type = "email"\nsmtp_host = "127.0.0.1"\n'
        f'smtp_port = {smtp_port}\nsecurity = "starttls"\nusername = "alerts@example.org"\n'
        f'from = "presswatch <alerts@example.org>"\nto = ["analyst@example.org"]\n'
        f'ca_file = "{ca_file}"\ntimeout = 10\n'
    )
    path.write_text(
        f"""[crawl]
allow_addresses = ["127.0.0.1"]

[sources.intranet]
name = "Intranet news"
homepage = "{site.base}/"
feeds = ["{secret_base(site)}/feed.xml", "{dead}/feed.xml"]
article_patterns = ['^http://([^/@]+@)?127\\.0\\.0\\.1:\\d+/news/\\d+\\.html$']
download_delay = 0

[channels.mail]
{mail}password = "${{PW_TEST_SMTP_PASSWORD}}"

[channels.mail_wrong]
{mail}password = "${{PW_TEST_SMTP_WRONG}}"

[channels.hook]
type = "webhook"
url = "${{PW_TEST_HOOK_URL}}"
headers = {{ Authorization = "${{PW_TEST_HOOK_TOKEN}}" }}

[channels.hook_refusing]
type = "webhook"
url = "${{PW_TEST_REFUSING_URL}}"
headers = {{ Authorization = "${{PW_TEST_HOOK_TOKEN}}" }}

[channels.slack]
type = "slack"
webhook_url = "${{PW_TEST_SLACK_URL}}"

[rules.navigation]
query = '"satellite navigation"'
channels = ["mail", "mail_wrong", "hook", "hook_refusing", "slack"]
""",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def smtp(certificate: tuple[Path, Path]) -> Iterator[Controller]:  # noqa: F811
    """An SMTP server that takes mail only over STARTTLS, after a login."""
    controller = Controller(
        Inbox(),
        hostname="127.0.0.1",
        port=free_port(),
        tls_context=server_context(certificate),
        require_starttls=True,
        auth_required=True,
        authenticator=authenticator,
    )
    controller.start()
    try:
        yield controller
    finally:
        controller.stop()


def test_a_crawl_and_its_alerts_at_debug_leave_no_secret_in_logs_or_database(
    site: LocalSite,
    smtp: Controller,
    tmp_path: Path,
    certificate: tuple[Path, Path],  # noqa: F811
) -> None:
    refused_body = f'{{"error": "invalid token {TOKEN}"}}'.encode()
    slack_body = f"no_service for {SLACK_PATH}".encode()
    with (
        Hook([OK]) as hook,
        Hook([(401, {}, refused_body)]) as refusing,
        Hook([(404, {}, slack_body)]) as slack,
    ):
        env = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "PW_TEST_SMTP_PASSWORD": SMTP_PASSWORD,
            "PW_TEST_SMTP_WRONG": WRONG_SMTP_PASSWORD,
            "PW_TEST_HOOK_URL": hook.base + HOOK_PATH,
            "PW_TEST_HOOK_TOKEN": HOOK_TOKEN,
            "PW_TEST_REFUSING_URL": refusing.base + HOOK_PATH,
            "PW_TEST_SLACK_URL": slack.base + SLACK_PATH,
        }
        config = write_config(tmp_path / "presswatch.toml", site, smtp.port, certificate[0])
        db = tmp_path / "pw.db"
        presswatch = [sys.executable, "-m", "scheduler.cli"]
        common = ["--db", str(db), "--config", str(config)]
        outputs: dict[str, subprocess.CompletedProcess[str]] = {}
        # 1. The crawl at DEBUG, and its own alerts step.
        outputs["crawl"] = run(
            [*presswatch, "crawl", "--source", "intranet", *common, "-vv"], env, tmp_path
        )
        # 2. Scrapy's own command line, a password in a setting (-s), at DEBUG.
        outputs["scrapy crawl"] = run(
            [
                sys.executable,
                "-m",
                "scrapy",
                "crawl",
                "news",
                "-a",
                "source=intranet",
                "-a",
                f"config={config}",
                "-s",
                f"PRESSWATCH_DB={db}",
                "-s",
                f"MAIL_PASS={SETTING_SECRET}",
                "-s",
                "PRESSWATCH_ALLOW_ADDRESSES=127.0.0.1",
                "-L",
                "DEBUG",
            ],
            {**env, "SCRAPY_SETTINGS_MODULE": "crawler.settings"},
            tmp_path,
        )
        # 3. The failed messages again, through `alerts send`; then the outbox as JSON.
        outputs["alerts send"] = run(
            [*presswatch, "alerts", "send", "--retry-failed", *common], env, tmp_path
        )
        outputs["alerts outbox"] = run(
            [*presswatch, "alerts", "outbox", "--json", "--db", str(db)], env, tmp_path
        )

    # Everything happened for real: the intranet was read with the URL's credentials...
    crawl = outputs["crawl"]
    assert ("/feed.xml", f"Basic {BASIC}") in site.authorizations, crawl.stderr[-3000:]
    with open_db(db) as database:
        articles = list(
            database.query("SELECT url, canonical_url, images FROM articles ORDER BY url")
        )
        runs = list(database.query("SELECT error, stats FROM crawl_runs"))
        rows = {row["channel"]: row for row in outbox.list_outbox(database, limit=None)}
    assert [a["url"] for a in articles] == [f"{site.base}/news/{n}.html" for n in (1, 2, 3)]
    # ...a page that echoed them into og:url and og:image is stored without them...
    assert articles[2]["canonical_url"] == f"{site.base}/news/3.html"
    assert json.loads(articles[2]["images"])[0]["src"].startswith("http://***@127.0.0.1:")
    assert len(runs) == 2
    stats = json.loads(runs[0]["stats"])
    assert stats["credentials/url_userinfo"] == 5  # two feeds, three articles
    refused = "downloader/exception_type_count/scrapy.exceptions.DownloadConnectionRefusedError"
    assert stats[refused] >= 1
    # ...the URL on a dead port failed (its robots.txt first), with a message, in the DEBUG
    # log of both crawls...
    assert "Connection refused" in crawl.stderr and "DEBUG" in crawl.stderr
    assert "Connection refused" in outputs["scrapy crawl"].stderr
    assert "'MAIL_PASS': '***'" in outputs["scrapy crawl"].stderr
    # ...the mail went out over STARTTLS after a login, the webhook got its token...
    assert [r.authenticated and r.tls for r in smtp.handler.received] == [True]
    assert [(r.path, r.headers["Authorization"]) for r in hook.requests] == [
        (HOOK_PATH, HOOK_TOKEN)
    ]
    assert refusing.requests and slack.requests
    # ...and the failures were recorded, redacted, with their reasons.
    assert rows["mail"]["status"] == rows["hook"]["status"] == "sent"
    assert "refused the login: 535" in rows["mail_wrong"]["last_error"]
    assert rows["hook_refusing"]["last_error"] == (
        """POST to webhook 'hook_refusing' failed: HTTP 401: {"error": "invalid token ***"}"""
    )
    assert rows["slack"]["last_error"].startswith(
        "POST to Slack webhook 'slack' failed: HTTP 404: no_service for ***"
    )
    assert "failed for good" in outputs["alerts send"].stderr

    # Not one secret in anything any process printed, nor anywhere in the database.
    for name, result in outputs.items():
        assert leaks(result.stdout + result.stderr) == [], f"{name} printed a secret"
    columns = database_text(db)
    assert "articles_fts_data.block" in columns  # the search index's own storage, too
    leaked = {column: leaks(text) for column, text in columns.items() if leaks(text)}
    assert leaked == {}


# --- each write point and the log filter --------------------------------------------------------


def test_every_write_point_redacts(
    tmp_path: Path, make_record: Callable[..., dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PW_TEST_WRITE_TOKEN", "write-TOKEN-5c8e1f")
    redact.watch_env(["PW_TEST_WRITE_TOKEN"])
    secret_url = f"http://{USER}:{URL_PASSWORD}@intranet.example/news/1.html"
    db = open_db(tmp_path / "pw.db")
    try:
        run_id = start_run(db, "intranet", "live")
        finish_run(
            db,
            run_id,
            status="failed",
            error=f"Error downloading <GET {secret_url}>: token write-TOKEN-5c8e1f refused",
            stats={f"odd/{secret_url}": 1, "note": "Authorization: Bearer abcdef123456"},
        )
        outbox.enqueue(
            db,
            key="k",
            channel="c",
            kind="alert",
            payload={"url": secret_url},
            now="2026-01-01T00:00:00Z",
        )
        outbox.claim_due(db, "2026-01-01T00:00:00Z", 10, 300)
        outbox.mark_failed(db, 1, "HTTP 401: invalid token write-TOKEN-5c8e1f")
        db_health.open_problem(
            db,
            source="intranet",
            kind="run_failed",
            message=f"Latest run: Error downloading <GET {secret_url}>",
            evidence={"runs": [{"error": "token write-TOKEN-5c8e1f"}]},
            run_id=run_id,
            now="2026-01-01T00:00:00Z",
        )
        sync_sources(db, [{"key": "intranet", "name": "Intranet", "feeds": [secret_url]}])
        (result,) = upsert_articles(
            db, [make_record(url=secret_url, source="intranet", canonical_url=secret_url)]
        )
        stored = db.execute("SELECT url, canonical_url FROM articles").fetchone()
    finally:
        db.close()
    # The article is the one the clean URL names, stored under the clean URL.
    assert stored == ("http://intranet.example/news/1.html",) * 2
    assert result.article_id == article_id("http://intranet.example/news/1.html")
    text = "\n".join(t for t in database_text(tmp_path / "pw.db").values())
    for secret in (URL_PASSWORD, "write-TOKEN-5c8e1f", "abcdef123456"):
        assert secret not in text
    assert "http://***@intranet.example/news/1.html" in text  # masked, not silently lost


def test_the_log_filter_redacts_message_arguments_and_tracebacks() -> None:
    redact.add_secret("filter-SECRET-93d0")
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    logger = logging.getLogger("tests.test_secrets.filter")
    handler = Collect()
    logger.addHandler(handler)
    logger.propagate = False  # only `handler` sees these records
    try:
        redact.protect_logging(logger)
        logger.warning("Fetching %s with %s", f"http://u:{URL_PASSWORD}@h/", "filter-SECRET-93d0")
        try:
            raise ValueError(f"invalid hostname: u:{URL_PASSWORD}@h (Authorization: Basic {BASIC})")
        except ValueError:
            logger.exception("Failed")
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    text = "\n".join(lines)
    assert "Fetching http://***@h/ with ***" in text
    assert "ValueError: invalid hostname: ***@h (Authorization: ***)" in text
    assert leaks(text) == [] and "filter-SECRET-93d0" not in text
    assert any(isinstance(f, redact.RedactingFilter) for f in logging.lastResort.filters)  # type: ignore[union-attr]


def test_secret_settings_print_masked_and_still_work() -> None:
    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    settings.set("MAIL_PASS", "mask-SECRET-71f0", priority="cmdline")
    headers = {"Authorization": "Bearer mask-TOKEN-2b9c", "Accept": "text/html"}
    settings.set("DEFAULT_REQUEST_HEADERS", headers, priority="cmdline")
    settings.set("HTTPPROXY_AUTH_ENCODING", "latin-1", priority="cmdline")

    assert sorted(mask_settings(settings)) == ["DEFAULT_REQUEST_HEADERS", "MAIL_PASS"]
    # Printed as the marker (Scrapy prints settings with pprint), used as the value.
    assert repr(settings["MAIL_PASS"]) == "'***'" and settings["MAIL_PASS"] == "mask-SECRET-71f0"
    assert "mask-TOKEN-2b9c" not in repr(settings["DEFAULT_REQUEST_HEADERS"])
    assert settings["DEFAULT_REQUEST_HEADERS"]["Accept"] == "text/html"
    # Names that only configure a secret, and Scrapy's own defaults, are left alone.
    assert repr(settings["HTTPPROXY_AUTH_ENCODING"]) == "'latin-1'"
    assert repr(settings["FTP_PASSWORD"]) == "'guest'"
    assert redact.redact("user guest, latin-1, mask-SECRET-71f0") == "user guest, latin-1, ***"


def test_an_error_message_does_not_echo_the_credentials_of_a_url(tmp_path: Path) -> None:
    config = tmp_path / "presswatch.toml"
    config.write_text(
        '[sources.typo]\nname = "Typo"\nhomepage = "http://intranet.example/"\n'
        f'feeds = ["htp://{USER}:{URL_PASSWORD}@intranet.example/feed.xml"]\n'
        "article_patterns = ['/news/']\n",
        encoding="utf-8",
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "scheduler.cli", "crawl", "--config", str(config)]
    result = run([*command, "--db", str(tmp_path / "pw.db")], env, tmp_path)
    assert result.returncode == 1
    # The message still says which URL is wrong, without what would log in with it.
    assert "'htp://***@intranet.example/feed.xml' is not an http(s) URL" in result.stderr
    assert leaks(result.stdout + result.stderr) == []
