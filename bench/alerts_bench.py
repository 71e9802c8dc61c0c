"""Rule-matching throughput: 1,000 alert rules over 10,000 synthetic articles.

    .venv/bin/python bench/alerts_bench.py [--rules 1000] [--articles 10000]
        [--baseline-sample 1000] [--seed 4] [--out bench/results/alerts-1000x10000.json]

1. builds a vocabulary from the golden pages in tests/data/pages (real English, Chinese and
   Russian news text) plus made-up rare words, and from it 10,000 articles (60% English,
   25% Chinese, a third of them in Traditional characters, 15% Russian; 5% briefings with
   turns), about 400 words (600 characters in Chinese) each;
2. writes 1,000 rules the way people write alerts: the shipped-style
   `@china_russia AND (...)` rules, word pairs, phrases, NEAR, Chinese and Russian terms,
   prefixes, title:/speaker: scopes, NOT;
3. times `RuleSet.match` over every article with the Aho-Corasick prefilter, then without
   it (every rule evaluated on every article) over the first --baseline-sample articles,
   and checks that both found exactly the same matches there;
4. times folding Chinese text (alerts.textnorm.fold) against OpenCC's own t2s converter;
5. prints a table and writes everything as JSON with --out.

Times are wall-clock on one core (the matcher is single-threaded); "rules × docs/s" is
rules × articles matched per second.
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import json
import os
import platform
import random
import statistics
import sys
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO))

from alerts import textnorm  # noqa: E402 - after the path set-up above
from alerts.query import Document, RuleSet, parse  # noqa: E402

ALIASES = {
    "china_russia": [
        '"China-Russia"',
        '"Sino-Russian"',
        '"Russia-China"',
        '"Russian-Chinese"',
        "中俄",
        "俄中",
        "中国和俄罗斯",
        "российско-китайск*",
        "китайско-российск*",
        '"Россия и Китай"',
    ],
}
TOPICS = [
    "technolog*",
    "science",
    "innovation",
    "satellite*",
    '"artificial intelligence"',
    "semiconductor*",
    "科技",
    "创新",
    "卫星导航",
    "人工智能",
    "технолог*",
    "научно*",
    "спутник*",
]
SPEAKERS = ["Geng Shuang", "Hua Chunying", "Maria Zakharova", "Lin Jian", "Guo Jiakun"]


TAIL = 30000
TAIL_SHARE = 0.15  # of the words of an English or Russian text
ZIPF = list(itertools.accumulate(1 / rank for rank in range(1, TAIL + 1)))


def _vocabulary(rng: random.Random) -> dict[str, list[str]]:
    """Words by language from the golden pages, plus rare made-up words (a long tail)."""
    en: list[str] = []
    ru: list[str] = []
    zh: list[str] = []
    for path in sorted((REPO / "tests" / "data" / "pages").glob("*/*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        text = f"{record.get('title') or ''} {record.get('body') or ''}"
        for word in textnorm.TOKEN_RE.findall(text):
            if textnorm.is_cjk(word):
                zh.append(word)
            elif textnorm.language_of(word.lower()) == "russian":
                ru.append(word)
            elif word.isalpha():
                en.append(word)

    # A long tail of made-up words, drawn with Zipf weights: real news vocabularies run to
    # tens of thousands of words, most of them rare, and alert rules are mostly about those.
    def tail(letters: str) -> list[str]:
        return [
            "".join(rng.choice(letters) for _ in range(rng.randint(5, 10))) for _ in range(TAIL)
        ]

    return {
        "en": en,
        "ru": ru,
        "zh": zh,
        "tail_en": tail("abcdefghijklmnoprstuvwy"),
        "tail_ru": tail("абвгдежзиклмнопрстуфхцчшыэюя"),
    }


def _articles(n: int, vocab: dict[str, list[str]], rng: random.Random) -> list[Document]:
    to_traditional: dict[str, str] = {}
    for traditional, simplified in textnorm.traditional_to_simplified().items():
        to_traditional.setdefault(simplified, traditional)
    docs = []
    for i in range(n):
        roll = rng.random()
        language = "en" if roll < 0.6 else "zh" if roll < 0.85 else "ru"

        def words(k: int, language: str = language) -> str:
            if language == "zh":
                # Runs of consecutive characters from real text keep its bigrams.
                chars = vocab["zh"]
                out = []
                while len(out) < k:
                    start = rng.randrange(len(chars) - 12)
                    out.extend(chars[start : start + rng.randint(4, 12)])
                    out.append(rng.choice("，。、"))
                return "".join(out[:k])
            pool, tail = vocab[language], vocab[f"tail_{language}"]
            picked = [
                tail[bisect.bisect(ZIPF, rng.random() * ZIPF[-1])]
                if rng.random() < TAIL_SHARE
                else rng.choice(pool)
                for _ in range(k)
            ]
            text = " ".join(picked)
            return text.replace(" the ", ". The ", 3)

        title, body = words(10), "\n\n".join(words(rng.randint(60, 100)) for _ in range(5))
        if language == "zh" and rng.random() < 0.33:
            title = "".join(to_traditional.get(c, c) for c in title)
            body = "".join(to_traditional.get(c, c) for c in body)
        turns = []
        kind = "article"
        if rng.random() < 0.05:
            kind = "briefing"
            turns = [
                {
                    "idx": t,
                    "role": "answer" if t % 2 else "question",
                    "speaker": rng.choice(SPEAKERS) if t % 2 else None,
                    "text": words(40),
                }
                for t in range(8)
            ]
            body = "\n\n".join(turn["text"] for turn in turns)
        docs.append(
            Document(
                title=title,
                body=body,
                turns=turns,
                source=f"source{i % 16}_{language}",
                language=language,
                kind=kind,
            )
        )
    return docs


def _rules(n: int, vocab: dict[str, list[str]], rng: random.Random) -> dict[str, str]:
    """Alert-like rules. Terms are drawn by word, not by occurrence, so most are mid- or
    low-frequency words, as in real watch-lists (people do not alert on "the")."""
    en = sorted({w.lower() for w in vocab["en"] if len(w) > 4})
    ru = sorted({w.lower() for w in vocab["ru"] if len(w) > 4})
    zh_text = "".join(vocab["zh"])

    def zh() -> str:
        start = rng.randrange(len(zh_text) - 4)
        return zh_text[start : start + rng.randint(3, 4)]

    def word() -> str:
        return rng.choice(vocab["tail_en"]) if rng.random() < 0.6 else rng.choice(en)

    def rare() -> str:
        return rng.choice(vocab["tail_en"])

    def ru_word() -> str:
        return rng.choice(vocab["tail_ru"]) if rng.random() < 0.6 else rng.choice(ru)

    templates = [
        (0.10, lambda: f"@china_russia AND ({rng.choice(TOPICS)} OR {rng.choice(TOPICS)})"),
        (0.25, lambda: f"{word()} {word()}"),
        (0.10, lambda: f'"{word()} {word()}"'),
        (0.08, lambda: f"{word()} NEAR/{rng.randint(3, 15)} {word()}"),
        (0.08, lambda: f"({word()} OR {word()} OR {word()}*) AND {word()}"),
        (0.12, lambda: f"{zh()} AND ({zh()} OR {zh()})"),
        (0.08, lambda: f"{ru_word()} {ru_word()[:6]}*"),
        (0.05, lambda: f"title:({word()} OR {zh()})"),
        (0.04, lambda: f'speaker:"{rng.choice(SPEAKERS)}" AND {word()}'),
        (0.05, lambda: f"{rare()} NOT {word()}"),
        (0.05, lambda: f"{rare()} lang:en"),
    ]
    weights = [w for w, _ in templates]
    rules: dict[str, str] = {}
    while len(rules) < n:
        _, make = rng.choices(templates, weights)[0]
        text = make()
        rules.setdefault(f"rule{len(rules):04d}", text)
    return rules


def _time_matching(ruleset: RuleSet, docs: list[Document]) -> tuple[float, list[dict[str, Any]]]:
    results = []
    start = time.perf_counter()
    for doc in docs:
        results.append(ruleset.match(doc))
    return time.perf_counter() - start, results


def _fold_speed(docs: list[Document]) -> dict[str, float]:
    from opencc import OpenCC

    text = "\n".join(d.body for d in docs if d.language == "zh")[:2_000_000]
    converter = OpenCC("t2s")
    start = time.perf_counter()
    textnorm.fold(text)
    ours = time.perf_counter() - start
    sample = text[:200_000]
    start = time.perf_counter()
    converter.convert(sample)
    theirs = (time.perf_counter() - start) * len(text) / len(sample)
    return {
        "chars": len(text),
        "fold_chars_per_s": round(len(text) / ours),
        "opencc_t2s_chars_per_s": round(len(text) / theirs),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rules", type=int, default=1000)
    parser.add_argument("--articles", type=int, default=10000)
    parser.add_argument("--baseline-sample", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    load_before = os.getloadavg()[0]  # the machine may be shared: say how busy it was
    rng = random.Random(args.seed)
    vocab = _vocabulary(rng)
    docs = _articles(args.articles, vocab, rng)
    rule_texts = _rules(args.rules, vocab, rng)

    start = time.perf_counter()
    queries = {name: parse(text, ALIASES) for name, text in rule_texts.items()}
    parse_s = time.perf_counter() - start
    start = time.perf_counter()
    prefiltered = RuleSet(queries)
    compile_s = time.perf_counter() - start
    no_literals = sum(1 for q in queries.values() if not q.required_literals())

    # Warm the fold table and stem cache once, as a long-running matcher would have them.
    _time_matching(RuleSet(queries), docs[:200])
    with_s, with_results = _time_matching(prefiltered, docs)
    sample = docs[: args.baseline_sample]
    baseline = RuleSet(queries, prefilter=False)
    without_s, without_results = _time_matching(baseline, sample)
    same = all(
        set(a) == set(b) for a, b in zip(with_results[: len(sample)], without_results, strict=True)
    )
    if not same:
        print("ERROR: the prefilter lost or added a match", file=sys.stderr)

    matches = sum(len(r) for r in with_results)
    words = statistics.mean(len(textnorm.TOKEN_RE.findall(d.title + " " + d.body)) for d in docs)
    report: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": {
            "nproc": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "pyahocorasick": metadata.version("pyahocorasick"),
            "snowballstemmer": metadata.version("snowballstemmer"),
        },
        "loadavg_1min_before": round(load_before, 2),
        "rules": len(queries),
        "rules_without_literals": no_literals,
        "articles": len(docs),
        "mean_tokens_per_article": round(words),
        "parse_s": round(parse_s, 3),
        "compile_s": round(compile_s, 3),
        "prefilter": {
            "seconds": round(with_s, 2),
            "docs_per_s": round(len(docs) / with_s),
            "rules_x_docs_per_s": round(len(queries) * len(docs) / with_s),
            "rules_evaluated_per_doc": round(prefiltered.evaluated / prefiltered.documents, 1),
            "matches": matches,
            "docs_with_a_match": sum(1 for r in with_results if r),
        },
        "no_prefilter": {
            "articles": len(sample),
            "seconds": round(without_s, 2),
            "docs_per_s": round(len(sample) / without_s, 1),
            "rules_x_docs_per_s": round(len(queries) * len(sample) / without_s),
        },
        "same_matches_on_sample": same,
        "fold": _fold_speed(docs),
    }
    p, b = report["prefilter"], report["no_prefilter"]
    print(f"{len(queries)} rules ({no_literals} without literals) × {len(docs)} articles")
    print(f"  parse {parse_s:.2f} s, compile (automaton) {compile_s:.2f} s")
    print(
        f"  with prefilter:    {p['docs_per_s']:>6} docs/s  {p['rules_x_docs_per_s']:>10,} "
        f"rules×docs/s  ({p['rules_evaluated_per_doc']} rules evaluated per doc, "
        f"{p['matches']} matches)"
    )
    print(
        f"  without prefilter: {b['docs_per_s']:>6} docs/s  {b['rules_x_docs_per_s']:>10,} "
        f"rules×docs/s  (first {b['articles']} articles)"
    )
    print(f"  same matches on the sample: {same}")
    fold = report["fold"]
    print(
        f"  fold {fold['fold_chars_per_s']:,} chars/s; "
        f"OpenCC t2s {fold['opencc_t2s_chars_per_s']:,} chars/s"
    )
    if args.out:
        args.out.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
