"""Full-text search over articles: the query language, CJK bigrams and snippets.

Owns three things that must agree with each other and with the `articles_fts` table made in
`db.migrations` (tokenizer "porter unicode61 remove_diacritics 2", columns title, body,
search_cjk):

1. `cjk_bigrams(text)`: what the store writes into `articles.search_cjk`. unicode61 treats a
   run of CJK characters as one token, so "中俄科技合作" alone would be findable only as a
   whole; its bigrams "中俄 俄科 科技 技合 合作" (plus the last character, "作", so that every
   character starts some token) make any substring findable.
2. `fts_query(query)`: the user's query language (words are ANDed, "exact phrases", OR,
   NOT / -word, prefix*) turned into an FTS5 MATCH expression in which every user word is a
   quoted string, so no user input can be FTS5 syntax. A CJK word of two or more characters
   becomes a phrase of its bigrams on the search_cjk column; a single CJK character a prefix
   query there.
3. `search(db, query, ...)`: ranked results with a snippet of the original body text.
4. `iter_article_candidates` / `iter_turn_candidates`: the rows an FTS5 expression built
   elsewhere (alerts.query.to_fts5, the rule language of `presswatch search`) finds, best
   first, for an exact matcher to filter.
"""

from __future__ import annotations

import logging
import operator
import re
import sqlite3
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlite_utils import Database

logger = logging.getLogger(__name__)

# Han ideographs (with extensions, compatibility forms, 々 and 〇) and Japanese kana: scripts
# written without spaces between words. Hangul is left out: Korean puts spaces between words,
# so unicode61 already splits it usefully.
CJK_CHARS = (
    "\u3005\u3007\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
    "\U00020000-\U0002ebef\U00030000-\U0003134f"
)
CJK_RE = re.compile(f"[{CJK_CHARS}]")
# What unicode61 keeps as token characters, near enough: letters and digits of any script.
_WORD = re.compile(r"[^\W_]+")
_CJK_OR_OTHER = re.compile(f"([{CJK_CHARS}]+)|([^{CJK_CHARS}]+)")
# A CJK run, or a run of other letters and digits.
_PIECE = re.compile(f"([{CJK_CHARS}]+)|([^\\W_{CJK_CHARS}]+)")

# Markers put around matches while building a snippet, replaced by the caller's markers at
# the end. Control characters: the normalise pipeline never lets them into a body.
_OPEN, _CLOSE = "\x02", "\x03"
# A snippet "word": one CJK character, or a run of other non-space characters (punctuation
# and markers included) that holds at least one letter or digit.
_SNIPPET_UNIT = re.compile(f"[{CJK_CHARS}]|[^\\s{CJK_CHARS}]+")
# What may follow the last word of a window and still belongs to it: "。", ".", a closing mark.
_TRAILING = re.compile(f"[^\\w\\s{_OPEN}]*")
SNIPPET_WORDS = 30
_SNIPPET_LEAD = 8  # words of context shown before the first match
MAX_QUERY_TERMS = 64

# bm25 weights of the FTS columns title, body, search_cjk: a title hit counts five times.
_BM25 = "bm25(articles_fts, 5.0, 1.0, 1.0)"
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[T ][0-9:.]+(?:Z|[+-]\d{2}:?\d{2})?)?$")


class SearchQueryError(ValueError):
    """A search query cannot be understood; the message names the problem and the fix."""


def cjk_bigrams(text: str | None) -> str:
    """The search_cjk text of `text`: CJK runs as overlapping bigrams, space-separated.

    Each run also contributes its last character alone, so that a one-character query (a
    prefix query) finds a character that ends a run: "中俄" -> "中俄 俄", and 俄* matches.
    Latin letters or digits glued to CJK text ("华为5G") are kept as tokens of their own so
    that "5G" is findable too; unicode61 would see "华为5g" as one token. Text without CJK
    characters gives "".

    >>> cjk_bigrams("中俄科技合作 and more")
    '中俄 俄科 科技 技合 合作 作'
    """
    if not text or not CJK_RE.search(text):
        return ""  # the common case for English and Russian articles, kept cheap
    tokens: list[str] = []
    for piece in _PIECE.finditer(text):
        run, other = piece.groups()
        if run:
            tokens.extend(map(operator.add, run, run[1:]))
            tokens.append(run[-1])
        elif CJK_RE.match(text, piece.end()) or (
            piece.start() and CJK_RE.match(text, piece.start() - 1)
        ):
            tokens.append(other)
    return " ".join(tokens)


def _quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


@dataclass
class _Term:
    text: str
    negated: bool = False
    prefix: bool = False


