"""Golden tests: every page listed in tests/data/pages/*/pages.toml parses to its golden JSON.

One parametrised test over all sources' pages (STYLE.md convention 2). A page without a golden,
or whose output changed, fails with the command that (re)writes the golden; read the diff it
prints before committing. The helpers come from scripts/make_golden.py, so the test and the
script cannot disagree on the JSON format.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("make_golden", ROOT / "scripts" / "make_golden.py")
assert _spec is not None and _spec.loader is not None
make_golden = importlib.util.module_from_spec(_spec)
sys.modules["make_golden"] = make_golden  # dataclasses look their module up by name
_spec.loader.exec_module(make_golden)

REQUIRED = ("title", "body", "language", "published_at", "date_precision")


def _params() -> list[Any]:
    """One param per listed page; a broken pages.toml becomes one failing param of its own."""
    params: list[Any] = []
    for toml_path in make_golden.all_pages_tomls():
        folder = toml_path.parent.name
        try:
            pages = make_golden.load_pages_toml(toml_path)
        except make_golden.PagesTomlError as exc:
            params.append(pytest.param(exc, id=f"{folder}/pages.toml"))
            continue
        params += [pytest.param(page, id=f"{folder}/{page.file}") for page in pages]
    return params


PARAMS = _params()


def _page(param: Any) -> Any:
    if isinstance(param, make_golden.PagesTomlError):
        pytest.fail(str(param))
    return param


@pytest.mark.parametrize("page", PARAMS)
def test_page_matches_golden(page: Any) -> None:
    page = _page(page)
    if not page.golden_path.is_file():
        pytest.fail(
            f"No golden for {page.relpath}. Write it with `{page.command}`, read what it "
            "prints, then commit the .json beside the page."
        )
    expected = json.loads(page.golden_path.read_text(encoding="utf-8"))
    actual, notes = make_golden.produce(page)
    if actual != expected:
        changes = "\n".join(make_golden.diff_summary(expected, actual))
        pytest.fail(
            f"{page.relpath} no longer parses to its golden:\n{changes}\n"
            f"If the new output is right, regenerate with `{page.command}` and review the diff."
            + (f"\nParser notes: {notes}" if notes else "")
        )


@pytest.mark.parametrize("page", PARAMS)
def test_golden_is_complete(page: Any) -> None:
    page = _page(page)
    if not page.golden_path.is_file():
        pytest.skip(f"no golden yet for {page.relpath} (test_page_matches_golden fails for it)")
    golden = json.loads(page.golden_path.read_text(encoding="utf-8"))
    empty = [field for field in REQUIRED if not golden.get(field)]
    assert not empty, (
        f"{page.golden_path.name}: empty {', '.join(empty)}. Every golden must have "
        f"{', '.join(REQUIRED)}; fix the parser, then run `{page.command}`."
    )


@pytest.mark.parametrize(
    "folder",
    sorted({p.parent for p in make_golden.PAGES_DIR.glob("*/*.html")}),
    ids=lambda p: p.name,
)
def test_every_page_is_listed(folder: Path) -> None:
    listed: set[str] = set()
    toml_path = folder / "pages.toml"
    if toml_path.is_file():
        try:
            listed = {p.file for p in make_golden.load_pages_toml(toml_path)}
        except make_golden.PagesTomlError as exc:
            pytest.fail(str(exc))
    unlisted = sorted(p.name for p in folder.glob("*.html") if p.name not in listed)
    assert not unlisted, (
        f"{folder.name}: pages not in {toml_path.name}: {', '.join(unlisted)}. Add a [[page]] "
        "entry (file, url, origin, provenance) for each, or they are never tested."
    )
