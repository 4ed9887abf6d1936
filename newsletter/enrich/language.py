"""Which language an article is written in: ISO 639-1 code, from its text and its source's word.

The text is read by py3langid (a naive Bayes model over byte n-grams, 97 languages, no
network, ~5 MB) with calibrated probabilities; the language the source declared (feed
``xml:lang``, ``<html lang>``, the configuration) is the *hint*. The text wins when the model
is confident; otherwise the hint breaks the tie, and a text too short to say anything gets the
hint (or ``""``). Figures behind these choices: ``bench/language.py``, docs/benchmarks.md.
"""

from __future__ import annotations

import re
from functools import lru_cache

from py3langid.langid import MODEL_FILE, LanguageIdentifier

# Above this probability the text decides, whatever the source declared.
CONFIDENT = 0.90
# Below this, and with no hint, the text is undecidable (on the fundus titles the best guess
# is right 255 times in 257 above 0.2, see docs/benchmarks.md).
MIN_PROBABILITY = 0.20
# The hint is kept against a more probable language when it is at least this probable:
# short titles often split their probability between neighbours (fr/it/ca, en/nl).
HINT_PROBABILITY = 0.05
# Fewer letters than this carry no usable signal ("OK", "2-1", a name).
MIN_LETTERS = 6
# Enough text for a sure answer; the model's cost grows with the length.
MAX_CHARS = 2000

_NOISE_RE = re.compile(r"https?://\S+|www\.\S+|\S+@\S+|[@#]\w+|[\d_]+")
_SPACE_RE = re.compile(r"\s+")

# Codes a source may declare that are not the two-letter ISO 639-1 form.
_ALIASES = {
    "fra": "fr", "fre": "fr", "eng": "en", "ara": "ar", "deu": "de", "ger": "de",
    "spa": "es", "ita": "it", "por": "pt", "nld": "nl", "dut": "nl",
    "nb": "no", "nn": "no", "nob": "no", "nno": "no", "iw": "he", "in": "id",
    # The model's regional varieties, folded into their language: Moroccan and Egyptian
    # Arabic are Arabic to a reader (and split the probability of an Arabic text otherwise).
    "ary": "ar", "arz": "ar", "yue": "zh", "wuu": "zh", "uzs": "uz", "gug": "gn",
}


def normalize_language(code: str) -> str:
    """'fr-FR', 'FR_be', 'fra' -> 'fr'; '' for anything that is not a language code."""
    primary = re.split(r"[-_]", code.strip().lower(), maxsplit=1)[0]
    primary = _ALIASES.get(primary, primary)
    return primary if re.fullmatch(r"[a-z]{2}", primary) else ""


@lru_cache(maxsize=1)
def _identifier() -> LanguageIdentifier:
    # Loaded once, on first use: about 0.3 s and 30 MB of arrays.
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def _sample(text: str) -> str:
    # Digits, URLs and handles say nothing about the language and dilute short texts
    # (an Arabic sentence with Latin digits, a title that is half a score).
    return _SPACE_RE.sub(" ", _NOISE_RE.sub(" ", text[: MAX_CHARS * 2])).strip()[:MAX_CHARS]


def rank_languages(text: str) -> list[tuple[str, float]]:
    """ISO 639-1 codes with their probability for TEXT, most probable first.

    Varieties are summed into their language; labels without a two-letter code (and the
    model's "no linguistic content") are left out, so the total may be below 1."""
    totals: dict[str, float] = {}
    for label, probability in _identifier().rank(_sample(text)):
        code = normalize_language(label)
        if code:
            totals[code] = totals.get(code, 0.0) + probability
    return sorted(totals.items(), key=lambda item: item[1], reverse=True)


def detect_language(text: str, hint: str = "") -> str:
    """The ISO 639-1 code of TEXT's language, or HINT (normalised) when the text cannot tell,
    or ``""`` when neither can."""
    hint = normalize_language(hint)
    if sum(c.isalpha() for c in _sample(text)) < MIN_LETTERS:
        return hint
    ranked = rank_languages(text)
    if not ranked:
        return hint
    best, probability = ranked[0]
    if probability >= CONFIDENT or best == hint:
        return best
    if hint and dict(ranked).get(hint, 0.0) >= HINT_PROBABILITY:
        return hint
    return best if probability >= MIN_PROBABILITY else hint
