"""The address policy (crawler.netpolicy): real crawls against hostile servers on 127.0.0.x.

Linux routes all of 127.0.0.0/8 to the loopback interface, so a server on 127.0.0.2 stands
in for a public site (the only address these tests allow) and a "secret" server on 127.0.0.1
for what must never be reached: loopback, the intranet, a cloud metadata service.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import socket
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.utils.reactor import install_reactor, is_reactor_installed

from crawler.netpolicy import AddressPolicy, AddressPolicyMiddleware, classify, parse_ip
from crawler.runner import CrawlOptions, build_settings
from tests.localsite import LocalSite, Page
from tests.test_crawl import article_html, build_site, write_config

ROOT = Path(__file__).resolve().parent.parent

# ---- servers -----------------------------------------------------------------------------


class Site:
    """A real HTTP server on `host` serving `pages`; it counts every connection it accepts."""

    def __init__(self, host: str, port: int = 0) -> None:
        self.pages: dict[str, Page] = {}
        self.requests: list[str] = []
        self.connections = 0
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                site.requests.append(self.path)
                page = site.pages.get(self.path) or Page(b"not found", status=404)
                self.send_response(page.status)
                self.send_header("Content-Type", page.content_type)
                self.send_header("Content-Length", str(len(page.body)))
                for name, value in page.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(page.body)

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: the test reads site.requests instead."""

        class Server(ThreadingHTTPServer):
            def get_request(self) -> tuple[socket.socket, Any]:
                accepted = super().get_request()
                site.connections += 1
                return accepted

        self.server = Server((host, port), Handler)
        self.port = self.server.server_address[1]
        self.base = f"http://{host}:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def add(self, path: str, body: str | bytes = b"", **kwargs: Any) -> None:
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.pages[path] = Page(data, **kwargs)

    def redirect(self, path: str, location: str, status: int = 302) -> None:
        self.add(path, status=status, headers={"Location": location})

    def __enter__(self) -> Site:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class Trap:
    """A TCP port that accepts, counts and closes every connection (any protocol)."""

    def __init__(self, host: str) -> None:
        self.sock = socket.create_server((host, 0))
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return  # closed by __exit__
            self.connections += 1
            conn.close()

    def __enter__(self) -> Trap:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()


@pytest.fixture
def public() -> Iterator[Site]:
    with Site("127.0.0.2") as site:
        yield site


@pytest.fixture
def secret() -> Iterator[Site]:
    with Site("127.0.0.1") as site:
        # Article-shaped, so that a crawl that reaches them stores them.
        for n in range(1, 10):
            site.add(f"/secret/{n}", article_html(n, "2026-07-07", title="Internal: do not crawl"))
        yield site


# ---- crawling ------------------------------------------------------------------------------

# `run_crawls` in a child process (a reactor cannot restart), with Scrapy overrides: the tests
# switch parts of the policy off to show what each part stops. The resolvers below emulate a
# rebinding DNS server for one name; every other name goes to the system resolver.
DRIVER = """
import itertools, json, sys
from scrapy.resolver import CachingThreadedResolver
from twisted.internet import defer
from twisted.internet.base import ThreadedResolver
from crawler.netpolicy import PolicyResolver
from crawler.runner import CrawlOptions, run_crawls

args = json.loads(sys.argv[1])
answers = itertools.cycle(args.get("rebind_answers") or [None])

class RebindingDNS(ThreadedResolver):
    def getHostByName(self, name, timeout=()):
        if name == "rebind.test":
            return defer.succeed(next(answers))
        return super().getHostByName(name, timeout)

class RebindingResolver(PolicyResolver, RebindingDNS):
    pass

class RebindingStockResolver(CachingThreadedResolver, RebindingDNS):
    pass

options = CrawlOptions(
    db_path=args["db"], config_path=args["config"], log_level="INFO",
    overrides=args["overrides"],
)
run_crawls(options, [args["source"]])
"""


