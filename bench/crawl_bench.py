"""Crawl throughput benchmark: presswatch against a bare Scrapy spider on a synthetic site.

    .venv/bin/python bench/crawl_bench.py --articles 5000 [--repeat K] [--out FILE.json]
        [--concurrency 16] [--profile FILE.prof] [--cli] [--set KEY=VALUE ...]

1. starts bench/synthetic_site.py (its own process) with N articles behind a sitemap index
   and paginated listings;
2. runs, in turn (alternating the order when --repeat > 1), each in a fresh subprocess:
   the bare spider (bench/bare_spider.py: fetch every URL, read nothing), and the presswatch
   crawl of the site declared as source `synth` in a temporary presswatch.toml with
   download_delay = 0 (bench/run_presswatch.py: `run_crawls` with the same Scrapy settings);
3. measures each: crawl time (spider opened -> closed), pages/s, process wall time, CPU time,
   peak RSS (`os.wait4` on that child: its own ru_maxrss), and what was fetched and stored;
4. fails (exit status 1) unless the bare spider saw N articles and presswatch stored N;
5. prints a table and the ratio presswatch/bare of the median pages/s, and writes it all as
   JSON with --out.

--profile FILE runs the presswatch crawl once more under cProfile (not timed) and prints
where its time goes. --cli also times the shipped command, `presswatch crawl`, as a user
runs it (AutoThrottle on; per-domain concurrency from presswatch.toml's [crawl]; alerts
matched after the crawl). --set adds a Scrapy setting to both crawlers, e.g.
--set CONCURRENT_ITEMS=1.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from measure import parse_sets
from synthetic_site import LISTING_SIZE, SITEMAP_SIZE

BENCH = Path(__file__).resolve().parent
SOURCE_KEY = "synth"
ARTICLE_PATTERN = r"^http://127\.0\.0\.1:\d+/news/\d{4}/\d{2}/\d{2}/\d+-[a-z0-9-]+\.html$"


class BenchError(RuntimeError):
    """A run did not fetch or store what it should have; the numbers would be meaningless."""


@dataclass
class Run:
    crawler: str
    round: int
    ok: bool = False
    crawl_s: float | None = None
    wall_s: float = 0.0
    cpu_s: float = 0.0
    peak_rss_mb: float = 0.0
    responses: int = 0
    articles: int = 0
    # CPU the synthetic site spent serving this run: it shares the machine's two cores.
    site_cpu_s: float = 0.0
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def pages_per_s(self) -> float:
        seconds = self.crawl_s if self.crawl_s else self.wall_s
        return self.responses / seconds if seconds else 0.0


@dataclass
class Child:
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    returncode: int
    log: Path


# ---- processes ---------------------------------------------------------------------------


def run_child(cmd: list[str], log: Path, cwd: Path) -> Child:
    """Run `cmd` to completion; its own wall time, CPU time and peak RSS (not the bench's)."""
    with log.open("wb") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=cwd)
        # wait4 gives this child's rusage alone; RUSAGE_CHILDREN would fold in earlier runs.
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Child(
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        peak_rss_mb=usage.ru_maxrss / 1024,  # Linux reports KiB
        returncode=proc.returncode,
        log=log,
    )


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a running process, from /proc (0.0 where there is none)."""
    stat = Path(f"/proc/{pid}/stat")
    if not stat.exists():
        return 0.0
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _tail(path: Path, lines: int = 30) -> str:
    text = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return "\n".join(text[-lines:])


def start_site(articles: int, seed: int) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            str(BENCH / "synthetic_site.py"),
            *("--articles", str(articles), "--seed", str(seed), "--port", "0"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line.startswith("listening on "):
        proc.kill()
        raise BenchError(f"synthetic site did not start (said {line!r})")
    return proc, line.removeprefix("listening on ")


def write_config(path: Path, base: str, articles: int, concurrency: int) -> None:
    pages = max(1, -(-articles // LISTING_SIZE))
    path.write_text(
        "\n".join(
            [
                "[crawl]",
                # Only the --cli run reads this: run_presswatch.py sets concurrency itself.
                f"concurrent_requests_per_domain = {concurrency}",
                # The site is on 127.0.0.1, which the address policy refuses unless allowed.
                'allow_addresses = ["127.0.0.1"]',
                "",
                f"[sources.{SOURCE_KEY}]",
                'name = "Synthetic benchmark site"',
                f'homepage = "{base}/"',
                'timezone = "Asia/Shanghai"',
                f'sitemaps = ["{base}/sitemap_index.xml"]',
                f'listings = [{{url = "{base}/news/", pages = "{base}/news/page/{{n}}", '
                f"first_page = 2, max_pages = {pages}}}]",
                f"article_patterns = ['{ARTICLE_PATTERN}']",
                "download_delay = 0",
                "",
            ]
        ),
        encoding="utf-8",
    )


# ---- one run of each crawler ---------------------------------------------------------------


def run_bare(base: str, args: argparse.Namespace, work: Path, round_: int) -> Run:
    stats_file = work / f"bare-{round_}.json"
    cmd = [sys.executable, str(BENCH / "bare_spider.py"), "--base", base]
    cmd += ["--listing-pages", str(max(1, -(-args.articles // LISTING_SIZE)))]
    cmd += ["--concurrency", str(args.concurrency), "--stats-out", str(stats_file)]
    cmd += [f"--set={pair}" for pair in args.set]
    child = run_child(cmd, work / f"bare-{round_}.log", cwd=work)
    run = _run_from(child, "bare", round_, stats_file)
    run.articles = run.stats.get("articles_seen", 0)
    return run


def run_presswatch(
    config: Path, args: argparse.Namespace, work: Path, round_: int, profile: str | None = None
) -> Run:
    stats_file = work / f"presswatch-{round_}.json"
    db = work / f"presswatch-{round_}.db"
    cmd = [sys.executable, str(BENCH / "run_presswatch.py"), "--config", str(config)]
    cmd += ["--source", SOURCE_KEY, "--db", str(db), "--concurrency", str(args.concurrency)]
    cmd += ["--stats-out", str(stats_file), *(f"--set={pair}" for pair in args.set)]
    if profile:
        cmd += ["--profile", profile]
    child = run_child(cmd, work / f"presswatch-{round_}.log", cwd=work)
    run = _run_from(child, "presswatch", round_, stats_file)
    run.articles = run.stats.get("stored", 0)
    return run


def run_cli(config: Path, work: Path, round_: int) -> Run:
    """The shipped command as a user runs it: politeness settings from crawler/settings.py."""
    db = work / f"cli-{round_}.db"
    presswatch = Path(sys.executable).with_name("presswatch")
    cmd = [str(presswatch), "crawl", "--config", str(config), "--source", SOURCE_KEY]
    cmd += ["--db", str(db)]
    child = run_child(cmd, work / f"cli-{round_}.log", cwd=work)
    run = Run("presswatch crawl (CLI)", round_, wall_s=child.wall_s, cpu_s=child.cpu_s)
    run.peak_rss_mb = child.peak_rss_mb
    if child.returncode != 0:
        raise BenchError(f"presswatch crawl exited {child.returncode}:\n{_tail(child.log)}")
    from db import store

    conn = store.open_db(str(db))
    run.articles = store.count_articles(conn)
    latest = store.recent_runs(conn, source=SOURCE_KEY, limit=1)
    run.responses = int(latest[0]["pages_fetched"]) if latest else 0
    run.ok = True
    return run


def _run_from(child: Child, name: str, round_: int, stats_file: Path) -> Run:
    if child.returncode != 0 or not stats_file.exists():
        raise BenchError(
            f"{name} run {round_} failed (exit status {child.returncode}); "
            f"last lines of {child.log}:\n{_tail(child.log)}"
        )
    stats = json.loads(stats_file.read_text(encoding="utf-8"))
    return Run(
        crawler=name,
        round=round_,
        crawl_s=stats["crawl_s"],
        wall_s=round(child.wall_s, 3),
        cpu_s=round(child.cpu_s, 3),
        peak_rss_mb=round(child.peak_rss_mb, 1),
        responses=stats["responses"],
        stats=stats,
    )


def check(run: Run, articles: int, expected_responses: int) -> None:
    """Fail loudly: a crawl that missed pages is faster for the wrong reason."""
    problems = []
    if run.articles != articles:
        what = "stored" if run.crawler != "bare" else "fetched"
        problems.append(f"{what} {run.articles} articles, expected {articles}")
    if run.responses != expected_responses:
        problems.append(f"{run.responses} responses, expected {expected_responses}")
    if run.stats.get("statuses", {}).keys() - {"200"}:
        problems.append(f"HTTP statuses {run.stats['statuses']}")
    if run.stats.get("errors"):
        problems.append(f"{run.stats['errors']} errors in the log")
    if run.stats.get("run_status") not in (None, "ok"):
        problems.append(f"crawl_runs status {run.stats['run_status']!r}")
    if problems:
        raise BenchError(f"{run.crawler} run {run.round}: " + "; ".join(problems))
    run.ok = True


# ---- profile -------------------------------------------------------------------------------

# (label, path fragment, function name): cumulative time of these entry points.
STAGES = (
    ("NewsSpider.parse_article (decode + parse)", "crawler/spiders/news.py", "parse_article"),
    ("  decode_page", "crawler/encoding.py", "decode_page"),
    ("  BeautifulSoup(...) tree build", "bs4/__init__.py", "__init__"),
    ("  trafilatura.bare_extraction", "trafilatura/core.py", "bare_extraction"),
    ("  htmldate.find_date", "htmldate/core.py", "find_date"),
    ("NewsSpider.parse_listing", "crawler/spiders/news.py", "parse_listing"),
    ("NewsSpider.parse_xml (sitemaps)", "crawler/spiders/news.py", "parse_xml"),
    ("ValidatePipeline", "crawler/pipelines.py", "ValidatePipeline.process_item"),
    ("NormalizePipeline", "crawler/pipelines.py", "NormalizePipeline.process_item"),
    ("StorePipeline.flush (SQLite writes)", "crawler/pipelines.py", "flush"),
)

# Self time (tottime) by where the code lives; first matching fragment wins.
CATEGORIES = (
    ("SQLite (sqlite3, sqlite-utils, db/)", ("sqlite3", "sqlite_utils/", "/db/")),
    ("trafilatura + justext + courlan", ("trafilatura/", "justext/", "courlan/")),
    ("htmldate + dateparser", ("htmldate/", "dateparser/", "dateutil/")),
    ("BeautifulSoup + soupsieve", ("bs4/", "soupsieve/")),
    ("lxml (C and Python)", ("lxml",)),
    ("charset/encoding (w3lib, charset_normalizer)", ("w3lib/", "charset_normalizer/")),
    ("presswatch crawler/ code", ("/crawler/",)),
    ("Scrapy", ("scrapy/",)),
    ("Twisted", ("twisted/",)),
    ("asyncio event loop", ("asyncio/", "selectors.py", "<method 'poll'")),
    ("regular expressions", ("re/", "<method 'sub' of 're.Pattern", "'re.Pattern' objects>")),
)


def _funcname(key: tuple[str, int, str]) -> str:
    filename, _line, name = key
    return name if filename == "~" else f"{filename}:{name}"


def profile_summary(path: str, pages: int) -> dict[str, Any]:
    """Where the profiled crawl's time went: stage totals and self time by library."""
    stats = pstats.Stats(path)
    table: dict[tuple[str, int, str], tuple[Any, ...]] = stats.stats  # type: ignore[attr-defined]
    total = stats.total_tt  # type: ignore[attr-defined]

    stages = []
    for label, fragment, name in STAGES:
        qualified = name.split(".")[-1]
        best = 0.0
        for (filename, _line, func), (_cc, _nc, _tt, ct, _callers) in table.items():
            if fragment in filename and func == qualified:
                best = max(best, ct)
        if "." in name:
            # Two pipelines share a method name: pick by line order in the module instead.
            best = _method_cumtime(table, fragment, name) or best
        stages.append({"stage": label.strip(), "indent": label.startswith("  "), "s": best})

    by_category: dict[str, float] = {}
    for key, (_cc, _nc, tt, _ct, _callers) in table.items():
        where = _funcname(key)
        category = next(
            (label for label, frags in CATEGORIES if any(f in where for f in frags)),
            "other (stdlib, builtins)",
        )
        by_category[category] = by_category.get(category, 0.0) + tt
    categories = sorted(by_category.items(), key=lambda kv: -kv[1])

    top = sorted(table.items(), key=lambda kv: -kv[1][2])[:15]
    return {
        "profile": path,
        "total_s": round(total, 2),
        "pages": pages,
        "stages": [
            {**s, "s": round(s["s"], 2), "ms_per_page": round(1000 * s["s"] / pages, 2)}
            for s in stages
        ],
        "self_time": [
            {"where": name, "s": round(s, 2), "share": round(s / total, 3)}
            for name, s in categories
        ],
        "top_self": [
            {"function": _funcname(key), "calls": v[1], "self_s": round(v[2], 2)} for key, v in top
        ],
    }


