"""The Article record: the contract between parsers, pipelines and the store.

Field names follow ../shared/DESIGN.md ("The record"). Parsers fill what the page carries;
the normalise pipeline fills what is derived (word_count, content_hash, fetched_at).

Dates: `published_at` / `updated_at` are UTC ISO 8601 strings ending in "Z"
("2019-12-25T12:38:40Z") when the page gives a time of day. When it gives only a day, they
are the bare local calendar date ("2019-12-25") and `date_precision` is "day": a date
without a time cannot be moved to UTC without guessing an hour, and we never guess one.
`published_local` keeps the page's own clock with its offset ("2019-12-25T20:38:40+08:00").
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

KINDS = ("article", "briefing", "transcript", "statement")
ACCESS = ("full", "teaser", "blocked")
PRECISIONS = ("day", "minute", "second")
TURN_ROLES = ("question", "answer", "statement")


@dataclass
class Article:
    url: str
    source: str
    title: str = ""
    body: str = ""
    canonical_url: str | None = None
    kind: str = "article"
    language: str | None = None
    subtitle: str | None = None
    authors: list[str] = field(default_factory=list)
    section: str | None = None
    tags: list[str] = field(default_factory=list)
    published_at: str | None = None
    published_local: str | None = None
    date_precision: str | None = None
    updated_at: str | None = None
    dateline: str | None = None
    # Each caption is {"text": str, "credit": str | None}.
    captions: list[dict[str, Any]] = field(default_factory=list)
    # Each image is {"src": absolute URL, "alt": str | None}.
    images: list[dict[str, Any]] = field(default_factory=list)
    # Briefings: {"idx": int, "role": question|answer|statement, "speaker", "outlet", "text"}.
    turns: list[dict[str, Any]] = field(default_factory=list)
    access: str = "full"
    word_count: int = 0
    content_hash: str = ""
    # "<parser name>/<version>", e.g. "globaltimes/2021" or "generic/1".
    parser: str = ""
    fetched_at: str | None = None
    # How the page's bytes were decoded (crawler.encoding): the Python codec used, and the
    # charset the page declared when it did not fit and was overridden (else None).
    charset: str | None = None
    charset_repaired_from: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Article:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"Unknown Article fields: {', '.join(unknown)}")
        return cls(**data)


ARTICLE_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Article))
