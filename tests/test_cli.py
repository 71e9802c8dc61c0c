"""The command line: every command documented, listings as JSON, errors that say what to do."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from scheduler.cli import main


def all_commands(group: click.Group, prefix: tuple[str, ...] = ()):  # type: ignore[no-untyped-def]
    for name, command in group.commands.items():
        yield (*prefix, name), command
        if isinstance(command, click.Group):
            yield from all_commands(command, (*prefix, name))


@pytest.mark.parametrize(("path", "command"), list(all_commands(main)), ids=lambda v: str(v))
def test_every_command_has_help_with_an_example(path: tuple[str, ...], command) -> None:  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert command.help, f"presswatch {' '.join(path)} has no docstring"
    if not isinstance(command, click.Group):
        assert "presswatch " + " ".join(path) in command.help, f"{path} help has no example"


def test_sources_json_lists_the_registry() -> None:
    result = CliRunner().invoke(main, ["sources", "--json"])
    assert result.exit_code == 0, result.output
    keys = {s["key"] for s in json.loads(result.output)}
    assert {"globaltimes", "fmprc_en", "kremlin_en", "xinhua_en", "tass_en", "mid_en"} <= keys


def test_sources_table_honours_the_config(tmp_path: Path) -> None:
    config = tmp_path / "presswatch.toml"
    config.write_text("[sources.globaltimes]\nenabled = false\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["sources", "--config", str(config)])
    assert result.exit_code == 0, result.output
    line = next(li for li in result.output.splitlines() if " globaltimes " in li)
    assert line.startswith("off")


def test_a_bad_config_is_a_clear_error(tmp_path: Path) -> None:
    config = tmp_path / "presswatch.toml"
    config.write_text("[sources.globaltimes]\nenable = false\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["sources", "--config", str(config)])
    assert result.exit_code != 0
    assert "'enable' cannot be changed" in result.output


def test_search_without_a_database_says_how_to_make_one(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["search", "x", "--db", str(tmp_path / "none.db")])
    assert result.exit_code != 0
    assert "No database at" in result.output and "presswatch crawl" in result.output


def test_show_unknown_article(tmp_path: Path) -> None:
    db = tmp_path / "pw.db"
    from db.store import open_db

    open_db(db)
    result = CliRunner().invoke(main, ["show", "https://nowhere.example/x", "--db", str(db)])
    assert result.exit_code != 0
    assert "No article" in result.output


def test_bad_since_date(tmp_path: Path) -> None:
    db = tmp_path / "pw.db"
    from db.store import open_db

    open_db(db)
    result = CliRunner().invoke(main, ["search", "x", "--since", "yesterday", "--db", str(db)])
    assert result.exit_code != 0
    assert "use YYYY-MM-DD" in result.output