@dataclass
class ParsedQuery:
    """An FTS5 MATCH expression and the CJK strings to highlight in snippets."""

    match: str
    cjk_terms: list[str] = field(default_factory=list)


# A token of the user's query: an optionally negated "phrase" (closing quote optional) with an
# optional prefix star, or a bare word (anything up to whitespace or a quote).
_QUERY_TOKEN = re.compile(r'(-?)"([^"]*)"?(\*?)|([^\s"]+)')


def _term_expression(term: _Term, cjk_terms: list[str]) -> str | None:
    """The FTS5 expression of one user term, or None if it has nothing searchable."""
    parts: list[str] = []
    # Split at CJK runs: CJK goes to the bigram column, the rest is matched as written.
    pieces = [(m.group(1), m.group(2)) for m in _CJK_OR_OTHER.finditer(term.text)]
    for index, (cjk, other) in enumerate(pieces):
        last = index == len(pieces) - 1
        if cjk:
            cjk_terms.append(cjk)
            if len(cjk) == 1:
                parts.append(f"search_cjk : {_quote(cjk)}*")
            else:
                # Bigrams only, no trailing character: the phrase must sit inside one run.
                bigrams = [cjk[i : i + 2] for i in range(len(cjk) - 1)]
                parts.append(f"search_cjk : {_quote(' '.join(bigrams))}")
        elif _WORD.search(other):
            if len(pieces) > 1:
                # Latin glued to CJK or a mixed phrase: match its words, not the whole text.
                parts.extend(_quote(w) for w in _WORD.findall(other))
                if term.prefix and last:
                    parts[-1] += "*"
            else:
                parts.append(_quote(other.strip()) + ("*" if term.prefix else ""))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"


def parse_query(query: str) -> ParsedQuery:
    """Parse the user's query language into a safe FTS5 MATCH expression.

    Words are ANDed; "double quotes" make a phrase; OR between two terms matches either;
    NOT before a term or a leading minus (-sports) excludes it; a trailing * makes a prefix
    query (innov*). Only upper-case OR, AND and NOT are operators. Punctuation-only words
    are ignored. Raises SearchQueryError for an empty query, a dangling operator or a query
    that only excludes.
    """
    cjk_terms: list[str] = []
    groups: list[list[str]] = []  # ANDed groups of ORed positive terms
    excluded: list[str] = []
    pending_or = pending_not = False
    last_positive = False
    count = 0
    for m in _QUERY_TOKEN.finditer(query or ""):
        neg, phrase, star, word = m.groups()
        if word in ("OR", "AND", "NOT"):
            if pending_or or pending_not:
                raise SearchQueryError(
                    f"'{word}' cannot follow 'OR' or 'NOT' in {query!r}; put a word between them."
                )
            if word == "OR":
                if not last_positive:
                    raise SearchQueryError(
                        f"'OR' needs a word on each side in {query!r}, e.g. 'Huawei OR ZTE'."
                    )
                pending_or = True
            elif word == "NOT":
                pending_not = True
            continue
        if word is not None:
            term = _Term(word, negated=word.startswith("-"), prefix=word.endswith("*"))
            term.text = word[1 if term.negated else 0 : -1 if term.prefix else None]
        else:
            term = _Term(phrase, negated=bool(neg), prefix=bool(star))
        expression = _term_expression(term, [] if term.negated or pending_not else cjk_terms)
        if expression is None:
            if pending_or or pending_not:
                raise SearchQueryError(
                    f"{'OR' if pending_or else 'NOT'} must be followed by a word in {query!r}."
                )
            continue
        count += 1
        if count > MAX_QUERY_TERMS:
            raise SearchQueryError(
                f"Search query has more than {MAX_QUERY_TERMS} terms; shorten it."
            )
        if term.negated or pending_not:
            if pending_or:
                raise SearchQueryError(
                    f"'OR' cannot be followed by an excluded term in {query!r}; "
                    "exclude it outside the OR."
                )
            excluded.append(expression)
            last_positive = False
        elif pending_or:
            groups[-1].append(expression)
            last_positive = True
        else:
            groups.append([expression])
            last_positive = True
        pending_or = pending_not = False
    if pending_or or pending_not:
        raise SearchQueryError(
            f"Search query {query!r} ends with '{'OR' if pending_or else 'NOT'}'; "
            "add the word it applies to."
        )
    if not groups:
        if excluded:
            raise SearchQueryError(
                f"Search query {query!r} only excludes words; add at least one word to find."
            )
        raise SearchQueryError(
            f"Search query {query!r} has no words to search for; type a word or a phrase."
        )
    positive = " AND ".join(g[0] if len(g) == 1 else "(" + " OR ".join(g) + ")" for g in groups)
    if excluded:
        positive = f"({positive}) NOT ({' OR '.join(excluded)})"
    return ParsedQuery(match=positive, cjk_terms=cjk_terms)


