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
from urllib.parse import urlsplit
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


# --- Russian dates (and day-first English dates) ----------------------------------------------
# mid.ru prints "20.08.2026" (ru) and "30 September 2026" (en); Russian titles and datelines
# say "Москва, 20 августа 2026 года" (SOURCES.md §3, §4). Month names come in the genitive
# ("августа") after a day number; the nominative ("август") is accepted too, as some pages use it.

_RU_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("января", "январь", "янв"), ("февраля", "февраль", "фев"), ("марта", "март", "мар"),
            ("апреля", "апрель", "апр"), ("мая", "май"), ("июня", "июнь", "июн"),
            ("июля", "июль", "июл"), ("августа", "август", "авг"),
            ("сентября", "сентябрь", "сен", "сент"), ("октября", "октябрь", "окт"),
            ("ноября", "ноябрь", "ноя"), ("декабря", "декабрь", "дек"),
        ),
        start=1,
    )
    for name in names
}  # fmt: skip

# An optional time after the date: "20 августа 2026 года, 18:15", "20.08.2026 18:15".
_TIME_TAIL = r"(?:\s*(?:года|г\.)?\s*,?\s*(?:в\s+)?(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?)?"
# "20 августа 2026 (года)", "30 September 2026": day, month name, year.
_DAY_MONTH_YEAR = re.compile(
    r"(?<!\d)(?P<d>\d{1,2})\s+(?P<mon>[A-Za-zА-Яа-яЁё]{3,9})\.?,?\s+(?P<y>\d{4})(?:\s*(?:года|г\.))?"
    + _TIME_TAIL
)
# "20.08.2026": day.month.year, never year first (that is `parse_date_text`'s "2019.12.25").
_DOTTED_DMY = re.compile(
    r"(?<![\d.])(?P<d>\d{1,2})\.(?P<m>\d{1,2})\.(?P<y>\d{4})(?![\d.])" + _TIME_TAIL
)


def _month_number(name: str) -> int | None:
    name = name.lower().rstrip(".")
    return _RU_MONTHS.get(name) or _MONTHS.get(name)


def _find_day_first_date(text: str) -> tuple[re.Match[str], ParsedDate] | None:
    """The first day-first date in `text` with its match, or None."""
    candidates = [*_DAY_MONTH_YEAR.finditer(text), *_DOTTED_DMY.finditer(text)]
    for match in sorted(candidates, key=lambda m: m.start()):
        g = match.groupdict()
        month = int(g["m"]) if g.get("m") else _month_number(g["mon"])
        if month is None:
            continue
        try:
            return match, _build(g["y"], month, g["d"], g["H"], g["M"], g["S"])
        except ValueError as exc:  # "31.02.2026": shaped like a date, is not one
            logger.debug("Not a valid date %r: %s", match.group(0), exc)
    return None


def parse_russian_date(text: str | None) -> ParsedDate | None:
    """A day-first date anywhere in `text`: "20 августа 2026", "20 августа 2026 года",
    "20.08.2026", "30 September 2026", "Москва, 20 августа 2026 года".

    A following time ("…2026 года, 18:15") gives minute precision, else the precision is "day".
    None when the text holds no such date.
    """
    found = _find_day_first_date(clean_text(text))
    return found[1] if found else None


def split_place_date(text: str | None) -> tuple[str | None, ParsedDate | None]:
    """("Москва", 2026-08-20) from "Москва, 20 августа 2026 года".

    The place is the comma-separated segment right before the date, so a title that ends in a
    place and a date ("Брифинг …, Москва, 20 августа 2026 года", "Briefing by …, Moscow,
    June 18, 2026") gives its place too. Month-first English dates are read by
    `parse_date_text`. Either part is None when absent.
    """
    text = clean_text(text)
    found = _find_day_first_date(text)
    if found is not None:
        match, parsed = found
        head = text[: match.start()]
    else:
        month_first = re.search(r"[A-Z][a-z]{2,8}\.?\s+\d{1,2},\s*\d{4}\s*$", text)
        parsed = parse_date_text(month_first.group(0)) if month_first else None
        if parsed is None:
            return None, None
        head = text[: month_first.start()] if month_first else text
    head = head.rstrip(" ,")
    place = clean_text(head.rsplit(",", 1)[-1]) if head else ""
    return (place or None), parsed


