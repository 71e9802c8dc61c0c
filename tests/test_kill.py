"""Kill -9 at any moment: a crawl, and an alert delivery, SIGKILLed at random moments.

Both scenarios run the real `presswatch` command in a subprocess, in its own process group (as
the scheduler starts crawls), SIGKILL the group at a random moment at least KILLS times and
check the database after every kill; then a run without a kill must finish the work, with
nothing missing and nothing that was acknowledged sent twice.

- Crawl: a threaded HTTP server on 127.0.0.1 serves a site (feed, sitemap index, paginated
  listing) with a small delay per request, and edits a third of its articles between runs,
  and publishes a new one in each of the first rounds, so that every run has writes to make
  and some have alerts to send. Two kills in three fall anywhere in the run (start-up,
  discovery, parsing), one in three in the moments after the last article page was served:
  the last parse, the batch write, the crawl_runs bookkeeping and the alerts pass. A second
  server plays the webhook the alerts go to and records every request it gets.
- Delivery: the outbox keeps receiving alerts for a webhook that answers slowly, and
  `presswatch alerts send` is killed while it works through them.

What holds it together (DESIGN.md, db/store.py, alerts/outbox.py): every write is one
BEGIN IMMEDIATE transaction in a WAL database, so a kill leaves each batch of articles, each
matching batch with its watermark and each outbox state change all there or not at all; the
outbox marks a message sent in its own transaction right after the server accepted it, so
only the one message in flight can be sent again, under the same idempotency key.

The moments come from a seeded random generator; the seed and every moment are printed (shown
by pytest when a test fails). PRESSWATCH_KILL_SEED=<seed> replays a run's moments.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from alerts.channels import build_channels
from alerts.outbox import LEASE_SECONDS, deliver
from db import outbox
from db.dedup import content_hash
from db.store import open_db

REPO = Path(__file__).resolve().parent.parent
KILLS = 20
FIRST_ARTICLES = 18
NEW_ARTICLES = 12  # one more in each of the first rounds: 30 in the end
LISTING_PAGE = 4  # article links per listing page
RULE = "kill_watch"
TERM = "zephyrine"  # only the matching articles contain it


@pytest.fixture
def seed() -> int:
    value = os.environ.get("PRESSWATCH_KILL_SEED")
    chosen = int(value) if value else random.SystemRandom().randrange(2**32)
    print(f"PRESSWATCH_KILL_SEED={chosen}")
    return chosen


def connect(db: Path) -> closing[sqlite3.Connection]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    return closing(conn)


# --- servers ----------------------------------------------------------------------------------


class SlowSite:
    """Serves `pages` (path -> (content type, body)) on 127.0.0.1, each after a short delay,
    and remembers when it served each path."""

    def __init__(self, delay: tuple[float, float]) -> None:
        self.pages: dict[str, tuple[str, bytes]] = {}
        self.served: list[tuple[float, str]] = []
        jitter = random.Random(0)
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                time.sleep(jitter.uniform(*delay))
                found = site.pages.get(self.path)
                content_type, body = found or ("text/html", b"not found")
                try:
                    self.send_response(200 if found else 404)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    return  # the crawler was killed while this page was on its way
                site.served.append((time.monotonic(), self.path))

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: the test reads site.served."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def add(self, path: str, body: str, content_type: str = "text/html; charset=utf-8") -> None:
        self.pages[path] = (content_type, body.encode("utf-8"))

    def articles_served_since(self, moment: float) -> int:
        return len({path for at, path in list(self.served) if at >= moment and "/news/" in path})

    def __enter__(self) -> SlowSite:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Delivery:
    key: str  # the Idempotency-Key header: the outbox key
    body: dict[str, Any]
    at: float  # time.monotonic() once the request was read


class Webhook:
    """A webhook receiver that records every POST and answers 200 after a delay."""

    def __init__(self, delay: tuple[float, float]) -> None:
        self.received: list[Delivery] = []
        self.unanswered: list[str] = []  # keys whose sender died before the answer came
        self.lock = threading.Lock()
        jitter = random.Random(1)
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                key = self.headers["Idempotency-Key"]
                with hook.lock:
                    hook.received.append(Delivery(key, body, time.monotonic()))
                # The answer comes late: a kill meanwhile leaves the message in flight.
                time.sleep(jitter.uniform(*delay))
                try:
                    self.send_response(200)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except (BrokenPipeError, ConnectionResetError):
                    with hook.lock:
                        hook.unanswered.append(key)

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: the test reads hook.received."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def snapshot(self) -> list[Delivery]:
        with self.lock:
            return list(self.received)

    def __enter__(self) -> Webhook:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- the site ---------------------------------------------------------------------------------

VOCABULARY = (
    "agency budget cabinet capital council court crisis debate delegation deputy district "
    "economy election energy envoy export factory farmer finance forum grain harbour health "
    "highway industry inquiry justice labour ministry mission parliament pension pipeline "
    "port province railway reform region report research school science senate summit tariff "
    "tax trade transport treaty tribunal union village voter water welfare worker youth "
    "announced approved argued blocked called cited claimed delayed denied discussed doubled "
    "expanded funded halted joined launched opened planned promised raised rejected signed "
    "slowed visited warned northern southern eastern western rural urban coastal annual "
    "monthly regional national foreign domestic public private joint new former senior"
).split()
REVISION = re.compile(r"\brev\d+x\d+\b")


def token(n: int) -> str:
    """A word only article `n` has (in its title): finds it in the full-text index."""
    return f"kwt{n:03d}q"


def matches(n: int) -> bool:
    return n % 3 == 0


def article_page(n: int, revision: int = 0) -> str:
    """Article `n`: its own text (stories are told apart by text similarity), its own day
    (alerts of one rule and day are bundled), the rule's term when `matches(n)`, and after an
    edit a correction naming the revision with a word of its own."""
    words = random.Random(n)
    paragraphs = []
    for i in range(4):
        text = " ".join(words.choice(VOCABULARY) for _ in range(45))
        if i == 2 and matches(n):
            text += f" The {TERM} accord was mentioned again."
        paragraphs.append(f"<p>{text.capitalize()}.</p>")
    if revision:
        paragraphs.append(f"<p>Correction rev{revision}x{n}: the figures were revised.</p>")
    day = (datetime(2026, 1, 1) + timedelta(days=n)).strftime("%Y-%m-%d")
    title = f"Bulletin {n} {token(n)}"
    return f"""<!doctype html><html lang="en"><head><title>{title} - Slow News</title>
