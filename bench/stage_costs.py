"""Per-page CPU cost of each presswatch stage, outside Scrapy, without a profiler's overhead.

cProfile (crawl_bench.py --profile) says where the crawl's time goes but slows Python code
about twofold, unevenly. This times each stage on its own, in one process, over the
synthetic site's article pages (bench/synthetic_site.py, same seed, same bytes):

    decode        crawler.encoding.decode_html
    soup          BeautifulSoup(html, "lxml"), the DOM every parser gets
    lxml          lxml.html.document_fromstring, for comparison
    trafilatura   trafilatura.extract with the generic parser's options
    parse         crawler.parsers.parse_article_with_report (includes soup and trafilatura)
    normalize     crawler.pipelines.NormalizePipeline.process_item
    store         db.store.upsert_articles in batches of PRESSWATCH_BATCH_SIZE

    .venv/bin/python bench/stage_costs.py --articles 1000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import trafilatura
from lxml import html as lxml_html
from synthetic_site import SyntheticSite

from crawler import settings as project_settings
from crawler.encoding import decode_html
from crawler.parsers import parse_article_with_report
from crawler.parsers.utility import make_soup
from crawler.pipelines import NormalizePipeline
from crawler.sources import Registry, Source
from db import store

BASE = "http://127.0.0.1:8000"
ARTICLE_PATTERN = r"^http://127\.0\.0\.1:\d+/news/\d{4}/\d{2}/\d{2}/\d+-[a-z0-9-]+\.html$"
CONTENT_TYPE = "text/html; charset=utf-8"


def timed(
    label: str, items: list[Any], func: Callable[[Any], Any]
) -> tuple[str, float, float, list[Any]]:
    """(label, CPU ms per item, wall ms per item, results) of func over items."""
    cpu, wall = time.process_time(), time.perf_counter()
    results = [func(item) for item in items]
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return label, 1000 * cpu / len(items), 1000 * wall / len(items), results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    site = SyntheticSite(BASE, args.articles, args.seed)
    pages = [(m["url"], site.pages[m["path"]].body) for m in site.meta]
    source = Source(
        key="synth",
        name="Synthetic benchmark site",
        language="en",
        timezone="Asia/Shanghai",
        homepage=BASE + "/",
        article_patterns=(ARTICLE_PATTERN,),
        builtin=False,
    )
    registry = Registry([source])
    rows: list[tuple[str, float, float]] = []

    def add(label: str, cpu: float, wall: float, results: list[Any]) -> list[Any]:
        rows.append((label, cpu, wall))
        return results

    texts = add(*timed("decode", pages, lambda p: decode_html(p[1], CONTENT_TYPE)[0]))
    docs = list(zip((url for url, _ in pages), texts, strict=True))
    add(*timed("soup", texts, make_soup))
    add(*timed("lxml", texts, lxml_html.document_fromstring))
    add(
        *timed(
            "trafilatura",
            docs,
            lambda d: trafilatura.extract(
                d[1],
                url=d[0],
                include_comments=False,
                include_tables=False,
                include_images=False,
                include_links=False,
            ),
        )
    )
    parsed = add(
        *timed(
            "parse",
            docs,
            lambda d: parse_article_with_report(d[0], d[1], "synth", registry=registry),
        )
    )
    articles = [article for article, _report in parsed]
    for article in articles:
        article.fetched_at = "2026-07-01T00:00:00Z"
    add(*timed("normalize", articles, NormalizePipeline().process_item))

    batch = project_settings.PRESSWATCH_BATCH_SIZE
    with tempfile.TemporaryDirectory() as tmp:
        db = store.open_db(Path(tmp) / "stages.db")
        records = [a.to_dict() for a in articles]
        batches = [records[i : i + batch] for i in range(0, len(records), batch)]
        _label, cpu, wall, _ = timed("store", batches, lambda b: store.upsert_articles(db, b))
        per_batch = len(batches) / len(records)
        rows.append(("store", cpu * per_batch, wall * per_batch))
        db.close()

    cpu_of = {label: cpu for label, cpu, _wall in rows}
    print(f"{args.articles} synthetic article pages; ms per page (store: batches of {batch}):")
    print(f"  {'stage':<24} {'CPU':>7} {'wall':>7}")
    for label, cpu, wall in rows:
        print(f"  {label:<24} {cpu:7.2f} {wall:7.2f}")
    own = cpu_of["parse"] - cpu_of["soup"] - cpu_of["trafilatura"]
    print(f"  {'parse - soup - traf.':<24} {own:7.2f}          (lookups, clean-up)")
    total = sum(cpu_of[k] for k in ("decode", "parse", "normalize", "store"))
    print(f"  {'decode+parse+norm+store':<24} {total:7.2f}")


if __name__ == "__main__":
    main()