# --- Chinese media: full-width text, dates inside lines, URL dates, wire datelines, credits ----
#
# Shared by the parsers of Xinhua, China Daily, CGTN, People's Daily and huanqiu (SOURCES.md §5-§9,
# §13). Chinese pages print dates inside longer lines ("2024年04月24日23:52 | 来源：新华网",
# "Politics 13:37, 25-Apr-2025"), open wire stories with a dateline and a reporter credit
# ("新华社巴黎12月9日电（记者唐霁）"), and end them with editor and production credits.

# Full-width ASCII letters and digits ("２０１９", "ＣＥＣＣ") are the ASCII characters in another
# width; full-width punctuation is Chinese typography and is kept as it is.
_FULLWIDTH_ALNUM = {
    **{0xFF10 + i: 0x30 + i for i in range(10)},
    **{0xFF21 + i: 0x41 + i for i in range(26)},
    **{0xFF41 + i: 0x61 + i for i in range(26)},
}
# Chinese punctuation carries its own spacing: a space beside it is an editing artefact
# ("来源： 新华网", "【责任编辑:张樵苏 】", "颠覆不了。 西方").
_CJK_PUNCTUATION = "，。、；：？！（）《》「」『』【】〔〕〈〉“”‘’…—·•"
_SPACE_BY_CJK_PUNCTUATION = re.compile(rf" +(?=[{_CJK_PUNCTUATION}])|(?<=[{_CJK_PUNCTUATION}]) +")


def clean_cjk_text(text: str | None) -> str:
    """`clean_text` for Chinese prose: also full-width letters/digits to ASCII and no spaces
    beside Chinese punctuation. The leading "　　" paragraph indent goes with the other spaces.

    Only for Chinese text: in English, a space after a closing quote is meaningful.
    """
    text = clean_text(text).translate(_FULLWIDTH_ALNUM)
    return _SPACE_BY_CJK_PUNCTUATION.sub("", text)


class DateMatch(NamedTuple):
    """A date found inside a longer line, with the text around it."""

    parsed: ParsedDate
    before: str
    after: str


# "2024年04月24日23:52", "2019年06月15日 08:18"
_CJK_DATE_IN_LINE = re.compile(
    r"""(?P<y>\d{4})\s*年\s*(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*日
        (?:\s*(?P<H>\d{1,2})[:：](?P<M>\d{2})(?:[:：](?P<S>\d{2}))?)?""",
    re.VERBOSE,
)
# "2019-12-10 07:57:40", "2023-11-17 15:13", "2026/7/6"
_NUMERIC_DATE_IN_LINE = re.compile(
    r"""(?<!\d)(?P<y>\d{4})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})
        (?:[ T]+(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?)?(?!\d)""",
    re.VERBOSE,
)
# CGTN: "13:37, 25-Apr-2025" (clock first, then day-month-year).
_CLOCK_DAY_MONTH_YEAR = re.compile(
    r"""(?<!\d)(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?,\s*
        (?P<d>\d{1,2})-(?P<mon>[A-Za-z]{3,9})\.?-(?P<y>\d{4})""",
    re.VERBOSE,
)


def search_date(text: str | None) -> DateMatch | None:
    """The first date printed inside `text`, with the text before and after it.

    "2024年04月24日23:52 | 来源：新华网" -> (2024-04-24 23:52, "", "| 来源：新华网");
    "Politics 13:37, 25-Apr-2025" -> (2025-04-25 13:37, "Politics", ""). The precision is what
    the line shows; a line with no valid date gives None.
    """
    text = clean_text(text).translate(_FULLWIDTH_ALNUM)
    found: list[tuple[int, DateMatch]] = []
    for pattern in (_CJK_DATE_IN_LINE, _NUMERIC_DATE_IN_LINE, _CLOCK_DAY_MONTH_YEAR):
        for match in pattern.finditer(text):
            g = match.groupdict()
            month = _MONTHS.get(g["mon"].lower()) if "mon" in g else int(g["m"])
            if month is None:
                continue
            try:
                parsed = _build(g["y"], month, g["d"], g["H"], g["M"], g["S"])
            except ValueError as exc:  # "2019-13-45": shaped like a date, is not one
                logger.debug("Not a valid date in %r: %s", text, exc)
                continue
            before, after = text[: match.start()].strip(), text[match.end() :].strip()
            found.append((match.start(), DateMatch(parsed, before, after)))
            break
    return min(found, key=lambda item: item[0])[1] if found else None


