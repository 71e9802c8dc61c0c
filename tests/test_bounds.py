"""Bounds (crawler.bounds): `presswatch crawl` in a subprocess against a hostile server.

The server below speaks raw HTTP over sockets on 127.0.0.1, so it can do what a well-behaved
server library will not: drip a byte a second, stream a body that never ends, send a body that
does not match its Content-Encoding. Compression bombs are built once per module by streaming
zeros through a compressor (128 MiB each; only the compressed bytes are ever held).

Four crawls, each run once by a module fixture and checked by several tests:
- `download_crawl`: sizes, compression bombs, gzipped sitemaps, redirects, a slow drip;
- `timed_crawl`: a site too slow to finish, under [crawl] max_crawl_seconds;
- `trap_crawl`: an ad-hoc crawl of a site made of traps (calendar, growing paths, fan-out);
- `content_crawl`: binary and deeply nested "HTML", XML bombs and external entities.
Each asserts the good articles of the same site are stored, the bad response is not, the
stat is in `crawl_runs.stats`, and the log names the reason.
"""

from __future__ import annotations

import gzip
import json
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import brotli
import pytest

from crawler.bounds import is_binary, url_trap
from crawler.config import ConfigError, config_from_dict

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd

MIB = 1024 * 1024
# The response limit the crawls run with ([crawl] max_response_bytes): bombs inflate 128x it.
LIMIT = 1 * MIB
BOMB_SIZE = 128 * MIB

WORDS = (
    "Officials from both countries met on Tuesday to discuss satellite navigation, "
    "supercomputing and joint laboratories, and agreed to publish a plan before the spring. "
)


def article_html(title: str, extra: str = "", head: str = "") -> str:
    paragraphs = "".join(f"<p>Paragraph {i} of {title}. {WORDS * 2}</p>" for i in range(4))
    return (
        f'<!doctype html><html lang="en"><head><title>{title}</title>{head}</head><body>'
        f"<article><h1>{title}</h1>{paragraphs}</article>{extra}</body></html>"
    )


# --- the hostile server ------------------------------------------------------------------------

Route = Callable[[socket.socket], None]


@dataclass
class Hostile:
    """Each path is a function that writes whatever it likes to the client's socket."""

    routes: dict[str, Route] = field(default_factory=dict)
    # Answers for paths not in `routes` (a calendar that never ends), or None for a 404.
    generated: Callable[[str], Route | None] = lambda path: None
    requests: list[str] = field(default_factory=list)
    # Paths whose client hung up mid-response: what a bounded crawler does to a bomb or a drip.
    hangups: list[str] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return  # the listener was closed: the server is stopping
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(30)
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                head += chunk
            path = head.split(b" ", 2)[1].decode("latin-1")
            self.requests.append(path)
            route = self.routes.get(path) or self.generated(path) or page("gone", status=404)
            try:
                route(conn)
            except (BrokenPipeError, ConnectionResetError, TimeoutError):
                self.hangups.append(path)

    def hung_up(self, path: str, times: int = 1) -> bool:
        """Whether the client hung up on `path` `times` times; the server notices at its next
        write, up to a drip interval after the crawl ended."""
        deadline = time.monotonic() + 5
        while self.hangups.count(path) < times and time.monotonic() < deadline:
            time.sleep(0.1)
        return self.hangups.count(path) >= times

    def close(self) -> None:
        self.stopping.set()
        self.listener.close()


def _head(status: int, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status} X", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def page(
    body: bytes | str,
    content_type: str = "text/html; charset=utf-8",
    status: int = 200,
    **headers: str,
) -> Route:
    data = body.encode("utf-8") if isinstance(body, str) else body
    fields = {"Content-Type": content_type, "Content-Length": str(len(data))}
    fields.update({name.replace("_", "-"): value for name, value in headers.items()})

    def send(conn: socket.socket) -> None:
        conn.sendall(_head(status, fields) + data)

    return send


