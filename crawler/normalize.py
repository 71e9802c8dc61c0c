"""Text and date normalisation shared by every parser.

This module owns three things:

* text clean-up: Unicode NFC and whitespace folding (no-break, zero-width and full-width
  spaces), so that every string in an `Article` is comparable and hashable;
* paragraphs: `paragraphs_from()` turns a BeautifulSoup element whose prose is bare text
  nodes separated by `<br>` (or `<p>` and other block tags) into clean paragraphs, so that
  sentences of neighbouring paragraphs are never glued ("on Wednesday.The national-level");
* photo captions (`split_credit`) and dates: parsing the formats the watched sites print
  and `localize()`, which applies the convention documented in `crawler.items` (UTC "Z"
  for a time of day, a bare local date for day precision, never a guessed time).

It is pure: no Scrapy, no network, no database.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from bs4 import BeautifulSoup
from bs4.element import (
    CData,
    Comment,
    Declaration,
    Doctype,
    NavigableString,
    PageElement,
    ProcessingInstruction,
    Tag,
)

logger = logging.getLogger(__name__)

# --- text -------------------------------------------------------------------------------------

# Spaces that HTML and CMS editors leave in prose: no-break (U+00A0, &nbsp;), narrow and figure
# no-break spaces, the ideographic (full-width) space used for Chinese paragraph indents, and
# the other Unicode space separators. All become an ordinary space before folding.
_SPACES = re.compile(r"[\u00a0\u1680\u2000-\u200a\u202f\u205f\u2007\u3000]")
# Invisible characters that break word matching and hashing. The joiners U+200C/U+200D are
# kept: they change how emoji and some scripts render, and removing them changes the text.
_INVISIBLE = re.compile(r"[\u200b\u2060\ufeff\u180e\u00ad]")
_WHITESPACE = re.compile(r"\s+")


def clean_text(text: str | None) -> str:
    """NFC, all Unicode spaces folded to one ASCII space, invisible characters removed, stripped."""
    if not text:
        return ""
    text = unicodedata.normalize("NFC", text)
    text = _INVISIBLE.sub("", text)
    text = _SPACES.sub(" ", text)
    return _WHITESPACE.sub(" ", text).strip()


def join_paragraphs(paragraphs: Iterable[str]) -> str:
    """The body convention: clean, non-empty paragraphs joined by one blank line."""
    return "\n\n".join(p for p in (clean_text(p) for p in paragraphs) if p)


def split_paragraphs(body: str) -> list[str]:
    """The inverse of `join_paragraphs` (also accepts single newlines as breaks)."""
    return [p for p in (clean_text(line) for line in body.splitlines()) if p]


# --- paragraphs from markup --------------------------------------------------------------------

# Tags whose start and end are paragraph boundaries. Anything else (a, span, b, font, ...) is
# inline: its text continues the current paragraph without an added space.
BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "center", "dd", "details", "div", "dl",
        "dt", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6",
        "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "summary", "table",
        "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
    }
)  # fmt: skip
# Never prose.
SKIP_TAGS = frozenset(
    {"script", "style", "noscript", "template", "iframe", "object", "embed", "svg", "button",
     "select", "textarea", "head", "title", "meta", "link", "video", "audio", "canvas", "map"}
)  # fmt: skip
_NOT_TEXT = (Comment, CData, Declaration, Doctype, ProcessingInstruction)


def paragraphs_from(
    element: Tag | BeautifulSoup, skip: Callable[[Tag], bool] | None = None
) -> list[str]:
    """Clean paragraphs of `element`, split at every `<br>` and at block-tag boundaries.

    Text nodes inside one paragraph (also across inline tags) are concatenated as the browser
    would render them; a `<br>` or a block tag always starts a new paragraph, so text that the
    page shows on separate lines never comes out glued. `skip(tag)` returning True drops a
    subtree (captions, share bars, embedded related links).
    """
    paragraphs: list[str] = []
    current: list[str] = []

    def flush() -> None:
        text = clean_text("".join(current))
        if text:
            paragraphs.append(text)
        current.clear()

    # An explicit stack instead of recursion: some pages nest deeper than Python's limit.
    # Each level remembers whether leaving it ends a paragraph (block tags do).
    stack: list[tuple[Iterator[PageElement], bool]] = [(iter(element.children), False)]
    while stack:
        children, is_block = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            if is_block:
                flush()
            continue
        if isinstance(child, NavigableString):
            if not isinstance(child, _NOT_TEXT):
                current.append(str(child))
            continue
        if not isinstance(child, Tag):
            continue
        name = (child.name or "").lower()
        if name in SKIP_TAGS or (skip is not None and skip(child)):
            continue
        if name == "br":
            flush()
        elif name in BLOCK_TAGS:
            flush()
            stack.append((iter(child.children), True))
        else:
            stack.append((iter(child.children), False))
    flush()
    return paragraphs


# --- captions ----------------------------------------------------------------------------------

# Agencies and photo services seen in credits of the watched sites.
AGENCIES = (
    "Xinhua", "VCG", "IC", "AFP", "AP", "Reuters", "CFP", "CNS", "cnsphoto", "GT", "CGTN",
    "TASS", "Sputnik", "RIA Novosti", "EPA", "Getty Images", "China Daily", "People's Daily",
)  # fmt: skip
_AGENCY_ALT = "|".join(re.escape(a) for a in sorted(AGENCIES, key=len, reverse=True))
# "... Photo: Xinhua", "Photos: VCG", "File photo: IC", "Photo: Li Hao/GT", "Graphic: GT".
# The credit itself is short and has no sentence end, so a sentence that merely mentions a
# photo ("... the photo: it shows ...") is not taken for a credit.
_CREDIT_LABELED = re.compile(
    r"""(?:^|\s)(
        (?:File\s+)?(?:Photos?|Graphics?|Illustrations?|Cartoon|Video|Screenshot|Image|Chart)
        \s*:\s*[^.!?:;]{1,80}?
    )\s*$""",
    re.VERBOSE | re.IGNORECASE,
)
# "(Xinhua/Yue Yuewei)", "(Photo/Xinhua)", "(AFP)" at the end.
_CREDIT_PAREN = re.compile(
    rf"\s*\(\s*((?:Photo\s*/\s*)?(?:{_AGENCY_ALT})(?:\s*/\s*[^()]{{1,60}})?)\s*\)\s*$"
)
# "... on Nov. 2, 2019. /Xinhua" or "... /VCG".
_CREDIT_SLASH = re.compile(rf"\s+/\s*((?:{_AGENCY_ALT})(?:\s*/\s*[^/]{{1,60}})?)\s*$")


class Caption(NamedTuple):
    text: str
    credit: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"text": self.text, "credit": self.credit}


def split_credit(text: str) -> Caption:
    """Split a photo caption into its text and its trailing credit.

    "The Russia Pavilion ... has been completed. Photo: Xinhua" ->
    ("The Russia Pavilion ... has been completed.", "Photo: Xinhua"); "(Xinhua/Yue Yuewei)"
    and "... /Xinhua" endings give the credit without brackets or slash.
    """
    text = clean_text(text)
    for pattern in (_CREDIT_LABELED, _CREDIT_PAREN, _CREDIT_SLASH):
        match = pattern.search(text)
        if match:
            return Caption(clean_text(text[: match.start()]), clean_text(match.group(1)))
    return Caption(text, None)


def has_credit(text: str) -> bool:
    """True when `text` ends with a photo credit (the mark of a caption, not prose)."""
    return split_credit(text).credit is not None


# --- dates -------------------------------------------------------------------------------------


class DateInfo(NamedTuple):
    """A page date in the `crawler.items` convention."""

    published_at: str  # "2019-12-25T12:38:40Z", or "2019-12-25" for day precision
    published_local: str  # "2019-12-25T20:38:40+08:00", or "2019-12-25"
    precision: str  # day | minute | second


class ParsedDate(NamedTuple):
    """A date as printed on a page: a `date` (no time given) or a naive/aware `datetime`."""

    value: date | datetime
    precision: str


def localize(value: date | datetime, zone_name: str, precision: str | None = None) -> DateInfo:
    """Place a page date in time: naive times are read in `zone_name`, then moved to UTC.

    A plain `date` (or precision "day") stays a bare local date: moving it to UTC would need an
    hour the page does not give. An aware datetime keeps its own offset in `published_local`.
    `precision` defaults to "second" when the value has seconds and "minute" otherwise; pass it
    when the page format tells (a "12:29 PM" page is minute precision even at :00).
    """
    if not isinstance(value, datetime) or precision == "day":
        day = value.date() if isinstance(value, datetime) else value
        iso = day.isoformat()
        return DateInfo(iso, iso, "day")
    if precision is None:
        precision = "second" if (value.second or value.microsecond) else "minute"
    if precision not in ("minute", "second"):
        raise ValueError(f"Unknown date precision {precision!r}: use day, minute or second.")
    local = value if value.tzinfo is not None else value.replace(tzinfo=ZoneInfo(zone_name))
    local = local.replace(microsecond=0)
    if precision == "minute":
        local = local.replace(second=0)
    utc = local.astimezone(UTC)
    return DateInfo(
        utc.strftime("%Y-%m-%dT%H:%M:%SZ"), local.isoformat(timespec="seconds"), precision
    )


def localize_parsed(parsed: ParsedDate | None, zone_name: str) -> DateInfo | None:
    """`localize` for a `ParsedDate`, passing None through."""
    if parsed is None:
        return None
    return localize(parsed.value, zone_name, parsed.precision)


_MONTHS = {
    m: i
    for i, names in enumerate(
        (
            ("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"),
            ("may",), ("jun", "june"), ("jul", "july"), ("aug", "august"),
            ("sep", "sept", "september"), ("oct", "october"), ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for m in names
}  # fmt: skip

# "Aug 22, 2026 12:29 PM", "Jul 06, 2026 06:19 PM", "Dec. 25, 2019", "December 25, 2019 8:38 pm"
_MONTH_NAME = re.compile(
    r"""^(?P<mon>[A-Za-z]{3,9})\.?\s+(?P<d>\d{1,2}),?\s+(?P<y>\d{4})
        (?:,?\s+(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?\s*(?P<ampm>[AaPp]\.?[Mm]\.?)?)?$""",
    re.VERBOSE,
)
# "2019/12/25 20:38:40", "2019/1/5 8:03", "2019-12-25 20:38", "2019.12.25"
_NUMERIC = re.compile(
    r"""^(?P<y>\d{4})[/.-](?P<m>\d{1,2})[/.-](?P<d>\d{1,2})
        (?:[ T]+(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:\.\d+)?)?)?$""",
    re.VERBOSE,
)
# "2024年04月24日23:52", "2024年4月24日 23:52:10"
_CJK = re.compile(
    r"""^(?P<y>\d{4})年(?P<m>\d{1,2})月(?P<d>\d{1,2})日
        (?:\s*(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?)?$""",
    re.VERBOSE,
)
_ISO_TIME = re.compile(r"[T ](\d{2}):(\d{2})(:\d{2}(\.\d+)?)?")


def _build(
    y: str, m: int, d: str, hh: str | None, mm: str | None, ss: str | None, ampm: str | None = None
) -> ParsedDate:
    if hh is None:
        return ParsedDate(date(int(y), m, int(d)), "day")
    hour = int(hh)
    if ampm:
        pm = ampm.lower().startswith("p")
        if not 1 <= hour <= 12:
            raise ValueError(f"hour {hour} with {ampm}")
        hour = hour % 12 + (12 if pm else 0)
    value = datetime(int(y), m, int(d), hour, int(mm or 0), int(ss or 0))
    return ParsedDate(value, "second" if ss is not None else "minute")


def parse_iso(text: str) -> ParsedDate | None:
    """ISO 8601 with or without offset ("2019-12-25T20:38:40+08:00", "...Z", "2019-12-25")."""
    text = clean_text(text)
    if not re.match(r"^\d{4}-\d{2}-\d{2}", text):
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    time_part = _ISO_TIME.search(text)
    if time_part is None:
        return ParsedDate(value.date(), "day")
    return ParsedDate(value, "second" if time_part.group(3) else "minute")


def parse_date_text(text: str | None) -> ParsedDate | None:
    """Parse one date as the watched sites print it; None when the text is not a date.

    Formats: ISO 8601; "2019/12/25 20:38:40" (Global Times 2009-2020); "Aug 22, 2026 12:29 PM"
    (Global Times 2021+); "2024年04月24日23:52". The precision is what the text shows.
    """
    text = clean_text(text)
    if not text:
        return None
    iso = parse_iso(text)
    if iso is not None:
        return iso
    try:
        if match := _NUMERIC.match(text):
            g = match.groupdict()
            return _build(g["y"], int(g["m"]), g["d"], g["H"], g["M"], g["S"])
        if match := _CJK.match(text):
            g = match.groupdict()
            return _build(g["y"], int(g["m"]), g["d"], g["H"], g["M"], g["S"])
        if match := _MONTH_NAME.match(text):
            g = match.groupdict()
            month = _MONTHS.get(g["mon"].lower())
            if month is None:
                return None
            return _build(g["y"], month, g["d"], g["H"], g["M"], g["S"], g["ampm"])
    except ValueError as exc:  # e.g. "2019/13/45": looks like a date, is not one
        logger.debug("Not a valid date %r: %s", text, exc)
    return None


_PUBLISHED_UPDATED = re.compile(
    r"""Published\s*:\s*(?P<pub>.+?)\s*
        (?:(?:Last\s+)?Updated\s*:\s*(?P<upd>.+?)\s*)?$""",
    re.VERBOSE | re.IGNORECASE,
)


def parse_published_updated(text: str | None) -> tuple[ParsedDate | None, ParsedDate | None]:
    """The dates of a line like "Published: Aug 22, 2026 12:29 PM Updated: Aug 22, 2026 10:15 PM".

    Also "By X Source:Global Times Published: 2019/12/25 20:38:40" (anything before
    "Published:" is ignored) and "Last Updated:". Either part is None when absent or unreadable.
    """
    match = _PUBLISHED_UPDATED.search(clean_text(text))
    if match is None:
        return None, None
    return parse_date_text(match.group("pub")), parse_date_text(match.group("upd"))