_UPDATED_LABEL = re.compile(r"(?:\bLast\s+)?\bUpdated\b\s*[:：]?|更新时间\s*[:：]", re.IGNORECASE)


def split_updated(text: str | None) -> tuple[str, ParsedDate | None]:
    """A byline with an "Updated" time, split: (the text before the label, the date after it).

    "By Zhang Zhihao | China Daily | Updated: 2023-03-20 08:10" -> ("By Zhang Zhihao | China
    Daily", 2023-03-20 08:10); a line without the label is returned whole with None.
    """
    text = clean_text(text)
    label = _UPDATED_LABEL.search(text)
    if label is None:
        return text, None
    found = search_date(text[label.end() :])
    before = text[: label.start()].strip().rstrip("|｜,，").strip()
    return before, found.parsed if found else None


# Dates in article URLs, each with the sites that use the shape.
_URL_DATES = (
    re.compile(r"/(?P<y>(?:19|20)\d\d)-(?P<m>\d\d)-(?P<d>\d\d)/"),  # CGTN /news/2019-12-25/
    re.compile(r"/(?P<y>(?:19|20)\d\d)-(?P<m>\d\d)/(?P<d>\d\d)/"),  # Xinhua /2019-12/10/c_<n>
    re.compile(r"/t(?P<y>(?:19|20)\d\d)(?P<m>\d\d)(?P<d>\d\d)_\d+"),  # MFA tYYYYMMDD_<n>
    re.compile(r"/(?P<y>(?:19|20)\d\d)(?P<m>\d\d)(?P<d>\d\d)/"),  # news.cn, RIA, Sputnik
    re.compile(r"/(?P<y>(?:19|20)\d\d)(?P<m>\d\d)/(?P<d>\d\d)/"),  # China Daily /a/202311/17/
    re.compile(r"/(?P<y>(?:19|20)\d\d)/(?P<m>\d\d)(?P<d>\d\d)/"),  # People /n1/2024/0424/
)


def url_date(url: str | None) -> date | None:
    """The publication day written into an article URL, for the sites that write one."""
    path = urlsplit(url or "").path
    for pattern in _URL_DATES:
        match = pattern.search(path)
        if match is None:
            continue
        try:
            return date(int(match["y"]), int(match["m"]), int(match["d"]))
        except ValueError:
            continue
    return None


def prefer_url_date(
    parsed: ParsedDate | None, url: str | None, tolerance_days: int = 3
) -> ParsedDate | None:
    """The page's date, unless the URL's date disagrees by more than `tolerance_days`.

    China Daily's meta publishdate has carried Buddhist-era years ("2569-10-12" for 2026-10-12,
    SOURCES.md §6); the date in the URL is the publication day, so when the two are far apart
    the URL's day is used (day precision: the URL gives no time). No URL date: unchanged.
    """
    url_day = url_date(url)
    if url_day is None:
        return parsed
    if parsed is None:
        return ParsedDate(url_day, "day")
    value = parsed.value
    page_day = value.date() if isinstance(value, datetime) else value
    if abs((page_day - url_day).days) > tolerance_days:
        logger.warning(
            "Page date %s is %d days from the URL's %s on %s; using the URL's date",
            page_day,
            abs((page_day - url_day).days),
            url_day,
            url,
        )
        return ParsedDate(url_day, "day")
    return parsed


# --- Chinese wire datelines and reporter credits ---------------------------------------------

