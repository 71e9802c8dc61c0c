"""Delivery through the outbox (alerts.outbox, alerts.channels, alerts.templates).

Against real servers on 127.0.0.1: aiosmtpd (plain, STARTTLS + AUTH, implicit TLS + AUTH,
with a certificate made here by `cryptography`) and an http.server thread that plays Slack or
a webhook and answers from a script (429 with Retry-After, 500, 404, then 200). The kill test
runs delivery in a subprocess, SIGKILLs it while the SMTP server holds a message, and shows
that a rerun delivers everything and repeats nothing that was acknowledged.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import ipaddress
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from alerts import templates
from alerts.channels import (
    ChannelConfigError,
    ChannelError,
    OutgoingMessage,
    SecretError,
    build_channels,
    make_channel,
    message_id,
    resolve_secret,
)
from alerts.outbox import backoff, deliver
from db import outbox
from db.store import open_db

REPO = Path(__file__).resolve().parent.parent
T0 = "2026-01-01T12:00:00Z"
# Recognisable secret values: no log line, error or database row may ever contain them.
SMTP_PASSWORD = "smtp-PASSWORD-6f1e9c"
HOOK_TOKEN = "Bearer hook-TOKEN-a83b2d"
SLACK_PATH = "/services/T000/B000/slackTOKEN-77c2e1"
SECRETS = (SMTP_PASSWORD, HOOK_TOKEN, "hook-TOKEN-a83b2d", "slackTOKEN-77c2e1")

HOSTILE_TITLE = "<script>alert(1)</script> <!channel> China\r\nBcc: victim@example.org «Russia»"


def alert_payload(story_id: int = 1, title: str = HOSTILE_TITLE) -> dict[str, Any]:
    """An alert payload as alerts.match builds it, full of hostile scraped strings."""
    return {
        "rule": "china_russia_tech",
        "query": '@china_russia AND (technolog* OR "sci-tech")',
        "why": "China-Russia (alias china_russia) and sci-tech in body",
        "story": {"id": story_id, "title": title, "first_seen_at": "2019-12-25T04:00:00Z"},
        "items": [
            {
                "source": "globaltimes",
                "source_name": "Global Times",
                "url": "https://www.globaltimes.cn/content/1175000.shtml?a=1&b=2",
                "title": "China, Russia <b>sci-tech</b> & innovation <http://evil.example|click>",
                "published_at": "2019-12-25T04:00:00Z",
                "language": "en",
                "kind": "article",
                "snippet": "China and «Russia» will hold «sci-tech» years "
                "<!channel> <@U123>\x1b[31m",
                "speaker": None,
                "turn_idx": None,
            },
            {
                "source": "fmprc_zh",
                "source_name": "外交部 <!here>",
                "url": "javascript:alert(document.cookie)",
                "title": "2019年12月25日外交部发言人耿爽主持例行记者会",
                "published_at": "2019-12-25T07:00:00Z",
                "language": "zh",
                "kind": "briefing",
                "snippet": "«中俄»«科技»创新年",
                "speaker": "耿爽",
                "turn_idx": 3,
            },
        ],
        "outlets": ["Global Times", "外交部 <!here>"],
    }


def enqueue(db: sqlite_utils.Database, key: str, channel: str, **payload: Any) -> None:
    outbox.enqueue(
        db,
        key=key,
        channel=channel,
        kind="alert",
        payload=alert_payload(**payload),
        now=T0,
    )


def row(db: sqlite_utils.Database, key: str) -> dict[str, Any]:
    found = outbox.get_message(db, key)
    assert found is not None, key
    return found


def at(seconds: float) -> str:
    return outbox.later(T0, seconds) if seconds else T0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- an SMTP server -------------------------------------------------------------------------


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    tls: bool
    authenticated: bool


@dataclass
class Inbox:
    """aiosmtpd handler keeping what it receives; can hold message number `hold_at`."""

    received: list[Received] = field(default_factory=list)
    hold_at: int | None = None
    release: threading.Event = field(default_factory=threading.Event)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append(
            Received(
                envelope.mail_from,
                list(envelope.rcpt_tos),
                message,
                # session.ssl is set by STARTTLS only; implicit TLS shows on the transport.
                session.ssl is not None
                or server.transport.get_extra_info("ssl_object") is not None,
                bool(session.authenticated),
            )
        )
        if self.hold_at is not None and len(self.received) == self.hold_at:
            # Keep the client waiting for its "250": the test kills it meanwhile.
            while not self.release.is_set():
                await asyncio.sleep(0.02)
        return "250 Message accepted for delivery"

    def message_ids(self) -> list[str]:
        return [str(r.message["Message-ID"]) for r in self.received]


def authenticator(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == b"alerts@example.org"
        and auth_data.password == SMTP_PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False)


@dataclass
class SmtpServer:
    inbox: Inbox
    port: int


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield SmtpServer(inbox, controller.port)
    finally:
        inbox.release.set()
        controller.stop()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (cert.pem doubles as the CA file)."""
    folder = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "presswatch test SMTP")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def server_context(certificate: tuple[Path, Path]) -> Any:
    import ssl

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