<script type="application/ld+json">{{"@context": "https://schema.org", "@type": "NewsArticle",
"headline": "{title}", "datePublished": "{day}T09:30:00+03:00", "author": {{"@type": "Person",
"name": "Anna Writer"}}}}</script></head>
<body><nav><a href="/">Home</a></nav><article><h1>{title}</h1>{"".join(paragraphs)}</article>
<footer>Copyright Slow News</footer></body></html>"""


@dataclass
class Site:
    """The site's state: its articles and their revisions. `publish` serves that state."""

    server: SlowSite
    total: int = FIRST_ARTICLES
    revisions: dict[int, int] = field(default_factory=dict)

    @property
    def urls(self) -> set[str]:
        return {f"{self.server.base}/news/{n}.html" for n in range(1, self.total + 1)}

    def next_round(self, number: int) -> None:
        """What happens on a news site between two crawls: a new article in the first
        rounds, and corrections to a third of the others (a different third each time)."""
        if number <= NEW_ARTICLES:
            self.total += 1
        for n in range(1, self.total + 1):
            if (n + number) % 3 == 0:
                self.revisions[n] = number
        self.publish()

    def publish(self) -> None:
        """The feed lists the first third and every newer article, the sitemap the second
        third, the paginated listing the rest."""
        site, base, third = self.server, self.server.base, FIRST_ARTICLES // 3
        site.add("/robots.txt", "User-agent: *\nAllow: /\n", "text/plain")
        fed = [*range(1, third + 1), *range(FIRST_ARTICLES + 1, self.total + 1)]
        items = "".join(
            f"<item><title>{n}</title><link>{base}/news/{n}.html</link></item>" for n in fed
        )
        site.add(
            "/feed.xml",
            f'<?xml version="1.0"?><rss version="2.0"><channel><title>Slow</title>{items}'
            "</channel></rss>",
            "application/rss+xml",
        )
        site.add(
            "/sitemap_index.xml",
            '<?xml version="1.0"?>'
            '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"<sitemap><loc>{base}/sitemap-1.xml</loc></sitemap></sitemapindex>",
            "application/xml",
        )
        locs = "".join(
            f"<url><loc>{base}/news/{n}.html</loc></url>" for n in range(third + 1, 2 * third + 1)
        )
        site.add(
            "/sitemap-1.xml",
            '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"{locs}</urlset>",
            "application/xml",
        )
        for number, chunk in enumerate(listing_pages(), 1):
            links = " ".join(f'<a href="/news/{n}.html">{n}</a>' for n in chunk)
            path = "/listing/" if number == 1 else f"/listing/page/{number}"
            site.add(path, f"<html><body>{links}</body></html>")
        for n in range(1, self.total + 1):
            site.add(f"/news/{n}.html", article_page(n, self.revisions.get(n, 0)))


