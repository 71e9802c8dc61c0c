"""Story clusters: syndicated copies and light rewrites of one article grouped into a story.

Owns how an article finds its story (`StoryIndex.assign`), in this order:

1. An article already in a story stays there (a changed version keeps its story; its
   signature is replaced so later copies of the new text still find it).
2. Exact duplicates fold by content hash: another article with the same title and body
   (and a non-empty body: blocked pages all share the empty one) gives its story.
3. Near-duplicates by MinHash LSH (datasketch) over shingles of title + body: runs of
   `WORD_SHINGLE` words for alphabetic scripts, `CHAR_SHINGLE` characters for Chinese and
   Japanese (written without spaces). A candidate from the LSH joins when its estimated
   Jaccard similarity is at least `JOIN_JACCARD`, or when one text is nearly contained in
   the other (`JOIN_CONTAINMENT`: a republication that adds a site's related-links
   boilerplate, or trims the last paragraphs), and the two were published within
   `WINDOW_DAYS` of each other (templated items such as daily weather alerts are alike
   every day, but are not one story).
4. Otherwise the article starts a new story.

Stories are near-duplicates, not events: the same news reported in other words, or in
another language, is another story (a reader still gets one alert per wording, not one per
outlet that reprinted it). The signatures are stored in `story_lsh`, so a new process
rebuilds the same index (`StoryIndex(db)`) and clusters exactly as the old one would have.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
from datasketch import LeanMinHash, MinHash, MinHashLSH
from sqlite_utils import Database

from alerts.textnorm import fold
from db import alerts as db_alerts
from db.search import CJK_CHARS
from db.store import utc_now

logger = logging.getLogger(__name__)

NUM_PERM = 128  # 128 permutations: Jaccard estimated within about ±0.05
SEED = 1
SCHEME = "affine32"  # datasketch's hashing scheme; stored with each signature
WORD_SHINGLE = 3
CHAR_SHINGLE = 4
# The LSH finds candidates above about this Jaccard; each is then checked exactly against
# the thresholds below. Lower than JOIN_JACCARD so that contained copies are candidates.
LSH_THRESHOLD = 0.3
JOIN_JACCARD = 0.5
JOIN_CONTAINMENT = 0.8
WINDOW_DAYS = 7
# Texts with fewer shingles (a title and one line) are too short to call near-duplicates:
# two short items of one outlet share most of their few shingles by chance.
MIN_SHINGLES = 10

# One CJK character, or one run of other letters and digits.
_TOKEN = re.compile(f"([{CJK_CHARS}])|([^\\W_{CJK_CHARS}]+)")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def shingles(text: str) -> set[bytes]:
    """The shingle set of `text`: word 3-grams plus CJK character 4-grams, as UTF-8 bytes.

    Folded first as rules see text (alerts.textnorm.fold: NFKC, casefold, Traditional ->
    Simplified, no diacritics), so a Traditional-script or full-width copy of a Simplified
    story has the same shingles. CJK characters are taken as one stream with punctuation
    and other words removed, so a copy that changes "，" into "," or adds a space still has
    the same shingles. Words are taken as one stream too, so mixed text (an English name in
    a Chinese article) counts both ways.
    """
    folded = fold(text or "")
    words: list[str] = []
    chars: list[str] = []
    for match in _TOKEN.finditer(folded):
        cjk, word = match.groups()
        if cjk:
            chars.append(cjk)
        else:
            words.append(word)
    last = len(words) - WORD_SHINGLE + 1
    result = {" ".join(words[i : i + WORD_SHINGLE]).encode() for i in range(last)}
    stream = "".join(chars)
    result.update(
        stream[i : i + CHAR_SHINGLE].encode() for i in range(len(stream) - CHAR_SHINGLE + 1)
    )
    return result


def _to_bytes(minhash: LeanMinHash) -> bytes:
    # Little-endian at the hash values' own width, so a file moves between machines.
    values = np.asarray(minhash.hashvalues)
    return values.astype(values.dtype.newbyteorder("<")).tobytes()


def _day(value: str | None) -> date | None:
    match = _DATE.match(value or "")
    return date.fromisoformat(match.group(0)) if match else None


@dataclass
class _Entry:
    story_id: int
    minhash: LeanMinHash
    size: int  # number of shingles
    day: date | None


@dataclass(frozen=True)
class Assignment:
    """Where an article went: its story, how it got there, and how similar it was."""

    story_id: int
    method: str  # member (already assigned) | first | content_hash | minhash
    similarity: float
    new_story: bool


class StoryIndex:
    """The story of every article, with an in-memory MinHash LSH rebuilt from `story_lsh`.

    Writes go through the caller's open transaction. The in-memory index is changed at
    once (a second copy in the same batch must find the first), so after a rollback the
    caller calls `rollback()` to undo those changes, and `commit()` after a commit.
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self._template = MinHash(num_perm=NUM_PERM, seed=SEED, scheme=SCHEME)
        self._lsh = MinHashLSH(threshold=LSH_THRESHOLD, num_perm=NUM_PERM)
        self._entries: dict[str, _Entry] = {}
        # Undo log since the last commit(): (article_id, entry it replaced or None).
        self._undo: list[tuple[str, _Entry | None]] = []
        self._loaded_version = 0  # the newest version_id read from story_lsh
        self._staged_version = 0  # the newest version_id written since commit()
        self.refresh()

    def refresh(self) -> int:
        """Load the signatures other processes stored since the last load; return how many.

        Call it inside the transaction that assigns the next batch: that transaction's
        write lock guarantees that nothing it has not seen gets committed meanwhile.
        """
        loaded = skipped = 0
        for row in db_alerts.story_signatures(self.db, self._loaded_version):
            self._loaded_version = max(self._loaded_version, row["version_id"] or 0)
            if (row["num_perm"], row["seed"], row["scheme"]) != (NUM_PERM, SEED, SCHEME):
                skipped += 1
                continue
            values = np.frombuffer(row["minhash"], dtype=f"<u{len(row['minhash']) // NUM_PERM}")
            minhash = LeanMinHash(seed=SEED, hashvalues=values, scheme=SCHEME)
            entry = _Entry(row["story_id"], minhash, row["shingles"], _day(row["seen_at"]))
            self._put(row["article_id"], entry)
            loaded += 1
        if skipped:
            # Made by another NUM_PERM/SEED/SCHEME: not comparable. Their articles keep their
            # stories; only new copies of them will not be found.
            logger.warning("Ignored %d story signatures made with other MinHash settings", skipped)
        return loaded

    def __len__(self) -> int:
        return len(self._entries)

    def _put(self, article_id: str, entry: _Entry | None) -> None:
        if article_id in self._entries:
            self._lsh.remove(article_id)
            del self._entries[article_id]
        if entry is not None:
            self._lsh.insert(article_id, entry.minhash, check_duplication=False)
            self._entries[article_id] = entry

    def _stage(self, article_id: str, entry: _Entry, version_id: int | None) -> None:
        self._undo.append((article_id, self._entries.get(article_id)))
        self._put(article_id, entry)
        self._staged_version = max(self._staged_version, version_id or 0)

    def commit(self) -> None:
        """The caller's transaction committed: keep the in-memory changes."""
        self._undo.clear()
        # What we wrote need not be read back by refresh(): batches take versions in order
        # under the write lock, so anything another process writes later is newer.
        self._loaded_version = max(self._loaded_version, self._staged_version)

    def rollback(self) -> None:
        """The caller's transaction rolled back: forget what was staged since commit()."""
        while self._undo:
            article_id, previous = self._undo.pop()
            self._put(article_id, previous)
        self._staged_version = 0

    def _minhash(self, shingle_set: set[bytes]) -> LeanMinHash:
        # Reusing the template's permutations saves regenerating them for every article.
        minhash = MinHash(
            num_perm=NUM_PERM,
            seed=SEED,
            permutations=self._template.permutations,
            scheme=SCHEME,
        )
        minhash.update_batch(list(shingle_set))
        return LeanMinHash(minhash)

    def _best_candidate(
        self, article_id: str, minhash: LeanMinHash, size: int, day: date | None
    ) -> tuple[int, float] | None:
        best: tuple[int, float] | None = None
        for key in self._lsh.query(minhash):
            if key == article_id:
                continue
            other = self._entries[key]
            if day and other.day and abs((day - other.day).days) > WINDOW_DAYS:
                continue
            jaccard = minhash.jaccard(other.minhash)
            # |A ∩ B| from J = |A ∩ B| / |A ∪ B| and |A ∪ B| = |A| + |B| - |A ∩ B|.
            common = jaccard * (size + other.size) / (1 + jaccard)
            containment = common / max(1, min(size, other.size))
            if jaccard < JOIN_JACCARD and containment < JOIN_CONTAINMENT:
                continue
            if best is None or jaccard > best[1]:
                best = (other.story_id, jaccard)
        return best

    def assign(self, article: Mapping[str, Any], now: str | None = None) -> int:
        """The story id of `article` (id, title, body, content_hash, published_at...)."""
        return self.assign_detail(article, now).story_id

    def assign_detail(self, article: Mapping[str, Any], now: str | None = None) -> Assignment:
        """Like `assign`, with how the story was found. Writes in the caller's transaction."""
        now = now or utc_now()
        article_id = article["id"]
        seen_at = article.get("published_at") or article.get("first_seen_at") or now
        shingle_set = shingles(f"{article.get('title') or ''}\n{article.get('body') or ''}")
        minhash = self._minhash(shingle_set) if len(shingle_set) >= MIN_SHINGLES else None

        story_id = db_alerts.story_of_article(self.db, article_id)
        if story_id is not None:
            assignment = Assignment(story_id, "member", 1.0, new_story=False)
        else:
            assignment = self._find_story(article, minhash, len(shingle_set), _day(seen_at))
            if assignment.new_story:
                story_id = db_alerts.create_story(
                    self.db, article_id=article_id, title=article.get("title") or "", now=now
                )
                assignment = Assignment(story_id, "first", 1.0, new_story=True)
            db_alerts.add_story_member(
                self.db,
                story_id=assignment.story_id,
                article_id=article_id,
                method=assignment.method,
                similarity=assignment.similarity,
                now=now,
            )
        if minhash is not None:
            db_alerts.save_signature(
                self.db,
                article_id=article_id,
                minhash=_to_bytes(minhash),
                num_perm=NUM_PERM,
                seed=SEED,
                scheme=SCHEME,
                shingles=len(shingle_set),
                seen_at=seen_at,
                version_id=article.get("version_id"),
            )
            self._stage(
                article_id,
                _Entry(assignment.story_id, minhash, len(shingle_set), _day(seen_at)),
                article.get("version_id"),
            )
        return assignment

    def _find_story(
        self, article: Mapping[str, Any], minhash: LeanMinHash | None, size: int, day: date | None
    ) -> Assignment:
        if article.get("body") and article.get("content_hash"):
            story_id = db_alerts.story_with_content(self.db, article["content_hash"], article["id"])
            if story_id is not None:
                return Assignment(story_id, "content_hash", 1.0, new_story=False)
        if minhash is not None:
            best = self._best_candidate(article["id"], minhash, size, day)
            if best is not None:
                return Assignment(best[0], "minhash", round(best[1], 3), new_story=False)
        return Assignment(0, "first", 1.0, new_story=True)