def fts_query(query: str) -> str:
    """The FTS5 MATCH expression for the user's query (see `parse_query`)."""
    return parse_query(query).match


def _mark_cjk(text: str, cjk_terms: list[str]) -> str:
    if not cjk_terms:
        return text
    alternatives = "|".join(re.escape(t) for t in sorted(set(cjk_terms), key=len, reverse=True))
    return re.sub(alternatives, lambda m: f"{_OPEN}{m.group()}{_CLOSE}", text)


def _wide(char: str) -> bool:
    return bool(char) and unicodedata.east_asian_width(char) in ("W", "F")


def make_snippet(marked: str, highlight: tuple[str, str], words: int = SNIPPET_WORDS) -> str:
    """About `words` words of `marked` (text with match markers) around its first match.

    A CJK character counts as a word, as in word counts. Cut ends get an ellipsis; a
    highlight cut in two by the window's end is closed, so markers always pair up.
    """
    units = [u for u in _SNIPPET_UNIT.finditer(marked) if _WORD.search(u.group())]
    if not units:
        return ""
    first = marked.find(_OPEN)
    start = 0
    if first >= 0:
        hit = next((i for i, u in enumerate(units) if u.end() > first), 0)
        start = max(0, hit - _SNIPPET_LEAD)
    end = min(len(units), start + words)
    lo, hi = units[start].start(), units[end - 1].end()
    # Take an opening marker just before the window and punctuation just after it along.
    while lo > 0 and marked[lo - 1] == _OPEN:
        lo -= 1
    trailing = _TRAILING.match(marked, hi)
    hi = trailing.end() if trailing else hi
    text = " ".join(marked[lo:hi].split())
    # The window starts before the first match, so only its end can cut a highlight in two.
    if text.count(_OPEN) > text.count(_CLOSE):
        text += _CLOSE
    # No space between an ellipsis and wide (CJK) text, which has none between words either.
    prefix = ("…" if _wide(text.lstrip(_OPEN)[:1]) else "… ") if start > 0 else ""
    suffix = ("…" if _wide(text.rstrip(_CLOSE)[-1:]) else " …") if end < len(units) else ""
    return prefix + text.replace(_OPEN, highlight[0]).replace(_CLOSE, highlight[1]) + suffix


def search(
    db: Database,
    query: str,
    *,
    source: str | None = None,
    since: str | None = None,
    language: str | None = None,
    limit: int = 20,
    highlight: tuple[str, str] = ("[", "]"),
) -> list[dict[str, Any]]:
    """Articles matching `query`, best first.

    Each result has id, url, source, title, published_at, rank (FTS5 bm25, title weighted;
    lower is better) and snippet: about 30 words of the body around the first match, matched
    words wrapped in `highlight`. `since` is an ISO date or datetime compared with
    published_at (first_seen_at when the page gave no date).
    """
    parsed = parse_query(query)
    _check_bounds(since, limit)
    params = {
        "match": parsed.match,
        "source": source,
        "language": language,
        "since": since,
        "limit": limit,
    }
    rows = _run(
        db,
        query,
        parsed,
        f"""
        SELECT a.rowid, a.id, a.url, a.source, a.title, a.published_at, {_BM25} AS rank
        FROM articles_fts JOIN articles AS a ON a.rowid = articles_fts.rowid
        WHERE articles_fts MATCH :match
          AND (:source IS NULL OR a.source = :source)
          AND (:language IS NULL OR a.language = :language)
          AND (:since IS NULL OR coalesce(a.published_at, a.first_seen_at) >= :since)
        ORDER BY rank
        LIMIT :limit
        """,
        params,
    )
    results = []
    for rowid, article_id, url, src, title, published_at, rank in rows:
        results.append(
            {
                "id": article_id,
                "url": url,
                "source": src,
                "title": title,
                "published_at": published_at,
                "rank": rank,
                "snippet": _snippet(db, "articles_fts", 1, parsed, rowid, highlight),
            }
        )
    return results


