"""`presswatch serve`: Datasette over a live presswatch database, read-only and local.

This module owns what Datasette is started with and the presswatch-serve plugin that guards it:

1. Where it listens: loopback unless the user says `--public` (`check_bind`).
2. Limits: SQL and facet time, rows per page, CSV size (`SETTINGS`).
3. Read-only, three ways: Datasette opens the file `mode=ro` for every query (its default for
   a mutable database); the plugin sets `PRAGMA query_only` on every connection Datasette
   makes to it, including the write connection that writable canned queries and plugins would
   use; and the plugin answers every method but GET and HEAD with 405 before Datasette sees it.
4. DNS rebinding: a request that arrives on a loopback socket must name a loopback host.
5. CSV: every CSV response (table, row, custom SQL, canned query, `_stream=on`, `_dl=1`) is
   rewritten so that no cell starts a spreadsheet formula (`neutralise_cell`).

Why not `--immutable`: a crawl may be writing the file through WAL while Datasette reads it,
and `immutable=1` tells SQLite the file never changes, so it skips the -wal file and caches
pages with no change detection: a reader sees neither the rows committed to the WAL nor any
later checkpoint. `mode=ro` reads the WAL like any other reader and cannot write.
"""

from __future__ import annotations

import codecs
import csv
import io
import ipaddress
import json
import logging
import re
import sqlite3
import sys
import tempfile
import urllib.parse
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

from datasette import hookimpl

logger = logging.getLogger(__name__)

PLUGIN_NAME = "presswatch-serve"
# Descriptions, facets and canned queries for Datasette.
METADATA = Path(__file__).resolve().parents[1] / "db" / "metadata.yml"

# Datasette settings, each a bound on what one request can cost or expose.
SETTINGS: dict[str, str] = {
    # A longer query is interrupted with Datasette's "SQL Interrupted" error (default 1000).
    "sql_time_limit_ms": "3000",
    # Facets are extras on a table page: give up rather than slow the page (Datasette's values).
    "facet_time_limit_ms": "200",
    "facet_suggest_time_limit_ms": "50",
    # Rows per page and per custom query, JSON or CSV (Datasette's value, pinned here).
    "max_returned_rows": "1000",
    # No download of the whole file (Datasette 0.65 also refuses it for a mutable database;
    # this keeps it off if that ever changes): it would bypass every limit and the CSV guard.
    "allow_download": "off",
    # _stream=on exports a whole table, which is what a spreadsheet user wants; each page is a
    # time-limited query, the whole stream stops at max_csv_mb, and every cell is neutralised.
    "allow_csv_stream": "on",
    "max_csv_mb": "100",
}

# OWASP CSV injection: a cell starting with one of these may be read as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A plain decimal number ("-5", "+3.2", "-1e-05") is read as a number, never a formula, so it
# stays as it is and sorts and sums in the spreadsheet.
_PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")
_QUOTE_OR_NEWLINE = re.compile(r'["\n]')
# csv refuses fields over 128 KiB by default; an article body can be longer.
_CSV_FIELD_LIMIT = 2**31 - 1

_SAFE_METHODS = ("GET", "HEAD")
_LOOPBACK_NAMES = ("localhost",)


class ServeError(Exception):
    """presswatch serve cannot start as asked."""


def is_loopback_host(host: str) -> bool:
    """True for localhost, *.localhost and loopback IP literals (127.0.0.0/8, ::1).

    Other names are not resolved: a name's addresses can change after the check.
    """
    name = host.strip().removeprefix("[").removesuffix("]").rstrip(".").lower()
    if name in _LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_bind(host: str, public: bool) -> str | None:
    """The warning to print for `host`, or None for loopback; ServeError if not allowed."""
    if is_loopback_host(host):
        return None
    exposure = (
        f"Datasette has no login: anyone who can reach {host} can read every article and run "
        "read-only SQL on the database."
    )
    if not public:
        raise ServeError(
            f"Refusing to serve on '{host}', which is not a loopback address. {exposure} "
            "Use --host 127.0.0.1 (the default), or add --public to serve there anyway."
        )
    return f"Warning: serving on {host}, visible to the network. {exposure}"


