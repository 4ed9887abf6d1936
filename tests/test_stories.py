"""Story clustering on hand-written pairs (tests/story_pairs.py): same story from two sites
clusters, two stories of one topic do not; the date window and the threshold are respected."""

from __future__ import annotations

import importlib.util
import json
import os
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from types import ModuleType

import pytest

from newsletter.enrich.stories import StoryIndex

THRESHOLD = 0.5


def _load_pairs() -> ModuleType:
    # Loaded by path so that it works whatever pytest's import mode and rootdir.
    spec = importlib.util.spec_from_file_location("story_pairs", Path(__file__).with_name("story_pairs.py"))
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


story_pairs = _load_pairs()
SAME = [(topic, a, b) for topic, a, b, same in story_pairs.PAIRS if same]
DIFFERENT = [(topic, a, b) for topic, a, b, same in story_pairs.PAIRS if not same]
# Told apart by their dates (a quarter, four weeks), not by their words: see test_window_*.
SERIES = {"central-bank", "dams"}
# Same story, reworded past what word overlap can see: known misses of the method, kept in
# the bench. football-ar: "the Atlas Lions" for "the Moroccan team", 4-1 in words and digits;
# central-bank: "Bank Al-Maghrib"/"wali" against "banque centrale du Maroc"/"gouverneur".
KNOWN_MISSES = {"football-ar", "central-bank"}


