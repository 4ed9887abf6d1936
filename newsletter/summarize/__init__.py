"""The offline summarizer: a few whole sentences of the article, within a word budget.

    summarize(text, title=..., language="fr", max_words=60) -> Summary(text, method, language)

Two methods: "extractive" (the default: sentences ranked by position-aware centrality, see
``extractive.py``) and "lead" (the first sentences that fit). Either way the summary is
made of the input's own sentences, in their original order, with at most ``max_words``
words, counted by ``newsletter.words.count_words`` (whitespace-separated tokens; in
Chinese and Japanese, two characters make a word). When not even one sentence fits, the
best one is cut at the last clause boundary (comma, semicolon, colon, dash) that fits, or,
failing that, at a word boundary, and ends with "…".

Bylines, photo credits, "read also" links, calls to the reader ("cliquez ici") and leftover
script are never picked; sub-headings and pull quotes (pieces without an end mark, or a
question standing alone on its line) and pieces of fewer than four words only when nothing
else fits. An empty or unknown language gives a language-neutral ranking (no stop words,
no lemmas).
Unusable input (empty, whitespace, no letters at all) raises ``InputError``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from newsletter.errors import InputError
from newsletter.summarize.extractive import WEIGHTS, score_sentences
from newsletter.summarize.sentences import (
    ends_sentence,
    is_boilerplate,
    is_cut_off,
    join_sentences,
    question_headings,
    split_sentences,
)
from newsletter.words import count_words, first_words

__all__ = ["METHODS", "Summary", "count_words", "cut_sentence", "split_sentences", "summarize"]

METHODS = ("extractive", "lead")
# A sentence this short ("Oui.", "Bof...") says little on its own; like a piece without an
# end mark (a sub-heading, a pull quote), it is picked only when nothing else fits.
MIN_SENTENCE_WORDS = 4
# Centrality costs n² similarities; past this many sentences (a long dossier, several
# articles pasted together) only the first ones compete, which is where news puts its point.
MAX_RANKED_SENTENCES = 120
# A summary stops growing once it reaches this share of the budget: reference summaries
# run about 32 words, and past ~35 of 60 words the next sentence adds less than it costs
# in ROUGE-L precision (tuned on OrangeSum lines 1-500: 35 words of 60 beat 30, 40 and
# filling to 60). The lead ignores it: a lead is the first sentences that fit.
TARGET_SHARE = 35 / 60
# A clause cut must keep at least this share of the budget, else we cut at a word.
_MIN_CLAUSE_SHARE = 1 / 3
_CLAUSE_END = re.compile(r"[,;:،](?=\s)|[、，；：]|\s(?:--|[-–—])\s")


@dataclass(frozen=True)
class Summary:
    text: str
    method: str  # "extractive" or "lead"
    language: str  # the ISO code the caller gave, normalised ("fr-FR" -> "fr"); "" if none


def summarize(
    text: str,
    *,
    title: str = "",
    language: str = "",
    max_words: int = 60,
    method: str = "extractive",
) -> Summary:
    """Summarize TEXT in at most MAX_WORDS words; see the module docstring."""
    if not isinstance(text, str) or not text.strip():
        raise InputError("cannot summarize an empty text: give the article's body")
    if not any(ch.isalpha() for ch in text):
        raise InputError("cannot summarize a text without any letters: is it really an article?")
    if method not in METHODS:
        raise InputError(f"unknown summary method {method!r}: use one of {', '.join(METHODS)}")
    if not isinstance(max_words, int) or isinstance(max_words, bool) or max_words < 1:
        raise InputError(f"max_words must be a whole number of at least 1, not {max_words!r}")
    language = _normalise_language(language)
    title = title if isinstance(title, str) else ""

    sentences = split_sentences(text, language)
    candidates = [i for i, sentence in enumerate(sentences) if not is_boilerplate(sentence)]
    if not candidates:  # nothing but credits or code: better those than nothing
        candidates = list(range(len(sentences)))
    # a teaser's last sentence, cut off where the feed stopped: used only when nothing else fits
    cut_off = {len(sentences) - 1} if is_cut_off(sentences[-1]) else set()

    if method == "lead":
        order = [i for i in candidates if i not in cut_off] or candidates
        chosen = _fill(sentences, order, max_words, stop_at_first_misfit=True)
    else:
        candidates = candidates[:MAX_RANKED_SENTENCES]
        ranked = score_sentences([sentences[i] for i in candidates], title=title, language=language)
        scores = dict(zip(candidates, ranked))
        # Best first; fragments last, and taken only when no whole sentence fits: a
        # sub-heading or a pull quote never pads a summary out.
        headings = question_headings(text) if "\n" in text else frozenset()
        fragments = cut_off | {
            i for i in candidates if _is_fragment(sentences[i]) or sentences[i] in headings
        }
        order = sorted(candidates, key=lambda i: (i in fragments, -scores[i]))
        floor = scores[order[0]] - WEIGHTS.gap
        worthy = [i for i in order if scores[i] >= floor]
        whole = [i for i in worthy if i not in fragments]
        target = max(1, round(max_words * TARGET_SHARE))
        chosen = _fill(sentences, whole, max_words, target=target) or _fill(
            sentences, worthy, max_words, target=target
        )

    if chosen:
        summary = join_sentences([sentences[i] for i in chosen])
    else:
        summary = cut_sentence(sentences[order[0]], max_words)
    return Summary(text=summary, method=method, language=language)


def _is_fragment(sentence: str) -> bool:
    """A piece too short to say much, or with no end mark: a sub-heading or a pull quote."""
    return count_words(sentence) < MIN_SENTENCE_WORDS or not ends_sentence(sentence)


def _normalise_language(language: str) -> str:
    if not isinstance(language, str):
        return ""
    return re.split(r"[-_]", language.strip().lower(), maxsplit=1)[0]


def _fill(
    sentences: list[str],
    order: list[int],
    max_words: int,
    *,
    stop_at_first_misfit: bool = False,
    target: int | None = None,
) -> list[int]:
    """Take sentences in ORDER while the budget allows; return their indexes in text order.

    A sentence that does not fit is skipped and the next one tried (or, for the lead,
    the summary stops there: a lead does not jump ahead). Once the summary has TARGET
    words or more, no further sentence is added.
    """
    chosen: list[int] = []
    used = 0
    for i in order:
        if target is not None and chosen and used >= target:
            break
        words = count_words(sentences[i])
        if used + words <= max_words:
            chosen.append(i)
            used += words
        elif stop_at_first_misfit:
            break
    return sorted(chosen)


def cut_sentence(sentence: str, max_words: int) -> str:
    """SENTENCE cut to MAX_WORDS words, at a clause boundary if one fits, ending with "…"."""
    if count_words(sentence) <= max_words:
        return sentence
    best = ""
    for match in _CLAUSE_END.finditer(sentence):
        prefix = sentence[: match.start()].rstrip()
        size = count_words(prefix)
        if size > max_words:
            break
        if size >= max(1, max_words * _MIN_CLAUSE_SHARE):
            best = prefix
    if not best:
        best = first_words(sentence, max_words)
    trimmed = best.rstrip(" ,;:،、，；：-–—")
    return (trimmed if any(ch.isalnum() for ch in trimmed) else best) + "…"
