"""How the product counts words (the summary budget, the shortest article, the teaser test),
and drops their accents where a comparison should not see them (:func:`strip_accents`).

A word is a whitespace-separated token, except in Chinese and Japanese, which put no
spaces between words: there every two ideographs or kana count as one word (the average
word there is about two characters long), so a 60-word budget is about 120 characters,
two sentences, as it is in French. Korean spaces its words and is counted by its tokens.
The count is additive: joining pieces with spaces adds their counts.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["count_words", "first_words", "strip_accents"]

# Hiragana, katakana and the Han ideographs (with their extensions and compatibility block).
_UNSPACED = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_TOKEN = re.compile(r"\S+")


def _token_words(token: str) -> int:
    return max(1, (len(_UNSPACED.findall(token)) + 1) // 2)


def count_words(text: str) -> int:
    """Words of TEXT as the budget counts them (see the module docstring)."""
    if not _UNSPACED.search(text):
        return len(text.split())
    return sum(_token_words(token) for token in text.split())


def first_words(text: str, max_words: int) -> str:
    """The longest start of TEXT holding at most MAX_WORDS (1 or more) words.

    A Chinese or Japanese run is cut between two characters, any other token kept whole.
    """
    used = 0
    for match in _TOKEN.finditer(text):
        token = match.group()
        size = _token_words(token)
        if used + size <= max_words:
            used += size
            continue
        if used == max_words or not _UNSPACED.search(token):
            return text[: match.start()].rstrip()
        allowed, end = 2 * (max_words - used), match.start()
        for offset, ch in enumerate(token):
            if _UNSPACED.match(ch):
                if allowed == 0:
                    break
                allowed -= 1
            end = match.start() + offset + 1
        return text[:end]
    return text.rstrip()


def strip_accents(text: str) -> str:
    """TEXT in compatibility decomposition (NFKD) without its combining marks: accents, and
    Arabic's short vowels ("Élection" -> "Election", "ﬁ" -> "fi"); case is kept."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))
