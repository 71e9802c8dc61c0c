"""The measured presswatch crawl: `presswatch crawl --source KEY` with the benchmark settings.

presswatch.toml cannot switch AutoThrottle off or raise the global concurrency (its [crawl]
section knows user_agent, max_listing_pages and concurrent_requests_per_domain only), so this
runs the same library call the CLI makes, `crawler.runner.run_crawls`, with
`CrawlOptions(overrides=bench_settings(...))`. Spider, parsers, pipelines and store are the
ones `presswatch crawl` uses. Run by bench/crawl_bench.py as

    python bench/run_presswatch.py --config synth.toml --source synth --db synth.db \
        --concurrency 16 --stats-out presswatch.json [--profile presswatch.prof]

After the crawl it adds what the database holds to the stats file: `stored` (articles) and
`run_status` (the `crawl_runs` row's status).
"""

from __future__ import annotations

import argparse
import cProfile
import json
from pathlib import Path

from measure import bench_settings, parse_sets

from crawler import settings as project_settings
from crawler.runner import CrawlOptions, run_crawls
from db import store


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", required=True, help="presswatch.toml declaring the source")
    parser.add_argument("--source", required=True, help="its key")
    parser.add_argument("--db", required=True, help="SQLite file (fresh for a timed run)")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--stats-out", required=True, help="where BenchTiming writes JSON")
    parser.add_argument("--profile", help="write a cProfile of the whole process here")
    parser.add_argument("--set", action="append", default=[], help="extra Scrapy KEY=VALUE")
    args = parser.parse_args(argv)

    overrides = bench_settings(
        args.concurrency,
        args.stats_out,
        extensions=dict(project_settings.EXTENSIONS),
        extra=parse_sets(args.set),
    )
    # The synthetic site is on 127.0.0.1, which the address policy refuses unless allowed.
    overrides.setdefault("PRESSWATCH_ALLOW_ADDRESSES", ["127.0.0.1"])
    options = CrawlOptions(
        db_path=args.db, config_path=args.config, log_level="WARNING", overrides=overrides
    )
    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(run_crawls, options, [args.source])
        profiler.dump_stats(args.profile)
    else:
        run_crawls(options, [args.source])

    stats_path = Path(args.stats_out)
    result = json.loads(stats_path.read_text(encoding="utf-8"))
    db = store.open_db(args.db)
    result["stored"] = store.count_articles(db)
    runs = store.recent_runs(db, source=args.source, limit=1)
    result["run_status"] = runs[0]["status"] if runs else None
    stats_path.write_text(json.dumps(result, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
