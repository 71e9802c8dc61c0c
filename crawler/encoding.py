"""Turning the bytes of an HTML page into text: which encoding, and decoding with it.

The cascade (w3lib's, as Scrapy's own `TextResponse` uses it, so a parser sees the same text
whether it gets `response.text` or the raw body), with one check on top:

1. a byte-order mark; it cannot be there by accident, and browsers let it win;
2. the charset of the HTTP Content-Type header;
3. `<meta charset>` / `<meta http-equiv="Content-Type">` (or an XML declaration);
4. no declaration: detection (`detect_encoding`);
5. the check: a declared charset (2 or 3) is used only if it fits the bytes. It does not fit
   when the bytes are valid UTF-8 and it names a legacy encoding, when a large share of the
   bytes are invalid in it (or it names UTF-16 for bytes without a single NUL), or (for a
   legacy encoding) when the text it yields is implausible for the page's language
   (`implausible`). Then the page is decoded with the first candidate (UTF-8, windows-1252
   unless the language rules it out, then charset-normalizer's answers) that decodes without
   an error and passes the same checks at a much lower bar, and `Decoded.repaired_from`
   records the declaration that was overridden. A declaration is doubted only on strong
   evidence, a replacement must be clean; if none is, the declaration stands and
   `Decoded.problem` says what is wrong with it.

Stock Scrapy trusts the header: a GBK page labelled utf-8 becomes U+FFFD replacement
characters, and a windows-1251 page labelled latin-1 becomes mojibake ("Ìèíèñòåðñòâî")
without a single replacement character, which is why the text itself has to be judged.

GB2312 and GBK labels decode as GB18030, Big5 as Big5-HKSCS, and latin-1 / iso-8859-1 as
windows-1252: their supersets, as w3lib (and the WHATWG Encoding standard) map them.
"""

from __future__ import annotations

import codecs
import functools
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass

from charset_normalizer import from_bytes
from w3lib.encoding import (
    html_body_declared_encoding,
    http_content_type_encoding,
    read_bom,
    resolve_encoding,
    to_unicode,
)

logger = logging.getLogger(__name__)

_UTF8 = "utf-8"
# The web's legacy default for Latin-script pages (WHATWG). Tried before detection because
# charset-normalizer cannot tell windows-1252 from windows-1250 on a few accented letters and
# picks the latter for French ("à Genève" -> "ŕ Genčve").
_WESTERN = "cp1252"

# Languages whose script `implausible` checks. For them windows-1252 is no candidate: it
# decodes any byte, and their pages are never Latin-1.
_SCRIPT_LANGUAGES = ("zh", "ru")

# How much a declared charset may get wrong before it is doubted: invalid byte sequences as a
# share of the non-ASCII bytes. A page that is mostly right with a stray bad byte (a broken
# footer, a truncated string) keeps its declaration and its one U+FFFD.
_ERROR_SHARE = 0.05


@dataclass(frozen=True)
class _Bar:
    """How much evidence each check of `implausible` needs before it speaks."""

    non_ascii: int  # non-ASCII characters in the visible text, for any check to speak
    run_chars: int  # characters in runs of 3+ Latin-1 characters
    c1: int  # C1 control characters
    mixed: int  # words that mix scripts
    cyrillic: int  # Cyrillic letters, for the capitals check


# A declaration is doubted only on strong evidence: a page with a handful of odd characters
# says too little to overrule what the site declared. A replacement must be clean.
_DOUBT = _Bar(non_ascii=20, run_chars=12, c1=2, mixed=3, cyrillic=40)
_CLEAN = _Bar(non_ascii=1, run_chars=3, c1=1, mixed=2, cyrillic=10)
# Visible characters judged: a wrong decoding shows on every line, and counting a whole
# multi-megabyte page would cost seconds.
_SAMPLE_CHARS = 50_000

