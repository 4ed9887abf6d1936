"""Normalising and tokenising news text for matching: shared by tags and stories.

Two kinds of keys come out of a word:

- :func:`match_keys`: every form a tag keyword may be written as, for whole-word matching
  (the lemma, the word itself, and for Arabic the word without its proclitics);
- :func:`content_terms`: canonical content terms, for comparing articles (none for stop words).

Both are accent- and case-insensitive (:func:`fold`) and cached, so tokens seen once cost a
dictionary lookup afterwards.
"""

from __future__ import annotations

import re
from functools import lru_cache

import simplemma

from newsletter.words import strip_accents

# A word: letters/digits plus the combining marks that belong to it (accents written as
# separate code points, Arabic harakat), which `\w` alone would split on. A number keeps its
# decimal separator ("6,2", "3.5") so that it stays one distinctive token.
TOKEN_RE = re.compile(
    r"\d+(?:[.,]\d+)*"
    r"|[^\W\d_](?:[^\W_]|[\u0300-\u036f\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed])*"
)

_TASHKEEL_RE = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")
_ARABIC_RE = re.compile("[\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufeff]")
# Letters NFKD leaves alone but a reader treats as equal.
_FOLD_TABLE = str.maketrans({
    "\u0640": None,  # tatweel (kashida), pure typography
    "\u0671": "\u0627",  # alef wasla -> alef (hamza forms are handled by NFKD)
    "\u0629": "\u0647",  # ta marbuta -> ha: often written either way
    "\u0649": "\u064a",  # alef maqsura -> ya: idem
    "œ": "oe",
    "æ": "ae",
    "ø": "o",
    "đ": "d",
    "ł": "l",
    "ı": "i",
})

# The languages simplemma can lemmatise. Latin-script words in an article of another
# language (or of unknown language) are tried as French, then English: the newsroom's languages.
LEMMA_LANGUAGES = frozenset(
    ["ast", "bg", "ca", "cs", "cy", "da", "de", "el", "en", "es", "et", "fa", "fi", "fr", "ga", "gd", "gl", "hi", "hu", "hy", "id", "is", "it", "ka", "la", "lb", "lt", "lv", "mk", "ms", "nb", "nl", "nn", "pl", "pt", "ro", "ru", "sk", "sl", "sq", "sv", "sw", "tl", "tr", "uk"]
)
DEFAULT_LATIN = ("fr", "en")

# Arabic proclitics: conjunction (wa, fa), then preposition (bi, li, ka), then the article.
_CONJUNCTIONS = ("\u0648", "\u0641")  # و ف
_PREPOSITIONS = ("\u0628", "\u0644", "\u0643")  # ب ل ك
_ARTICLE = "\u0627\u0644"  # ال
_LIL = "\u0644\u0644"  # لل = li + al (the alef is dropped in writing)
_MIN_STEM = 3  # shorter remainders are more often a word than a stripped one

STOPWORDS: dict[str, frozenset[str]] = {}


def fold(text: str) -> str:
    """Case-, accent- and Arabic-spelling-insensitive form: 'Élection' -> 'election', 'أمن' -> 'امن'."""
    return strip_accents(text.casefold().translate(_FOLD_TABLE)).translate(_FOLD_TABLE)


def tokenize(text: str) -> list[str]:
    """The words and numbers of TEXT, in order (apostrophes and hyphens separate words)."""
    return TOKEN_RE.findall(text)


def is_arabic(token: str) -> bool:
    return bool(_ARABIC_RE.match(token))


def lead(text: str, words: int) -> str:
    """The first WORDS words of TEXT (whitespace-separated), as one string."""
    return " ".join(text.split(maxsplit=words)[:words])


def _lemma_language(token: str, language: str) -> str | tuple[str, ...]:
    if is_arabic(token):
        return "ar"
    if language in LEMMA_LANGUAGES:
        return language
    return DEFAULT_LATIN


@lru_cache(maxsize=200_000)
def lemma(token: str, language: str = "") -> str:
    """The dictionary form of TOKEN (unchanged when unknown), not yet folded."""
    if token[0].isdigit():
        return token
    if is_arabic(token):
        token = _TASHKEEL_RE.sub("", token)
        if not token:
            return token
    return simplemma.lemmatize(token, _lemma_language(token, language))


def arabic_stems(folded: str) -> list[str]:
    """A folded Arabic word and its forms without proclitics: 'وبالمغرب' -> [..., 'مغرب'].

    Every plausible split is kept rather than one guess, because a leading و, ب, ل or ك is as
    often part of the word ('كتاب') as a proclitic ('كالبحر'): a keyword matches if any fits.
    """
    heads = [folded]
    if folded[:1] in _CONJUNCTIONS:
        heads.append(folded[1:])
    heads += [head[1:] for head in heads if head[:1] in _PREPOSITIONS]
    forms = [folded]
    for head in heads:
        if head.startswith(_ARTICLE) and len(head) - 2 >= _MIN_STEM or head.startswith(_LIL) and len(head) - 2 >= _MIN_STEM:
            forms.append(head[2:])
        if head is not folded and len(head) >= _MIN_STEM:
            forms.append(head)
    return list(dict.fromkeys(forms))


