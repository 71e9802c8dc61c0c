"""The rule language: parse a query, match it against a document, many rules at once.

One parser serves alert rules and `presswatch search` (docs/query-language.md has the
syntax and worked examples). This module owns:

- `parse(text, aliases) -> Query`, raising `QueryError` with the 0-based position of the
  problem, what was expected there, and a caret under the query in its message.
- `Query.match(doc) -> Match | None`: exact matching of a `Document` (title, body and
  briefing turns only; never captions or sidebars), through the folding, tokens and stems
  of `alerts.textnorm`. A `Match` says which fields matched, quotes the sentences that
  matched with the terms marked, and names the turn when the match came from one.
- `Query.explain()`: the parsed tree, aliases expanded, for `presswatch alerts test`.
- `RuleSet`: many queries compiled together. One Aho-Corasick automaton (pyahocorasick)
  over the literal strings that each query needs (`Query.required_literals()`) finds, in
  one pass over a document's folded text, which rules can possibly match; only those are
  evaluated. The literals are necessary conditions, never guesses, so the prefilter never
  loses a match (tests/test_alerts_query.py checks it on generated documents).
- `to_fts5(query)`: an FTS5 MATCH expression that finds (a superset of) the candidates in
  the `articles_fts` index, and `search_archive()`, which runs it and keeps what
  `Query.match` accepts: how `presswatch search` uses this language.

Semantics worth knowing when reading the code: AND binds tighter than OR and NOT tighter
than AND (as in SQL and FTS5); a bare term matches in the title, the body or any turn's
text; `speaker:` selects briefing turns, and the other terms ANDed with it in the same
group must match in the same turn ("an answer by Geng Shuang that mentions Russia").
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import ahocorasick
import snowballstemmer

from alerts import textnorm
from alerts.textnorm import Folded, Tokens

TEXT_FIELDS = ("title", "body", "speaker")
META_FIELDS = ("source", "lang", "kind")
FIELDS = TEXT_FIELDS + META_FIELDS
DEFAULT_NEAR = 10
MAX_NEAR = 1000
MAX_TERMS = 2000  # after alias expansion: a runaway alias set is an error, not a slow rule
MIN_PREFIX = 2
DEFAULT_MARKS = ("«", "»")


class QueryError(ValueError):
    """A query cannot be parsed; says where (0-based `position`) and what was `expected`."""

    def __init__(self, message: str, text: str, position: int, expected: str | None = None):
        super().__init__(message)
        self.message = message
        self.text = text
        self.position = position
        self.expected = expected

    def __str__(self) -> str:
        # The caret line: the query on one line (newlines shown as spaces), two spaces in.
        line = self.text.replace("\n", " ").replace("\t", " ")
        return f"{self.message}:\n  {line}\n  {' ' * self.position}^"


# ---- the tree -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Piece:
    """One word position of a term: a stemmed word, a prefix, or one CJK character."""

    kind: Literal["word", "prefix", "char"]
    value: str  # the stem, the prefix or the character (folded)
    literal: str  # a substring of the folded text of any word this piece accepts

    def accepts(self, word: str) -> bool:
        if self.kind == "word":
            return textnorm.word_matches(self.value, word)
        if self.kind == "prefix":
            return word.startswith(self.value)
        return word == self.value


# (cjk, pieces) -> a small int: hashing an int per lookup, not a tuple of dataclasses.
_TERM_KEYS: dict[tuple[str, tuple[Piece, ...]], int] = {}


@dataclass(frozen=True)
class Term:
    """A word, hyphenated word, "phrase", prefix* or CJK string, as one match unit.

    A CJK-only term (`cjk`) is matched as a substring of the folded text; anything else as
    consecutive tokens (`pieces`). In source:/lang:/kind: scopes only `value` is used.
    """

    text: str  # as written, without quotes or star
    pos: int
    quoted: bool = False
    prefix: bool = False
    pieces: tuple[Piece, ...] = ()
    cjk: str = ""
    value: str = ""  # folded text (metadata comparisons)
    # The memo key of what the term matches: equal terms of different rules share it.
    key: int = field(default=-1, compare=False)

    def __post_init__(self) -> None:
        key = _TERM_KEYS.setdefault((self.cjk, self.pieces), len(_TERM_KEYS))
        object.__setattr__(self, "key", key)

    def __str__(self) -> str:
        body = f'"{self.text}"' if self.quoted else self.text
        return body + ("*" if self.prefix else "")


@dataclass(frozen=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    child: Node


@dataclass(frozen=True)
class Near:
    left: Node
    right: Node
    distance: int


@dataclass(frozen=True)
class Field:
    name: str  # one of FIELDS
    child: Node


@dataclass(frozen=True)
class Alias:
    """@name: the OR of the alias's entries; kept as a node so that explain() can name it."""

    name: str
    child: Node


Node = Term | And | Or | Not | Near | Field | Alias


# ---- tokens of the query language -----------------------------------------------------------

_FIELD_NAME = re.compile(r"[A-Za-z]+")
_ALIAS_NAME = re.compile(r"[\w-]+")
_NEAR = re.compile(r"NEAR(?:/(\S*))?")
_BARE_END = re.compile(r'[\s()"]')


@dataclass(frozen=True)
class _Tok:
    kind: str  # ( ) AND OR NOT NEAR - FIELD ALIAS PHRASE WORD EOF
    pos: int
    text: str = ""
    value: int = 0  # NEAR distance
    star: bool = False
    end: int = 0


