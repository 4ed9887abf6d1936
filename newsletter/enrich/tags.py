"""Tagging articles: the configured rules' keywords found in title and lead, and feed categories.

A keyword matches whole words only, accent- and case-insensitively, through lemmas
("élection" finds "Élections", not "sélection"; "art" finds "arts", not "article"); a phrase
("Banque centrale", "coupe du monde") matches as consecutive words. A keyword's own lemma is used
only when it is the same word with another ending ("élections" -> "élection"), never when the
lemmatiser turns it into another word ("Gaza" -> "gazer", "été" -> "être"). A keyword written in
capitals ("AI", "BCE", "ONU") is an acronym: it matches that word in capitals only, so "AI" does
not find "j'ai" nor, through the lemma "avoir", every "a"; a word in capitals among words in
capitals ("J'AI VU") is a shouted headline, not an acronym. Arabic keywords match
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
from newsletter.words import strip_accents

ARABIC_ARTICLE = "\u0627\u0644"  # al-
ACRONYM = "\x00"  # prefix of acronym keys: no folded word starts with it
LEAD_WORDS = 150  # about the first two or three paragraphs of a news article
_MIN_SHARED = 3  # letters a keyword shares with its lemma for both to be one word
_SHOUT_WINDOW = 3  # words either side searched for one in lower case

FEED = "feed"
RULE = "rule"


@dataclass(frozen=True)
class _Keyword:
    rule: int  # index of the rule in Tagger.rules
    words: tuple[frozenset[str], ...]  # the accepted keys of each word of the phrase


def keyword_keys(word: str, language: str = "") -> frozenset[str]:
    """The forms a keyword word stands for: itself folded, its lemma when that is the same word
    (:func:`_same_word`), and in Arabic itself without the article; or, for an acronym, only
    itself in capitals (:func:`acronym_key`). A text word matches when its keys share one."""
    if is_acronym(word):
        return frozenset([acronym_key(word)])
    keys = {fold(word)}
    if is_arabic(word):
        # A keyword is written in its base form, perhaps with the article ("المغرب"): only
        # the article is dropped, never a letter that may be the word's own (كتاب).
        keys |= {key[2:] for key in keys if key.startswith(ARABIC_ARTICLE) and len(key) > 4}
    word_lemma = fold(lemma(word, language))
    if any(_same_word(key, word_lemma) for key in keys):
        keys.add(word_lemma)
    return frozenset(keys)


def is_acronym(word: str) -> bool:
    """Written in capitals: "AI", "BCE", "G7" (Arabic has no case, so never)."""
    return word.isupper()


def acronym_key(word: str) -> str:
    """The key of a word in capitals, apart from every folded key: accents dropped, case kept."""
    return ACRONYM + strip_accents(word)


def _same_word(word: str, word_lemma: str) -> bool:
    """Whether WORD_LEMMA (folded, like WORD) is WORD with another ending, as a plural or a
    conjugation is: no longer than WORD and sharing all but its last two letters, and at least
    three ("travaux"/"travail", "women"/"woman"). A lemma longer than its word or with another
    stem is another word the lemmatiser guessed ("ai" -> "avoir", "data" -> "dater"). A keyword
    in an irregular plural ("yeux", "الأحزاب") so keeps only its own form: keywords are best
    written in their base form, to which the text's words are lemmatised ("حزب")."""
    stem = word_lemma[: max(_MIN_SHARED, len(word_lemma) - 2)]
    return len(stem) >= _MIN_SHARED and len(word_lemma) <= len(word) and word.startswith(stem)


def _text_keys(tokens: Sequence[str], language: str) -> list[frozenset[str]]:
    """The keys of each token of one title or lead: :func:`match_keys`, plus the acronym key of
    a word in capitals, unless it stands among words in capitals with none in lower case near
    it: a headline in capitals ("J'AI VU") tells no acronym from a word."""
    keys = [match_keys(t, language) for t in tokens]
    for i, token in enumerate(tokens):
        if is_acronym(token):
            near = tokens[max(i - _SHOUT_WINDOW, 0) : i] + tokens[i + 1 : i + _SHOUT_WINDOW + 1]
            words = [t for t in near if len(t) > 1 and not t[0].isdigit()]
            if all(t.isupper() for t in words) and any(t.isupper() for t in words):
                continue
            keys[i] = keys[i] | {acronym_key(token)}
    return keys


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
        keys = _text_keys(tokenize(title), language) + [frozenset()]
        keys += _text_keys(tokenize(body), language)
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
