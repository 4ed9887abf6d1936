"""Summary quality and speed: our extractive summarizer against LEAD-k and sumy's graph rankers.

    python -m bench.summaries [--limit N] [--max-words 60] [--no-sumy] [--no-write]

Data: OrangeSum (French, abstract split; 1000 dev articles) and CNN/DailyMail (English,
125 dev articles), each line ``{id, text, summary}``. ROUGE-1/2/L F1 (×100) is computed
twice: with a Unicode tokenizer of our own (lower-cased ``[^\\W_]+`` runs, so accented
French words count whole) and with rouge-score's default tokenizer (ASCII ``[a-z0-9]+``,
no stemming) for comparison with published figures. Every system gets the same budget
(``--max-words``, whitespace-separated words) and the same sentence splitter.

The summarizer's few weights were tuned on OrangeSum lines 1-500 only; lines 501-1000
are the held-out figure. CNN/DailyMail was never used for tuning: its figures are a
check that the language-independent weights carry over to English.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

from bench._report import data_path, write_section
from newsletter.summarize import count_words, cut_sentence, summarize
from newsletter.summarize.sentences import looks_like_code, split_sentences

_TOKEN = re.compile(r"[^\W_]+")

System = Callable[[str, str], str]  # (text, language) -> summary


# --- ROUGE with a Unicode tokenizer ------------------------------------------------------


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(unicodedata.normalize("NFC", text).lower())


def _f1(overlap: int, candidate: int, reference: int) -> float:
    if overlap == 0:
        return 0.0
    precision, recall = overlap / candidate, overlap / reference
    return 2 * precision * recall / (precision + recall)


def rouge_n(reference: Sequence[str], candidate: Sequence[str], n: int) -> float:
    ref = Counter(tuple(reference[i : i + n]) for i in range(len(reference) - n + 1))
    cand = Counter(tuple(candidate[i : i + n]) for i in range(len(candidate) - n + 1))
    return _f1(sum((ref & cand).values()), sum(cand.values()), sum(ref.values()))


def rouge_l(reference: Sequence[str], candidate: Sequence[str]) -> float:
    """F1 of the longest common subsequence (one row of the LCS table at a time)."""
    if not reference or not candidate:
        return 0.0
    previous = [0] * (len(candidate) + 1)
    for ref_token in reference:
        current = [0]
        for j, cand_token in enumerate(candidate):
            current.append(
                previous[j] + 1 if ref_token == cand_token else max(previous[j + 1], current[j])
            )
        previous = current
    return _f1(previous[-1], len(candidate), len(reference))


def unicode_rouge(reference: str, candidate: str) -> tuple[float, float, float]:
    ref, cand = tokens(reference), tokens(candidate)
    return rouge_n(ref, cand, 1), rouge_n(ref, cand, 2), rouge_l(ref, cand)


# --- the systems ---------------------------------------------------------------------------


def _prose(text: str, language: str) -> list[str]:
    """The article's sentences, leftover script dropped (as the summarizer does)."""
    return [s for s in split_sentences(text, language) if not looks_like_code(s)] or ["-"]


def lead(k: int | None, max_words: int) -> System:
    """LEAD-k at the budget: the first k sentences (all of them when K is None), whole,
    while they fit; the first one alone cut to the budget when it is already too long."""

    def system(text: str, language: str) -> str:
        sentences = _prose(text, language)
        chosen: list[str] = []
        for sentence in sentences[:k] if k is not None else sentences:
            if count_words(" ".join(chosen + [sentence])) > max_words:
                break
            chosen.append(sentence)
        return " ".join(chosen) or " ".join(sentences[0].split()[:max_words])

    return system


def ours(max_words: int) -> System:
    return lambda text, language: summarize(text, language=language, max_words=max_words).text


def _fill_by_rank(sentences: list[str], ratings: Sequence[float], max_words: int) -> str:
    """Best-rated sentences first, skipping those that do not fit; text order kept."""
    chosen, used = [], 0
    for i in sorted(range(len(sentences)), key=lambda i: -ratings[i]):
        size = count_words(sentences[i])
        if used + size <= max_words:
            chosen.append(i)
            used += size
    if not chosen:
        return cut_sentence(
            sentences[max(range(len(sentences)), key=lambda i: ratings[i])], max_words
        )
    return " ".join(sentences[i] for i in sorted(chosen))


def sumy_system(name: str, max_words: int) -> System | None:
    """sumy's LexRank or TextRank, fed our sentences and words (nltk's punkt data is absent)."""
    try:
        from sumy.models.dom import ObjectDocumentModel, Paragraph, Sentence
        from sumy.nlp.stemmers import Stemmer
        from sumy.summarizers.lex_rank import LexRankSummarizer
        from sumy.summarizers.text_rank import TextRankSummarizer
        from sumy.utils import get_stop_words
    except ImportError:
        return None

    class Tokenizer:
        language = "none"

        def to_sentences(self, paragraph: str) -> tuple[str, ...]:
            return tuple(split_sentences(paragraph))

        def to_words(self, sentence: str) -> tuple[str, ...]:
            return tuple(_TOKEN.findall(sentence))

    tokenizer = Tokenizer()
    languages = {"fr": "french", "en": "english"}
    cls = {"LexRank": LexRankSummarizer, "TextRank": TextRankSummarizer}[name]
    summarizers = {}
    for code, lang in languages.items():
        summarizer = cls(Stemmer(lang))
        summarizer.stop_words = get_stop_words(lang)
        summarizers[code] = summarizer

    def system(text: str, language: str) -> str:
        sentences = _prose(text, language)
        document = ObjectDocumentModel([Paragraph([Sentence(s, tokenizer) for s in sentences])])
        summarizer = summarizers[language]
        captured: dict = {}

        def capture(doc_sentences, count, rating, *args, **kwargs):  # type: ignore[no-untyped-def]
            captured["rating"] = rating
            return ()

        summarizer._get_best_sentences = capture  # sumy exposes the ratings only here
        summarizer(document, len(sentences))
        rating = captured.get("rating") or {}
        ratings = [rating[s] if isinstance(rating, dict) else 0.0 for s in document.sentences]
        return _fill_by_rank(sentences, ratings, max_words)

    return system