_MARKUP = re.compile(r"<(script|style)\b.*?</\1\s*>|<!--.*?-->|<[^>]*>", re.S | re.I)
_NON_ASCII = re.compile(r"[^\x00-\x7f\s]")
# Characters a single-byte Western decode makes of bytes 0x80-0xFF (no-break space aside).
_HIGH_LATIN = "\u0080-\u009f\u00a1-\u00ff" + bytes(range(0x80, 0xA0)).decode("cp1252", "ignore")
_HIGH_LATIN_CHAR = re.compile(f"[{_HIGH_LATIN}]")
# Three or more in a row: CJK or Cyrillic read as windows-1252 ("Ìèíèñòåðñòâî", "ÖÐ¶í").
# Real Western text has accented letters alone or in pairs ("été", "ação", "Größe").
_HIGH_LATIN_RUN = re.compile(f"[{_HIGH_LATIN}]{{3,}}")
_C1_CONTROL = re.compile("[\u0080-\u009f]")
_CJK = re.compile(
    "[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef\U00020000-\U0003ffff]"
)
_CYRILLIC_UPPER = re.compile("[\u0400-\u042f]")
_CYRILLIC_LOWER = re.compile("[\u0430-\u045f]")
# Latin text read in a Cyrillic or CJK encoding: its accented letters become Cyrillic letters
# or ideographs inside Latin words ("Genиve", "coop閞ation"); real text does not mix scripts
# within a word.
_MIXED_WORD = re.compile(
    "[A-Za-z][\u0400-\u045f]|[\u0400-\u045f][A-Za-z]|[A-Za-z][\u3400-\u9fff][A-Za-z]"
)
_UTF8_SEQUENCE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)
_ASCII_INCOMPATIBLE = ("utf-16", "utf-32")


@dataclass(frozen=True)
class Decoded:
    """A decoded page and how its encoding was chosen."""

    text: str
    encoding: str  # Python codec name used: "utf-8", "gb18030", "cp1251", ...
    declared: str | None = None  # codec name the header or <meta> declared, if any
    declared_in: str | None = None  # "HTTP header", or "page" (<meta> or XML declaration)
    repaired_from: str | None = None  # `declared`, when it was overridden
    problem: str | None = None  # why the declaration does not fit (also when it was kept)
    invalid: int = 0  # byte sequences that became U+FFFD


def _canonical(name: str) -> str:
    """Python's canonical codec name ("utf_8" -> "utf-8", "GB18030" -> "gb18030")."""
    try:
        return codecs.lookup(name).name
    except LookupError:
        return name


def _resolve(name: str) -> str:
    """A detector's or a page's encoding name as the codec decode_page uses for it."""
    return _canonical(resolve_encoding(name) or name)


def _is_utf8_with_non_ascii(body: bytes) -> bool:
    if body.isascii():
        return False
    try:
        body.decode(_UTF8)
    except UnicodeDecodeError:
        return False
    return True


def _strict(body: bytes, encoding: str) -> str | None:
    try:
        return body.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None


def _base_language(language: str | None) -> str | None:
    return language.split("-")[0].lower() if language else None


def implausible(text: str, language: str | None = None, *, strict: bool = False) -> str | None:
    """Why `text` cannot be a correct decoding of a page in `language`, or None if it can.

    Script checks only, each needing enough evidence to speak: long runs of Latin-1
    characters (CJK or Cyrillic read as windows-1252), C1 control characters, Cyrillic that
    is mostly capitals (KOI8-R and windows-1251 read as each other swap the case), and for a
    known language, non-ASCII text that is mostly not its script. `language` None or "en"
    assumes nothing about the script. `strict` lowers the evidence each check needs: for
    judging a replacement encoding rather than the page's own declaration.
    """
    bar = _CLEAN if strict else _DOUBT
    if text.isascii():
        return None
    visible = _MARKUP.sub(" ", text)[:_SAMPLE_CHARS]
    non_ascii = len(_NON_ASCII.findall(visible))
    if non_ascii < bar.non_ascii:
        return None
    c1 = len(_C1_CONTROL.findall(visible))
    if c1 >= bar.c1:
        return f"it has {c1} C1 control characters"
    high = len(_HIGH_LATIN_CHAR.findall(visible))
    in_runs = sum(len(run) for run in _HIGH_LATIN_RUN.findall(visible))
    if in_runs >= bar.run_chars and in_runs * 2 >= high:
        return f"{in_runs} of its {high} Latin-1 characters stand in runs of 3 or more (mojibake)"
    mixed = len(_MIXED_WORD.findall(visible))
    if mixed >= bar.mixed:
        return f"{mixed} words mix Latin with Cyrillic or Chinese letters"
    upper = len(_CYRILLIC_UPPER.findall(visible))
    cyrillic = upper + len(_CYRILLIC_LOWER.findall(visible))
    if cyrillic >= bar.cyrillic and upper * 2 > cyrillic:
        return f"{upper} of its {cyrillic} Cyrillic letters are capitals"
    base = _base_language(language)
    if base == "zh":
        cjk = len(_CJK.findall(visible))
        if cjk * 10 < non_ascii * 3:
            return f"only {cjk} of its {non_ascii} non-ASCII characters are Chinese"
    elif base == "ru" and cyrillic * 10 < non_ascii * 3:
        return f"only {cyrillic} of its {non_ascii} non-ASCII characters are Cyrillic"
    return None


