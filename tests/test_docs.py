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


def test_the_readme_examples_are_the_tested_ones() -> None:
    docs = (Path(__file__).resolve().parents[1] / "docs" / "query-language.md").read_text(
        encoding="utf-8"
    )
    table = README.split("### The rule language", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| ") and "`" in line]
    queries = [row.split("`")[1] for row in rows if row.split("|")[1].strip().isdigit()]
    assert len(queries) >= 10
    for query in queries:
        assert f"```query\n{query}\n```" in docs, f"README example {query!r} is not tested"


def test_the_readme_configuration_is_valid() -> None:
    import tomllib

    from alerts.runner import alert_setup
    from crawler.config import config_from_dict

    block = README.split("## Configuration", 1)[1].split("```toml\n", 1)[1].split("```", 1)[0]
    config = config_from_dict(tomllib.loads(block))
    setup = alert_setup(config.aliases, config.channels, config.rules)
    assert [rule.name for rule in setup.rules] == ["china_russia_tech"]
    assert config.registry.get("myagency").timezone == "Europe/Berlin"
