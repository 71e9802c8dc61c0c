"""Alert rules: the checked, compiled form of the [rules.NAME] tables of presswatch.toml.

Owns what a rule means (crawler.config checks only the shape of its table): that its query
parses with the configured aliases, that its channels exist, that its mode and digest
schedule are valid, and which records its filters let through. Also owns the rule set that
ships with presswatch (`default_config`, from default_rules.toml), used when a
configuration has no rules of its own.

Every error names the rule and says how to fix it, because a rule that silently watches
nothing is the worst failure a monitor can have.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

from apscheduler.triggers.cron import CronTrigger

from alerts.query import Query, QueryError, parse

MODES = ("immediate", "digest")
KINDS = ("article", "briefing", "transcript", "statement")
RULE_KEYS = frozenset(
    {
        "name",
        "query",
        "description",
        "channels",
        "mode",
        "digest_schedule",
        "sources",
        "kinds",
        "languages",
        "enabled",
    }
)
DEFAULT_RULES_FILE = "default_rules.toml"

# "1d", "12h", "30m", "1w": a digest every so often, periods aligned to the UTC epoch (so
# "1d" periods run midnight to midnight UTC).
_INTERVAL = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$")
_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_EPOCH = datetime(1970, 1, 5, tzinfo=UTC)  # a Monday, so "1w" periods start on Mondays


class RuleError(ValueError):
    """An alert rule is wrong; the message names the rule and the fix."""


@dataclass(frozen=True)
class Schedule:
    """When digests of a rule are due: a 5-field cron expression or an interval, in UTC."""

    text: str
    cron: CronTrigger | None = None
    interval: timedelta | None = None

    def next_fire(self, after: datetime) -> datetime:
        """The first due time strictly after `after` (an aware datetime)."""
        after = after.astimezone(UTC)
        if self.interval is not None:
            steps = (after - _EPOCH) // self.interval + 1
            return _EPOCH + steps * self.interval
        assert self.cron is not None
        # Cron fires on whole seconds and get_next_fire_time includes `now` itself.
        start = after.replace(microsecond=0) + timedelta(seconds=1)
        fire = self.cron.get_next_fire_time(None, start)
        assert fire is not None  # a trigger without end_date always has a next time
        return fire.astimezone(UTC)


def parse_schedule(text: str) -> Schedule:
    """A Schedule from "0 8 * * *" (cron, UTC) or "1d" / "12h" / "30m" / "1w".

    Raises ValueError saying what is wrong.
    """
    interval = _INTERVAL.match(text or "")
    if interval:
        count, unit = int(interval.group(1)), interval.group(2)
        if count < 1:
            raise ValueError(f"the interval {text!r} must be at least 1{unit}")
        return Schedule(text, interval=timedelta(seconds=count * _UNIT_SECONDS[unit]))
    try:
        cron = CronTrigger.from_crontab(text, timezone=UTC)
    except ValueError as exc:
        raise ValueError(
            f"{text!r} is neither a 5-field cron expression ({exc}) nor an interval such as "
            '"1d" or "12h"'
        ) from exc
    return Schedule(text, cron=cron)


@dataclass(frozen=True)
class Rule:
    """One checked rule: its parsed query, where it sends, and which records it considers."""

    name: str
    query_text: str
    query: Query = field(compare=False, repr=False)
    channels: tuple[str, ...] = ()
    mode: str = "immediate"
    schedule: Schedule | None = field(default=None, compare=False, repr=False)
    sources: frozenset[str] = frozenset()
    kinds: frozenset[str] = frozenset()
    languages: frozenset[str] = frozenset()
    enabled: bool = True
    description: str = ""

    @property
    def digest_schedule(self) -> str | None:
        return self.schedule.text if self.schedule else None

    def accepts(self, source: str, kind: str | None, language: str | None) -> bool:
        """Whether the rule's filters let a record of this source, kind and language through.

        An empty filter lets everything through. Languages compare by their primary subtag,
        so "zh" accepts "zh-CN" and "zh-Hant".
        """
        if self.sources and source not in self.sources:
            return False
        if self.kinds and (kind or "article") not in self.kinds:
            return False
        if self.languages:
            primary = (language or "").split("-")[0].casefold()
            if primary not in self.languages:
                return False
        return True

    def to_row(self) -> dict[str, Any]:
        """The rule as an alert_rules row (db.alerts.sync_rules)."""
        return {
            "name": self.name,
            "query": self.query_text,
            "description": self.description or None,
            "channels": list(self.channels),
            "mode": self.mode,
            "digest_schedule": self.digest_schedule,
            "filters": {
                "sources": sorted(self.sources),
                "kinds": sorted(self.kinds),
                "languages": sorted(self.languages),
            },
            "enabled": self.enabled,
        }


def _strings(rule: str, key: str, value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise RuleError(f'Rule {rule!r}: {key} must be a list of strings, e.g. {key} = ["..."].')
    if not all(isinstance(item, str) and item.strip() for item in value):
        raise RuleError(f"Rule {rule!r}: {key} must hold non-empty strings, got {value!r}.")
    return [item.strip() for item in value]


def load_rule(
    name: str,
    table: Mapping[str, Any],
    aliases: Mapping[str, Sequence[str]],
    channels: Mapping[str, Any],
    *,
    known_sources: Collection[str] | None = None,
) -> Rule:
    """Check and compile one [rules.NAME] table; raises RuleError naming the rule and fix."""
    unknown = sorted(set(table) - RULE_KEYS)
    if unknown:
        raise RuleError(
            f"Rule {name!r}: unknown key {unknown[0]!r}. Allowed keys: "
            f"{', '.join(sorted(RULE_KEYS - {'name'}))}."
        )
    text = table.get("query")
    if not isinstance(text, str) or not text.strip():
        raise RuleError(
            f"Rule {name!r} needs a query, e.g. query = '@china_russia AND (科技 OR technolog*)'."
        )
    try:
        query = parse(text, aliases)
    except QueryError as exc:
        raise RuleError(
            f"Rule {name!r}: the query does not parse. {exc}\n"
            f"Fix the query of [rules.{name}]; 'presswatch alerts test' explains a query."
        ) from exc

    rule_channels = _strings(name, "channels", table.get("channels"))
    for channel in rule_channels:
        if channel not in channels:
            known = ", ".join(sorted(channels)) or "none defined"
            raise RuleError(
                f"Rule {name!r}: unknown channel {channel!r} (channels: {known}). Define "
                f"[channels.{channel}] in presswatch.toml or fix the name in the rule."
            )

    mode = table.get("mode", "immediate")
    if mode not in MODES:
        raise RuleError(
            f"Rule {name!r}: mode must be one of {', '.join(MODES)}, not {mode!r}. "
            'Use mode = "digest" with digest_schedule = "0 8 * * *" for a daily digest.'
        )
    schedule_text = table.get("digest_schedule")
    schedule: Schedule | None = None
    if mode == "digest":
        if not schedule_text:
            raise RuleError(
                f'Rule {name!r}: mode = "digest" needs a digest_schedule: a cron expression '
                'such as "0 8 * * *" (08:00 UTC daily) or an interval such as "1d".'
            )
        try:
            schedule = parse_schedule(schedule_text)
        except ValueError as exc:
            raise RuleError(f"Rule {name!r}: digest_schedule: {exc}.") from exc
    elif schedule_text:
        raise RuleError(
            f'Rule {name!r}: digest_schedule is only used with mode = "digest"; add that '
            "or remove the schedule."
        )

    sources = _strings(name, "sources", table.get("sources"))
    if known_sources is not None:
        for source in sources:
            if source not in known_sources:
                raise RuleError(
                    f"Rule {name!r}: unknown source {source!r} in sources. Run 'presswatch "
                    "sources' to list the source keys."
                )
    kinds = _strings(name, "kinds", table.get("kinds"))
    for kind in kinds:
        if kind not in KINDS:
            raise RuleError(
                f"Rule {name!r}: unknown kind {kind!r} in kinds; use {', '.join(KINDS)}."
            )
    languages = [
        language.split("-")[0].casefold()
        for language in _strings(name, "languages", table.get("languages"))
    ]
    enabled = table.get("enabled", True)
    if not isinstance(enabled, bool):
        raise RuleError(f"Rule {name!r}: enabled must be true or false, not {enabled!r}.")
    description = table.get("description") or ""
    return Rule(
        name=name,
        query_text=text,
        query=query,
        channels=tuple(rule_channels),
        mode=mode,
        schedule=schedule,
        sources=frozenset(sources),
        kinds=frozenset(kinds),
        languages=frozenset(languages),
        enabled=enabled,
        description=str(description),
    )


def load_rules(
    rules: Mapping[str, Mapping[str, Any]],
    aliases: Mapping[str, Sequence[str]],
    channels: Mapping[str, Any],
    *,
    known_sources: Collection[str] | None = None,
) -> list[Rule]:
    """Check and compile the [rules.NAME] tables (Config.rules), in their order.

    `aliases` is Config.aliases, `channels` Config.channels (only their names are used);
    `known_sources`, when given, are the source keys a rule's `sources` filter may name.
    Raises RuleError naming the first wrong rule and how to fix it.
    """
    return [
        load_rule(name, table, aliases, channels, known_sources=known_sources)
        for name, table in rules.items()
    ]


def default_config() -> dict[str, Any]:
    """The shipped rule set: {"aliases": {...}, "channels": {...}, "rules": {...}}.

    Shaped like crawler.config.Config's alert tables (each channel and rule table carries
    its "name"), so it goes straight into `load_rules`.
    """
    text = resources.files("alerts").joinpath(DEFAULT_RULES_FILE).read_text(encoding="utf-8")
    raw = tomllib.loads(text)
    return {
        "aliases": {name: list(terms) for name, terms in raw.get("aliases", {}).items()},
        "channels": {
            name: {**table, "name": name} for name, table in raw.get("channels", {}).items()
        },
        "rules": {name: {**table, "name": name} for name, table in raw.get("rules", {}).items()},
    }