def _invalid_count(body: bytes, text: str, encoding: str) -> int:
    """Byte sequences of `body` that are invalid in `encoding` (U+FFFD in `text`)."""
    replaced = text.count("\ufffd")
    if not replaced:
        return 0
    try:
        genuine = body.count("\ufffd".encode(encoding))
    except (UnicodeEncodeError, LookupError):
        genuine = 0
    return max(0, replaced - genuine)


def _ruled_out(body: bytes, encoding: str, invalid: int) -> str | None:
    """Why the bytes themselves show `body` is not in `encoding`, or None."""
    if encoding != _UTF8 and _is_utf8_with_non_ascii(body):
        # Multi-byte UTF-8 almost never happens by chance in legacy text; pages re-saved as
        # UTF-8 keep their old <meta> (people.com.cn fixtures say GB2312 and are UTF-8).
        return "the bytes are valid UTF-8"
    if not invalid:
        return None
    high_bytes = len(body) - len(body.translate(None, bytes(range(0x80, 0x100))))
    valid_utf8 = len(_UTF8_SEQUENCE.findall(body)) if encoding == _UTF8 else 0
    # A UTF-8 page with a few latin-1 bytes in it is still a UTF-8 page: reading it as
    # windows-1252 would turn every correct character into mojibake.
    if invalid >= high_bytes * _ERROR_SHARE and invalid > valid_utf8:
        return f"{invalid} byte sequences are invalid in {encoding}"
    return None


def _candidates(body: bytes, language: str | None) -> Iterator[tuple[str, bool]]:
    """(encoding, from the detector?) to try for `body`, most likely first; may repeat.

    Detection is not narrowed to the language's usual encodings: a narrowed detector answers
    with the least bad of them even for bytes in none of them. The language filters the
    answers instead (`implausible`).
    """
    if _base_language(language) not in _SCRIPT_LANGUAGES:
        yield _WESTERN, False
    for encoding in _detected(body):
        yield encoding, True


@functools.lru_cache(maxsize=1)
def _detected(body: bytes) -> tuple[str, ...]:
    """charset-normalizer's answers for `body`, best first.

    Cached for the one body being decoded: a repair may look for a fitting encoding twice
    (in the page's script, then in any script), and detection is the expensive part.
    """
    # preemptive_behaviour=False: the detector must not favour the page's own declaration,
    # the very thing in doubt.
    return tuple(match.encoding for match in from_bytes(body, preemptive_behaviour=False))


def _first_fitting(
    body: bytes, language: str | None, exclude: str | None = None
) -> tuple[str, str] | None:
    """(encoding, text) of the first candidate that decodes `body` cleanly and plausibly."""
    if exclude != _UTF8 and _is_utf8_with_non_ascii(body):
        return _UTF8, body.decode(_UTF8)
    known_script = _base_language(language) in _SCRIPT_LANGUAGES
    tried: set[str] = {_UTF8}
    for name, detected in _candidates(body, language):
        encoding = _resolve(name)
        if encoding in tried or encoding == exclude:
            continue
        tried.add(encoding)
        text = _strict(body, encoding)
        if text is None or implausible(text, language, strict=True) is not None:
            continue
        if detected and not known_script and _too_little_text(text):
            # A detector's guess on a few bytes is noise ("\xff\xfe\xfd" is as much
            # windows-1251 as anything), and no script check can confirm it.
            continue
        return encoding, text
    return None


