"""End to end: `presswatch crawl` in a subprocess against a real site on 127.0.0.1."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.localsite import LocalSite

WORDS = (
    "Officials from both countries met on Tuesday to discuss satellite navigation, "
    "supercomputing and joint laboratories, and agreed to publish a plan before the spring. "
)


def article_html(n: int, date: str, title: str | None = None, extra: str = "") -> str:
    title = title or f"Local story number {n}"
    paragraphs = "".join(f"<p>Paragraph {i} of story {n}. {WORDS * 2}</p>" for i in range(4))
    return f"""<!doctype html><html lang="en"><head><title>{title} - Local News</title>
<script type="application/ld+json">{{"@context": "https://schema.org", "@type": "NewsArticle",
"headline": "{title}", "datePublished": "{date}", "author": {{"@type": "Person",
"name": "Anna Writer"}}}}</script></head>
<body><nav><a href="/">Home</a> <a href="/about.html">About</a></nav>
<article><h1>{title}</h1>{paragraphs}{extra}</article>
<footer>Copyright Local News</footer></body></html>"""


def chinese_article() -> bytes:
    text = "中俄两国在科技创新领域的合作不断深化，双方同意共同推进卫星导航和人工智能研究。" * 6
    page = f"""<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312">
<title>中俄科技合作取得新进展</title></head><body><h1>中俄科技合作取得新进展</h1>
<div class="content"><p>{text}</p><p>{text}</p></div></body></html>"""
    return page.encode("gb18030")


def build_site(site: LocalSite) -> None:
    base = site.base
    # The sitemap named here is at no common location: only robots.txt leads to it.
    site.add(
        "/robots.txt",
        f"User-agent: *\nDisallow: /private/\nSitemap: {base}/sitemap-1.xml\n",
        content_type="text/plain",
    )
    site.add(
        "/feed.xml",
        f"""<?xml version="1.0"?><rss version="2.0"><channel><title>Local</title>
<item><title>One</title><link>{base}/news/1.html</link>
<pubDate>Tue, 07 Jul 2026 10:00:00 +0300</pubDate></item>
<item><title>Two</title><link>{base}/news/2.html</link>
<pubDate>Mon, 01 Dec 2025 10:00:00 +0300</pubDate></item>
</channel></rss>""",
        content_type="application/rss+xml",
    )
    site.add(
        "/sitemap_index.xml",
        f"""<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<sitemap><loc>{base}/sitemap-1.xml</loc></sitemap></sitemapindex>""",
        content_type="application/xml",
    )
    site.add(
        "/sitemap-1.xml",
        f"""<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<url><loc>{base}/news/3.html</loc><lastmod>2026-07-08</lastmod></url>
<url><loc>{base}/news/4.html</loc><lastmod>2026-07-09</lastmod></url>
<url><loc>{base}/private/9.html</loc></url>
<url><loc>{base}/about.html</loc></url></urlset>""",
        content_type="application/xml",
    )
    site.add(
        "/listing/",
        """<html><body><a href="/news/5.html">Five</a> <a href="../news/6.html">Six</a>