_CJK_AGENCIES = (
    "新华社", "新华网", "中新社", "中新网", "人民网", "人民日报", "央视网", "中国日报网",
    "中国日报", "环球网", "光明网", "国际在线", "本报",
)  # fmt: skip
_AGENCY_ALT_CJK = "|".join(sorted(_CJK_AGENCIES, key=len, reverse=True))
# "新华社巴黎12月9日电（记者唐霁）", "新华社北京4月24日电　题：…", "本报北京12月25日讯（记者 张三）"
_CJK_DATELINE = re.compile(
    rf"""^(?P<dateline>(?:{_AGENCY_ALT_CJK})?[\u4e00-\u9fff]{{0,12}}?
        \d{{1,2}}月\d{{1,2}}日(?:电|讯))
        \s*(?:[（(](?P<credit>[^（）()]{{1,80}})[）)])?\s*""",
    re.VERBOSE,
)
# Role words before reporters' names: 记者, 新华社记者, 本报见习记者, 通讯员, ...
_REPORTER_ROLE = re.compile(
    rf"(?:{_AGENCY_ALT_CJK})?(?:特约|见习|实习|摄影|驻\S{{1,6}}?)?(?:记者|通讯员|实习生)"
)
_NAME_SEPARATORS = re.compile(r"[、，,;；&＆/／|｜\s]+")
# A Chinese name (2-4 characters, pen names a little longer) or a transcribed foreign one.
_CJK_NAME = re.compile(
    r"^[\u4e00-\u9fff]{2,6}$|^[\u4e00-\u9fff]{1,8}(?:[·•][\u4e00-\u9fff]{1,8})+$"
)


def cjk_names(text: str | None) -> list[str]:
    """The people in a credit ("记者宋晨、田中全" -> ["宋晨", "田中全"]), role words removed.

    Anything that is not shaped like a name is left out, so a credit damaged by a bad decoding
    ("胡\ufffd础") yields only its readable names.
    """
    text = _REPORTER_ROLE.sub(" ", clean_cjk_text(text))
    names: list[str] = []
    for part in _NAME_SEPARATORS.split(text):
        # "新华社" alone is the agency, not a person.
        if _CJK_NAME.match(part) and part not in names and part not in _CJK_AGENCIES:
            names.append(part)
    return names


class WireDateline(NamedTuple):
    """The head of a Chinese wire story: "新华社巴黎12月9日电（记者唐霁）法国9日…"."""

    dateline: str  # "新华社巴黎12月9日电"
    reporters: list[str]  # ["唐霁"]
    rest: str  # the paragraph after the dateline and its credit


def split_cjk_dateline(paragraph: str | None) -> WireDateline | None:
    """The dateline, reporters and rest of a paragraph that opens with a Chinese dateline."""
    text = clean_cjk_text(paragraph)
    match = _CJK_DATELINE.match(text)
    if match is None:
        return None
    credit = match.group("credit") or ""
    return WireDateline(match.group("dateline"), cjk_names(credit), text[match.end() :].strip())


# "……为今后的工作指明了方向。（记者宋晨、田中全）" at the end of the last paragraph; the
# closing bracket is optional because a mis-decoded page may have lost it.
_TRAILING_REPORTERS = re.compile(
    rf"[（(]\s*{_REPORTER_ROLE.pattern}\s*(?P<names>[^（）()]{{1,80}})[）)]?\s*$"
)


def trailing_reporters(paragraph: str | None) -> list[str]:
    """Reporters credited at the end of a story: "…方向。（记者宋晨、田中全）" -> their names."""
    match = _TRAILING_REPORTERS.search(clean_cjk_text(paragraph))
    return cjk_names(match.group("names")) if match else []


# A paragraph that is only a byline: "新华社记者", "本报记者 张三 李四",
# "执笔/叨叨姐、胡一刀&李小飞刀".
_CJK_BYLINE = re.compile(
    rf"""^(?:{_REPORTER_ROLE.pattern}\s*[:：]?|(?:执笔|撰文|作者|文|图|图文)\s*[/／:：])
        \s*(?P<names>[^。！？!?，,：:]{{0,60}})$""",
    re.VERBOSE,
)


def cjk_byline(paragraph: str | None) -> list[str] | None:
    """The names of a paragraph that is only a byline ([] for "新华社记者"); None for prose."""
    match = _CJK_BYLINE.match(clean_cjk_text(paragraph))
    if match is None:
        return None
    rest = match.group("names").strip()
    names = cjk_names(rest)
    # Every part must be a name: "记者：请介绍一下情况" is an interview question, not a byline.
    parts = [p for p in _NAME_SEPARATORS.split(rest) if p]
    return names if len(names) == len(parts) else None