def _too_little_text(text: str) -> bool:
    return len(_NON_ASCII.findall(_MARKUP.sub(" ", text)[:_SAMPLE_CHARS])) < _DOUBT.non_ascii


def _first_fitting_any_script(
    body: bytes, language: str | None, exclude: str | None = None
) -> tuple[str, str] | None:
    """`_first_fitting` without the language's script: for bytes no encoding of it explains.

    A page in another script than its source's (a French page of a Chinese site) is better
    read in its own script than as U+FFFD. Only for bytes that rule the declaration out: a
    declaration that merely yields the wrong script is kept rather than traded for a guess.
    """
    if language is None:
        return None
    return _first_fitting(body, None, exclude)


def detect_encoding(body: bytes, language: str | None = None) -> str | None:
    """The encoding of undeclared bytes: UTF-8 if valid, else the first that fits `language`.

    Falls back to charset-normalizer's best guess when nothing decodes cleanly and plausibly.
    """
    if body.isascii() or _is_utf8_with_non_ascii(body):
        return _UTF8
    fitting = _first_fitting(body, language) or _first_fitting_any_script(body, language)
    if fitting is not None:
        return fitting[0]
    best = from_bytes(body).best()
    return _resolve(best.encoding) if best is not None else None


def decode_page(
    body: bytes, content_type: str | None = None, language: str | None = None
) -> Decoded:
    """Decode an HTML body, repairing a declared charset that does not fit (module docstring).

    `content_type` is the HTTP Content-Type header value, if there was one; `language` the
    page's expected language ("zh", "ru", "en"; None when unknown). Undecodable bytes become
    U+FFFD; this never raises on bad input.
    """
    bom_encoding, bom = read_bom(body)
    if bom_encoding is not None and bom is not None:
        return Decoded(to_unicode(body[len(bom) :], bom_encoding), _canonical(bom_encoding))
    declared_in = "HTTP header"
    declared = http_content_type_encoding(content_type)
    if declared is None:
        declared_in = "page"
        declared = html_body_declared_encoding(body)
    if declared is None:
        encoding = detect_encoding(body, language) or _UTF8
        text = to_unicode(body, encoding)
        return Decoded(text, _canonical(encoding), invalid=_invalid_count(body, text, encoding))
    if declared in ("utf-16", "utf-32"):
        declared += "-be"  # w3lib's reading of a BOM-less UTF-16/32 declaration
    declared = _canonical(declared)
    text = to_unicode(body, declared)
    invalid = _invalid_count(body, text, declared)
    checked = Decoded(text, declared, declared, declared_in, invalid=invalid)
    if not declared.startswith(_ASCII_INCOMPATIBLE):
        ruled_out = _ruled_out(body, declared, invalid)
    elif b"\x00" in body or not body:
        return checked  # its text is not judged: UTF-16 and UTF-32 have no mojibake tell
    else:
        # Markup in UTF-16 or UTF-32 is full of NUL bytes ("<" is 3C 00).
        ruled_out = f"a {declared} page has NUL bytes and this one has none"
    # Text that decodes as UTF-8 is UTF-8 whatever it reads like: an English page of a
    # Chinese site is no reason to doubt it.
    problem = ruled_out or (None if declared == _UTF8 else implausible(text, language))
    if problem is None:
        return checked
    fitting = _first_fitting(body, language, exclude=declared)
    if fitting is None and ruled_out:
        fitting = _first_fitting_any_script(body, language, exclude=declared)
    if fitting is None:
        logger.debug("%s declares %s, but %s; nothing fits better", declared_in, declared, problem)
        return Decoded(text, declared, declared, declared_in, problem=problem, invalid=invalid)
    encoding, repaired = fitting
    return Decoded(repaired, encoding, declared, declared_in, declared, problem)


def decode_html(
    body: bytes, content_type: str | None = None, language: str | None = None
) -> tuple[str, str]:
    """Decode an HTML body; returns (text, encoding name) with a Python codec name.

    `decode_page` without the details of how the encoding was chosen.
    """
    decoded = decode_page(body, content_type, language)
    return decoded.text, decoded.encoding
