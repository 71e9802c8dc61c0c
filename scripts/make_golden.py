"""Write golden JSON files for parser test pages, and show what changed.

Each source folder tests/data/pages/<source>/ holds pages (<YYYY_MM_DD>_<slug>.html), a
pages.toml that lists them ([[page]] with file, url, origin, provenance; optional source and
content_type), and one golden <same name>.json per page: the Article the parser makes, as
JSON (sorted keys, ensure_ascii=False, indent 2, fetched_at null).

    python scripts/make_golden.py tests/data/pages/rt/2019_11_20_x.html   # one page
    python scripts/make_golden.py --missing     # every page that has no golden yet
    python scripts/make_golden.py --all         # every page (after a parser change)

Read the printed diff before committing: a golden is a claim that the output is right.
tests/test_golden.py imports the helpers below, so the test and the script agree on format.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PAGES_DIR = ROOT / "tests" / "data" / "pages"
ORIGINS = ("real", "reconstructed")

if str(ROOT) not in sys.path:  # run as a file from anywhere, without installing the project
    sys.path.insert(0, str(ROOT))

from w3lib.encoding import http_content_type_encoding  # noqa: E402

from crawler.encoding import decode_html  # noqa: E402
from crawler.parsers import parse_article_with_report  # noqa: E402
from crawler.sources import default_registry  # noqa: E402


class PagesTomlError(ValueError):
    """A pages.toml entry is missing, malformed, or points at a file that is not there."""


@dataclass(frozen=True)
class GoldenPage:
    """One [[page]] entry of a pages.toml."""

    folder: Path
    file: str
    url: str
    origin: str
    provenance: str
    source: str | None = None
    content_type: str | None = None

    @property
    def html_path(self) -> Path:
        return self.folder / self.file

    @property
    def golden_path(self) -> Path:
        return self.html_path.with_suffix(".json")

    @property
    def relpath(self) -> str:
        try:
            return self.html_path.relative_to(ROOT).as_posix()
        except ValueError:
            return str(self.html_path)

    @property
    def command(self) -> str:
        return f"python scripts/make_golden.py {self.relpath}"


def _source_for(folder: Path, explicit: str | None) -> str | None:
    if explicit:
        return explicit
    # The folder is named after the registry key; a folder that is not a key (a site added
    # in presswatch.toml, say) leaves the source to URL matching.
    return folder.name if folder.name in default_registry() else None


def load_pages_toml(toml_path: Path) -> list[GoldenPage]:
    """The entries of one pages.toml; raises PagesTomlError saying what to fix."""
    if not toml_path.is_file():
        raise PagesTomlError(
            f"{toml_path} does not exist; list the folder's pages in it "
            "([[page]] with file, url, origin, provenance)."
        )
    try:
        data = tomllib.loads(toml_path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise PagesTomlError(f"{toml_path}: not valid TOML ({exc}).") from exc
    entries = data.get("page")
    if not isinstance(entries, list) or not entries:
        raise PagesTomlError(f"{toml_path}: no [[page]] entries; add one per HTML file.")
    pages: list[GoldenPage] = []
    for number, entry in enumerate(entries, start=1):
        where = f"{toml_path} [[page]] #{number}"
        missing = [k for k in ("file", "url", "origin", "provenance") if not entry.get(k)]
        if missing:
            raise PagesTomlError(f"{where}: missing {', '.join(missing)}.")
        if entry["origin"] not in ORIGINS:
            raise PagesTomlError(f"{where}: origin must be one of {', '.join(ORIGINS)}.")
        page = GoldenPage(
            folder=toml_path.parent,
            file=entry["file"],
            url=entry["url"],
            origin=entry["origin"],
            provenance=entry["provenance"],
            source=_source_for(toml_path.parent, entry.get("source")),
            content_type=entry.get("content_type"),
        )
        if not page.html_path.is_file():
            raise PagesTomlError(f"{where}: file {page.file} is not in {toml_path.parent}.")
        pages.append(page)
    return pages


def all_pages_tomls(pages_dir: Path = PAGES_DIR) -> list[Path]:
    return sorted(pages_dir.glob("*/pages.toml"))


def fetched_body(page: GoldenPage) -> bytes:
    """The bytes a live fetch would get: the saved page, re-encoded to the charset that
    `content_type` declares (pages re-saved as UTF-8 whose site serves GBK, for instance)."""
    raw = page.html_path.read_bytes()
    declared = http_content_type_encoding(page.content_type)
    if declared is None:
        return raw
    text, _encoding = decode_html(raw)
    try:
        return text.encode(declared)
    except UnicodeEncodeError as exc:
        raise PagesTomlError(
            f"{page.relpath}: content_type declares {declared}, which cannot encode this page "
            f"({exc.reason} at {exc.start}); fix content_type in its pages.toml."
        ) from exc


def produce(page: GoldenPage) -> tuple[dict[str, Any], list[str]]:
    """(the Article as a golden dict, the parse report's notes) for one page."""
    article, report = parse_article_with_report(
        page.url, fetched_body(page), page.source, page.content_type
    )
    data = article.to_dict()
    data["fetched_at"] = None
    notes = [f"fallback: {f}" for f in report.fallbacks] + report.warnings
    return data, notes


def render(data: dict[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, ensure_ascii=False, indent=2) + "\n"


def diff_summary(old: dict[str, Any] | None, new: dict[str, Any], max_lines: int = 40) -> list[str]:
    """Human-readable differences between two golden dicts."""
    if old is None:
        lines = ["  new golden:"]
        for key in ("title", "authors", "published_at", "date_precision", "captions", "parser"):
            lines.append(f"    {key}: {json.dumps(new.get(key), ensure_ascii=False)[:160]}")
        body = new.get("body") or ""
        lines.append(f"    body: {len(body)} chars, {body.count(chr(10) * 2) + 1} paragraphs")
        lines.append(f"    body starts: {body[:120]!r}")
        return lines
    lines: list[str] = []
    for key in sorted(set(old) | set(new)):
        if old.get(key) == new.get(key):
            continue
        if key == "body":
            before = (old.get("body") or "").split("\n\n")
            after = (new.get("body") or "").split("\n\n")
            diff = list(
                difflib.unified_diff(before, after, "old body", "new body", lineterm="", n=0)
            )
            lines.append(f"  body: {len(before)} -> {len(after)} paragraphs")
            lines += [f"    {d[:160]}" for d in diff[:max_lines]]
            if len(diff) > max_lines:
                lines.append(f"    ... {len(diff) - max_lines} more diff lines")
        else:
            was = json.dumps(old.get(key), ensure_ascii=False)[:160]
            now = json.dumps(new.get(key), ensure_ascii=False)[:160]
            lines.append(f"  {key}: {was} -> {now}")
    return lines or ["  unchanged"]


def write_golden(page: GoldenPage) -> list[str]:
    """Write one golden; returns the lines to print."""
    new, notes = produce(page)
    old = None
    if page.golden_path.is_file():
        old = json.loads(page.golden_path.read_text(encoding="utf-8"))
    page.golden_path.write_text(render(new), encoding="utf-8")
    lines = [f"{page.golden_path.relative_to(ROOT).as_posix()} ({page.origin}):"]
    lines += diff_summary(old, new)
    lines += [f"  note: {n}" for n in notes]
    return lines


def _find_page(path: Path, pages: list[GoldenPage]) -> GoldenPage:
    path = path.resolve()
    for page in pages:
        if page.html_path.resolve() == path:
            return page
    raise PagesTomlError(
        f"{path} is not listed in {path.parent / 'pages.toml'}; add a [[page]] entry "
        "(file, url, origin, provenance) first."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pages", nargs="*", type=Path, help="page HTML files to (re)write")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--all", action="store_true", help="every page listed in a pages.toml")
    group.add_argument("--missing", action="store_true", help="every page without a golden")
    args = parser.parse_args(argv)
    if not (args.pages or args.all or args.missing):
        parser.error("name page files, or use --all or --missing")

    errors: list[str] = []
    if args.pages:
        tomls = sorted({path.resolve().parent / "pages.toml" for path in args.pages})
    else:
        tomls = all_pages_tomls()
    listed: list[GoldenPage] = []
    for toml_path in tomls:
        try:
            listed += load_pages_toml(toml_path)
        except PagesTomlError as exc:
            errors.append(str(exc))
    chosen: list[GoldenPage] = []
    if args.all:
        chosen = listed
    elif args.missing:
        chosen = [p for p in listed if not p.golden_path.is_file()]
    else:
        for path in args.pages:
            try:
                chosen.append(_find_page(path, listed))
            except PagesTomlError as exc:
                errors.append(str(exc))
    for page in chosen:
        print("\n".join(write_golden(page)))
    print(f"{len(chosen)} golden file(s) written. Review the diff before committing.")
    for error in errors:
        print(f"error: {error}", file=sys.stderr)
    return 2 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
