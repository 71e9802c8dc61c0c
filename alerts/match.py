"""Matching after storage: new and changed articles against the rules, into matches and alerts.

Owns the step between the store and the outbox (DESIGN.md: "rules -> matches -> outbox"):

1. `match_new` reads the change feed (article_versions.id after the persistent watermark)
   in batches. For each new or changed article it finds the story (alerts.stories), runs
   every enabled rule over title, body and briefing turns (never captions or sidebars),
   records each new match in alert_matches, and for an immediate rule queues ONE outbox
   message per channel the first time a story matches that rule. Each batch, with its
   watermark advance, is one transaction: a crash leaves all of it or none of it, and a
   rerun continues after the last committed batch without repeating a message.
2. `build_digests` queues one digest per digest rule, channel and due period.
3. `backtest` runs a rule or query over the archive and writes nothing.

Payloads follow the format alerts.templates renders (see its docstring).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlite_utils import Database

from alerts.query import Document, Match, Query, RuleSet, parse
from alerts.rules import Rule
from alerts.stories import StoryIndex
from db import alerts as db_alerts
from db import outbox
from db.store import utc_now, write_transaction

logger = logging.getLogger(__name__)

BATCH_SIZE = 200
# A digest rule that was off for a long time catches up at most this many periods per run.
MAX_DIGEST_PERIODS = 1000
_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


# ---- the rules over one article --------------------------------------------------------


class _Matcher:
    """The enabled rules compiled into one RuleSet (an Aho-Corasick prefilter over all their
    literals), each rule's source/kind/language filters applied to what it matches."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        self.rules = {rule.name: rule for rule in rules}
        self.ruleset = RuleSet({rule.name: rule.query for rule in rules})

    def matches(self, article: Mapping[str, Any]) -> Iterator[tuple[Rule, Match]]:
        if not self.rules:
            return
        source, kind, language = article["source"], article.get("kind"), article.get("language")
        for name, match in self.ruleset.match(Document.from_record(article)).items():
            rule = self.rules[name]
            if rule.accepts(source, kind, language):
                yield rule, match


# ---- reports ---------------------------------------------------------------------------


@dataclass
class MatchReport:
    """What one `match_new` call did."""

    versions: int = 0  # article_versions rows read from the change feed
    articles: int = 0  # distinct articles read (an article changed twice counts once)
    new_stories: int = 0
    matches: int = 0  # new alert_matches rows
    alerts: int = 0  # new outbox rows
    watermark: int = 0  # the article_versions.id matched up to
    alerted: list[tuple[str, int]] = field(default_factory=list)  # (rule, story id)

    def add(self, other: MatchReport) -> None:
        self.versions += other.versions
        self.articles += other.articles
        self.new_stories += other.new_stories
        self.matches += other.matches
        self.alerts += other.alerts
        self.watermark = max(self.watermark, other.watermark)
        self.alerted.extend(other.alerted)


@dataclass
class BacktestReport:
    """What a rule or query would have matched in the archive."""

    query: str
    scanned: int = 0
    hits: int = 0
    by_source: dict[str, int] = field(default_factory=dict)
    by_language: dict[str, int] = field(default_factory=dict)
    samples: list[dict[str, Any]] = field(default_factory=list)


# ---- payloads --------------------------------------------------------------------------


def _item(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "source": row["source"],
        "source_name": row["source_name"],
        "url": row["url"],
        "title": row["title"],
        "published_at": row["published_at"],
        "language": row["language"],
        "kind": row["kind"],
        "snippet": row["snippet"],
        "speaker": row["speaker"],
        "turn_idx": row["turn_idx"],
    }


def _outlets(members: Iterable[Mapping[str, Any]]) -> list[str]:
    return list(dict.fromkeys(member["source_name"] for member in members))


def alert_payload(
    db: Database, rule: Rule, story_id: int, matches: Sequence[Mapping[str, Any]] | None = None
) -> dict[str, Any]:
    """The alert payload of `rule` for `story_id`: its matches so far and every outlet.

    `matches` (rows of db.alerts.story_matches or matches_between) default to every match of
    the rule in the story. "outlets" lists the sources of all the story's articles, matched
    or not, in the order they carried it.
    """
    if matches is None:
        matches = db_alerts.story_matches(db, rule.name, story_id)
    story = db_alerts.get_story(db, story_id) or {}
    return {
        "rule": rule.name,
        "query": rule.query_text,
        "why": matches[0]["why"] if matches else "",
        "story": {
            "id": story_id,
            "title": story.get("title"),
            "first_seen_at": story.get("first_seen_at"),
        },
        "items": [_item(row) for row in matches],
        "outlets": _outlets(db_alerts.story_members(db, story_id)),
    }


def bundle_payload(db: Database, rule: Rule, story_ids: Sequence[int]) -> dict[str, Any]:
    """One alert payload for several stories of one rule: their items and outlets together.

    "story" is the first story (the subject line names it); "stories" lists them all.
    """
    parts = [alert_payload(db, rule, story_id) for story_id in story_ids]
    if len(parts) == 1:
        return parts[0]
    merged = dict(parts[0])
    merged["stories"] = [part["story"] for part in parts]
    merged["items"] = [item for part in parts for item in part["items"]]
    merged["outlets"] = list(dict.fromkeys(o for part in parts for o in part["outlets"]))
    return merged