def neutralise_cell(cell: str) -> str:
    """`cell` with a leading ' if a spreadsheet could read it as a formula."""
    if cell.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.match(cell):
        return "'" + cell
    return cell


class CsvNeutraliser:
    """Rewrites a CSV byte stream, chunk by chunk, through `neutralise_cell`.

    Chunks can end anywhere: inside a UTF-8 character, inside a quoted field, between the
    two quotes of an escaped quote. Only complete records (up to a newline outside quotes) are
    parsed and rewritten; the rest waits for the next chunk. Datasette writes with Python's
    csv defaults (QUOTE_MINIMAL), so a quote only ever appears inside a quoted field and
    counting quotes tells whether a newline ends a record.
    """

    def __init__(self) -> None:
        if csv.field_size_limit() < _CSV_FIELD_LIMIT:
            csv.field_size_limit(_CSV_FIELD_LIMIT)
        # surrogateescape: bytes that are not UTF-8 go back out exactly as they came in.
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="surrogateescape")
        self._pending = ""
        self._in_quotes = False  # the quote state at the end of _pending

    def feed(self, data: bytes) -> bytes:
        """The rewritten complete records that `data` finishes (often b"")."""
        start = len(self._pending)
        self._pending += self._decoder.decode(data)
        cut = 0
        for match in _QUOTE_OR_NEWLINE.finditer(self._pending, start):
            if match.group() == '"':
                self._in_quotes = not self._in_quotes
            elif not self._in_quotes:
                cut = match.end()
        if not cut:
            return b""
        complete, self._pending = self._pending[:cut], self._pending[cut:]
        return self._rewrite(complete)

    def finish(self) -> bytes:
        """Whatever is left: a last record without a newline (or an error Datasette appended)."""
        self._pending += self._decoder.decode(b"", final=True)
        rest, self._pending = self._pending, ""
        return self._rewrite(rest) if rest else b""

    @staticmethod
    def _rewrite(text: str) -> bytes:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        for row in csv.reader(io.StringIO(text, newline="")):
            writer.writerow([neutralise_cell(cell) for cell in row])
        return out.getvalue().encode("utf-8", errors="surrogateescape")


# ---- the Datasette plugin -------------------------------------------------------------------

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


@hookimpl
def prepare_connection(conn: sqlite3.Connection, database: str) -> None:
    """Make every connection to a served database unable to write.

    Reads already use mode=ro; this also covers the read-write connection Datasette opens for
    writable canned queries and for plugins that call execute_write.
    """
    if database != "_internal":  # Datasette's own in-memory catalogue, which it must write
        conn.execute("PRAGMA query_only = 1")


@hookimpl
def asgi_wrapper() -> Callable[[App], App]:
    """The guard in front of Datasette: methods, Host, and the CSV rewrite, in that order."""

    def wrap(app: App) -> App:
        async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            path = scope.get("path", "")
            if scope["method"] not in _SAFE_METHODS:
                logger.warning(
                    "Refused %s %s: presswatch serve is read-only", scope["method"], path
                )
                await _refuse(
                    send,
                    405,
                    f"presswatch serve is read-only: {scope['method']} is not allowed.",
                    [(b"allow", ", ".join(_SAFE_METHODS).encode())],
                )
                return
            refusal = _rebinding_refusal(scope)
            if refusal:
                logger.warning("Refused %s: %s", path, refusal)
                await _refuse(send, 403, refusal)
                return
            csv_path = _is_csv_path(scope)
            if csv_path:
                scope = _without_trace(scope)
            await app(scope, receive, _neutralising_send(send, csv_path=csv_path))

        return guarded

    return wrap


def _rebinding_refusal(scope: Scope) -> str | None:
    """Why a request on a loopback socket is refused, if its Host is not a loopback name.

    A web page the user visits can point its own domain at 127.0.0.1 (DNS rebinding) and then
    read this server as same-origin; its requests still carry that domain in Host.
    """
    server = scope.get("server")
    if not server or not is_loopback_host(str(server[0])):
        return None  # --public: the data is visible to the network anyway
    host = next((value for key, value in scope["headers"] if key == b"host"), None)
    if host is None:
        return None  # an HTTP/1.0 client, not a browser
    value = host.decode("latin-1")
    if is_loopback_host(_host_name(value)):
        return None
    return (
        f"Host '{value}' is not a loopback name. presswatch serve answers only requests "
        "addressed to 127.0.0.1, [::1] or localhost, so that a web page cannot read the "
        f"database through DNS rebinding. Open http://127.0.0.1:{server[1]}/ instead."
    )