# --- editor lines and production credits -----------------------------------------------------

_EDITOR_LABEL = r"(?:责任编辑|责编|编辑|实习编辑|值班编辑|审核|校对|(?:Web\s+)?[Ee]ditors?)"
# "责任编辑：尹世杰", "【责任编辑:张樵苏 】", "(责任编辑：牛镛、岳弘彬)", "（编辑：严玉洁 王辉）",
# "责编：薛艺磊", "(Web editor: Chen Lu, Zhang Yu)", "Editor: Huaxia"
_EDITOR_LINE = re.compile(
    rf"^[\[【(（]?\s*{_EDITOR_LABEL}\s*[:：]\s*[^\[\]【】()（）。!?！？]{{0,60}}?\s*[\]】)）]?$"
)
# The same credit in brackets at the end of a prose paragraph.
_EDITOR_TAIL = re.compile(
    rf"\s*[\[【(（]\s*{_EDITOR_LABEL}\s*[:：][^\[\]【】()（）]{{0,60}}[\]】)）]\s*$"
)

# Production credits at the end of Xinhua video stories (SOURCES.md §5): "策划：…",
# "监制：…", "记者：…", one per line or several on one line, then "新华社音视频部制作".
_CREDIT_ROLES = (
    "总策划", "总监制", "策划", "监制", "制片人", "制片", "出品人", "出品", "统筹", "记者",
    "编辑", "摄像", "摄影", "剪辑", "撰稿", "文字", "配音", "设计", "海报设计", "视觉",
    "编导", "导演", "后期", "动画", "包装", "翻译", "校对", "审核", "主编", "责编", "执行",
    "技术支持", "字幕", "航拍", "主持", "主播", "视频", "图片", "文案",
)  # fmt: skip
_CREDIT_LABEL = re.compile(
    r"(?:^|(?<=[\s|｜/]))(?:"
    + "|".join(sorted(_CREDIT_ROLES, key=len, reverse=True))
    + r")\s*[:：]"
)
_PRODUCTION_STAMP = re.compile(
    r"^(?:新华社|新华通讯社|新华网)[\u4e00-\u9fff]{0,16}?(?:联合)?(?:制作|出品|摄制)$"
)
# "图片均来自网络" and the like: where the pictures came from, not prose.
_PICTURE_SOURCE = re.compile(r"^(?:图片|配图|图)(?:均)?(?:来自|来源于|源自|来源)[:：]?\s*网络$")
_NOT_A_NAME_LIST = re.compile(r"[。！？!?；;]")


def is_editor_line(paragraph: str | None) -> bool:
    """True for a paragraph that only credits the editor ("责任编辑：…", "(Web editor: …)")."""
    text = clean_cjk_text(paragraph) if paragraph else ""
    return bool(text) and bool(_EDITOR_LINE.match(text))


def strip_editor_tail(paragraph: str | None) -> str:
    """A paragraph without the bracketed editor credit it ends with ("…。（责任编辑：X）")."""
    return _EDITOR_TAIL.sub("", paragraph or "").strip()


def is_production_credit(paragraph: str | None) -> bool:
    """True for a credits line ("策划：X 监制：Y", "新华社音视频部制作", "图片均来自网络")."""
    text = clean_cjk_text(paragraph)
    if not text:
        return False
    if _PRODUCTION_STAMP.match(text) or _PICTURE_SOURCE.match(text):
        return True
    labels = list(_CREDIT_LABEL.finditer(text))
    if not labels or labels[0].start() != 0:
        return False
    ends = [label.start() for label in labels[1:]] + [len(text)]
    for label, end in zip(labels, ends, strict=True):
        value = text[label.end() : end].strip()
        # A credit names people or a unit; a sentence or a question is prose.
        if not value or len(value) > 40 or _NOT_A_NAME_LIST.search(value):
            return False
    return True


