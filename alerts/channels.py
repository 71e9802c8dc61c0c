"""How an alert is sent: one Channel class per `type` of a [channels.NAME] table.

Owns the transports (SMTP, Slack incoming webhooks, generic JSON webhooks, the console, a
JSONL file), the reading of secrets, and the rule that decides whether a failed send is worth
retrying. What a message says is alerts.templates; when and how often it is tried is
alerts.outbox.

A channel's `send` returns on success and raises ChannelError otherwise, with `permanent`
set when retrying cannot help (the server refused the message or the credentials) and
`retry_after` when the server said when to come back (HTTP 429/503 Retry-After). Anything
else (a timeout, a refused connection, HTTP 5xx, SMTP 4xx) is transient.

Secrets: configuration values may hold ${ENV_VAR} references. They are resolved at send time
with `resolve_secret`, never when the configuration is loaded; passwords and Slack webhook
URLs must be such references. Resolved values are kept in memory only to be redacted: no
error message, log line or outbox.last_error ever contains one, and the URL of a webhook
(whose path is often its token) is never shown, only the channel's name.

Apprise is not used: its notify() answers True or False, which cannot tell a revoked token
from an outage nor carry Retry-After, and both decide what the outbox does next.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import os
import re
import smtplib
import ssl
import sys
import urllib.error
import urllib.request
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import formatdate, parseaddr, parsedate_to_datetime
from http.client import HTTPException
from pathlib import Path
from typing import Any, ClassVar

from alerts import templates
from db.redact import ENV_REFERENCE as _REFERENCE
from db.redact import add_secret, replace_secrets
from db.redact import secret_parts as _secret_parts

logger = logging.getLogger(__name__)

USER_AGENT = "presswatch-alerts/0.1"
DEFAULT_TIMEOUT = 30.0
# A server asking for more than a day is treated as asking for a day: the message stays
# pending and is not forgotten.
MAX_RETRY_AFTER = 86_400.0
_SECRET_HEADER = re.compile(r"authorization|token|secret|key|signature|cookie", re.IGNORECASE)


class ChannelConfigError(ValueError):
    """A [channels.NAME] table is invalid; the message names the channel and the fix."""


class SecretError(ChannelConfigError):
    """A ${VAR} reference names an environment variable that is not set."""


class ChannelError(Exception):
    """A send failed; `permanent`: retrying cannot help; `retry_after`: seconds asked for."""

    def __init__(
        self, message: str, *, permanent: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after


@dataclass(frozen=True)
class OutgoingMessage:
    """One outbox row as a channel sees it."""

    key: str
    kind: str
    payload: Mapping[str, Any]
    channel: str


def resolve_secret(value: str, *, where: str = "") -> str:
    """`value` with each ${VAR} replaced by the environment variable VAR, read now.

    An unset or empty variable raises SecretError naming the variable (never a value) and
    `where` it is used, e.g. "[channels.team_mail] password".
    """

    def lookup(match: re.Match[str]) -> str:
        name = match.group(1)
        found = os.environ.get(name)
        if not found:
            place = f" (used by {where})" if where else ""
            state = "is empty" if found == "" else "is not set"
            raise SecretError(
                f"Environment variable {name} {state}{place}. Export it in the environment "
                "presswatch runs in (for cron or systemd, in the job's environment)."
            )
        return found

    return _REFERENCE.sub(lookup, value)


def is_reference(value: Any) -> bool:
    """True when `value` is a string holding a ${VAR} reference."""
    return isinstance(value, str) and bool(_REFERENCE.search(value))


def message_id(key: str, domain: str = "presswatch.invalid") -> str:
    """The Message-ID of the mail for outbox `key`: the same key always gives the same id.

    A hash rather than the key itself: the key holds rule names and ids that are not all
    valid in a Message-ID, and a hash is fixed-length.
    """
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:40]
    return f"<presswatch.{digest}@{domain}>"


class Channel(ABC):
    """A named destination. Subclasses set `type`, `fields`, and implement `send`."""

    type: ClassVar[str]
    # Allowed keys of the [channels.NAME] table besides "type" and "name".
    fields: ClassVar[frozenset[str]] = frozenset()
    required: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, name: str, config: Mapping[str, Any]) -> None:
        self.name = name
        self.config = dict(config)
        unknown = set(self.config) - self.fields - {"type", "name"}
        if unknown:
            raise ChannelConfigError(
                f"[channels.{name}] has unknown key(s) {', '.join(sorted(unknown))}. "
                f"A {self.type} channel takes: {', '.join(sorted(self.fields))}."
            )
        missing = [field for field in sorted(self.required) if not self.config.get(field)]
        if missing:
            raise ChannelConfigError(
                f"[channels.{name}] needs {', '.join(missing)} for a {self.type} channel."
            )
        self.timeout = self._number("timeout", DEFAULT_TIMEOUT)
        # Resolved secret values, in memory only, so that `redact` can remove them.
        self._secrets: set[str] = set()

    def __repr__(self) -> str:  # never the config: it may hold a literal URL with a token
        return f"<{type(self).__name__} {self.name!r}>"

    @abstractmethod
    def send(self, message: OutgoingMessage) -> str | None:
        """Deliver `message`; return a receipt (the Message-ID) or None. Raises ChannelError."""

    def close(self) -> None:
        """Release connections kept between sends (SMTP); the channel can still send after."""
        return None  # most channels keep nothing open between sends

    def check(self) -> None:
        """Resolve every ${VAR} reference now: raises SecretError naming a missing variable.

        For a command to fail early; sending resolves them again, so a variable changed in
        between is still read where used.
        """
        for field in sorted(self.fields):
            value = self.config.get(field)
            if is_reference(value):
                self._resolve(field)
            elif isinstance(value, Mapping):
                for subkey, item in value.items():
                    if is_reference(item):
                        self._resolve(field, subkey)

    def redact(self, text: str) -> str:
        """`text` with every secret this channel has resolved replaced by "***"."""
        return replace_secrets(text, self._secrets)

    def _resolve(self, field: str, subkey: str | None = None, *, secret: bool = True) -> str:
        """A config value with ${VAR} resolved; remembered for redaction when `secret`."""
        value = self.config[field] if subkey is None else self.config[field][subkey]
        where = f"[channels.{self.name}] {field}" + (f".{subkey}" if subkey else "")
        resolved = resolve_secret(str(value), where=where)
        if secret and resolved:
            self._secrets.update(_secret_parts(resolved))
            # And for the whole process: a log line or a stored error quoting it elsewhere.
            add_secret(resolved)
        return resolved

    def _number(self, field: str, default: float) -> float:
        value = self.config.get(field, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ChannelConfigError(
                f"[channels.{self.name}] {field} must be a positive number, got {value!r}."
            )
        return float(value)

    def _require_reference(self, field: str, example: str) -> None:
        if field in self.config and not is_reference(self.config[field]):
            raise ChannelConfigError(
                f"[channels.{self.name}] {field} must be an environment reference, not the "
                f'secret itself: write {field} = "${{{example}}}" and export {example}.'
            )


# --- console and JSONL ------------------------------------------------------------------------


class ConsoleChannel(Channel):
    """Prints each message to standard output (the demo, and trying rules out)."""

    type = "console"
    fields = frozenset({"timeout"})

    def send(self, message: OutgoingMessage) -> str | None:
        # sys.stdout looked up at send time, so click's CliRunner and capsys see the output.
        stream = sys.stdout
        stream.write(templates.console_text(message.kind, message.payload) + "\n")
        stream.flush()
        return None


class JsonlChannel(Channel):
    """Appends one JSON line per message to `path`, flushed to disk before it counts as sent."""

    type = "jsonl"
    fields = frozenset({"path", "timeout"})
    required = frozenset({"path"})

    def send(self, message: OutgoingMessage) -> str | None:
        path = Path(self._resolve("path", secret=False)).expanduser()
        sent_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        line = templates.jsonl_line(message.key, message.kind, message.payload, sent_at)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as handle:
                handle.write(line + "\n")
                handle.flush()
                # Acknowledged means on disk: without fsync a power cut could lose a line
                # that the outbox already marked sent.
                os.fsync(handle.fileno())
        except OSError as exc:
            raise ChannelError(
                f"Appending to {path} failed: {exc.strerror or exc}. Make the file and its "
                "folder writable."
            ) from None
        return None


# --- email ------------------------------------------------------------------------------------


SECURITY_MODES = ("starttls", "ssl", "none")
_DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}


class EmailChannel(Channel):
    """SMTP with STARTTLS, implicit TLS (ssl) or none; multipart text + HTML mail.

    The connection is opened at the first send and kept for the rest of the batch (one TLS
    handshake and login per delivery run, not per message); `close` ends it.
    """

    type = "email"
    fields = frozenset(
        {
            "smtp_host",
            "smtp_port",
            "security",
            "username",
            "password",
            "from",
            "to",
            "timeout",
            "ca_file",
            "subject_prefix",
        }
    )
    required = frozenset({"smtp_host", "from", "to"})

    def __init__(self, name: str, config: Mapping[str, Any]) -> None:
        super().__init__(name, config)
        self.security = str(self.config.get("security", "starttls")).lower()
        if self.security not in SECURITY_MODES:
            raise ChannelConfigError(
                f"[channels.{name}] security must be one of {', '.join(SECURITY_MODES)}, "
                f"got {self.config.get('security')!r}."
            )
        port = self.config.get("smtp_port", _DEFAULT_PORTS[self.security])
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise ChannelConfigError(f"[channels.{name}] smtp_port must be a port number.")
        self.port = port
        self._require_reference("password", "PRESSWATCH_SMTP_PASSWORD")
        if self.config.get("password") and not self.config.get("username"):
            raise ChannelConfigError(f"[channels.{name}] has a password but no username.")
        host = str(self.config["smtp_host"])
        if self.security == "none" and self.config.get("username") and not _is_loopback(host):
            raise ChannelConfigError(
                f"[channels.{name}] would send the SMTP password unencrypted to {host}: "
                'set security = "starttls" (or "ssl" for port 465).'
            )
        to = self.config["to"]
        self.to = [to] if isinstance(to, str) else list(to)
        self.from_header = str(self.config["from"])
        for address in [self.from_header, *self.to]:
            if not _valid_address(address):
                raise ChannelConfigError(
                    f"[channels.{name}] has an invalid address {address!r}: write "
                    '"name@example.org" or "Name <name@example.org>".'
                )
        self.envelope_from = parseaddr(self.from_header)[1]
        self.envelope_to = [parseaddr(address)[1] for address in self.to]
        self.domain = self.envelope_from.rpartition("@")[2] or "presswatch.invalid"
        self.subject_prefix = str(self.config.get("subject_prefix", templates.SUBJECT_PREFIX))
        self._smtp: smtplib.SMTP | None = None

    def build(self, message: OutgoingMessage) -> EmailMessage:
        """The mail for `message`: headers from configuration and templates, text + HTML.

        Scraped text reaches headers only through templates.subject, which folds it to one
        line, and EmailMessage refuses any header value with a line break: no header
        injection.
        """
        mail = EmailMessage(policy=SMTP_POLICY)
        mail["Subject"] = templates.subject(message.kind, message.payload, self.subject_prefix)
        mail["From"] = self.from_header
        mail["To"] = ", ".join(self.to)
        mail["Date"] = formatdate(usegmt=True)
        mail["Message-ID"] = message_id(message.key, self.domain)
        # RFC 3834: vacation responders must not answer an automatic message.
        mail["Auto-Submitted"] = "auto-generated"
        if rule := templates.one_line(message.payload.get("rule"), 100):
            mail["X-Presswatch-Rule"] = rule
        mail.set_content(templates.render_text(message.kind, message.payload))
        mail.add_alternative(templates.render_html(message.kind, message.payload), subtype="html")
        return mail

    def send(self, message: OutgoingMessage) -> str | None:
        mail = self.build(message)
        reused = self._smtp is not None
        try:
            smtp = self._connection()
            try:
                refused = smtp.send_message(mail, self.envelope_from, self.envelope_to)
            except smtplib.SMTPServerDisconnected:
                self._drop()
                if not reused:
                    raise
                # The server closed an idle connection kept from an earlier send: the
                # message was not transmitted, so one fresh connection is safe.
                smtp = self._connection()
                refused = smtp.send_message(mail, self.envelope_from, self.envelope_to)
        except (smtplib.SMTPException, OSError, SecretError) as exc:
            self._drop()
            raise self._error(exc) from None
        if refused:
            logger.warning(
                "Channel %s: the server refused %s for %s; the other recipients got it",
                self.name,
                ", ".join(sorted(refused)),
                message.key,
            )
        return str(mail["Message-ID"])

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError) as exc:
                logger.debug("Channel %s: QUIT failed (%s)", self.name, type(exc).__name__)
            self._drop()

    def _connection(self) -> smtplib.SMTP:
        if self._smtp is not None:
            return self._smtp
        host = self._resolve("smtp_host", secret=False)
        context = ssl.create_default_context(cafile=self.config.get("ca_file"))
        smtp: smtplib.SMTP
        if self.security == "ssl":
            smtp = smtplib.SMTP_SSL(host, self.port, timeout=self.timeout, context=context)
        else:
            smtp = smtplib.SMTP(host, self.port, timeout=self.timeout)
        try:
            smtp.ehlo()
            if self.security == "starttls":
                # Refuses to go on in clear text when the server offers no STARTTLS.
                smtp.starttls(context=context)
                smtp.ehlo()
            if self.config.get("username"):
                username = self._resolve("username", secret=False)
                smtp.login(username, self._resolve("password"))
        except BaseException:
            smtp.close()
            raise
        self._smtp = smtp
        return smtp

    def _drop(self) -> None:
        if self._smtp is not None:
            self._smtp.close()
        self._smtp = None

    def _error(self, exc: BaseException) -> ChannelError:
        """A ChannelError for `exc`, redacted (servers may echo the username)."""
        error = self._classify(exc)
        return ChannelError(
            self.redact(str(error)), permanent=error.permanent, retry_after=error.retry_after
        )

    def _classify(self, exc: BaseException) -> ChannelError:
        # The host as configured (maybe a ${VAR} reference), never its resolved value.
        where = f"SMTP {self.config['smtp_host']}:{self.port} (channel {self.name})"
        if isinstance(exc, SecretError):
            return ChannelError(str(exc))
        if isinstance(exc, smtplib.SMTPNotSupportedError):
            return ChannelError(
                f"{where}: {templates.one_line(str(exc)).rstrip('.')}. Check security "
                f'("{self.security}") and whether the server needs a login.',
                permanent=True,
            )
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            return ChannelError(
                f"{where} refused the login: {_smtp_reply(exc.smtp_code, exc.smtp_error)}. "
                "Check username and password.",
                permanent=500 <= exc.smtp_code < 600,
            )
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            replies = "; ".join(
                f"{address}: {_smtp_reply(code, text)}"
                for address, (code, text) in exc.recipients.items()
            )
            permanent = all(500 <= code < 600 for code, _ in exc.recipients.values())
            return ChannelError(f"{where} refused every recipient: {replies}", permanent=permanent)
        if isinstance(exc, smtplib.SMTPResponseException):
            return ChannelError(
                f"{where} refused the message: {_smtp_reply(exc.smtp_code, exc.smtp_error)}",
                permanent=500 <= exc.smtp_code < 600,
            )
        if isinstance(exc, ssl.SSLCertVerificationError):
            return ChannelError(
                f"{where}: TLS certificate not trusted ({exc.verify_message}). Set ca_file "
                "to the CA that signed the server's certificate."
            )
        if isinstance(exc, TimeoutError):
            return ChannelError(f"{where} timed out after {self.timeout:g} s")
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return ChannelError(f"{where} failed: {type(exc).__name__}: {reason}")


def _smtp_reply(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{code} {templates.one_line(text, 300)}"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _valid_address(value: Any) -> bool:
    if not isinstance(value, str) or "\r" in value or "\n" in value:
        return False
    address = parseaddr(value)[1]
    local, _, domain = address.rpartition("@")
    return bool(local and domain)


# --- HTTP: Slack and generic webhooks -------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects end in an HTTPError: urllib would re-send a POST as a bodiless GET."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect())


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: str


class _HttpChannel(Channel):
    """POSTs JSON; the rules for what an HTTP answer means to the outbox."""

    def post_json(
        self, url: str, body: Mapping[str, Any], headers: Mapping[str, str], what: str
    ) -> HttpAnswer:
        """POST `body`; return a 2xx answer, else raise ChannelError classified for retry.

        `what` names the target in errors ("POST to Slack webhook 'alerts'"): the URL is
        never shown since its path or query is often the token.
        """
        if not url.lower().startswith(("http://", "https://")):
            raise ChannelError(f"{what}: the URL is not an http(s) URL.", permanent=True)
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        all_headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": USER_AGENT,
            **headers,
        }
        try:
            request = urllib.request.Request(url, data=data, headers=all_headers, method="POST")
            with _OPENER.open(request, timeout=self.timeout) as response:
                return HttpAnswer(response.status, _read_text(response))
        except urllib.error.HTTPError as exc:
            status, text = exc.code, _read_text(exc)
            retry_after = _retry_after(exc.headers.get("Retry-After"))
            exc.close()
        except ValueError:
            # urllib's ValueError messages quote the URL: say what is wrong without it.
            raise ChannelError(f"{what}: the URL is not valid.", permanent=True) from None
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, TimeoutError):
                raise ChannelError(f"{what} timed out after {self.timeout:g} s") from None
            text = reason.strerror if isinstance(reason, OSError) and reason.strerror else reason
            raise ChannelError(self.redact(f"{what} failed: {text}")) from None
        except TimeoutError:
            raise ChannelError(f"{what} timed out after {self.timeout:g} s") from None
        except (OSError, HTTPException) as exc:
            raise ChannelError(self.redact(f"{what} failed: {type(exc).__name__}")) from None
        return self._classify(status, text, retry_after, what)

    def _classify(self, status: int, text: str, retry_after: float | None, what: str) -> HttpAnswer:
        body = templates.one_line(text, 300)
        detail = f": {self.redact(body)}" if body else ""
        if status == 429:
            wait = f", retry after {retry_after:g} s" if retry_after is not None else ""
            raise ChannelError(
                f"{what} failed: HTTP 429 rate limited{wait}", retry_after=retry_after
            )
        if 300 <= status < 400:
            raise ChannelError(
                f"{what} failed: HTTP {status} redirect. Configure the final URL.", permanent=True
            )
        if 400 <= status < 500 and status not in (408, 425):
            # The request itself is refused (revoked webhook, bad payload): the same request
            # later gets the same answer.
            raise ChannelError(f"{what} failed: HTTP {status}{detail}", permanent=True)
        raise ChannelError(f"{what} failed: HTTP {status}{detail}", retry_after=retry_after)


def _read_text(response: Any) -> str:
    try:
        return response.read(4096).decode("utf-8", "replace")
    except (OSError, HTTPException):
        return ""


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP-date), capped at a day."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


class SlackChannel(_HttpChannel):
    """A Slack incoming webhook: Block Kit, every scraped string escaped (templates)."""

    type = "slack"
    fields = frozenset({"webhook_url", "timeout"})
    required = frozenset({"webhook_url"})

    def __init__(self, name: str, config: Mapping[str, Any]) -> None:
        super().__init__(name, config)
        # The webhook URL is the credential: anyone holding it can post to the channel.
        self._require_reference("webhook_url", "PRESSWATCH_SLACK_WEBHOOK")

    def send(self, message: OutgoingMessage) -> str | None:
        what = f"POST to Slack webhook '{self.name}'"
        try:
            url = self._resolve("webhook_url")
        except SecretError as exc:
            raise ChannelError(str(exc)) from None
        self.post_json(url, templates.slack_message(message.kind, message.payload), {}, what)
        return None


class WebhookChannel(_HttpChannel):
    """A JSON POST of the payload (templates.webhook_body) to any URL, with optional headers.

    Sends an Idempotency-Key header (the outbox key) so a receiver can drop a resend.
    """

    type = "webhook"
    fields = frozenset({"url", "headers", "timeout"})
    required = frozenset({"url"})

    def __init__(self, name: str, config: Mapping[str, Any]) -> None:
        super().__init__(name, config)
        headers = self.config.get("headers") or {}
        if not isinstance(headers, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
        ):
            raise ChannelConfigError(
                f"[channels.{name}] headers must be a table of strings, e.g. headers = "
                '{ Authorization = "${PRESSWATCH_HOOK_TOKEN}" }.'
            )
        for header, value in headers.items():
            if "\r" in header or "\n" in header or "\r" in value or "\n" in value:
                raise ChannelConfigError(f"[channels.{name}] header {header} has a line break.")
            if _SECRET_HEADER.search(header) and not is_reference(value):
                raise ChannelConfigError(
                    f"[channels.{name}] header {header} must be an environment reference, "
                    f'not the secret itself: {header} = "${{PRESSWATCH_HOOK_TOKEN}}".'
                )
        self.headers: dict[str, str] = dict(headers)
        url = str(self.config["url"])
        if not is_reference(url) and not url.lower().startswith(("http://", "https://")):
            raise ChannelConfigError(f"[channels.{name}] url must start with https://.")

    def send(self, message: OutgoingMessage) -> str | None:
        what = f"POST to webhook '{self.name}'"
        try:
            url = self._resolve("url")
            headers = {header: self._resolve("headers", header) for header in self.headers}
        except SecretError as exc:
            raise ChannelError(str(exc)) from None
        headers["Idempotency-Key"] = message.key
        body = templates.webhook_body(message.key, message.kind, message.payload)
        self.post_json(url, body, headers, what)
        return None


# --- registry ---------------------------------------------------------------------------------


CHANNEL_TYPES: dict[str, type[Channel]] = {
    cls.type: cls
    for cls in (EmailChannel, SlackChannel, WebhookChannel, ConsoleChannel, JsonlChannel)
}


def make_channel(name: str, config: Mapping[str, Any]) -> Channel:
    """The Channel for the [channels.`name`] table `config`; ChannelConfigError if invalid.

    Validates the table's shape only: secrets are read at send time (or by `check`).
    """
    kind = config.get("type")
    cls = CHANNEL_TYPES.get(str(kind))
    if cls is None:
        raise ChannelConfigError(
            f"[channels.{name}] has type {kind!r}; known types: {', '.join(sorted(CHANNEL_TYPES))}."
        )
    return cls(name, config)


def build_channels(configs: Mapping[str, Mapping[str, Any]]) -> dict[str, Channel]:
    """A Channel per [channels.NAME] table, by name."""
    return {name: make_channel(name, config) for name, config in configs.items()}


def close_all(channels: Iterable[Channel]) -> None:
    """Close every channel's connection (after a delivery run)."""
    for channel in channels:
        channel.close()