def search_turns(
    db: Database,
    query: str,
    *,
    speaker: str | None = None,
    role: str | None = None,
    source: str | None = None,
    since: str | None = None,
    language: str | None = None,
    limit: int = 20,
    highlight: tuple[str, str] = ("[", "]"),
) -> list[dict[str, Any]]:
    """Briefing turns (questions, answers, statements) matching `query`, best first.

    `speaker` matches a part of the speaker's name, case-insensitively ("Geng" finds
    "Geng Shuang"); `role` is question, answer or statement. Each result carries the turn
    (idx, role, speaker, outlet), its briefing (id, url, source, title, published_at) and a
    snippet of the turn's text.
    """
    parsed = parse_query(query)
    _check_bounds(since, limit)
    params = {
        "match": parsed.match,
        "speaker": speaker,
        "role": role,
        "source": source,
        "language": language,
        "since": since,
        "limit": limit,
    }
    rows = _run(
        db,
        query,
        parsed,
        """
        SELECT t.rowid, t.idx, t.role, t.speaker, t.outlet, a.id, a.url, a.source, a.title,
               a.published_at, bm25(briefing_turns_fts, 1.0, 2.0, 1.0) AS rank
        FROM briefing_turns_fts
        JOIN briefing_turns AS t ON t.rowid = briefing_turns_fts.rowid
        JOIN articles AS a ON a.id = t.article_id
        WHERE briefing_turns_fts MATCH :match
          AND (:speaker IS NULL OR t.speaker LIKE '%' || :speaker || '%')
          AND (:role IS NULL OR t.role = :role)
          AND (:source IS NULL OR a.source = :source)
          AND (:language IS NULL OR a.language = :language)
          AND (:since IS NULL OR coalesce(a.published_at, a.first_seen_at) >= :since)
        ORDER BY rank
        LIMIT :limit
        """,
        params,
    )
    return [
        {
            "id": article_id,
            "url": url,
            "source": src,
            "title": title,
            "published_at": published_at,
            "idx": idx,
            "role": turn_role,
            "speaker": turn_speaker,
            "outlet": outlet,
            "rank": rank,
            "snippet": _snippet(db, "briefing_turns_fts", 0, parsed, rowid, highlight),
        }
        for (
            rowid,
            idx,
            turn_role,
            turn_speaker,
            outlet,
            article_id,
            url,
            src,
            title,
            published_at,
            rank,
        ) in rows
    ]


def _check_bounds(since: str | None, limit: int) -> None:
    if since is not None and not _ISO_DATE.match(since):
        raise ValueError(f"since={since!r} is not an ISO date; use e.g. '2024-05-01'.")
    if not 1 <= limit <= 1000:
        raise ValueError(f"limit={limit} is out of range; use 1 to 1000.")


def _run(
    db: Database, query: str, parsed: ParsedQuery, sql: str, params: dict[str, Any]
) -> list[tuple[Any, ...]]:
    try:
        return db.execute(sql, params).fetchall()
    except sqlite3.OperationalError as exc:
        if "fts5" not in str(exc):
            raise
        # parse_query quotes every user word, so this is a bug in it, not in the user's query.
        logger.error("FTS5 rejected %r built from %r: %s", parsed.match, query, exc)
        raise SearchQueryError(f"Search query {query!r} could not be run: {exc}") from exc


def _snippet(
    db: Database,
    fts_table: str,
    column: int,
    parsed: ParsedQuery,
    rowid: int,
    highlight: tuple[str, str],
) -> str:
    # highlight() only for the rows shown: on a broad query it would otherwise run over
    # every matching text before the LIMIT applies. fts_table is one of ours, never input.
    (marked,) = db.execute(
        f"SELECT highlight({fts_table}, {column}, :open, :close) FROM {fts_table} "
        f"WHERE {fts_table} MATCH :match AND rowid = :rowid",
        {"open": _OPEN, "close": _CLOSE, "match": parsed.match, "rowid": rowid},
    ).fetchone()
    return make_snippet(_mark_cjk(marked or "", parsed.cjk_terms), highlight)


# Candidates for an exact matcher (alerts.query.search_archive): the FTS index narrows, the
# caller decides. Rows come best first; the whole ranked list of rowids is read once (ints
# only) and the records are fetched a batch at a time, so a caller that stops early after
# `limit` exact matches reads little.
_CANDIDATE_BATCH = 100
_ARTICLE_COLUMNS = (
    "a.rowid, a.id, a.url, a.source, a.kind, a.language, a.title, a.body, a.turns, a.published_at"
)


def _batched_rows(
    db: Database, ranked: list[tuple[int, float | None]], select: str
) -> Iterator[dict[str, Any]]:
    for start in range(0, len(ranked), _CANDIDATE_BATCH):
        chunk = ranked[start : start + _CANDIDATE_BATCH]
        placeholders = ", ".join("?" for _ in chunk)
        cursor = db.execute(select.format(rowids=placeholders), [rowid for rowid, _ in chunk])
        columns = [d[0] for d in cursor.description]
        by_rowid = {row[0]: dict(zip(columns, row, strict=True)) for row in cursor.fetchall()}
        for rowid, rank in chunk:
            row = by_rowid.get(rowid)
            if row is not None:  # deleted between the two reads
                row["rank"] = rank
                yield row


