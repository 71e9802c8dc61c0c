"""Text folding, tokens, stems and sentences: what the rule language compares, and how.

Owns the one normalisation that both sides of a match go through, queries and documents
alike, so that a rule and a text agree on what "the same word" is:

1. `fold(text)`: per character, Traditional -> Simplified Chinese (OpenCC's character table,
   shipped by opencc-python-reimplemented, with the Taiwan/Hong Kong variant forms first
   mapped to the standard ones), then NFKC (full-width letters, ligatures), then casefold,
   then Latin diacritics dropped ("Medvédev" -> "medvedev", as the FTS index does) and
   Russian ё -> е. Folding is per character and never deletes one, so an offset in the
   folded text maps back to the original (`Folded.original_span`): snippets quote the page's
   own text. Phrase-level OpenCC conversion is not used: it can change a run of characters
   at once and lose that mapping, and matching needs characters, not idiom.
2. `tokens(folded)`: words are runs of letters and digits; every CJK character is a token of
   its own (Chinese has no spaces, so a "word" position is a character, as in word counts).
   Hyphens and apostrophes separate words: "China-Russia" is the two words china, russia.
3. `stem(word)`: Snowball stemmers by script: English (Porter2) for Latin words, Russian for
   Cyrillic words, none for anything else. `stem_literal(stem)` is a prefix of every word
   with that stem (checked over a 100,000-word English dictionary and the demo archive's
   Russian text), which lets a prefilter and the word index look words up by prefix.
4. `sentence_spans(text)`: sentence boundaries for English ". ", Chinese "。！？" and
   Russian, used to quote the sentence that matched.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import snowballstemmer

from db.search import CJK_CHARS

CJK_RE = re.compile(f"[{CJK_CHARS}]")
# A token of folded text: one CJK character, or a run of other letters and digits.
TOKEN_RE = re.compile(f"[{CJK_CHARS}]|[^\\W_{CJK_CHARS}]+")
_CYRILLIC = re.compile(r"[\u0400-\u052f]")
_LATIN = re.compile(r"[a-z\u00c0-\u024f\u1e00-\u1eff]")


# ---- folding --------------------------------------------------------------------------------


def _read_table(name: str) -> dict[str, str]:
    """One OpenCC character table: each line "source<TAB>target [alternatives]"."""
    path = resources.files("opencc") / "dictionary" / name
    table: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        source, _, targets = line.partition("\t")
        # Single characters only (see the module docstring); the first target is OpenCC's
        # preferred one, and what matters is that queries and texts pick the same.
        if len(source) == 1 and targets:
            target = targets.split(" ")[0]
            if len(target) == 1:
                table[source] = target
    return table


@lru_cache(maxsize=1)
def traditional_to_simplified() -> dict[str, str]:
    """Traditional (and Taiwan/Hong Kong variant) characters -> Simplified, one to one."""
    to_simplified = _read_table("TSCharacters.txt")
    table = dict(to_simplified)
    for variants in ("TWVariantsRev.txt", "HKVariantsRev.txt"):
        for variant, standard in _read_table(variants).items():
            table.setdefault(variant, to_simplified.get(standard, standard))
    return {k: v for k, v in table.items() if k != v}


@lru_cache(maxsize=1)
def _simplified_to_variants() -> dict[str, tuple[str, ...]]:
    inverse: dict[str, set[str]] = {}
    for traditional, simplified in traditional_to_simplified().items():
        inverse.setdefault(simplified, {simplified}).add(traditional)
    return {k: tuple(sorted(v)) for k, v in inverse.items()}


def cjk_variants(char: str) -> tuple[str, ...]:
    """Every character that folds to the folded CJK `char`: itself and its Traditional forms.

    The FTS index stores pages as written, so a search for 国 must also look for 國.
    """
    return _simplified_to_variants().get(char, (char,))


def _is_latin_base(char: str) -> bool:
    return char < "\u0250" or "\u1e00" <= char <= "\u1eff"


def _fold_char(char: str) -> str:
    text = traditional_to_simplified().get(char, char)
    text = unicodedata.normalize("NFKC", text).casefold()
    if len(text) > 1 and not char.isalnum():
        # "…" is "..." under NFKC: punctuation separates words either way, and keeping
        # one character for one keeps most texts on the fast path of `Folded`.
        return char
    if not text.isascii():
        # Drop combining marks that sit on Latin letters (é -> e, İ -> i), keep the others
        # (й stays й: its breve makes a different Russian letter).
        kept: list[str] = []
        for c in unicodedata.normalize("NFD", text):
            if unicodedata.combining(c) and kept and _is_latin_base(kept[-1]):
                continue
            kept.append(c)
        text = unicodedata.normalize("NFC", "".join(kept)).replace("ё", "е")
    # Never fold a character to nothing: offsets must stay mappable.
    return text or char


class _FoldTable(dict[int, str]):
    """A str.translate table that computes and remembers each character's fold on first use.

    translate() then runs in C: about 20 times faster than OpenCC's own converter in Python
    (bench/alerts_bench.py measures both).
    """

    def __missing__(self, code: int) -> str:
        folded = self[code] = _fold_char(chr(code))
        return folded


_FOLD = _FoldTable()


def fold(text: str) -> str:
    """`text` folded for matching (see the module docstring)."""
    if text.isascii():
        return text.lower()  # casefold and NFKC are both lower() on ASCII
    return text.translate(_FOLD)


@dataclass(frozen=True)
class Folded:
    """A text and its fold, with the offset map between them when their lengths differ."""

    original: str
    folded: str
    # offsets[i] = offset in `original` of the character that produced folded[i], plus a
    # final entry len(original). None when folding mapped every character to one character.
    offsets: tuple[int, ...] | None = None

    @classmethod
    def of(cls, text: str) -> Folded:
        folded = fold(text)
        if len(folded) == len(text):
            return cls(text, folded)
        offsets: list[int] = []
        for i, char in enumerate(text):
            offsets.extend([i] * len(_FOLD[ord(char)]))
        offsets.append(len(text))
        return cls(text, folded, tuple(offsets))

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """The span of `original` that folded[start:end] came from."""
        if self.offsets is None:
            return start, end
        # The end maps to the end of the character that produced folded[end - 1].
        last = self.offsets[end - 1] if end > start else self.offsets[start]
        return self.offsets[start], last + 1 if end > start else last


# ---- tokens and stems -----------------------------------------------------------------------


def is_cjk(text: str) -> bool:
    return bool(CJK_RE.search(text))


def all_cjk(text: str) -> bool:
    return bool(text) and all(CJK_RE.match(c) for c in text)


class Tokens:
    """The tokens of a folded text: words, an index of them, and (lazily) their offsets.

    Offsets are only needed to quote a match, so they are computed only for texts that
    matched: findall() alone is several times cheaper than finditer() with match objects.
    """

    def __init__(self, folded: str):
        self.folded = folded
        self.words: list[str] = TOKEN_RE.findall(folded)
        self._positions: dict[str, list[int]] | None = None
        self._sorted: list[str] | None = None
        self._starts: list[int] | None = None
        self._ends: list[int] = []

    @classmethod
    def of(cls, folded: str) -> Tokens:
        return cls(folded)

    def _offsets(self) -> None:
        spans = [m.span() for m in TOKEN_RE.finditer(self.folded)]
        self._starts = [s for s, _ in spans]
        self._ends = [e for _, e in spans]

    @property
    def starts(self) -> list[int]:
        """Folded offset where each token starts."""
        if self._starts is None:
            self._offsets()
        return self._starts  # type: ignore[return-value]

    @property
    def ends(self) -> list[int]:
        """Folded offset where each token ends."""
        if self._starts is None:
            self._offsets()
        return self._ends

    @property
    def positions(self) -> dict[str, list[int]]:
        """word -> the token positions where it occurs."""
        if self._positions is None:
            positions: dict[str, list[int]] = {}
            for i, word in enumerate(self.words):
                positions.setdefault(word, []).append(i)
            self._positions = positions
        return self._positions

    def words_with_prefix(self, prefix: str) -> list[str]:
        """The distinct words that start with `prefix`, through a sorted list and bisect."""
        if self._sorted is None:
            self._sorted = sorted(self.positions)
        words = self._sorted
        found = []
        for i in range(bisect.bisect_left(words, prefix), len(words)):
            if not words[i].startswith(prefix):
                break
            found.append(words[i])
        return found

    def token_at(self, offset: int) -> int:
        """The position of the token that contains (or follows) folded offset `offset`."""
        return max(0, bisect.bisect_right(self.starts, offset) - 1)


_STEMMERS = {
    "english": snowballstemmer.stemmer("english"),
    "russian": snowballstemmer.stemmer("russian"),
}
# Snowball in pure Python costs about 25 µs a word; news text repeats its words, so a cache
# makes stemming nearly free. Bounded so that a long-running daemon cannot grow it forever.
_STEM_CACHE: dict[str, str] = {}
_STEM_CACHE_MAX = 500_000


def language_of(word: str) -> str | None:
    """The stemmer for a folded word: "english" (Latin), "russian" (Cyrillic) or None."""
    first = word[:1]
    if _LATIN.match(first) or (first.isdigit() and _LATIN.search(word)):
        return "english"
    if _CYRILLIC.match(first):
        return "russian"
    return None


def stem(word: str) -> str:
    """The Snowball stem of a folded word (the word itself outside Latin and Cyrillic)."""
    cached = _STEM_CACHE.get(word)
    if cached is not None:
        return cached
    language = language_of(word)
    result = _STEMMERS[language].stemWord(word) if language else word
    if len(_STEM_CACHE) >= _STEM_CACHE_MAX:
        _STEM_CACHE.clear()
    _STEM_CACHE[word] = result
    return result


def stem_literal(word_stem: str) -> str:
    """A prefix of every folded word whose stem is `word_stem`.

    Russian Snowball only removes endings, so a Russian stem is a prefix of its words.
    English Porter2 also rewrites the end of a stem: "hoping" -> "hope", "happy" -> "happi",
    "possibility" -> "possibl", "dying" -> "die"; dropping the rewritten tail gives a prefix
    ("hop", "happ", "possib", "d"). Checked over every word of a 100,000-word dictionary.
    """
    if language_of(word_stem) != "english":
        return word_stem
    if word_stem.endswith("ie"):
        return word_stem[:-2]
    if word_stem[-1:] in ("i", "e", "y") or word_stem.endswith("bl"):
        return word_stem[:-1]
    return word_stem


# Russian Snowball is not always consistent between the forms of one noun: Китай, Китаю and
# Китае stem to "кита" but Китая to "кит". So a Russian query word also matches a word that
# starts with its stem and is at most this many letters longer (an inflectional ending).
RUSSIAN_ENDING_MAX = 3


def word_matches(query_stem: str, word: str) -> bool:
    """Whether folded text `word` is a form of the query word whose stem is `query_stem`."""
    if stem(word) == query_stem:
        return True
    return (
        len(query_stem) >= 3
        and _CYRILLIC.match(query_stem) is not None
        and word.startswith(query_stem)
        and len(word) - len(query_stem) <= RUSSIAN_ENDING_MAX
    )


def word_literal(query_stem: str) -> str:
    """A prefix of every word that `word_matches` accepts for `query_stem`."""
    return stem_literal(query_stem)


# ---- sentences ------------------------------------------------------------------------------

# Abbreviations after which a full stop does not end the sentence ("Mr. Putin", "Dec. 25").
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof gen gov sen rep st jr sr no vs etc inc ltd co corp jan feb mar apr jun "
    "jul aug sep sept oct nov dec u.s u.k e.g i.e г гг им т.е т.д".split()
)
# A sentence ends after 。！？ (with closing quotes), or after . ! ? … followed by space and
# something that can start a sentence; a line break always ends one.
_BOUNDARY = re.compile(
    r"[。！？][”」』）\"']*"
    r"|(?P<stop>[.!?…]+)[\"'”’»)\]]*\s+(?=[\"'“‘«(\[]?[A-ZА-ЯЁ" + CJK_CHARS + r"])"
    r"|\n\s*"
)
_LAST_WORD = re.compile(r"([\w.]+)$")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of `text`, without surrounding whitespace."""
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _BOUNDARY.finditer(text):
        if m.group("stop") == ".":
            # Only the few characters before the stop: searching from 0 would be quadratic.
            before = _LAST_WORD.search(text, max(0, m.start() - 16), m.start())
            word = before.group(1).casefold() if before else ""
            if word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha()):
                continue  # "Mr. Putin", "V. Putin"
        end = m.end()
        spans.append((start, end))
        start = end
    spans.append((start, len(text)))
    result = []
    for s, e in spans:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            result.append((s, e))
    return result
