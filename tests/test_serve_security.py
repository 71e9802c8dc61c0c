"""`presswatch serve` against hostile data and hostile requests, on a real Datasette process.

Scraped text decides what lands in CSV cells, so every CSV export must come out with no cell a
spreadsheet would read as a formula; nothing reaching the server may write; queries are
time-limited; and the server listens on loopback only, for loopback names only.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import json
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from db.store import open_db, upsert_articles
from scheduler import serve
from tests.test_serve import free_port, get_json

HOSTILE = [
    '=HYPERLINK("http://evil.example","x")',
    "+1+2",
    "-2+3",
    "@SUM(A1)",
    "\t=1",
    "\r=1",
]
# Safe as a cell; a line-by-line rewriter would split it, or mangle the "=cmd" line.
EMBEDDED_NEWLINE = "safe line\n=cmd"
# Longer than csv's default 128 KiB field limit, with quotes and newlines inside.
BIG_BODY = '=SUM(1,2) "quoted"\n' + '中俄 科技创新年, "two" quotes.\n' * 12_000


@pytest.fixture(autouse=True)
def long_csv_fields() -> Iterator[None]:
    """Let csv read BIG_BODY (the server raises its limit the same way), then put it back."""
    previous = csv.field_size_limit(2**31 - 1)
    yield
    csv.field_size_limit(previous)


def neutralised(value: str) -> str:
    return "'" + value


def assert_no_formula_cells(rows: list[list[str]], url: str) -> None:
    for row in rows:
        for cell in row:
            dangerous = cell.startswith(serve.FORMULA_STARTS)
            assert not dangerous or is_plain_number(cell), f"{url}: formula cell {cell[:60]!r}"


def is_plain_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return cell.lstrip("+-")[:1].isdigit() or cell.lstrip("+-")[:1] == "."


def fetch(url: str, method: str = "GET", headers: dict[str, str] | None = None) -> tuple:
    """(status, headers, body text) of any answer, error statuses included."""
    request = urllib.request.Request(url, method=method, headers=headers or {})
    if method == "POST":
        request.data = b"sql=delete+from+articles"
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.headers, response.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers, error.read().decode("utf-8", "replace")


def fetch_csv(url: str) -> list[list[str]]:
    status, _, text = fetch(url)
    assert status == 200, f"{url}: {status} {text[:300]}"
    return list(csv.reader(io.StringIO(text, newline="")))


def file_state(db_path: Path) -> tuple[str, ...]:
    """sha256 of the database file and its WAL (the -shm index changes on every read)."""
    paths = (db_path, db_path.with_name(db_path.name + "-wal"))
    return tuple(
        hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else "-" for path in paths
    )


@pytest.fixture
def hostile_db(tmp_path: Path, make_record) -> Path:  # type: ignore[no-untyped-def]
    """A real presswatch database whose scraped fields start with formula characters."""
    db_path = tmp_path / "watch.db"
    db = open_db(db_path)
    records = [
        make_record(
            url=f"https://www.globaltimes.cn/content/{i}.shtml",
            title=value,
            subtitle=value,
            section=value,
            body=value,
            authors=[value],
            captions=[{"text": value, "credit": None}],
        )
        for i, value in enumerate([*HOSTILE, EMBEDDED_NEWLINE])
    ]
    records.append(
        make_record(url="https://www.globaltimes.cn/content/big.shtml", title="Big", body=BIG_BODY)
    )
    records.append(make_record(url="https://www.globaltimes.cn/content/plain.shtml"))
    upsert_articles(db, records)
    db.close()
    return db_path


@pytest.fixture
def start_server() -> Iterator[Callable[..., tuple[str, subprocess.Popen]]]:
    """start_server(db_path, *args): a `presswatch serve` subprocess that answers, and its URL."""
    processes: list[subprocess.Popen] = []

    def start(db_path: Path, *args: str) -> tuple[str, subprocess.Popen]:
        port = free_port()
        command = [sys.executable, "-m", "scheduler.cli", "serve", "--db", str(db_path)]
        process = subprocess.Popen(
            [*command, "--port", str(port), *args],
            cwd=Path(__file__).resolve().parents[1],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        processes.append(process)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                get_json(f"{base}/-/versions.json")
                return base, process
            except (urllib.error.URLError, ConnectionError):
                if process.poll() is not None or time.monotonic() > deadline:
                    process.kill()
                    output = process.stdout.read() if process.stdout else ""
                    pytest.fail(f"presswatch serve did not start: {output}")
                time.sleep(0.2)

    yield start
    for process in processes:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout:
            process.stdout.close()


# ---- CSV ------------------------------------------------------------------------------------


def test_every_csv_export_neutralises_formula_cells(hostile_db: Path, start_server) -> None:  # type: ignore[no-untyped-def]
    base, _ = start_server(hostile_db)
    ids = [row["id"] for row in get_json(f"{base}/watch/articles.json?_shape=array&_col=id")]
    sql = urllib.parse.quote(
        "select title, subtitle, section, body,"
        " json_extract(authors, '$[0]') as author, json_extract(captions, '$[0].text') as caption"
        " from articles"
    )
    canned = urllib.parse.quote('\'=1+1\' as "=HYPERLINK(""http://evil.example"")"')
    exports = {
        "table": f"{base}/watch/articles.csv",
        "table, download": f"{base}/watch/articles.csv?_size=max&_dl=1",
        "table, stream": f"{base}/watch/articles.csv?_stream=on",
        # Two rows a page: many pages and chunks. Sorted by the key because Datasette 0.65
        # pages the metadata's published_at order without a tie-breaker on the first page.
        "table, stream in pages": f"{base}/watch/articles.csv?_stream=on&_size=2&_sort=id",
        "table, _trace": f"{base}/watch/articles.csv?_trace=1",
        "versions": f"{base}/watch/article_versions.csv?_stream=on",
        "sql": f"{base}/watch.csv?sql={urllib.parse.quote('select title from articles')}",
        "sql, json fields": f"{base}/watch.csv?sql={sql}",
        "sql, hostile header": f"{base}/watch.csv?sql=select+{canned}",
        "canned query": f"{base}/watch/latest_per_source.csv",
        **{f"row {i}": f"{base}/watch/articles/{i}.csv" for i in ids},
    }
    cells: dict[str, set[str]] = {}
    for name, url in exports.items():
        rows = fetch_csv(url)
        assert_no_formula_cells(rows, name)
        cells[name] = {cell for row in rows for cell in row}

    expected = {neutralised(value) for value in HOSTILE} | {EMBEDDED_NEWLINE}
    for name in ("table", "table, download", "table, stream", "table, stream in pages", "sql"):
        assert expected <= cells[name], name
    assert expected <= cells["sql, json fields"]
    assert expected <= cells["table, _trace"]
    assert expected <= set().union(*(cells[f"row {i}"] for i in ids))
    assert {neutralised(value) for value in HOSTILE} <= cells["versions"]
    # The big body crosses chunks and csv's default field limit and comes out whole.
    assert neutralised(BIG_BODY) in cells["table, stream in pages"]
    assert neutralised(BIG_BODY) in cells["table"]
    assert cells["sql, hostile header"] == {'\'=HYPERLINK("http://evil.example")', "'=1+1"}


def test_plain_numbers_stay_numbers_in_csv(hostile_db: Path, start_server) -> None:  # type: ignore[no-untyped-def]
    base, _ = start_server(hostile_db)
    sql = "select -5 as minus, -3.25 as minus_float, '+3.2' as plus_text, '-2+3' as formula"
    rows = fetch_csv(f"{base}/watch.csv?sql={urllib.parse.quote(sql)}")
    assert rows == [
        ["minus", "minus_float", "plus_text", "formula"],
        ["-5", "-3.25", "+3.2", "'-2+3"],
    ]


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+1+2", "'+1+2"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("-", "'-"),
        ("-inf", "'-inf"),
        ("-5", "-5"),
        ("+3.2", "+3.2"),
        ("-1e-05", "-1e-05"),
        ("-.5", "-.5"),
        ("safe line\n=cmd", "safe line\n=cmd"),
        ("'=already quoted", "'=already quoted"),
        ("", ""),
    ],
)
def test_neutralise_cell(cell: str, expected: str) -> None:
    assert serve.neutralise_cell(cell) == expected


def test_neutraliser_gives_the_same_output_however_the_stream_is_cut() -> None:
    rows = [["id", "title"], *([str(i), value] for i, value in enumerate(HOSTILE))]
    rows += [["7", EMBEDDED_NEWLINE], ["8", 'say ""="" twice'], ["9", "中俄\r\n=cmd"]]
    source = io.StringIO()
    csv.writer(source).writerows(rows)  # Datasette's own dialect: Python's csv defaults
    data = source.getvalue().encode("utf-8")

    whole = serve.CsvNeutraliser()
    expected = whole.feed(data) + whole.finish()
    for size in (1, 2, 3, 7, 64):  # 1 byte splits UTF-8 characters and every "" pair
        neutraliser = serve.CsvNeutraliser()
        chunks = [neutraliser.feed(data[i : i + size]) for i in range(0, len(data), size)]
        assert b"".join(chunks) + neutraliser.finish() == expected, size

    parsed = list(csv.reader(io.StringIO(expected.decode("utf-8"), newline="")))
    assert [row[1] for row in parsed[1:7]] == [neutralised(value) for value in HOSTILE]
    assert [row[1] for row in parsed[7:]] == [EMBEDDED_NEWLINE, 'say ""="" twice', "中俄\r\n=cmd"]


# ---- read-only ------------------------------------------------------------------------------


def writing_sql(tmp: Path) -> list[str]:
    return [
        "insert into articles (id, url, source, title) values ('x', 'u', 's', 't')",
        "delete from articles",
        "update articles set title = 'x'",
        "drop table articles",
        "pragma writable_schema=1",
        f"attach database '{tmp / 'evil.db'}' as evil",
        f"vacuum into '{tmp / 'copy.db'}'",
        # Passes Datasette's "must be a SELECT" check; only the read-only connection stops it.
        "with doomed as (select id from articles) delete from articles where id in doomed",
        f"select load_extension('{tmp / 'evil.so'}')",
    ]


def test_sql_that_writes_is_refused_and_the_file_is_unchanged(
    hostile_db: Path,
    start_server,  # type: ignore[no-untyped-def]
) -> None:
    base, _ = start_server(hostile_db)
    before = file_state(hostile_db)
    for sql in writing_sql(hostile_db.parent):
        for fmt in ("json", "csv"):
            status, _, text = fetch(f"{base}/watch.{fmt}?sql={urllib.parse.quote(sql)}")
            # Datasette 0.65 answers a CSV query that SQLite refused with an empty 200.
            refused = status == 400 or (fmt == "csv" and not text.strip())
            assert refused, f"{sql} ({fmt}): {status} {text[:200]}"
    cte = writing_sql(hostile_db.parent)[-2]
    status, _, text = fetch(f"{base}/watch.json?sql={urllib.parse.quote(cte)}")
    assert "attempt to write a readonly database" in json.loads(text)["error"]

    write_paths = [
        "/watch",
        "/watch.json",
        "/watch/articles",
        "/watch/articles.json",
        f"/watch/articles/{get_json(f'{base}/watch/articles.json?_shape=array')[0]['id']}",
        "/watch/search",
        "/watch/-/create",
        "/watch/articles/-/insert",
        "/-/messages",
    ]
    for path in write_paths:
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            status, headers, text = fetch(base + path, method=method)
            assert status == 405, f"{method} {path}: {status} {text[:200]}"
            assert headers["allow"] == "GET, HEAD"

    assert file_state(hostile_db) == before
    assert not (hostile_db.parent / "copy.db").exists()
    assert not (hostile_db.parent / "evil.db").exists()
    db = open_db(hostile_db)
    try:
        assert db["articles"].count == len(HOSTILE) + 3
    finally:
        db.close()


def test_datasette_write_connection_cannot_write(hostile_db: Path) -> None:
    """The connection writable canned queries and plugins use is query_only too."""
    from datasette.app import Datasette
    from datasette.plugins import pm

    serve.register_plugin()
    datasette = Datasette([str(hostile_db)])
    try:

        async def write() -> Any:
            await datasette.invoke_startup()
            return await datasette.get_database("watch").execute_write("delete from articles")

        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            asyncio.run(write())
    finally:
        datasette.get_database("watch").close()
        pm.unregister(name=serve.PLUGIN_NAME)
    db = open_db(hostile_db)
    try:
        assert db["articles"].count == len(HOSTILE) + 3
    finally:
        db.close()


# ---- limits ---------------------------------------------------------------------------------


def test_a_query_that_runs_long_is_cut_off(hostile_db: Path, start_server) -> None:  # type: ignore[no-untyped-def]
    base, _ = start_server(hostile_db)
    settings = get_json(f"{base}/-/settings.json")
    assert {key: settings[key] for key in serve.SETTINGS} == {
        "sql_time_limit_ms": 3000,
        "facet_time_limit_ms": 200,
        "facet_suggest_time_limit_ms": 50,
        "max_returned_rows": 1000,
        "allow_download": False,
        "allow_csv_stream": True,
        "max_csv_mb": 100,
    }
    endless = (
        "with recursive n(i) as (select 1 union all select i + 1 from n) select count(*) from n"
    )
    status, _, text = fetch(f"{base}/watch.json?sql={urllib.parse.quote(endless)}")
    assert status == 400, text[:300]
    assert "SQL query took too long" in json.loads(text)["error"]
    # The server is still there for the next request.
    assert get_json(f"{base}/watch.json?sql=select+1&_shape=array") == [{"1": 1}]


# ---- where it listens -----------------------------------------------------------------------


def listening_addresses(port: int) -> list[str]:
    """Local addresses of the LISTEN sockets on `port`, from /proc/net/tcp and tcp6 (hex)."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        lines = Path(table).read_text().splitlines()[1:] if Path(table).exists() else []
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            address, _, hex_port = local.partition(":")
            if state == "0A" and int(hex_port, 16) == port:
                found.append(address)
    return found


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads Linux /proc/net/tcp")
def test_listens_on_loopback_only_and_refuses_rebinding(hostile_db: Path, start_server) -> None:  # type: ignore[no-untyped-def]
    base, _ = start_server(hostile_db)
    port = int(base.rsplit(":", 1)[1])
    assert listening_addresses(port) == ["0100007F"]  # 127.0.0.1, nothing else

    url = f"{base}/watch/articles.json"
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", "LOCALHOST"):
        assert fetch(url, headers={"Host": host})[0] == 200, host
    # A web page whose domain now resolves to 127.0.0.1 sends its own name as Host.
    for host in (f"evil.example:{port}", "evil.example", f"127.0.0.1.evil.example:{port}"):
        status, _, text = fetch(url, headers={"Host": host})
        assert status == 403, host
        assert "DNS rebinding" in text


