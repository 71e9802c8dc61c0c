"""`presswatch serve`: a real Datasette process over a real database, read-only."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from db.store import open_db, upsert_articles


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        error.close()  # an HTTPError holds the open response
        return error.code


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


@pytest.fixture
def served(tmp_path: Path, make_record) -> Iterator[tuple[str, Path]]:  # type: ignore[no-untyped-def]
    db_path = tmp_path / "watch.db"
    db = open_db(db_path)
    upsert_articles(
        db,
        [
            make_record(
                url="https://www.globaltimes.cn/content/1174814.shtml",
                title="China, Russia speed up plans for sci-tech innovation year",
                body="China and Russia are accelerating technological innovation plans.",
                language="en",
            ),
            make_record(
                url="https://www.fmprc.gov.cn/web/zyxw/t1.shtml",
                title="中俄科技创新年",
                body="中俄两国在科技创新领域的合作不断深化。",
                language="zh",
                source="fmprc_zh",
            ),
        ],
    )
    db.close()
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "scheduler.cli", "serve", "--db", str(db_path), "--port", str(port)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                get_json(f"{base}/-/versions.json")
                break
            except (urllib.error.URLError, ConnectionError):
                if process.poll() is not None or time.monotonic() > deadline:
                    output = process.stdout.read() if process.stdout else ""
                    pytest.fail(f"datasette did not start: {output}")
                time.sleep(0.2)
        yield base, db_path
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout:
            process.stdout.close()


def test_serve_shows_metadata_and_finds_english_by_stem_and_chinese(served) -> None:  # type: ignore[no-untyped-def]
    base, _ = served
    metadata = get_json(f"{base}/-/metadata.json")
    assert "watch" in metadata["databases"], "the metadata must be keyed by this file's name"
    assert metadata["databases"]["watch"]["queries"]["search"]

    english = get_json(f"{base}/watch/articles.json?_search=innovations&_shape=array")
    assert [row["source"] for row in english] == ["globaltimes"]
    chinese = get_json(
        f"{base}/watch/articles.json?_shape=array&_search=" + urllib.parse.quote("中俄")
    )
    assert [row["title"] for row in chinese] == ["中俄科技创新年"]


def test_serve_is_read_only_and_binds_to_loopback(served) -> None:  # type: ignore[no-untyped-def]
    base, db_path = served
    assert base.startswith("http://127.0.0.1:")
    sql = urllib.parse.quote("delete from articles")
    assert status_of(f"{base}/watch.json?sql={sql}") == 400
    assert status_of(f"{base}/watch.db") in (403, 404)
    conn = open_db(db_path)
    try:
        assert conn["articles"].count == 2
    finally:
        conn.close()
