"""Tagging articles: the configured rules' keywords found in title and lead, and feed categories.

A keyword matches whole words only, accent- and case-insensitively, through lemmas
("élection" finds "Élections", not "sélection"; "art" finds "arts", not "article"); a phrase
("Banque centrale", "coupe du monde") matches as consecutive words. Arabic keywords match
through the spelling variants and proclitics of :mod:`newsletter.enrich.text` ("انتخابات"
finds "والانتخابات"). A feed category listed in a rule's ``categories`` gives its tag with
origin ``"feed"``, which wins over ``"rule"`` when both give the same tag.

Only the title and the lead (the first :data:`LEAD_WORDS` words) are read: a press review
tags what an article is *about*, and that is said at the top; a passing mention in the tenth
paragraph would tag half the paper "economie". This is also what ``min_hits`` counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from newsletter.config import TagRule
from newsletter.enrich.text import (
    LEMMA_LANGUAGES,
    fold,
    is_arabic,
    lead,
    lemma,
    match_keys,
    tokenize,
)

ARABIC_ARTICLE = "\u0627\u0644"  # al-
LEAD_WORDS = 150  # about the first two or three paragraphs of a news article

FEED = "feed"
RULE = "rule"


@dataclass(frozen=True)
class _Keyword:
    rule: int  # index of the rule in Tagger.rules
    words: tuple[frozenset[str], ...]  # the accepted keys of each word of the phrase


def keyword_keys(word: str, language: str = "") -> frozenset[str]:
    """The folded forms a keyword word stands for: itself and its lemma (and, in Arabic,
    without the article). A text word matches when its :func:`match_keys` share one."""
    keys = {fold(word), fold(lemma(word, language))}
    if is_arabic(word):
        # A keyword is written in its base form, perhaps with the article ("المغرب"): only
        # the article is dropped, never a letter that may be the word's own (كتاب).
        keys |= {key[2:] for key in keys if key.startswith(ARABIC_ARTICLE) and len(key) > 4}
    return frozenset(keys)


class Tagger:
    """The tag rules, pre-processed once; :meth:`tag` is then cheap for every article."""

    def __init__(self, rules: Sequence[TagRule], lead_words: int | None = LEAD_WORDS) -> None:
        self.rules = list(rules)
        self.lead_words = lead_words
        self._categories: dict[str, list[int]] = {}
        for i, rule in enumerate(self.rules):
            for category in rule.categories:
                self._categories.setdefault(_category_key(category), []).append(i)
        # keyword index per lemmatisation language, built on first use of that language
        self._indexes: dict[str, dict[str, list[_Keyword]]] = {}

    def tag(
        self,
        title: str,
        text: str,
        categories: Iterable[str] = (),
        language: str = "",
    ) -> list[tuple[str, str]]:
        """The (tag, origin) pairs of an article, in the order the rules are declared."""
        origins: dict[int, str] = {}
        for category in categories:
            for i in self._categories.get(_category_key(category), ()):
                origins[i] = FEED
        hits = self._count_hits(title, text, language)
        for i, count in hits.items():
            if count >= max(self.rules[i].min_hits, 1):
                origins.setdefault(i, RULE)
        return [(self.rules[i].name, origins[i]) for i in sorted(origins)]

    def _count_hits(self, title: str, text: str, language: str) -> dict[int, int]:
        """Keyword occurrences per rule: distinct positions where one of its keywords starts."""
        language = language if language in LEMMA_LANGUAGES else ""
        index = self._index(language)
        if not index:
            return {}
        body = text if self.lead_words is None else lead(text, self.lead_words)
        # The empty set between title and body keeps a phrase from spanning the two.
        keys = [match_keys(t, language) for t in tokenize(title)] + [frozenset()]
        keys += [match_keys(t, language) for t in tokenize(body)]
        counted: set[tuple[int, int]] = set()  # (rule, position)
        for position, token_keys in enumerate(keys):
            for key in token_keys:
                for keyword in index.get(key, ()):
                    if (keyword.rule, position) in counted:
                        continue
                    end = position + len(keyword.words)
                    if end <= len(keys) and all(
                        word & keys[position + j] for j, word in enumerate(keyword.words[1:], 1)
                    ):
                        counted.add((keyword.rule, position))
        hits: dict[int, int] = {}
        for rule, _ in counted:
            hits[rule] = hits.get(rule, 0) + 1
        return hits

    def _index(self, language: str) -> dict[str, list[_Keyword]]:
        """First-word key -> the keywords (phrases) that may start there."""
        if language not in self._indexes:
            index: dict[str, list[_Keyword]] = {}
            for i, rule in enumerate(self.rules):
                for phrase in rule.keywords:
                    words = tuple(keyword_keys(w, language) for w in tokenize(phrase))
                    if not words:
                        continue
                    keyword = _Keyword(i, words)
                    for key in words[0]:
                        index.setdefault(key, []).append(keyword)
            self._indexes[language] = index
        return self._indexes[language]


def _category_key(category: str) -> str:
    return " ".join(fold(category).split())
