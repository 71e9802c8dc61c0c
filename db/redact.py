"""Secrets out of logs, out of the database and out of error messages: the one place that
knows what is secret and how it is hidden.

What is secret:

1. Known values, registered by the code that handles them: `add_secret` (a channel's resolved
   ${VAR}, a Scrapy setting whose name says it is secret, the password of a URL the crawler
   sent as HTTP Basic auth) and `watch_env` (the environment variables presswatch.toml's
   [channels] refer to, read at redaction time, never stored). A value also counts in the
   pieces a server may echo on their own: a URL's password and the token-like pieces
   (`secret_parts`, narrowed by `_parts`), such as the token of "Bearer <token>" or the last
   segment of a webhook URL.
2. Patterns, secret whoever wrote them: the userinfo of a URL (http://user:pass@host/), the
   path of a Slack or Discord webhook, Authorization, Cookie and API-key header values,
   Bearer tokens, and query parameters named like secrets (?token=, ?api_key=, ...).

Each is replaced by MARKER. Two strengths:

- `redact` (known values, their pieces and every pattern) for what presswatch itself says:
  log records (`RedactingFilter`, attached by `protect_logging`), crawl_runs error and stats,
  outbox last_error, source_health messages.
- `scrub` (known whole values and URL userinfo only) for scraped content, articles and the
  payloads built from them: a news article may say "Bearer bonds" or quote a URL path, and
  scraped text is kept as the site wrote it except for what would hand out a credential.

It lives in db, the package every other one imports, because every persisted string goes
through db's write functions, which call it; logging is wired by the crawl (Scrapy add-on
crawler.credentials.SecretSettings) and by the CLI and the scheduler (`protect_logging`).
"""

from __future__ import annotations

import functools
import logging
import os
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

MARKER = "***"
# Secrets shorter than this are not redacted: replacing every "1" in a message would hide
# the message, and a 3-character secret protects nothing anyway.
MIN_SECRET = 4
# Pieces of a secret (a URL's path segment, a word of a header) at least this long are
# redacted on their own as well; shorter ones ("services", "Bearer") are not secret.
MIN_PART = 10

# A ${VAR} reference in presswatch.toml: the variable's value is a secret.
ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")

# Words that make a setting, header or variable name secret (MAIL_PASS, ZYTE_API_KEY,
# X-Auth-Token), unless the name ends in a word that says it only configures the secret
# (HTTPPROXY_AUTH_ENCODING, COOKIES_ENABLED).
_SECRET_WORDS = frozenset(
    {
        "PASS",
        "PASSWD",
        "PASSWORD",
        "PASSPHRASE",
        "PWD",
        "SECRET",
        "TOKEN",
        "KEY",
        "APIKEY",
        "AUTH",
        "AUTHORIZATION",
        "WEBHOOK",
        "COOKIE",
        "COOKIES",
        "CREDENTIAL",
        "CREDENTIALS",
        "SIGNATURE",
        "DSN",
    }
)
_NOT_SECRET_LAST = frozenset({"ENABLED", "DEBUG", "ENCODING", "DOMAIN", "CLASS", "POLICY"})
_NAME_WORDS = re.compile(r"[^A-Za-z0-9]+|(?<=[a-z])(?=[A-Z])")