def strip_credit_lines(paragraphs: Iterable[str]) -> list[str]:
    """Body paragraphs without editor lines (anywhere), bracketed editor credits at a
    paragraph's end, and the run of production credits and picture sources at the end.

    Production credits are only removed at the end: "记者：" mid-story is an interview question.
    """
    kept: list[str] = []
    for paragraph in paragraphs:
        if is_editor_line(paragraph):
            continue
        paragraph = strip_editor_tail(paragraph)
        if paragraph:
            kept.append(paragraph)
    while kept and (is_production_credit(kept[-1]) or is_editor_line(kept[-1])):
        kept.pop()
    return kept


# Chinese photo credits at the end of a caption: "新华社记者 高静 摄", "（新华社发）",
# "（张三 摄）".
_CJK_PHOTO_CREDIT = re.compile(
    r"""[\s（(]*(?P<credit>
        (?:新华社|中新社|本报|人民网|中国日报)?(?:特约|见习|实习)?(?:记者|通讯员)\s*
            [\u4e00-\u9fff·]{2,12}(?:\s*[、，]\s*[\u4e00-\u9fff·]{2,12})*\s*摄
        | 新华社发(?:\s*[（(][^（）()]{1,30}[）)])?
        | (?<=[（(])[\u4e00-\u9fff·]{2,12}\s+摄
    )\s*[）)]?\s*$""",
    re.VERBOSE,
)


def split_cjk_credit(text: str | None) -> Caption:
    """A Chinese photo caption split into text and credit ("…拍摄的照片。新华社记者 高静 摄");
    other captions go through `split_credit` (English credits occur on Chinese pages too)."""
    text = clean_cjk_text(text)
    match = _CJK_PHOTO_CREDIT.search(text)
    if match:
        return Caption(clean_cjk_text(text[: match.start()]), clean_text(match.group("credit")))
    return split_credit(text)


# --- Russian media: wire datelines, day-first English dates, © credits ------------------------
# TASS, RIA Novosti, Sputnik and RT (SOURCES.md §10-§12). Their wire stories open with a
# dateline: "BEIJING, December 25. /TASS/.", "МОСКВА, 25 декабря. /ТАСС/.", "ПЕКИН, 25 дек –
# РИА Новости.", "MOSCOW, December 25 (Sputnik) -". `crawler.parsers.base.find_dateline` reads
# the English Xinhua/TASS heads and returns them without the agency; `split_wire_dateline` keeps
# the agency (DESIGN.md: an agency goes in `dateline`), reads the Russian forms too, and returns
# the rest of the paragraph, so a body that drops the dateline loses no words.

_WIRE_CITY_EN = r"[A-Z][A-Z.'\- ]{1,40}?"
_WIRE_CITY_RU = r"[А-ЯЁ][А-ЯЁ.\- ]{1,40}?"
_WIRE_DAY_EN = r"[A-Z][a-z]{2,8}\.?\s\d{1,2}"  # "December 25", "Dec. 25"
_WIRE_DAY_RU = r"\d{1,2}\s[а-яё]{3,8}\.?"  # "25 декабря", "25 дек"
# A RIA dateline may name the correspondent after the agency: "… – РИА Новости, Анна Петрова."
_WIRE_AUTHOR_RU = r"[А-ЯЁ][а-яё]+(?:-[А-ЯЁ][а-яё]+)?\s[А-ЯЁ][а-яё]+(?:-[А-ЯЁ][а-яё]+)?"
_WIRE_DATELINES = (
    # TASS: "BEIJING, December 25. /TASS/.", "МОСКВА, 25 декабря. /ТАСС/."
    re.compile(
        rf"""^(?P<head>(?:{_WIRE_CITY_EN}(?:,\s{_WIRE_DAY_EN})?|{_WIRE_CITY_RU}(?:,\s{_WIRE_DAY_RU})?)
            \.?\s*/\s?(?:TASS|ТАСС)\s?/)\.?\s*""",
        re.VERBOSE,
    ),
    # RIA Novosti: "ПЕКИН, 25 дек – РИА Новости.", "МОСКВА, 25 дек — РИА Новости, Анна Петрова."
    re.compile(
        rf"""^(?P<head>{_WIRE_CITY_RU},\s{_WIRE_DAY_RU}\s[–—-]\s(?:РИА\sНовости|Sputnik))
            (?:,\s(?P<author>{_WIRE_AUTHOR_RU}))?\.\s*""",
        re.VERBOSE,
    ),
    # Sputnik, Xinhua and the like: "MOSCOW (Sputnik) -", "BEIJING, Dec. 25 (Xinhua) --".
    re.compile(
        rf"""^(?P<head>{_WIRE_CITY_EN}(?:,\s{_WIRE_DAY_EN})?
            \s\((?:Sputnik|Xinhua|TASS|RIA\sNovosti|Reuters|AFP|AP)\))\s*(?:--|[–—-])\s*""",
        re.VERBOSE,
    ),
)


