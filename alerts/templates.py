"""What an alert says: the text, HTML, Slack, webhook and console renderings of a payload.

Only what to say lives here; how to send it is alerts.channels, when is alerts.outbox
(Spidermon keeps monitors, actions and message templates apart in the same way). Every
function is pure: payload dict in, string or JSON-ready dict out.

Payloads (built by alerts.match, stored as JSON in the outbox):

- alert: {"rule", "query", "why", "story": {"id", "title", "first_seen_at"},
  "items": [{"source", "source_name", "url", "title", "published_at", "language", "kind",
  "snippet", "speaker", "turn_idx"}], "outlets": [source names]}
- digest: {"rule", "period", "alerts": [alert payloads]}
- health: {"title", "text"} (a message about presswatch itself)

Everything in a payload except the rule's name and query was scraped from a web page, so
every rendering treats it as hostile: control characters (terminal escape sequences) are
removed everywhere, HTML escapes it, Slack escapes &, < and > so a title such as
"<!channel>" or "<https://evil|click>" can never ping or link, and a mail subject folds it
to one line. Matched terms are marked in snippets with «...» (MARK_OPEN, MARK_CLOSE); HTML
turns a balanced pair into <mark>, so a stray « from Russian quotation marks stays text.
"""

from __future__ import annotations

import html
import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlsplit

MARK_OPEN = "«"
MARK_CLOSE = "»"

SUBJECT_PREFIX = "[presswatch]"
_SUBJECT_MAX = 160
# Block Kit limits: 3,000 characters of section text, 150 of header text, 50 blocks.
_SLACK_SECTION_MAX = 2900
_SLACK_HEADER_MAX = 150
_SLACK_MAX_BLOCKS = 50
_SNIPPET_MAX = 600

# C0 and C1 control characters except tab and newline: an ESC in a scraped title would
# otherwise reach a terminal (console channel) as an escape sequence.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_MARKED = re.compile(f"{re.escape(MARK_OPEN)}([^{MARK_OPEN}{MARK_CLOSE}]*){re.escape(MARK_CLOSE)}")
_SPACES = re.compile(r"\s+")


def clean(value: Any) -> str:
    """`value` as text without control characters (tab and newline kept); None is ""."""
    if value is None:
        return ""
    text = unicodedata.normalize("NFC", str(value))
    # Line and paragraph separators and bidi overrides could also reorder or split a line.
    text = text.replace("\u2028", "\n").replace("\u2029", "\n")
    text = re.sub("[\u202a-\u202e\u2066-\u2069]", "", text)
    return _CONTROL.sub("", text)


def one_line(value: Any, limit: int | None = None) -> str:
    """`value` cleaned, its whitespace (newlines included) folded to single spaces."""
    text = _SPACES.sub(" ", clean(value)).strip()
    return _truncate(text, limit) if limit else text


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def safe_url(value: Any) -> str | None:
    """An http(s) URL fit to link to, with spaces, quotes, <, >, | percent-encoded; else None.

    Refusing other schemes keeps a scraped "javascript:" URL out of an href.
    """
    url = one_line(value)
    if not url:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return quote(url, safe=":/?#[]@!$&'()*+,;=%~-._")


def _date(value: Any) -> str:
    """The date part of an ISO time ("2019-12-25T04:00:00Z" -> "2019-12-25")."""
    return one_line(value)[:10]


