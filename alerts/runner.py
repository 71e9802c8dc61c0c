"""One alerts pass after storage: rules from the config, match, digests, deliver.

The crawl command, the demo and the scheduler call `run_alerts`; each step is its own module
(rules, match, outbox, channels) and this one only puts them in order. It never runs inside
the Twisted reactor: the crawl process has finished crawling when it is called.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlite_utils import Database

from alerts import match
from alerts.channels import build_channels
from alerts.outbox import DeliveryReport, deliver
from alerts.rules import Rule, default_config, load_rules
from db import alerts as db_alerts
from db import store

logger = logging.getLogger(__name__)


@dataclass
class AlertSetup:
    """The rules in force, the aliases they were parsed with, and the channel tables."""

    rules: list[Rule]
    aliases: dict[str, list[str]]
    channels: dict[str, dict[str, Any]]
    # True when presswatch.toml has no [rules]: the shipped China–Russia rule set is used.
    default: bool = False


@dataclass
class AlertRun:
    matched: match.MatchReport
    digests: int = 0
    delivery: DeliveryReport | None = None
    problems: list[str] = field(default_factory=list)


def alert_setup(
    aliases: Mapping[str, list[str]],
    channels: Mapping[str, dict[str, Any]],
    rules: Mapping[str, dict[str, Any]],
    known_sources: Iterable[str] | None = None,
) -> AlertSetup:
    """The alert setup from presswatch.toml's tables (crawler.config.Config's fields).

    The shipped aliases and channels are always there, under the user's own (a user's alias
    or channel of the same name wins); the shipped rules apply only when the user has none.
    Raises alerts.rules.RuleError naming the wrong rule.
    """
    shipped = default_config()
    merged_aliases = {**shipped["aliases"], **aliases}
    merged_channels = {**shipped["channels"], **channels}
    tables = dict(rules) if rules else shipped["rules"]
    known = set(known_sources) if known_sources is not None else None
    return AlertSetup(
        rules=load_rules(tables, merged_aliases, merged_channels, known_sources=known),
        aliases=merged_aliases,
        channels=merged_channels,
        default=not rules,
    )


def run_alerts(
    db: Database,
    setup: AlertSetup,
    sources: Iterable[dict[str, Any]] = (),
    *,
    send: bool = True,
    now: str | None = None,
) -> AlertRun:
    """Sync sources and rules, match what is new, queue due digests, then deliver.

    `sources` (the registry as dicts) names the outlets in alerts. Delivery failures are
    retried later through the outbox and never raise; a broken rule or database does.
    """
    sources = list(sources)
    if sources:
        store.sync_sources(db, sources)
    db_alerts.sync_rules(db, [rule.to_row() for rule in setup.rules], now=now)
    matched = match.match_new(db, setup.rules, now)
    run = AlertRun(matched=matched, digests=match.build_digests(db, setup.rules, now))
    if send:
        channels = build_channels(
            {name: table for name, table in setup.channels.items() if _used(name, setup.rules)}
        )
        run.delivery = deliver(db, channels)
        run.problems = list(run.delivery.problems)
    return run


def _used(channel: str, rules: list[Rule]) -> bool:
    # Only channels some rule sends to are built: an unused channel with an unset ${VAR}
    # must not stop the others.
    return any(channel in rule.channels for rule in rules)