def _day(article: Mapping[str, Any]) -> str:
    """The day an article was published, as the page dates it (else first seen)."""
    return (article.get("published_at") or article.get("first_seen_at") or "")[:10]


# ---- matching new records --------------------------------------------------------------


def match_new(
    db: Database,
    rules: Sequence[Rule],
    now: str | None = None,
    *,
    batch_size: int = BATCH_SIZE,
    stories: StoryIndex | None = None,
    backfill: bool = True,
) -> MatchReport:
    """Match everything stored since the watermark against the enabled `rules`.

    One transaction per batch of `batch_size` versions: stories, matches, outbox rows and the
    watermark advance commit together. `stories` may be passed to reuse a loaded index
    across calls (a daemon); otherwise it is rebuilt from the database. With
    `backfill=False`, a database that has never been matched starts at its newest version
    instead of alerting on the whole archive (`backtest` shows what that would have been).
    """
    now = now or utc_now()
    active = [rule for rule in rules if rule.enabled]
    matcher = _Matcher(active)
    report = MatchReport(watermark=db_alerts.get_watermark(db))
    if not backfill and db_alerts.get_state(db, db_alerts.WATERMARK_KEY) is None:
        with write_transaction(db):
            latest = db_alerts.latest_version_id(db)
            db_alerts.set_watermark(db, latest)
        report.watermark = latest
        logger.info("Alert matching starts after version %d (no backfill)", latest)
        return report
    index = stories if stories is not None else StoryIndex(db)
    while True:
        batch = MatchReport()
        try:
            with write_transaction(db):
                _match_batch(db, matcher, index, now, batch_size, batch)
        except BaseException:
            index.rollback()
            raise
        index.commit()
        if not batch.versions:
            break
        report.add(batch)
        logger.debug("Matched versions up to %d: %s", batch.watermark, batch)
    if report.versions:
        logger.info(
            "Matched %d articles: %d new matches, %d alerts queued, %d new stories",
            report.articles,
            report.matches,
            report.alerts,
            report.new_stories,
        )
    return report


def _match_batch(
    db: Database,
    matcher: _Matcher,
    index: StoryIndex,
    now: str,
    batch_size: int,
    report: MatchReport,
) -> None:
    versions = db_alerts.versions_after(db, db_alerts.get_watermark(db), batch_size)
    if not versions:
        return
    articles = db_alerts.articles_for_matching(db, [article_id for _, article_id in versions])
    # Another process (a cron crawl beside a daemon) may have assigned stories since.
    index.refresh()
    # (rule, story) pairs with a new match, in the order they matched: each may alert once.
    to_alert: dict[tuple[str, int], tuple[Rule, str]] = {}
    for article in articles:
        assignment = index.assign_detail(article, now)
        report.new_stories += assignment.new_story
        for rule, match in matcher.matches(article):
            new = db_alerts.insert_match(
                db,
                rule=rule.name,
                article_id=article["id"],
                story_id=assignment.story_id,
                turn_idx=match.turn_idx,
                snippet=match.snippet,
                fields=match.fields,
                why=match.why,
                now=now,
            )
            if not new:
                continue  # a changed article that still matches: recorded already
            report.matches += 1
            if rule.mode == "immediate" and rule.channels:
                to_alert.setdefault((rule.name, assignment.story_id), (rule, article["id"]))
    # One alert per rule and publication day: the stories a rule matched in this batch that
    # were published on the same day are one message listing every outlet, so the Global
    # Times article, the MFA answer and the Chinese and Russian reports of one day reach the
    # reader together. Each story still alerts once: marking it alerted is what a later copy
    # of it finds.
    days = {article["id"]: _day(article) for article in articles}
    bundles: dict[tuple[str, str], list[tuple[Rule, int, str]]] = {}
    for (_, story_id), (rule, article_id) in to_alert.items():
        if db_alerts.mark_alerted(
            db, rule=rule.name, story_id=story_id, article_id=article_id, now=now
        ):
            bundles.setdefault((rule.name, days[article_id]), []).append(
                (rule, story_id, article_id)
            )
        # else: a later copy of a story that alerted already
    for bundle in bundles.values():
        rule = bundle[0][0]
        story_ids = [story_id for _, story_id, _ in bundle]
        payload = bundle_payload(db, rule, story_ids)
        for channel in rule.channels:
            report.alerts += outbox.enqueue(
                db,
                # The first story names the bundle: a rerun of the same batch (after a crash
                # rolled it back) builds the same bundle and so the same key.
                key=f"alert:{rule.name}:{story_ids[0]}:{channel}",
                channel=channel,
                kind="alert",
                payload=payload,
                now=now,
            )
        report.alerted.extend((rule.name, story_id) for story_id in story_ids)
    report.versions = len(versions)
    report.articles = len(articles)
    report.watermark = versions[-1][0]
    db_alerts.set_watermark(db, report.watermark)


