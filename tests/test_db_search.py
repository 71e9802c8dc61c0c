"""Full-text search (db.search) and the Datasette view of the same file (db/metadata.yml)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils
from datasette.app import Datasette
from datasette.utils import parse_metadata

from db.search import SearchQueryError, cjk_bigrams, fts_query, parse_query, search
from db.store import finish_run, start_run, upsert_articles

MakeRecord = Callable[..., dict[str, Any]]
METADATA = Path(__file__).parent.parent / "db" / "metadata.yml"

EN_URL = "https://www.globaltimes.cn/page/202401/1.shtml"
ZH_URL = "https://world.huanqiu.com/article/4GaBcD"
RU_URL = "http://en.kremlin.ru/events/president/news/70000"
LONG_BODY = (
    " ".join(f"filler{i}" for i in range(60))
    + " the satellite innovation "
    + " ".join(f"tail{i}" for i in range(60))
)


@pytest.fixture
def corpus(db: sqlite_utils.Database, make_record: MakeRecord) -> sqlite_utils.Database:
    upsert_articles(
        db,
        [
            make_record(
                url=EN_URL,
                title="China-Russia tech innovations",
                body="Beijing and Moscow signed agreements on innovation.\n\n"
                "The deals cover 5G networks and satellite navigation.",
                published_at="2024-01-15T04:30:00Z",
            ),
            make_record(
                url=ZH_URL,
                source="huanqiu",
                language="zh",
                title="中俄科技合作迈上新台阶",
                body="中俄两国签署了科技合作协议。俄罗斯总统表示欢迎，华为5G项目将落地。\n\n"
                "双方同意继续推进科技，合作领域包括卫星导航。",
                published_at="2024-01-16",
                date_precision="day",
            ),
            make_record(
                url=RU_URL,
                source="kremlin_en",
                title="Meeting with Medvédev",
                body=LONG_BODY,
                published_at="2023-12-01T09:00:00Z",
            ),
        ],
        now="2024-01-16T10:00:00Z",
    )
    return db


def _urls(results: list[dict[str, Any]]) -> list[str]:
    return [r["url"] for r in results]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("中俄科技合作", "中俄 俄科 科技 技合 合作 作"),
        ("中俄", "中俄 俄"),
        ("俄", "俄"),
        ("China and Russia", ""),
        ("中俄，合作", "中俄 俄 合作 作"),
        ("华为5G手机", "华为 为 5G 手机 机"),
        ("", ""),
    ],
)
def test_cjk_bigrams(text: str, expected: str) -> None:
    assert cjk_bigrams(text) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("innovation", '"innovation"'),
        ("China Russia", '"China" AND "Russia"'),
        ('"exact phrase"', '"exact phrase"'),
        ("innov*", '"innov"*'),
        ("Huawei OR ZTE", '("Huawei" OR "ZTE")'),
        ("tech -sports", '("tech") NOT ("sports")'),
        ("tech NOT sports", '("tech") NOT ("sports")'),
        ("中俄", 'search_cjk : "中俄"'),
        ("俄罗斯", 'search_cjk : "俄罗 罗斯"'),
        ("俄", 'search_cjk : "俄"*'),
        ("华为5G", '(search_cjk : "华为" AND "5G")'),
        ("a:b", '"a:b"'),
        ("AND(", '"AND("'),
    ],
)
def test_queries_become_quoted_fts5_expressions(query: str, expected: str) -> None:
    assert fts_query(query) == expected


def test_english_words_are_found_by_stem(corpus: sqlite_utils.Database) -> None:
    assert _urls(search(corpus, "innovations")) == [EN_URL, RU_URL]
    assert _urls(search(corpus, "innovating")) == [EN_URL, RU_URL]
    assert _urls(search(corpus, "medvedev")) == [RU_URL]  # diacritics removed


def test_chinese_terms_find_chinese_records_only(corpus: sqlite_utils.Database) -> None:
    assert _urls(search(corpus, "中俄")) == [ZH_URL]
    assert _urls(search(corpus, "俄罗斯")) == [ZH_URL]
    assert _urls(search(corpus, "科技合作")) == [ZH_URL]
    assert _urls(search(corpus, "俄")) == [ZH_URL]  # a single character ends the run 中俄
    assert sorted(_urls(search(corpus, "5G"))) == sorted([EN_URL, ZH_URL])  # 华为5G too
    assert search(corpus, "俄中") == []
    # 推进科技，合作 has 科技 and 合作 but not 技合 across the comma; 科技合作 appears once.
    assert search(corpus, "推进科技合作") == []


def test_snippets_highlight_english_stems(corpus: sqlite_utils.Database) -> None:
    [result] = search(corpus, "agreement")
    assert "signed [agreements] on innovation" in result["snippet"]
    assert result["title"] == "China-Russia tech innovations"
    assert result["published_at"] == "2024-01-15T04:30:00Z"
    assert isinstance(result["rank"], float)


def test_snippets_highlight_chinese_terms_in_the_original_text(
    corpus: sqlite_utils.Database,
) -> None:
    [result] = search(corpus, "俄罗斯", highlight=("<b>", "</b>"))
    assert "<b>俄罗斯</b>总统表示欢迎" in result["snippet"]
    assert "罗斯 " not in result["snippet"]  # original text, not bigrams
    # The window opens at the first match: 卫星 is further on than 30 words (characters).
    [result] = search(corpus, "中俄 卫星")
    assert result["snippet"].startswith("[中俄]两国签署了科技合作协议。")
    assert result["snippet"].endswith("项目将落地。…")


def test_snippets_are_about_30_words_around_the_match(corpus: sqlite_utils.Database) -> None:
    [result] = search(corpus, "satellite", source="kremlin_en")
    snippet = result["snippet"]
    assert "[satellite]" in snippet
    assert snippet.startswith("… ") and snippet.endswith(" …")
    assert 25 <= len(snippet.split()) <= 35


def test_phrases_or_not_and_prefix(corpus: sqlite_utils.Database) -> None:
    assert _urls(search(corpus, '"satellite navigation"')) == [EN_URL]
    assert search(corpus, '"navigation satellite"') == []
    assert sorted(_urls(search(corpus, "Medvedev OR Beijing"))) == sorted([EN_URL, RU_URL])
    assert _urls(search(corpus, "satellite -Medvedev")) == [EN_URL]
    assert _urls(search(corpus, "satellite NOT 5G")) == [RU_URL]
    assert _urls(search(corpus, "navig*")) == [EN_URL]
    assert _urls(search(corpus, "innovation satellite Medvedev")) == [RU_URL]


def test_filters(corpus: sqlite_utils.Database) -> None:
    assert _urls(search(corpus, "innovation", source="kremlin_en")) == [RU_URL]
    assert _urls(search(corpus, "innovation", since="2024-01-01")) == [EN_URL]
    assert _urls(search(corpus, "中俄", language="en")) == []
    assert _urls(search(corpus, "中俄", since="2024-01-16")) == [ZH_URL]  # a day-precision date
    assert len(search(corpus, "innovation", limit=1)) == 1
    with pytest.raises(ValueError, match="ISO date"):
        search(corpus, "innovation", since="last week")


HOSTILE = [
    '"',
    '""',
    ":",
    "AND(",
    "title:china",
    "{title body}: china",
    "NEAR(china russia)",
    "china NEAR/2 russia",
    "^china",
    "china + russia",
    "*",
    "-",
    "'",
    "\\",
    "(",
    ")",
    "china)",
    '"unclosed phrase',
    '中"俄',
    "中俄*",
    "rank:1",
    "\x00",
    "🚀 launch",
    "-china -",
    "NOT(",
    "or and not",
    "china AND russia",
    "china OR",
]


@pytest.mark.parametrize("query", HOSTILE)
def test_hostile_queries_never_reach_fts5_as_syntax(
    corpus: sqlite_utils.Database, query: str
) -> None:
    try:
        results = search(corpus, query)
    except SearchQueryError as exc:
        assert str(exc)  # a message for the user, not an FTS5 syntax error
    else:
        assert isinstance(results, list)


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("", "no words to search for"),
        ("   ", "no words to search for"),
        ('" : *', "no words to search for"),
        ("OR china", "'OR' needs a word on each side"),
        ("china OR", "ends with 'OR'"),
        ("china NOT", "ends with 'NOT'"),
        ("china OR OR russia", "cannot follow 'OR'"),
        ("-china", "only excludes"),
        ("NOT china", "only excludes"),
        ("china OR -russia", "cannot be followed by an excluded term"),
        (" ".join(["w"] * 65), "more than 64 terms"),
    ],
)
def test_malformed_queries_say_what_is_wrong(query: str, problem: str) -> None:
    with pytest.raises(SearchQueryError, match=problem):
        parse_query(query)


# Datasette reads the same file with db/metadata.yml: real Datasette, in process.


def _get(ds: Datasette, path: str) -> Any:
    async def fetch() -> Any:
        response = await ds.client.get(path)
        assert response.status_code == 200, response.text
        return response.json()

    return asyncio.run(fetch())


def _record_for_edit(db: sqlite_utils.Database) -> dict[str, Any]:
    [version] = db.query(
        "SELECT record FROM article_versions v JOIN articles a ON a.id = v.article_id "
        "WHERE a.url = ? AND v.version = 1",
        [EN_URL],
    )
    record = json.loads(version["record"])
    return {**record, "title": record["title"] + " (updated)"}


@pytest.fixture
def datasette(corpus: sqlite_utils.Database, tmp_db: Path) -> Datasette:
    """Datasette over the corpus, plus one finished run and one edited article."""
    run_id = start_run(corpus, "globaltimes", "live")
    finish_run(corpus, run_id, status="ok", pages_fetched=3, articles_new=3)
    upsert_articles(corpus, [_record_for_edit(corpus)])
    return Datasette([str(tmp_db)], metadata=parse_metadata(METADATA.read_text()))


def test_datasette_search_box_finds_two_character_chinese_terms(datasette: Datasette) -> None:
    rows = _get(datasette, "/presswatch/articles.json?_search=中俄&_shape=array")
    assert [r["url"] for r in rows] == [ZH_URL]
    rows = _get(datasette, "/presswatch/articles.json?_search=innovations&_shape=array")
    assert {r["url"] for r in rows} == {EN_URL, RU_URL}
    # Datasette does not bigram the query, so a three-character term finds nothing here;
    # the canned "search" query below handles it.
    assert _get(datasette, "/presswatch/articles.json?_search=俄罗斯&_shape=array") == []


@pytest.mark.parametrize(
    ("q", "urls"),
    [
        ("俄罗斯", [ZH_URL]),
        ("俄", [ZH_URL]),
        ("中俄 合作", [ZH_URL]),
        ("satellite navigation", [EN_URL]),
        ("", []),
        ('"', []),
    ],
)
def test_datasette_canned_search(datasette: Datasette, q: str, urls: list[str]) -> None:
    rows = _get(datasette, f"/presswatch/search.json?q={q}&_shape=array")
    assert [r["url"] for r in rows] == urls


def test_datasette_canned_queries_run(datasette: Datasette) -> None:
    latest = _get(datasette, "/presswatch/latest_per_source.json?_shape=array")
    assert {r["source"] for r in latest} == {"globaltimes", "huanqiu", "kremlin_en"}
    [run] = _get(datasette, "/presswatch/runs_last_day.json?_shape=array")
    assert (run["status"], run["articles_new"]) == ("ok", 3)
    [changed] = _get(datasette, "/presswatch/changed_articles.json?_shape=array")
    assert (changed["url"], changed["version"]) == (EN_URL, 2)


def test_datasette_shows_metadata_and_facets(datasette: Datasette) -> None:
    page = _get(datasette, "/presswatch/articles.json")
    facets = page["facet_results"]
    assert {"source", "language", "kind", "date_precision"} <= set(facets)
    assert "sorted by published_at descending" in page["human_description_en"]
    metadata = _get(datasette, "/-/metadata.json")
    assert metadata["title"] == "presswatch"
    tables = metadata["databases"]["presswatch"]["tables"]
    assert {"articles", "article_versions", "crawl_runs", "sources"} <= set(tables)
    assert "search_cjk" in tables["articles"]["columns"]


def test_datasette_cli_loads_the_yaml(corpus: sqlite_utils.Database, tmp_db: Path) -> None:
    datasette_bin = Path(sys.executable).parent / "datasette"
    result = subprocess.run(
        [
            str(datasette_bin),
            "serve",
            str(tmp_db),
            "-m",
            str(METADATA),
            "--get",
            "/presswatch/search.json?q=%E4%BF%84%E7%BD%97%E6%96%AF&_shape=array",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert [r["url"] for r in json.loads(result.stdout)] == [ZH_URL]