def crawl(
    tmp_path: Path,
    config: str,
    source: str = "hostile",
    overrides: dict[str, Any] | None = None,
    rebind_answers: list[str] | None = None,
) -> tuple[str, Path]:
    """Crawl `source` as declared in `config`; return the log and the database."""
    path = tmp_path / "presswatch.toml"
    path.write_text(config, encoding="utf-8")
    db = tmp_path / "pw.db"
    args = {
        "db": str(db),
        "config": str(path),
        "source": source,
        "overrides": overrides or {},
        "rebind_answers": rebind_answers,
    }
    result = subprocess.run(
        [sys.executable, "-c", DRIVER, json.dumps(args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stderr, db


def stored_urls(db: Path) -> set[str]:
    conn = sqlite3.connect(db)
    try:
        return {url for (url,) in conn.execute("select url from articles")}
    finally:
        conn.close()


def run_stats(db: Path) -> dict[str, Any]:
    conn = sqlite3.connect(db)
    try:
        (stats,) = conn.execute("select stats from crawl_runs order by id desc limit 1").fetchone()
    finally:
        conn.close()
    return json.loads(stats)


def source_config(homepage: str, allow: list[str], **fields: str) -> str:
    """A [crawl] allow-list and one source, `hostile`, whose article URLs end /news/<n>.html."""
    lines = [
        "[crawl]",
        f"allow_addresses = {json.dumps(allow)}",
        "[sources.hostile]",
        'name = "Hostile site"',
        f'homepage = "{homepage}/"',
        # Unanchored, as users write them: any URL ending so is an article.
        r"article_patterns = ['/news/\d+\.html$']",
        "download_delay = 0",
        *(f"{key} = {value}" for key, value in fields.items()),
    ]
    return "\n".join(lines) + "\n"


def rss(*links: str) -> str:
    items = "".join(f"<item><title>x</title><link>{link}</link></item>" for link in links)
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>'
    )


def refresh_to(url: str) -> str:
    return f'<html><head><meta http-equiv="refresh" content="0; url={url}"></head></html>'


# ---- (a, b) the default refuses loopback; the allow-list lets it through ---------------------


@pytest.fixture
def site() -> Iterator[LocalSite]:
    with LocalSite() as s:
        build_site(s)
        yield s


def test_the_default_config_refuses_127_0_0_1_and_says_why(site: LocalSite, tmp_path: Path) -> None:
    allowed = write_config(tmp_path / "allowed.toml", site.base).read_text(encoding="utf-8")
    config = tmp_path / "presswatch.toml"
    config.write_text(allowed.replace('allow_addresses = ["127.0.0.1"]\n', ""), encoding="utf-8")
    db = tmp_path / "pw.db"
    args = ["crawl", "--source", "local", "--db", str(db), "--config", str(config)]
    result = subprocess.run(
        [sys.executable, "-m", "scheduler.cli", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0 and "failed entirely: local" in result.stderr, result.stderr
    assert site.requests == [], "the site was contacted (robots.txt included)"
    assert stored_urls(db) == set()
    assert (
        f"Refused {site.base}/feed.xml: 127.0.0.1 is a loopback address; to crawl it, add the "
        "address to [crawl] allow_addresses in presswatch.toml" in result.stderr
    )
    # Feed, sitemap index, and two listing pages: every start request, nothing else.
    assert run_stats(db)["netpolicy/refused/loopback"] == 4


def test_an_allowed_network_lets_the_crawl_through(site: LocalSite, tmp_path: Path) -> None:
    config = write_config(tmp_path / "allowed.toml", site.base).read_text(encoding="utf-8")
    log, db = crawl(
        tmp_path,
        config.replace('["127.0.0.1"]', '["10.0.0.0/8", "127.0.0.0/8"]'),
        source="local",
    )
    assert stored_urls(db) == {f"{site.base}/news/{n}.html" for n in range(1, 8)}
    assert not [key for key in run_stats(db) if key.startswith("netpolicy/")]
    assert "allowed besides: 10.0.0.0/8, 127.0.0.0/8" in log


def test_a_name_that_resolves_to_an_allowed_address_passes_both_checks(
    site: LocalSite, tmp_path: Path
) -> None:
    """localhost is looked up by the middleware and again by the resolver when connecting."""
    config = tmp_path / "presswatch.toml"
    config.write_text(
        '[crawl]\ndownload_delay = 0\nallow_addresses = ["127.0.0.1"]\n', encoding="utf-8"
    )
    db = tmp_path / "pw.db"
    start = site.base.replace("127.0.0.1", "localhost") + "/listing/"
    args = ["crawl", "--url", start, "--db", str(db), "--config", str(config), "--no-alerts"]
    result = subprocess.run(
        [sys.executable, "-m", "scheduler.cli", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    # The listing's relative links, on the host the crawl started from.
    assert start.replace("/listing/", "/news/5.html") in stored_urls(db)
    assert "Refused" not in result.stderr


def test_a_replay_checks_no_addresses_and_looks_nothing_up(site: LocalSite, tmp_path: Path) -> None:
    """An archive of an allowed intranet site replays without the allow-list: nothing is
    fetched, so there is nothing to refuse."""
    config = write_config(tmp_path / "allowed.toml", site.base)
    warc = tmp_path / "crawl.warc.gz"
    common = ["crawl", "--source", "local", "--no-alerts"]

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "scheduler.cli", *common, *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    live = cli("--db", str(tmp_path / "live.db"), "--config", str(config), "--archive", str(warc))
    assert live.returncode == 0, live.stderr
    site.server.shutdown()
    strict = tmp_path / "presswatch.toml"
    strict.write_text(
        config.read_text(encoding="utf-8").replace('allow_addresses = ["127.0.0.1"]\n', ""),
        encoding="utf-8",
    )
    replay_db = tmp_path / "replay.db"
    replay = cli("--db", str(replay_db), "--config", str(strict), "--replay", str(warc))
    assert replay.returncode == 0, replay.stderr
    assert len(stored_urls(replay_db)) == 7
    assert not [key for key in run_stats(replay_db) if key.startswith("netpolicy/")]


def test_a_name_that_does_not_resolve_is_a_download_error_not_a_refusal(tmp_path: Path) -> None:
    """A guard, not a hostile case: DNS failures keep their usual error, retries and stat."""
    config = source_config(
        "http://nowhere.invalid", allow=[], feeds='["http://nowhere.invalid/feed.xml"]'
    )
    _, db = crawl(tmp_path, config)
    stats = run_stats(db)
    assert not [key for key in stats if key.startswith("netpolicy/")]
    assert stats["downloader/exception_type_count/scrapy.exceptions.CannotResolveHostError"] >= 1


# ---- (c) redirects and meta refresh from a public page -------------------------------------


def test_redirects_and_meta_refresh_to_internal_addresses_are_refused_at_every_hop(
    public: Site, secret: Site, tmp_path: Path
) -> None:
    s = secret.port
    # Each target its own URL: Scrapy drops a redirect to a URL it has already requested.
    hops = {
        1: ("redirect", f"http://127.0.0.1:{s}/secret/1", 301),
        2: ("redirect", f"http://localhost:{s}/secret/2", 302),
        3: ("redirect", f"http://2130706433:{s}/secret/3", 307),
        4: ("redirect", f"http://[::ffff:127.0.0.1]:{s}/secret/4", 308),
        5: ("redirect", f"http://0x7f.1:{s}/secret/5", 302),
        6: ("redirect", f"http://0177.0.0.1:{s}/secret/6", 302),
        7: ("refresh", f"http://127.1:{s}/secret/7", 200),
        # A public hop first: every hop is checked, not only the first redirect.
        8: ("redirect", f"{public.base}/hop/8", 302),
        9: ("refresh", "http://10.0.0.1/admin", 200),
        10: ("redirect", "http://169.254.169.254/latest/meta-data/", 302),
        # Circled letters: IDNA maps them to "localhost".
        13: ("refresh", f"http://ⓛⓞⓒⓐⓛⓗⓞⓢⓣ:{s}/secret/9", 200),
    }
    for n, (kind, target, status) in hops.items():
        if kind == "redirect":
            public.redirect(f"/news/{n}.html", target, status)
        else:
            public.add(f"/news/{n}.html", refresh_to(target))
    public.redirect("/hop/8", f"http://127.0.0.1:{s}/secret/8", 302)
    public.add("/news/11.html", article_html(11, "2026-07-07T10:00:00+03:00"))
    public.add("/feed.xml", rss(*(f"{public.base}/news/{n}.html" for n in [*range(1, 12), 13])))
    # A second public host whose robots.txt redirects inward: robots.txt is checked too.
    with Site("127.0.0.3") as other:
        other.redirect("/robots.txt", f"http://127.0.0.1:{s}/robots.txt")
        other.add("/news/12.html", article_html(12, "2026-07-07T10:00:00+03:00"))
        public.add("/feed2.xml", rss(f"{other.base}/news/12.html"))
        hosts = [
            "127.0.0.1",
            "localhost",
            "2130706433",
            "::ffff:127.0.0.1",
            "0x7f.1",
            "0177.0.0.1",
            "127.1",
            "10.0.0.1",
            "169.254.169.254",
            "127.0.0.3",
        ]
        config = source_config(
            public.base,
            allow=["127.0.0.2", "127.0.0.3"],
            feeds=json.dumps([f"{public.base}/feed.xml", f"{public.base}/feed2.xml"]),
            # Offsite filtering would drop most of these hops for a declared source; a name
            # inside a source's own domain can resolve anywhere, so it is no defence.
            domains=json.dumps(hosts),
        )
        log, db = crawl(tmp_path, config)

    assert secret.connections == 0, f"the secret server was reached: {secret.requests}"
    # 12 is there or not as the robots.txt policy decides when robots.txt cannot be read.
    assert stored_urls(db) - {f"{other.base}/news/12.html"} == {f"{public.base}/news/11.html"}
    assert {f"/news/{n}.html" for n in range(1, 12)} | {"/hop/8"} <= set(public.requests)
    stats = run_stats(db)
    assert stats["netpolicy/refused/loopback"] == 10, log  # hops 1-8, 13 and robots.txt
    assert stats["netpolicy/refused/private"] == 1
    assert stats["netpolicy/refused/link_local"] == 1
    base = public.base
    for line in (
        f"Refused http://localhost:{s}/secret/2 (redirected from {base}/news/2.html): "
        "localhost resolves to 127.0.0.1, a loopback address",
        f"Refused http://2130706433:{s}/secret/3 (redirected from {base}/news/3.html): "
        "2130706433 is 127.0.0.1, a loopback address",
        f"Refused http://[::ffff:127.0.0.1]:{s}/secret/4 (redirected from {base}/news/4.html): "
        "::ffff:127.0.0.1 is 127.0.0.1, a loopback address",
        f"Refused http://127.0.0.1:{s}/secret/8 (redirected from {base}/hop/8): "
        "127.0.0.1 is a loopback address",
        f"Refused http://localhost:{s}/secret/9 (redirected from {base}/news/13.html): "
        "localhost resolves to 127.0.0.1, a loopback address",
        f"Refused http://10.0.0.1/admin (redirected from {base}/news/9.html): "
        "10.0.0.1 is a private address",
        f"Refused http://127.0.0.1:{s}/robots.txt (redirected from {other.base}/robots.txt)",
    ):
        assert line in log, log


# ---- (d) schemes other than http(s) ----------------------------------------------------------


def test_file_ftp_and_data_urls_in_feeds_listings_and_redirects_are_refused(
    public: Site, tmp_path: Path
) -> None:
    local = tmp_path / "disk"
    (local / "news").mkdir(parents=True)
    (local / "news" / "30.html").write_text(
        article_html(30, "2026-07-07T10:00:00+03:00", title="Read from the local disk"),
        encoding="utf-8",
    )
    (local / "listing.html").write_text(
        f'<a href="{public.base}/news/35.html">35</a>', encoding="utf-8"
    )
    data_page = base64.b64encode(article_html(32, "2026-07-07").encode()).decode()
    with Trap("127.0.0.2") as ftp:
        public.add(
            "/feed.xml",
            rss(
                # The host is the source's own, and the path ends like an article URL.
                f"file://127.0.0.2{local}/news/30.html",
                f"ftp://127.0.0.2:{ftp.port}/news/31.html",
                f"data:text/html;base64,{data_page}#/news/32.html",
                f"{public.base}/news/33.html",
                f"{public.base}/news/34.html",
            ),
        )
        public.redirect("/news/33.html", f"file://{local}/news/30.html")
        public.add("/news/34.html", refresh_to(f"data:text/html;base64,{data_page}"))
        public.add("/news/35.html", article_html(35, "2026-07-07T10:00:00+03:00"))
        config = source_config(
            public.base,
            allow=["127.0.0.2"],
            feeds=json.dumps([f"{public.base}/feed.xml"]),
            # Listing URLs are not checked by the config (feeds and sitemaps are).
            listings=json.dumps([f"file://127.0.0.2{local}/listing.html"]),
        )
        log, db = crawl(tmp_path, config)

    assert ftp.connections == 0, "an ftp:// URL was fetched"
    assert stored_urls(db) == set(), "a non-http(s) URL was read"
    assert "/news/35.html" not in public.requests, "a local listing file was read"
    assert run_stats(db)["netpolicy/refused/scheme"] == 3  # file feed item, ftp, file listing
    assert (
        f"Refused file://127.0.0.2{local}/news/30.html: scheme 'file' is not http or https" in log
    )
    assert f"Refused ftp://127.0.0.2:{ftp.port}/news/31.html: scheme 'ftp'" in log


# ---- the second barrier: the address connected to ------------------------------------------


def test_the_resolver_refuses_at_connect_time_without_the_middleware(
    site: LocalSite, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "allowed.toml", site.base).read_text(encoding="utf-8")
    log, db = crawl(
        tmp_path,
        config.replace('allow_addresses = ["127.0.0.1"]\n', ""),
        source="local",
        overrides={"DOWNLOADER_MIDDLEWARES": {"crawler.netpolicy.AddressPolicyMiddleware": None}},
    )
    assert site.requests == []
    assert stored_urls(db) == set()
    assert "Refused to connect to 127.0.0.1: it resolves to 127.0.0.1, a loopback address" in log


def test_a_dns_answer_that_changes_after_the_check_is_refused_when_connecting(
    tmp_path: Path,
) -> None:
    """DNS rebinding: rebind.test answers 127.0.0.2 (allowed) to the check, then 127.0.0.1."""
    for _ in range(20):
        public = Site("127.0.0.2")
        try:
            hidden = Site("127.0.0.1", public.port)  # the same port, on the secret address
            break
        except OSError:
            public.server.server_close()  # that port is taken on 127.0.0.1: another pair
    else:
        pytest.fail("no port free on both 127.0.0.1 and 127.0.0.2")
    base = f"http://rebind.test:{public.port}"
    public.add("/feed.xml", rss(f"{base}/news/1.html"))
    with public, hidden:
        hidden.add("/feed.xml", rss(f"{base}/news/1.html"))
        log, db = crawl(
            tmp_path,
            source_config(base, allow=["127.0.0.2"], feeds=json.dumps([f"{base}/feed.xml"])),
            overrides={
                "TWISTED_DNS_RESOLVER": "__main__.RebindingResolver",
                # Scrapy's DNS cache would hand the connection the checked answer: off, so
                # that the connection asks DNS again, as after the cache forgets the name.
                "DNSCACHE_ENABLED": False,
                # One request, one check, one connection: the answers alternate in that order.
                "ROBOTSTXT_OBEY": False,
                "RETRY_ENABLED": False,
            },
            rebind_answers=["127.0.0.2", "127.0.0.1"],
        )
    assert hidden.connections == 0, "the connection went to the rebound address"
    stats = run_stats(db)
    assert stats["netpolicy/refused_at_connect"] == 1
    assert stats["netpolicy/refused/loopback"] == 1
    assert (
        f"Refused {base}/feed.xml: rebind.test resolved to 127.0.0.1, a loopback address, "
        "when connecting" in log
    )


# ---- (e) the middleware on its own, and the classifier --------------------------------------


def policy_middleware(replay: bool = False) -> AddressPolicyMiddleware:
    """The middleware on a crawler set up as Crawler.crawl() does it, without an engine."""
    if not is_reactor_installed():
        # Installed, never run: Crawler checks that the configured reactor is the one in place.
        install_reactor("twisted.internet.asyncioreactor.AsyncioSelectorReactor")
    settings = build_settings(CrawlOptions(db_path=":memory:"))
    if replay:
        settings.set("PRESSWATCH_REPLAY", ["x.warc.gz"], priority="cmdline")
    crawler = Crawler(Spider, settings, init_reactor=False)
    crawler._apply_settings()
    return AddressPolicyMiddleware.from_crawler(crawler)


def checked(middleware: AddressPolicyMiddleware, url: str) -> None:
    """Run process_request for an IP-literal URL: it decides without waiting for anything."""
    coroutine = middleware.process_request(Request(url))
    with pytest.raises(StopIteration):
        coroutine.send(None)


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "file://127.0.0.2/etc/passwd",
        "ftp://93.184.216.34/pub/x.html",
        "data:text/html,<p>x</p>",
        "s3://bucket/key",
        "gopher://93.184.216.34/",
        "about:blank",
    ],
)
def test_the_middleware_refuses_every_scheme_but_http_and_https(url: str) -> None:
    for middleware in (policy_middleware(), policy_middleware(replay=True)):
        with pytest.raises(IgnoreRequest, match="is not http or https"):
            checked(middleware, url)
        assert middleware.crawler.stats.get_value("netpolicy/refused/scheme") == 1


def test_the_middleware_passes_public_literals_and_checks_no_address_in_a_replay() -> None:
    live, replay = policy_middleware(), policy_middleware(replay=True)
    checked(live, "http://93.184.216.34/news/1.html")
    checked(live, "https://[2606:4700:4700::1111]/")
    with pytest.raises(IgnoreRequest, match=r"169\.254\.169\.254 is a link-local address"):
        checked(live, "http://169.254.169.254/latest/meta-data/")
    assert live.crawler.stats.get_value("netpolicy/refused/link_local") == 1
    # A replay fetches nothing, so an archived intranet page replays.
    checked(replay, "http://127.0.0.1/news/1.html")


@pytest.mark.parametrize(
    ("host", "category"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.255.254", "loopback"),
        ("2130706433", "loopback"),
        ("0x7f.1", "loopback"),
        ("0X7F000001", "loopback"),
        ("0177.0.0.1", "loopback"),
        ("017700000001", "loopback"),
        ("127.1", "loopback"),
        ("::1", "loopback"),
        ("[::1]", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:7f00:1", "loopback"),
        ("64:ff9b::7f00:1", "loopback"),  # NAT64
        ("2002:7f00:1::", "loopback"),  # 6to4
        ("0.0.0.0", "unspecified"),
        ("0", "unspecified"),
        ("::", "unspecified"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.255", "private"),
        ("192.168.1.1", "private"),
        ("0xc0.0xa8.1.1", "private"),
        ("::ffff:10.0.0.1", "private"),
        ("fc00::1", "private"),
        ("fd12:3456::1", "private"),
        ("fec0::1", "private"),
        ("100.64.0.1", "shared"),
        ("100.127.255.254", "shared"),
        ("169.254.169.254", "link_local"),
        ("::ffff:169.254.169.254", "link_local"),
        ("fe80::1", "link_local"),
        ("fe80::1%eth0", "link_local"),
        ("224.0.0.1", "multicast"),
        ("239.255.255.250", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("198.18.0.1", "reserved"),
        ("192.0.2.1", "reserved"),
        ("203.0.113.9", "reserved"),
        ("192.0.0.8", "reserved"),
        ("2001:db8::1", "reserved"),
        ("2001::1", "reserved"),  # Teredo
        ("::127.0.0.1", "reserved"),  # IPv4-compatible
        ("4000::1", "reserved"),  # outside 2000::/3
        ("8.8.8.8", None),
        ("93.184.216.34", None),
        ("172.32.0.1", None),
        ("100.128.0.1", None),
        ("::ffff:8.8.8.8", None),
        ("2606:4700:4700::1111", None),
        ("2002:808:808::", None),
    ],
)
def test_classify(host: str, category: str | None) -> None:
    address = parse_ip(host)
    assert address is not None, host
    assert classify(address) == category


@pytest.mark.parametrize(
    "host", ["example.com", "localhost", "1e100", "0x", "08", "1.2.3.4.5", "256.1.1.1", "1..1"]
)
def test_names_and_non_addresses_are_left_to_the_resolver(host: str) -> None:
    assert parse_ip(host) is None


def test_parse_ip_reads_numbers_as_the_system_resolver_does() -> None:
    """Every spelling inet_aton (glibc's reader behind gethostbyname) takes, and no other."""
    parts = ["0", "1", "07", "08", "010", "0x", "0x7f", "0XfF", "255", "256", "65535", "65536"]
    parts += ["16777215", "16777216", "4294967295", "4294967296", "037777777777", "0x100000000"]
    checked = 0
    for count in (1, 2, 3, 4):
        for i in range(len(parts) ** min(count, 2)):
            picks = [parts[(i // len(parts) ** k) % len(parts)] for k in range(min(count, 2))]
            host = ".".join(["1"] * (count - len(picks)) + picks)
            try:
                expected = ipaddress.IPv4Address(socket.inet_aton(host))
            except OSError:
                expected = None
            assert parse_ip(host) == expected, host
            checked += 1
    assert checked > 400


def test_the_allow_list_takes_addresses_networks_and_mapped_forms() -> None:
    policy = AddressPolicy(["127.0.0.1", "10.0.0.0/8", "fd00::/8"])
    allowed = ["127.0.0.1", "::ffff:127.0.0.1", "10.200.0.1", "fd00::5", "8.8.8.8"]
    refused = {"127.0.0.2": "loopback", "192.168.0.1": "private", "fc00::1": "private"}
    for host in allowed:
        assert policy.refusal(ipaddress.ip_address(host)) is None, host
    for host, category in refused.items():
        assert policy.refusal(ipaddress.ip_address(host)) == category, host
    assert AddressPolicy().refusal(ipaddress.ip_address("127.0.0.1")) == "loopback"
