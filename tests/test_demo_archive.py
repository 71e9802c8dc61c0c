"""The bundled demo archive: up to date with its readable files, and holding what the demo needs.

demo/presswatch-demo.warc.gz is built by demo/build_archive.py from tests/data/pages/*/pages.toml
and demo/manifest.toml. When a test here fails because the archive is stale, rebuild it with
`python demo/build_archive.py` (or `make archive`) and commit the archive with its inputs.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from crawler.sources import default_registry

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("build_archive", ROOT / "demo" / "build_archive.py")
assert _spec is not None and _spec.loader is not None
build_archive = importlib.util.module_from_spec(_spec)
sys.modules["build_archive"] = build_archive  # dataclasses look their module up by name
_spec.loader.exec_module(build_archive)

REBUILD = "python demo/build_archive.py"
SEED_URL = "http://www.globaltimes.cn/content/1174814.shtml"
MFA_2019_URL = (
    "https://www.fmprc.gov.cn/mfa_eng/xwfw_665399/s2510_665401/2511_665403/t1731268.shtml"
)
TASS_URL = "https://tass.com/science/1103515"
CGTN_URL = (
    "https://news.cgtn.com/news/2019-12-25/"
    "MOFA-says-sci-tech-is-the-next-focus-of-China-Russia-ties-MIw6OrkiXu/index.html"
)


def _records(path: Path) -> dict[str, tuple[str, str, bytes]]:
    """URL -> (payload digest, Content-Type, body) of every response record."""
    found: dict[str, tuple[str, str, bytes]] = {}
    with path.open("rb") as stream:
        for record in ArchiveIterator(stream):
            if record.rec_type != "response":
                continue
            url = record.rec_headers.get_header("WARC-Target-URI")
            found[url] = (
                record.rec_headers.get_header("WARC-Payload-Digest"),
                record.http_headers.get_header("Content-Type") or "",
                record.content_stream().read(),
            )
    return found


@pytest.fixture(scope="module")
def archive() -> dict[str, tuple[str, str, bytes]]:
    path = build_archive.ARCHIVE
    if not path.is_file():
        pytest.fail(f"{path.relative_to(ROOT)} is missing; build it with `{REBUILD}`.")
    return _records(path)


@pytest.fixture(scope="module")
def inputs() -> Any:
    return build_archive.load_inputs(default_registry())


def test_archive_is_up_to_date(tmp_path: Path, archive: dict[str, tuple[str, str, bytes]]) -> None:
    rebuilt = tmp_path / build_archive.ARCHIVE.name
    provenance = tmp_path / "PROVENANCE.md"
    try:
        build_archive.build(rebuilt, provenance)
    except build_archive.BuildError as exc:
        pytest.fail(f"The demo archive's inputs are broken: {exc}")
    fresh = {url: digest for url, (digest, _, _) in _records(rebuilt).items()}
    bundled = {url: digest for url, (digest, _, _) in archive.items()}
    stale = sorted(set(fresh) ^ set(bundled)) + sorted(
        url for url in set(fresh) & set(bundled) if fresh[url] != bundled[url]
    )
    assert not stale, (
        f"demo/presswatch-demo.warc.gz is stale ({len(stale)} URLs differ, e.g. {stale[:3]}); "
        f"rebuild it with `{REBUILD}`."
    )
    assert provenance.read_text(encoding="utf-8") == build_archive.PROVENANCE.read_text(
        encoding="utf-8"
    ), f"demo/PROVENANCE.md is stale; rebuild it with `{REBUILD}`."


def test_at_least_30_articles_from_at_least_four_sources(
    archive: dict[str, tuple[str, str, bytes]],
) -> None:
    registry = default_registry()
    per_source = Counter(
        source.key for url in archive if (source := registry.for_url(url)) is not None
    )
    assert per_source.total() >= 30, f"only {per_source.total()} articles: {dict(per_source)}"
    assert len(per_source) >= 4, f"articles from only {len(per_source)} sources"


def test_seed_article_is_archived_and_linked_from_a_global_times_start_url(
    archive: dict[str, tuple[str, str, bytes]],
) -> None:
    assert SEED_URL in archive, (
        f"The seed article {SEED_URL} is not in the archive: add it to "
        f"tests/data/pages/globaltimes/pages.toml, then run `{REBUILD}`."
    )
    _, _, body = archive[SEED_URL]
    text = body.decode("utf-8")
    # The 2009-2020 template: Bootstrap-2 row-content body, "Published: 2019/12/25 ..." line.
    assert "row-content" in text and "Published: 2019/12/25" in text
    gt = default_registry().get("globaltimes")
    listings = {url for listing in gt.listings for url in listing.urls()}
    linking = [
        url
        for url in gt.start_urls()
        if url in archive
        and SEED_URL
        in build_archive.discovered_links(
            url, archive[url][2], archive[url][1], listing=url in listings
        )
    ]
    assert linking, "No archived Global Times feed, sitemap or listing links the seed article."


def test_coverage_of_the_seed_story_by_other_outlets_is_archived(
    archive: dict[str, tuple[str, str, bytes]],
) -> None:
    for url in (MFA_2019_URL, TASS_URL, CGTN_URL):
        assert url in archive, f"{url} is missing from the demo archive"
    transcript = archive[MFA_2019_URL][2].decode("utf-8")
    assert "Geng Shuang" in transcript and "December 25, 2019" in transcript
    # 2019-2020 convention (SOURCES.md §2): "Q:" and "A:" open the turn's paragraph.
    answers = re.findall(r"<p[^>]*>A: (.*?)</p>", transcript)
    assert any("Scientific and Technological Innovation" in a for a in answers)
    assert re.search(r"<p[^>]*>Q: [^<]*Scientific and Technological Innovation", transcript)


def test_reconstructed_pages_are_marked(inputs: Any) -> None:
    provenance = build_archive.PROVENANCE.read_text(encoding="utf-8")
    problems = []
    for resource in inputs.resources:
        # Both tables of PROVENANCE.md put the origin in the cell right after the URL.
        if f"| {resource.url} | {resource.origin} |" not in provenance:
            problems.append(f"{resource.url}: not listed as {resource.origin} in PROVENANCE.md")
        if resource.origin == "reconstructed":
            comment = build_archive.first_comment(resource.path.read_text(encoding="utf-8"))
            if not comment or "RECONSTRUCTED" not in comment:
                problems.append(f"{resource.relpath}: does not start with a RECONSTRUCTED comment")
    assert not problems, "\n".join(problems) + f"\nFix the files, then run `{REBUILD}`."
    assert any(r.origin == "reconstructed" for r in inputs.articles)


def test_builder_names_a_missing_page_file(tmp_path: Path) -> None:
    folder = tmp_path / "pages" / "tass_en"
    folder.mkdir(parents=True)
    (folder / "pages.toml").write_text(
        '[[page]]\nfile = "2019_12_25_gone.html"\nurl = "https://tass.com/science/1"\n'
        'origin = "reconstructed"\nprovenance = "test"\n',
        encoding="utf-8",
    )
    with pytest.raises(build_archive.BuildError) as caught:
        build_archive.build(
            tmp_path / "out.warc.gz", tmp_path / "PROVENANCE.md", pages_dir=tmp_path / "pages"
        )
    message = str(caught.value)
    assert "2019_12_25_gone.html" in message and "file is missing" in message
    assert not (tmp_path / "out.warc.gz").exists()