# (wa|fa)? (bi|ka|li)? al-, and li-l-: longest first.
_ARTICLE_PREFIXES = tuple(sorted(
    {c + p + _ARTICLE for c in ("", *_CONJUNCTIONS) for p in ("", *_PREPOSITIONS)}
    | {c + _LIL for c in ("", *_CONJUNCTIONS)},
    key=len, reverse=True,
))
_LIGHT_SUFFIXES = ("\u0647\u0627", "\u0627\u062a", "\u0648\u0646", "\u064a\u0646", "\u0627\u0646", "\u0647", "\u064a")


def arabic_light_stem(folded: str) -> str:
    """One deterministic stem of a folded Arabic word (after Larkey's "light10"): the article
    with its proclitics and one plural/feminine/relative suffix removed. Used to compare
    articles, where always taking the same cut matters more than taking the right one."""
    for prefix in _ARTICLE_PREFIXES:
        if folded.startswith(prefix) and len(folded) - len(prefix) >= _MIN_STEM - 1:
            folded = folded[len(prefix):]
            break
    for suffix in _LIGHT_SUFFIXES:
        if folded.endswith(suffix) and len(folded) - len(suffix) >= _MIN_STEM:
            return folded[: -len(suffix)]
    return folded


@lru_cache(maxsize=200_000)
def match_keys(token: str, language: str = "") -> frozenset[str]:
    """Every folded form under which TOKEN may match a keyword (see module docstring)."""
    keys = {fold(token), fold(lemma(token, language))}
    if is_arabic(token):
        keys.update(*(arabic_stems(key) for key in tuple(keys)))
    elif token[-1] in "sx" and len(token) > 3 and lemma(token, language) == token:
        # Unknown to the dictionary (often a word typed without its accents, "elections"):
        # a light plural strip still lets it meet its singular keyword.
        keys.add(fold(token[:-1]))
    return frozenset(keys)


@lru_cache(maxsize=200_000)
def content_terms(token: str, language: str = "") -> tuple[str, ...]:
    """The canonical folded content term(s) of TOKEN; none for a stop word or a lone letter.

    A Latin-script word gives one term, its folded lemma. An Arabic word gives the light stem
    of each of its proclitic splits, since which split is right cannot be told without a
    dictionary: 'بامزميز' gives both 'بامزميز' and 'امزميز', and meets 'أمزميز' on the second.
    """
    if is_arabic(token):
        if fold(token) in _stopwords("ar"):
            return ()
        forms = arabic_stems(fold(lemma(token, language)))
        terms = [arabic_light_stem(form) for form in forms]
        return tuple(t for t in dict.fromkeys(terms) if t not in _stopwords("ar"))
    folded = fold(lemma(token, language))
    if fold(token) in _stopwords("latin") or folded in _stopwords("latin"):
        return ()
    if len(folded) < 2 and not folded.isdigit():
        return ()
    return (folded,)


def _stopwords(group: str) -> frozenset[str]:
    if group not in STOPWORDS:
        words = _ARABIC_STOPWORDS if group == "ar" else _FRENCH_STOPWORDS + _ENGLISH_STOPWORDS
        STOPWORDS[group] = frozenset(fold(w) for w in words.split())
    return STOPWORDS[group]


# Function words and the reporting verbs every dispatch uses ("a indiqué", "said"): they
# carry no story. Folded forms and lemmas both are checked, so inflections need not be listed.
_FRENCH_STOPWORDS = """
le la les l un une des du de d au aux ce cet cette ces se sa son ses leur leurs lui elle elles il ils
on nous vous je tu me te y en ne pas plus moins que qu qui quoi dont où ou et mais donc or ni car
à a dans par pour sur sous avec sans entre vers chez depuis pendant avant après contre selon lors
être avoir faire aller pouvoir devoir falloir dire indiquer annoncer déclarer affirmer préciser
souligner ajouter expliquer estimer rappeler noter
tout tous toute toutes autre autres même aussi encore déjà très bien comme si ainsi alors
cela ça ceci celui celle ceux celles quel quelle quels quelles lequel laquelle
mon ma mes ton ta tes notre nos votre vos
dont leur être été était sont est ont avait aura sera
jour an année fois heure mardi lundi mercredi jeudi vendredi samedi dimanche hier aujourd hui
notamment cependant toutefois également via ici là
"""

_ENGLISH_STOPWORDS = """
the a an and or but if of to in on at by for with from into onto about over under after before
as is are was were be been being have has had do does did will would shall should can could may
might must not no nor so than then that this these those there here it its he she they them his her
their our we you i me my your who whom which what when where why how all any both each few more
most other some such only own same too very just also said says say told according tell
monday tuesday wednesday thursday friday saturday sunday yesterday today
"""

_ARABIC_STOPWORDS = """
في من إلى على عن مع هذا هذه ذلك تلك التي الذي الذين اللذين هو هي هم هن أن إن كان كانت يكون
قد لقد لم لن ما لا و أو ثم بل حتى بين عند منذ خلال بعد قبل كل بعض غير أي إذا كما أيضا حيث
وقال قال قالت أكد أعلن أوضح أشار وأضاف أضاف يوم اليوم أمس عام وفق وفقا حسب
"""
