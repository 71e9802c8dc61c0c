"""Scrapy settings for presswatch: short, grouped, and each one on purpose.

Per-run choices (database, replay, archive, bounds) are set by `crawler.runner`, not here.
"""

BOT_NAME = "presswatch"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"

# --- Politeness: we watch the same sites every hour, for years. -----------------------------
USER_AGENT = "presswatch/0.1 (+https://github.com/presswatch/presswatch; news monitor)"
ROBOTSTXT_OBEY = True
AUTOTHROTTLE_ENABLED = True
# The source's download_delay is the floor; AutoThrottle only slows down from there.
AUTOTHROTTLE_START_DELAY = 0.5
AUTOTHROTTLE_MAX_DELAY = 60.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 2
# Each source sets its own delay (Source.download_delay) through the spider's attribute.
DOWNLOAD_DELAY = 2.0
DOWNLOAD_TIMEOUT = 30
RETRY_TIMES = 2
REDIRECT_MAX_TIMES = 5
# A news page over 8 MiB is not a news page (on the wire, and decompressed).
DOWNLOAD_MAXSIZE = 8 * 1024 * 1024
DOWNLOAD_WARNSIZE = 2 * 1024 * 1024

# --- Bounds: each stops with a warning and a bounds/... stat (crawler.bounds). -------------
# A whole crawl: under the scheduler's --crawl-timeout (3600 s), so that a long crawl ends as
# partial with what it parsed stored, rather than being killed.
PRESSWATCH_MAX_CRAWL_SECONDS = 3000
# Requests the spider may issue in one crawl: traps that fan out end here.
PRESSWATCH_MAX_REQUESTS = 50_000
PRESSWATCH_MAX_URL_LENGTH = 2_000
PRESSWATCH_MAX_LINKS_PER_DOCUMENT = 50_000
PRESSWATCH_MAX_HTML_ELEMENTS = 50_000
SPIDER_MIDDLEWARES = {"crawler.bounds.RequestBoundsMiddleware": 850}

# --- Requests: credentials, address policy, politeness. -----------------------------------
DOWNLOADER_MIDDLEWARES = {
    # First of all: user:password@ in a URL becomes Basic auth, so that no later component,
    # log line or stored URL sees it (crawler.credentials).
    "crawler.credentials.UrlCredentialsMiddleware": 40,
    # Address policy (crawler.netpolicy): public http(s) addresses only, plus [crawl]
    # allow_addresses. After offsite filtering (50), before robots.txt (100): a refused URL
    # costs no robots.txt.
    "crawler.netpolicy.AddressPolicyMiddleware": 60,
    # Politeness (crawler.politeness): RFC 9309 robots.txt (5xx or unreachable disallows the
    # host, 4xx allows, Crawl-delay kept), and Retry-After on 429/503 holding the whole host.
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "crawler.politeness.RobotsTxtMiddleware": 100,
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "crawler.politeness.RateLimitMiddleware": 550,
    # Bounds (crawler.bounds): counted and named where stock Scrapy is silent. Below retry
    # (550): it sees what retrying gave up on.
    "crawler.bounds.DownloadBoundsMiddleware": 540,
    "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": None,
    "crawler.bounds.BoundedMetaRefreshMiddleware": 580,
    "scrapy.downloadermiddlewares.httpcompression.HttpCompressionMiddleware": None,
    "crawler.bounds.BoundedCompressionMiddleware": 590,
    "scrapy.downloadermiddlewares.redirect.RedirectMiddleware": None,
    "crawler.bounds.BoundedRedirectMiddleware": 600,
}
# Checks the address again when connecting, against DNS rebinding (crawler.netpolicy).
TWISTED_DNS_RESOLVER = "crawler.netpolicy.PolicyResolver"

# --- Pipeline: validate -> normalise -> store. ----------------------------------------------
ITEM_PIPELINES = {
    "crawler.pipelines.ValidatePipeline": 100,
    "crawler.pipelines.NormalizePipeline": 200,
    "crawler.pipelines.StorePipeline": 300,
}
EXTENSIONS = {
    "crawler.extensions.CrawlProgress": 500,
    # AutoThrottle that keeps a host's Crawl-delay as its floor (crawler.politeness).
    "scrapy.extensions.throttle.AutoThrottle": None,
    "crawler.politeness.PoliteAutoThrottle": 0,
    # [crawl] max_crawl_seconds (crawler.bounds).
    "crawler.bounds.CrawlTimeLimit": 100,
    # A monitor run from cron has no use for a telnet console on a local port.
    "scrapy.extensions.telnet.TelnetConsole": None,
}
# The pipelines are synchronous: Scrapy's default of 100 starts 100 asyncio tasks for each
# response's output, about 1 ms a page (bench/README.md).
CONCURRENT_ITEMS = 1
# Rows per SQLite transaction: one transaction per row manages ~50 rows/s, batches ~2,000.
PRESSWATCH_BATCH_SIZE = 50

# --- Housekeeping. -------------------------------------------------------------------------
LOG_LEVEL = "INFO"
# Secret settings (MAIL_PASS, ...) print as "***", and every log line is redacted (db.redact).
ADDONS = {"crawler.credentials.SecretSettings": 0}
FEED_EXPORT_ENCODING = "utf-8"
# The database, not JOBDIR, is the source of truth after a crash (DESIGN.md).
HTTPCACHE_ENABLED = False