def _items(payload: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [item for item in payload.get("items") or () if isinstance(item, Mapping)]


def _alerts(payload: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [a for a in payload.get("alerts") or () if isinstance(a, Mapping)]


def _outlets(payload: Mapping[str, Any]) -> list[str]:
    names = [one_line(name) for name in payload.get("outlets") or ()]
    if not names:
        names = [one_line(i.get("source_name") or i.get("source")) for i in _items(payload)]
    return list(dict.fromkeys(name for name in names if name))


def _item_meta(item: Mapping[str, Any]) -> str:
    parts = [_date(item.get("published_at")), one_line(item.get("language"))]
    parts.append(one_line(item.get("kind")))
    return " · ".join(part for part in parts if part)


def _speaker(item: Mapping[str, Any]) -> str:
    speaker = one_line(item.get("speaker"))
    if not speaker:
        return ""
    turn = item.get("turn_idx")
    return f"{speaker} (turn {turn})" if isinstance(turn, int) else speaker


# --- subject --------------------------------------------------------------------------------


def subject(kind: str, payload: Mapping[str, Any], prefix: str = SUBJECT_PREFIX) -> str:
    """A one-line mail subject: "[presswatch] rule: story title"."""
    rule = one_line(payload.get("rule"))
    if kind == "digest":
        alerts = _alerts(payload)
        period = one_line(payload.get("period"))
        count = f"{len(alerts)} {'story' if len(alerts) == 1 else 'stories'}"
        text = f"{prefix} {rule} digest {period}: {count}"
    elif kind == "alert":
        title = one_line((payload.get("story") or {}).get("title"))
        text = f"{prefix} {rule}: {title}"
    else:
        text = f"{prefix} {one_line(payload.get('title')) or kind}"
    return one_line(text, _SUBJECT_MAX)


# --- plain text -------------------------------------------------------------------------------


def _what(payload: Mapping[str, Any]) -> str:
    """ "a story", or "3 stories of 2019-12-25" for an alert that bundles one day's stories."""
    stories = payload.get("stories") or []
    if len(stories) < 2:
        return "a story"
    days = sorted({str(item.get("published_at") or "")[:10] for item in payload.get("items", [])})
    return f"{len(stories)} stories of {one_line(days[0])}" if days else f"{len(stories)} stories"


def _alert_text(payload: Mapping[str, Any], heading: bool = True) -> list[str]:
    story = payload.get("story") or {}
    outlets = _outlets(payload)
    lines = []
    if heading:
        lines.append(f"Rule {one_line(payload.get('rule'))} matched {_what(payload)}.")
        lines.append("")
    lines.append(f"Story: {one_line(story.get('title'))}")
    if story.get("first_seen_at"):
        lines.append(f"First seen: {one_line(story.get('first_seen_at'))}")
    if payload.get("why"):
        lines.append(f"Why: {one_line(payload.get('why'))}")
    if outlets:
        lines.append(f"Outlets ({len(outlets)}): {', '.join(outlets)}")
    for item in _items(payload):
        lines.append("")
        name = one_line(item.get("source_name") or item.get("source"))
        lines.append(f"- {name}: {one_line(item.get('title'))}")
        if meta := _item_meta(item):
            lines.append(f"  {meta}")
        if speaker := _speaker(item):
            lines.append(f"  Speaker: {speaker}")
        if snippet := one_line(item.get("snippet"), _SNIPPET_MAX):
            lines.append(f"  {snippet}")
        if url := safe_url(item.get("url")):
            lines.append(f"  {url}")
    return lines


def render_text(kind: str, payload: Mapping[str, Any]) -> str:
    """The plain-text body (mail text part, console, webhook "text")."""
    if kind == "alert":
        lines = _alert_text(payload)
        if payload.get("query"):
            lines += ["", f"Query: {one_line(payload.get('query'))}"]
    elif kind == "digest":
        alerts = _alerts(payload)
        lines = [
            f"Digest of rule {one_line(payload.get('rule'))} for "
            f"{one_line(payload.get('period'))}: {len(alerts)} "
            f"{'story' if len(alerts) == 1 else 'stories'}."
        ]
        for number, alert in enumerate(alerts, 1):
            lines += ["", f"{number}.", *_alert_text(alert, heading=False)]
        if not alerts:
            lines += ["", "Nothing matched in this period."]
    else:
        lines = [one_line(payload.get("title")) or kind, "", clean(payload.get("text")).strip()]
    return "\n".join(lines).rstrip() + "\n"


# --- HTML -----------------------------------------------------------------------------------


def _h(value: Any) -> str:
    return html.escape(one_line(value), quote=True)


def mark_html(snippet: Any) -> str:
    """The snippet escaped, each balanced «term» turned into <mark>term</mark>."""
    escaped = html.escape(one_line(snippet, _SNIPPET_MAX), quote=True)
    return _MARKED.sub(r"<mark>\1</mark>", escaped)


def _alert_html(payload: Mapping[str, Any], heading: bool = True) -> list[str]:
    story = payload.get("story") or {}
    outlets = _outlets(payload)
    out = []
    if heading:
        out.append(f"<p>Rule <b>{_h(payload.get('rule'))}</b> matched {_h(_what(payload))}.</p>")
    out.append(f"<h2>{_h(story.get('title'))}</h2>")
    facts = []
    if story.get("first_seen_at"):
        facts.append(f"<li>First seen: {_h(story.get('first_seen_at'))}</li>")
    if payload.get("why"):
        facts.append(f"<li>Why: {_h(payload.get('why'))}</li>")
    if outlets:
        facts.append(f"<li>Outlets ({len(outlets)}): {html.escape(', '.join(outlets))}</li>")
    if facts:
        out.append("<ul>" + "".join(facts) + "</ul>")
    for item in _items(payload):
        name = _h(item.get("source_name") or item.get("source"))
        title = _h(item.get("title"))
        url = safe_url(item.get("url"))
        link = f'<a href="{html.escape(url, quote=True)}">{title}</a>' if url else title
        out.append(f"<h3>{name}: {link}</h3>")
        meta = [html.escape(_item_meta(item))]
        if speaker := _speaker(item):
            meta.append(f"Speaker: {html.escape(speaker)}")
        out.append(f"<p><small>{' · '.join(m for m in meta if m)}</small></p>")
        if item.get("snippet"):
            out.append(f"<blockquote>{mark_html(item.get('snippet'))}</blockquote>")
    return out


def render_html(kind: str, payload: Mapping[str, Any]) -> str:
    """The HTML body of a mail: a whole document, every scraped string escaped."""
    if kind == "alert":
        body = _alert_html(payload)
        if payload.get("query"):
            body.append(f"<p><small>Query: <code>{_h(payload.get('query'))}</code></small></p>")
    elif kind == "digest":
        alerts = _alerts(payload)
        body = [
            f"<p>Digest of rule <b>{_h(payload.get('rule'))}</b> for "
            f"{_h(payload.get('period'))}: {len(alerts)} "
            f"{'story' if len(alerts) == 1 else 'stories'}.</p>"
        ]
        for alert in alerts:
            body += ["<hr>", *_alert_html(alert, heading=False)]
        if not alerts:
            body.append("<p>Nothing matched in this period.</p>")
    else:
        text = html.escape(clean(payload.get("text")).strip())
        body = [f"<h2>{_h(payload.get('title')) or html.escape(kind)}</h2>", f"<pre>{text}</pre>"]
    title = html.escape(subject(kind, payload))
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>{title}</title></head>\n<body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


# --- Slack ------------------------------------------------------------------------------------


def slack_escape(value: Any, limit: int | None = None) -> str:
    """Scraped text made inert for Slack mrkdwn: &, < and > escaped, one line.

    Slack reads <!channel>, <@U123> and <url|label> only from raw < and >, so once they
    are &lt; and &gt; no scraped string can ping anyone or make a link.
    """
    text = one_line(value, limit)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_link(url: Any, label: str) -> str:
    safe = safe_url(url)
    if not safe:
        return label
    # In <url|label> a | ends the URL and > ends the link: safe_url percent-encodes both.
    return f"<{safe.replace('&', '&amp;')}|{label}>"


def _slack_alert_blocks(payload: Mapping[str, Any]) -> list[dict[str, Any]]:
    story = payload.get("story") or {}
    outlets = _outlets(payload)
    lines = [f"*Story:* {slack_escape(story.get('title'), 300)}"]
    if payload.get("why"):
        lines.append(f"*Why:* {slack_escape(payload.get('why'), 300)}")
    if outlets:
        lines.append(f"*Outlets ({len(outlets)}):* {slack_escape(', '.join(outlets), 1000)}")
    blocks: list[dict[str, Any]] = [_section("\n".join(lines))]
    for item in _items(payload):
        name = slack_escape(item.get("source_name") or item.get("source"), 100)
        title = _slack_link(item.get("url"), slack_escape(item.get("title"), 300))
        text = [f"*{name}:* {title}"]
        meta = _item_meta(item)
        if speaker := _speaker(item):
            meta = f"{meta} · Speaker: {speaker}" if meta else f"Speaker: {speaker}"
        if meta:
            text.append(slack_escape(meta))
        if item.get("snippet"):
            text.append(f"> {slack_escape(item.get('snippet'), _SNIPPET_MAX)}")
        blocks.append(_section("\n".join(text)))
    return blocks


def _section(text: str) -> dict[str, Any]:
    return {
        "type": "section",
        "text": {"type": "mrkdwn", "text": _truncate(text, _SLACK_SECTION_MAX)},
    }


def _header(text: str) -> dict[str, Any]:
    return {
        "type": "header",
        "text": {"type": "plain_text", "text": _truncate(text, _SLACK_HEADER_MAX), "emoji": False},
    }


def slack_message(kind: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    """The incoming-webhook body: Block Kit blocks plus a plain fallback "text".

    The header holds only the rule's name (from the configuration): scraped text goes in
    mrkdwn sections, where escaping is defined. The fallback "text" is what notifications
    show, so it is escaped too.
    """
    rule = one_line(payload.get("rule"), 80)
    blocks: list[dict[str, Any]]
    if kind == "alert":
        blocks = [_header(f"presswatch: {rule}"), *_slack_alert_blocks(payload)]
        if payload.get("query"):
            query = slack_escape(payload.get("query"), 500).replace("`", "'")
            blocks.append(_context(f"Query: `{query}`"))
    elif kind == "digest":
        alerts = _alerts(payload)
        period = one_line(payload.get("period"), 40)
        blocks = [_header(f"{rule} digest {period}: {len(alerts)} stories")]
        for alert in alerts:
            blocks += [{"type": "divider"}, *_slack_alert_blocks(alert)]
    else:
        blocks = [
            _header(f"presswatch: {kind}"),
            _section(f"*{slack_escape(payload.get('title'), 300)}*"),
            _section(slack_escape(payload.get("text"), _SLACK_SECTION_MAX)),
        ]
    if len(blocks) > _SLACK_MAX_BLOCKS:
        dropped = len(blocks) - (_SLACK_MAX_BLOCKS - 1)
        blocks = [*blocks[: _SLACK_MAX_BLOCKS - 1], _context(f"…and {dropped} more blocks.")]
    return {
        "text": slack_escape(subject(kind, payload)),
        "blocks": blocks,
        # Previews of every outlet's page would bury the alert itself.
        "unfurl_links": False,
        "unfurl_media": False,
    }


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


# --- webhook, console, JSONL ------------------------------------------------------------------


def webhook_body(key: str, kind: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    """The generic webhook's JSON: the payload as stored, plus a subject and a text rendering.

    `id` is the outbox key: a receiver that sees the same id twice (a resend after a crash)
    can drop the second.
    """
    return {
        "id": key,
        "kind": kind,
        "subject": subject(kind, payload),
        "text": render_text(kind, payload),
        "payload": _clean_tree(payload),
    }


def _clean_tree(value: Any) -> Any:
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, Mapping):
        return {str(k): _clean_tree(v) for k, v in value.items()}
    if isinstance(value, Sequence):
        return [_clean_tree(v) for v in value]
    return value


def console_text(kind: str, payload: Mapping[str, Any]) -> str:
    """What the console channel prints: the subject line, then the text body."""
    return f"{subject(kind, payload)}\n{render_text(kind, payload)}"


def jsonl_line(key: str, kind: str, payload: Mapping[str, Any], sent_at: str) -> str:
    """One line of the JSONL channel's file (no newline): key, kind, time, subject, payload."""
    record = {
        "id": key,
        "kind": kind,
        "sent_at": sent_at,
        "subject": subject(kind, payload),
        "payload": _clean_tree(payload),
    }
    # ensure_ascii=False keeps 中俄 readable; json escapes any newline, so one record a line.
    return json.dumps(record, ensure_ascii=False, sort_keys=True)