# Document frequencies only mean something in an index of realistic size (in production, the
# last days of articles, thousands): the pairs are scored on top of 1,000 real articles.
# A fresh, near-empty index scores lower (see the report in docs/benchmarks.md).
DATA = Path(os.environ.get("NEWSLETTER_EVAL_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
BACKGROUND = DATA / "summaries" / "orangesum-fr-dev.jsonl"
# Structural tests below use two or three articles: a low threshold, well under their score.
LOW = 0.3


def _background_index(window_days: int = 3) -> StoryIndex:
    if not BACKGROUND.exists():
        pytest.skip(f"background articles not found: {BACKGROUND} (set NEWSLETTER_EVAL_DATA)")
    index = StoryIndex(threshold=THRESHOLD, window_days=window_days)
    with BACKGROUND.open(encoding="utf-8") as f:
        for i, line in enumerate(f):
            index.add(f"bg{i}", "", json.loads(line)["text"], datetime(2020, 1, 1), "fr")
    return index


@pytest.fixture(scope="module")
def loaded() -> StoryIndex:
    """The background plus every article of the pairs, as a day's worth of news would be."""
    index = _background_index()
    for key, article in story_pairs.all_articles():
        index.add(key, article["title"], article["text"], None, article["language"])
    return index


def _similarity(index: StoryIndex, a: dict, b: dict) -> float:
    return index.similarity(a["title"], a["text"], b["title"], b["text"], a["language"])


def test_enough_pairs() -> None:
    assert len(SAME) >= 8 and len(DIFFERENT) >= 8
    assert {a["language"] for _, a, _ in SAME} == {"fr", "en", "ar"}


@pytest.mark.parametrize("topic,a,b", SAME, ids=[t for t, _, _ in SAME])
def test_same_story_is_similar(loaded: StoryIndex, topic: str, a: dict, b: dict) -> None:
    if topic in KNOWN_MISSES:
        pytest.xfail("rewritten with synonyms beyond word overlap")
    assert _similarity(loaded, a, b) >= THRESHOLD


# The series pairs are told apart by their dates: test_window_separates_a_series checks them.
DIFFERENT_BY_WORDS = [pair for pair in DIFFERENT if pair[0] not in SERIES]


@pytest.mark.parametrize("topic,a,b", DIFFERENT_BY_WORDS, ids=[t for t, _, _ in DIFFERENT_BY_WORDS])
def test_different_stories_of_one_topic_are_not(loaded: StoryIndex, topic: str, a: dict, b: dict) -> None:
    assert _similarity(loaded, a, b) < THRESHOLD


def test_similarity_is_symmetric_and_bounded(loaded: StoryIndex) -> None:
    _, a, b = SAME[0]
    assert _similarity(loaded, a, b) == pytest.approx(_similarity(loaded, b, a))
    assert _similarity(loaded, a, a) == pytest.approx(1.0)
    assert _similarity(loaded, a, {**a, "title": "", "text": ""}) == 0.0


def test_add_clusters_the_pairs_by_date() -> None:
    """Every article added in publication order: each 'b' joins its 'a', each 'other' stays alone."""
    index = _background_index(window_days=3)
    articles = sorted(story_pairs.all_articles(), key=lambda item: item[1]["published"])
    stories = {}
    for key, article in articles:
        found = index.add(key, article["title"], article["text"], article["published"], article["language"])
        stories[key] = found or key
        assert index.story(key) == stories[key]
    for topic in story_pairs.TOPICS:
        a, b, other = stories[f"{topic}/a"], stories[f"{topic}/b"], stories[f"{topic}/other"]
        if topic not in KNOWN_MISSES:
            assert a == b, topic
        assert other != a, topic
    pair_stories = {stories[key] for key, _ in articles}
    assert len(pair_stories) >= len(story_pairs.TOPICS) * 2 - len(KNOWN_MISSES)
    assert not pair_stories & {f"bg{i}" for i in range(1000)}  # none joined a background story


def _add(index: StoryIndex, key: str, article: dict, published: datetime | None, story: str | None = None) -> str | None:
    return index.add(key, article["title"], article["text"], published, article["language"], story=story)


def test_window_days_is_respected() -> None:
    a, b = story_pairs.TOPICS["earthquake"]["a"], story_pairs.TOPICS["earthquake"]["b"]
    day = datetime(2025, 3, 12, 9)
    index = StoryIndex(threshold=LOW, window_days=3)
    assert _add(index, "a", a, day) is None
    assert _add(index, "b-late", b, day + timedelta(days=4)) is None
    assert _add(index, "b-early", b, day - timedelta(days=3)) == "a"  # within 3 days, either way
    # within reach of both: the most similar earlier article (the identical one) wins
    assert _add(index, "b", b, day + timedelta(days=2, hours=23)) == "b-late"


def test_window_separates_a_series() -> None:
    for topic in SERIES:
        t = story_pairs.TOPICS[topic]
        index = StoryIndex(threshold=LOW, window_days=3)
        assert _add(index, "other", t["other"], t["other"]["published"]) is None
        assert _add(index, "a", t["a"], t["a"]["published"]) is None
        assert _add(index, "b", t["b"], t["b"]["published"]) == "a"


def test_missing_or_mixed_dates() -> None:
    a, b = story_pairs.TOPICS["storm"]["a"], story_pairs.TOPICS["storm"]["b"]
    index = StoryIndex(threshold=LOW)
    assert _add(index, "a", a, datetime(2025, 3, 12, 9, tzinfo=UTC)) is None
    assert _add(index, "b", b, None) == "a"  # no date: compared whatever the date
    index = StoryIndex(threshold=LOW)
    _add(index, "a", a, datetime(2025, 3, 12, 9, tzinfo=timezone(timedelta(hours=1))))
    assert _add(index, "b", b, datetime(2025, 3, 12, 10)) == "a"  # aware and naive


def test_threshold() -> None:
    a, b = story_pairs.TOPICS["football"]["a"], story_pairs.TOPICS["football"]["b"]
    index = StoryIndex()
    _add(index, "a", a, None)
    score = index.similarity(a["title"], a["text"], b["title"], b["text"], "fr")
    for threshold, expected in ((score - 0.01, "a"), (min(score + 0.01, 1.0), None)):
        index = StoryIndex(threshold=threshold)
        _add(index, "a", a, None)
        assert _add(index, "b", b, None) == expected


def test_existing_story_ids_are_kept_and_joined() -> None:
    a, b = story_pairs.TOPICS["phone"]["a"], story_pairs.TOPICS["phone"]["b"]
    index = StoryIndex(threshold=LOW)
    assert _add(index, 17, a, None, story="story-9") is None
    assert index.story(17) == "story-9"
    assert _add(index, 18, b, None) == "story-9"
    assert index.story(18) == "story-9"


def test_new_story_id_is_the_key_as_text() -> None:
    a, b = story_pairs.TOPICS["airline"]["a"], story_pairs.TOPICS["airline"]["b"]
    index = StoryIndex(threshold=LOW)
    assert _add(index, 41, a, None) is None
    assert index.story(41) == "41"
    assert _add(index, 42, b, None) == "41"


def test_languages_are_not_mixed() -> None:
    a = story_pairs.TOPICS["earthquake"]["a"]
    index = StoryIndex(threshold=LOW)
    index.add("fr", a["title"], a["text"], None, "fr")
    assert index.add("en", a["title"], a["text"], None, "en") is None
    assert index.add("fr-again", a["title"], a["text"], None, "fr") == "fr"


def test_adding_a_key_again_replaces_it() -> None:
    a = story_pairs.TOPICS["earthquake"]["a"]
    index = StoryIndex()
    index.add(1, a["title"], a["text"], None, "fr")
    assert index.add(1, a["title"], a["text"], None, "fr") is None  # not its own match
    assert len(index) == 1


def test_empty_article() -> None:
    index = StoryIndex()
    assert index.add(1, "", "", None) is None
    assert index.add(2, "", "", None) is None
