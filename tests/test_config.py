"""presswatch.toml: overrides, new sources, and errors that name the key and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.config import ConfigError, adhoc_source, config_from_dict, load_config


def test_without_a_file_the_builtin_sources_are_in_force(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PRESSWATCH_CONFIG", raising=False)
    config = load_config()
    assert config.path is None
    assert "globaltimes" in config.registry


def test_a_named_file_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml")


def test_builtin_source_can_be_disabled_and_rescheduled() -> None:
    config = config_from_dict(
        {"sources": {"globaltimes": {"enabled": False}, "tass_en": {"schedule": "15m"}}}
    )
    assert not config.registry.get("globaltimes").enabled
    assert config.registry.get("tass_en").schedule == "15m"
    assert "globaltimes" not in {s.key for s in config.registry.enabled()}


def test_a_new_source_is_declared_with_defaults() -> None:
    config = config_from_dict(
        {
            "sources": {
                "myblog": {
                    "name": "My blog",
                    "homepage": "https://blog.example/",
                    "feeds": ["https://blog.example/feed.xml"],
                    "listings": ["https://blog.example/news/", {"url": "https://blog.example/a/"}],
                    "article_patterns": [r"/\d{4}/\d\d/[^/]+/$"],
                }
            }
        }
    )
    source = config.registry.get("myblog")
    assert source.parser == "generic" and not source.builtin
    assert source.timezone == "UTC" and source.language == "en"
    assert source.is_article_url("https://blog.example/2026/07/hello/")
    assert [li.url for li in source.listings] == [
        "https://blog.example/news/",
        "https://blog.example/a/",
    ]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"sourcse": {}}, r"unknown section \[sourcse\]"),
        ({"sources": {"globaltimes": {"enable": False}}}, "'enable' cannot be changed"),
        ({"sources": {"globaltimes": {"enabled": "no"}}}, "'enabled' must be a bool"),
        ({"sources": {"globaltimes": {"schedule": "hourly"}}}, "neither an interval"),
        ({"sources": {"globaltimes": {"download_delay": True}}}, "'download_delay' must be"),
        ({"sources": {"x": {"name": "X"}}}, "needs homepage, article_patterns"),
        (
            {"sources": {"x": {"name": "X", "homepage": "ftp://x", "article_patterns": ["a"]}}},
            "not an http",
        ),
        (
            {
                "sources": {
                    "x": {
                        "name": "X",
                        "homepage": "https://x.example/",
                        "article_patterns": ["("],
                    }
                }
            },
            "is not a regex",
        ),
        (
            {
                "sources": {
                    "x": {
                        "name": "X",
                        "homepage": "https://x.example/",
                        "article_patterns": ["a"],
                        "timezone": "Mars/Olympus",
                    }
                }
            },
            "unknown time zone 'Mars/Olympus'",
        ),
        (
            {
                "sources": {
                    "x": {
                        "name": "X",
                        "homepage": "https://x.example/",
                        "article_patterns": ["a"],
                        "listings": [{"url": "https://x.example/", "pages": "/p"}],
                    }
                }
            },
            r"must contain '\{n\}'",
        ),
        ({"crawl": {"user_agnet": "x"}}, "unknown key 'user_agnet'"),
        ({"crawl": {"allow_addresses": ["intranet"]}}, "not an IP address or network"),
        ({"crawl": {"allow_addresses": "10.0.0.0/8"}}, "'allow_addresses' must be a list"),
    ],
)
def test_bad_config_names_the_key_and_the_fix(raw: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config_from_dict(raw)


def test_bad_toml_is_reported_with_the_file_name(tmp_path: Path) -> None:
    path = tmp_path / "presswatch.toml"
    path.write_text("[sources.x\nname = 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"presswatch\.toml: not valid TOML"):
        load_config(path)


def test_adhoc_source_stays_on_its_host() -> None:
    source = adhoc_source("https://news.example.org/world/")
    assert source.key == "adhoc_news_example_org"
    assert source.is_article_url("https://news.example.org/world/story-1")
    assert not source.is_article_url("https://other.example/world/story-1")
    with pytest.raises(ConfigError, match="not an http"):
        adhoc_source("file:///etc/passwd")


def test_alert_sections_are_read_as_tables_with_their_names() -> None:
    config = config_from_dict(
        {
            "aliases": {"china_russia": ["中俄", '"Sino-Russian"']},
            "channels": {"mail": {"type": "email", "password": "${SMTP_PASSWORD}"}},
            "rules": {"tech": {"query": "@china_russia AND 科技", "channels": ["mail"]}},
        }
    )
    assert config.aliases == {"china_russia": ["中俄", '"Sino-Russian"']}
    # ${VAR} references stay as written: the channel resolves them when it sends.
    assert config.channels["mail"] == {
        "type": "email",
        "password": "${SMTP_PASSWORD}",
        "name": "mail",
    }
    assert config.rules["tech"]["name"] == "tech"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"aliases": {"cr": "中俄"}}, "must be a non-empty list of strings"),
        ({"channels": {"mail": {"host": "x"}}}, "needs type = one of email, slack"),
        ({"channels": {"mail": {"type": "pigeon"}}}, "got 'pigeon'"),
        ({"rules": {"tech": {"channels": ["mail"]}}}, "needs a query"),
        ({"rules": {"tech": {"query": "x", "chanels": []}}}, "unknown key 'chanels'"),
        ({"rules": {"tech": {"query": "x", "mode": 1}}}, "'mode' must be a str"),
        ({"rules": {"9tech": {"query": "x"}}}, "starting with a letter"),
    ],
)
def test_bad_alert_config_names_the_key(raw: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config_from_dict(raw)


def test_health_section_names_channels() -> None:
    config = config_from_dict({"health": {"channels": ["mail"]}})
    assert config.raw["health"]["channels"] == ["mail"]
    with pytest.raises(ConfigError, match=r"\[health\]: unknown key 'chanels'"):
        config_from_dict({"health": {"chanels": ["mail"]}})
    with pytest.raises(ConfigError, match="list of channel names"):
        config_from_dict({"health": {"channels": [1]}})


def test_allow_addresses_takes_addresses_and_networks() -> None:
    config = config_from_dict(
        {"crawl": {"allow_addresses": ["127.0.0.1", "10.0.0.0/8", "fd00::/8"]}}
    )
    assert config.crawl["allow_addresses"] == ["127.0.0.1", "10.0.0.0/8", "fd00::/8"]