def _lex(text: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c in "()":
            tokens.append(_Tok(c, i, c, end=i + 1))
            i += 1
        elif c == '"':
            close = text.find('"', i + 1)
            if close < 0:
                raise QueryError(
                    "Unclosed quote: add the closing '\"' of the phrase that starts here",
                    text,
                    i,
                    "a closing '\"'",
                )
            star = close + 1 < n and text[close + 1] == "*"
            end = close + 1 + star
            tokens.append(_Tok("PHRASE", i, text[i + 1 : close], star=star, end=end))
            i = end
        elif c == "-" and (
            not tokens or tokens[-1].end < i or tokens[-1].kind in ("(", "-", "FIELD")
        ):
            if i + 1 >= n or text[i + 1].isspace() or text[i + 1] == ")":
                raise QueryError(
                    "Expected a term right after '-' (write -word, with no space, to exclude "
                    "a word)",
                    text,
                    i + 1,
                    "a term",
                )
            tokens.append(_Tok("-", i, "-", end=i + 1))
            i += 1
        elif c == "@":
            m = _ALIAS_NAME.match(text, i + 1)
            if not m:
                raise QueryError(
                    "Expected an alias name after '@' (e.g. @china_russia)", text, i + 1, "a name"
                )
            tokens.append(_Tok("ALIAS", i, m.group(), end=m.end()))
            i = m.end()
        else:
            m = _BARE_END.search(text, i)
            end = m.start() if m else n
            raw = text[i:end]
            if raw in ("AND", "OR", "NOT"):
                tokens.append(_Tok(raw, i, raw, end=end))
            elif near := _NEAR.fullmatch(raw):
                tokens.append(_Tok("NEAR", i, raw, value=_near_distance(near, text, i), end=end))
            elif (colon := raw.find(":")) > 0 and _FIELD_NAME.fullmatch(raw[:colon]):
                name = raw[:colon].lower()
                if name not in FIELDS:
                    raise QueryError(
                        f"Unknown field '{raw[:colon]}:'; fields are "
                        + ", ".join(f"{f}:" for f in FIELDS),
                        text,
                        i,
                        "a field name",
                    )
                tokens.append(_Tok("FIELD", i, name, end=i + colon + 1))
                end = i + colon + 1
            else:
                tokens.append(_word_token(raw, text, i, end))
            i = end
    tokens.append(_Tok("EOF", n, end=n))
    return tokens


def _near_distance(near: re.Match[str], text: str, pos: int) -> int:
    if near.group(1) is None:
        return DEFAULT_NEAR
    if not near.group(1).isdigit() or not 0 <= int(near.group(1)) <= MAX_NEAR:
        raise QueryError(
            f"NEAR/n needs a number of words from 0 to {MAX_NEAR}, e.g. NEAR/10",
            text,
            pos + 5,
            "a number",
        )
    return int(near.group(1))


def _word_token(raw: str, text: str, pos: int, end: int) -> _Tok:
    star = raw.endswith("*")
    word = raw[:-1] if star else raw
    inner = word.find("*")
    if inner >= 0:
        raise QueryError(
            "'*' can only end a word (a prefix search such as technolog*)",
            text,
            pos + inner,
            "'*' at the end of a word",
        )
    return _Tok("WORD", pos, word, star=star, end=end)


# ---- the parser -----------------------------------------------------------------------------

_STARTS_OPERAND = {"(", "NOT", "-", "FIELD", "ALIAS", "PHRASE", "WORD"}


class _Parser:
    def __init__(
        self,
        text: str,
        aliases: Mapping[str, Sequence[str]],
        stack: tuple[str, ...] = (),
        field: str | None = None,
    ):
        self.text = text
        self.aliases = aliases
        self.stack = stack  # aliases being expanded, to refuse a cycle
        self.outer_field = field  # the field scope an alias entry is parsed in
        self.tokens = _lex(text)
        self.i = 0
        self.terms = 0

    # -- helpers

    @property
    def tok(self) -> _Tok:
        return self.tokens[self.i]

    def advance(self) -> _Tok:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def error(
        self, message: str, pos: int | None = None, expected: str | None = None
    ) -> QueryError:
        return QueryError(message, self.text, self.tok.pos if pos is None else pos, expected)

    def expect_operand(self, after: str) -> None:
        if self.tok.kind not in _STARTS_OPERAND:
            found = "the query ends" if self.tok.kind == "EOF" else f"found '{self.tok.text}'"
            raise self.error(
                f"Expected a term or '(' after '{after}', but {found}", expected="a term or '('"
            )

    # -- grammar: or := and (OR and)* ; and := unary ((AND)? unary)* ;
    #    unary := (NOT | -) unary | near ; near := scoped (NEAR/n scoped)* ;
    #    scoped := FIELD: primary | primary ; primary := ( or ) | "phrase" | word | @alias

    def parse(self) -> Node:
        if self.tok.kind == "EOF":
            raise self.error('The query is empty: write a word, a "phrase" or @alias', 0, "a term")
        node = self.parse_or(None)
        if self.tok.kind == ")":
            raise self.error("Unexpected ')': there is no '(' to close", expected="an operator")
        if self.tok.kind != "EOF":  # pragma: no cover - every other token starts an operand
            raise self.error(f"Unexpected '{self.tok.text}'")
        return node

    def parse_or(self, scope: str | None) -> Node:
        children = [self.parse_and(scope)]
        while self.tok.kind == "OR":
            self.advance()
            self.expect_operand("OR")
            children.append(self.parse_and(scope))
        return children[0] if len(children) == 1 else Or(tuple(children))

    def parse_and(self, scope: str | None) -> Node:
        children = [self.parse_unary(scope)]
        while True:
            if self.tok.kind == "AND":
                self.advance()
                self.expect_operand("AND")
            elif self.tok.kind not in _STARTS_OPERAND:
                break
            children.append(self.parse_unary(scope))
        return children[0] if len(children) == 1 else And(tuple(children))

    def parse_unary(self, scope: str | None) -> Node:
        if self.tok.kind in ("NOT", "-"):
            op = self.advance()
            self.expect_operand(op.text)
            return Not(self.parse_unary(scope))
        if self.tok.kind == "NEAR":
            raise self.error(
                f"'{self.tok.text}' needs a word or phrase on its left", expected="a term"
            )
        return self.parse_near(scope)

    def parse_near(self, scope: str | None) -> Node:
        start = self.tok.pos
        left = self.parse_scoped(scope)
        while self.tok.kind == "NEAR":
            near = self.advance()
            if scope in META_FIELDS:
                raise self.error(f"NEAR cannot be used inside {scope}:", near.pos)
            self.expect_operand(near.text)
            right_pos = self.tok.pos
            right = self.parse_scoped(scope)
            for side, pos in ((left, start), (right, right_pos)):
                if not _positional(side):
                    raise self.error(
                        f"{near.text} works between words, phrases, aliases or an OR of them; "
                        "put NOT and field scopes outside it, e.g. title:(china NEAR/5 russia)",
                        pos,
                        "a word or phrase",
                    )
            left = Near(left, right, near.value)
        return left

    def parse_scoped(self, scope: str | None) -> Node:
        if self.tok.kind != "FIELD":
            return self.parse_primary(scope)
        tok = self.advance()
        if scope is not None:
            raise self.error(
                f"Field scopes cannot be nested: '{tok.text}:' is inside '{scope}:'", tok.pos
            )
        if self.tok.kind not in ("(", "PHRASE", "WORD", "ALIAS", "NOT", "-"):
            raise self.error(
                f"Expected a term, \"phrase\" or '(' right after '{tok.text}:'",
                expected="a term or '('",
            )
        if self.tok.kind in ("NOT", "-"):
            op = self.advance()
            self.expect_operand(op.text)
            return Field(tok.text, Not(self.parse_primary(tok.text)))
        return Field(tok.text, self.parse_primary(tok.text))

    def parse_primary(self, scope: str | None) -> Node:
        tok = self.tok
        if tok.kind == "(":
            self.advance()
            if self.tok.kind == ")":
                raise self.error("Empty parentheses: put a term inside", expected="a term")
            node = self.parse_or(scope)
            if self.tok.kind != ")":
                raise self.error(
                    f"Expected ')' to close the '(' at position {tok.pos}", expected="')'"
                )
            self.advance()
            return node
        if tok.kind in ("PHRASE", "WORD"):
            self.advance()
            return self.term(tok, scope)
        if tok.kind == "ALIAS":
            self.advance()
            return self.alias(tok, scope)
        if tok.kind == ")":
            raise self.error("Unexpected ')': expected a term or '(' here", expected="a term")
        if tok.kind == "EOF":
            raise self.error("Expected a term or '(', but the query ends", expected="a term")
        raise self.error(f"Expected a term or '(' before '{tok.text}'", expected="a term")

    def term(self, tok: _Tok, scope: str | None) -> Term:
        self.terms += 1
        if self.terms > MAX_TERMS:
            raise self.error(f"The query has more than {MAX_TERMS} terms; shorten it", tok.pos)
        quoted = tok.kind == "PHRASE"
        if quoted and "*" in tok.text:
            raise self.error(
                "'*' inside a phrase: put it after the closing quote to make the last word "
                'a prefix ("satellite navig"*)',
                tok.pos + 1 + tok.text.index("*"),
                "'*' after the phrase",
            )
        folded = textnorm.fold(tok.text).strip()
        scope = scope or self.outer_field
        if scope in META_FIELDS:
            if not folded:
                raise self.error(f"Empty value for {scope}:", tok.pos, "a value")
            return Term(tok.text, tok.pos, quoted, tok.star, value=folded)
        words = textnorm.TOKEN_RE.findall(folded)
        if not words:
            raise self.error(
                f"'{tok.text}' has no letters or digits to match", tok.pos, "a word or phrase"
            )
        if textnorm.all_cjk(folded):
            # Chinese is matched as a substring: 中俄* is just 中俄.
            return Term(tok.text, tok.pos, quoted, False, cjk=folded, value=folded)
        pieces: list[Piece] = []
        for index, word in enumerate(words):
            if textnorm.is_cjk(word):
                pieces.append(Piece("char", word, word))
            elif tok.star and index == len(words) - 1:
                if len(word) < MIN_PREFIX:
                    raise self.error(
                        f"The prefix '{word}*' is too short: give at least {MIN_PREFIX} letters",
                        tok.pos,
                        "a longer prefix",
                    )
                pieces.append(Piece("prefix", word, word))
            else:
                word_stem = textnorm.stem(word)
                pieces.append(Piece("word", word_stem, textnorm.word_literal(word_stem)))
        return Term(tok.text, tok.pos, quoted, tok.star, pieces=tuple(pieces), value=folded)

    def alias(self, tok: _Tok, scope: str | None) -> Node:
        name = tok.text
        if name not in self.aliases:
            known = ", ".join(f"@{a}" for a in sorted(self.aliases)) or "none"
            raise self.error(
                f"Unknown alias '@{name}' (defined: {known}); define it under [aliases] in "
                "presswatch.toml",
                tok.pos,
                "a defined alias",
            )
        if name in self.stack:
            raise self.error(
                f"Alias '@{name}' refers to itself through "
                + " -> ".join(f"@{a}" for a in (*self.stack, name)),
                tok.pos,
            )
        entries = self.aliases[name]
        if isinstance(entries, str) or not entries:
            raise self.error(
                f"Alias '@{name}' must be a non-empty list of entries, e.g. "
                "china_russia = ['\"China-Russia\"', '中俄']",
                tok.pos,
            )
        children: list[Node] = []
        for number, entry in enumerate(entries, 1):
            try:
                sub = _Parser(
                    str(entry), self.aliases, (*self.stack, name), scope or self.outer_field
                )
                children.append(sub.parse())
            except QueryError as exc:
                raise self.error(
                    f"In alias @{name}, entry {number} ({entry!r}): {exc.message} at position "
                    f"{exc.position} of the entry",
                    tok.pos,
                    exc.expected,
                ) from None
            self.terms += sub.terms
        if self.terms > MAX_TERMS:
            raise self.error(f"The query has more than {MAX_TERMS} terms; shorten it", tok.pos)
        return Alias(name, children[0] if len(children) == 1 else Or(tuple(children)))


def _positional(node: Node) -> bool:
    """Whether a node has word positions (so it can be an operand of NEAR)."""
    if isinstance(node, Term | Near):
        return True
    if isinstance(node, Alias):
        return _positional(node.child)
    if isinstance(node, Or):
        return all(_positional(c) for c in node.children)
    return False


def _has_positive(node: Node) -> bool:
    """Whether a node can only match by finding something (not by an absence alone)."""
    if isinstance(node, Not):
        return False
    if isinstance(node, And):
        return any(_has_positive(c) for c in node.children)
    if isinstance(node, Or):
        return all(_has_positive(c) for c in node.children)
    if isinstance(node, Field):
        return node.name in META_FIELDS or _has_positive(node.child)
    if isinstance(node, Alias):
        return _has_positive(node.child)
    return True


def parse(text: str, aliases: Mapping[str, Sequence[str]] | None = None) -> Query:
    """Parse a query; raise QueryError saying where and what was expected.

    `aliases` maps a name to its entries (each entry is itself a query, usually a word,
    "phrase" or prefix*): `@name` in the query is the OR of the entries.
    """
    if not isinstance(text, str):
        raise TypeError(f"query must be a string, not {type(text).__name__}")
    parser = _Parser(text, aliases or {})
    root = parser.parse()
    if not _has_positive(root):
        raise QueryError(
            "The query only excludes; add a term to look for (e.g. 'russia NOT sport')",
            text,
            0,
            "a term to find",
        )
    return Query(text, root)


# ---- documents ------------------------------------------------------------------------------


@dataclass
class Document:
    """What a query reads: title, body and briefing turns, plus metadata for field scopes.

    Each turn is a dict with idx, role, speaker and text (the `Article.turns` shape).
    Captions, sidebars and navigation are not part of it, on purpose.
    """

    title: str = ""
    body: str = ""
    turns: list[dict[str, Any]] = field(default_factory=list)
    source: str = ""
    language: str | None = None
    kind: str = "article"

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Document:
        """A Document from an article record or database row (turns may be JSON text)."""
        turns = record.get("turns") or []
        if isinstance(turns, str):
            turns = json.loads(turns or "[]")
        return cls(
            title=record.get("title") or "",
            body=record.get("body") or "",
            turns=list(turns),
            source=record.get("source") or "",
            language=record.get("language"),
            kind=record.get("kind") or "article",
        )


class _Unit:
    """One searchable text of a document: the title, the body, a turn's text or speaker."""

    __slots__ = ("_sentences", "_tokens", "field", "text", "turn")

    def __init__(self, field: str, text: str, turn: int | None = None):
        self.field = field
        self.turn = turn  # index into PreparedDocument.turns
        self.text = Folded.of(text)
        self._tokens: Tokens | None = None
        self._sentences: list[tuple[int, int]] | None = None

    @property
    def sentences(self) -> list[tuple[int, int]]:
        """Sentence spans of the original text, computed once for all matching rules."""
        if self._sentences is None:
            self._sentences = textnorm.sentence_spans(self.text.original)
        return self._sentences

    @property
    def tokens(self) -> Tokens:
        if self._tokens is None:
            self._tokens = Tokens.of(self.text.folded)
        return self._tokens


# A mark is (start, end, in_tokens): a token span for words (their offsets are computed only
# when a match is quoted), a folded character span for Chinese substrings.
_Mark = tuple[int, int, bool]


class _Hit:
    """Where a term (or a NEAR pair) matched: a unit, a token span, and the marks."""

    __slots__ = ("marks", "tend", "tstart", "unit")

    def __init__(self, unit: int, tstart: int, tend: int, marks: tuple[_Mark, ...]):
        self.unit = unit
        self.tstart = tstart  # -1 until needed (substring hits)
        self.tend = tend
        self.marks = marks


class PreparedDocument:
    """A document folded and split into units once, shared by every query that reads it.

    Tokens are built lazily per unit, and term lookups are memoised, so a thousand rules
    that share @china_russia look it up once per document.
    """

    def __init__(self, doc: Document):
        self.doc = doc
        units = [_Unit("title", doc.title), _Unit("body", doc.body)]
        self.turn_idx: list[int] = []
        self.turn_units: list[tuple[int, int]] = []  # (text unit, speaker unit) per turn
        for n, turn in enumerate(doc.turns):
            units.append(_Unit("turn", str(turn.get("text") or ""), n))
            units.append(_Unit("speaker", str(turn.get("speaker") or ""), n))
            self.turn_units.append((len(units) - 2, len(units) - 1))
            self.turn_idx.append(int(turn.get("idx", n)))
        self.units = units
        self.default_units = (0, 1, *(text for text, _ in self.turn_units))
        self.meta = {
            "source": textnorm.fold(doc.source or ""),
            "lang": textnorm.fold(doc.language or ""),
            "kind": textnorm.fold(doc.kind or ""),
        }
        self._memo: dict[tuple[int, int], list[_Hit]] = {}
        self._prefilter_text: str | None = None

    @property
    def prefilter_text(self) -> str:
        """Every unit's folded text, joined: what the Aho-Corasick automaton scans."""
        if self._prefilter_text is None:
            self._prefilter_text = "\x00".join(u.text.folded for u in self.units)
        return self._prefilter_text

    def term_hits(self, unit_id: int, term: Term) -> list[_Hit]:
        key = (unit_id, term.key)
        hits = self._memo.get(key)
        if hits is None:
            hits = self._memo[key] = _find(self.units[unit_id], unit_id, term)
        return hits


def prepare(doc: Document | PreparedDocument) -> PreparedDocument:
    """Fold and index a document once for many queries (RuleSet does this for you)."""
    return doc if isinstance(doc, PreparedDocument) else PreparedDocument(doc)


def _piece_positions(tokens: Tokens, piece: Piece) -> list[int]:
    if piece.kind == "char":
        return tokens.positions.get(piece.value, [])
    positions: list[int] = []
    for word in tokens.words_with_prefix(piece.literal):
        if piece.accepts(word):
            positions.extend(tokens.positions[word])
    if len(positions) > 1:
        positions.sort()
    return positions


def _find(unit: _Unit, unit_id: int, term: Term) -> list[_Hit]:
    folded = unit.text.folded
    if term.cjk:
        hits = []
        start = folded.find(term.cjk)
        while start >= 0:
            end = start + len(term.cjk)
            hits.append(_Hit(unit_id, -1, -1, ((start, end, False),)))
            start = folded.find(term.cjk, start + 1)
        return hits
    if not folded:
        return []
    tokens = unit.tokens
    first, rest = term.pieces[0], term.pieces[1:]
    hits = []
    words = tokens.words
    for p in _piece_positions(tokens, first):
        end = p + 1 + len(rest)
        if end > len(words):
            break
        if all(piece.accepts(words[p + 1 + k]) for k, piece in enumerate(rest)):
            hits.append(_Hit(unit_id, p, end, ((p, end, True),)))
    return hits


# ---- evaluation -----------------------------------------------------------------------------

_Hits = list[_Hit] | None  # None: false; a list (maybe empty): true, with what matched


def _eval(node: Node, pd: PreparedDocument, units: tuple[int, ...], turn: int | None) -> _Hits:
    if isinstance(node, Term):
        hits: list[_Hit] = []
        for unit_id in units:
            hits.extend(pd.term_hits(unit_id, node))
        return hits or None
    if isinstance(node, And):
        if turn is None and any(_binds_turn(c) for c in node.children):
            return _eval_per_turn(node, pd)
        hits = []
        for child in node.children:
            found = _eval(child, pd, units, turn)
            if found is None:
                return None
            hits.extend(found)
        return hits
    if isinstance(node, Or):
        hits = []
        matched = False
        for child in node.children:
            found = _eval(child, pd, units, turn)
            if found is not None:
                matched = True
                hits.extend(found)
        return hits if matched else None
    if isinstance(node, Not):
        return [] if _eval(node.child, pd, units, turn) is None else None
    if isinstance(node, Alias):
        return _eval(node.child, pd, units, turn)
    if isinstance(node, Near):
        return _eval_near(node, pd, units, turn)
    return _eval_field(node, pd, turn)


def _binds_turn(node: Node) -> bool:
    return isinstance(node, Field) and node.name == "speaker"


def _eval_per_turn(node: And, pd: PreparedDocument) -> _Hits:
    """An AND with a speaker: scope: every conjunct must hold in one and the same turn."""
    # Speaker conjuncts first: they are short texts and usually rule most turns out.
    children = sorted(node.children, key=lambda c: not _binds_turn(c))
    hits: list[_Hit] = []
    matched = False
    for n, (text_unit, _) in enumerate(pd.turn_units):
        turn_hits: list[_Hit] = []
        for child in children:
            found = _eval(child, pd, (text_unit,), n)
            if found is None:
                break
            turn_hits.extend(found)
        else:
            matched = True
            hits.extend(turn_hits)
    return hits if matched else None


def _token_span(pd: PreparedDocument, hit: _Hit) -> tuple[int, int]:
    if hit.tstart < 0:  # a Chinese substring: one character span
        tokens = pd.units[hit.unit].tokens
        start, end, _ = hit.marks[0]
        hit.tstart = tokens.token_at(start)
        hit.tend = tokens.token_at(end - 1) + 1
    return hit.tstart, hit.tend


def _eval_near(node: Near, pd: PreparedDocument, units: tuple[int, ...], turn: int | None) -> _Hits:
    left = _eval(node.left, pd, units, turn)
    if not left:
        return None
    right = _eval(node.right, pd, units, turn)
    if not right:
        return None
    hits = []
    for a in left:
        a0, a1 = _token_span(pd, a)
        for b in right:
            if a.unit != b.unit:
                continue
            b0, b1 = _token_span(pd, b)
            # Words strictly between the two spans, as FTS5 counts NEAR; overlap is 0.
            if max(b0 - a1, a0 - b1, 0) <= node.distance:
                hits.append(_Hit(a.unit, min(a0, b0), max(a1, b1), a.marks + b.marks))
    return hits or None


def _eval_field(node: Field, pd: PreparedDocument, turn: int | None) -> _Hits:
    if node.name == "title":
        return _eval(node.child, pd, (0,), turn)
    if node.name == "body":
        return _eval(node.child, pd, (1,), turn)
    if node.name == "speaker":
        if turn is not None:
            return _eval(node.child, pd, (pd.turn_units[turn][1],), turn)
        hits: list[_Hit] = []
        matched = False
        for n, (_, speaker_unit) in enumerate(pd.turn_units):
            found = _eval(node.child, pd, (speaker_unit,), n)
            if found is not None:
                matched = True
                hits.extend(found)
        return hits if matched else None
    return [] if _meta_matches(node.child, node.name, pd.meta[node.name]) else None


def _meta_matches(node: Node, name: str, value: str) -> bool:
    if isinstance(node, Term):
        if node.prefix:
            return value.startswith(node.value)
        if value == node.value:
            return True
        # lang:zh is zh-CN too; source:tass is tass_en and tass_ru (the registry's keys).
        separator = {"lang": "-", "source": "_"}.get(name)
        return separator is not None and value.startswith(node.value + separator)
    if isinstance(node, And):
        return all(_meta_matches(c, name, value) for c in node.children)
    if isinstance(node, Or):
        return any(_meta_matches(c, name, value) for c in node.children)
    if isinstance(node, Not):
        return not _meta_matches(node.child, name, value)
    if isinstance(node, Alias):
        return _meta_matches(node.child, name, value)
    return False  # pragma: no cover - the parser allows nothing else in metadata scopes


# ---- matches --------------------------------------------------------------------------------


@dataclass(frozen=True)
class MatchedSentence:
    """A sentence of the title, body or a turn that holds matched terms."""

    field: str  # title | body | turn
    turn_idx: int | None
    text: str
    spans: tuple[tuple[int, int], ...]  # the matched terms, as offsets into `text`

    def marked(self, marks: tuple[str, str] = DEFAULT_MARKS) -> str:
        """The sentence with each matched term wrapped in `marks`."""
        out, last = [], 0
        for start, end in self.spans:
            out += [self.text[last:start], marks[0], self.text[start:end], marks[1]]
            last = end
        out.append(self.text[last:])
        return "".join(out)


@dataclass(frozen=True)
class Match:
    """Why a document matched: fields, the matched sentences, the turn, the matched words."""

    fields: tuple[str, ...]  # among title, body, turns, speaker
    sentences: tuple[MatchedSentence, ...]  # best first: most distinct terms, turns first
    # The matched words as the text writes them, distinct, each with the fields it was in.
    terms: tuple[tuple[str, tuple[str, ...]], ...] = ()
    turn_idxs: tuple[int, ...] = ()
    fallback: str = ""  # a lead sentence, for matches with nothing to mark (source:tass)

    @property
    def turn_idx(self) -> int | None:
        """The turn (its idx) the best sentence came from, else the first matching turn."""
        for sentence in self.sentences:
            if sentence.turn_idx is not None:
                return sentence.turn_idx
        return self.turn_idxs[0] if self.turn_idxs else None

    @property
    def snippet(self) -> str:
        """The best matched sentence, terms between « and » (`render` for other choices)."""
        return self.render()

    @property
    def why(self) -> str:
        """Which words matched where, e.g. 'China-Russia (title, body); 科技 (body)'."""
        if not self.terms:
            return "matched on metadata only (source:, lang: or kind:)"
        return "; ".join(f"{text} ({', '.join(fields)})" for text, fields in self.terms)

    def render(
        self, marks: tuple[str, str] = DEFAULT_MARKS, max_sentences: int = 1, max_words: int = 60
    ) -> str:
        """The best matched sentence(s), terms wrapped in `marks`, each cut to about
        `max_words` words around its first match."""
        if not self.sentences:
            return _window(self.fallback, (), marks, max_words)
        parts = [_window(s.text, s.spans, marks, max_words) for s in self.sentences[:max_sentences]]
        return " … ".join(parts)


_UNIT_RE = re.compile(f"[{textnorm.CJK_CHARS}]|\\S+")


def _window(
    text: str, spans: tuple[tuple[int, int], ...], marks: tuple[str, str], max_words: int
) -> str:
    """`text` with spans marked, cut to `max_words` words (a CJK character is one word)
    starting a little before the first mark; cut ends get an ellipsis."""
    units = list(_UNIT_RE.finditer(text))
    lo, hi = 0, len(text)
    if len(units) > max_words:
        first = spans[0][0] if spans else 0
        hit = next((i for i, u in enumerate(units) if u.end() > first), 0)
        start = max(0, min(hit - max_words // 4, len(units) - max_words))
        end = start + max_words
        lo = units[start].start()
        hi = units[end - 1].end()
        # Never cut a marked term in two.
        for s, e in spans:
            if s < lo < e:
                lo = s
            if s < hi < e:
                hi = e
    sentence = MatchedSentence("", None, text[lo:hi], _clip(spans, lo, hi))
    out = " ".join(sentence.marked(marks).split())
    wide = textnorm.all_cjk
    if lo > 0:
        out = ("…" if wide(text[lo]) else "… ") + out
    if hi < len(text):
        out += "…" if wide(text[hi - 1]) else " …"
    return out


def _clip(spans: Iterable[tuple[int, int]], lo: int, hi: int) -> tuple[tuple[int, int], ...]:
    return tuple((s - lo, e - lo) for s, e in spans if s >= lo and e <= hi)


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


_FIELD_RANK = {"turn": 0, "body": 1, "title": 2}


def _build_match(pd: PreparedDocument, hits: list[_Hit]) -> Match:
    by_unit: dict[int, list[_Mark]] = {}
    for hit in hits:
        by_unit.setdefault(hit.unit, []).extend(hit.marks)
    fields: set[str] = set()
    turns: set[int] = set()
    candidates: list[tuple[tuple[int, int, int, int], MatchedSentence]] = []
    terms: dict[str, dict[str, None]] = {}
    for unit_id in sorted(by_unit):
        unit = pd.units[unit_id]
        fields.add("turns" if unit.field == "turn" else unit.field)
        if unit.turn is not None:
            turns.add(unit.turn)
        original = unit.text.original
        folded_spans = [
            (unit.tokens.starts[s], unit.tokens.ends[e - 1]) if in_tokens else (s, e)
            for s, e, in_tokens in by_unit[unit_id]
        ]
        spans = _merge([unit.text.original_span(s, e) for s, e in folded_spans])
        label = "turns" if unit.field == "turn" else unit.field
        for s, e in spans:
            terms.setdefault(original[s:e], {})[label] = None
        if unit.field == "speaker":
            continue  # the turn's text is the snippet; a name alone says little
        turn_idx = pd.turn_idx[unit.turn] if unit.turn is not None else None
        for s, e in unit.sentences:
            inside = tuple((a - s, b - s) for a, b in spans if a >= s and b <= e)
            if inside:
                distinct = len({original[s + a : s + b].casefold() for a, b in inside})
                rank = (-distinct, _FIELD_RANK[unit.field], unit_id, s)
                candidates.append(
                    (rank, MatchedSentence(unit.field, turn_idx, original[s:e], inside))
                )
    candidates.sort(key=lambda c: c[0])
    sentences: list[MatchedSentence] = []
    seen: set[str] = set()
    for _, sentence in candidates:
        # A transcript's body repeats its turns: quote each sentence once, from the turn.
        if sentence.text not in seen:
            seen.add(sentence.text)
            sentences.append(sentence)
    return Match(
        fields=tuple(f for f in ("title", "body", "turns", "speaker") if f in fields),
        sentences=tuple(sentences),
        terms=tuple((text, tuple(where)) for text, where in terms.items()),
        turn_idxs=tuple(pd.turn_idx[t] for t in sorted(turns)),
        fallback="" if sentences else _lead(pd, turns),
    )


def _lead(pd: PreparedDocument, turns: set[int]) -> str:
    if turns:
        text = pd.units[pd.turn_units[min(turns)][0]].text.original
    else:
        text = pd.doc.body or pd.doc.title
    spans = textnorm.sentence_spans(text)
    return text[spans[0][0] : spans[0][1]] if spans else ""


# ---- the query ------------------------------------------------------------------------------


class Query:
    """A parsed query: match documents, explain itself, give its prefilter literals."""

    def __init__(self, text: str, root: Node):
        self.text = text
        self.root = root

    def __repr__(self) -> str:
        return f"Query({self.text!r})"

    def __str__(self) -> str:
        return _to_text(self.root, top=True)

    def match(self, doc: Document | PreparedDocument) -> Match | None:
        """The Match of `doc`, or None. Pass a PreparedDocument to share work between queries."""
        pd = prepare(doc)
        hits = _eval(self.root, pd, pd.default_units, None)
        return None if hits is None else _build_match(pd, hits)

    def matches(self, doc: Document | PreparedDocument) -> bool:
        pd = prepare(doc)
        return _eval(self.root, pd, pd.default_units, None) is not None

    def explain(self) -> str:
        """The query as a tree, aliases expanded, one node a line."""
        lines = [f"query: {self.text}", f"read as: {self}"]
        _explain(self.root, "", "", lines)
        literals = self.required_literals()
        if literals:
            clauses = " AND ".join(
                "(" + " OR ".join(repr(x) for x in sorted(c)) + ")" for c in literals
            )
            lines.append(f"prefilter: needs {clauses}")
        else:
            lines.append("prefilter: none (this query is evaluated on every document)")
        return "\n".join(lines)

    def required_literals(self) -> list[frozenset[str]]:
        """Literal strings a document's folded text must contain for the query to match.

        In conjunctive form: every set must have at least one member in the text. An empty
        list means no such condition can be given (e.g. a query on source: only).
        """
        return _literals(self.root)

    def to_fts5(self, target: Literal["articles", "turns"] = "articles") -> str | None:
        return to_fts5(self, target)


def _to_text(node: Node, top: bool = False) -> str:
    if isinstance(node, Term):
        return str(node)
    if isinstance(node, Alias):
        return f"@{node.name}"
    if isinstance(node, Not):
        return f"NOT {_to_text(node.child)}"
    if isinstance(node, Field):
        return f"{node.name}:{_to_text(node.child)}"
    if isinstance(node, Near):
        return f"{_to_text(node.left)} NEAR/{node.distance} {_to_text(node.right)}"
    joiner = " AND " if isinstance(node, And) else " OR "
    text = joiner.join(_to_text(c) for c in node.children)
    return text if top else f"({text})"


def _describe(term: Term) -> str:
    if term.cjk:
        return "Chinese text, found anywhere (Traditional forms too)"
    if term.value and not term.pieces:
        return "value"
    parts = []
    for piece in term.pieces:
        if piece.kind == "prefix":
            parts.append(f"{piece.value}…")
        elif piece.kind == "char":
            parts.append(piece.value)
        else:
            parts.append(f"[{piece.value}]")
    if len(parts) == 1:
        piece = term.pieces[0]
        if piece.kind == "prefix":
            return f"words starting with {piece.value!r}"
        return f"any form of the word: stem {piece.value!r}"
    return "words in this order: " + " ".join(parts)


def _explain(node: Node, head: str, tail: str, lines: list[str]) -> None:
    """Append `node` as tree lines: `head` prefixes its own line, `tail` its children's."""
    if isinstance(node, Term):
        lines.append(f"{head}{node}  — {_describe(node)}")
        return
    children: Sequence[Node]
    if isinstance(node, And | Or):
        label, children = ("AND" if isinstance(node, And) else "OR"), node.children
    elif isinstance(node, Not):
        label, children = "NOT", (node.child,)
    elif isinstance(node, Near):
        label, children = (
            f"NEAR/{node.distance} (within {node.distance} words)",
            (
                node.left,
                node.right,
            ),
        )
    elif isinstance(node, Alias):
        label, children = f"@{node.name}  — alias, any of:", (node.child,)
        if isinstance(node.child, Or):
            children = node.child.children
    else:
        scope = {
            "title": "in the title",
            "body": "in the body",
            "speaker": "briefing turns whose speaker matches; the rest of its AND group in the "
            "same turn",
            "source": "source key",
            "lang": "language",
            "kind": "record kind",
        }[node.name]
        label, children = f"{node.name}:  — {scope}", (node.child,)
    lines.append(head + label)
    for i, child in enumerate(children):
        last = i == len(children) - 1
        _explain(
            child, tail + ("└── " if last else "├── "), tail + ("    " if last else "│   "), lines
        )


# ---- prefilter literals ---------------------------------------------------------------------

_MIN_LITERAL = 2  # shorter literals would pass nearly every document: no condition at all


def _literals(node: Node) -> list[frozenset[str]]:
    if isinstance(node, Term):
        if node.cjk:
            return [frozenset([node.cjk])]
        return [frozenset([p.literal]) for p in node.pieces if len(p.literal) >= _MIN_LITERAL]
    if isinstance(node, And):
        clauses: list[frozenset[str]] = []
        for child in node.children:
            clauses.extend(c for c in _literals(child) if c not in clauses)
        return clauses
    if isinstance(node, Or):
        union: set[str] = set()
        for child in node.children:
            child_clauses = _literals(child)
            if not child_clauses:
                return []  # one side needs nothing: neither does the OR
            union |= _best(child_clauses)
        return [frozenset(union)]
    if isinstance(node, Near):
        return _literals(And((node.left, node.right)))
    if isinstance(node, Alias):
        return _literals(node.child)
    if isinstance(node, Field):
        return [] if node.name in META_FIELDS else _literals(node.child)
    return []  # NOT: an absence gives no literal


def _best(clauses: list[frozenset[str]]) -> frozenset[str]:
    """The most selective clause: few alternatives, each long (a rough guess at rarity)."""
    return max(clauses, key=lambda c: (min(len(x) for x in c), -len(c)))


# ---- many rules at once ---------------------------------------------------------------------


class RuleSet:
    """Many queries compiled together, with an Aho-Corasick prefilter over their literals.

    `match(doc)` folds the document once, runs the automaton once over its folded text,
    and evaluates only the queries whose every required-literal clause has a hit there
    (plus the queries that have no literals at all). `prefilter=False` evaluates every
    query on every document: the baseline the benchmark compares with.
    """

    def __init__(
        self, queries: Mapping[str, Query] | Iterable[tuple[str, Query]], *, prefilter: bool = True
    ):
        items = list(queries.items() if isinstance(queries, Mapping) else queries)
        self.names = [name for name, _ in items]
        self.queries = [query for _, query in items]
        self.prefilter = prefilter
        self.evaluated = 0  # queries evaluated, over all documents so far
        self.documents = 0
        literal_ids: dict[str, int] = {}
        # literal id -> (rule, clause bit) pairs it satisfies
        self._postings: list[list[tuple[int, int]]] = []
        self._full: list[int] = []  # per rule: the bitmask with every clause satisfied
        self._always: list[int] = []  # rules without literals: evaluated on every document
        for rule, query in enumerate(self.queries):
            clauses = query.required_literals() if prefilter else []
            self._full.append((1 << len(clauses)) - 1)
            if not clauses:
                self._always.append(rule)
            for bit, clause in enumerate(clauses):
                for literal in clause:
                    lid = literal_ids.setdefault(literal, len(literal_ids))
                    if lid == len(self._postings):
                        self._postings.append([])
                    self._postings[lid].append((rule, 1 << bit))
        self._automaton: Any = None
        if literal_ids:
            automaton = ahocorasick.Automaton(ahocorasick.STORE_INTS)
            for literal, lid in literal_ids.items():
                automaton.add_word(literal, lid)
            automaton.make_automaton()
            self._automaton = automaton

    def __len__(self) -> int:
        return len(self.queries)

    def _candidate_ids(self, pd: PreparedDocument) -> list[int]:
        if self._automaton is None:
            return list(self._always)
        found = {lid for _, lid in self._automaton.iter(pd.prefilter_text)}
        satisfied: dict[int, int] = {}
        for lid in found:
            for rule, bit in self._postings[lid]:
                satisfied[rule] = satisfied.get(rule, 0) | bit
        ready = [rule for rule, mask in satisfied.items() if mask == self._full[rule]]
        return sorted(itertools.chain(self._always, ready))

    def candidates(self, doc: Document | PreparedDocument) -> list[str]:
        """Names of the queries that the prefilter lets through for `doc`."""
        return [self.names[i] for i in self._candidate_ids(prepare(doc))]

    def match(self, doc: Document | PreparedDocument) -> dict[str, Match]:
        """{query name: Match} for every query that matches `doc`, in the order given."""
        pd = prepare(doc)
        self.documents += 1
        results: dict[str, Match] = {}
        for rule in self._candidate_ids(pd):
            self.evaluated += 1
            query = self.queries[rule]
            hits = _eval(query.root, pd, pd.default_units, None)
            if hits is not None:
                results[self.names[rule]] = _build_match(pd, hits)
        return results


# ---- FTS5 -----------------------------------------------------------------------------------

_FTS_MIN_PREFIX = 3
_MAX_VARIANTS = 16
_PORTER = snowballstemmer.stemmer("porter")


def _quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _fts_margin(stem: str) -> int:
    """How far to shorten an English stem before using it as an FTS5 prefix.

    SQLite's porter tokenizer (Porter's first algorithm) sometimes cuts a word shorter than
    Snowball's Porter2 ("generally" -> "gener", Porter2 "general"); long stems get a margin.
    Short ones get none: "chi"* for china would match half the archive.
    """
    return 0 if len(stem) <= 5 else 1 if len(stem) <= 7 else 2


def _fts_prefix(word: str) -> str | None:
    """`word` shortened until SQLite's porter tokenizer leaves it as it is (or None)."""
    while len(word) >= _FTS_MIN_PREFIX:
        if _PORTER.stemWord(word) == word:
            return word
        word = word[:-1]
    return None


def _yo_variants(prefix: str) -> list[str]:
    """FTS5 does not fold ё to е as we do: look for both spellings (a few at most)."""
    if "е" not in prefix:
        return [prefix]
    cut = [i for i, c in enumerate(prefix) if c == "е"]
    if len(cut) > 3:
        prefix = prefix[: cut[3]]
        cut = cut[:3]
    variants = []
    for choice in itertools.product("её", repeat=len(cut)):
        chars = list(prefix)
        for i, c in zip(cut, choice, strict=True):
            chars[i] = c
        variants.append("".join(chars))
    return variants


def _fts_piece(piece: Piece, word: str, column: str | None) -> str | None:
    if piece.kind == "char":
        alternatives = [f"{_quote(v)}*" for v in textnorm.cjk_variants(piece.value)]
        return "search_cjk : (" + " OR ".join(alternatives) + ")"
    language = textnorm.language_of(piece.value)
    if language == "russian" or (language is None and piece.kind == "prefix"):
        # unicode61 keeps Russian words whole and porter leaves them alone: a prefix query
        # on the stem (a prefix of every form) finds every form.
        prefix = piece.value if piece.kind == "prefix" else piece.literal
        if len(prefix) < 2:
            return None
        expr = " OR ".join(f"{_quote(v)}*" for v in _yo_variants(prefix))
    elif language == "english":
        # SQLite stems the query word itself, which finds what Porter finds; the prefix adds
        # what Porter2 joins and Porter does not. In rare forms the two disagree beyond the
        # margin, so search can miss a form that an alert matches (docs/query-language.md).
        base = piece.value if piece.kind == "prefix" else piece.literal
        prefix = _fts_prefix(base[: len(base) - _fts_margin(base)])
        options = [] if piece.kind == "prefix" else [_quote(word)]
        if prefix:
            options.append(f"{_quote(prefix)}*")
        if not options:
            return None
        expr = " OR ".join(options)
    else:
        expr = _quote(word)
    return f"{column} : ({expr})" if column else f"({expr})"


def _fts_term(term: Term, column: str | None) -> str | None:
    if term.cjk:
        if len(term.cjk) == 1:
            return _fts_piece(Piece("char", term.cjk, term.cjk), term.cjk, None)
        parts = []
        for a, b in itertools.pairwise(term.cjk):
            bigrams = [x + y for x in textnorm.cjk_variants(a) for y in textnorm.cjk_variants(b)]
            parts.append(
                "search_cjk : (" + " OR ".join(_quote(g) for g in bigrams[:_MAX_VARIANTS]) + ")"
                if len(bigrams) <= _MAX_VARIANTS
                else None
            )
        kept = [p for p in parts if p]
        return "(" + " AND ".join(kept) + ")" if kept else None
    words = textnorm.TOKEN_RE.findall(term.value)
    parts = [_fts_piece(p, w, column) for p, w in zip(term.pieces, words, strict=False)]
    kept = [p for p in parts if p]
    if not kept:
        return None
    return kept[0] if len(kept) == 1 else "(" + " AND ".join(kept) + ")"


def _fts(node: Node, target: str, column: str | None) -> str | None:
    if isinstance(node, Term):
        return _fts_term(node, column)
    if isinstance(node, And | Near):
        children = node.children if isinstance(node, And) else (node.left, node.right)
        parts = [p for p in (_fts(c, target, column) for c in children) if p]
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"
    if isinstance(node, Or):
        parts = [_fts(c, target, column) for c in node.children]
        if any(p is None for p in parts):
            return None
        return "(" + " OR ".join(p for p in parts if p) + ")"
    if isinstance(node, Alias):
        return _fts(node.child, target, column)
    if isinstance(node, Field):
        if node.name in META_FIELDS:
            return None
        columns = {
            "articles": {"title": "title", "body": "body"},
            "turns": {"speaker": "speaker"},
        }[target]
        if node.name not in columns:
            return None  # speaker: on articles (not indexed there), title:/body: on turns
        return _fts(node.child, target, columns[node.name])
    return None  # NOT: dropped; Query.match applies it exactly


def to_fts5(query: Query, target: Literal["articles", "turns"] = "articles") -> str | None:
    """An FTS5 MATCH expression that finds the candidates for `query`, or None for "all".

    For `articles_fts` (columns title, body, search_cjk) or, with target="turns",
    `briefing_turns_fts` (text, speaker, search_cjk). Every word is a quoted string, so no
    user input is FTS5 syntax. The expression is a filter, not the answer: NOT, NEAR,
    phrases and metadata scopes are dropped or loosened, and `Query.match` decides.
    Chinese terms become their bigrams on search_cjk, each with its Traditional forms.
    """
    return _fts(query.root, target, None)


# ---- searching the archive ------------------------------------------------------------------


def search_archive(
    db: Any,
    query: Query,
    *,
    turns: bool = False,
    speaker: str | None = None,
    role: str | None = None,
    source: str | None = None,
    since: str | None = None,
    language: str | None = None,
    limit: int = 20,
    marks: tuple[str, str] = ("[", "]"),
) -> list[dict[str, Any]]:
    """Articles (or briefing turns) matching `query`, best FTS rank first.

    Candidates come from the FTS index through `to_fts5`; `Query.match` keeps the exact
    matches and gives the snippet (the matched sentence, terms wrapped in `marks`). With
    `turns` (or speaker/role), each turn is matched on its own: bare terms against its text.
    The result dicts have the shape of db.search.search / search_turns, plus "fields".
    """
    from db import search as db_search

    results: list[dict[str, Any]] = []
    if turns or speaker or role:
        rows: Iterator[dict[str, Any]] = db_search.iter_turn_candidates(
            db,
            to_fts5(query, "turns"),
            speaker=speaker,
            role=role,
            source=source,
            since=since,
            language=language,
        )
    else:
        rows = db_search.iter_article_candidates(
            db, to_fts5(query), source=source, since=since, language=language
        )
    for row in rows:
        if turns or speaker or role:
            turn = {k: row[k] for k in ("idx", "role", "speaker", "text")}
            doc = Document(
                turns=[turn],
                source=row["source"],
                language=row["language"],
                kind=row["kind"] or "briefing",
            )
        else:
            doc = Document.from_record(row)
        found = query.match(doc)
        if found is None:
            continue
        hit = {k: row[k] for k in ("id", "url", "source", "title", "published_at")}
        if turns or speaker or role:
            hit.update({k: row[k] for k in ("idx", "role", "speaker", "outlet")})
        hit["rank"] = row["rank"]
        hit["fields"] = list(found.fields)
        hit["snippet"] = found.render(marks, max_words=30)
        results.append(hit)
        if len(results) >= limit:
            break
    return results