def _host_name(host_header: str) -> str:
    """The name in a Host header, without its port: "[::1]:8001" -> "[::1]"."""
    if host_header.startswith("["):
        return host_header.partition("]")[0] + "]"
    name, colon, _port = host_header.rpartition(":")
    return name if colon else host_header


def _is_csv_path(scope: Scope) -> bool:
    # Datasette routes on raw_path and picks CSV by a literal ".csv" extension.
    raw = scope.get("raw_path") or scope.get("path", "").encode("utf-8")
    return raw.partition(b"?")[0].endswith(b".csv")


def _without_trace(scope: Scope) -> Scope:
    """Drop ?_trace: Datasette then wraps the CSV in an HTML page this guard does not parse."""
    pairs = urllib.parse.parse_qsl(scope.get("query_string", b"").decode("latin-1"), True)
    if not any(key == "_trace" for key, _ in pairs):
        return scope
    kept = urllib.parse.urlencode([(k, v) for k, v in pairs if k != "_trace"])
    return dict(scope, query_string=kept.encode("latin-1"))


def _neutralising_send(send: Send, csv_path: bool) -> Send:
    neutraliser: CsvNeutraliser | None = None

    async def wrapped(message: Message) -> None:
        nonlocal neutraliser
        if message["type"] == "http.response.start":
            content_type = next(
                (v for k, v in message.get("headers", []) if k.lower() == b"content-type"), b""
            ).lower()
            is_csv = content_type.startswith(b"text/csv") or (
                csv_path and content_type.startswith(b"text/plain")
            )
            if is_csv and message.get("status") == 200:
                neutraliser = CsvNeutraliser()
                # The rewritten body has another length.
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != b"content-length"
                ]
                message = dict(message, headers=headers)
        elif message["type"] == "http.response.body" and neutraliser is not None:
            body = neutraliser.feed(message.get("body", b""))
            if not message.get("more_body", False):
                body += neutraliser.finish()
            message = dict(message, body=body)
        await send(message)

    return wrapped


async def _refuse(
    send: Send, status: int, text: str, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = (text + "\n").encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


# ---- running it -----------------------------------------------------------------------------


def register_plugin() -> None:
    """Register this module's hooks with Datasette's plugin manager (once per process)."""
    from datasette.plugins import pm

    if pm.get_plugin(PLUGIN_NAME) is None:
        pm.register(sys.modules[__name__], name=PLUGIN_NAME)


def datasette_args(db_path: str, metadata_path: Path, host: str, port: int) -> list[str]:
    """The `datasette serve` arguments: the file (mutable, so mode=ro), metadata and limits."""
    args = ["serve", db_path, "--metadata", str(metadata_path), "--host", host]
    args += ["--port", str(port)]
    for name, value in SETTINGS.items():
        args += ["--setting", name, value]
    return args


def datasette_metadata(db_path: str) -> dict[str, Any]:
    """db/metadata.yml with its database section keyed by this file's name.

    Datasette names a database after its file ("demo" for demo.db), and per-database
    metadata is keyed by that name, so the section written for "presswatch" is renamed.
    """
    import yaml

    metadata = yaml.safe_load(METADATA.read_text(encoding="utf-8"))
    databases = metadata.get("databases", {})
    if "presswatch" in databases:
        databases[Path(db_path).stem] = databases.pop("presswatch")
    return metadata


def run(db_path: str, host: str, port: int) -> None:
    """Serve `db_path` with db/metadata.yml until interrupted. Call `check_bind` first."""
    from datasette.cli import cli as datasette_cli

    register_plugin()
    with tempfile.TemporaryDirectory(prefix="presswatch-") as tmp:
        metadata_path = Path(tmp) / "metadata.json"
        metadata_path.write_text(json.dumps(datasette_metadata(db_path)), encoding="utf-8")
        args = datasette_args(db_path, metadata_path, host, port)
        datasette_cli.main(args=args, prog_name="datasette", standalone_mode=False)