def listing_pages() -> list[list[int]]:
    listed = list(range(2 * (FIRST_ARTICLES // 3) + 1, FIRST_ARTICLES + 1))
    return [listed[i : i + LISTING_PAGE] for i in range(0, len(listed), LISTING_PAGE)]


def write_config(path: Path, base: str, hook_url: str) -> Path:
    path.write_text(
        f"""[crawl]
allow_addresses = ["127.0.0.1"]

[sources.local]
name = "Slow test site"
homepage = "{base}/"
timezone = "Europe/Moscow"
feeds = ["{base}/feed.xml"]
sitemaps = ["{base}/sitemap_index.xml"]
listings = [{{url = "{base}/listing/", pages = "{base}/listing/page/{{n}}", first_page = 2, \
max_pages = {len(listing_pages())}}}]
article_patterns = ['^http://127\\.0\\.0\\.1:\\d+/news/\\d+\\.html$']
download_delay = 0

[channels.hook]
type = "webhook"
url = "{hook_url}"
timeout = 10

[rules.{RULE}]
query = "{TERM}"
channels = ["hook"]
""",
        encoding="utf-8",
    )
    return path


# --- running and killing ----------------------------------------------------------------------


@dataclass
class Round:
    number: int
    started: float  # time.monotonic()
    killed: bool = False
    when: str = ""  # when the kill was aimed, for the log


@dataclass
class Killer:
    """Runs a presswatch command again and again, killing each run at a chosen moment."""

    args: list[str]
    folder: Path
    rounds: list[Round] = field(default_factory=list)

    def _start(self, log: Path) -> subprocess.Popen[bytes]:
        with log.open("wb") as out:
            return subprocess.Popen(
                [sys.executable, "-m", "scheduler.cli", *self.args],
                cwd=self.folder,
                env={**os.environ, "PYTHONPATH": str(REPO)},
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                # Its own process group, as the scheduler runs crawls: the kill reaches
                # everything the command started.
                start_new_session=True,
            )

    def run(
        self, delay: float | None, after: Callable[[float], bool] | None = None, what: str = ""
    ) -> Round:
        """One run, SIGKILLed `delay` seconds after it started (or after `after(start)` first
        returned True); `delay` None: let it end. A run that ends first must succeed."""
        this = Round(len(self.rounds) + 1, time.monotonic())
        log = self.folder / f"round-{this.number:02d}.log"
        child = self._start(log)
        if delay is not None:
            while after is not None and child.poll() is None and not after(this.started):
                time.sleep(0.005)
            try:
                child.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                this.killed = True
        code = child.wait(timeout=120)
        self.rounds.append(this)
        this.when = f"{what}{delay:.3f} s" if delay is not None else "no kill"
        if not this.killed:
            assert code == 0, log.read_text(errors="replace")
        return this

    @property
    def kills(self) -> int:
        return sum(r.killed for r in self.rounds)


def note(line: str) -> None:
    print(line)  # pytest shows it when a test fails: the seed and moments to replay


# --- what must hold after every kill ----------------------------------------------------------


def check_database(db: Path) -> None:
    """SQLite's own checks: the file and its indexes, the foreign keys, the FTS indexes."""
    with connect(db) as conn:
        assert [r[0] for r in conn.execute("PRAGMA integrity_check")] == ["ok"]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        for fts in ("articles_fts", "briefing_turns_fts"):
            # Raises "database disk image is malformed" when the index is inconsistent.
            conn.execute(f"INSERT INTO {fts}({fts}) VALUES ('integrity-check')")


def article_number(url: str) -> int:
    return int(url.rsplit("/", 1)[1].removesuffix(".html"))


def indexed(conn: sqlite3.Connection, word: str) -> list[int]:
    return [r[0] for r in conn.execute("SELECT rowid FROM articles_fts(?)", [f'"{word}"'])]


def check_articles(db: Path) -> dict[str, sqlite3.Row]:
    """Every stored article is whole: its text and hashes agree, its versions are 1..version
    with the last one equal to the row, and the full-text index has its current words and
    not the words of an earlier version. Returns the articles by URL."""
    with connect(db) as conn:
        articles = conn.execute(
            "SELECT rowid, id, url, title, body, content_hash, record_hash, version FROM articles"
        ).fetchall()
        for a in articles:
            where = f"article {a['url']} version {a['version']}"
            n = article_number(a["url"])
            assert a["title"].strip() and a["body"].strip(), f"{where}: empty title or body"
            assert a["content_hash"] == content_hash(a["title"], a["body"]), where
            assert token(n) in a["title"] and (TERM in a["body"]) == matches(n), where
            versions = conn.execute(
                "SELECT version, content_hash, record_hash, title, body FROM article_versions "
                "WHERE article_id = ? ORDER BY version",
                [a["id"]],
            ).fetchall()
            assert [v["version"] for v in versions] == list(range(1, a["version"] + 1)), where
            last = versions[-1]
            assert tuple(last)[1:] == (a["content_hash"], a["record_hash"], a["title"], a["body"])
            assert indexed(conn, token(n)) == [a["rowid"]], f"{where}: not (only) in the index"
            current = set(REVISION.findall(a["body"]))
            for word in current:
                assert indexed(conn, word) == [a["rowid"]], f"{where}: {word} not indexed"
            for v in versions[:-1]:
                for word in set(REVISION.findall(v["body"])) - current:
                    assert indexed(conn, word) == [], f"{where}: stale {word} still indexed"
        orphans = conn.execute(
            "SELECT count(*) FROM article_versions v LEFT JOIN articles a "
            "ON a.id = v.article_id WHERE a.id IS NULL"
        ).fetchone()[0]
        assert orphans == 0, "versions of an article that is not there"
    return {a["url"]: a for a in articles}


def payload_stories(payload: dict[str, Any]) -> set[int]:
    return {payload["story"]["id"], *(s["id"] for s in payload.get("stories", []))}


def check_alert_state(db: Path) -> None:
    """Matching committed a batch with its watermark or nothing: the matches are exactly
    those of the versions up to the watermark, and each story marked alerted has its
    outbox message (and no message is without its story)."""
    with connect(db) as conn:
        row = conn.execute("SELECT value FROM alert_state WHERE key = 'match_watermark'").fetchone()
        watermark = int(row[0]) if row else 0
        expected = {
            r[0]
            for r in conn.execute(
                "SELECT article_id FROM article_versions WHERE id <= ? AND body LIKE ?",
                [watermark, f"%{TERM}%"],
            )
        }
        matched = {r[0] for r in conn.execute("SELECT article_id FROM alert_matches")}
        assert matched == expected, f"the matches do not follow the watermark {watermark}"
        alerted = {r[0] for r in conn.execute("SELECT story_id FROM alerts_sent_for")}
        queued: set[int] = set()
        for (payload,) in conn.execute("SELECT payload FROM outbox WHERE kind = 'alert'"):
            queued |= payload_stories(json.loads(payload))
        assert queued == alerted, "a story marked alerted has no outbox message, or the reverse"


def check_outbox(db: Path) -> list[sqlite3.Row]:
    """Every outbox row is in a state of its life cycle (db/outbox.py), fully."""
    with connect(db) as conn:
        rows = conn.execute("SELECT * FROM outbox ORDER BY id").fetchall()
    for r in rows:
        assert r["status"] in ("pending", "sending", "sent"), dict(r)
        if r["status"] == "sent":
            assert r["sent_at"] and r["attempts"] >= 1 and not r["claimed_at"], dict(r)
        if r["status"] == "sending":
            assert r["claimed_at"] and r["attempts"] >= 1, dict(r)
    return rows


def sent_keys(db: Path) -> set[str]:
    if not db.exists():
        return set()
    with connect(db) as conn:
        return {r[0] for r in conn.execute("SELECT key FROM outbox WHERE status = 'sent'")}


def check_deliveries(
    received: list[Delivery], rounds: list[Round], acknowledged: list[set[str]]
) -> Counter[str]:
    """No acknowledged message was sent again, and a message came twice only when it was
    the one in flight when its sender was killed. `acknowledged[i]`: the keys marked sent
    before round i started. Returns how often each key arrived."""
    starts = [r.started for r in rounds] + [float("inf")]
    in_flight: set[str] = set()
    seen: set[str] = set()
    for i, this in enumerate(rounds):
        keys = [d.key for d in received if starts[i] <= d.at < starts[i + 1]]
        assert len(keys) == len(set(keys)), f"round {this.number} sent a message twice: {keys}"
        again = set(keys) & acknowledged[i]
        assert not again, f"round {this.number} sent acknowledged messages {sorted(again)} again"
        repeated = (set(keys) & seen) - in_flight
        assert not repeated, f"round {this.number} repeated {sorted(repeated)}, never in flight"
        seen.update(keys)
        if this.killed and keys:
            in_flight.add(keys[-1])
    for d in received:
        assert d.body["id"] == d.key, "a resend carries the same id in its body"
    return Counter(d.key for d in received)


def finish_in_flight(db: Path, hook_url: str) -> None:
    """Deliver what killed senders left "sending", as the first run after the lease does
    (the test cannot wait LEASE_SECONDS; `deliver` takes the time as an argument)."""
    later = datetime.now(UTC) + timedelta(seconds=LEASE_SECONDS + 1)
    channels = build_channels({"hook": {"type": "webhook", "url": hook_url, "timeout": 10}})
    with open_db(db) as database:
        report = deliver(database, channels, now=later)
    assert report.failed == 0 and report.retried == 0, report.problems


# --- scenario 1: the crawl --------------------------------------------------------------------


def crawl_phase(db: Path, before: int) -> str:
    """What the killed crawl had got to, from the database."""
    if not db.exists():
        return "start-up"
    with connect(db) as conn:
        run = conn.execute(
            "SELECT id, status FROM crawl_runs WHERE id > ? ORDER BY id", [before]
        ).fetchone()
        if run is None:
            return "start-up"
        stored = conn.execute(
            "SELECT count(*) FROM article_versions WHERE run_id = ?", [run["id"]]
        ).fetchone()[0]
    if run["status"] == "running":
        return f"crawling, {stored} versions stored"
    return f"alerts pass after run {run['status']}, {stored} versions stored"


def test_a_crawl_killed_at_random_moments_stays_whole_and_completes_once(
    tmp_path: Path, seed: int
) -> None:
    rng = random.Random(seed)
    with SlowSite(delay=(0.015, 0.04)) as server, Webhook(delay=(0.05, 0.15)) as hook:
        site = Site(server)
        site.publish()
        db = tmp_path / "pw.db"
        config = write_config(tmp_path / "presswatch.toml", server.base, hook.url)
        killer = Killer(
            ["crawl", "--source", "local", "--db", str(db), "--config", str(config)], tmp_path
        )

        # A run without kills, into a database of its own: how long a whole crawl takes.
        other = write_config(tmp_path / "other.toml", server.base, f"{hook.url}/other")
        args = ["crawl", "--source", "local", "--db", str(tmp_path / "other.db")]
        began = time.monotonic()
        Killer([*args, "--config", str(other)], tmp_path).run(None)
        whole = time.monotonic() - began
        hook.received.clear()
        note(f"seed {seed}: a whole crawl takes {whole:.2f} s")

        acknowledged: list[set[str]] = []
        while killer.kills < KILLS:
            assert len(killer.rounds) < 3 * KILLS, "the crawl keeps ending before its kill"
            site.next_round(len(killer.rounds) + 1)
            acknowledged.append(sent_keys(db))
            before = last_run(db)
            if rng.random() < 0.65:
                this = killer.run(rng.uniform(0.2, whole))
            else:
                # Soon after the last article page, most often within the first tens of
                # milliseconds: the last parse, the batch write, the run's bookkeeping, then
                # the alerts pass.
                def done(start: float, total: int = site.total) -> bool:
                    return server.articles_served_since(start) >= total

                this = killer.run(0.5 * rng.random() ** 2, done, what="last page + ")
            phase = crawl_phase(db, before) if this.killed else "ended by itself"
            note(f"round {this.number}: kill at {this.when}: {phase}")
            if not db.exists():
                continue
            check_database(db)
            check_articles(db)
            check_alert_state(db)
            check_outbox(db)
            # A crawl settles the runs of killed crawls before it starts its own: only the
            # newest run may be left "running" (with a dead pid), by the last kill.
            with connect(db) as conn:
                running = conn.execute("SELECT id FROM crawl_runs WHERE status = 'running'")
                assert [r[0] for r in running] in ([], [last_run(db)])

        acknowledged.append(sent_keys(db))
        killer.run(None)
        check_database(db)
        articles = check_articles(db)
        assert sorted(articles) == sorted(site.urls)  # exactly the site's articles, once each
        for url, a in articles.items():
            n = article_number(url)
            # The site's last edit of each article is what is stored.
            revision = site.revisions.get(n)
            assert set(REVISION.findall(a["body"])) == (
                {f"rev{revision}x{n}"} if revision else set()
            )

        with connect(db) as conn:
            runs = conn.execute("SELECT id, status, error FROM crawl_runs ORDER BY id").fetchall()
        assert runs[-1]["status"] == "ok", dict(runs[-1])
        statuses = Counter(r["status"] for r in runs)
        # Killed runs are "interrupted" (or "ok" when only the alerts pass was cut short).
        assert set(statuses) <= {"ok", "interrupted"}, [dict(r) for r in runs]

        finish_in_flight(db, hook.url)
        check_alert_state(db)
        rows = check_outbox(db)
        assert {r["status"] for r in rows} == {"sent"}
        received = hook.snapshot()
        counts = check_deliveries(received, killer.rounds, acknowledged)
        assert set(counts) == {r["key"] for r in rows}
        # Every matching article alerted, in exactly one message.
        alerted: Counter[str] = Counter()
        for key in counts:
            payload = next(d.body["payload"] for d in received if d.key == key)
            alerted.update({item["url"] for item in payload["items"]})
        matching = {url for url in site.urls if matches(article_number(url))}
        assert set(alerted) == matching and set(alerted.values()) == {1}, alerted
        note(
            f"{killer.kills} kills in {len(killer.rounds) - 1} runs; runs {dict(statuses)}; "
            f"{len(counts)} alerts, {sum(counts.values()) - len(counts)} sent again after a "
            f"kill in flight, {len(hook.unanswered)} answers never read"
        )


def last_run(db: Path) -> int:
    if not db.exists():
        return 0
    with connect(db) as conn:
        return conn.execute("SELECT coalesce(max(id), 0) FROM crawl_runs").fetchone()[0]


# --- scenario 2: delivery ---------------------------------------------------------------------

FIRST, EACH_ROUND = 12, 4


def alert(n: int) -> dict[str, Any]:
    """An alert payload as alerts.match builds it, for story `n`."""
    return {
        "rule": RULE,
        "query": TERM,
        "why": f"{TERM} in body",
        "story": {"id": n, "title": f"Bulletin {n}", "first_seen_at": "2026-01-01T09:30:00Z"},
        "items": [
            {
                "source": "local",
                "source_name": "Slow News",
                "url": f"http://127.0.0.1/news/{n}.html",
                "title": f"Bulletin {n}",
                "published_at": "2026-01-01T06:30:00Z",
                "language": "en",
                "kind": "article",
                "snippet": f"The «{TERM}» accord was mentioned again.",
                "speaker": None,
                "turn_idx": None,
            }
        ],
        "outlets": ["Slow News"],
    }


def queue_alerts(db: Path, numbers: range) -> None:
    with open_db(db) as database:
        for n in numbers:
            outbox.enqueue(
                database,
                key=f"alert:{RULE}:{n}:hook",
                channel="hook",
                kind="alert",
                payload=alert(n),
                now=datetime.now(UTC),
            )


def open_claims(db: Path) -> set[tuple[str, int]]:
    """The claims of messages still "sending"; (key, attempts) names one claim."""
    with connect(db) as conn:
        return {
            (r[0], r[1])
            for r in conn.execute("SELECT key, attempts FROM outbox WHERE status = 'sending'")
        }


def let_the_lease_pass(db: Path) -> None:
    """Age every open claim past the lease: the next run stands for one that starts more
    than LEASE_SECONDS after the kill, when the claim is taken over (the test cannot wait)."""
    stale = outbox.to_timestamp(datetime.now(UTC) - timedelta(seconds=LEASE_SECONDS + 1))
    with connect(db) as conn, conn:
        conn.execute("UPDATE outbox SET claimed_at = ? WHERE status = 'sending'", [stale])


def test_a_delivery_killed_at_random_moments_loses_nothing_and_repeats_nothing_acknowledged(
    tmp_path: Path, seed: int
) -> None:
    rng = random.Random(seed)
    with Webhook(delay=(0.1, 0.3)) as hook:
        config = tmp_path / "presswatch.toml"
        config.write_text(
            f'[channels.hook]\ntype = "webhook"\nurl = "{hook.url}"\ntimeout = 10\n\n'
            f'[rules.{RULE}]\nquery = "{TERM}"\nchannels = ["hook"]\n',
            encoding="utf-8",
        )
        db = tmp_path / "pw.db"
        killer = Killer(["alerts", "send", "--db", str(db), "--config", str(config)], tmp_path)

        # With nothing to send, a run is the command's start-up; the kills fall in that and
        # in the few seconds of sending after it.
        open_db(db).close()
        began = time.monotonic()
        killer.run(None)
        startup = time.monotonic() - began
        killer.rounds.clear()
        note(f"seed {seed}: start-up takes {startup:.2f} s")

        queued = FIRST
        queue_alerts(db, range(1, queued + 1))
        acknowledged: list[set[str]] = []
        while killer.kills < KILLS:
            assert len(killer.rounds) < 3 * KILLS, "the sender keeps ending before its kill"
            # Matching keeps queueing alerts while earlier ones wait.
            queue_alerts(db, range(queued + 1, queued + EACH_ROUND + 1))
            queued += EACH_ROUND
            aged = len(killer.rounds) % 2 == 1
            if aged:
                let_the_lease_pass(db)
            before = open_claims(db)
            acknowledged.append(sent_keys(db))
            this = killer.run(rng.uniform(0.1, startup + 1.5))
            with connect(db) as conn:
                states = dict(conn.execute("SELECT status, count(*) FROM outbox GROUP BY 1"))
            note(
                f"round {this.number}: kill at {this.when}"
                f"{' (after the lease)' if aged else ''}: "
                f"{'killed' if this.killed else 'ended by itself'}, outbox {states}"
            )
            check_database(db)
            check_outbox(db)
            if this.killed:
                # The documented window: the one message being sent when the sender died
                # stays "sending" (and may be sent again); nothing else it claimed does.
                left = open_claims(db) - before
                assert len(left) <= 1, f"round {this.number} left {sorted(left)} claimed"

        acknowledged.append(sent_keys(db))
        killer.run(None)
        finish_in_flight(db, hook.url)
        check_database(db)
        rows = check_outbox(db)
        keys = {f"alert:{RULE}:{n}:hook" for n in range(1, queued + 1)}
        assert {r["key"] for r in rows} == keys
        assert {r["status"] for r in rows} == {"sent"}, Counter(r["status"] for r in rows)
        counts = check_deliveries(hook.snapshot(), killer.rounds, acknowledged)
        assert set(counts) == keys  # every alert arrived
        note(
            f"{killer.kills} kills in {len(killer.rounds) - 1} runs; {len(keys)} alerts, "
            f"{sum(counts.values()) - len(counts)} sent again after a kill in flight, "
            f"attempts {dict(Counter(r['attempts'] for r in rows))}"
        )