def _method_cumtime(table: dict[Any, Any], fragment: str, qualified: str) -> float | None:
    """Cumulative time of Class.method in a module, by finding the class's line range."""
    cls, method = qualified.split(".")
    source = next((f for f, _l, _n in table if f.endswith(fragment)), None)
    if source is None:
        return None
    lines = Path(source).read_text(encoding="utf-8").splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith(f"class {cls}")), None)
    if start is None:
        return None
    end = next(
        (i for i in range(start + 1, len(lines)) if lines[i].startswith("class ")), len(lines)
    )
    for (filename, line, func), (_cc, _nc, _tt, ct, _callers) in table.items():
        if filename == source and func == method and start < line <= end:
            return float(ct)
    return None


def print_profile(summary: dict[str, Any]) -> None:
    print(f"\nProfile of one presswatch crawl ({summary['profile']}), under cProfile:")
    print(f"  total {summary['total_s']} s for {summary['pages']} pages")
    print("  stage (cumulative)                              s    ms/page")
    for s in summary["stages"]:
        print(f"  {s['stage']:<44} {s['s']:>7.2f} {s['ms_per_page']:>9.2f}")
    print("  self time by library                            s    share")
    for c in summary["self_time"]:
        print(f"  {c['where']:<44} {c['s']:>7.2f} {100 * c['share']:>8.1f}%")
    print("  top functions by self time")
    for f in summary["top_self"]:
        print(f"  {f['self_s']:>7.2f} s {f['calls']:>9} calls  {f['function'][-90:]}")