def endless(server: Hostile) -> Route:
    """A body without Content-Length that never ends (until the client hangs up)."""

    def send(conn: socket.socket) -> None:
        conn.sendall(_head(200, {"Content-Type": "text/html"}))
        chunk = b"<p>" + b"x" * 65536 + b"</p>"
        deadline = time.monotonic() + 120
        while not server.stopping.is_set() and time.monotonic() < deadline:
            conn.sendall(chunk)

    return send


def drip(server: Hostile, interval: float = 1.0) -> Route:
    """A page that arrives a byte per `interval` seconds, for as long as the client waits."""

    def send(conn: socket.socket) -> None:
        conn.sendall(_head(200, {"Content-Type": "text/html", "Content-Length": "100000"}))
        deadline = time.monotonic() + 120
        while not server.stopping.is_set() and time.monotonic() < deadline:
            conn.sendall(b"<")
            time.sleep(interval)

    return send


def slow(body: str, delay: float) -> Route:
    def send(conn: socket.socket) -> None:
        time.sleep(delay)
        page(body)(conn)

    return send


def redirect(location: str, status: int = 302) -> Route:
    return page(b"", status=status, Location=location)


@pytest.fixture
def server() -> Iterator[Hostile]:
    hostile = Hostile()
    yield hostile
    hostile.close()


# --- bombs ---------------------------------------------------------------------------------------


