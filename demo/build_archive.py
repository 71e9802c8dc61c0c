"""Build the bundled demo archive, demo/presswatch-demo.warc.gz, from readable files.

`presswatch demo` replays this archive through the real spiders: each source's crawl starts
from its registry feeds, sitemaps and listings, and fetches the article URLs they link. This
script owns the archive's contents, so that the archive is reproducible and reviewable:

* article pages: every `tests/data/pages/<source key>/pages.toml` (the golden-test pages);
* everything that leads to them: `demo/manifest.toml`, one `[[resource]]` per file under
  `demo/site/<host>/...` (feeds, sitemaps, listing pages, robots.txt).

Stages:

1. Load both kinds of declaration and the files they name.
2. Validate, collecting every problem before giving up: files exist; URLs are unique; a page
   URL matches its source's article patterns and allowed domains; a site resource is a
   registry start URL (or a robots.txt); reconstructed files carry the RECONSTRUCTED comment
   and real ones do not; no archived URL is disallowed by an archived robots.txt; every
   article is found, by the spider's own discovery code, in a start URL of its source.
3. Write the WARC deterministically: a warcinfo record, then one `response` record per URL in
   URL order, with a fixed WARC-Date, record ids derived from URL and content, and gzip
   members without timestamps, so the same inputs give the same bytes.
4. Write demo/PROVENANCE.md (generated; every URL with its origin) and print a summary.

Run it from the repository root: `python demo/build_archive.py` (or `make archive`).
It exits with status 1 and a list of what to fix when anything is wrong.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import sys
import tempfile
import tomllib
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from email.utils import format_datetime
from http import HTTPStatus
from io import BytesIO
from pathlib import Path
from urllib.parse import urlsplit

from protego import Protego
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from crawler import discovery
from crawler.encoding import decode_html
from crawler.sources import Registry, Source, default_registry

ROOT = Path(__file__).resolve().parent.parent
DEMO_DIR = ROOT / "demo"
PAGES_DIR = ROOT / "tests" / "data" / "pages"
MANIFEST = DEMO_DIR / "manifest.toml"
ARCHIVE = DEMO_DIR / "presswatch-demo.warc.gz"
PROVENANCE = DEMO_DIR / "PROVENANCE.md"

# One capture time for every record: the archive is a fixture, and a wall-clock date would
# make every rebuild differ. It is the day the archive's contents were assembled.
CAPTURE_DATE = datetime(2026, 11, 20, tzinfo=UTC)
# Namespace of the record ids (uuid5 of URL and payload digest): stable across rebuilds.
RECORD_NAMESPACE = uuid.UUID("5b0f3c1e-6d0a-4f43-9a57-2b1c0f6e8d21")

ORIGINS = ("real", "reconstructed")
MARKER = "RECONSTRUCTED"
PAGE_NAME = re.compile(r"^\d{4}_\d{2}_\d{2}_[a-z0-9_]+\.html$")
# Charsets the readable files are re-encoded to; GB2312/GBK pages are sent as GB18030 bytes,
# the superset that browsers and our decoder use for those labels.
CODECS = {"gb2312": "gb18030", "gbk": "gb18030", "gb18030": "gb18030"}


class BuildError(Exception):
    """The inputs are inconsistent; the message lists every problem and how to fix it."""


@dataclass(frozen=True)
class Resource:
    """One URL of the archive and the readable file its body comes from."""

    url: str
    path: Path
    content_type: str
    origin: str
    provenance: str
    # Registry key for article pages; None for feeds, sitemaps, listings and robots.txt.
    source: str | None = None
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def is_article(self) -> bool:
        return self.source is not None

    @property
    def relpath(self) -> str:
        return _rel(self.path)

    def body(self) -> bytes:
        """The bytes a live fetch would return: the file, re-encoded if it declares a charset
        other than UTF-8 (readable files are kept in UTF-8; see people_zh/pages.toml)."""
        raw = self.path.read_bytes()
        charset = charset_of(self.content_type)
        if charset in (None, "utf-8", "utf8"):
            return raw
        return raw.decode("utf-8").encode(CODECS.get(charset, charset))


@dataclass
class Inputs:
    """Everything the archive is built from, and the problems found while loading it."""

    resources: list[Resource] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def articles(self) -> list[Resource]:
        return [r for r in self.resources if r.is_article]

    @property
    def site(self) -> list[Resource]:
        return [r for r in self.resources if not r.is_article]


def _rel(path: Path) -> str:
    """A path as messages show it: relative to the repository when it is inside it."""
    return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)


def charset_of(content_type: str) -> str | None:
    """The lower-cased charset parameter of a Content-Type value, if any."""
    message = Message()
    message["Content-Type"] = content_type
    charset = message.get_param("charset")
    return charset.lower() if isinstance(charset, str) else None


# ---- 1. loading --------------------------------------------------------------------------


def _read_toml(path: Path, problems: list[str]) -> dict[str, object] | None:
    try:
        with path.open("rb") as stream:
            return tomllib.load(stream)
    except OSError as exc:
        problems.append(f"{_rel(path)}: cannot read it ({exc}).")
    except tomllib.TOMLDecodeError as exc:
        problems.append(f"{_rel(path)}: not valid TOML ({exc}).")
    return None


def _str_field(entry: dict[str, object], name: str, where: str, problems: list[str]) -> str:
    value = entry.get(name)
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{where}: missing or empty '{name}'.")
        return ""
    return value


def load_pages(pages_dir: Path, registry: Registry, inputs: Inputs) -> None:
    """Article pages from every `<source key>/pages.toml` under `pages_dir`."""
    if not pages_dir.is_dir():
        inputs.problems.append(f"{_rel(pages_dir)} does not exist.")
        return
    for folder in sorted(p for p in pages_dir.iterdir() if p.is_dir()):
        toml_path = folder / "pages.toml"
        where_dir = _rel(folder)
        html_files = sorted(p.name for p in folder.glob("*.html"))
        if not toml_path.is_file():
            if html_files:
                inputs.problems.append(
                    f"{where_dir}: {len(html_files)} .html files but no pages.toml; add one "
                    "[[page]] (file, url, origin, provenance) per page."
                )
            continue
        if folder.name not in registry:
            inputs.problems.append(
                f"{where_dir}: '{folder.name}' is not a source key; rename the folder to one "
                "of the keys in crawler/sources.py."
            )
            continue
        data = _read_toml(toml_path, inputs.problems)
        if data is None:
            continue
        entries = data.get("page", [])
        if not isinstance(entries, list):
            inputs.problems.append(f"{_rel(toml_path)}: 'page' must be [[page]].")
            continue
        listed: set[str] = set()
        for n, entry in enumerate(entries, start=1):
            where = f"{_rel(toml_path)} page {n}"
            if not isinstance(entry, dict):
                inputs.problems.append(f"{where}: not a table.")
                continue
            name = _str_field(entry, "file", where, inputs.problems)
            url = _str_field(entry, "url", where, inputs.problems)
            origin = _str_field(entry, "origin", where, inputs.problems)
            provenance = _str_field(entry, "provenance", where, inputs.problems)
            content_type = entry.get("content_type", "text/html; charset=utf-8")
            if not (name and url and origin and provenance):
                continue
            listed.add(name)
            where = f"{where_dir}/{name}"
            if not PAGE_NAME.match(name):
                inputs.problems.append(
                    f"{where}: name it <YYYY_MM_DD>_<slug>.html (date of publication, "
                    "lower-case slug)."
                )
            if origin not in ORIGINS:
                inputs.problems.append(f"{where}: origin '{origin}' is not one of {ORIGINS}.")
            if "\n" in provenance:
                inputs.problems.append(f"{where}: provenance must be one line.")
            if not isinstance(content_type, str):
                inputs.problems.append(f"{where}: content_type must be a string.")
                continue
            path = folder / name
            if not path.is_file():
                inputs.problems.append(
                    f"{where}: listed in pages.toml but the file is missing; add the page "
                    "or remove its [[page]] entry."
                )
                continue
            inputs.resources.append(
                Resource(url, path, content_type, origin, provenance, source=folder.name)
            )
        for name in sorted(set(html_files) - listed):
            inputs.problems.append(
                f"{where_dir}/{name}: not listed in pages.toml; add a [[page]] entry for it "
                "(every test page is also a demo page)."
            )


def load_manifest(manifest: Path, inputs: Inputs) -> None:
    """Feeds, sitemaps, listings and robots.txt from demo/manifest.toml."""
    data = _read_toml(manifest, inputs.problems)
    if data is None:
        return
    entries = data.get("resource", [])
    if not isinstance(entries, list):
        inputs.problems.append(f"{_rel(manifest)}: 'resource' must be [[resource]].")
        return
    for n, entry in enumerate(entries, start=1):
        where = f"{_rel(manifest)} resource {n}"
        if not isinstance(entry, dict):
            inputs.problems.append(f"{where}: not a table.")
            continue
        url = _str_field(entry, "url", where, inputs.problems)
        name = _str_field(entry, "file", where, inputs.problems)
        content_type = _str_field(entry, "content_type", where, inputs.problems)
        if not (url and name and content_type):
            continue
        status = entry.get("status", 200)
        headers = entry.get("headers", {})
        try:
            HTTPStatus(status)
        except ValueError:
            inputs.problems.append(f"{where} ({url}): status {status!r} is not an HTTP status.")
            continue
        if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
            inputs.problems.append(f"{where} ({url}): headers must be a table of strings.")
            continue
        path = DEMO_DIR / name
        if not path.is_file():
            inputs.problems.append(
                f"{where} ({url}): file demo/{name} is missing; create it or fix 'file'."
            )
            continue
        inputs.resources.append(
            Resource(
                url,
                path,
                content_type,
                origin="reconstructed",
                provenance=str(entry.get("note", "reconstructed by us; see the file's comment")),
                status=status,
                headers=tuple(sorted(headers.items())),
            )
        )


def load_inputs(
    registry: Registry, pages_dir: Path = PAGES_DIR, manifest: Path = MANIFEST
) -> Inputs:
    inputs = Inputs()
    load_pages(pages_dir, registry, inputs)
    load_manifest(manifest, inputs)
    return inputs


# ---- 2. validation -----------------------------------------------------------------------


def first_comment(text: str) -> str | None:
    """The leading HTML/XML comment or '#' comment line, after an optional XML declaration."""
    head = text.lstrip("\ufeff \t\r\n")
    if head.startswith("<?xml"):
        head = head.split("?>", 1)[-1].lstrip()
    if head.startswith("<!--"):
        return head[4 : head.find("-->")] if "-->" in head else head[4:]
    if head.startswith("#"):
        return head.splitlines()[0]
    return None


def _start_url_owners(registry: Registry) -> dict[str, list[Source]]:
    owners: dict[str, list[Source]] = {}
    for source in registry:
        for url in source.start_urls():
            owners.setdefault(url, []).append(source)
    return owners


def _host_allowed(url: str, source: Source) -> bool:
    # Scrapy's offsite filter lets a host through when it is an allowed domain or a subdomain.
    host = urlsplit(url).hostname or ""
    return any(host == d or host.endswith("." + d) for d in source.allowed_domains)


def discovered_links(url: str, body: bytes, content_type: str, *, listing: bool) -> list[str]:
    """The URLs the spider's own discovery code finds in a start URL's response: feeds and
    sitemaps are read as XML, listings as HTML (as NewsSpider does, whatever the header says)."""
    if listing:
        text, _ = decode_html(body, content_type)
        return discovery.html_links(url, text)
    return [link.url for link in discovery.parse_xml(url, body).links]


def validate(inputs: Inputs, registry: Registry) -> list[str]:
    """Every problem with the loaded inputs; an empty list means the archive can be built."""
    problems = list(inputs.problems)
    owners = _start_url_owners(registry)

    counts = Counter(r.url for r in inputs.resources)
    for url, n in sorted(counts.items()):
        if n > 1:
            where = ", ".join(r.relpath for r in inputs.resources if r.url == url)
            problems.append(f"{url}: declared {n} times ({where}); each URL once.")

    for r in inputs.resources:
        if urlsplit(r.url).scheme not in ("http", "https"):
            problems.append(f"{r.relpath}: '{r.url}' is not an http(s) URL.")
            continue
        try:
            text = r.path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            problems.append(f"{r.relpath}: not UTF-8; keep readable files in UTF-8.")
            continue
        try:
            r.body()
        except (LookupError, UnicodeEncodeError) as exc:
            problems.append(f"{r.relpath}: cannot encode as {r.content_type!r}: {exc}.")
        comment = first_comment(text) or ""
        if r.origin == "reconstructed" and MARKER not in comment:
            problems.append(
                f"{r.relpath}: reconstructed, so it must start with a comment saying "
                f"'{MARKER} by presswatch: ...' (after any XML declaration)."
            )
        if r.origin == "real" and MARKER in comment:
            problems.append(f"{r.relpath}: origin is 'real' but the file says {MARKER}.")
        if r.is_article:
            source = registry.get(r.source or "")
            if not source.is_article_url(r.url):
                problems.append(
                    f"{r.relpath}: {r.url} does not match the article_patterns of "
                    f"'{source.key}' in crawler/sources.py, so the spider would never fetch "
                    "it; fix the URL or report the pattern."
                )
            elif not _host_allowed(r.url, source):
                problems.append(
                    f"{r.relpath}: host of {r.url} is outside the allowed domains of "
                    f"'{source.key}' ({', '.join(source.allowed_domains)})."
                )
        elif r.url not in owners and urlsplit(r.url).path != "/robots.txt":
            problems.append(
                f"{r.relpath}: {r.url} is neither a start URL of a source in "
                "crawler/sources.py nor a robots.txt, so no crawl would fetch it."
            )

    problems += _robots_problems(inputs)
    problems += _reachability_problems(inputs, registry)
    return problems


def _robots_problems(inputs: Inputs) -> list[str]:
    """Archived URLs that an archived robots.txt forbids (the crawl obeys robots.txt)."""
    rules: dict[str, Protego] = {}
    for r in inputs.site:
        parts = urlsplit(r.url)
        if parts.path == "/robots.txt":
            rules[f"{parts.scheme}://{parts.netloc}"] = Protego.parse(r.body().decode("utf-8"))
    problems = []
    for r in inputs.resources:
        parts = urlsplit(r.url)
        robots = rules.get(f"{parts.scheme}://{parts.netloc}")
        if robots is not None and parts.path != "/robots.txt" and not robots.can_fetch(r.url, "*"):
            problems.append(f"{r.url}: disallowed by the archived robots.txt of its host.")
    return problems


def _reachability_problems(inputs: Inputs, registry: Registry) -> list[str]:
    """Articles that no archived start URL of their source links to."""
    served = {r.url: r for r in inputs.site}
    found: dict[str, set[str]] = {}
    for source in registry:
        listings = {url for listing in source.listings for url in listing.urls()}
        for url in source.start_urls():
            if url in served:
                r = served[url]
                links = discovered_links(url, r.body(), r.content_type, listing=url in listings)
                found.setdefault(source.key, set()).update(links)
    return [
        f"{a.relpath}: {a.url} is not linked from any archived feed, sitemap or listing of "
        f"'{a.source}'; add it to one in demo/site/ so the demo crawl can reach it."
        for a in inputs.articles
        if a.url not in found.get(a.source or "", set())
    ]


# ---- 3. writing --------------------------------------------------------------------------


def _warc_date(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _record_id(*parts: str) -> str:
    return f"<urn:uuid:{uuid.uuid5(RECORD_NAMESPACE, '|'.join(parts))}>"


def _http_headers(resource: Resource, body: bytes) -> StatusAndHeaders:
    status = HTTPStatus(resource.status)
    headers = [
        ("Date", format_datetime(CAPTURE_DATE, usegmt=True)),
        ("Content-Type", resource.content_type),
        ("Content-Length", str(len(body))),
        *resource.headers,
    ]
    return StatusAndHeaders(f"{status.value} {status.phrase}", headers, protocol="HTTP/1.1")


def write_archive(resources: Iterable[Resource], path: Path) -> int:
    """Write the WARC to `path` (atomically) and return the number of response records."""
    pairs = [(r, r.body()) for r in sorted(resources, key=lambda r: r.url)]
    content_id = hashlib.sha256(
        b"".join(r.url.encode() + hashlib.sha256(body).digest() for r, body in pairs)
    ).hexdigest()
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write beside the target, then rename: a failed build never leaves half an archive.
    fd, tmp_name = tempfile.mkstemp(prefix=".warc-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as stream:
            writer = WARCWriter(stream, gzip=True)
            info = (
                "software: presswatch demo/build_archive.py\r\n"
                "format: WARC File Format 1.0\r\n"
                "description: presswatch demo archive: feeds, sitemaps, listings and article "
                "pages replayed by 'presswatch demo'. Many pages are reconstructed, not "
                "captured; see demo/PROVENANCE.md.\r\n"
                f"isPartOf: presswatch-demo-{content_id[:12]}\r\n"
            ).encode()
            writer.write_record(
                writer.create_warc_record(
                    "",
                    "warcinfo",
                    payload=BytesIO(info),
                    length=len(info),
                    warc_content_type="application/warc-fields",
                    warc_headers_dict={
                        "WARC-Record-ID": _record_id("warcinfo", content_id),
                        "WARC-Date": _warc_date(CAPTURE_DATE),
                        "WARC-Filename": path.name,
                    },
                )
            )
            for resource, body in pairs:
                digest = hashlib.sha1(body).hexdigest()
                record = writer.create_warc_record(
                    resource.url,
                    "response",
                    payload=BytesIO(body),
                    # With the length given, warcio digests the stream in place instead of
                    # spooling it to a temporary file that it never closes.
                    length=len(body),
                    http_headers=_http_headers(resource, body),
                    warc_headers_dict={
                        "WARC-Record-ID": _record_id(resource.url, digest),
                        "WARC-Date": _warc_date(CAPTURE_DATE),
                    },
                )
                writer.write_record(record)
        os.chmod(tmp_name, 0o644)  # mkstemp makes it private; the archive is a repo file
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return len(pairs)


def archive_digests(path: Path) -> dict[str, str]:
    """URL -> WARC-Payload-Digest of every response record of a WARC file."""
    digests: dict[str, str] = {}
    with path.open("rb") as stream:
        for record in ArchiveIterator(stream):
            if record.rec_type == "response":
                url = record.rec_headers.get_header("WARC-Target-URI")
                digests[url] = record.rec_headers.get_header("WARC-Payload-Digest")
    return digests


# ---- 4. provenance and summary -----------------------------------------------------------


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_provenance(resources: Iterable[Resource]) -> str:
    """demo/PROVENANCE.md: every URL of the archive, its origin and where it came from."""
    ordered = sorted(resources, key=lambda r: (r.source or "", r.url))
    articles = [r for r in ordered if r.is_article]
    site = sorted((r for r in ordered if not r.is_article), key=lambda r: r.url)
    n_real = sum(r.origin == "real" for r in articles)
    lines = [
        "# Provenance of the demo archive",
        "",
        "Generated by `python demo/build_archive.py` from `tests/data/pages/*/pages.toml` and",
        "`demo/manifest.toml`; do not edit by hand. Every record of",
        "`demo/presswatch-demo.warc.gz` is listed here. Nothing was fetched from the live web.",
        "",
        "* **real**: a saved copy of the page, taken from a public repository (for the exact",
        "  bytes and caveats see `../shared/fixtures/pages/PROVENANCE.md`); copied unchanged,",
        "  except that pages whose `content_type` declares GB2312 are re-encoded to GB18030 when",
        "  archived, as the live site would send them.",
        "* **reconstructed**: written by us. Markup follows what `../shared/SOURCES.md`",
        "  documents for the site, the text is ours, ids and numbers are invented; it is not a",
        "  real page. Each such file starts with a comment saying RECONSTRUCTED.",
        "",
        f"{len(articles)} article pages ({n_real} real, {len(articles) - n_real} reconstructed)"
        f" and {len(site)} feeds, sitemaps, listings and robots.txt files (all reconstructed).",
        "",
        "## Article pages",
        "",
        "| source | URL | origin | file | provenance |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {r.source} | {r.url} | {r.origin} | `{r.relpath}` | {_cell(r.provenance)} |"
        for r in articles
    ]
    lines += [
        "",
        "## Feeds, sitemaps, listings, robots.txt",
        "",
        "| URL | origin | file | content type | note |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {r.url} | {r.origin} | `{r.relpath}` | {r.content_type} | {_cell(r.provenance)} |"
        for r in site
    ]
    return "\n".join(lines) + "\n"


def summary(inputs: Inputs, archive: Path, records: int) -> Iterator[str]:
    per_source: dict[str, Counter[str]] = {}
    for r in inputs.articles:
        per_source.setdefault(r.source or "", Counter())[r.origin] += 1
    yield f"{'source':<16} {'real':>5} {'recon':>6} {'total':>6}"
    for key in sorted(per_source):
        c = per_source[key]
        yield f"{key:<16} {c['real']:>5} {c['reconstructed']:>6} {c.total():>6}"
    total = Counter(r.origin for r in inputs.articles)
    yield (
        f"{'all':<16} {total['real']:>5} {total['reconstructed']:>6} {total.total():>6}"
        f"   articles from {len(per_source)} sources"
    )
    sha = hashlib.sha256(archive.read_bytes()).hexdigest()
    yield (
        f"{records} response records ({len(inputs.site)} feeds/sitemaps/listings/robots.txt) "
        f"-> {_rel(archive)} "
        f"({archive.stat().st_size:,} bytes, sha256 {sha[:16]}...)"
    )


def build(
    output: Path = ARCHIVE,
    provenance: Path = PROVENANCE,
    pages_dir: Path = PAGES_DIR,
    manifest: Path = MANIFEST,
) -> tuple[Inputs, int]:
    """Load, validate, write the archive and its provenance file; BuildError on problems."""
    registry = default_registry()
    inputs = load_inputs(registry, pages_dir, manifest)
    problems = validate(inputs, registry)
    if problems:
        raise BuildError(
            f"{len(problems)} problem(s); the archive was not written:\n"
            + "\n".join(f"  - {p}" for p in problems)
        )
    records = write_archive(inputs.resources, output)
    provenance.write_text(render_provenance(inputs.resources), encoding="utf-8")
    return inputs, records


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Build demo/presswatch-demo.warc.gz from tests/data/pages and demo/site.",
        epilog="Example: python demo/build_archive.py --output /tmp/demo.warc.gz",
    )
    parser.add_argument("--output", type=Path, default=ARCHIVE, help="WARC file to write.")
    parser.add_argument(
        "--provenance", type=Path, default=PROVENANCE, help="Markdown provenance file to write."
    )
    args = parser.parse_args(argv)
    try:
        inputs, records = build(args.output, args.provenance)
    except BuildError as exc:
        print(f"build_archive: {exc}", file=sys.stderr)
        return 1
    for line in summary(inputs, args.output, records):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
