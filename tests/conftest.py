"""Tiny shared fixtures: a database path and a record factory."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils

from db.store import open_db


@pytest.fixture
def tmp_db(tmp_path: Path) -> Path:
    """Path of a not yet created database file."""
    return tmp_path / "presswatch.db"


@pytest.fixture
def db(tmp_db: Path) -> Iterator[sqlite_utils.Database]:
    """A migrated database at `tmp_db`, closed after the test."""
    database = open_db(tmp_db)
    yield database
    database.close()


def _record(**overrides: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "url": "https://www.globaltimes.cn/page/202401/1305000.shtml",
        "source": "globaltimes",
        "title": "China, Russia deepen technology cooperation",
        "body": "Beijing and Moscow signed new agreements on innovation.\n\n"
        "The deals cover 5G networks and satellite navigation.",
        "canonical_url": None,
        "kind": "article",
        "language": "en",
        "subtitle": None,
        "authors": ["Global Times"],
        "section": "China",
        "tags": [],
        "published_at": "2024-01-15T04:30:00Z",
        "published_local": "2024-01-15T12:30:00+08:00",
        "date_precision": "minute",
        "updated_at": None,
        "dateline": None,
        "captions": [],
        "images": [],
        "turns": [],
        "access": "full",
        "word_count": 0,
        "content_hash": "",
        "parser": "globaltimes/2021",
        "fetched_at": "2024-01-15T05:00:00Z",
        "charset": "utf-8",
        "charset_repaired_from": None,
    }
    record.update(overrides)
    return record


@pytest.fixture
def make_record() -> Callable[..., dict[str, Any]]:
    """`make_record(**overrides)`: a complete Article.to_dict()-shaped record."""
    return _record