# scheme://userinfo@ : the userinfo, whatever it holds, never identifies a page. A ${VAR}
# reference (here and in the patterns below) is not a secret but the advice to use one.
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)(?!\$\{)[^\s/?#@<>\[\]\"'`]+@")
# user:password@host without a scheme, as Twisted quotes a netloc ("invalid hostname: ...").
_BARE_USERINFO = re.compile(
    r"(?<![\w/:.@%${-])[^\s/?#@:<>()\[\]\"'`${}]+:[^\s/?#@<>()\[\]\"'`]+@(?=\w)"
)
# (what the lower-cased text must contain for the pattern to be tried, pattern, replacement):
# the cheap test skips most regexes for most log lines.
_PATTERNS: tuple[tuple[tuple[str, ...], re.Pattern[str], str], ...] = (
    (("@",), _URL_USERINFO, rf"\1{MARKER}@"),
    (("@",), _BARE_USERINFO, f"{MARKER}@"),
    # The path of a Slack or Discord webhook is its credential.
    (
        ("hooks.slack.com",),
        re.compile(r"(?i)(hooks\.slack\.com/(?:services|workflows|triggers)/)[^\s\"'<>`]+"),
        rf"\1{MARKER}",
    ),
    (
        ("discord",),
        re.compile(r"(?i)(discord(?:app)?\.com/api/webhooks/)[^\s\"'<>`]+"),
        rf"\1{MARKER}",
    ),
    # A header and its value as code prints them: "Authorization: Basic ...",
    # {'Authorization': 'Bearer ...'}, {b'Cookie': [b'...']}.
    (
        ("authorization", "cookie", "api-key", "auth-token", "private-token"),
        re.compile(
            r"(?i)\b((?:proxy-)?authorization|set-cookie|cookie|x-api-key|api-key|x-auth-token"
            r"|private-token)((?>['\"]?\s*[:=]\s*\[?\s*(?:b?['\"])?))(?!\$\{)([^'\"\s\])>][^'\"\r\n\])>]*)"
        ),
        rf"\1\2{MARKER}",
    ),
    (("bearer",), re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9\-._~+/]+=*"), rf"\1{MARKER}"),
    (
        ("=",),
        re.compile(
            r"(?i)([?&;](?:access_token|refresh_token|id_token|token|api_key|apikey|key|secret"
            r"|client_secret|password|passwd|pwd|pass|auth|sig|signature|private_token)=)"
            r"(?!\$\{)[^&#\s\"'<>`]+"
        ),
        rf"\1{MARKER}",
    ),
)

_lock = threading.Lock()
_values: set[str] = set()
_env_names: set[str] = set()
_compiled: dict[tuple[bool, tuple[str, ...]], _Known] = {}


def secret_parts(value: str) -> set[str]:
    """`value` and the pieces of it a server might echo on their own.

    A server answering "no_service for /services/T0/B0/XXXX" shows a Slack webhook's token
    without its host; "invalid token XXXX" shows an Authorization header without "Bearer".
    So a URL's path, query, password, long path segments and query values count as secrets,
    and so does every long word; each also percent-encoded.
    """
    parts = {value, *(word for word in value.split() if len(word) >= MIN_PART)}
    try:
        url = urlsplit(value)
    except ValueError:
        url = None
    if url is not None and url.scheme in ("http", "https") and url.netloc:
        if len(url.path) > 1:
            parts.add(url.path)
        parts.update(piece for piece in (url.query, url.password or "") if piece)
        parts.update(seg for seg in url.path.split("/") if len(seg) >= MIN_PART)
        for _, item in parse_qsl(url.query, keep_blank_values=True):
            if len(item) >= MIN_PART:
                parts.add(item)
    return parts | {quote(part, safe="") for part in parts}


def replace_secrets(text: str, secrets: Iterable[str]) -> str:
    """`text` with each of `secrets` (MIN_SECRET characters or more) replaced by MARKER.

    Longest first, so a secret that contains another is replaced whole.
    """
    for secret in sorted(set(secrets), key=len, reverse=True):
        if len(secret) >= MIN_SECRET:
            text = text.replace(secret, MARKER)
    return text


def secret_name(name: str) -> bool:
    """Does a setting, header or variable called `name` hold a secret (MAIL_PASS: yes)?"""
    words = [word.upper() for word in _NAME_WORDS.split(name) if word]
    return bool(words) and words[-1] not in _NOT_SECRET_LAST and not _SECRET_WORDS.isdisjoint(words)


def add_secret(value: str) -> None:
    """Redact `value` (and its token-like pieces, see `_parts`) from now on, in this process."""
    if isinstance(value, str) and len(value) >= MIN_SECRET:
        with _lock:
            _values.add(value)


def watch_env(names: Iterable[str]) -> None:
    """Redact the values of these environment variables, read each time text is redacted."""
    with _lock:
        _env_names.update(names)


def env_references(value: Any) -> list[str]:
    """The names of the ${VAR} references in `value`: a string, or a table of strings."""
    if isinstance(value, str):
        return ENV_REFERENCE.findall(value)
    if isinstance(value, dict):
        return [name for item in value.values() for name in env_references(item)]
    return []


def _secrets() -> tuple[str, ...]:
    with _lock:
        values = set(_values)
        names = sorted(_env_names)
    values.update(os.environ.get(name) or "" for name in names)
    return tuple(sorted(value for value in values if len(value) >= MIN_SECRET))


def _token_like(part: str) -> bool:
    return (
        len(part) >= MIN_PART
        and not any(c.isspace() or c == "/" for c in part)
        and any(c.isdigit() for c in part)
        and any(c.isalpha() for c in part)
    )


@functools.lru_cache(maxsize=256)
def _parts(value: str) -> frozenset[str]:
    """The pieces of `value` redacted process-wide: a URL's password, and the pieces that
    look like tokens (letters and digits, MIN_PART long).

    Narrower than `secret_parts`, which a channel applies to its own errors only: the path
    of a webhook at https://example.org/hooks/presswatch must not turn every "presswatch"
    in every log line into MARKER.
    """
    try:
        password = urlsplit(value).password or ""
    except ValueError:
        password = ""
    parts = {part for part in secret_parts(value) if _token_like(part)}
    if len(password) >= MIN_SECRET:
        parts.update((password, quote(password, safe="")))
    return frozenset(parts)


@dataclass(frozen=True)
class _Known:
    """The known secrets at one moment, longest first, and one regex for all of them."""

    words: tuple[str, ...] = ()
    pattern: re.Pattern[str] | None = None

    def sub(self, text: str) -> str:
        # Substring tests first: a C search per secret is much cheaper than the regex on a
        # 10 kB article body, and almost no text holds a secret.
        if self.pattern is not None and any(word in text for word in self.words):
            return self.pattern.sub(MARKER, text)
        return text


def _known(with_parts: bool) -> _Known:
    """The known secrets, with their pieces when `with_parts`; cached until they change."""
    secrets = _secrets()
    key = (with_parts, secrets)
    cached = _compiled.get(key)
    if cached is not None:
        return cached
    words = set(secrets)
    if with_parts:
        for secret in secrets:
            words.update(_parts(secret))
    ordered = tuple(
        sorted((word for word in words if len(word) >= MIN_SECRET), key=len, reverse=True)
    )
    known = _Known(ordered, re.compile("|".join(map(re.escape, ordered))) if ordered else None)
    with _lock:
        if len(_compiled) > 64:  # the secrets changed many times (tests): start afresh
            _compiled.clear()
        _compiled[key] = known
    return known


def _redact_with(known: _Known, text: str) -> str:
    if not text:
        return text
    text = known.sub(text)
    lower = text.lower()
    for needles, pattern, replacement in _PATTERNS:
        if any(needle in lower for needle in needles):
            text = pattern.sub(replacement, text)
    return text


def _scrub_with(known: _Known, text: str) -> str:
    if not text:
        return text
    text = known.sub(text)
    if "@" in text and "://" in text:
        text = _URL_USERINFO.sub(rf"\1{MARKER}@", text)
    return text


def redact(text: str) -> str:
    """`text` with every known secret, its pieces, and every secret pattern made MARKER.

    For what presswatch writes itself: log lines, errors, stats, problem messages.
    """
    return _redact_with(_known(with_parts=True), text)


def scrub(text: str) -> str:
    """`text` with known secrets (whole) and the userinfo of URLs made MARKER.

    For scraped content: everything else a site wrote is kept as it wrote it.
    """
    return _scrub_with(_known(with_parts=False), text)


def strip_userinfo(url: str) -> str:
    """`url` without user:password@: "http://u:p@host/a" -> "http://host/a"."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return scrub(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def _walk(value: Any, clean: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, dict):
        return {_walk(k, clean): _walk(v, clean) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_walk(item, clean) for item in value]
    return value


def redact_data(value: Any) -> Any:
    """`value` (JSON-like: dicts, lists, strings) with `redact` applied to every string."""
    return _walk(value, functools.partial(_redact_with, _known(with_parts=True)))


def scrub_data(value: Any) -> Any:
    """`value` (JSON-like) with `scrub` applied to every string."""
    return _walk(value, functools.partial(_scrub_with, _known(with_parts=False)))


class RedactingFilter(logging.Filter):
    """Redacts every record a handler emits: its message, traceback and stack.

    On a handler rather than a logger: a logger's filters see only the records logged to
    that very logger, a handler's see those of every logger that propagates to it.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError, KeyError):
            # Arguments that do not fit the format: kept, redacted, beside it; formatting
            # them as they are would print them unredacted in logging's error report.
            record.msg = redact(f"{record.msg!s} (arguments: {record.args!r})")
            record.args = None
            return True
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def protect_logging(logger: logging.Logger | None = None) -> None:
    """Attach a RedactingFilter to every handler of `logger` (the root logger by default)
    and to logging's last-resort handler, once each.

    Call it again after something replaces the handlers: Scrapy installs a new root
    handler for each crawler (see crawler.credentials.SecretSettings).
    """
    handlers = list((logger or logging.getLogger()).handlers)
    if logging.lastResort is not None:
        handlers.append(logging.lastResort)
    for handler in handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
