"""Story clustering: which similarity tells "same story, other site" from "same topic, other story".

Pairs: tests/story_pairs.py (written for the project: same-story pairs are rewrites of one
dispatch, different-story pairs share the topic). Every article of the pairs goes into one
index, on top of a background of 1,000 OrangeSum articles (so that document frequencies are
those of a real index, as in production); then each pair is scored, dates ignored.

Similarities compared, all on title + first 60 words:

- TF-IDF cosine over lemmatised content terms (``newsletter.enrich.stories``), with variants
  of the weights (names/figures boost, IDF power);
- Jaccard over character 5-gram shingles of the folded text (what MinHash estimates; the
  MinHash LSH index of datasketch is timed for speed);
- Jaccard over the sets of content terms.

Then: precision/recall of the pair decisions at several thresholds, the speed of ``add`` on an
index of a few thousand articles, and how many OrangeSum articles (distinct stories, as far
as we know) the chosen setting clusters together.

Run: ``.venv/bin/python -m bench.stories``
"""

from __future__ import annotations

import importlib.util
import json
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from types import ModuleType

from bench._report import ROOT, data_path, write_section
from newsletter.enrich.stories import LEAD_WORDS, StoryIndex, terms
from newsletter.enrich.text import fold, lead

THRESHOLDS = (0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6)
SHINGLE = 5


def _pairs_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("story_pairs", ROOT / "tests" / "story_pairs.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _background() -> list[str]:
    with data_path("summaries", "orangesum-fr-dev.jsonl").open(encoding="utf-8") as f:
        return [json.loads(line)["text"] for line in f]


def _index(background: list[str], articles: list, **settings: float) -> StoryIndex:
    index = StoryIndex()
    for name, value in settings.items():
        setattr(index, name, value)
    for i, text in enumerate(background):
        index.add(f"bg{i}", "", text, None, "fr")
    for key, article in articles:
        index.add(key, article["title"], article["text"], None, article["language"])
    return index


def _shingles(title: str, text: str) -> set[str]:
    folded = " ".join(fold(f"{title} {lead(text, LEAD_WORDS)}").split())
    return {folded[i : i + SHINGLE] for i in range(max(len(folded) - SHINGLE + 1, 1))}


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


def similarities(background: list[str], pairs: list, articles: list) -> dict[str, Callable]:
    """Name -> function(article_a, article_b) -> similarity."""
    variants: dict[str, Callable] = {}
    for label, settings in (
        ("tf-idf cosine", {"entity_weight": 1.0, "idf_power": 1.0}),
        ("tf-idf cosine, names x2", {"entity_weight": 2.0, "idf_power": 1.0}),
        ("tf-idf cosine, idf^2", {"entity_weight": 1.0, "idf_power": 2.0}),
        ("tf-idf cosine, names x2, idf^2", {"entity_weight": 2.0, "idf_power": 2.0}),
        ("tf-idf cosine, names x2, idf^1.5", {"entity_weight": 2.0, "idf_power": 1.5}),
    ):
        index = _index(background, articles, **settings)
        variants[label] = lambda a, b, index=index: index.similarity(
            a["title"], a["text"], b["title"], b["text"], a["language"]
        )
    variants["char 5-gram Jaccard"] = lambda a, b: _jaccard(
        _shingles(a["title"], a["text"]), _shingles(b["title"], b["text"])
    )
    variants["content-term Jaccard"] = lambda a, b: _jaccard(
        set(terms(a["title"], a["text"], a["language"])),
        set(terms(b["title"], b["text"], b["language"])),
    )
    return variants


def _in_window(a: dict, b: dict, days: int = 3) -> bool:
    return abs(a["published"] - b["published"]) <= timedelta(days=days)


def _prf(scores: list[tuple[float, bool]], threshold: float) -> tuple[float, float, float]:
    tp = sum(s >= threshold and same for s, same in scores)
    fp = sum(s >= threshold and not same for s, same in scores)
    fn = sum(s < threshold and same for s, same in scores)
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def _speed(background: list[str], copies: int = 4) -> tuple[int, float, float]:
    """Articles in the index, mean and worst ms per add: the background added COPIES times,
    each copy ten days after the previous one (so the window keeps copies apart)."""
    index = StoryIndex()
    times = []
    for copy in range(copies):
        day = datetime(2025, 1, 1) + timedelta(days=10 * copy)
        for i, text in enumerate(background):
            start = time.perf_counter()
            index.add(f"{copy}-{i}", "", text, day + timedelta(minutes=i), "fr")
            times.append(time.perf_counter() - start)
    return len(index), 1000 * sum(times) / len(times), 1000 * max(times)


def _minhash_speed(background: list[str], copies: int = 4) -> float:
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=0.3, num_perm=128)
    start = time.perf_counter()
    n = 0
    for copy in range(copies):
        for i, text in enumerate(background):
            m = MinHash(num_perm=128)
            m.update_batch([s.encode() for s in _shingles("", text)])
            lsh.query(m)
            lsh.insert(f"{copy}-{i}", m)
            n += 1
    return 1000 * (time.perf_counter() - start) / n