def run_serve(db_path: Path, *args: str) -> tuple[int | None, str]:
    """Run `presswatch serve` to its end (at most 30 s) and return its exit code and output."""
    process = subprocess.Popen(
        [sys.executable, "-m", "scheduler.cli", "serve", "--db", str(db_path), *args],
        cwd=Path(__file__).resolve().parents[1],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        output, _ = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        return None, output
    return process.returncode, output


# 192.0.2.1 (TEST-NET-1) is not assigned here: if the guard lets it through, binding fails, so
# these tests never open a socket beyond loopback.
def test_a_non_loopback_host_is_refused_without_public(hostile_db: Path) -> None:
    code, output = run_serve(hostile_db, "--host", "192.0.2.1", "--port", str(free_port()))
    assert code == 1, output
    assert "Refusing to serve on '192.0.2.1', which is not a loopback address" in output
    assert "--public" in output
    assert "Uvicorn" not in output


def test_a_non_loopback_host_with_public_warns(hostile_db: Path) -> None:
    port = str(free_port())
    code, output = run_serve(hostile_db, "--host", "192.0.2.1", "--public", "--port", port)
    assert "Warning: serving on 192.0.2.1, visible to the network" in output
    assert code != 0, output  # the address is not ours, so the bind itself fails


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("LocalHost.", True),
        ("app.localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.10", False),
        ("example.org", False),
        ("localhost.example.org", False),
        ("", False),
    ],
)
def test_is_loopback_host(host: str, loopback: bool) -> None:
    assert serve.is_loopback_host(host) is loopback
