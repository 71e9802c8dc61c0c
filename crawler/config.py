"""The user's presswatch.toml: validated, with errors that name the key and the fix.

Sections known today:

    [crawl]                 defaults for every crawl
    [sources.<key>]         override a built-in source (enabled, schedule, download_delay)
                            or declare a new one (handled by the generic parser)
    [aliases]               named term sets for alert rules: china_russia = ["中俄", ...]
    [channels.<name>]       where alerts go: type = email | slack | webhook | console | jsonl
    [rules.<name>]          alert rules: query, channels, mode, filters
    [health]                where source-health alerts go: channels = ["team_mail"]

Later features add their own sections; an unknown section or key is an error, never ignored,
because a typo in a monitor's config silently watches nothing.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crawler.sources import BUILTIN, Listing, Registry, Source, SourceError
from db import redact

DEFAULT_CONFIG = "presswatch.toml"

# Keys a user may change on a built-in source.
BUILTIN_OVERRIDES = {"enabled": bool, "schedule": str, "download_delay": (int, float)}

# Keys a user-declared source may carry, with their types.
NEW_SOURCE_KEYS: dict[str, Any] = {
    "name": str,
    "language": str,
    "timezone": str,
    "homepage": str,
    "kind": str,
    "feeds": list,
    "sitemaps": list,
    "listings": list,
    "article_patterns": list,
    "schedule": str,
    "enabled": bool,
    "download_delay": (int, float),
    "domains": list,
}
NEW_SOURCE_REQUIRED = ("name", "homepage", "article_patterns")
LISTING_KEYS = {"url": str, "pages": str, "first_page": int, "max_pages": int}
CRAWL_KEYS: dict[str, Any] = {
    "user_agent": str,
    # Seconds between requests for ad-hoc sites and new sources that do not set their own.
    "download_delay": (int, float),
    "max_listing_pages": int,
    "concurrent_requests_per_domain": int,
    # Addresses or networks (CIDR) the address policy lets the crawler reach although they are
    # loopback, private or reserved: for users who monitor an intranet (crawler.netpolicy).
    "allow_addresses": list,
    # Longest Retry-After (seconds) the crawler waits for; a site asking for more is given up
    # for the run and the run recorded as rate_limited (crawler.politeness).
    "max_retry_after": (int, float),
    # Bounds (crawler.bounds, which maps them to Scrapy settings): response size on the wire
    # and decompressed, seconds per response, redirects per URL, seconds and requests per crawl.
    "max_response_bytes": int,
    "download_timeout": (int, float),
    "max_redirects": int,
    "max_crawl_seconds": (int, float),
    "max_requests": int,
}
# Bounds where 0 means "no limit" (for max_redirects: follow none); download_timeout must be > 0.
BOUND_KEYS = ("max_response_bytes", "max_redirects", "max_crawl_seconds", "max_requests")
TOP_LEVEL = ("crawl", "sources", "aliases", "channels", "rules", "health")
HEALTH_KEYS: dict[str, Any] = {"channels": list}
CHANNEL_TYPES = ("email", "slack", "webhook", "console", "jsonl")
RULE_KEYS: dict[str, Any] = {
    "query": str,
    "channels": list,
    "mode": str,
    "digest_schedule": str,
    "sources": list,
    "kinds": list,
    "languages": list,
    "enabled": bool,
    "description": str,
}


class ConfigError(ValueError):
    """presswatch.toml is wrong; the message names the key and how to fix it."""


@dataclass
class Config:
    path: Path | None
    registry: Registry
    crawl: dict[str, Any] = field(default_factory=dict)
    # Alerts: plain tables, checked here for shape; alerts.rules checks their meaning (that a
    # query parses, that a rule's channels exist). Channel values may hold ${VAR} references,
    # resolved by the channel when it sends, never here.
    aliases: dict[str, list[str]] = field(default_factory=dict)
    channels: dict[str, dict[str, Any]] = field(default_factory=dict)
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)


def load_config(path: str | Path | None = None) -> Config:
    """Read `path` (or $PRESSWATCH_CONFIG, or ./presswatch.toml if it exists).

    An explicitly named file that does not exist is an error; the default one is optional.
    """
    explicit = path or os.environ.get("PRESSWATCH_CONFIG")
    candidate = Path(explicit) if explicit else Path(DEFAULT_CONFIG)
    if not candidate.exists():
        if explicit:
            raise ConfigError(
                f"Config file '{candidate}' does not exist. Create it, or leave out --config "
                "to use the built-in sources."
            )
        return Config(path=None, registry=Registry(BUILTIN))
    try:
        raw = tomllib.loads(candidate.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{candidate}: not valid TOML: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{candidate}: not UTF-8 text: {exc}") from exc
    return config_from_dict(raw, path=candidate)


def config_from_dict(raw: dict[str, Any], path: Path | None = None) -> Config:
    where = str(path or "config")
    for key in raw:
        if key not in TOP_LEVEL:
            raise ConfigError(
                f"{where}: unknown section [{key}]. Known sections: "
                f"{', '.join('[' + k + ']' for k in TOP_LEVEL)}."
            )
    crawl = raw.get("crawl", {})
    _check_table(crawl, CRAWL_KEYS, f"{where}: [crawl]")
    _check_networks(crawl.get("allow_addresses", []), f"{where}: [crawl] allow_addresses")
    if crawl.get("max_retry_after", 1) <= 0:
        raise ConfigError(f"{where}: [crawl] max_retry_after must be a number of seconds above 0.")
    if crawl.get("download_timeout", 1) <= 0:
        raise ConfigError(f"{where}: [crawl] download_timeout must be a number of seconds above 0.")
    for key in BOUND_KEYS:
        if crawl.get(key, 0) < 0:
            raise ConfigError(f"{where}: [crawl] {key} must be 0 (no limit) or more.")
    health = raw.get("health", {})
    _check_table(health, HEALTH_KEYS, f"{where}: [health]")
    if not all(isinstance(c, str) for c in health.get("channels", [])):
        raise ConfigError(f"{where}: [health] channels must be a list of channel names.")
    sources_table = raw.get("sources", {})
    if not isinstance(sources_table, dict):
        raise ConfigError(f"{where}: 'sources' must be a table of [sources.<key>] sections.")
    builtin = {s.key: s for s in BUILTIN}
    sources = dict(builtin)
    for key, table in sources_table.items():
        section = f"{where}: [sources.{key}]"
        if not isinstance(table, dict):
            raise ConfigError(f"{section} must be a table, e.g. [sources.{key}] enabled = false")
        if key in builtin:
            sources[key] = _override_builtin(builtin[key], table, section)
        else:
            sources[key] = _new_source(key, table, section, crawl.get("download_delay"))
    return Config(
        path=path,
        registry=Registry(list(sources.values())),
        crawl=crawl,
        aliases=_aliases(raw.get("aliases", {}), where),
        channels=_channels(raw.get("channels", {}), where),
        rules=_rules(raw.get("rules", {}), where),
        raw=raw,
    )


_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")


def _named_tables(table: Any, section: str, where: str) -> dict[str, dict[str, Any]]:
    if not isinstance(table, dict) or not all(isinstance(v, dict) for v in table.values()):
        raise ConfigError(f"{where}: [{section}] must hold [{section}.<name>] tables.")
    for name in table:
        if not _NAME.fullmatch(name):
            raise ConfigError(
                f"{where}: [{section}.{name}]: use a name of letters, digits, '_' and '-', "
                "starting with a letter."
            )
    return table


def _aliases(table: Any, where: str) -> dict[str, list[str]]:
    if not isinstance(table, dict):
        raise ConfigError(f'{where}: [aliases] must be a table: name = ["term", ...].')
    for name, terms in table.items():
        if not _NAME.fullmatch(name):
            raise ConfigError(f"{where}: [aliases] '{name}': use letters, digits, '_' and '-'.")
        if not isinstance(terms, list) or not terms or not all(isinstance(t, str) for t in terms):
            raise ConfigError(
                f"{where}: [aliases] '{name}' must be a non-empty list of strings, e.g. "
                f'{name} = ["中俄", "\\"Sino-Russian\\""].'
            )
    return {name: list(terms) for name, terms in table.items()}


def _channels(table: Any, where: str) -> dict[str, dict[str, Any]]:
    channels = _named_tables(table, "channels", where)
    for name, channel in channels.items():
        kind = channel.get("type")
        if kind not in CHANNEL_TYPES:
            raise ConfigError(
                f"{where}: [channels.{name}] needs type = one of {', '.join(CHANNEL_TYPES)}"
                + (f" (got {kind!r})." if kind is not None else ".")
            )
        # The variables a channel refers to hold its secrets: from now on no log line or
        # stored text of this process shows their values (read when redacting, not here).
        redact.watch_env(redact.env_references(channel))
    return {name: {**channel, "name": name} for name, channel in channels.items()}


def _rules(table: Any, where: str) -> dict[str, dict[str, Any]]:
    rules = _named_tables(table, "rules", where)
    for name, rule in rules.items():
        section = f"{where}: [rules.{name}]"
        _check_table(rule, RULE_KEYS, section)
        if "query" not in rule:
            raise ConfigError(f"{section} needs a query, e.g. query = '@china_russia AND 科技'.")
        for key in ("channels", "sources", "kinds", "languages"):
            if not all(isinstance(v, str) for v in rule.get(key, [])):
                raise ConfigError(f"{section}: '{key}' must be a list of strings.")
    return {name: {**rule, "name": name} for name, rule in rules.items()}


def _check_networks(values: list[Any], section: str) -> None:
    for value in values:
        try:
            ipaddress.ip_network(value, strict=False)
        except (TypeError, ValueError):
            raise ConfigError(
                f"{section}: {value!r} is not an IP address or network; write e.g. "
                '["127.0.0.1", "10.0.0.0/8", "fd00::/8"].'
            ) from None


def _check_table(table: dict[str, Any], allowed: dict[str, Any], section: str) -> None:
    for key, value in table.items():
        if key not in allowed:
            raise ConfigError(
                f"{section}: unknown key '{key}'. Allowed keys: {', '.join(sorted(allowed))}."
            )
        expected = allowed[key]
        # bool is an int in Python; a number where a bool belongs (or back) is a typo.
        if isinstance(value, bool) != (expected is bool) or not isinstance(value, expected):
            names = (
                " or ".join(t.__name__ for t in expected)
                if isinstance(expected, tuple)
                else expected.__name__
            )
            raise ConfigError(f"{section}: '{key}' must be a {names}, not {value!r}.")


def _override_builtin(source: Source, table: dict[str, Any], section: str) -> Source:
    unknown = set(table) - set(BUILTIN_OVERRIDES)
    if unknown:
        key = sorted(unknown)[0]
        raise ConfigError(
            f"{section}: '{key}' cannot be changed on a built-in source; allowed: "
            f"{', '.join(sorted(BUILTIN_OVERRIDES))}. To crawl the site differently, disable it "
            "and declare a new source under another key."
        )
    _check_table(table, BUILTIN_OVERRIDES, section)
    try:
        return source.with_overrides(**table)
    except SourceError as exc:
        raise ConfigError(f"{section}: {exc}") from exc


def _new_source(
    key: str, table: dict[str, Any], section: str, default_delay: float | None = None
) -> Source:
    _check_table(table, NEW_SOURCE_KEYS, section)
    missing = [k for k in NEW_SOURCE_REQUIRED if k not in table]
    if missing:
        raise ConfigError(
            f"{section}: a new source needs {', '.join(missing)} "
            f"(or '{key}' is a typo of a built-in key: run 'presswatch sources')."
        )
    listings = []
    for i, item in enumerate(table.get("listings", [])):
        if isinstance(item, str):
            item = {"url": item}
        if not isinstance(item, dict) or "url" not in item:
            raise ConfigError(
                f"{section}: listings[{i}] must be a URL or a table with 'url' "
                "(and optional pages = '...{n}...', first_page, max_pages)."
            )
        _check_table(item, LISTING_KEYS, f"{section} listings[{i}]")
        if "pages" in item and "{n}" not in item["pages"]:
            raise ConfigError(f"{section} listings[{i}]: 'pages' must contain '{{n}}'.")
        listings.append(Listing(**item))
    for name in ("feeds", "sitemaps", "article_patterns", "domains"):
        if not all(isinstance(v, str) for v in table.get(name, [])):
            raise ConfigError(f"{section}: '{name}' must be a list of strings.")
    fields = {k: v for k, v in table.items() if k != "listings"}
    for name in ("feeds", "sitemaps", "article_patterns", "domains"):
        if name in fields:
            fields[name] = tuple(fields[name])
    fields.setdefault("language", "en")
    fields.setdefault("timezone", "UTC")
    if default_delay is not None:
        fields.setdefault("download_delay", default_delay)
    try:
        return Source(key=key, listings=tuple(listings), builtin=False, **fields)
    except SourceError as exc:
        raise ConfigError(f"{section}: {exc}") from exc


def adhoc_source(url: str, download_delay: float = 1.0) -> Source:
    """A source for `presswatch crawl --url URL`: one site, generic parser, same host only.

    Any same-host page is a candidate article; the generic parser and the validation
    pipeline decide what is an article (a page with no usable title and body is dropped).
    """
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"--url '{url}' is not an http(s) URL with a host.")
    host = parts.hostname
    key = "adhoc_" + re.sub(r"[^a-z0-9]+", "_", host.lower()).strip("_")
    root = f"{parts.scheme}://{parts.netloc}/"
    start = url if parts.path not in ("", "/") else root
    return Source(
        key=key,
        name=f"ad hoc: {host}",
        language="en",
        timezone="UTC",
        homepage=root,
        listings=(Listing(start),),
        article_patterns=(rf"^https?://{re.escape(parts.netloc)}/.+",),
        builtin=False,
        download_delay=download_delay,
    )