# --- the run -------------------------------------------------------------------------------


def load(path: Path, limit: int | None) -> list[dict]:
    rows = []
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                rows.append(json.loads(line))
            if limit and len(rows) >= limit:
                break
    return rows


def run_system(system: System, rows: list[dict], language: str) -> tuple[list[str], float]:
    system(rows[0]["text"], language)  # load lemma dictionaries and the like before timing
    start = time.perf_counter()
    outputs = [system(row["text"], language) for row in rows]
    return outputs, len(rows) / (time.perf_counter() - start)


def score(rows: list[dict], outputs: list[str]) -> list[tuple[float, ...]]:
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=False)
    per_article = []
    for row, output in zip(rows, outputs):
        ours_ = unicode_rouge(row["summary"], output)
        theirs = scorer.score(row["summary"], output)
        per_article.append(
            ours_ + tuple(theirs[k].fmeasure for k in ("rouge1", "rouge2", "rougeL"))
        )
    return per_article


def table(title: str, results: dict[str, dict], part: slice, budget: int) -> str:
    lines = [
        f"**{title}**",
        "",
        (
            "| system | R-1 | R-2 | R-L | R-1 (rs) | R-2 (rs) | R-L (rs) "
            "| median words | max words | over budget | articles/s |"
        ),
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, result in results.items():
        scores = result["scores"][part]
        means = [100 * statistics.fmean(column) for column in zip(*scores)]
        words = [count_words(text) for text in result["outputs"][part]]
        lines.append(
            f"| {name} | "
            + " | ".join(f"{m:.2f}" for m in means)
            + f" | {statistics.median(words):g} | {max(words)}"
            + f" | {100 * sum(w > budget for w in words) / len(words):.1f}%"
            + f" | {result['speed']:.0f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.summaries", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--limit", type=int, default=None, help="only the first N articles of each file"
    )
    parser.add_argument("--max-words", type=int, default=60, help="the word budget (default 60)")
    parser.add_argument("--no-sumy", action="store_true", help="skip sumy's LexRank and TextRank")
    parser.add_argument(
        "--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone"
    )
    args = parser.parse_args(argv)
    budget = args.max_words

    datasets = [
        ("OrangeSum (fr)", "orangesum-fr-dev.jsonl", "fr"),
        ("CNN/DailyMail (en)", "cnndm-en-dev.jsonl", "en"),
    ]
    systems: dict[str, System | None] = {
        "ours (extractive)": ours(budget),
        "LEAD-1": lead(1, budget),
        "LEAD-2": lead(2, budget),
        "LEAD-3": lead(3, budget),
        "lead until the budget": lead(None, budget),
    }
    if not args.no_sumy:
        systems["sumy LexRank"] = sumy_system("LexRank", budget)
        systems["sumy TextRank"] = sumy_system("TextRank", budget)

    sections = [
        (
            f"## Summaries\n\nROUGE F1 ×100 against the human summary at a budget of {budget} words. "
            "R-* use a Unicode tokenizer; (rs) is rouge-score's default ASCII tokenizer, no stemmer. "
            'LEAD-k keeps the first k sentences while they fit; "lead until the budget" keeps '
            "adding sentences while they fit. Over budget: share of summaries longer than the "
            "budget (must be 0). Every system uses our sentence "
            "splitter and the same budget. Our weights were tuned on OrangeSum lines 1-500 only. "
            "Articles/s: one process, sentence splitting included, after a warm-up article."
        ),
    ]
    for title, filename, language in datasets:
        rows = load(data_path("summaries", filename), args.limit)
        results = {}
        for name, system in systems.items():
            if system is None:
                continue
            outputs, speed = run_system(system, rows, language)
            results[name] = {"outputs": outputs, "speed": speed, "scores": score(rows, outputs)}
        if language == "fr":
            half = len(rows) // 2
            parts = [
                (f"{title}: tuning half (articles 1-{half})", slice(0, half)),
                (f"{title}: held-out half (articles {half + 1}-{len(rows)})", slice(half, None)),
                (f"{title}: all {len(rows)} articles", slice(None)),
            ]
        else:
            parts = [(f"{title}: all {len(rows)} articles", slice(None))]
        for part_title, part in parts:
            text = table(part_title, results, part, budget)
            print(text + "\n")
            sections.append(text)
    if not args.no_write:
        write_section("summaries", "\n\n".join(sections))


if __name__ == "__main__":
    main()
