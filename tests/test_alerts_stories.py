"""Story clusters (alerts.stories): syndicated copies fold into one story, kept across restarts."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils
from opencc import OpenCC

from alerts import stories
from alerts.stories import StoryIndex, shingles
from db import alerts as db_alerts
from db.store import open_db, upsert_articles, write_transaction

XINHUA = (
    "HARBIN, June 18 (Xinhua) -- Chinese and Russian universities on Thursday opened a joint "
    "laboratory in Harbin, capital of northeast China's Heilongjiang Province, to study "
    "building materials, transport infrastructure and energy systems for cold regions.\n\n"
    "The laboratory brings together researchers from a Harbin university of technology and "
    "two universities in Russia's Far East and Siberia. It will focus on frost-resistant "
    "concrete, heating systems with lower energy use and the monitoring of permafrost under "
    "roads and railways, according to the organizers.\n\n"
    '"Both countries have vast territories with long, harsh winters, so the problems we '
    'study are shared problems," said a Russian professor attending the opening ceremony.\n\n'
    "The two sides plan to exchange about 40 graduate students a year and to publish their "
    "data sets jointly. The laboratory is one of a number of research platforms set up under "
    "the China-Russia cooperation program in science and technology."
)
# China Daily's republication: its own headline and dateline, Xinhua's text, a credit line.
CHINADAILY = (
    "HARBIN — Chinese and Russian universities on Thursday opened a joint laboratory in "
    "Harbin, capital of northeast China's Heilongjiang Province, to study building materials, "
    "transport infrastructure and energy systems for cold regions.\n\n"
    + XINHUA.split("\n\n", 1)[1]
    + "\n\nXinhua | Updated: 2026-06-18 21:04"
)
# A light rewrite: a few words changed in every paragraph.
REWRITE = (
    XINHUA.replace("on Thursday opened", "opened on Thursday")
    .replace("according to the organizers", "organizers said")
    .replace("about 40", "some 40")
    .replace("a number of", "several")
)
# People's Daily Online keeps the first two paragraphs.
PEOPLE_TRUNCATED = "\n\n".join(XINHUA.split("\n\n")[:2])
# A portal that wraps the whole text in a block of related links longer than the story.
RELATED = "\n\n".join(
    f"Related: {topic} draws record numbers of {who} in {city} {when}"
    for who, when in [
        ("visitors", "this week"),
        ("exhibitors and buyers", "after a long pause"),
        ("young families", "over the holiday"),
    ]
    for topic, city in [
        ("Autumn trade fair", "Guangzhou"),
        ("Ice and snow festival", "Harbin"),
        ("Expo on digital economy", "Hangzhou"),
        ("Tea culture week", "Fuzhou"),
        ("Auto show", "Chongqing"),
        ("Book fair", "Beijing"),
        ("Flower exhibition", "Kunming"),
        ("Film festival", "Shanghai"),
        ("Food festival", "Chengdu"),
        ("Marathon expo", "Xiamen"),
        ("Lantern show", "Zigong"),
        ("Craft market", "Suzhou"),
    ]
)
PORTAL = XINHUA + "\n\n" + RELATED
UNRELATED = (
    "BEIJING, July 14 (Xinhua) -- Beijing's meteorological observatory issued an orange "
    "alert for high temperatures on Tuesday as a heat wave gripped large parts of north "
    "China. Temperatures in the city's plains are expected to exceed 37 degrees Celsius "
    "over the next three days, and residents are advised to avoid outdoor activities at "
    "midday, drink plenty of water and take care of the elderly and children. The power "
    "grid has prepared for record demand."
)
XINHUA_ZH = (
    "新华社北京12月25日电（记者刘晓岚）外交部发言人耿爽25日在例行记者会上表示，中俄双方正在加紧"
    "制定2020年至2021年中俄科技创新年实施计划，两年内将举办一系列活动。耿爽说，举办中俄科技创新年"
    "是两国元首作出的重要决定。两年间，双方将开展联合研究项目，推动高校、科研院所和企业之间的交流，"
    "并举办创新论坛等活动。俄罗斯在基础研究和原始创新方面具有优势，中国在通信、卫星导航、高性能计算"
    "等领域的能力不断提升，双方互补性强，携手合作大有可为。"
)


@pytest.fixture
def store(
    db: sqlite_utils.Database, make_record: Callable[..., dict[str, Any]]
) -> Callable[..., dict[str, Any]]:
    """`store(slug, body, **fields)`: store an article, return it as alerts.match reads it."""

    def _store(slug: str, body: str, **fields: Any) -> dict[str, Any]:
        fields.setdefault("source", "xinhua_en")
        fields.setdefault("title", f"Story {slug}")
        fields.setdefault("published_at", "2026-06-18T10:00:00Z")
        record = make_record(url=f"https://example.org/{slug}.html", body=body, **fields)
        (result,) = upsert_articles(db, [record])
        (article,) = db_alerts.articles_for_matching(db, [result.article_id])
        return article

    return _store


def _assign(index: StoryIndex, article: dict[str, Any]) -> stories.Assignment:
    with write_transaction(index.db):
        assignment = index.assign_detail(article, "2026-06-18T12:00:00Z")
    index.commit()
    return assignment


def test_shingles_are_word_trigrams_and_cjk_four_grams() -> None:
    assert shingles("Russia and China sign") == {b"russia and china", b"and china sign"}
    # Full-width forms and punctuation do not change Chinese shingles.
    assert (
        shingles("中俄科技，创新")
        == shingles("中俄科技创新")
        == {
            "中俄科技".encode(),
            "俄科技创".encode(),
            "科技创新".encode(),
        }
    )
    assert shingles("ＡＢＣ def ghi") == {b"abc def ghi"}
    assert shingles("") == set()


def test_a_syndicated_copy_joins_the_story_and_an_unrelated_article_does_not(
    db: sqlite_utils.Database, store: Callable[..., dict[str, Any]]
) -> None:
    index = StoryIndex(db)
    original = _assign(index, store("xinhua", XINHUA, title="China, Russia open joint lab"))
    copy = _assign(
        index,
        store("chinadaily", CHINADAILY, source="chinadaily_en", title="Sino-Russian lab opens"),
    )
    other = _assign(index, store("heat", UNRELATED, title="Beijing issues orange alert"))

    assert original.new_story and original.method == "first"
    assert copy.story_id == original.story_id
    assert copy.method == "minhash" and copy.similarity >= stories.JOIN_JACCARD
    assert other.new_story and other.story_id != original.story_id
    story = db_alerts.get_story(db, original.story_id)
    assert story is not None and story["article_count"] == 2
    assert story["title"] == "China, Russia open joint lab"
    members = db_alerts.story_members(db, original.story_id)
    assert [m["source"] for m in members] == ["xinhua_en", "chinadaily_en"]


def test_a_light_rewrite_and_a_truncated_copy_join(
    db: sqlite_utils.Database, store: Callable[..., dict[str, Any]]
) -> None:
    index = StoryIndex(db)
    original = _assign(index, store("xinhua", XINHUA))
    rewrite = _assign(index, store("rewrite", REWRITE, source="cgtn"))
    truncated = _assign(index, store("people", PEOPLE_TRUNCATED, source="people_en"))
    wrapped = _assign(index, store("portal", PORTAL, source="sputnik"))
    assert rewrite.story_id == original.story_id
    assert truncated.story_id == original.story_id
    # Jaccard below JOIN_JACCARD (the links outweigh the story), but the story is contained.
    assert wrapped.story_id == original.story_id
    assert wrapped.similarity < stories.JOIN_JACCARD


def test_a_chinese_copy_with_other_punctuation_joins(
    db: sqlite_utils.Database, store: Callable[..., dict[str, Any]]
) -> None:
    index = StoryIndex(db)
    original = _assign(index, store("xinhua-zh", XINHUA_ZH, source="xinhua_zh", language="zh"))
    repost = XINHUA_ZH.replace("，", ", ").replace("。", ". ") + "\n\n（责任编辑：王静）"
    copy = _assign(index, store("people-zh", repost, source="people_zh", language="zh"))
    assert copy.story_id == original.story_id
    # A Hong Kong outlet's Traditional-script copy folds to the same shingles.
    traditional = OpenCC("s2t").convert(XINHUA_ZH)
    assert traditional != XINHUA_ZH and shingles(traditional) == shingles(XINHUA_ZH)
    hk = _assign(index, store("hk", traditional, source="hk", language="zh-Hant"))
    assert hk.story_id == original.story_id


def test_exact_duplicates_fold_by_content_hash(
    db: sqlite_utils.Database, store: Callable[..., dict[str, Any]]
) -> None:
    index = StoryIndex(db)
    original = _assign(index, store("a", XINHUA, title="Same"))
    mirror = _assign(index, store("b", XINHUA, title="Same", source="xinhua_zh"))
    assert mirror.story_id == original.story_id
    assert mirror.method == "content_hash"


def test_empty_and_short_bodies_never_cluster(
    db: sqlite_utils.Database, store: Callable[..., dict[str, Any]]
) -> None:
    index = StoryIndex(db)
    first = _assign(index, store("blocked-1", "", title="Access denied"))
    second = _assign(index, store("blocked-2", "", title="Access denied"))
    assert first.story_id != second.story_id
    short_1 = _assign(index, store("s1", "Photo: the opening ceremony."))
    short_2 = _assign(index, store("s2", "Photo: the opening ceremony today."))
    assert short_1.story_id != short_2.story_id


def test_copies_far_apart_in_time_are_separate_stories(
    db: sqlite_utils.Database, store: Callable[..., dict[str, Any]]
) -> None:
    index = StoryIndex(db)
    june = _assign(index, store("june", XINHUA, published_at="2026-06-18"))
    august = _assign(index, store("august", REWRITE, published_at="2026-08-18T09:00:00Z"))
    assert august.story_id != june.story_id


def test_a_changed_article_keeps_its_story(
    db: sqlite_utils.Database, store: Callable[..., dict[str, Any]]
) -> None:
    index = StoryIndex(db)
    first = _assign(index, store("xinhua", XINHUA))
    changed = _assign(index, store("xinhua", XINHUA + "\n\nThis story has been updated."))
    assert changed.story_id == first.story_id and changed.method == "member"
    assert db_alerts.get_story(db, first.story_id)["article_count"] == 1
    # A copy of the changed text still finds the story.
    copy = _assign(index, store("copy", XINHUA + "\n\nThis story has been updated.", title="x"))
    assert copy.story_id == first.story_id


def test_stories_survive_a_restart(tmp_db: Path, make_record: Callable[..., Any]) -> None:
    with open_db(tmp_db) as db:
        (result,) = upsert_articles(
            db, [make_record(url="https://example.org/x.html", body=XINHUA, source="xinhua_en")]
        )
        index = StoryIndex(db)
        with write_transaction(db):
            story_id = index.assign(db_alerts.articles_for_matching(db, [result.article_id])[0])
        index.commit()
        (copy,) = upsert_articles(
            db,
            [make_record(url="https://example.org/y.html", body=CHINADAILY, source="cgtn")],
        )
    # A new process: nothing in memory, the index is rebuilt from story_lsh.
    script = (
        "import sys\n"
        "from alerts.stories import StoryIndex\n"
        "from db import alerts as db_alerts\n"
        "from db.store import open_db, write_transaction\n"
        "db = open_db(sys.argv[1])\n"
        "index = StoryIndex(db)\n"
        "with write_transaction(db):\n"
        "    article = db_alerts.articles_for_matching(db, [sys.argv[2]])[0]\n"
        "    print(len(index), index.assign(article))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_db), copy.article_id],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1", str(story_id)]


def test_rollback_forgets_what_the_index_staged(
    db: sqlite_utils.Database, store: Callable[..., dict[str, Any]]
) -> None:
    index = StoryIndex(db)
    article = store("xinhua", XINHUA)
    with pytest.raises(RuntimeError), write_transaction(db):
        index.assign(article)
        raise RuntimeError("crash mid-batch")
    index.rollback()
    assert len(index) == 0
    assert db.execute("SELECT count(*) FROM stories").fetchone()[0] == 0
    # The copy does not join the story that was rolled back; the original, retried, is new.
    retried = _assign(index, article)
    assert retried.new_story
    assert _assign(index, store("copy", CHINADAILY)).story_id == retried.story_id


def test_a_long_lived_index_catches_up_with_other_processes(
    tmp_db: Path, make_record: Callable[..., Any]
) -> None:
    with open_db(tmp_db) as first_db, open_db(tmp_db) as second_db:
        daemon = StoryIndex(first_db)  # loaded before the other process stored anything
        (original,) = upsert_articles(
            first_db, [make_record(url="https://example.org/x.html", body=XINHUA)]
        )
        cron = StoryIndex(second_db)
        with write_transaction(second_db):
            story_id = cron.assign(
                db_alerts.articles_for_matching(second_db, [original.article_id])[0]
            )
        cron.commit()

        (copy,) = upsert_articles(
            first_db, [make_record(url="https://example.org/y.html", body=CHINADAILY)]
        )
        with write_transaction(first_db):
            assert daemon.refresh() == 1
            article = db_alerts.articles_for_matching(first_db, [copy.article_id])[0]
            assert daemon.assign(article) == story_id
        daemon.commit()
        with write_transaction(first_db):
            assert daemon.refresh() == 0  # its own signature is not read back
