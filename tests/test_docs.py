"""The README stays true to the code: every source in its table, every command in its CLI list."""

from __future__ import annotations

from pathlib import Path

from crawler.sources import BUILTIN
from scheduler.cli import main

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_every_builtin_source_is_in_the_sources_table() -> None:
    table = README.split("## Sources", 1)[1].split("\n## ", 1)[0]
    for source in BUILTIN:
        assert f"| {source.key} | {source.name} |" in table, f"{source.key} missing from README"


def test_every_command_is_in_the_cli_reference() -> None:
    reference = README.split("## Command line", 1)[1].split("\n## ", 1)[0]
    for name in main.commands:
        assert f"`presswatch {name}" in reference, f"presswatch {name} is not documented"