def _background_clusters(background: list[str], threshold: float) -> list[tuple[str, str]]:
    index = StoryIndex(threshold=threshold)
    joined = []
    for i, text in enumerate(background):
        story = index.add(i, "", text, datetime(2020, 1, 1), "fr")
        if story is not None:
            joined.append((background[int(story)][:90], text[:90]))
    return joined


def run() -> str:
    module = _pairs_module()
    pairs, articles = module.PAIRS, module.all_articles()
    background = _background()
    table: dict[str, list[tuple[str, float, bool]]] = {}
    for label, similarity in similarities(background, pairs, articles).items():
        table[label] = [(topic, similarity(a, b), same) for topic, a, b, same in pairs]
    windowed = {p[0] + str(p[3]): _in_window(p[1], p[2]) for p in pairs}

    n_same = sum(same for *_, same in pairs)
    lines = [
        "## Story clustering",
        "",
        f"{len(pairs)} hand-written pairs ({n_same} same story, {len(pairs) - n_same} different "
        "stories of one topic; tests/story_pairs.py), scored in an index that also holds 1,000 "
        "OrangeSum articles (realistic document frequencies). Dates ignored here: two of the "
        "different-story pairs (a central bank's decisions a quarter apart, weekly dam figures "
        "four weeks apart) are kept apart in production by `window_days`, not by similarity.",
        "",
        "| similarity | lowest same | highest different | best F1 (threshold) | "
        + " | ".join(f"P/R @{t}" for t in THRESHOLDS)
        + " |",
        "|---" * (4 + len(THRESHOLDS)) + "|",
    ]
    for label, rows in table.items():
        scores = [(s, same) for _, s, same in rows]
        best = max(THRESHOLDS, key=lambda t: (_prf(scores, t)[2], -abs(t - 0.45)))
        lines.append(
            f"| {label} | {min(s for s, same in scores if same):.2f} | "
            f"{max(s for s, same in scores if not same):.2f} | "
            f"{_prf(scores, best)[2]:.2f} ({best}) | "
            + " | ".join("{:.2f}/{:.2f}".format(*_prf(scores, t)[:2]) for t in THRESHOLDS)
            + " |"
        )
    chosen = "tf-idf cosine, names x2, idf^2"
    decisions = [(s if windowed[topic + str(same)] else 0.0, same) for topic, s, same in table[chosen]]
    lines += [
        "",
        f"With the pairs' dates and `window_days` = 3 (what `StoryIndex.add` decides), {chosen}: "
        + ", ".join("@{}: P {:.2f} R {:.2f}".format(t, *_prf(decisions, t)[:2]) for t in (0.4, 0.45, 0.5, 0.55)),
    ]
    lines += ["", f"Per pair, {chosen} (the index's setting):", "", "| topic | same | different |", "|---|---|---|"]
    by_topic: dict[str, dict[bool, float]] = {}
    for topic, score, same in table[chosen]:
        by_topic.setdefault(topic, {})[same] = score
    for topic, scores in by_topic.items():
        lines.append(f"| {topic} | {scores[True]:.2f} | {scores[False]:.2f} |")

    size, mean_ms, worst_ms = _speed(background)
    minhash_ms = _minhash_speed(background)
    threshold = StoryIndex().threshold
    joined = _background_clusters(background, threshold)
    lines += [
        "",
        f"Speed: `StoryIndex.add` into an index growing to {size:,} articles (four copies of "
        f"OrangeSum ten days apart): mean {mean_ms:.2f} ms, worst {worst_ms:.1f} ms per article. "
        f"Baseline, MinHash (128 permutations, 5-gram shingles) + LSH query/insert: "
        f"{minhash_ms:.2f} ms per article.",
        "",
        f"False clusters on real articles: at the default threshold {threshold}, "
        f"{len(joined)} of the 1,000 OrangeSum articles (one publisher, distinct articles; dates "
        "set equal) joined an earlier one's story.",
    ]
    for first, second in joined[:5]:
        lines.append(f"- \"{first}…\" / \"{second}…\"")
    lines += [
        "",
        f"Chosen: {chosen}, threshold {threshold} (the `stories.threshold` default). Content-term "
        "Jaccard separates the pairs about as well but has no way to tell a shared name from a "
        "shared topic word as the index grows; character shingles (hence MinHash) score rewrites "
        "too low. Known misses: rewrites that swap names for synonyms (\"Bank Al-Maghrib\" / "
        "\"banque centrale du Maroc\", \"أسود الأطلس\" / \"المنتخب المغربي\"). The pairs were "
        "written by us and are few: read the figures as a sanity check, not a measurement.",
    ]
    return "\n".join(lines)


def main() -> None:
    markdown = run()
    print(markdown)
    write_section("stories", markdown)


if __name__ == "__main__":
    main()