def _zeros(size: int) -> Iterator[bytes]:
    chunk = bytes(MIB)
    for _ in range(size // MIB):
        yield chunk


def compress(encoding: str, size: int = BOMB_SIZE, prefix: bytes = b"") -> bytes:
    """`prefix` and `size` zero bytes, compressed as HTTP's `encoding`, a MiB at a time."""
    if encoding in ("gzip", "deflate"):
        z = zlib.compressobj(9, zlib.DEFLATED, 31 if encoding == "gzip" else 15)
        compress_chunk, finish = z.compress, z.flush
    elif encoding == "br":
        b = brotli.Compressor()
        compress_chunk, finish = b.process, b.finish
    else:
        zs = zstd.ZstdCompressor()
        compress_chunk, finish = zs.compress, zs.flush
    parts = [compress_chunk(prefix)]
    parts += [compress_chunk(chunk) for chunk in _zeros(size)]
    parts.append(finish())
    return b"".join(parts)


@pytest.fixture(scope="module")
def bombs() -> dict[str, bytes]:
    found = {encoding: compress(encoding) for encoding in ("gzip", "deflate", "br", "zstd")}
    found["sitemap"] = compress(
        "gzip",
        prefix=b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">',
    )
    return found


# --- running a crawl -----------------------------------------------------------------------------


@dataclass
class Crawl:
    server: Hostile
    db: Path
    result: subprocess.CompletedProcess[str]
    seconds: float

    @property
    def log(self) -> str:
        return self.result.stderr

    def stored(self) -> set[str]:
        paths = {row["url"].removeprefix(self.server.base) for row in self.rows("articles")}
        return paths

    def run(self) -> dict[str, Any]:
        (run,) = self.rows("crawl_runs")
        return run

    def stats(self) -> dict[str, Any]:
        return json.loads(self.run()["stats"])

    def rows(self, table: str) -> list[sqlite3.Row]:
        conn = sqlite3.connect(self.db)
        conn.row_factory = sqlite3.Row
        try:
            return conn.execute(f"select * from {table}").fetchall()
        finally:
            conn.close()


def source_config(base: str, crawl: dict[str, Any], **source: Any) -> str:
    lines = ["[crawl]", 'allow_addresses = ["127.0.0.1"]']
    lines += [f"{key} = {json.dumps(value)}" for key, value in crawl.items()]
    if source:
        lines += [
            "[sources.local]",
            'name = "Hostile test site"',
            f'homepage = "{base}/"',
            r"article_patterns = ['^http://127\.0\.0\.1:\d+/news/']",
            "download_delay = 0",
        ]
        lines += [f"{key} = {json.dumps(value)}" for key, value in source.items()]
    return "\n".join(lines) + "\n"


def crawl(server: Hostile, tmp: Path, config: str, *args: str) -> Crawl:
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "presswatch.toml").write_text(config, encoding="utf-8")
    db = tmp / "pw.db"
    started = time.monotonic()
    command = [sys.executable, "-m", "scheduler.cli", "crawl", *args, "--no-alerts"]
    result = subprocess.run(
        [*command, "--db", str(db), "--config", str(tmp / "presswatch.toml")],
        cwd=tmp,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return Crawl(server, db, result, time.monotonic() - started)


def links(*paths: str) -> str:
    return "<html><body>" + "".join(f'<a href="{p}">{p}</a> ' for p in paths) + "</body></html>"


def urlset(base: str, *paths: str) -> bytes:
    locs = "".join(f"<url><loc>{base}{p}</loc></url>" for p in paths)
    return (
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"{locs}</urlset>"
    ).encode()


# --- 1. size, compression, redirects, a slow drip ----------------------------------------------

BAD_DOWNLOADS = (
    "/news/big.html",
    "/news/endless.html",
    "/news/gzip.html",
    "/news/deflate.html",
    "/news/br.html",
    "/news/zstd.html",
    "/news/badgzip.html",
    "/news/drip.html",
    "/news/loop.html",
    "/news/chain.html",
    "/news/meta-loop.html",
)


@pytest.fixture(scope="module")
def download_crawl(
    bombs: dict[str, bytes], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Crawl]:
    server = Hostile()
    base = server.base
    r = server.routes
    r["/listing/"] = page(links("/news/1.html", "/news/2.html", "/news/hop.html", *BAD_DOWNLOADS))
    for n in (1, 2, 3, 4, 5):
        r[f"/news/{n}.html"] = page(article_html(f"Good story {n}"))
    # Over the limit with a Content-Length, and without one (a body that never ends).
    r["/news/big.html"] = page(article_html("Big", extra="<p>x</p>" * (LIMIT // 7)))
    r["/news/endless.html"] = endless(server)
    for encoding in ("gzip", "deflate", "br", "zstd"):
        r[f"/news/{encoding}.html"] = page(bombs[encoding], Content_Encoding=encoding)
    r["/news/badgzip.html"] = page(os.urandom(4096), Content_Encoding="gzip")
    r["/news/drip.html"] = drip(server)
    # Redirects: a loop, a chain longer than max_redirects (3), a meta refresh to itself,
    # and two hops to a good article (within the limit).
    r["/news/loop.html"] = redirect("/news/loop-b.html")
    r["/news/loop-b.html"] = redirect(f"{base}/news/loop.html", 301)
    r["/news/chain.html"] = redirect("/news/chain/1")
    for n in range(1, 20):
        r[f"/news/chain/{n}"] = redirect(f"/news/chain/{n + 1}", 307)
    r["/news/meta-loop.html"] = page(
        '<html><head><meta http-equiv="refresh" content="0; url=/news/meta-loop.html">'
        "</head><body>wait</body></html>"
    )
    r["/news/hop.html"] = redirect("/news/hop-2.html")
    r["/news/hop-2.html"] = redirect("/news/5.html")
    # Sitemaps as files: a gzipped one (read: news 3), a gzipped bomb, and one served with
    # Content-Encoding: gzip on top of a .gz body (read: news 4).
    r["/sitemap.xml.gz"] = page(
        gzip.compress(urlset(base, "/news/3.html")), content_type="application/x-gzip"
    )
    r["/bomb.xml.gz"] = page(bombs["sitemap"], content_type="application/x-gzip")
    r["/double.xml.gz"] = page(
        gzip.compress(gzip.compress(urlset(base, "/news/4.html"))),
        content_type="application/x-gzip",
        Content_Encoding="gzip",
    )
    config = source_config(
        base,
        {"max_response_bytes": LIMIT, "download_timeout": 2, "max_redirects": 3},
        sitemaps=[f"{base}/sitemap.xml.gz", f"{base}/bomb.xml.gz", f"{base}/double.xml.gz"],
        listings=[f"{base}/listing/"],
    )
    yield crawl(server, tmp_path_factory.mktemp("download"), config, "--source", "local")
    server.close()


def test_download_crawl_stores_the_good_articles_only(download_crawl: Crawl) -> None:
    assert download_crawl.result.returncode == 0, download_crawl.log
    assert download_crawl.stored() == {f"/news/{n}.html" for n in (1, 2, 3, 4, 5)}
    assert download_crawl.run()["status"] == "ok"


def test_oversized_responses_are_cut_off_and_not_fetched_again(download_crawl: Crawl) -> None:
    stats = download_crawl.stats()
    assert stats["bounds/too_large"] == 2, stats
    assert download_crawl.server.requests.count("/news/big.html") == 1, "retried"
    assert download_crawl.server.requests.count("/news/endless.html") == 1, "retried"
    assert download_crawl.server.hung_up("/news/endless.html")
    log = download_crawl.log
    assert f"Too large: {download_crawl.server.base}/news/big.html is over {LIMIT} bytes" in log


def test_compression_bombs_stop_at_the_limit(download_crawl: Crawl) -> None:
    stats = download_crawl.stats()
    # gzip, deflate, br and zstd bodies, and the gzipped sitemap bomb.
    assert stats["bounds/decompressed_too_large"] == 5, stats
    log = download_crawl.log
    for encoding in ("gzip", "deflate", "br", "zstd"):
        assert f"Too large decompressed: {download_crawl.server.base}/news/{encoding}" in log
    assert f"gzipped {download_crawl.server.base}/bomb.xml.gz inflates past {LIMIT}" in log
    # A body that is not what its Content-Encoding says is dropped with that reason.
    assert stats["bounds/bad_encoding"] == 1
    assert "/news/badgzip.html declares Content-Encoding gzip but does not decode" in log


def test_gzipped_sitemaps_are_read(download_crawl: Crawl) -> None:
    stored = download_crawl.stored()
    assert "/news/3.html" in stored, "a .xml.gz sitemap was not read"
    assert "/news/4.html" in stored, "a .xml.gz sitemap sent with Content-Encoding: gzip"


def test_redirect_loops_and_long_chains_stop_with_a_reason(download_crawl: Crawl) -> None:
    stats = download_crawl.stats()
    requests = download_crawl.server.requests
    base = download_crawl.server.base
    assert stats["bounds/redirect_loop"] == 2, stats  # the HTTP loop and the meta refresh
    assert requests.count("/news/loop.html") == 1 and requests.count("/news/loop-b.html") == 1
    assert f"Redirect loop: {base}/news/loop-b.html (301) leads back to {base}/news/loop.html" in (
        download_crawl.log
    )
    assert stats["bounds/max_redirects"] == 1
    # chain.html and three hops were fetched; the fourth hop was not.
    assert "/news/chain/3" in requests and "/news/chain/4" not in requests
    assert f"Too many redirects: {base}/news/chain/4 (307) would be hop 4, over 3" in (
        download_crawl.log
    )
    assert "/news/5.html" in download_crawl.stored(), "two redirects are within the limit"


def test_a_slow_drip_is_cut_off_at_the_download_timeout(download_crawl: Crawl) -> None:
    stats = download_crawl.stats()
    # The first attempt and the retry policy's two more, each cut off at 2 s.
    assert download_crawl.server.requests.count("/news/drip.html") == 3
    assert download_crawl.server.hung_up("/news/drip.html", times=3)
    assert stats["bounds/timeout"] == 1, stats
    assert "/news/drip.html sent no complete response within 2 s (download_timeout), 3 att" in (
        download_crawl.log
    )
    assert "Traceback" not in download_crawl.log


# --- 2. the whole crawl's time ------------------------------------------------------------------


@pytest.fixture(scope="module")
def timed_crawl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crawl]:
    server = Hostile()
    # 200 articles at 0.5 s each, two at a time: 50 s of crawling; and a page that drips.
    paths = [f"/news/{n}.html" for n in range(200)]
    server.routes["/listing/"] = page(links("/news/drip.html", *paths))
    server.routes["/news/drip.html"] = drip(server)
    for path in paths:
        server.routes[path] = slow(article_html(f"Slow story {path}"), 0.5)
    config = source_config(
        server.base,
        {"max_crawl_seconds": 3, "download_timeout": 4},
        listings=[f"{server.base}/listing/"],
    )
    yield crawl(server, tmp_path_factory.mktemp("timed"), config, "--source", "local")
    server.close()


def test_the_crawl_time_limit_stops_the_crawl_and_keeps_what_was_parsed(
    timed_crawl: Crawl,
) -> None:
    run = timed_crawl.run()
    assert run["status"] == "partial", timed_crawl.log
    assert run["error"] == "finish reason: crawl_time_limit"
    assert json.loads(run["stats"])["bounds/crawl_time_limit"] == 1
    stored = timed_crawl.stored()
    assert 1 <= len(stored) < 100, stored
    assert run["articles_new"] == len(stored)
    assert "Crawl time limit: stopping the crawl of local after 3 s" in timed_crawl.log
    # Stopped at 3 s, the downloads under way and waiting cut off: what is left is process
    # start and shutdown. Without the limit this crawl takes 50 s; with the limit alone (no
    # cut-off) 15 s.
    assert timed_crawl.seconds < 12, timed_crawl.seconds
    assert json.loads(run["stats"])["bounds/stopped_at_crawl_time_limit"] >= 1


# --- 3. traps --------------------------------------------------------------------------------


def calendar(path: str) -> Route | None:
    """Every day of the calendar exists and links the next day, 20 query variants of itself
    and 20 events: a site whose calendar has no end."""
    if not path.startswith("/calendar/2026/11/"):
        return None
    day = int(path.split("?")[0].split("/")[4])
    hrefs = [f"/calendar/2026/11/{day + 1}", *(f"?view={v}" for v in range(20))]
    hrefs += [f"/calendar/2026/11/{day}/event-{n}" for n in range(20)]
    return page(links(*hrefs))


@pytest.fixture(scope="module")
def trap_crawl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crawl]:
    server = Hostile()
    r = server.routes
    good = [f"/news/{n}.html" for n in (1, 2, 3)]
    long_url = "/news/long?" + "session=" + "A" * 2100
    deep_path = "/d/" + "/".join("0123456789" * 2)
    r["/start/"] = page(links(*good, "/a/a/", "/calendar/2026/11/28", long_url, deep_path))
    for path in good:
        r[path] = page(article_html(f"Trap site story {path}"))
    server.generated = calendar
    # An ever-growing path: each /a/.../ page links "a/" relative to itself.
    for depth in range(1, 10):
        r["/a" * depth + "/"] = page(links("a/"))
    # A sitemap, as ad-hoc discovery finds it, with the good articles and 60,000 more.
    r["/sitemap.xml"] = page(
        urlset(server.base, *good, *(f"/news/gen/{n}.html" for n in range(60_000))),
        content_type="application/xml",
    )
    config = source_config(server.base, {"max_requests": 60, "download_delay": 0})
    yield crawl(
        server, tmp_path_factory.mktemp("trap"), config, "--url", f"{server.base}/start/", "-v"
    )
    server.close()


def test_trap_crawl_stores_the_good_articles(trap_crawl: Crawl) -> None:
    assert trap_crawl.result.returncode == 0, trap_crawl.log
    assert {f"/news/{n}.html" for n in (1, 2, 3)} <= trap_crawl.stored()


def test_the_number_of_requests_is_bounded(trap_crawl: Crawl) -> None:
    stats = trap_crawl.stats()
    assert stats["bounds/max_requests"] > 1000, stats
    assert stats["bounds/links_per_document"] == 1  # the 60,003-URL sitemap
    assert "Request limit of the crawl reached (max_requests)" in trap_crawl.log
    assert "lists 60003, only the first 50000 are taken" in trap_crawl.log
    # 60 requests from callbacks, plus start requests, robots.txt and redirects.
    assert len(trap_crawl.server.requests) < 100


def test_trap_urls_are_refused(trap_crawl: Crawl) -> None:
    stats = trap_crawl.stats()
    requests = trap_crawl.server.requests
    assert stats["bounds/url_too_long"] == 1 and not any("session=" in p for p in requests)
    assert stats["bounds/path_too_deep"] == 1 and not any(p.startswith("/d/") for p in requests)
    assert stats["bounds/repeated_path_segments"] >= 1 and "/a/a/a/" not in requests
    assert "URL path repeats itself (a trap: /a/a/a/): not requesting" in trap_crawl.log
    assert "URL too long" in trap_crawl.log


# --- 4. hostile content: binary and nested HTML, XML bombs and entities -------------------------

LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY lol "lol">'
    + b"".join(
        b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
        for i in range(1, 10)
    )
    + b"]><rss><channel><item><link>{base}/news/3.html</link></item>"
    + b"<item><link>{base}/news/&lol9;</link></item></channel></rss>"
)
QUADRATIC = (
    b'<?xml version="1.0"?><!DOCTYPE urlset [<!ENTITY a "'
    + b"A" * 50_000
    + b'">]><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
    + b"<url><loc>{base}/news/a"
    + b"&a;" * 50_000
    + b"</loc></url></urlset>"
)
XXE = """<?xml version="1.0"?>
<!DOCTYPE rss SYSTEM "{base}/external.dtd" [
  <!ENTITY file SYSTEM "file:///etc/passwd">
  <!ENTITY web SYSTEM "{base}/secret">
  <!ENTITY % remote SYSTEM "{base}/evil.dtd"> %remote;
]>
<rss><channel><item><link>{base}/news/4.html</link></item>
<item><link>{base}/news/&file;</link></item><item><link>{base}/news/&web;</link></item>
<item><title>&file;</title><link>{base}/news/&unknown;</link></item></channel></rss>"""
HOSTILE_PAGES = {
    "/news/png.html": b"\x89PNG\r\n\x1a\n" + os.urandom(20_000),
    "/news/zip.html": b"PK\x03\x04" + os.urandom(20_000),
    "/news/random.html": os.urandom(50_000),
    # A real article, then 10,000 nested elements: past lxml's depth limit.
    "/news/deep.html": article_html("Deep", extra="<div>" * 10_000 + "</div>" * 10_000),
    # A flat element bomb: 60,000 empty elements (PRESSWATCH_MAX_HTML_ELEMENTS is 50,000).
    "/news/flat.html": article_html("Flat", extra="<i></i>" * 60_000),
    # JSON-LD nested 5,000 deep: json.loads raises RecursionError.
    "/news/jsonld.html": article_html(
        "Nested JSON-LD",
        head='<script type="application/ld+json">' + "[" * 5000 + "]" * 5000 + "</script>",
    ),
}


@pytest.fixture(scope="module")
def content_crawl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crawl]:
    server = Hostile()
    base = server.base
    r = server.routes
    r["/listing/"] = page(links("/news/1.html", "/news/2.html", "/news/nul.html", *HOSTILE_PAGES))
    for n in (1, 2, 3, 4):
        r[f"/news/{n}.html"] = page(article_html(f"Good story {n}"))
    # A real page with a stray NUL byte in its text is not binary.
    r["/news/nul.html"] = page(article_html("Stray NUL", extra="<p>a\x00b</p>"))
    for path, body in HOSTILE_PAGES.items():
        r[path] = page(body)
    r["/laughs.xml"] = page(LAUGHS.replace(b"{base}", base.encode()), "application/rss+xml")
    r["/xxe.xml"] = page(XXE.format(base=base), "application/rss+xml")
    r["/quadratic.xml"] = page(QUADRATIC.replace(b"{base}", base.encode()), "application/xml")
    # What an XML parser that fetched external entities would ask for.
    r["/secret"] = page("TOPSECRET", "text/plain")
    r["/evil.dtd"] = page('<!ENTITY unknown "TOPSECRET">', "application/xml-dtd")
    config = source_config(
        base,
        {},
        feeds=[f"{base}/laughs.xml", f"{base}/xxe.xml"],
        sitemaps=[f"{base}/quadratic.xml"],
        listings=[f"{base}/listing/"],
    )
    yield crawl(server, tmp_path_factory.mktemp("content"), config, "--source", "local")
    server.close()