def email_config(port: int, **overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "type": "email",
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "security": "none",
        "from": "presswatch <alerts@example.org>",
        "to": ["analyst@example.org", "Desk <desk@example.org>"],
        "timeout": 10,
    }
    config.update(overrides)
    return config


# --- an HTTP server playing Slack or a webhook -------------------------------------------------


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    def json(self) -> Any:
        return json.loads(self.body)


class Hook:
    """Answers POSTs from `answers` in order (status, headers, body); the last one repeats.
    Each answer comes `delay` seconds after the request."""

    def __init__(self, answers: list[tuple[int, dict[str, str], bytes]], delay: float = 0) -> None:
        self.answers = list(answers)
        self.requests: list[Request] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                hook.requests.append(Request(self.path, dict(self.headers), body, time.monotonic()))
                time.sleep(delay)
                status, headers, answer = (
                    hook.answers.pop(0) if len(hook.answers) > 1 else hook.answers[0]
                )
                self.send_response(status)
                for name, value in {"Content-Length": str(len(answer)), **headers}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: the test reads hook.requests."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Hook:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


OK = (200, {}, b"ok")


@pytest.fixture
def secrets_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRESSWATCH_SMTP_PASSWORD", SMTP_PASSWORD)
    monkeypatch.setenv("PRESSWATCH_HOOK_TOKEN", HOOK_TOKEN)


def assert_no_secret(db: sqlite_utils.Database, *texts: str) -> None:
    dump = "\n".join(db.conn.iterdump())
    for secret in SECRETS:
        assert secret not in dump
        for text in texts:
            assert secret not in text


# --- email ------------------------------------------------------------------------------------


def test_email_is_multipart_text_and_html_with_escaped_scraped_text(
    db: sqlite_utils.Database, smtp_server: SmtpServer
) -> None:
    enqueue(db, "alert:china_russia_tech:1:mail", "mail")
    channels = build_channels({"mail": email_config(smtp_server.port)})

    report = deliver(db, channels, now=T0)

    assert (report.sent, report.failed, report.retried) == (1, 0, 0)
    (got,) = smtp_server.inbox.received
    mail = got.message
    assert got.mail_from == "alerts@example.org"
    assert got.rcpt_tos == ["analyst@example.org", "desk@example.org"]
    # The hostile title's CR LF did not start a Bcc header: it is folded into the subject.
    assert mail["Bcc"] is None
    assert "\n" not in str(mail["Subject"]) and "\r" not in str(mail["Subject"])
    assert str(mail["Subject"]).startswith("[presswatch] china_russia_tech: <script>")
    assert "Bcc: victim@example.org" in str(mail["Subject"])
    assert mail["From"] == "presswatch <alerts@example.org>"
    assert mail["To"] == "analyst@example.org, Desk <desk@example.org>"
    assert mail["Message-ID"] == message_id("alert:china_russia_tech:1:mail", "example.org")
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["X-Presswatch-Rule"] == "china_russia_tech"
    assert mail.get_content_type() == "multipart/alternative"

    text_part = mail.get_body(("plain",))
    html_part = mail.get_body(("html",))
    assert text_part is not None and html_part is not None
    text, page = text_part.get_content(), html_part.get_content()
    assert "Outlets (2): Global Times, 外交部 <!here>" in text
    assert "China and «Russia» will hold «sci-tech» years" in text
    assert "«中俄»«科技»创新年" in text and "Speaker: 耿爽 (turn 3)" in text
    assert "\x1b" not in text  # the terminal escape sequence was removed
    assert "javascript:" not in text  # not a link anyone should follow

    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;b&gt;sci-tech&lt;/b&gt; &amp; innovation" in page
    assert "<mark>Russia</mark>" in page and "<mark>中俄</mark><mark>科技</mark>" in page
    assert 'href="https://www.globaltimes.cn/content/1175000.shtml?a=1&amp;b=2"' in page
    assert "javascript:" not in page
    assert row(db, "alert:china_russia_tech:1:mail")["message_id"] == mail["Message-ID"]