<a href="/news/404.html">Gone</a> <a href="https://elsewhere.example/news/1.html">Off</a>
<a href="/listing/page/2">Next</a></body></html>""",
    )
    site.add("/listing/page/2", '<html><body><a href="/news/7.html">Seven</a></body></html>')
    dates = {1: "2026-07-07T10:00:00+03:00", 2: "2025-12-01T10:00:00+03:00"}
    for n in (1, 2, 3, 4, 5, 7):
        site.add(f"/news/{n}.html", article_html(n, dates.get(n, f"2026-07-0{n}T09:30:00")))
    site.add("/news/6.html", chinese_article(), content_type="text/html")
    site.add("/private/9.html", article_html(9, "2026-07-09T09:30:00"))
    site.add("/about.html", "<html><body>About us</body></html>")


def write_config(path: Path, base: str, **extra: str) -> Path:
    lines = [
        # The address policy refuses loopback addresses unless allowed (crawler.netpolicy).
        "[crawl]",
        'allow_addresses = ["127.0.0.1"]',
        "[sources.local]",
        'name = "Local test site"',
        f'homepage = "{base}/"',
        'timezone = "Europe/Moscow"',
        f'feeds = ["{base}/feed.xml"]',
        f'sitemaps = ["{base}/sitemap_index.xml"]',
        f'listings = [{{url = "{base}/listing/", pages = "{base}/listing/page/{{n}}", '
        "first_page = 2, max_pages = 2}]",
        r"article_patterns = ['^http://127\.0\.0\.1:\d+/(news|private)/\d+\.html$']",
        "download_delay = 0",
        *(f"{k} = {v}" for k, v in extra.items()),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def presswatch(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scheduler.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def rows(db: Path, sql: str, *params: object) -> list[sqlite3.Row]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


@pytest.fixture
def site():  # type: ignore[no-untyped-def]
    with LocalSite() as s:
        build_site(s)
        yield s


def test_crawl_follows_feeds_sitemaps_and_listings_and_obeys_robots(
    site: LocalSite, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "presswatch.toml", site.base)
    db = tmp_path / "pw.db"
    result = presswatch(
        "crawl", "--source", "local", "--db", str(db), "--config", str(config), cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr

    urls = {r["url"] for r in rows(db, "select url from articles")}
    assert urls == {f"{site.base}/news/{n}.html" for n in range(1, 8)}
    assert "/private/9.html" not in site.requests, "robots.txt Disallow was not obeyed"
    assert "/about.html" not in site.requests, "a URL outside the article patterns was fetched"

    (run,) = rows(db, "select * from crawl_runs")
    assert run["status"] == "ok"
    assert run["articles_new"] == 7
    assert json.loads(run["http_errors"]) == {"404": 1}
    assert json.loads(run["fill_rates"])["title"] == 1.0
    assert "local" in result.stdout and "new   7" in result.stdout


def test_gb2312_page_is_decoded_and_searchable(site: LocalSite, tmp_path: Path) -> None:
    config = write_config(tmp_path / "presswatch.toml", site.base)
    db = tmp_path / "pw.db"
    presswatch("crawl", "--source", "local", "--db", str(db), "--config", str(config), cwd=tmp_path)
    (row,) = rows(db, "select title, body from articles where url like '%/news/6.html'")
    assert row["title"] == "中俄科技合作取得新进展"
    assert "卫星导航" in row["body"] and "\ufffd" not in row["body"]

    found = presswatch("search", "中俄", "--db", str(db), "--json", cwd=tmp_path)
    assert found.returncode == 0, found.stderr
    assert [hit["url"] for hit in json.loads(found.stdout)] == [f"{site.base}/news/6.html"]


def test_recrawl_changes_nothing_and_an_edit_becomes_a_version(
    site: LocalSite, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "presswatch.toml", site.base)
    db = tmp_path / "pw.db"
    args = ("crawl", "--source", "local", "--db", str(db), "--config", str(config))
    assert presswatch(*args, cwd=tmp_path).returncode == 0
    before = rows(db, "select id, record_hash, version from articles order by id")

    second = presswatch(*args, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert [
        tuple(r) for r in rows(db, "select id, record_hash, version from articles order by id")
    ] == [tuple(r) for r in before]
    last = rows(db, "select * from crawl_runs order by id desc limit 1")[0]
    assert (last["articles_new"], last["articles_updated"], last["articles_unchanged"]) == (0, 0, 7)

    site.add(
        "/news/1.html",
        article_html(
            1,
            "2026-07-07T10:00:00+03:00",
            extra="<p>Correction: the plan is due in summer, not spring, officials said.</p>",
        ),
    )
    assert presswatch(*args, cwd=tmp_path).returncode == 0
    last = rows(db, "select * from crawl_runs order by id desc limit 1")[0]
    assert (last["articles_new"], last["articles_updated"], last["articles_unchanged"]) == (0, 1, 6)
    (edited,) = rows(db, "select id, version, body from articles where url like '%/news/1.html'")
    assert edited["version"] == 2 and "Correction" in edited["body"]
    versions = rows(
        db,
        "select version from article_versions where article_id = ? order by version",
        edited["id"],
    )
    assert [v["version"] for v in versions] == [1, 2]


def test_archive_then_replay_with_the_site_gone(site: LocalSite, tmp_path: Path) -> None:
    config = write_config(tmp_path / "presswatch.toml", site.base)
    warc = tmp_path / "crawl.warc.gz"
    live_db, replay_db = tmp_path / "live.db", tmp_path / "replay.db"
    common = ("--source", "local", "--config", str(config))
    live = presswatch("crawl", *common, "--db", str(live_db), "--archive", str(warc), cwd=tmp_path)
    assert live.returncode == 0, live.stderr
    site.server.shutdown()  # from here on, only the archive can answer

    replay = presswatch(
        "crawl", *common, "--db", str(replay_db), "--replay", str(warc), cwd=tmp_path
    )
    assert replay.returncode == 0, replay.stderr
    live_rows = [
        tuple(r) for r in rows(live_db, "select id, content_hash from articles order by id")
    ]
    replay_rows = [
        tuple(r) for r in rows(replay_db, "select id, content_hash from articles order by id")
    ]
    assert replay_rows == live_rows and len(replay_rows) == 7
    (run,) = rows(replay_db, "select mode, http_errors from crawl_runs")
    assert run["mode"] == "replay"
    # The missing page was archived as the 404 it was, and replays as one.
    assert json.loads(run["http_errors"]) == {"404": 1}


def test_max_articles_and_since_bound_the_crawl(site: LocalSite, tmp_path: Path) -> None:
    config = write_config(tmp_path / "presswatch.toml", site.base)
    db = tmp_path / "pw.db"
    common = ("crawl", "--source", "local", "--config", str(config))
    capped = presswatch(*common, "--db", str(db), "--max-articles", "2", cwd=tmp_path)
    assert capped.returncode == 0, capped.stderr
    assert len(rows(db, "select id from articles")) == 2

    since_db = tmp_path / "since.db"
    first_request = len(site.requests)
    recent = presswatch(*common, "--db", str(since_db), "--since", "2026-01-01", cwd=tmp_path)
    assert recent.returncode == 0, recent.stderr
    urls = {r["url"] for r in rows(since_db, "select url from articles")}
    assert f"{site.base}/news/2.html" not in urls  # dated 2025-12-01 in the feed
    assert f"{site.base}/news/1.html" in urls
    # Known to be old from the feed, so never fetched at all.
    assert "/news/2.html" not in site.requests[first_request:]


def test_unknown_source_names_the_known_ones(tmp_path: Path) -> None:
    result = presswatch("crawl", "--source", "nyt", "--db", str(tmp_path / "x.db"), cwd=tmp_path)
    assert result.returncode != 0
    assert "Unknown source 'nyt'" in result.stderr and "globaltimes" in result.stderr


def test_a_source_that_fails_entirely_makes_the_exit_status_non_zero(tmp_path: Path) -> None:
    with LocalSite() as dead:
        base = dead.base  # a port that nothing will listen on once this block ends
    config = write_config(tmp_path / "presswatch.toml", base)
    db = tmp_path / "pw.db"
    result = presswatch(
        "crawl", "--source", "local", "--db", str(db), "--config", str(config), cwd=tmp_path
    )
    assert result.returncode != 0
    assert "failed entirely: local" in result.stderr
    (run,) = rows(db, "select status from crawl_runs")
    assert run["status"] == "failed"


def test_crawl_url_discovers_a_site_that_is_not_in_the_registry(
    site: LocalSite, tmp_path: Path
) -> None:
    db = tmp_path / "pw.db"
    config = tmp_path / "presswatch.toml"
    config.write_text(
        '[crawl]\ndownload_delay = 0\nallow_addresses = ["127.0.0.1"]\n', encoding="utf-8"
    )
    # No source declared: feeds come from the common locations, sitemaps from robots.txt,
    # the rest from following same-host links of the start page.
    result = presswatch(
        "crawl",
        "--url",
        f"{site.base}/listing/",
        "--db",
        str(db),
        "--config",
        str(config),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    urls = {r["url"] for r in rows(db, "select url from articles")}
    assert {f"{site.base}/news/{n}.html" for n in range(1, 8)} <= urls
    assert "/private/9.html" not in site.requests
    assert "/sitemap-1.xml" in site.requests
    assert all("elsewhere.example" not in u for u in urls)
    (run,) = rows(db, "select source, status from crawl_runs")
    assert run["source"] == "adhoc_127_0_0_1" and run["status"] == "ok"


def test_a_crawl_that_scrapy_closes_early_is_recorded_with_its_reason(
    site: LocalSite, tmp_path: Path
) -> None:
    """The run row says why the crawl ended. Pipelines close before Scrapy records its
    finish reason, so a crawl closed by a limit (or by Ctrl-C, "shutdown") was once
    recorded as "ok" with no error."""
    config = write_config(tmp_path / "presswatch.toml", site.base)
    db = tmp_path / "pw.db"
    script = (
        "import sys\n"
        "from crawler.runner import CrawlOptions, run_crawls\n"
        "options = CrawlOptions(db_path=sys.argv[1], config_path=sys.argv[2],\n"
        "                       overrides={'CLOSESPIDER_PAGECOUNT': 6})\n"
        "run_crawls(options, ['local'])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(db), str(config)],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    (run,) = rows(db, "SELECT status, error FROM crawl_runs")
    assert run["status"] in ("partial", "failed")
    assert run["error"] == "finish reason: closespider_pagecount"