# ---- report --------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "-"

    meminfo = Path("/proc/meminfo").read_text().split("\n", 1)[0] if os.name == "posix" else ""
    cpu = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        cpu = next(
            (
                line.split(":", 1)[1].strip()
                for line in cpuinfo.read_text().splitlines()
                if line.startswith("model name")
            ),
            "",
        )
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "ram_gib": round(int(meminfo.split()[1]) / 1024**2, 1) if meminfo else None,
        "python": platform.python_version(),
        "platform": platform.platform(),
        **{
            pkg: version(pkg)
            for pkg in ("scrapy", "twisted", "lxml", "trafilatura", "beautifulsoup4")
        },
        "sqlite_utils": version("sqlite-utils"),
    }


def print_table(runs: list[Run]) -> None:
    header = (
        f"{'round':>5}  {'crawler':<24} {'pages':>6} {'crawl s':>8} {'pages/s':>8} "
        f"{'wall s':>7} {'CPU s':>7} {'peak RSS MB':>11} {'articles':>8} {'site CPU s':>10}"
    )
    print(header)
    print("-" * len(header))
    for r in runs:
        crawl = f"{r.crawl_s:.2f}" if r.crawl_s else "-"
        print(
            f"{r.round:>5}  {r.crawler:<24} {r.responses:>6} {crawl:>8} {r.pages_per_s:>8.1f} "
            f"{r.wall_s:>7.2f} {r.cpu_s:>7.2f} {r.peak_rss_mb:>11.1f} {r.articles:>8} "
            f"{r.site_cpu_s:>10.2f}"
        )