def test_a_resent_mail_keeps_its_message_id(
    db: sqlite_utils.Database, smtp_server: SmtpServer
) -> None:
    enqueue(db, "alert:r:1:mail", "mail")
    channels = build_channels({"mail": email_config(smtp_server.port)})
    deliver(db, channels, now=T0)
    outbox.requeue_failed(db, T0)  # nothing failed: no resend
    db.execute("UPDATE outbox SET status = 'failed'")  # as if an operator wanted it again
    outbox.requeue_failed(db, T0)
    deliver(db, channels, now=T0)
    ids = smtp_server.inbox.message_ids()
    assert len(ids) == 2 and ids[0] == ids[1]


def test_one_smtp_connection_serves_a_batch(
    db: sqlite_utils.Database, smtp_server: SmtpServer
) -> None:
    for n in range(3):
        enqueue(db, f"alert:r:{n}:mail", "mail", story_id=n)
    report = deliver(db, build_channels({"mail": email_config(smtp_server.port)}), now=T0)
    assert report.sent == 3
    assert len(set(smtp_server.inbox.message_ids())) == 3


def test_email_starttls_with_login(
    db: sqlite_utils.Database,
    certificate: tuple[Path, Path],
    secrets_env: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    inbox = Inbox()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=free_port(),
        tls_context=server_context(certificate),
        require_starttls=True,
        auth_required=True,
        authenticator=authenticator,
    )
    controller.start()
    try:
        config = email_config(
            controller.port,
            security="starttls",
            username="alerts@example.org",
            password="${PRESSWATCH_SMTP_PASSWORD}",
            ca_file=str(certificate[0]),
        )
        enqueue(db, "alert:r:1:mail", "mail")
        report = deliver(db, build_channels({"mail": config}), now=T0)
    finally:
        controller.stop()
    assert report.sent == 1, report.problems
    (got,) = inbox.received
    assert got.tls and got.authenticated
    assert_no_secret(db, caplog.text)


# aiosmtpd counts only STARTTLS as TLS for AUTH, so its implicit-TLS server must be told
# not to require TLS for AUTH (the connection is TLS from the first byte), and it warns.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_email_implicit_tls_with_login(
    db: sqlite_utils.Database, certificate: tuple[Path, Path], secrets_env: None
) -> None:
    inbox = Inbox()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=free_port(),
        ssl_context=server_context(certificate),
        auth_required=True,
        auth_require_tls=False,
        authenticator=authenticator,
    )
    controller.start()
    try:
        config = email_config(
            controller.port,
            security="ssl",
            username="alerts@example.org",
            password="${PRESSWATCH_SMTP_PASSWORD}",
            ca_file=str(certificate[0]),
        )
        enqueue(db, "alert:r:1:mail", "mail")
        report = deliver(db, build_channels({"mail": config}), now=T0)
    finally:
        controller.stop()
    assert report.sent == 1, report.problems
    assert inbox.received[0].tls and inbox.received[0].authenticated


def test_a_refused_login_fails_for_good_without_showing_the_password(
    db: sqlite_utils.Database,
    certificate: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "wrong-PASSWORD-0d9a55"
    monkeypatch.setenv("PRESSWATCH_SMTP_PASSWORD", wrong)
    inbox = Inbox()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=free_port(),
        tls_context=server_context(certificate),
        require_starttls=True,
        auth_required=True,
        authenticator=authenticator,
    )
    controller.start()
    try:
        config = email_config(
            controller.port,
            security="starttls",
            username="alerts@example.org",
            password="${PRESSWATCH_SMTP_PASSWORD}",
            ca_file=str(certificate[0]),
        )
        enqueue(db, "alert:r:1:mail", "mail")
        report = deliver(db, build_channels({"mail": config}), now=T0)
    finally:
        controller.stop()
    assert report.failed == 1 and inbox.received == []
    failed = row(db, "alert:r:1:mail")
    assert failed["status"] == "failed"
    assert "refused the login: 535" in failed["last_error"]
    assert "Check username and password" in failed["last_error"]
    for text in ("\n".join(db.conn.iterdump()), caplog.text, "\n".join(report.problems)):
        assert wrong not in text