# ---- digests ---------------------------------------------------------------------------


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def _stamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime(_FORMAT)


def digest_state_key(rule: str) -> str:
    """The alert_state key holding the end of the last digest period built for `rule`."""
    return f"digest:{rule}"


def build_digests(db: Database, rules: Sequence[Rule], now: str | None = None) -> int:
    """Queue the digests that are due; return how many outbox rows were new.

    For each enabled digest rule, every period that has ended since the last one built
    (periods end at the rule's schedule times; the first starts at the rule's first match)
    gets one digest per channel, keyed "digest:<rule>:<period end>:<channel>", holding one
    alert per story matched in the period. A period without matches sends nothing. A
    period counts as ended only once its end is in the past to the second, so a match
    recorded later in the same second cannot miss its digest.
    """
    now = now or utc_now()
    moment = _parse_time(now)
    queued = 0
    for rule in rules:
        if not rule.enabled or rule.mode != "digest" or rule.schedule is None:
            continue
        with write_transaction(db):
            queued += _build_rule_digests(db, rule, moment, now)
    return queued


def _build_rule_digests(db: Database, rule: Rule, moment: datetime, now: str) -> int:
    assert rule.schedule is not None
    key = digest_state_key(rule.name)
    last = db_alerts.get_state(db, key)
    if last is None:
        first = db_alerts.first_match_at(db, rule.name)
        if first is None:
            return 0  # nothing matched yet: no period to close
        start = _parse_time(first) - timedelta(seconds=1)
    else:
        start = _parse_time(last)
    queued = 0
    built_to: datetime | None = None
    for _ in range(MAX_DIGEST_PERIODS):
        end = rule.schedule.next_fire(start)
        if end >= moment:
            break
        matches = db_alerts.matches_between(db, rule.name, _stamp(start), _stamp(end))
        if matches:
            queued += _queue_digest(db, rule, start, end, matches, now)
        built_to = start = end
    if built_to is not None:
        db_alerts.set_state(db, key, _stamp(built_to))
    return queued


def _queue_digest(
    db: Database,
    rule: Rule,
    start: datetime,
    end: datetime,
    matches: Sequence[Mapping[str, Any]],
    now: str,
) -> int:
    by_story: dict[int | None, list[Mapping[str, Any]]] = {}
    for row in matches:
        by_story.setdefault(row["story_id"], []).append(row)
    period = f"{_stamp(start)}/{_stamp(end)}"
    payload = {
        "rule": rule.name,
        "period": period,
        "alerts": [
            alert_payload(db, rule, story_id, rows)
            for story_id, rows in by_story.items()
            if story_id is not None
        ],
    }
    return sum(
        outbox.enqueue(
            db,
            key=f"digest:{rule.name}:{_stamp(end)}:{channel}",
            channel=channel,
            kind="digest",
            payload=payload,
            now=now,
        )
        for channel in rule.channels
    )


# ---- backtest --------------------------------------------------------------------------


def backtest(
    db: Database,
    query_or_rule: Rule | Query | str,
    since: str | None = None,
    *,
    aliases: Mapping[str, Sequence[str]] | None = None,
    samples: int = 5,
) -> BacktestReport:
    """What `query_or_rule` would have matched among articles published since `since`.

    Reads the archive and writes nothing. A Rule brings its filters; a query string is
    parsed with `aliases`. Counts are of articles, by source and by language, most first;
    `samples` snippets are kept, newest articles first.
    """
    if isinstance(query_or_rule, Rule):
        rule: Rule | None = query_or_rule
        query, text = query_or_rule.query, query_or_rule.query_text
    else:
        rule = None
        if isinstance(query_or_rule, str):
            text, query = query_or_rule, parse(query_or_rule, aliases)
        else:
            text, query = str(query_or_rule), query_or_rule
    report = BacktestReport(query=text)
    by_source: Counter[str] = Counter()
    by_language: Counter[str] = Counter()
    hits: list[tuple[Mapping[str, Any], Match]] = []
    for article in db_alerts.iter_articles(db, since=since):
        if rule is not None and not rule.accepts(
            article["source"], article.get("kind"), article.get("language")
        ):
            continue
        report.scanned += 1
        match = query.match(Document.from_record(article))
        if match is None:
            continue
        by_source[article["source"]] += 1
        by_language[article.get("language") or "unknown"] += 1
        hits.append((article, match))
    report.hits = len(hits)
    report.by_source = dict(by_source.most_common())
    report.by_language = dict(by_language.most_common())
    hits.sort(key=lambda hit: hit[0].get("published_at") or "", reverse=True)
    report.samples = [
        {
            "source": article["source"],
            "source_name": article["source_name"],
            "url": article["url"],
            "title": article["title"],
            "published_at": article.get("published_at"),
            "language": article.get("language"),
            "snippet": match.snippet,
            "turn_idx": match.turn_idx,
            "why": match.why,
        }
        for article, match in hits[:samples]
    ]
    return report
