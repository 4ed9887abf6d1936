"""Story clustering: articles from different sources that tell the same story share a story id.

An article is compared on its title and lead (the first :data:`LEAD_WORDS` words): the part
every rewrite of an agency dispatch keeps, whatever the site adds below. Each becomes a bag
of content terms (lemmas, folded, stop words out; numbers kept whole, "5,8" = "5.8") with the
title's terms and names/figures counted twice, weighted by IDF squared (the document
frequencies being those of the index itself), and two articles are compared by cosine. Names,
places and figures are what tell two earthquakes apart: they are rare, so IDF gives them the
weight, and squaring it keeps shared topic words ("séisme", "magnitude") from adding up.
``bench/stories.py`` compares this with character shingles and MinHash on hand-written pairs.

Story ids: :meth:`StoryIndex.add` returns the story of the most similar earlier article, or
``None`` when the article starts a story; the story of an article that starts one is its own
key, as a string (``str(key)``). So the caller stores ``index.add(...) or str(article.id)``.
When loading articles that already have a story, pass it as ``story``: it is kept and
later articles join it.

Lookups go through an inverted index over the rarest terms of the new article, so an ``add``
touches the few articles sharing its names and figures rather than the whole index.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from newsletter.enrich.text import content_terms, lead, tokenize

LEAD_WORDS = 60
TITLE_WEIGHT = 2.0
# Names and figures (a capitalised word, a number) are what tell two stories of one topic apart.
ENTITY_WEIGHT = 2.0
# Term weight = idf ** IDF_POWER: above 1, shared rare terms count for more than shared
# topic words ("séisme", "magnitude"), which two different earthquakes also share.
IDF_POWER = 2.0
# IDF counts at least this many articles: in a near-empty index every shared word looks
# common (it is in half of the two articles) and same-story pairs would score near zero;
# pretending the index is this big makes unseen words rare, as they are in a real one.
MIN_COLLECTION = 200
# Candidates are the articles (within the window) sharing one of the new article's rarest terms.
RARE_TERMS = 12
# Beyond this many candidates only those sharing the most rare terms are scored.
MAX_CANDIDATES = 200

Key = int | str


@dataclass
class _Article:
    story: str
    moment: float | None  # published, as UTC seconds: cheap to compare for the window
    language: str
    terms: dict[str, float]


def terms(
    title: str, text: str, language: str = "", entity_weight: float = ENTITY_WEIGHT
) -> dict[str, float]:
    """The weighted content terms of an article's title and lead."""
    weights: dict[str, float] = {}
    for part, weight in ((title, TITLE_WEIGHT), (lead(text, LEAD_WORDS), 1.0)):
        for token in tokenize(part):
            keys = content_terms(token, language)
            boost = entity_weight if token[0].isupper() or token[0].isdigit() else 1.0
            for key in keys:
                key = key.replace(",", ".")
                weights[key] = weights.get(key, 0.0) + weight * boost / len(keys)
    return weights


class StoryIndex:
    """The articles seen so far, for finding which earlier article tells the same story."""

    entity_weight = ENTITY_WEIGHT
    idf_power = IDF_POWER

    def __init__(self, threshold: float = 0.5, window_days: int = 3) -> None:
        self.threshold = threshold
        self.window = timedelta(days=window_days)
        self._window_seconds = self.window.total_seconds()
        self._articles: dict[Key, _Article] = {}
        self._postings: dict[str, set[Key]] = {}

    def __len__(self) -> int:
        return len(self._articles)

    def add(
        self,
        key: Key,
        title: str,
        text: str,
        published: datetime | None,
        language: str = "",
        story: str | None = None,
    ) -> str | None:
        """Register an article; return the story id of the most similar earlier article above
        the threshold (published within ``window_days`` of it), or ``None`` when it starts a
        new story (its story id is then ``str(key)``, or STORY when given).

        An article without a date is compared with every article, whatever its date.
        Adding a key again replaces the article.
        """
        if key in self._articles:
            self.remove(key)
        moment = _naive_utc(published).timestamp() if published is not None else None
        article = _Article("", moment, language, terms(title, text, language, self.entity_weight))
        match = None
        best = self.threshold
        for other_key, score in self._scores(article):
            if score >= best and (match is None or score > best):
                match, best = other_key, score
        found = self._articles[match].story if match is not None else None
        article.story = story or found or str(key)
        self._articles[key] = article
        for t in article.terms:
            self._postings.setdefault(t, set()).add(key)
        return found

    def remove(self, key: Key) -> None:
        article = self._articles.pop(key)
        for t in article.terms:
            keys = self._postings[t]
            keys.discard(key)
            if not keys:
                del self._postings[t]

    def story(self, key: Key) -> str:
        """The story id the article KEY was given."""
        return self._articles[key].story

    def similarity(
        self, title_a: str, text_a: str, title_b: str, text_b: str, language: str = ""
    ) -> float:
        """Similarity (0-1) of two articles' titles and leads, with this index's term weights."""
        a = terms(title_a, text_a, language, self.entity_weight)
        b = terms(title_b, text_b, language, self.entity_weight)
        weight = self._weigher(a, b)
        return _cosine(a, b, weight, _norm(a, weight))

    def _scores(self, article: _Article) -> list[tuple[Key, float]]:
        if not article.terms:
            return []
        postings = self._postings
        rare = sorted((t for t in article.terms if t in postings), key=lambda t: len(postings[t]))
        shared: dict[Key, int] = {}
        used = 0
        for t in rare:
            comparable = [k for k in postings[t] if self._comparable(article, self._articles[k])]
            for key in comparable:
                shared[key] = shared.get(key, 0) + 1
            used += bool(comparable)
            if used == RARE_TERMS:
                break
        candidates = sorted(shared, key=shared.__getitem__, reverse=True)[:MAX_CANDIDATES]
        weight = self._weigher(article.terms)
        norm = _norm(article.terms, weight)
        return [
            (key, _cosine(article.terms, self._articles[key].terms, weight, norm))
            for key in candidates
        ]

    def _comparable(self, a: _Article, b: _Article) -> bool:
        if a.language and b.language and a.language != b.language:
            return False
        if a.moment is None or b.moment is None:
            return True
        return abs(a.moment - b.moment) <= self._window_seconds

    def _weigher(self, *outside: dict[str, float]) -> Callable[[str], float]:
        """Term weight (smoothed IDF ** idf_power) over the index plus the articles OUTSIDE it
        being compared: counting them keeps a term of the new article from weighing more
        merely because the index has not seen it yet."""
        n = max(len(self._articles) + len(outside), MIN_COLLECTION) + 1
        postings, power = self._postings, self.idf_power

        def weight(t: str) -> float:
            df = len(postings.get(t, ())) + sum(t in terms for terms in outside) + 1
            return (math.log(n / df) + 1.0) ** power

        return weight


def _norm(terms: dict[str, float], weight: Callable[[str], float]) -> float:
    return math.sqrt(sum((w * weight(t)) ** 2 for t, w in terms.items()))


def _cosine(
    a: dict[str, float], b: dict[str, float], weight: Callable[[str], float], norm_a: float
) -> float:
    small, large = (b, a) if len(b) < len(a) else (a, b)
    dot = sum(w * large[t] * weight(t) ** 2 for t, w in small.items() if t in large)
    return dot / (norm_a * _norm(b, weight)) if dot else 0.0


def _naive_utc(moment: datetime) -> datetime:
    """Aware datetimes to naive UTC, so aware and naive ones (from SQLite) can be compared."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)