def test_an_untrusted_certificate_is_retried_with_advice(
    db: sqlite_utils.Database, certificate: tuple[Path, Path]
) -> None:
    controller = Controller(
        Inbox(),
        hostname="127.0.0.1",
        port=free_port(),
        tls_context=server_context(certificate),
        require_starttls=True,
    )
    controller.start()
    try:
        enqueue(db, "alert:r:1:mail", "mail")
        config = email_config(controller.port, security="starttls")  # no ca_file
        report = deliver(db, build_channels({"mail": config}), now=T0)
    finally:
        controller.stop()
    assert report.retried == 1
    assert "TLS certificate not trusted" in row(db, "alert:r:1:mail")["last_error"]


# --- Slack and webhooks -----------------------------------------------------------------------


def test_slack_429_is_retried_when_retry_after_says(
    db: sqlite_utils.Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Hook([(429, {"Retry-After": "1"}, b"rate_limited"), OK]) as hook:
        monkeypatch.setenv("PRESSWATCH_SLACK_WEBHOOK", hook.base + SLACK_PATH)
        channels = build_channels(
            {"slack": {"type": "slack", "webhook_url": "${PRESSWATCH_SLACK_WEBHOOK}"}}
        )
        enqueue(db, "alert:r:1:slack", "slack")
        before = dt.datetime.now(dt.UTC)

        first = deliver(db, channels)
        assert (first.sent, first.retried) == (0, 1)
        pending = row(db, "alert:r:1:slack")
        assert pending["status"] == "pending" and pending["attempts"] == 1
        assert pending["next_attempt_at"] >= outbox.later(before, 1)
        assert "HTTP 429 rate limited, retry after 1 s" in pending["last_error"]

        assert deliver(db, channels).claimed == 0  # not before Retry-After
        due = outbox.to_datetime(pending["next_attempt_at"])
        time.sleep(max((due - dt.datetime.now(dt.UTC)).total_seconds(), 0) + 0.05)
        second = deliver(db, channels)

    assert second.sent == 1
    assert row(db, "alert:r:1:slack")["status"] == "sent"
    assert len(hook.requests) == 2
    assert hook.requests[1].at - hook.requests[0].at >= 1.0
    assert hook.requests[0].path == SLACK_PATH
    assert_no_secret(db, "\n".join(first.problems))


def test_a_rest_that_ends_during_the_run_is_not_deferred_to_the_past(tmp_db: Path) -> None:
    """One webhook asks to wait 1 s while another takes longer than that to answer: once the
    wait is over the first is tried again and the run ends. (Its messages used to be deferred
    to that moment, already past, claimed again at once, and deferred again, for ever.)"""
    with (
        Hook([(429, {"Retry-After": "1"}, b"slow down"), OK]) as flaky,
        Hook([OK], delay=2.5) as slow,
    ):
        with open_db(tmp_db) as db:
            for n, channel in enumerate(("flaky", "slow", "flaky")):
                enqueue(db, f"alert:r:{n}:{channel}", channel)
        configs = {
            "flaky": {"type": "webhook", "url": f"{flaky.base}/hook"},
            "slow": {"type": "webhook", "url": f"{slow.base}/hook"},
        }
        reports = []

        def send() -> None:  # in a thread: a run that never ends must not hang the tests
            with open_db(tmp_db) as database:
                reports.append(deliver(database, build_channels(configs)))

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        sender.join(timeout=30)
        assert not sender.is_alive(), "the delivery run never ended"
    (report,) = reports
    assert (report.sent, report.retried, report.failed) == (3, 1, 0)
    assert len(flaky.requests) == 3 and len(slow.requests) == 1


def test_slack_text_can_never_ping_or_link(
    db: sqlite_utils.Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Hook([OK]) as hook:
        monkeypatch.setenv("PRESSWATCH_SLACK_WEBHOOK", hook.base + SLACK_PATH)
        channels = build_channels(
            {"slack": {"type": "slack", "webhook_url": "${PRESSWATCH_SLACK_WEBHOOK}"}}
        )
        enqueue(db, "alert:r:1:slack", "slack")
        assert deliver(db, channels, now=T0).sent == 1
    body = hook.requests[0].json()
    assert body["unfurl_links"] is False
    texts = [body["text"]]
    for block in body["blocks"]:
        if "text" in block:
            texts.append(block["text"]["text"])
        texts += [element["text"] for element in block.get("elements", [])]
    everything = "\n".join(texts)
    for hostile in ("<!channel>", "<!here>", "<@U123>", "<http://evil", "<script>", "<b>"):
        assert hostile not in everything
    assert "&lt;!channel&gt;" in everything and "&lt;!here&gt;" in everything
    assert "&lt;http://evil.example|click&gt;" in everything
    # The only raw "<" starts the link to the item's http(s) URL; & is escaped in it.
    link = "<https://www.globaltimes.cn/content/1175000.shtml?a=1&amp;b=2|China, Russia"
    assert everything.count("<") == 1 and link in everything
    assert "javascript:" not in everything


def test_webhook_500_then_200_with_secret_headers(
    db: sqlite_utils.Database, secrets_env: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with Hook([(500, {}, b"upstream broke"), OK]) as hook:
        channels = build_channels(
            {
                "hook": {
                    "type": "webhook",
                    "url": hook.base + "/presswatch",
                    "headers": {"Authorization": "${PRESSWATCH_HOOK_TOKEN}"},
                }
            }
        )
        enqueue(db, "alert:r:1:hook", "hook")
        first = deliver(db, channels, now=T0, base_backoff=30)
        retry = row(db, "alert:r:1:hook")
        assert retry["status"] == "pending"
        assert retry["last_error"] == "POST to webhook 'hook' failed: HTTP 500: upstream broke"
        # 30 s backoff with up to 25 % jitter.
        assert at(30) <= retry["next_attempt_at"] <= at(38)
        assert deliver(db, channels, now=at(29)).claimed == 0
        second = deliver(db, channels, now=at(60))

    assert (first.retried, second.sent) == (1, 1)
    request = hook.requests[1]
    assert request.headers["Authorization"] == HOOK_TOKEN
    assert request.headers["Idempotency-Key"] == "alert:r:1:hook"
    assert request.headers["Content-Type"] == "application/json; charset=utf-8"
    body = request.json()
    assert body["id"] == "alert:r:1:hook" and body["kind"] == "alert"
    # The payload as stored, less control characters (CR among them).
    assert body["payload"]["story"]["title"] == HOSTILE_TITLE.replace("\r", "")
    assert "\x1b" not in json.dumps(body)  # control characters removed
    assert body["subject"].startswith("[presswatch] china_russia_tech:")
    assert_no_secret(db, caplog.text)


def test_a_4xx_answer_fails_for_good_with_the_body_and_without_the_token(
    db: sqlite_utils.Database,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Slack answers 404 no_service for a revoked webhook; a server echoing the URL is redacted."""
    caplog.set_level(logging.DEBUG)
    echo = f"no_service for {SLACK_PATH}".encode()
    with Hook([(404, {}, echo)]) as hook:
        monkeypatch.setenv("PRESSWATCH_SLACK_WEBHOOK", hook.base + SLACK_PATH)
        channels = build_channels(
            {"slack": {"type": "slack", "webhook_url": "${PRESSWATCH_SLACK_WEBHOOK}"}}
        )
        enqueue(db, "alert:r:1:slack", "slack")
        report = deliver(db, channels, now=T0)
    assert report.failed == 1 and len(hook.requests) == 1
    error = row(db, "alert:r:1:slack")["last_error"]
    assert error.startswith("POST to Slack webhook 'slack' failed: HTTP 404: no_service for")
    assert "***" in error
    assert_no_secret(db, caplog.text, "\n".join(report.problems))
    assert hook.base not in caplog.text


def test_a_token_echoed_by_the_server_is_redacted(
    db: sqlite_utils.Database, secrets_env: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token = HOOK_TOKEN.removeprefix("Bearer ")
    with Hook([(401, {}, f'{{"error": "invalid token {token}"}}'.encode())]) as hook:
        config = {
            "type": "webhook",
            "url": hook.base + "/x",
            "headers": {"Authorization": "${PRESSWATCH_HOOK_TOKEN}"},
        }
        enqueue(db, "alert:r:1:hook", "hook")
        report = deliver(db, build_channels({"hook": config}), now=T0)
    assert report.failed == 1
    assert row(db, "alert:r:1:hook")["last_error"] == (
        """POST to webhook 'hook' failed: HTTP 401: {"error": "invalid token ***"}"""
    )
    assert_no_secret(db, caplog.text, "\n".join(report.problems))


def test_a_refused_connection_is_retried(db: sqlite_utils.Database) -> None:
    url = f"http://127.0.0.1:{free_port()}/hook"
    channels = build_channels({"hook": {"type": "webhook", "url": url, "timeout": 5}})
    enqueue(db, "alert:r:1:hook", "hook")
    report = deliver(db, channels, now=T0)
    assert report.retried == 1
    error = row(db, "alert:r:1:hook")["last_error"]
    assert error == "POST to webhook 'hook' failed: Connection refused"


def test_a_redirect_fails_for_good(db: sqlite_utils.Database) -> None:
    with Hook([(302, {"Location": "http://127.0.0.1:9/elsewhere"}, b"")]) as hook:
        channels = build_channels({"hook": {"type": "webhook", "url": hook.base + "/x"}})
        enqueue(db, "alert:r:1:hook", "hook")
        assert deliver(db, channels, now=T0).failed == 1
    assert "HTTP 302 redirect" in row(db, "alert:r:1:hook")["last_error"]


# --- the delivery loop ------------------------------------------------------------------------


def test_a_channel_that_keeps_failing_ends_failed_and_never_blocks_another(
    db: sqlite_utils.Database, tmp_path: Path
) -> None:
    jsonl = tmp_path / "alerts.jsonl"
    with Hook([(503, {}, b"down for maintenance")]) as down:
        channels = build_channels(
            {
                "down": {"type": "webhook", "url": down.base + "/x"},
                "file": {"type": "jsonl", "path": str(jsonl)},
            }
        )
        for n in range(3):
            enqueue(db, f"alert:r:{n}:down", "down", story_id=n)
            enqueue(db, f"alert:r:{n}:file", "file", story_id=n)

        first = deliver(db, channels, now=T0, max_attempts=3, base_backoff=10)
        # Every message of the healthy channel went out in the first run; of the failing
        # channel one was tried and its two others deferred without using an attempt.
        assert (first.sent, first.retried, first.deferred, first.failed) == (3, 1, 2, 0)
        assert len(down.requests) == 1
        assert [row(db, f"alert:r:{n}:down")["attempts"] for n in range(3)] == [1, 0, 0]

        second = deliver(db, channels, now=at(3600), max_attempts=3, base_backoff=10)
        third = deliver(db, channels, now=at(7200), max_attempts=3, base_backoff=10)

    assert (second.retried, third.failed) == (1, 1)
    failed = row(db, "alert:r:0:down")
    assert failed["status"] == "failed" and failed["attempts"] == 3
    assert failed["last_error"] == (
        "POST to webhook 'down' failed: HTTP 503: down for maintenance (gave up after 3 attempts)"
    )
    # The others wait their turn, not lost and not failed.
    assert [row(db, f"alert:r:{n}:down")["status"] for n in (1, 2)] == ["pending"] * 2
    lines = [json.loads(line) for line in jsonl.read_text(encoding="utf-8").splitlines()]
    assert [line["id"] for line in lines] == [f"alert:r:{n}:file" for n in range(3)]
    assert lines[0]["payload"]["items"][1]["snippet"] == "«中俄»«科技»创新年"


def test_an_unknown_channel_fails_with_the_reason(db: sqlite_utils.Database) -> None:
    enqueue(db, "alert:r:1:teams", "teams")
    report = deliver(db, build_channels({"console": {"type": "console"}}), now=T0)
    assert report.failed == 1
    assert row(db, "alert:r:1:teams")["last_error"] == (
        "Unknown channel 'teams' (configured: console). Add [channels.teams] to "
        "presswatch.toml, then requeue the failed messages."
    )


def test_an_unset_secret_is_retried_and_named(
    db: sqlite_utils.Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PRESSWATCH_SLACK_WEBHOOK", raising=False)
    channels = build_channels(
        {"slack": {"type": "slack", "webhook_url": "${PRESSWATCH_SLACK_WEBHOOK}"}}
    )
    enqueue(db, "alert:r:1:slack", "slack")
    assert deliver(db, channels, now=T0).retried == 1
    assert row(db, "alert:r:1:slack")["last_error"].startswith(
        "Environment variable PRESSWATCH_SLACK_WEBHOOK is not set "
        "(used by [channels.slack] webhook_url)."
    )


def test_a_bug_in_one_message_does_not_stop_the_others(db: sqlite_utils.Database) -> None:
    outbox.enqueue(db, key="bad", channel="console", kind="alert", payload={"items": 5}, now=T0)
    enqueue(db, "good", "console")
    report = deliver(db, build_channels({"console": {"type": "console"}}), now=T0)
    # A payload the templates cannot read is a failed attempt, not a crash of the run; the
    # channel rests, so "good" is deferred to the same time.
    assert report.retried == 1 and report.deferred == 1
    assert "Unexpected TypeError" in row(db, "bad")["last_error"]
    assert row(db, "good")["attempts"] == 0


def test_console_prints_the_alert_without_terminal_escapes(
    db: sqlite_utils.Database, capsys: pytest.CaptureFixture[str]
) -> None:
    enqueue(db, "alert:r:1:console", "console")
    deliver(db, build_channels({"console": {"type": "console"}}), now=T0)
    out = capsys.readouterr().out
    assert out.startswith("[presswatch] china_russia_tech: <script>")
    assert "Outlets (2): Global Times, 外交部 <!here>" in out
    assert "\x1b" not in out


def test_backoff_doubles_with_jitter_and_is_capped() -> None:
    import random

    rng = random.Random(1)
    delays = [backoff(n, 30, 3600, rng) for n in range(1, 10)]
    for n, delay in enumerate(delays, 1):
        base = min(30 * 2 ** (n - 1), 3600)
        assert base <= delay <= base * 1.25


# --- killed mid-batch -------------------------------------------------------------------------

KILLED_SENDER = """
import sys
from alerts.channels import build_channels
from alerts.outbox import deliver
from db.store import open_db

db = open_db(sys.argv[1])
config = {"type": "email", "smtp_host": "127.0.0.1", "smtp_port": int(sys.argv[2]),
          "security": "none", "from": "alerts@example.org", "to": ["analyst@example.org"]}
deliver(db, build_channels({"mail": config}))
"""


def test_a_killed_delivery_loses_nothing_and_repeats_nothing_acknowledged(
    tmp_db: Path, smtp_server: SmtpServer
) -> None:
    total, held = 6, 3
    with open_db(tmp_db) as db:
        for n in range(total):
            enqueue(db, f"alert:r:{n}:mail", "mail", story_id=n)
    inbox = smtp_server.inbox
    inbox.hold_at = held  # the server sits on message 3 until the sender is dead

    env = {**os.environ, "PYTHONPATH": str(REPO)}
    sender = subprocess.Popen(
        [sys.executable, "-c", KILLED_SENDER, str(tmp_db), str(smtp_server.port)], env=env
    )
    try:
        deadline = time.monotonic() + 60
        while len(inbox.received) < held:
            assert sender.poll() is None, "the sender ended before it was killed"
            assert time.monotonic() < deadline, "the SMTP server never got the messages"
            time.sleep(0.02)
    finally:
        sender.send_signal(signal.SIGKILL)
        sender.wait()
        inbox.release.set()
    assert sender.returncode == -signal.SIGKILL

    with open_db(tmp_db) as db:
        states = [row(db, f"alert:r:{n}:mail")["status"] for n in range(total)]
        # Two acknowledged; only the held one was claimed by the dead sender (messages are
        # claimed one at a time), the rest are still pending.
        assert states == ["sent"] * (held - 1) + ["sending"] + ["pending"] * (total - held)
        acknowledged = {row(db, f"alert:r:{n}:mail")["message_id"] for n in range(held - 1)}

        # Before the lease runs out the claim is respected; after it, it is taken over.
        channels = build_channels({"mail": email_config(smtp_server.port)})
        assert deliver(db, channels).sent == total - held
        later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=301)
        rerun = deliver(db, channels, now=later)
        assert rerun.sent == 1
        assert {r["status"] for r in outbox.list_outbox(db)} == {"sent"}

    ids = inbox.message_ids()
    expected = {message_id(f"alert:r:{n}:mail", "example.org") for n in range(total)}
    assert set(ids) == expected  # nothing lost
    repeated = {i for i in ids if ids.count(i) > 1}
    # Only the message in flight at the kill came twice (the documented window), with the
    # same Message-ID; no acknowledged message did.
    assert repeated == {message_id(f"alert:r:{held - 1}:mail", "example.org")}
    assert not repeated & acknowledged


# --- configuration and secrets ----------------------------------------------------------------


def test_resolve_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PW_TOKEN", "abc123")
    assert resolve_secret("Bearer ${PW_TOKEN}") == "Bearer abc123"
    assert resolve_secret("no reference") == "no reference"
    monkeypatch.delenv("PW_MISSING", raising=False)
    with pytest.raises(SecretError, match=r"^Environment variable PW_MISSING is not set \(used"):
        resolve_secret("${PW_MISSING}", where="[channels.x] password")
    monkeypatch.setenv("PW_EMPTY", "")
    with pytest.raises(SecretError, match="PW_EMPTY is empty"):
        resolve_secret("${PW_EMPTY}")


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"type": "teams"}, "has type 'teams'; known types: console, email, jsonl, slack, webhook"),
        ({"type": "slack"}, "needs webhook_url"),
        (
            {"type": "slack", "webhook_url": "https://hooks.slack.com/services/T/B/x"},
            "webhook_url must be an environment reference, not the secret itself: write "
            'webhook_url = "${PRESSWATCH_SLACK_WEBHOOK}"',
        ),
        (
            {**email_config(25), "username": "u", "password": "hunter22"},
            "password must be an environment reference",
        ),
        (
            {
                **email_config(25),
                "smtp_host": "smtp.example.org",
                "username": "u",
                "password": "${P}",
            },
            "would send the SMTP password unencrypted",
        ),
        ({**email_config(25), "security": "tls"}, "security must be one of starttls, ssl, none"),
        ({**email_config(25), "to": ["not an address"]}, "invalid address 'not an address'"),
        ({**email_config(25), "smtp_hots": "x"}, "unknown key(s) smtp_hots"),
        (
            {"type": "webhook", "url": "https://x", "headers": {"X-Api-Key": "k"}},
            "header X-Api-Key must be an environment reference",
        ),
        ({"type": "webhook", "url": "ftp://x"}, "url must start with https://"),
        ({"type": "console", "timeout": 0}, "timeout must be a positive number"),
    ],
)
def test_invalid_channel_tables_are_refused_with_the_fix(
    config: dict[str, Any], message: str
) -> None:
    with pytest.raises(ChannelConfigError) as excinfo:
        make_channel("x", config)
    assert message in str(excinfo.value)
    assert str(excinfo.value).startswith("[channels.x]")
    assert "hunter22" not in str(excinfo.value)


def test_check_names_a_missing_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PRESSWATCH_SMTP_PASSWORD", raising=False)
    channel = make_channel(
        "mail",
        email_config(
            587, security="starttls", username="u", password="${PRESSWATCH_SMTP_PASSWORD}"
        ),
    )
    with pytest.raises(SecretError, match="PRESSWATCH_SMTP_PASSWORD is not set"):
        channel.check()
    assert SMTP_PASSWORD not in repr(channel)


def test_channel_error_carries_the_retry_rules() -> None:
    error = ChannelError("x", retry_after=2.0)
    assert (error.permanent, error.retry_after) == (False, 2.0)


# --- templates --------------------------------------------------------------------------------


def test_digest_renders_every_story() -> None:
    digest = {
        "rule": "china_russia_tech",
        "period": "2026-01-01",
        "alerts": [alert_payload(1, "First story"), alert_payload(2, "Second story")],
    }
    assert templates.subject("digest", digest) == (
        "[presswatch] china_russia_tech digest 2026-01-01: 2 stories"
    )
    text = templates.render_text("digest", digest)
    assert "1.\nStory: First story" in text and "2.\nStory: Second story" in text
    page = templates.render_html("digest", digest)
    assert page.count("<hr>") == 2 and "&lt;!here&gt;" in page
    slack = templates.slack_message("digest", digest)
    assert sum(b["type"] == "divider" for b in slack["blocks"]) == 2


def test_health_messages_render() -> None:
    health = {"title": "Source tass failed 3 runs", "text": "HTTP 403 <!channel>\nsince Monday"}
    assert templates.subject("health", health) == "[presswatch] Source tass failed 3 runs"
    assert "since Monday" in templates.render_text("health", health)
    assert "<!channel>" not in json.dumps(templates.slack_message("health", health))


def test_an_unbalanced_marker_stays_text() -> None:
    """Russian uses «» as quotation marks: only a balanced pair becomes <mark>."""
    assert templates.mark_html("«Роскосмос» и «Китай") == "<mark>Роскосмос</mark> и «Китай"


def test_slack_blocks_stay_within_limits() -> None:
    payload = alert_payload()
    payload["items"] = payload["items"] * 40
    message = templates.slack_message("alert", payload)
    assert len(message["blocks"]) == 50
    assert all(len(b.get("text", {}).get("text", "")) <= 3000 for b in message["blocks"])


def test_outgoing_message_reaches_a_channel_directly(tmp_path: Path) -> None:
    channel = make_channel("file", {"type": "jsonl", "path": str(tmp_path / "a" / "b.jsonl")})
    channel.send(OutgoingMessage("k", "alert", alert_payload(), "file"))
    (line,) = (tmp_path / "a" / "b.jsonl").read_text(encoding="utf-8").splitlines()
    assert json.loads(line)["subject"].startswith("[presswatch] china_russia_tech:")
