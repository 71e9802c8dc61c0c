"""The source registry: one declarative `Source` per watched site.

Facts come from ../shared/SOURCES.md; where a URL there is marked unverified, the comment says
so. A user's presswatch.toml can add sources (parsed by the generic parser), disable built-in
ones and override their schedule and politeness (see `crawler.config`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from crawler.items import KINDS

LANGUAGES = ("en", "zh", "ru")


class SourceError(ValueError):
    """A source declaration or lookup is wrong; the message says how to fix it."""


@dataclass(frozen=True)
class Listing:
    """A listing page, optionally paginated: `pages` is a URL template with `{n}`."""

    url: str
    pages: str | None = None
    first_page: int = 2
    max_pages: int = 1

    def urls(self, cap: int | None = None) -> list[str]:
        """The first page, then pages first_page.. up to max_pages pages in all."""
        limit = self.max_pages if cap is None else min(cap, self.max_pages)
        found = [self.url]
        if self.pages:
            found += [self.pages.format(n=self.first_page + i) for i in range(limit - 1)]
        return found


@dataclass(frozen=True)
class Source:
    key: str
    name: str
    language: str
    timezone: str
    homepage: str
    kind: str = "article"
    feeds: tuple[str, ...] = ()
    sitemaps: tuple[str, ...] = ()
    listings: tuple[Listing, ...] = ()
    # Regexes searched in a URL: only matching URLs are fetched as articles.
    article_patterns: tuple[str, ...] = ()
    parser: str = "generic"
    # "30m", "2h", "1d", or a five-field cron expression ("0 */2 * * *").
    schedule: str = "1h"
    enabled: bool = True
    # Seconds between requests to one host (AutoThrottle never goes below it).
    download_delay: float = 2.0
    # Extra hosts the crawl may visit beyond those of the homepage, feeds and listings.
    domains: tuple[str, ...] = ()
    builtin: bool = True
    _compiled: tuple[re.Pattern[str], ...] = field(default=(), repr=False, compare=False)

    def __post_init__(self) -> None:
        validate_source(self)
        compiled = tuple(re.compile(p) for p in self.article_patterns)
        object.__setattr__(self, "_compiled", compiled)

    def is_article_url(self, url: str) -> bool:
        return any(p.search(url) for p in self._compiled)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def allowed_domains(self) -> tuple[str, ...]:
        urls = [self.homepage, *self.feeds, *self.sitemaps, *(li.url for li in self.listings)]
        hosts = {urlsplit(u).hostname or "" for u in urls} | set(self.domains)
        return tuple(sorted(h for h in hosts if h))

    def start_urls(self, max_listing_pages: int | None = None) -> list[str]:
        urls = [*self.feeds, *self.sitemaps]
        for listing in self.listings:
            urls += listing.urls(max_listing_pages)
        return urls

    def with_overrides(self, **changes: object) -> Source:
        return replace(self, **changes)  # type: ignore[arg-type]


_SCHEDULE = re.compile(r"^\d+[smhd]$")


def validate_source(source: Source) -> None:
    where = f"source '{source.key}'"
    if not re.fullmatch(r"[a-z][a-z0-9_]*", source.key):
        raise SourceError(
            f"Bad source key '{source.key}': use lower-case letters, digits and '_', "
            "starting with a letter (e.g. 'my_site')."
        )
    if source.language not in LANGUAGES:
        raise SourceError(
            f"{where}: language '{source.language}' is not one of {', '.join(LANGUAGES)}."
        )
    try:
        ZoneInfo(source.timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise SourceError(
            f"{where}: unknown time zone '{source.timezone}'; use an IANA name such as "
            "'Asia/Shanghai' or 'Europe/Moscow'."
        ) from exc
    if source.kind not in KINDS:
        raise SourceError(f"{where}: kind '{source.kind}' is not one of {', '.join(KINDS)}.")
    for url in [source.homepage, *source.feeds, *source.sitemaps]:
        if urlsplit(url).scheme not in ("http", "https"):
            raise SourceError(f"{where}: '{url}' is not an http(s) URL.")
    if not source.article_patterns:
        raise SourceError(
            f"{where}: no article_patterns; give at least one regex that matches the site's "
            "article URLs, e.g. '/news/\\\\d+'."
        )
    for pattern in source.article_patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise SourceError(
                f"{where}: article pattern {pattern!r} is not a regex: {exc}"
            ) from exc
    if not (_SCHEDULE.match(source.schedule) or len(source.schedule.split()) == 5):
        raise SourceError(
            f"{where}: schedule '{source.schedule}' is neither an interval ('30m', '2h', '1d') "
            "nor a five-field cron expression ('0 */2 * * *')."
        )
    if source.download_delay < 0:
        raise SourceError(f"{where}: download_delay must be >= 0 seconds.")


def schedule_seconds(schedule: str) -> int | None:
    """The interval of an interval schedule in seconds; None for a cron expression."""
    if not _SCHEDULE.match(schedule):
        return None
    unit = {"s": 1, "m": 60, "h": 3600, "d": 86400}[schedule[-1]]
    return int(schedule[:-1]) * unit


BUILTIN: tuple[Source, ...] = (
    Source(
        key="globaltimes",
        name="Global Times",
        language="en",
        timezone="Asia/Shanghai",
        homepage="https://www.globaltimes.cn/",
        # outbrain.xml is the feed public configs use; it is reported to lag by weeks, so the
        # short sitemap (newest ~12) and the section listings do the timely discovery.
        feeds=("https://www.globaltimes.cn/rss/outbrain.xml",),
        sitemaps=("https://www.globaltimes.cn/sitemap.xml",),
        listings=(
            Listing("https://www.globaltimes.cn/china/diplomacy/index.html"),
            Listing("https://www.globaltimes.cn/china/scitech/index.html"),
            Listing("https://www.globaltimes.cn/china/politics/index.html"),
            Listing("https://www.globaltimes.cn/world/europe/index.html"),
        ),
        article_patterns=(
            r"^https?://www\.globaltimes\.cn/page/\d{6}/\d+\.shtml$",
            r"^https?://www\.globaltimes\.cn/content/\d+\.shtml$",
        ),
        parser="globaltimes",
        schedule="1h",
    ),
    Source(
        key="huanqiu",
        name="环球网 (Huanqiu)",
        language="zh",
        timezone="Asia/Shanghai",
        parser="huanqiu",
        homepage="https://www.huanqiu.com/",
        listings=(Listing("https://world.huanqiu.com/"), Listing("https://china.huanqiu.com/")),
        article_patterns=(
            r"^https?://[a-z0-9]+\.huanqiu\.com/article/[0-9A-Za-z]+/?$",
            r"^https?://[a-z0-9]+\.huanqiu\.com/a/[0-9a-f]+/[0-9A-Za-z]+/?$",
        ),
        domains=("3w.huanqiu.com",),
        schedule="2h",
    ),
    Source(
        key="fmprc_en",
        name="China MFA press conferences (English)",
        language="en",
        timezone="Asia/Shanghai",
        parser="fmprc",
        kind="briefing",
        homepage="https://www.fmprc.gov.cn/eng/xw/fyrbt/lxjzh/",
        # No feed exists; the listing is paginated index_1.html, index_2.html, ...
        listings=(
            Listing(
                "https://www.fmprc.gov.cn/eng/xw/fyrbt/lxjzh/index.html",
                pages="https://www.fmprc.gov.cn/eng/xw/fyrbt/lxjzh/index_{n}.html",
                first_page=1,
                max_pages=3,
            ),
        ),
        article_patterns=(
            r"^https?://www\.(?:fmprc|mfa)\.gov\.cn/eng/xw/fyrbt/lxjzh/\d{6}/t\d{8}_\d+\.html$",
            r"^https?://www\.(?:fmprc|mfa)\.gov\.cn/mfa_eng/xwfw_665399/s2510_665401/2511_665403/t\d+\.shtml$",
            r"^https?://www\.(?:fmprc|mfa)\.gov\.cn/eng/xwfw/s2510/2511/t\d+\.shtml$",
        ),
        domains=("www.mfa.gov.cn",),
        schedule="3h",
        download_delay=5.0,
    ),
    Source(
        key="fmprc_zh",
        name="外交部 例行记者会与重要新闻 (China MFA, Chinese)",
        language="zh",
        timezone="Asia/Shanghai",
        parser="fmprc",
        kind="briefing",
        homepage="https://www.mfa.gov.cn/web/fyrbt_673021/jzhsl_673025/",
        listings=(
            Listing(
                "https://www.mfa.gov.cn/web/fyrbt_673021/jzhsl_673025/index.shtml",
                pages="https://www.mfa.gov.cn/web/fyrbt_673021/jzhsl_673025/index_{n}.shtml",
                first_page=1,
                max_pages=3,
            ),
            Listing("https://www.fmprc.gov.cn/web/zyxw/"),
        ),
        article_patterns=(
            r"^https?://www\.(?:mfa|fmprc)\.gov\.cn/web/fyrbt_673021/jzhsl_673025/(?:\d{6}/)?t\d+(?:_\d+)?\.shtml$",
            r"^https?://www\.(?:mfa|fmprc)\.gov\.cn/web/zyxw/(?:\d{6}/)?t\d+(?:_\d+)?\.shtml$",
        ),
        schedule="3h",
        download_delay=5.0,
    ),
    Source(
        key="kremlin_en",
        name="President of Russia (Kremlin, English)",
        language="en",
        timezone="Europe/Moscow",
        parser="kremlin",
        homepage="http://en.kremlin.ru/",
        # HTTPS often times out from abroad; plain HTTP answers. Atom feeds.
        feeds=("http://en.kremlin.ru/events/president/news/feed",),
        listings=(
            Listing(
                "http://en.kremlin.ru/events/president/news",
                pages="http://en.kremlin.ru/events/president/news/page/{n}",
                max_pages=2,
            ),
            Listing("http://en.kremlin.ru/events/president/transcripts"),
        ),
        article_patterns=(
            r"^https?://en\.kremlin\.ru/events/president/(?:news|transcripts)/\d+/?$",
        ),
        schedule="1h",
        # 403 after ~150 fast requests: public crawlers use 15 s.
        download_delay=15.0,
    ),
    Source(
        key="kremlin_ru",
        name="Президент России (Kremlin, Russian)",
        language="ru",
        timezone="Europe/Moscow",
        parser="kremlin",
        homepage="http://kremlin.ru/",
        feeds=("http://kremlin.ru/events/president/news/feed",),
        listings=(Listing("http://kremlin.ru/events/president/news"),),
        article_patterns=(r"^https?://kremlin\.ru/events/president/(?:news|transcripts)/\d+/?$",),
        schedule="1h",
        download_delay=15.0,
    ),
    Source(
        key="mid_en",
        name="Russian MFA spokesperson (mid.ru, English)",
        language="en",
        timezone="Europe/Moscow",
        parser="mid",
        kind="briefing",
        homepage="https://mid.ru/en/",
        # The feed often answers with an HTML challenge stub; the listing's page 1 is the
        # only page robots.txt allows (Disallow: /*?PAGEN...).
        feeds=("https://mid.ru/en/rss.php",),
        listings=(
            Listing("https://mid.ru/en/press_service/spokesman/briefings/"),
            Listing("https://mid.ru/en/press_service/spokesman/comments/"),
        ),
        article_patterns=(
            r"^https?://(?:www\.)?mid\.ru/en/press_service/spokesman/"
            r"(?:briefings|answers|comments|official_statement)/\d{6,8}/?$",
        ),
        domains=("www.mid.ru",),
        schedule="6h",
        download_delay=10.0,
    ),
    Source(
        key="mid_ru",
        name="МИД России, официальный представитель (mid.ru)",
        language="ru",
        timezone="Europe/Moscow",
        parser="mid",
        kind="briefing",
        homepage="https://mid.ru/ru/",
        feeds=("https://mid.ru/ru/rss.php",),
        listings=(
            Listing("https://mid.ru/ru/press_service/spokesman/briefings/"),
            Listing("https://mid.ru/ru/press_service/spokesman/kommentarii/"),
        ),
        article_patterns=(
            r"^https?://(?:www\.)?mid\.ru/ru/press_service/spokesman/"
            r"(?:briefings|answers|kommentarii|official_statement)/\d{6,8}/?$",
        ),
        domains=("www.mid.ru",),
        schedule="6h",
        download_delay=10.0,
    ),
    Source(
        key="xinhua_en",
        name="Xinhua (English)",
        language="en",
        timezone="Asia/Shanghai",
        parser="xinhua",
        homepage="https://english.news.cn/",
        # The old English RSS feeds still answer for some readers (unverified today).
        feeds=(
            "http://www.xinhuanet.com/english/rss/worldrss.xml",
            "http://www.xinhuanet.com/english/rss/chinarss.xml",
        ),
        listings=(Listing("https://english.news.cn/"),),
        article_patterns=(
            r"^https?://english\.news\.cn/\d{8}/[0-9a-f]{32}/c\.html$",
            r"^https?://www\.(?:xinhuanet\.com|news\.cn)/english/\d{4}-\d{2}/\d{2}/c_\d+\.htm$",
        ),
        domains=("www.news.cn",),
        schedule="1h",
    ),
    Source(
        key="xinhua_zh",
        name="新华网 (Xinhua, Chinese)",
        language="zh",
        timezone="Asia/Shanghai",
        parser="xinhua",
        homepage="https://www.news.cn/",
        listings=(Listing("https://www.news.cn/world/"), Listing("https://www.news.cn/politics/")),
        article_patterns=(
            r"^https?://www\.news\.cn/(?!english/)[a-z]+/\d{8}/[0-9a-f]{32}/c\.html$",
            r"^https?://www\.(?:xinhuanet\.com|news\.cn)/(?!english/)[a-z]+/\d{4}-\d{2}/\d{2}/c_\d+\.htm$",
        ),
        domains=("www.xinhuanet.com",),
        schedule="1h",
    ),
    Source(
        key="chinadaily_en",
        name="China Daily (English)",
        language="en",
        timezone="Asia/Shanghai",
        parser="chinadaily",
        homepage="https://www.chinadaily.com.cn/",
        # The RSS feeds are reported stale since 2017; listings carry the new items.
        feeds=("https://www.chinadaily.com.cn/rss/world_rss.xml",),
        listings=(
            Listing(
                "https://www.chinadaily.com.cn/world/",
                pages="https://www.chinadaily.com.cn/world/page_{n}.html",
                max_pages=2,
            ),
            Listing("https://www.chinadaily.com.cn/china/"),
        ),
        article_patterns=(
            r"^https?://www\.chinadaily\.com\.cn/a/\d{6}/\d{2}/WS[0-9a-f]{24}(?:_\d+)?\.html$",
        ),
        schedule="2h",
    ),
    Source(
        key="chinadaily_zh",
        name="中国日报网 (China Daily, Chinese)",
        language="zh",
        timezone="Asia/Shanghai",
        parser="chinadaily",
        homepage="https://cn.chinadaily.com.cn/",
        listings=(
            Listing("https://world.chinadaily.com.cn/"),
            Listing("https://china.chinadaily.com.cn/"),
        ),
        article_patterns=(
            r"^https?://(?:cn|china|world)\.chinadaily\.com\.cn/a/\d{6}/\d{2}/WS[0-9a-f]{24}(?:_\d+)?\.html$",
        ),
        schedule="2h",
    ),
    Source(
        key="cgtn",
        name="CGTN",
        language="en",
        timezone="Asia/Shanghai",
        parser="cgtn",
        homepage="https://www.cgtn.com/",
        sitemaps=("https://www.cgtn.com/sitemap_latestnews.xml",),
        article_patterns=(
            r"^https?://news(?:us|eu|af)?\.cgtn\.com/news/\d{4}-\d{2}-\d{2}/[^/]+/(?:index|p)\.html$",
        ),
        domains=("news.cgtn.com",),
        schedule="1h",
    ),
    Source(
        key="people_en",
        name="People's Daily Online (English)",
        language="en",
        timezone="Asia/Shanghai",
        parser="people",
        homepage="http://en.people.cn/",
        listings=(Listing("http://en.people.cn/90777/index.html"),),
        article_patterns=(r"^https?://en\.people\.cn/n3/\d{4}/\d{4}/c\d+-\d+\.html$",),
        schedule="2h",
    ),
    Source(
        key="people_zh",
        name="人民网 (People's Daily Online, Chinese)",
        language="zh",
        timezone="Asia/Shanghai",
        parser="people",
        homepage="http://www.people.com.cn/",
        feeds=(
            "http://www.people.com.cn/rss/politics.xml",
            "http://www.people.com.cn/rss/world.xml",
        ),
        article_patterns=(r"^https?://[a-z]+\.people\.com\.cn/n[12]/\d{4}/\d{4}/c\d+-\d+\.html$",),
        domains=("politics.people.com.cn", "world.people.com.cn"),
        schedule="2h",
        download_delay=5.0,
    ),
    Source(
        key="tass_en",
        name="TASS (English)",
        language="en",
        timezone="Europe/Moscow",
        parser="tass",
        homepage="https://tass.com/",
        feeds=("https://tass.com/rss/v2.xml",),
        sitemaps=("https://tass.com/sitemap/sitemap_news0.xml",),
        article_patterns=(r"^https?://tass\.com/[a-z-]+/\d+/?$",),
        schedule="1h",
    ),
    Source(
        key="tass_ru",
        name="ТАСС (Russian)",
        language="ru",
        timezone="Europe/Moscow",
        parser="tass",
        homepage="https://tass.ru/",
        # Article pages sit behind a bot wall (HTTP 403); the RSS feed answers.
        feeds=("https://tass.ru/rss/v2.xml",),
        article_patterns=(r"^https?://tass\.ru/[a-z-]+/\d+/?$",),
        schedule="1h",
    ),
    Source(
        key="rt",
        name="RT (English)",
        language="en",
        # RT English displays GMT.
        timezone="UTC",
        parser="rt",
        homepage="https://www.rt.com/",
        feeds=("https://www.rt.com/rss/news/",),
        sitemaps=("https://www.rt.com/newssitemap.xml",),
        article_patterns=(r"^https?://www\.rt\.com/[a-z-]+/\d+-[^/?#]+/?$",),
        schedule="1h",
    ),
    Source(
        key="sputnik",
        name="Sputnik (English)",
        language="en",
        timezone="Europe/Moscow",
        parser="rianews",
        homepage="https://sputnikglobe.com/",
        feeds=("https://sputnikglobe.com/export/rss2/archive/index.xml",),
        article_patterns=(
            r"^https?://sputnikglobe\.com/\d{8}/[^/]+-\d+\.html$",
            r"^https?://sputniknews\.com/[a-z-]+/\d{12,}-[^/]+/?$",
        ),
        domains=("sputniknews.com",),
        schedule="2h",
    ),
    Source(
        key="ria",
        name="РИА Новости (RIA Novosti)",
        language="ru",
        timezone="Europe/Moscow",
        parser="rianews",
        homepage="https://ria.ru/",
        feeds=("https://ria.ru/export/rss2/archive/index.xml",),
        # Older URLs carry only the id (ria.ru/20191225/1562811927.html), newer ones a slug too.
        article_patterns=(r"^https?://ria\.ru/\d{8}/(?:[^/]+-)?\d+\.html$",),
        schedule="1h",
    ),
)


class Registry:
    """The sources in force: the built-in ones with the user's overrides and additions."""

    def __init__(self, sources: tuple[Source, ...] | list[Source] = BUILTIN) -> None:
        self._sources: dict[str, Source] = {}
        for source in sources:
            if source.key in self._sources:
                raise SourceError(f"Source '{source.key}' is declared twice.")
            self._sources[source.key] = source

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._sources.values())

    def __len__(self) -> int:
        return len(self._sources)

    def __contains__(self, key: object) -> bool:
        return key in self._sources

    def get(self, key: str) -> Source:
        try:
            return self._sources[key]
        except KeyError:
            known = ", ".join(sorted(self._sources))
            raise SourceError(
                f"Unknown source '{key}'. Known: {known}. Run 'presswatch sources' to list them."
            ) from None

    def enabled(self) -> list[Source]:
        return [s for s in self._sources.values() if s.enabled]

    def for_url(self, url: str) -> Source | None:
        """The source whose article patterns match `url`, if any."""
        for source in self._sources.values():
            if source.is_article_url(url):
                return source
        return None


def default_registry() -> Registry:
    return Registry(BUILTIN)