def test_content_crawl_stores_the_good_articles_only(content_crawl: Crawl) -> None:
    assert content_crawl.result.returncode == 0, content_crawl.log
    assert content_crawl.stored() == {
        *(f"/news/{n}.html" for n in (1, 2, 3, 4)),
        "/news/nul.html",
    }
    assert "Traceback" not in content_crawl.log, content_crawl.log


def test_binary_and_deeply_nested_pages_are_dropped_before_the_parsers(
    content_crawl: Crawl,
) -> None:
    run = content_crawl.run()
    drops = json.loads(run["drop_reasons"])
    assert drops == {"binary": 3, "too_deep": 2, "too_many_elements": 1}, drops
    log = content_crawl.log
    base = content_crawl.server.base
    assert f"Dropped {base}/news/png.html before parsing: not text" in log
    assert f"Dropped {base}/news/deep.html before parsing: HTML nested deeper" in log
    assert f"Dropped {base}/news/flat.html before parsing: more HTML elements" in log
    assert f"Dropped {base}/news/jsonld.html before parsing: nested too deeply" in log


def test_xml_entities_are_never_expanded_or_fetched(content_crawl: Crawl) -> None:
    requests = content_crawl.server.requests
    assert not {"/secret", "/evil.dtd", "/external.dtd"} & set(requests), requests
    for row in content_crawl.rows("articles"):
        assert "root:" not in json.dumps(dict(row)) and "TOPSECRET" not in json.dumps(dict(row))
    stats = content_crawl.stats()
    assert stats["bounds/xml_entities"] == 3, stats
    assert stats["bounds/xml_limit"] == 2  # the billion laughs and the quadratic blowup
    log = content_crawl.log
    assert "file SYSTEM file:///etc/passwd" in log and "none is expanded or fetched" in log
    assert "Maximum entity amplification factor exceeded" in log
    # The links of the document before or beside the bomb are still read.
    assert {"/news/3.html", "/news/4.html"} <= content_crawl.stored()


