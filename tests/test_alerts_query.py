"""The rule language (alerts.query): parsing, matching, the prefilter, FTS5, and search."""

from __future__ import annotations

import json
import random
import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils
from click.testing import CliRunner

from alerts import textnorm
from alerts.query import Document, QueryError, RuleSet, parse, search_archive, to_fts5
from db.store import upsert_articles
from scheduler.cli import main

PAGES = Path(__file__).parent / "data" / "pages"
ALIASES = {
    "china_russia": [
        '"China-Russia"',
        '"Sino-Russian"',
        '"Russia-China"',
        "中俄",
        "俄中",
        "российско-китайск*",
        "китайско-российск*",
    ],
}
GENG_BRIEFING = Document(
    title="Foreign Ministry Spokesperson Geng Shuang's Regular Press Conference",
    body="Q: How will Russia and China mark the Years? A: Preparations are under way.",
    turns=[
        {"idx": 0, "role": "question", "speaker": None, "text": "What about Russia and China?"},
        {"idx": 1, "role": "answer", "speaker": "Geng Shuang", "text": "We have no comment."},
        {
            "idx": 2,
            "role": "answer",
            "speaker": "Geng Shuang",
            "text": "China and Russia will hold the Years of Scientific and Technological "
            "Innovation.",
        },
    ],
    source="fmprc_en",
    language="en",
    kind="briefing",
)


def matches(query: str, *texts: str, **fields: Any) -> list[bool]:
    """Whether `query` matches each text (as a body), with other Document fields given."""
    parsed = parse(query, ALIASES)
    return [parsed.matches(Document(body=text, **fields)) for text in texts]