def summarise(runs: list[Run]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in sorted({r.crawler for r in runs}):
        mine = [r for r in runs if r.crawler == name]
        out[name] = {
            "pages_per_s_median": round(statistics.median(r.pages_per_s for r in mine), 1),
            "pages_per_s_all": [round(r.pages_per_s, 1) for r in mine],
            "peak_rss_mb_max": max(r.peak_rss_mb for r in mine),
            "cpu_ms_per_page_median": round(
                statistics.median(1000 * r.cpu_s / r.responses for r in mine if r.responses), 2
            ),
        }
    if "bare" in out and "presswatch" in out:
        out["ratio_presswatch_over_bare"] = round(
            out["presswatch"]["pages_per_s_median"] / out["bare"]["pages_per_s_median"], 3
        )
        # CPU per page is steadier than pages/s when other work shares the cores.
        out["cpu_ratio_bare_over_presswatch"] = round(
            out["bare"]["cpu_ms_per_page_median"] / out["presswatch"]["cpu_ms_per_page_median"], 3
        )
    return out


def code_version() -> dict[str, Any]:
    """The commit measured, and whether the work tree differed from it."""

    def git(*args: str) -> str:
        result = subprocess.run(
            ["git", *args], cwd=BENCH.parent, capture_output=True, text=True, check=False
        )
        return result.stdout.strip()

    changed = [line for line in git("status", "--porcelain").splitlines() if line]
    return {"commit": git("rev-parse", "HEAD"), "uncommitted_paths": len(changed)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--articles", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=1, help="rounds; the order alternates")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an extra Scrapy setting for both crawlers (repeatable), e.g. CONCURRENT_ITEMS=1",
    )
    parser.add_argument("--out", help="write the results as JSON here")
    parser.add_argument("--profile", help="also profile one presswatch crawl into this file")
    parser.add_argument("--cli", action="store_true", help="also time `presswatch crawl`")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)

    listing_pages = max(1, -(-args.articles // LISTING_SIZE))
    sitemaps = max(1, -(-args.articles // SITEMAP_SIZE))
    # robots.txt, the sitemap index, the sitemaps, the listing pages, the articles.
    expected = 2 + sitemaps + listing_pages + args.articles

    code = code_version()
    load_before = os.getloadavg()[0]
    if load_before > 0.5:
        print(
            f"warning: load average {load_before:.2f} before starting; other work on this "
            "machine's two cores will slow both crawlers unevenly",
            file=sys.stderr,
        )
    work = Path(tempfile.mkdtemp(prefix="presswatch-bench-"))
    site, base = start_site(args.articles, args.seed)
    runs: list[Run] = []
    profile: dict[str, Any] | None = None
    status = 0
    try:
        config = work / "presswatch.toml"
        write_config(config, base, args.articles, args.concurrency)
        print(
            f"site {base}: {args.articles} articles, {sitemaps} sitemaps, {listing_pages} "
            f"listing pages ({expected} responses per crawl); concurrency {args.concurrency}; "
            f"work dir {work}",
            flush=True,
        )
        for round_ in range(1, args.repeat + 1):
            order = ("bare", "presswatch") if round_ % 2 else ("presswatch", "bare")
            for name in order:
                site_cpu = process_cpu_s(site.pid)
                if name == "bare":
                    run = run_bare(base, args, work, round_)
                else:
                    run = run_presswatch(config, args, work, round_)
                run.site_cpu_s = round(process_cpu_s(site.pid) - site_cpu, 2)
                runs.append(run)
                print(
                    f"  round {round_} {name:<10} {run.pages_per_s:7.1f} pages/s  "
                    f"{run.peak_rss_mb:6.1f} MB  {run.articles} articles",
                    flush=True,
                )
                check(run, args.articles, expected)
            if args.cli:
                site_cpu = process_cpu_s(site.pid)
                run = run_cli(config, work, round_)
                run.site_cpu_s = round(process_cpu_s(site.pid) - site_cpu, 2)
                runs.append(run)
                check(run, args.articles, expected)
        if args.profile:
            prof_run = run_presswatch(config, args, work, 0, profile=args.profile)
            check(prof_run, args.articles, expected)
            profile = profile_summary(args.profile, prof_run.responses)
    except BenchError as exc:
        print(f"\nBENCHMARK FAILED: {exc}", file=sys.stderr)
        status = 1
    finally:
        site.terminate()
        site.wait(timeout=10)

    print()
    print_table(runs)
    summary = summarise([r for r in runs if r.ok]) if runs else {}
    if "ratio_presswatch_over_bare" in summary:
        bare = summary["bare"]["pages_per_s_median"]
        press = summary["presswatch"]["pages_per_s_median"]
        print(
            f"\nmedian pages/s: bare {bare}, presswatch {press}; "
            f"ratio presswatch/bare = {summary['ratio_presswatch_over_bare']:.3f}"
        )
        print(
            f"median CPU ms/page: bare {summary['bare']['cpu_ms_per_page_median']}, "
            f"presswatch {summary['presswatch']['cpu_ms_per_page_median']}; "
            f"ratio bare/presswatch = {summary['cpu_ratio_bare_over_presswatch']:.3f}"
        )
    if args.cli:
        print("(CLI rows: pages/s over the process wall time, start-up included)")
    if profile:
        print_profile(profile)
    if args.out:
        result = {
            "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "machine": machine(),
            "code": code,
            "loadavg_1min_before": round(load_before, 2),
            "articles": args.articles,
            "expected_responses": expected,
            "settings": {
                "concurrency": args.concurrency,
                "download_delay": 0,
                "autothrottle": False,
                "robotstxt_obey": True,
                "extra": parse_sets(args.set),
            },
            "runs": [{**asdict(r), "pages_per_s": round(r.pages_per_s, 1)} for r in runs],
            "summary": summary,
            "profile": profile,
            "failed": bool(status),
        }
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(f"\nwrote {args.out}")
    if args.keep or status:
        print(f"logs and databases kept in {work}")
    else:
        for item in sorted(work.iterdir()):
            item.unlink()
        work.rmdir()
    return status


if __name__ == "__main__":
    sys.exit(main())