def _ranked(db: Database, match: str | None, sql: str, params: dict[str, Any]) -> list[Any]:
    try:
        return db.execute(sql, params).fetchall()
    except sqlite3.OperationalError as exc:
        if "fts5" not in str(exc):
            raise
        # The caller builds `match` from quoted strings only: this is a bug there.
        logger.error("FTS5 rejected %r: %s", match, exc)
        raise SearchQueryError(f"Search could not be run ({exc}); please report it.") from exc


def iter_article_candidates(
    db: Database,
    match: str | None,
    *,
    source: str | None = None,
    since: str | None = None,
    language: str | None = None,
) -> Iterator[dict[str, Any]]:
    """Articles matching the FTS5 expression `match`, best first (every article, newest
    first, when `match` is None), with the filters of `search`.

    Each row has rowid, id, url, source, kind, language, title, body, turns (JSON text),
    published_at and rank (bm25, title weighted; None without `match`). `match` must be
    built from quoted strings (alerts.query.to_fts5 does), never from raw user input.
    """
    _check_bounds(since, 1)
    params = {"match": match, "source": source, "language": language, "since": since}
    filters = """
          AND (:source IS NULL OR a.source = :source)
          AND (:language IS NULL OR a.language = :language)
          AND (:since IS NULL OR coalesce(a.published_at, a.first_seen_at) >= :since)
    """
    if match is None:
        sql = f"""
            SELECT a.rowid, NULL FROM articles AS a WHERE 1 {filters}
            ORDER BY coalesce(a.published_at, a.first_seen_at) DESC, a.rowid DESC
        """
    else:
        sql = f"""
            SELECT a.rowid, {_BM25} AS rank
            FROM articles_fts JOIN articles AS a ON a.rowid = articles_fts.rowid
            WHERE articles_fts MATCH :match {filters}
            ORDER BY rank
        """
    ranked = _ranked(db, match, sql, params)
    select = f"SELECT {_ARTICLE_COLUMNS} FROM articles AS a WHERE a.rowid IN ({{rowids}})"
    yield from _batched_rows(db, ranked, select)


def iter_turn_candidates(
    db: Database,
    match: str | None,
    *,
    speaker: str | None = None,
    role: str | None = None,
    source: str | None = None,
    since: str | None = None,
    language: str | None = None,
) -> Iterator[dict[str, Any]]:
    """Briefing turns matching the FTS5 expression `match` (over briefing_turns_fts: text,
    speaker, search_cjk), best first, with the filters of `search_turns`; every turn,
    newest briefing first, when `match` is None.

    Each row has the turn (idx, role, speaker, outlet, text), its briefing (id, url,
    source, kind, language, title, published_at) and rank.
    """
    _check_bounds(since, 1)
    params = {
        "match": match,
        "speaker": speaker,
        "role": role,
        "source": source,
        "language": language,
        "since": since,
    }
    filters = """
          AND (:speaker IS NULL OR t.speaker LIKE '%' || :speaker || '%')
          AND (:role IS NULL OR t.role = :role)
          AND (:source IS NULL OR a.source = :source)
          AND (:language IS NULL OR a.language = :language)
          AND (:since IS NULL OR coalesce(a.published_at, a.first_seen_at) >= :since)
    """
    if match is None:
        sql = f"""
            SELECT t.rowid, NULL FROM briefing_turns AS t JOIN articles AS a ON a.id = t.article_id
            WHERE 1 {filters}
            ORDER BY coalesce(a.published_at, a.first_seen_at) DESC, t.article_id, t.idx
        """
    else:
        sql = f"""
            SELECT t.rowid, bm25(briefing_turns_fts, 1.0, 2.0, 1.0) AS rank
            FROM briefing_turns_fts
            JOIN briefing_turns AS t ON t.rowid = briefing_turns_fts.rowid
            JOIN articles AS a ON a.id = t.article_id
            WHERE briefing_turns_fts MATCH :match {filters}
            ORDER BY rank
        """
    ranked = _ranked(db, match, sql, params)
    select = (
        "SELECT t.rowid, t.idx, t.role, t.speaker, t.outlet, t.text, a.id, a.url, a.source, "
        "a.kind, a.language, a.title, a.published_at "
        "FROM briefing_turns AS t JOIN articles AS a ON a.id = t.article_id "
        "WHERE t.rowid IN ({rowids})"
    )
    yield from _batched_rows(db, ranked, select)