class WireHead(NamedTuple):
    """The dateline that opens a wire story, and the paragraph without it."""

    dateline: str  # "BEIJING, December 25. /TASS/", "ПЕКИН, 25 дек – РИА Новости"
    author: str | None  # a correspondent named in the dateline (RIA), else None
    rest: str  # the paragraph after the dateline


def split_wire_dateline(paragraph: str | None) -> WireHead | None:
    """The dateline of a TASS, RIA or Sputnik paragraph (see above); None when it has none.

    A dateline is only taken when prose follows it: a paragraph that is nothing but a place
    and a date is left alone.
    """
    text = clean_text(paragraph)
    for pattern in _WIRE_DATELINES:
        match = pattern.match(text)
        if match and text[match.end() :].strip():
            author = match.groupdict().get("author")
            return WireHead(clean_text(match.group("head")), author, text[match.end() :].strip())
    return None


# RT: "20 Nov, 2019 05:47" (GMT, SOURCES.md §11); also "20 November 2019" and a "GMT"/"UTC"
# suffix, which makes the time aware. The whole string must be the date: this is for a date
# element's text, not for finding a date inside a sentence.
_DAY_FIRST_EN = re.compile(
    r"""^(?P<d>\d{1,2})\s+(?P<mon>[A-Za-z]{3,9})\.?,?\s+(?P<y>\d{4})
        (?:,?\s+(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?)?
        (?:\s*(?P<tz>GMT|UTC))?$""",
    re.VERBOSE,
)


def parse_day_first_english(text: str | None) -> ParsedDate | None:
    """ "20 Nov, 2019 05:47" -> 2019-11-20 05:47 (minute); None when `text` is not such a date.

    Without "GMT"/"UTC" the time is naive (the caller's zone applies); with it, it is UTC.
    """
    match = _DAY_FIRST_EN.match(clean_text(text))
    if match is None:
        return None
    g = match.groupdict()
    month = _MONTHS.get(g["mon"].lower())
    if month is None:
        return None
    try:
        parsed = _build(g["y"], month, g["d"], g["H"], g["M"], g["S"])
    except ValueError as exc:  # "31 Feb, 2019": shaped like a date, is not one
        logger.debug("Not a valid date %r: %s", text, exc)
        return None
    if g["tz"] and isinstance(parsed.value, datetime):
        return ParsedDate(parsed.value.replace(tzinfo=UTC), parsed.precision)
    return parsed


# "Chinese Foreign Ministry spokesman Geng Shuang © TASS", "… © Reuters / David Mercado":
# the credit after the copyright sign, kept with the sign as the page prints it (as
# `split_credit` keeps "Photo: Xinhua").
_COPYRIGHT_CREDIT = re.compile(r"\s*(?P<credit>©\s*[^©]{1,100}?)\s*$")


def split_copyright(text: str | None) -> Caption:
    """A caption split at its "©" credit; captions without one go through `split_credit`."""
    text = clean_text(text)
    match = _COPYRIGHT_CREDIT.search(text)
    if match is None:
        return split_credit(text)
    credit = clean_text(match.group("credit").replace("©", "© ", 1))
    return Caption(clean_text(text[: match.start()]), credit if credit != "©" else None)


def detach_wire_dateline(paragraphs: list[str]) -> tuple[WireHead | None, list[str]]:
    """(the dateline opening the first paragraph, the paragraphs with that dateline removed);
    (None, the paragraphs unchanged) when the first paragraph has none."""
    head = split_wire_dateline(paragraphs[0]) if paragraphs else None
    if head is None:
        return None, list(paragraphs)
    return head, [head.rest, *paragraphs[1:]]