# --- the rules themselves, without a crawl -------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://x.example/2024/01/01/story.html", None),
        ("https://x.example/news/news/story.html", None),
        ("https://x.example/a/a/a/", "repeated_path_segments"),
        ("https://x.example/x/y/x/y/x/y/z", "repeated_path_segments"),
        ("https://x.example/" + "s/" * 21, "path_too_deep"),
        ("https://x.example/?q=" + "A" * 2000, "url_too_long"),
    ],
)
def test_url_trap(url: str, reason: str | None) -> None:
    assert url_trap(url) == reason


def test_text_in_any_encoding_is_not_binary() -> None:
    page = article_html("Текст 中文 text")
    for encoding in ("utf-8", "utf-16", "gb18030", "koi8-r"):
        assert not is_binary(page.encode(encoding, errors="replace")), encoding
    assert not is_binary(page.replace("text", "te\x00xt").encode())
    assert is_binary(b"\x89PNG\r\n\x1a\n" + page.encode())


def test_bounds_in_presswatch_toml_are_checked() -> None:
    config = config_from_dict({"crawl": {"max_crawl_seconds": 600, "max_response_bytes": 1024}})
    assert config.crawl["max_crawl_seconds"] == 600
    with pytest.raises(ConfigError, match="max_requests must be 0"):
        config_from_dict({"crawl": {"max_requests": -1}})
    with pytest.raises(ConfigError, match="download_timeout must be a number of seconds above 0"):
        config_from_dict({"crawl": {"download_timeout": 0}})
    with pytest.raises(ConfigError, match="'max_redirects' must be a int"):
        config_from_dict({"crawl": {"max_redirects": "5"}})