# ---- parse errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "position", "message"),
    [
        ("china AND (russia OR", 20, "Expected a term or '(' after 'OR', but the query ends"),
        ("china AND", 9, "after 'AND'"),
        ("(china russia", 13, "Expected ')' to close the '(' at position 0"),
        ("china russia)", 12, "Unexpected ')'"),
        ('china "satellite nav', 6, "Unclosed quote"),
        ("foo:bar", 0, "Unknown field 'foo:'"),
        ("title:(body:x)", 7, "cannot be nested"),
        ("china NEAR/x russia", 11, "NEAR/n needs a number"),
        ("NEAR/3 russia", 0, "needs a word or phrase on its left"),
        ("NOT china", 0, "only excludes"),
        ("china - russia", 7, "right after '-'"),
        ("tech*nology", 4, "'*' can only end a word"),
        ('"tech* policy"', 5, "'*' inside a phrase"),
        ("a*", 0, "too short"),
        ("@nope AND china", 0, "Unknown alias '@nope' (defined: @china_russia)"),
        ("china @", 7, "alias name"),
        ("()", 1, "Empty parentheses"),
        ("", 0, "empty"),
        ("china AND ,", 10, "no letters or digits"),
        ("NOT china NEAR/5 russia", 0, "only excludes"),
        ("(NOT china) NEAR/5 russia", 0, "works between words"),
        ("title: ", 7, "right after 'title:'"),
    ],
)
def test_parse_errors_say_where_and_what(query: str, position: int, message: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse(query, ALIASES)
    assert message in caught.value.message
    assert caught.value.position == position


def test_a_parse_error_points_with_a_caret() -> None:
    with pytest.raises(QueryError) as caught:
        parse("china AND (russia OR")
    assert str(caught.value) == (
        "Expected a term or '(' after 'OR', but the query ends:\n"
        "  china AND (russia OR\n"
        "                      ^"
    )
    assert caught.value.expected == "a term or '('"


def test_errors_inside_an_alias_name_the_alias_and_entry() -> None:
    with pytest.raises(QueryError, match=r"In alias @bad, entry 2 \('\"oops'\): Unclosed"):
        parse("china @bad", {"bad": ["x", '"oops']})
    with pytest.raises(QueryError, match="refers to itself through @a -> @b -> @a"):
        parse("@a", {"a": ["@b"], "b": ["@a"]})
    with pytest.raises(QueryError, match="non-empty list"):
        parse("@empty", {"empty": []})


# ---- operators ------------------------------------------------------------------------------


def test_words_are_anded_and_operators_combine() -> None:
    texts = ("China and Russia", "China alone", "Russia alone", "neither")
    assert matches("china russia", *texts) == [True, False, False, False]
    assert matches("china AND russia", *texts) == [True, False, False, False]
    assert matches("china OR russia", *texts) == [True, True, True, False]
    assert matches("china NOT russia", *texts) == [False, True, False, False]
    assert matches("china -russia", *texts) == [False, True, False, False]
    assert matches("-russia china", *texts) == [False, True, False, False]
    # AND binds tighter than OR: the first is china OR (russia AND neither).
    assert matches("china OR russia neither", *texts) == [True, True, False, False]
    assert matches("(china OR russia) alone", *texts) == [False, True, True, False]
    assert matches("(china OR russia) NOT alone", *texts) == [True, False, False, False]
    with pytest.raises(QueryError, match="only excludes"):
        parse("NOT (china OR russia) OR neither")  # would match by an absence alone


def test_lower_case_operators_are_words() -> None:
    assert matches("china or russia", "China alone", "china or russia") == [False, True]


def test_phrases_match_words_in_order_in_any_form() -> None:
    texts = (
        "Satellite navigation is next.",
        "satellites navigating",
        "navigation satellite",
        "satellite, navigation",  # punctuation between words does not break a phrase
        "satellite radio navigation",
    )
    assert matches('"satellite navigation"', *texts) == [True, True, False, True, False]


def test_near_counts_the_words_between_in_either_order() -> None:
    text = "Russia will work with partners on satellite navigation systems"
    assert matches("russia NEAR/5 satellite", text) == [True]  # 5 words between
    assert matches("russia NEAR/4 satellite", text) == [False]
    assert matches("satellite NEAR/5 russia", text) == [True]
    assert matches('russia NEAR/5 "satellite navigation"', text) == [True]
    assert matches("partners NEAR/0 on", text) == [True]
    assert matches("russia NEAR satellite", text) == [True]  # NEAR alone is NEAR/10
    # NEAR never pairs words of two different fields or sentences' units.
    assert not parse("russia NEAR/3 satellite").matches(
        Document(title="Russia", body="satellite navigation")
    )
    # An alias on one side: any of its entries.
    assert matches("@china_russia NEAR/3 satellite*", "the 中俄 卫星 and satellites") == [True]


def test_near_counts_a_chinese_character_as_a_word() -> None:
    text = "中俄两国的卫星导航合作"
    assert matches("中俄 NEAR/3 卫星", text) == [True]  # 两 国 的 between
    assert matches("中俄 NEAR/2 卫星", text) == [False]


def test_prefix_wildcards() -> None:
    texts = ("technological progress", "Technologies", "techno music", "technology")
    assert matches("technolog*", *texts) == [True, True, False, True]
    ru = ("Российско-китайское сотрудничество", "российско-китайских отношений", "Россия и Китай")
    assert matches("российско-китайск*", *ru) == [True, True, False]


# ---- fields ---------------------------------------------------------------------------------


def test_title_and_body_scopes() -> None:
    doc = Document(title="China and Russia", body="Satellites and more.")
    assert parse("title:china").matches(doc)
    assert not parse("title:satellite").matches(doc)
    assert parse("body:satellite title:(china OR x)").matches(doc)
    assert not parse("body:china").matches(doc)
    assert parse("title:-satellite china").matches(doc)


def test_speaker_scope_holds_in_the_same_turn() -> None:
    geng = parse('speaker:"Geng Shuang" AND russia')
    found = geng.match(GENG_BRIEFING)
    assert found is not None and found.turn_idx == 2
    assert found.fields == ("turns", "speaker")
    # The question mentions Russia but is not by Geng; Geng's first answer does not mention it.
    only_first = Document(turns=GENG_BRIEFING.turns[:2], kind="briefing")
    assert not geng.matches(only_first)
    assert parse("speaker:geng").matches(GENG_BRIEFING)
    assert not parse("speaker:zakharova").matches(GENG_BRIEFING)
    assert parse("speaker:geng AND NOT comment").match(GENG_BRIEFING).turn_idx == 2  # type: ignore[union-attr]
    # A title: term next to speaker: is about the briefing, not the turn.
    assert parse("speaker:geng AND title:conference AND technological").matches(GENG_BRIEFING)
    # Outside one AND group, the turns are independent.
    assert parse("speaker:geng OR nothing").matches(GENG_BRIEFING)


def test_metadata_scopes() -> None:
    doc = Document(body="China and Russia", source="tass_en", language="en", kind="article")
    assert parse("china source:tass_en").matches(doc)
    assert parse("china source:tass").matches(doc)  # every TASS edition
    assert not parse("china source:ta").matches(doc)
    assert parse("china source:ta*").matches(doc)
    assert parse("china source:(ria OR tass_en)").matches(doc)
    assert parse("china lang:en kind:article").matches(doc)
    assert not parse("china -lang:en").matches(doc)
    assert parse("lang:zh").matches(Document(language="zh-CN"))
    assert parse("source:tass_en").match(doc).snippet == "China and Russia"  # type: ignore[union-attr]


def test_only_title_body_and_turns_are_read() -> None:
    record = {
        "title": "Weather",
        "body": "Rain tomorrow.",
        "captions": [{"text": "China-Russia satellite", "credit": None}],
        "source": "x",
        "turns": json.dumps([{"idx": 0, "role": "answer", "speaker": "A", "text": "Sunny."}]),
    }
    doc = Document.from_record(record)
    assert not parse("satellite").matches(doc)
    assert parse("sunny").matches(doc)


# ---- aliases --------------------------------------------------------------------------------


def test_aliases_expand_to_any_of_their_entries() -> None:
    texts = (
        "The China-Russia years",
        "Sino-Russian ties",
        "中俄科技合作",
        "中國和俄羅斯",
        "российско-китайские отношения",
        "China and Russia",
    )
    assert matches("@china_russia", *texts) == [True, True, True, False, True, False]
    assert matches("title:@china_russia", "x", title="Sino-Russian ties") == [True]


# ---- folding: Unicode, Chinese scripts, Russian and English forms, hyphens -------------------


def test_chinese_is_matched_in_traditional_and_simplified() -> None:
    traditional = "中俄雙方正在加緊制定科技創新年實施方案。中國和俄羅斯將舉辦活動。"
    assert matches("中俄", traditional) == [True]
    assert matches("科技创新", traditional) == [True]
    assert matches("中国 AND 俄罗斯", traditional) == [True]
    assert matches("中國", "中国外交部") == [True]  # and a Traditional query, Simplified text
    assert matches("國", "中国") == [True]
    # A substring, but not across punctuation: 科技，合作 is not 科技合作.
    assert matches("科技合作", "推进科技，合作领域") == [False]
    found = parse("中俄 科技").match(Document(body=traditional))
    assert found is not None
    assert found.snippet == "«中俄»雙方正在加緊制定«科技»創新年實施方案。"  # the page's own text


def test_russian_words_match_in_their_forms() -> None:
    forms = ("Китай", "Китая", "Китаю", "Китаем", "Китае", "китайский")
    assert matches("Китай", *forms) == [True, True, True, True, True, False]
    assert matches("Китая", *forms) == [True, True, True, True, True, False]
    assert matches("Россия", "России", "Россию", "Российский") == [True, True, False]
    assert matches('"Россия и Китай"', "России и Китаю", "России с Китаем") == [True, False]
    assert matches("ещё", "еще раз") == [True]  # ё and е are one letter for matching


def test_english_words_match_in_their_forms() -> None:
    assert matches("satellite", "two satellites", "Satellite's orbit") == [True, True]
    # Porter2 gives one stem to these three; "innate" is another word.
    assert matches("innovations", "innovation", "innovating", "innovative", "innate") == [
        True,
        True,
        True,
        False,
    ]
    assert matches("China", "Chinese") == [False]


def test_hyphenated_words_work_as_words_and_phrases() -> None:
    texts = ("China-Russia ties", "China–Russia ties", "China Russia", "Russia-China")
    assert matches("China-Russia", *texts) == [True, True, True, False]
    assert matches('"China-Russia"', *texts) == [True, True, True, False]
    assert matches("российско-китайское", "Российско-китайских отношений") == [True]


def test_unicode_is_folded() -> None:
    assert matches("china", "ＣＨＩＮＡ") == [True]  # full-width (NFKC)
    assert matches("Medvedev", "Medvédev") == [True]  # Latin diacritics
    assert matches("straße", "STRASSE") == [True]  # casefold
    found = parse("strasse").match(Document(body="Die Straße ist lang."))
    assert found is not None and found.snippet == "Die «Straße» ist lang."


# ---- matches: fields, sentences, markers ----------------------------------------------------


def test_a_match_quotes_the_best_sentence_with_terms_marked() -> None:
    doc = Document(
        title="Plans sped up",
        body="Beijing said so on Wednesday. Mr. Putin and the China-Russia years of "
        "technological innovation begin. Russia agrees.\n\nUnrelated paragraph.",
    )
    found = parse("@china_russia technolog*", ALIASES).match(doc)
    assert found is not None
    assert found.fields == ("body",)
    assert found.snippet == (
        "Mr. Putin and the «China-Russia» years of «technological» innovation begin."
    )
    assert found.render(("<b>", "</b>")).count("<b>") == 2
    assert found.terms == (("China-Russia", ("body",)), ("technological", ("body",)))
    assert found.why == "China-Russia (body); technological (body)"
    assert found.turn_idx is None


def test_sentences_split_in_three_languages() -> None:
    text = "First one. Second, Dec. 25 is a date. 第一句。第二句！Первое. Второе предложение."
    spans = textnorm.sentence_spans(text)
    assert [text[s:e] for s, e in spans] == [
        "First one.",
        "Second, Dec. 25 is a date.",
        "第一句。",
        "第二句！",
        "Первое.",
        "Второе предложение.",
    ]


def test_a_long_sentence_is_cut_around_the_match() -> None:
    body = (
        " ".join(f"w{i}" for i in range(100))
        + " satellite "
        + " ".join(f"t{i}" for i in range(100))
    )
    snippet = parse("satellite").match(Document(body=body)).render(max_words=20)  # type: ignore[union-attr]
    assert "«satellite»" in snippet
    assert snippet.startswith("… ") and snippet.endswith(" …")
    assert 18 <= len(snippet.split()) <= 24


def test_a_transcript_quotes_the_turn() -> None:
    found = parse("technological innovation").match(GENG_BRIEFING)
    assert found is not None
    assert found.turn_idx == 2
    assert found.sentences[0].field == "turn"


# ---- explain --------------------------------------------------------------------------------


def test_explain_shows_the_tree_with_aliases_expanded() -> None:
    text = parse(
        '@china_russia AND (technolog* OR "satellite navigation" NEAR/5 beidou) NOT 体育', ALIASES
    ).explain()
    for line in (
        "AND",
        "├── @china_russia  — alias, any of:",
        '│   ├── "China-Russia"  — words in this order: [china] [russia]',
        "│   ├── 中俄  — Chinese text, found anywhere (Traditional forms too)",
        "│   ├── российско-китайск*  — words in this order: [российск] китайск…",
        "│   ├── technolog*  — words starting with 'technolog'",
        "│   └── NEAR/5 (within 5 words)",
        '│       ├── "satellite navigation"  — words in this order: [satellit] [navig]',
        "└── NOT",
        "prefilter: needs",
    ):
        assert line in text, text
    assert "prefilter: none" in parse("source:tass").explain()


def test_str_is_the_query_as_read() -> None:
    assert str(parse("a OR b c -d")) == "a OR (b AND c AND NOT d)"
    assert str(parse("title:(x y) NEAR/3 z".replace("title:(x y) ", "x "))) == "x NEAR/3 z"


# ---- the prefilter never loses a match ------------------------------------------------------


def _page_words() -> set[str]:
    words: set[str] = set()
    for path in PAGES.glob("*/*.json"):
        record = json.loads(path.read_text(encoding="utf-8"))
        text = textnorm.fold(f"{record.get('title') or ''} {record.get('body') or ''}")
        words.update(w for w in textnorm.TOKEN_RE.findall(text) if not textnorm.is_cjk(w))
    return words


TRICKY = (
    "dying lying tying hoping happy happiness possibility ability skies news generally "
    "generous agreed created creation organization relational activity probably valency "
    "technologies innovations satellites cooperation Китая Китаю российско-китайское ещё "
    "научно-технического сотрудничества 5G G20s"
)


def test_every_word_starts_with_its_stem_literal() -> None:
    # What the prefilter and the word index rely on (textnorm.stem_literal).
    words = _page_words() | set(textnorm.TOKEN_RE.findall(textnorm.fold(TRICKY)))
    assert len(words) > 2000
    bad = [w for w in words if not w.startswith(textnorm.stem_literal(textnorm.stem(w)))]
    assert bad == []


def _vocabulary() -> list[str]:
    rng = random.Random(4)
    words = sorted(_page_words())
    return rng.sample(words, 300) + list(textnorm.TOKEN_RE.findall(textnorm.fold(TRICKY)))


def test_the_prefilter_never_loses_a_match() -> None:
    rng = random.Random(20191225)
    vocab = _vocabulary()
    chinese = ["中俄", "科技", "合作", "卫星", "導航", "創新", "国", "俄罗斯"]
    speakers = ["Geng Shuang", "Maria Zakharova", "Hua Chunying"]

    def term() -> str:
        kind = rng.random()
        if kind < 0.15:
            return rng.choice(chinese)
        if kind < 0.3:
            word = rng.choice(vocab)
            return word[: max(2, len(word) - rng.randint(0, 3))] + "*"
        if kind < 0.4:
            return f'"{rng.choice(vocab)} {rng.choice(vocab)}"'
        if kind < 0.45:
            return "@china_russia"
        return rng.choice(vocab)

    def query(depth: int = 0) -> str:
        roll = rng.random()
        if depth > 2 or roll < 0.35:
            return term()
        if roll < 0.55:
            return f"({query(depth + 1)} OR {query(depth + 1)})"
        if roll < 0.7:
            return f"{query(depth + 1)} {query(depth + 1)}"
        if roll < 0.78:
            return f"{term()} NEAR/{rng.randint(0, 8)} {term()}"
        if roll < 0.84:
            return f"{query(depth + 1)} NOT {term()}"
        if roll < 0.9:
            return f"{rng.choice(['title', 'body'])}:({query(depth + 1)})"
        if roll < 0.95:
            return f'speaker:"{rng.choice(speakers)}" AND {term()}'
        return f"{term()} source:{rng.choice(['tass', 'xinhua_zh', 'fmprc_en'])}"

    def text(n: int) -> str:
        parts = []
        for _ in range(n):
            roll = rng.random()
            word = rng.choice(chinese) if roll < 0.1 else rng.choice(vocab)
            parts.append(word.upper() if roll > 0.95 else word.capitalize() if roll > 0.9 else word)
            if rng.random() < 0.08:
                parts[-1] += rng.choice([".", ",", "。", "-"])
        return " ".join(parts)

    queries = {}
    while len(queries) < 300:
        source = query()
        try:
            queries[source] = parse(source, ALIASES)
        except QueryError:
            continue
    with_prefilter = RuleSet(queries)
    without = RuleSet(queries, prefilter=False)
    matched = 0
    for _ in range(300):
        turns = [
            {"idx": i, "role": "answer", "speaker": rng.choice(speakers), "text": text(12)}
            for i in range(rng.randint(0, 3))
        ]
        doc = Document(
            title=text(8),
            body=text(rng.randint(20, 120)),
            turns=turns,
            source=rng.choice(["tass_en", "xinhua_zh", "fmprc_en"]),
        )
        expected = without.match(doc)
        got = with_prefilter.match(doc)
        assert set(got) == set(expected), doc
        matched += len(expected)
    assert matched > 300  # the generated rules do match: the comparison means something
    assert with_prefilter.evaluated < without.evaluated / 2  # and the prefilter prunes


def test_required_literals_are_conjunctive() -> None:
    query = parse("@china_russia AND (科技 OR satellites) NOT sport", ALIASES)
    assert query.required_literals() == [
        # Of each entry, its most selective literal: "russia" for China-Russia, and so on.
        frozenset({"russia", "russian", "中俄", "俄中", "российск"}),
        frozenset({"科技", "satellit"}),
    ]
    assert parse("source:tass OR china").required_literals() == []


# ---- FTS5 and search ------------------------------------------------------------------------


def test_to_fts5_quotes_every_word() -> None:
    assert to_fts5(parse("中俄")) == '(search_cjk : ("中俄"))'
    assert to_fts5(parse("國")) == 'search_cjk : ("国"* OR "國"*)'
    assert to_fts5(parse("title:china")) == 'title : ("china" OR "china"*)'
    assert to_fts5(parse("Китай")) == '("кита"*)'
    assert to_fts5(parse("source:tass")) is None
    assert to_fts5(parse("china NOT russia")) == '("china" OR "china"*)'
    assert to_fts5(parse("china OR source:tass")) is None
    assert to_fts5(parse('speaker:"Geng Shuang" russia'), "turns") == (
        '((speaker : ("geng" OR "geng"*) AND speaker : ("shuang" OR "shuan"*)) '
        'AND ("russia" OR "russi"*))'
    )


MakeRecord = Callable[..., dict[str, Any]]
ARCHIVE = [
    ("https://e.example/1", "en", "China-Russia satellites",
     "Moscow and Beijing launch navigation satellites together."),
    ("https://e.example/2", "en", "Sino-Russian technology",
     "The generally positive technological cooperation."),
    ("https://e.example/3", "zh", "中俄科技合作", "中國和俄羅斯的科技創新年。"),
    ("https://e.example/4", "ru", "Россия и Китай",
     "Российско-китайское научно-техническое сотрудничество ещё растёт."),
    ("https://e.example/5", "en", "Weather", "Rain in Beijing; no satellites."),
]  # fmt: skip


@pytest.fixture
def archive(db: sqlite_utils.Database, make_record: MakeRecord) -> sqlite_utils.Database:
    upsert_articles(
        db,
        [
            make_record(url=url, language=lang, title=title, body=body, source=f"src_{lang}")
            for url, lang, title, body in ARCHIVE
        ]
        + [
            make_record(
                url="https://e.example/briefing",
                kind="briefing",
                source="fmprc_en",
                title="Regular Press Conference",
                body="\n\n".join(t["text"] for t in GENG_BRIEFING.turns),
                turns=[{**t, "outlet": None} for t in GENG_BRIEFING.turns],
            )
        ],
        now="2024-01-16T10:00:00Z",
    )
    return db


SEARCHES = [
    "satellite",
    "satellites navigation",
    '"navigation satellites"',
    "中俄",
    "中国 科技",
    "創新",
    "китай",
    "Китая",
    "ещё",
    "российско-китайск*",
    "@china_russia technolog*",
    "general",
    "technology",
    "russia NEAR/3 china",
    "satellite NOT weather",
    "beijing -rain",
    "title:satellite",
    "body:(rain OR satellites)",
    "lang:ru",
    "source:src_en satellite",
]


@pytest.mark.parametrize("text", SEARCHES)
def test_fts_finds_every_exact_match(archive: sqlite_utils.Database, text: str) -> None:
    query = parse(text, ALIASES)
    rows = archive.execute("SELECT * FROM articles").fetchall()
    columns = [d[0] for d in archive.execute("SELECT * FROM articles LIMIT 0").description]
    exact = {
        row["url"]
        for row in (dict(zip(columns, r, strict=True)) for r in rows)
        if query.matches(Document.from_record(row))
    }
    assert exact, f"{text!r} matches nothing in the fixture: the test would prove nothing"
    found = {hit["url"] for hit in search_archive(archive, query, limit=100)}
    assert found == exact


def test_search_archive_turns(archive: sqlite_utils.Database) -> None:
    hits = search_archive(archive, parse("russia"), speaker="geng", role="answer")
    assert [(h["idx"], h["speaker"]) for h in hits] == [(2, "Geng Shuang")]
    assert "[Russia]" in hits[0]["snippet"]
    hits = search_archive(
        archive, parse('speaker:geng AND "scientific and technological"'), turns=True
    )
    assert [h["idx"] for h in hits] == [2]


def test_cli_search_uses_the_rule_language(archive: sqlite_utils.Database, tmp_db: Path) -> None:
    result = CliRunner().invoke(
        main, ["search", "satellite NEAR/3 navigation", "--db", str(tmp_db), "--json"]
    )
    assert result.exit_code == 0, result.output
    [hit] = json.loads(result.output)
    assert hit["url"] == "https://e.example/1"
    assert hit["snippet"] == "Moscow and Beijing launch [navigation] [satellites] together."
    assert hit["fields"] == ["body"]


def test_cli_search_reads_aliases_from_the_config(
    archive: sqlite_utils.Database, tmp_db: Path, tmp_path: Path
) -> None:
    config = tmp_path / "presswatch.toml"
    config.write_text("[aliases]\nsino = ['\"Sino-Russian\"', '中俄']\n", encoding="utf-8")
    args = ["search", "@sino", "--db", str(tmp_db), "--config", str(config), "--json"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert {h["url"] for h in json.loads(result.output)} == {
        "https://e.example/2",
        "https://e.example/3",
    }


def test_cli_search_error_points_at_the_problem(tmp_db: Path, archive: Any) -> None:
    result = CliRunner().invoke(main, ["search", "china AND (russia", "--db", str(tmp_db)])
    assert result.exit_code != 0
    assert "Expected ')' to close the '(' at position 10" in result.output
    assert re.search(r"\n\s+china AND \(russia\n\s+\^", result.output)


# ---- the documentation's worked examples hold -----------------------------------------------

DOCS = Path(__file__).parent.parent / "docs" / "query-language.md"
_EXAMPLE = re.compile(r"```query\n(?P<query>.+?)\n```\n\n(?P<cases>(?:- [✔✘].*\n)+)")
_CASE = re.compile(r"- (?P<mark>[✔✘]) (?:\[(?P<where>[^\]]+)\] )?`(?P<text>[^`]+)`")


def _doc_aliases() -> dict[str, list[str]]:
    block = DOCS.read_text(encoding="utf-8").split("```toml\n", 1)[1].split("```", 1)[0]
    return tomllib.loads(block)["aliases"]


def _example_document(where: str | None, text: str) -> Document:
    language = "zh" if textnorm.is_cjk(text) else "ru" if re.search("[а-яА-Я]", text) else "en"
    doc = Document(body=text, language=language, source="x")
    if where == "title":
        doc.title, doc.body = text, ""
    elif where and where.startswith("speaker: "):
        doc.body = ""
        doc.turns = [{"idx": 0, "role": "answer", "speaker": where[9:], "text": text}]
    elif where and where.startswith("source: "):
        doc.source = where[8:]
    return doc


def test_the_documented_examples_hold() -> None:
    text = DOCS.read_text(encoding="utf-8")
    examples = list(_EXAMPLE.finditer(text))
    assert len(examples) >= 10
    aliases = _doc_aliases()
    for example in examples:
        query = parse(example["query"], aliases)
        cases = list(_CASE.finditer(example["cases"]))
        assert {c["mark"] for c in cases} == {"✔", "✘"}, example["query"]
        for case in cases:
            doc = _example_document(case["where"], case["text"])
            assert query.matches(doc) == (case["mark"] == "✔"), (example["query"], case["text"])
