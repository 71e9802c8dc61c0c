"""Crawl health: after each run, compare it with the source's own history; alert once per problem.

The scheduler (the daemon and `presswatch run --due`) calls `check_after_run` after every
crawl run has finished. It works in three stages:

1. Measure the run (`measure`): article pages seen, fill rates counted over every parsed
   page (the store's own rates leave out the pages validation dropped, so an empty body
   would never show there), parser fallback rates, the share of failed requests, the
   share of blocked pages.
2. Judge each measure against the source's history (its last HISTORY_RUNS ok/partial runs,
   and every one of the last HISTORY_DAYS): each check says "problem", "clear" or "cannot
   tell" (too few pages, too little history, or a run that failed and so measured nothing).
3. In one transaction with the `source_health` rows (db.health): a problem that is not open
   yet opens and queues ONE health message per channel; one already open only updates its
   last_seen; an open problem that the run shows clear is resolved and queues ONE recovery
   notice. "Cannot tell" changes nothing, so a failed run never closes a fill-rate problem.

While a problem is open it is judged against the usual value stored when it opened (its
evidence's "usual"), not against the recent runs: those are the broken runs themselves,
and after a week of empty bodies "usual" would otherwise become empty and the problem would
seem to recover by itself.

The checks (kinds) and their thresholds, each explained where it is defined:

- run_failed        FAILED_RUNS_TO_ALERT runs in a row failed or were interrupted
- no_articles       no article page at all, where NO_ARTICLES_USUAL_SHARE of runs have some
- fill_rate:FIELD   title, published_at or body filled FILL_RATE_DROP below the usual share
- fallbacks:FIELD   the source parser fell back to generic extraction FALLBACK_RISE more often
- http_errors       HTTP_ERROR_RISE more of the requests failed (4xx, 5xx, no answer)
- blocked           BLOCKED_RISE more of the article pages were bot walls or robots-forbidden
- feed_stale        no new article for FEED_GAP_FACTOR times the usual gap between new ones

Delivery is the scheduler's job (alerts.outbox.deliver); health only queues messages.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise
from statistics import fmean, median
from typing import Any, Literal

from sqlite_utils import Database

from alerts.runner import AlertSetup
from db import health as db_health
from db import outbox as db_outbox
from db.outbox import Timestamp
from db.store import write_transaction

logger = logging.getLogger(__name__)

# --- history -------------------------------------------------------------------------------

# Ten runs are enough for a median that one odd run cannot move, and at the slowest shipped
# schedule (6 h) they still reach back only two and a half days.
HISTORY_RUNS = 10
# Fast schedules get a whole week instead: weekday and weekend, day and night, so that a quiet
# Sunday night is judged against other Sunday nights too and not only against busy afternoons.
HISTORY_DAYS = 7
# Fewer earlier runs than this are not a pattern: a new source is not judged until it has one.
MIN_HISTORY = 3
# A rate over fewer pages swings by a third with one odd page (a video page without text, a
# live blog without a date); such a run cannot tell whether a rate problem is there or gone.
MIN_PAGES = 3

# --- thresholds ------------------------------------------------------------------------------

# One failed run is usually a transient outage (network, a deploy on the site) that the next
# run clears by itself; two in a row, each at the source's own schedule, are worth a human.
FAILED_RUNS_TO_ALERT = 2
# How far back a streak of failures is counted, for the message only.
FAILED_STREAK_LOOKBACK = 20
# An empty run is only a problem for a source whose runs are nearly never empty: four in five
# recent runs had articles (the 20th percentile is above zero, not only the median). A feed
# that lists just today's items, or a weekly briefing page, has many empty runs, and an empty
# run there is normal.
NO_ARTICLES_USUAL_SHARE = 0.8
# Fields whose loss breaks the record. Authors are left out: many outlets have no bylines on
# some sections, and a record without authors is still a good record.
FILL_FIELDS = ("title", "published_at", "body")
# A redesign takes a field from nearly always filled to nearly never. Thirty points below the
# usual share is far beyond page-to-page variation, yet still catches a redesign of one
# section's template while the others keep working.
FILL_RATE_DROP = 0.3
# Selectors that stop matching send most pages to the fallback at once; a working parser
# falls back only on odd pages (a live blog, a photo gallery), a few points at most.
FALLBACK_RISE = 0.3
# A fifth of all requests failing beyond the usual share is an outage, rate limiting or a ban.
HTTP_ERROR_RISE = 0.2
# ...and at least this many failures: one stale sitemap entry among a handful of requests is
# already a fifth, and not a problem.
HTTP_MIN_ERRORS = 3
# A bot wall or a robots.txt ban hits a crawl wholesale, not page by page: half of the article
# pages beyond the usual share is that, while the odd blocked page (one story behind a
# challenge) is not.
BLOCKED_RISE = 0.5
# A problem clears only when its measure is back within half of the margin that raised it, so
# a measure hovering at the threshold does not alert and recover on alternate runs.
CLEAR_FRACTION = 0.5

# Feeds: "stale" means no new article for much longer than this source usually goes without
# one. Four times the median gap between runs that brought new articles...
FEED_GAP_FACTOR = 4.0
# ...and one and a half times the longest gap of the recent ones, so that rhythms the source
# has already shown (no briefings at weekends, a weekly report) are never called stale...
FEED_LONGEST_FACTOR = 1.5
# ...and never under a day: news sites have quiet nights, and a few hours without a new
# article is no evidence of anything.
FEED_MIN_STALE = timedelta(days=1)
# Gaps needed before a source's rhythm is known, and how many recent ones it is read from.
FEED_MIN_GAPS = 3
FEED_HISTORY_GAPS = 20

# A rate-limited run gave up a host part-way: its measures are as incomplete as a failed
# run's, and two in a row (the site keeps refusing us) are worth a human.
_FAILED = ("failed", "interrupted", "rate_limited")
_FILL_LABELS = {"title": "Title", "published_at": "Publication date", "body": "Body"}
# The validation drop that removes a page missing the field (crawler.pipelines): those pages
# never reach the store's fill rates, so they are added back here.
_FILL_DROP_REASON = {"title": "no_title", "body": "no_body"}

State = Literal["problem", "clear", "unknown"]


class HealthConfigError(ValueError):
    """[health] in presswatch.toml is wrong; the message says how to fix it."""


@dataclass(frozen=True)
class Problem:
    """A problem a run shows: a stable kind, what and why with the numbers, and the numbers."""

    source: str
    kind: str
    message: str
    evidence: dict[str, Any]
    # True when this run opened it (and queued its alert); False when it was open already.
    opened: bool = False


@dataclass(frozen=True)
class RunMetrics:
    """What health measures of one finished run (see `measure`)."""

    status: str
    articles_new: int
    # Records that passed validation: the pages the store's fill_rates were counted over.
    stored: int
    # Article pages that produced a record at all: stored plus dropped (empty responses aside).
    seen: int
    drops: dict[str, int]
    # Pages handed to the parsers (blocked ones included).
    parsed: int
    # field -> (pages with it filled, pages that count for it)
    fill: dict[str, tuple[int, int]]
    # field -> pages on which the source parser fell back to generic extraction
    fallbacks: dict[str, int]
    responses: int
    http_errors: dict[str, int]  # 4xx and 5xx only: redirects and 304s are not errors
    exceptions: int  # requests that got no answer (timeouts, refused connections)
    blocked_pages: int  # bot walls and challenge pages (dropped as "blocked")
    robots_forbidden: int  # article requests robots.txt forbade
    # Feed and sitemap URLs that answered with something else (often an HTML challenge page).
    not_xml: int

    @property
    def requests(self) -> int:
        return self.responses + self.exceptions

    @property
    def failed_requests(self) -> int:
        return sum(self.http_errors.values()) + self.exceptions

    def fill_rate(self, name: str) -> float | None:
        filled, pages = self.fill.get(name, (0, 0))
        return filled / pages if pages else None


def _int(value: Any) -> int:
    return int(value) if isinstance(value, (int, float)) else 0


def measure(run: Mapping[str, Any]) -> RunMetrics:
    """The health measures of a crawl_runs row (JSON columns decoded, as db.health returns)."""
    source = run["source"]
    stats = run.get("stats") or {}
    drops = {str(k): _int(v) for k, v in (run.get("drop_reasons") or {}).items()}
    counted = (
        _int(run.get("articles_new"))
        + _int(run.get("articles_updated"))
        + _int(run.get("articles_unchanged"))
    )
    # item_scraped_count is exactly what the store counted fill rates over (an article met
    # twice in one run counts twice there, once in the new/updated/unchanged counts).
    stored = _int(stats.get("item_scraped_count")) or counted
    # An empty response is a fetch that returned nothing, not an article page.
    seen = stored + sum(n for reason, n in drops.items() if reason != "empty_response")
    rates = run.get("fill_rates") or {}
    fill = {}
    for name in FILL_FIELDS:
        rate = rates.get(name)
        filled = round(rate * stored) if isinstance(rate, (int, float)) else 0
        fill[name] = (filled, stored + drops.get(_FILL_DROP_REASON.get(name, ""), 0))
    prefix = f"parser/{source}/fallback/"
    fallbacks = {k[len(prefix) :]: _int(v) for k, v in stats.items() if k.startswith(prefix)}
    parsed = _int(stats.get(f"parser/{source}/parsed")) or seen
    http_errors = {
        str(code): _int(n)
        for code, n in (run.get("http_errors") or {}).items()
        if str(code).isdigit() and int(code) >= 400 and _int(n)
    }
    return RunMetrics(
        status=run["status"],
        articles_new=_int(run.get("articles_new")),
        stored=stored,
        seen=seen,
        drops=drops,
        parsed=parsed,
        fill=fill,
        fallbacks=fallbacks,
        responses=_int(stats.get("downloader/response_count")) or _int(run.get("pages_fetched")),
        http_errors=http_errors,
        exceptions=_int(stats.get("downloader/exception_count")),
        blocked_pages=drops.get("blocked", 0),
        # Kept only when the crawl's stats include Scrapy's robotstxt/ counters.
        robots_forbidden=_int(stats.get("robotstxt/forbidden")),
        not_xml=_int(stats.get("discovery/not_xml")),
    )


# --- channels ---------------------------------------------------------------------------------


def health_channels(setup: AlertSetup, health: Mapping[str, Any] | None = None) -> list[str]:
    """The channels health messages go to: `[health] channels`, else every channel a rule uses.

    `health` is presswatch.toml's [health] table (config.raw.get("health")). The default is
    the channels the alert rules send to because those are the ones the user reads, and the
    ones delivery builds (alerts.runner only builds channels some rule uses).
    """
    configured = (health or {}).get("channels")
    if configured is None:
        return sorted({name for rule in setup.rules for name in rule.channels})
    if not isinstance(configured, list) or not all(isinstance(c, str) for c in configured):
        raise HealthConfigError(
            '[health] channels must be a list of channel names, e.g. channels = ["ops_mail"].'
        )
    unknown = [name for name in configured if name not in setup.channels]
    if unknown:
        known = ", ".join(sorted(setup.channels)) or "none"
        raise HealthConfigError(
            f"[health] channels names {', '.join(unknown)}, not a configured channel "
            f"(configured: {known}). Add [channels.{unknown[0]}] to presswatch.toml or remove "
            "it from [health] channels."
        )
    return list(dict.fromkeys(configured))


# --- the checks -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Outcome:
    kind: str
    state: State
    # For a problem: what and why, with the numbers. Otherwise: what the run shows now.
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Context:
    db: Database
    source: str
    run: dict[str, Any]
    metrics: RunMetrics
    history: list[RunMetrics]
    open: dict[str, dict[str, Any]]  # kind -> its open source_health row
    now: datetime


def _pct(value: float) -> str:
    return f"{value:.0%}"


def _duration(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    if hours < 48:
        return f"{hours:.1f} hours"
    return f"{hours / 24:.1f} days"


def _judge(problem: bool, clear: bool) -> State:
    if problem:
        return "problem"
    return "clear" if clear else "unknown"


def _stored(ctx: _Context, kind: str, name: str) -> float | None:
    """Number `name` of the evidence stored when open problem `kind` was raised, if open."""
    row = ctx.open.get(kind)
    value = row["evidence"].get(name) if row is not None else None
    return float(value) if isinstance(value, (int, float)) else None


def _usual(
    ctx: _Context,
    kind: str,
    values: list[float],
    without_history: float | None = None,
    average: Callable[[list[float]], float] = median,
) -> float | None:
    """The usual value for `kind`: the one stored when its open problem was raised, else the
    median (or `average`) of `values` from the history runs, else `without_history` when
    there are fewer than MIN_HISTORY of them."""
    stored = _stored(ctx, kind, "usual")
    if stored is not None:
        return stored
    if len(values) < MIN_HISTORY:
        return without_history
    return average(values)


def _check_run_failed(ctx: _Context) -> _Outcome:
    run = ctx.run
    if run["status"] not in _FAILED:
        return _Outcome("run_failed", "clear", f"run #{run['id']} finished {run['status']}")
    runs = db_health.latest_finished_runs(
        ctx.db, ctx.source, up_to_id=run["id"], limit=FAILED_STREAK_LOOKBACK
    )
    streak = 0
    for row in runs:
        if row["status"] not in _FAILED:
            break
        streak += 1
    m = ctx.metrics
    answers = [f"{m.responses} responses"]
    if m.http_errors:
        answers.append("HTTP " + ", ".join(f"{c}×{n}" for c, n in sorted(m.http_errors.items())))
    if m.exceptions:
        answers.append(f"{m.exceptions} requests unanswered")
    message = (
        f"The last {streak} runs of {ctx.source} did not finish "
        f"({', '.join(r['status'] for r in runs[:streak])}). Latest, run #{run['id']}: "
        f"{run.get('error') or 'no error recorded'}; {', '.join(answers)}. Run 'presswatch "
        f"crawl --source {ctx.source} -v' to see the log."
    )
    evidence = {
        "failed_in_a_row": streak,
        "threshold": FAILED_RUNS_TO_ALERT,
        "runs": [{"id": r["id"], "status": r["status"], "error": r["error"]} for r in runs[:5]],
    }
    state: State = "problem" if streak >= FAILED_RUNS_TO_ALERT else "unknown"
    return _Outcome("run_failed", state, message, evidence)


def _check_no_articles(ctx: _Context) -> _Outcome:
    m = ctx.metrics
    if m.seen > 0:
        return _Outcome("no_articles", "clear", f"{m.seen} article pages were parsed")
    with_articles = sum(1 for h in ctx.history if h.seen > 0)
    # The share of recent runs that had articles (a mean of 1s and 0s, not a median).
    usual = _usual(ctx, "no_articles", [float(h.seen > 0) for h in ctx.history], average=fmean)
    if usual is None:
        return _Outcome("no_articles", "unknown", "too little history")
    not_xml = (
        f" {m.not_xml} feed or sitemap URLs answered with something other than XML (a "
        "challenge page, or a feed that moved)."
        if m.not_xml
        else ""
    )
    message = (
        f"No article page in this run ({m.responses} responses), while {with_articles} of "
        f"the last {len(ctx.history)} runs had some.{not_xml} The feeds, sitemaps or listing "
        "pages probably changed their links or stopped listing articles: check the source's "
        "article_patterns against a current feed or listing page."
    )
    evidence = {
        "seen": 0,
        "responses": m.responses,
        "not_xml": m.not_xml,
        "usual": usual,
        "history_runs": len(ctx.history),
        "threshold": NO_ARTICLES_USUAL_SHARE,
    }
    # A source whose runs are often empty (a daily feed, a weekly briefing) is not broken today.
    state: State = "problem" if usual >= NO_ARTICLES_USUAL_SHARE else "clear"
    return _Outcome("no_articles", state, message, evidence)


def _check_fill_rate(ctx: _Context, name: str) -> _Outcome:
    kind = f"fill_rate:{name}"
    m = ctx.metrics
    filled, pages = m.fill[name]
    if pages < MIN_PAGES:
        return _Outcome(kind, "unknown", f"only {pages} pages")
    rate = filled / pages
    values = [
        rate_h
        for h in ctx.history
        if h.fill[name][1] >= MIN_PAGES and (rate_h := h.fill_rate(name)) is not None
    ]
    usual = _usual(ctx, kind, values)
    if usual is None:
        return _Outcome(kind, "unknown", "too little history")
    label = _FILL_LABELS[name]
    dropped = m.drops.get(_FILL_DROP_REASON.get(name, ""), 0)
    message = (
        f"{label} filled on {_pct(rate)} of {pages} article pages, usually {_pct(usual)}"
        + (f"; {dropped} pages were dropped for having none" if dropped else "")
        + f". A drop of {_pct(FILL_RATE_DROP)} or more usually means the site changed its page "
        f"layout: check the {ctx.source} parser against a current page."
    )
    evidence = {
        "field": name,
        "rate": round(rate, 3),
        "filled": filled,
        "pages": pages,
        "dropped_without": dropped,
        "usual": round(usual, 3),
        "history_runs": len(values),
        "threshold_drop": FILL_RATE_DROP,
    }
    drop = usual - rate
    state = _judge(drop >= FILL_RATE_DROP, drop < FILL_RATE_DROP * CLEAR_FRACTION)
    if state != "problem":
        message = f"{label} filled on {_pct(rate)} of {pages} article pages"
    return _Outcome(kind, state, message, evidence)


def _check_fallbacks(ctx: _Context, name: str, suppressed: bool) -> _Outcome:
    kind = f"fallbacks:{name}"
    m = ctx.metrics
    if suppressed:
        # The field's fill rate dropped too: that problem says more, one alert is enough.
        return _Outcome(kind, "unknown", f"see fill_rate:{name}")
    if m.parsed < MIN_PAGES:
        return _Outcome(kind, "unknown", f"only {m.parsed} pages")
    count = m.fallbacks.get(name, 0)
    rate = count / m.parsed
    values = [h.fallbacks.get(name, 0) / h.parsed for h in ctx.history if h.parsed >= MIN_PAGES]
    usual = _usual(ctx, kind, values)
    if usual is None:
        return _Outcome(kind, "unknown", "too little history")
    message = (
        f"The {ctx.source} parser fell back to generic extraction for {name} on {count} of "
        f"{m.parsed} pages ({_pct(rate)}), usually {_pct(usual)}. Its selectors for {name} "
        "probably no longer match the site's pages: add a parser version for the new layout."
    )
    evidence = {
        "field": name,
        "rate": round(rate, 3),
        "fallbacks": count,
        "parsed": m.parsed,
        "usual": round(usual, 3),
        "history_runs": len(values),
        "threshold_rise": FALLBACK_RISE,
    }
    rise = rate - usual
    state = _judge(rise >= FALLBACK_RISE, rise < FALLBACK_RISE * CLEAR_FRACTION)
    if state != "problem":
        message = f"fallbacks for {name} on {count} of {m.parsed} pages"
    return _Outcome(kind, state, message, evidence)


def _http_advice(codes: Mapping[str, int], exceptions: int) -> str:
    advice = []
    if any(code in ("403", "429") for code in codes):
        advice.append(
            "403 and 429 mean the site refuses or rate-limits the crawler: raise its "
            "download_delay, or check whether it now blocks crawlers"
        )
    if any(code == "404" or code == "410" for code in codes):
        advice.append("404s in bulk mean article URLs moved: check the feeds and sitemaps")
    if any(code.startswith("5") for code in codes):
        advice.append("5xx errors are the site's own outage and usually clear by themselves")
    if exceptions:
        advice.append("unanswered requests are timeouts or refused connections")
    return "; ".join(advice)


def _check_http_errors(ctx: _Context) -> _Outcome:
    m = ctx.metrics
    if m.requests == 0:
        return _Outcome("http_errors", "unknown", "no requests")
    errors = m.failed_requests
    share = errors / m.requests
    values = [h.failed_requests / h.requests for h in ctx.history if h.requests]
    # Without history the usual share is taken as none: a source refused from its first run is
    # worth knowing about, and the thresholds keep a stray 404 from counting.
    usual = _usual(ctx, "http_errors", values, without_history=0.0) or 0.0
    codes = ", ".join(f"{code}×{n}" for code, n in sorted(m.http_errors.items()))
    if m.exceptions:
        codes = f"{codes}, {m.exceptions} unanswered" if codes else f"{m.exceptions} unanswered"
    advice = _http_advice(m.http_errors, m.exceptions)
    message = (
        f"{errors} of {m.requests} requests failed ({_pct(share)}), usually {_pct(usual)}: "
        f"{codes or 'none'}." + (f" {advice[0].upper()}{advice[1:]}." if advice else "")
    )
    evidence = {
        "failed": errors,
        "requests": m.requests,
        "share": round(share, 3),
        "codes": m.http_errors,
        "unanswered": m.exceptions,
        "usual": round(usual, 3),
        "history_runs": len(values),
        "threshold_rise": HTTP_ERROR_RISE,
        "min_errors": HTTP_MIN_ERRORS,
    }
    rise = share - usual
    state = _judge(
        errors >= HTTP_MIN_ERRORS and rise >= HTTP_ERROR_RISE,
        errors < HTTP_MIN_ERRORS or rise < HTTP_ERROR_RISE * CLEAR_FRACTION,
    )
    if state != "problem":
        message = f"{errors} of {m.requests} requests failed"
    return _Outcome("http_errors", state, message, evidence)


def _check_blocked(ctx: _Context) -> _Outcome:
    m = ctx.metrics
    pages = m.parsed + m.robots_forbidden
    if pages == 0:
        return _Outcome("blocked", "unknown", "no article pages")
    blocked = m.blocked_pages + m.robots_forbidden
    share = blocked / pages
    values = [
        (h.blocked_pages + h.robots_forbidden) / (h.parsed + h.robots_forbidden)
        for h in ctx.history
        if h.parsed + h.robots_forbidden
    ]
    # As for HTTP errors: a source blocked from its first run is worth knowing about.
    usual = _usual(ctx, "blocked", values, without_history=0.0) or 0.0
    message = (
        f"{blocked} of {pages} article pages were blocked ({_pct(share)}), usually "
        f"{_pct(usual)}: {m.blocked_pages} answered with a bot wall or challenge page, "
        f"{m.robots_forbidden} were forbidden by robots.txt. The site now keeps crawlers out; "
        "check a page from the crawler's address, and the site's robots.txt."
    )
    evidence = {
        "blocked": blocked,
        "bot_wall": m.blocked_pages,
        "robots_forbidden": m.robots_forbidden,
        "pages": pages,
        "share": round(share, 3),
        "usual": round(usual, 3),
        "history_runs": len(values),
        "threshold_rise": BLOCKED_RISE,
    }
    rise = share - usual
    state = _judge(blocked > 0 and rise >= BLOCKED_RISE, rise < BLOCKED_RISE * CLEAR_FRACTION)
    if state != "problem":
        message = f"{blocked} of {pages} article pages blocked"
    return _Outcome("blocked", state, message, evidence)


def _check_feed_stale(ctx: _Context) -> _Outcome:
    m = ctx.metrics
    if m.seen == 0:
        # Nothing found at all is no_articles; stale means found, but nothing new.
        return _Outcome("feed_stale", "unknown", "no article pages")
    if m.articles_new > 0:
        return _Outcome("feed_stale", "clear", f"{m.articles_new} new articles")
    times = [
        db_outbox.to_datetime(t)
        for t in db_health.new_article_times(
            ctx.db, ctx.source, up_to_id=ctx.run["id"], limit=FEED_HISTORY_GAPS + 1
        )
    ]
    if not times:
        return _Outcome("feed_stale", "unknown", "no run has brought a new article yet")
    gaps = [newer - older for newer, older in pairwise(times)]
    stored = [
        _stored(ctx, "feed_stale", f"{name}_seconds")
        for name in ("allowed", "typical_gap", "longest_gap")
    ]
    if all(value is not None for value in stored):
        allowed, typical, longest = (timedelta(seconds=value or 0) for value in stored)
    elif len(gaps) >= FEED_MIN_GAPS:
        typical, longest = median(gaps), max(gaps)
        allowed = max(typical * FEED_GAP_FACTOR, longest * FEED_LONGEST_FACTOR, FEED_MIN_STALE)
    else:
        return _Outcome("feed_stale", "unknown", "the source's rhythm is not known yet")
    gap = ctx.now - times[0]
    message = (
        f"No new article for {_duration(gap)} (the last one came with the run of "
        f"{db_outbox.to_timestamp(times[0])}), while new ones usually come every "
        f"{_duration(typical)} (longest recent gap {_duration(longest)}); the crawl still finds "
        f"{m.seen} known article pages. The feed or listing has probably stopped updating or "
        "moved: check the source's feeds and listing pages on the site."
    )
    evidence = {
        "last_new_at": db_outbox.to_timestamp(times[0]),
        "gap_seconds": int(gap.total_seconds()),
        "typical_gap_seconds": int(typical.total_seconds()),
        "longest_gap_seconds": int(longest.total_seconds()),
        "allowed_seconds": int(allowed.total_seconds()),
        "seen": m.seen,
    }
    state: State = "problem" if gap > allowed else "clear"
    if state != "problem":
        message = f"last new article {_duration(gap)} ago"
    return _Outcome("feed_stale", state, message, evidence)


def _outcomes(ctx: _Context) -> list[_Outcome]:
    """Every check's outcome for the run, one root cause reported once.

    Where two checks see the same cause, the more specific one speaks and the other cannot
    tell: a run with no article pages because the site answered errors or blocked the
    crawler is http_errors or blocked, not no_articles; a field that fell back and still
    came out empty is fill_rate:FIELD, not fallbacks:FIELD.
    """
    failed = _check_run_failed(ctx)
    if ctx.run["status"] in _FAILED:
        # A failed run measured nothing: every other problem stays as it was.
        return [failed]
    http_errors, blocked = _check_http_errors(ctx), _check_blocked(ctx)
    no_articles = _check_no_articles(ctx)
    explained = [o.kind for o in (http_errors, blocked) if o.state == "problem"]
    if no_articles.state == "problem" and explained:
        no_articles = _Outcome("no_articles", "unknown", f"see {', '.join(explained)}")
    fills = [_check_fill_rate(ctx, name) for name in FILL_FIELDS]
    emptied = {o.kind.split(":", 1)[1] for o in fills if o.state == "problem"}
    fallback_fields = set(ctx.metrics.fallbacks)
    fallback_fields |= {k.split(":", 1)[1] for k in ctx.open if k.startswith("fallbacks:")}
    for h in ctx.history:
        fallback_fields |= set(h.fallbacks)
    return [
        failed,
        no_articles,
        *fills,
        *(_check_fallbacks(ctx, name, name in emptied) for name in sorted(fallback_fields)),
        http_errors,
        blocked,
        _check_feed_stale(ctx),
    ]


# --- messages ---------------------------------------------------------------------------------


def headline(kind: str) -> str:
    """A short name for a problem kind, for subjects and the health table."""
    name = kind.split(":", 1)[1] if ":" in kind else ""
    if kind.startswith("fill_rate:"):
        return f"{name} missing from pages"
    if kind.startswith("fallbacks:"):
        return f"parser falling back for {name}"
    return {
        "run_failed": "crawls failing",
        "no_articles": "no articles found",
        "http_errors": "HTTP errors",
        "blocked": "blocked by the site",
        "feed_stale": "no new articles",
    }.get(kind, kind)


def _alert_payload(source: str, outcome: _Outcome, run_id: int, now: str) -> dict[str, Any]:
    text = (
        f"{outcome.message}\n\n"
        f"Seen in run #{run_id} of {source} at {now}. presswatch alerts once per problem and "
        "sends a recovery notice when a run no longer shows it; 'presswatch health' lists "
        "what is open."
    )
    return {
        "title": f"Health: {source}: {headline(outcome.kind)}",
        "text": text,
        "source": source,
        "problem": outcome.kind,
        "state": "open",
        "first_seen": now,
        "run_id": run_id,
        "evidence": outcome.evidence,
    }


def _recovery_payload(
    source: str, outcome: _Outcome, row: Mapping[str, Any], run_id: int, now: str
) -> dict[str, Any]:
    text = (
        f"Cleared in run #{run_id} at {now}: {outcome.message}.\n\n"
        f"First seen {row['first_seen']}, last seen {row['last_seen']} "
        f"(run #{row['last_run_id']}). It said:\n{row['message']}"
    )
    return {
        "title": f"Recovered: {source}: {headline(outcome.kind)}",
        "text": text,
        "source": source,
        "problem": outcome.kind,
        "state": "resolved",
        "first_seen": row["first_seen"],
        "resolved_at": now,
        "run_id": run_id,
    }


def _key(source: str, kind: str, first_seen: str, phase: str, channel: str) -> str:
    # One outbox key per channel (the key is UNIQUE across channels) and per phase: the open
    # alert and the recovery notice of one occurrence, identified by its first_seen.
    return f"health:{source}:{kind}:{first_seen}:{phase}:{channel}"


# --- the entry point --------------------------------------------------------------------------


def check_after_run(
    db: Database,
    source_key: str,
    run_id: int,
    setup: AlertSetup,
    now: Timestamp,
    *,
    channels: Sequence[str] | None = None,
) -> list[Problem]:
    """Judge finished run `run_id` of `source_key`; record problems; queue their alerts.

    Returns the problems the run shows (opened now or open before). Opening a problem queues
    one "health" outbox message per channel, resolving one recovery notice per channel;
    nothing is sent here. `channels` defaults to `health_channels(setup)`; pass
    `health_channels(setup, config.raw.get("health"))` to honour [health] channels. A run
    still "running", or a replay, is not judged (an empty list). Raises ValueError for an
    unknown run or one of another source.
    """
    run = db_health.get_run(db, run_id)
    if run is None:
        raise ValueError(f"No crawl run with id {run_id}; pass the id start_run() returned.")
    if run["source"] != source_key:
        raise ValueError(f"Crawl run {run_id} is of {run['source']!r}, not {source_key!r}.")
    if run["status"] == "running":
        logger.warning("Health check skipped: run %s of %s is still running", run_id, source_key)
        return []
    if run["mode"] == "replay":
        # A replay reads an archive: it says nothing about the site today.
        return []
    targets = list(channels) if channels is not None else health_channels(setup)
    moment = db_outbox.to_datetime(now)
    stamp = db_outbox.to_timestamp(moment)
    found: list[Problem] = []
    # One transaction: the check reads the open problems it updates, and a problem is
    # recorded as opened (or resolved) if and only if its messages were queued.
    with write_transaction(db):
        open_rows = {row["kind"]: row for row in db_health.problems(db, source_key, "open")}
        history = db_health.history_runs(
            db,
            source_key,
            before_id=run_id,
            limit=HISTORY_RUNS,
            since=db_outbox.to_timestamp(moment - timedelta(days=HISTORY_DAYS)),
        )
        ctx = _Context(
            db=db,
            source=source_key,
            run=run,
            metrics=measure(run),
            history=[measure(h) for h in history],
            open=open_rows,
            now=moment,
        )
        for outcome in _outcomes(ctx):
            row = open_rows.get(outcome.kind)
            fields = {"source": source_key, "kind": outcome.kind, "run_id": run_id, "now": stamp}
            if outcome.state == "problem":
                if row is not None:
                    db_health.touch_problem(
                        db, message=outcome.message, evidence=outcome.evidence, **fields
                    )
                else:
                    db_health.open_problem(
                        db, message=outcome.message, evidence=outcome.evidence, **fields
                    )
                    payload = _alert_payload(source_key, outcome, run_id, stamp)
                    for channel in targets:
                        db_outbox.enqueue(
                            db,
                            key=_key(source_key, outcome.kind, stamp, "open", channel),
                            channel=channel,
                            kind="health",
                            payload=payload,
                            now=stamp,
                        )
                found.append(
                    Problem(
                        source_key, outcome.kind, outcome.message, outcome.evidence, row is None
                    )
                )
            elif outcome.state == "clear" and row is not None:
                db_health.resolve_problem(db, **fields)
                payload = _recovery_payload(source_key, outcome, row, run_id, stamp)
                for channel in targets:
                    db_outbox.enqueue(
                        db,
                        key=_key(source_key, outcome.kind, row["first_seen"], "resolved", channel),
                        channel=channel,
                        kind="health",
                        payload=payload,
                        now=stamp,
                    )
                logger.info(
                    "Health: %s recovered from %s in run %s", source_key, outcome.kind, run_id
                )
    for problem in found:
        if problem.opened:
            logger.warning("Health: %s: %s (run %s)", source_key, problem.message, run_id)
    if any(problem.opened for problem in found) and not targets:
        logger.warning(
            "Health problems of %s are recorded but go to no channel: no alert rule names one "
            "and [health] channels is not set",
            source_key,
        )
    return found


# --- the overview -----------------------------------------------------------------------------


def source_report(db: Database, now: Timestamp) -> list[dict[str, Any]]:
    """Per source: last success, articles first stored in the last HISTORY_DAYS days, the
    fill rates of the last successful run (over every parsed page, as the checks count them),
    the last run's status, and the open problems. For `presswatch health`."""
    moment = db_outbox.to_datetime(now)
    since = db_outbox.to_timestamp(moment - timedelta(days=HISTORY_DAYS))
    open_by_source: dict[str, list[dict[str, Any]]] = {}
    for row in db_health.problems(db, status="open"):
        open_by_source.setdefault(row["source"], []).append(row)
    report = []
    for row in db_health.source_overview(db, since=since):
        rates: dict[str, float | None] = dict.fromkeys(FILL_FIELDS)
        if row["last_success_run_id"] is not None:
            run = db_health.get_run(db, row["last_success_run_id"])
            if run is not None:
                metrics = measure(run)
                rates = {
                    name: None if (r := metrics.fill_rate(name)) is None else round(r, 3)
                    for name in FILL_FIELDS
                }
        report.append(
            {
                "source": row["source"],
                "last_success_at": row["last_success_at"],
                "last_run_status": row["last_run_status"],
                "articles_last_7_days": row["articles_recent"],
                "fill_rates": rates,
                "open_problems": [
                    {
                        "kind": p["kind"],
                        "first_seen": p["first_seen"],
                        "last_seen": p["last_seen"],
                        "message": p["message"],
                    }
                    for p in open_by_source.get(row["source"], [])
                ],
            }
        )
    return report
