"""Sentence splitting for news text in French, English and Arabic (and, roughly, the rest).

Scraped articles are messy: sentences often run together without a space
("interpellés.Les images"), quotes close after the full stop, and abbreviations
("M. Hammouchi", "U.S.", "J.-P. Dupont", "av. J.-C.") and numbers ("3.5",
"www.site.ma") carry dots that end nothing. The rules, in order:

- a blank line always ends a sentence; so does a line break, unless the next line
  starts in lower case (a hard-wrapped line carrying on the same sentence);
- ``. ! ? … ؟`` and ``。！？`` (Chinese, Japanese), ``।`` (Hindi) and ``۔`` (Urdu), or runs of
  them, end a sentence when the next sentence starts with a capital, a caseless letter
  (Arabic, Chinese...), a digit or an opening quote, with or without a space in between
  (a digit glued to the mark only after a word of three letters or more: "3.5" and
  "fig.3" go on, "confinement.46 chambres" does not);
  closing quotes and brackets right after the mark stay with the sentence that ends
  (straight ``"`` is told open from closed by counting the quotes before it in the
  paragraph);
- a single ``.`` after a known abbreviation, a single letter (an initial) or a
  dotted acronym ends nothing; the Arabic comma ``،`` and the semicolon end nothing;
- a quotation in guillemets or curly quotes running over several sentences (up to four)
  stays one piece: a summary never opens a quote it does not close;
- a closing quote glued to a capital (``affection"L'ancien``: a lost paragraph
  break) ends a sentence;
- lists and sub-headings flattened into the text are taken apart: a bullet (``•``)
  starts a new sentence and is dropped, so is a list dash glued to the end of the
  sentence before it (``smic).- Michelin versera``), and an agency sub-heading between
  dashes (``sur LCI.- Tour Eiffel éteinte -Le chef``) stands on its own.

The text loses its dateline ("RABAT –", "PARIS (AFP) -", "LA CROSSE, Wis. (AP) —").
"""

from __future__ import annotations

import re
from bisect import bisect_left
from functools import lru_cache

__all__ = [
    "CLOSERS",
    "END_MARKS",
    "UNSPACED_MARKS",
    "ends_sentence",
    "is_boilerplate",
    "is_cut_off",
    "join_sentences",
    "looks_like_code",
    "question_headings",
    "split_sentences",
    "strip_dateline",
]

# Words that a single "." follows without ending the sentence. Case matters: "Me" is
# Maître, "me." ends an English sentence. Words that are also ordinary French words at a
# sentence end ("est", "vol", "sept", "art", "no") are left out on purpose.
ABBREVIATIONS = frozenset(
    """
    M MM Mme Mmes Mlle Mlles Dr Drs Pr Me Mgr St Ste Sts Vve Cie Éts Ets
    av apr cf env janv févr avr juil déc oct nov hab chap fig pp éd coll ibid op cit
    Mr Mrs Ms Messrs Jr Sr Inc Ltd Co Corp Bros Gen Gov Sen Rep Lt Col Capt Sgt Cmdr Adm
    Prof Rev Hon Mt Ft Jan Feb Apr Jun Jul Aug Sept Oct Nov Dec vs approx dept No Nos Vol eds
    """.split()
)

# A quotation running over more sentences than this is split like any text.
MAX_QUOTED_SENTENCES = 4
# What ends a sentence: Latin and Arabic marks, the Chinese and Japanese full-width ones, the
# Devanagari danda and the Urdu full stop.
END_MARKS = ".!?…؟。！？।۔"
_ENDER = re.compile(f"[{END_MARKS}]+")
# A closing quote glued to the capital of the next sentence, with no full stop between.
_GLUED_QUOTE = re.compile(r'(?<=[^\s"«“(])["»”](?=[^\W\d_])')
# Closing quotes and brackets, which may follow a sentence's end mark ("fin. »").
CLOSERS = "»”’)]」』）"
_TERMINATED = re.compile(f"[{END_MARKS}]" + rf"(?:\s*[\"'{re.escape(CLOSERS)}])*$")
# What a cut text ends with: an ellipsis in brackets, or one right after a word or a comma.
_CUT_OFF = re.compile(r"(?:[\[(]\s*(?:…|\.{3})\s*[\])]|[\w,;]\s?(?:…|\.{3,}))[\s\"»”’]*$")
# Chinese and Japanese put no space after these.
UNSPACED_MARKS = "。！？"
_UNSPACED_END = re.compile(f"[{UNSPACED_MARKS}][{re.escape(CLOSERS)}]*$")
_OPENERS = "«\"“‘'([¿¡—–-「『（"
_DOTTED = re.compile(r"(?:[^\W\d_]{1,2}\.-?)+[^\W\d_]{1,2}")  # U.S, e.g, J.-C, a.m
_LAST_WORD = re.compile(r"[^\W\d_]+$")
# a word of 3 letters or more, then its end mark
_WORD_END = re.compile(rf"[^\W\d_]{{3}}[{END_MARKS}]+$")
_PARAGRAPH = re.compile(r"\n[ \t\f\v\u00a0]*\n\s*")
_SPACES = re.compile(r"\s+")
_BULLETS = re.compile(r"\s*[•▪►◦●■]\s*")
# "... sur LCI.- Tour Eiffel éteinte -Le chef de file": a sub-heading between dashes, after
# a sentence end and glued to the next sentence's capital.
_DASHED_HEADING = re.compile(r"(?<=[.!?…\"»)])\s*-\s+([^-.!?\n]{2,80}?)\s+-(?=[^\W\d_])")
_LIST_DASH = re.compile(r"^[-*]\s+")  # a list item: "- Michelin versera", "* Enfin"
_CODE_START = re.compile(
    r"(?:^|(?<=\s))(?:(?:window|document)\.\w|function\s*\(|(?:var|let|const)\s+\w+\s*=)"
)


def split_sentences(text: str, language: str = "") -> list[str]:
    """Split TEXT into sentences, whitespace collapsed, dateline stripped from the first.

    LANGUAGE (an ISO code) is accepted for callers' symmetry; the rules above hold for
    every language at once, so it changes nothing today.
    """
    sentences: list[str] = []
    text = _DASHED_HEADING.sub(lambda m: f"\n\n{m.group(1)}\n\n", text)
    for n, block in enumerate(_blocks(text)):
        if n == 0:  # before splitting: "LA CROSSE, Wis. (AP) — After..." holds a full stop
            block = strip_dateline(block)
        pieces = (s for item in _BULLETS.split(block) for s in _join_quotations(_split_block(item)))
        for sentence in pieces:
            sentence = _LIST_DASH.sub("", _SPACES.sub(" ", sentence).strip())
            if any(ch.isalnum() for ch in sentence):
                sentences.append(sentence)
    return sentences


def join_sentences(sentences: list[str]) -> str:
    """SENTENCES as one text: a space between two, none after a Chinese or Japanese full stop."""
    text = sentences[0] if sentences else ""
    for sentence in sentences[1:]:
        text += ("" if _UNSPACED_END.search(text) else " ") + sentence
    return text


def is_cut_off(sentence: str) -> bool:
    """Whether SENTENCE stops where its text was cut: "[…]", "(…)", or an ellipsis glued to a
    word with no end mark before it ("Les organisateurs, qui ont..."). A feed's teaser ends so."""
    return bool(_CUT_OFF.search(sentence))


def ends_sentence(text: str) -> bool:
    """Whether TEXT ends like a sentence: an end mark, maybe closing quotes or brackets."""
    return bool(_TERMINATED.search(text))


def question_headings(text: str) -> frozenset[str]:
    """Questions standing alone on their line or paragraph ("What is Nato?", "Que dit la loi ?").

    In an explainer they are sub-headings, each followed by its answer: on their own they
    tell a reader nothing. Whitespace collapsed, as ``split_sentences`` gives them.
    """
    questions = set()
    for block in _blocks(text):
        block = _SPACES.sub(" ", block)
        if block.endswith(("?", "؟", "？")) and len([p for p in _split_block(block) if p]) == 1:
            questions.add(block)
    return frozenset(questions)


def _blocks(text: str) -> list[str]:
    """Paragraphs, then lines; a line starting in lower case continues the one before."""
    blocks: list[str] = []
    for paragraph in _PARAGRAPH.split(text.replace("\r\n", "\n").replace("\r", "\n")):
        lines = [line.strip() for line in paragraph.split("\n") if line.strip()]
        current: list[str] = []
        for line in lines:
            if current and not line[0].islower():
                blocks.append(" ".join(current))
                current = []
            current.append(line)
        if current:
            blocks.append(" ".join(current))
    return blocks


def _join_quotations(pieces: list[str]) -> list[str]:
    """PIECES, a quotation in guillemets or curly quotes running over several kept as one.

    Up to ``MAX_QUOTED_SENTENCES`` sentences, so a quote left open by mistake does not swallow
    the paragraph. Straight quotes are left alone: scraped text has too many stray ones.
    """
    joined, i = [], 0
    while i < len(pieces):
        end = i
        if _opens_quote(pieces[i]):
            for k in range(i + 1, min(len(pieces), i + MAX_QUOTED_SENTENCES)):
                if not _opens_quote("".join(pieces[i : k + 1])):
                    end = k
                    break
        joined.append("".join(pieces[i : end + 1]))
        i = end + 1
    return joined


def _opens_quote(text: str) -> bool:
    return text.count("«") > text.count("»") or text.count("“") > text.count("”")


def _split_block(block: str) -> list[str]:
    # Scraped pages end with script ("window.pvp_... = new Pvp(...)"): from its first
    # statement on, the rest of the block is one piece, which is_boilerplate() drops.
    code = _CODE_START.search(block)
    tail = block[code.start() :] if code else ""
    block = block[: code.start()] if code else block
    cuts = {end for end in _boundaries(block) if 0 < end < len(block)}
    pieces, start = [], 0
    for end in sorted(cuts):
        pieces.append(block[start:end])
        start = end
    pieces.append(block[start:])
    return pieces + [tail]


def _boundaries(block: str) -> list[int]:
    """Offsets in BLOCK where a sentence ends (the next one starts there, after spaces)."""
    ends: list[int] = []
    for match in _ENDER.finditer(block):
        end = _absorb_closers(block, match.end())
        if _starts_sentence(block, end) and not _is_abbreviation(block, match):
            ends.append(end)
    for match in _GLUED_QUOTE.finditer(block):
        closing = match.group() != '"' or _is_closing_quote(block, match.start())
        if closing and (block[match.end()].isupper() or _caseless(block[match.end()])):
            ends.append(match.end())
    return ends


def _absorb_closers(block: str, pos: int) -> int:
    """Move POS past the closing quotes and brackets that belong to the ending sentence."""
    while pos < len(block):
        after_space = pos
        while after_space < len(block) and block[after_space] in " \u00a0\u202f":
            after_space += 1
        if after_space >= len(block):
            return pos
        ch = block[after_space]
        # « ... parti. » keeps its spaced closing guillemet; other closers must touch.
        if ch == "»" or (after_space == pos and ch in CLOSERS):
            pos = after_space + 1
        elif ch == '"' and after_space == pos and _is_closing_quote(block, pos):
            pos += 1
        elif (
            ch == "'" and after_space == pos and (pos + 1 == len(block) or block[pos + 1].isspace())
        ):
            pos += 1
        else:
            return pos
    return pos


def _is_closing_quote(block: str, pos: int) -> bool:
    """A straight quote closes when an odd number of straight quotes come before it."""
    return bisect_left(_quote_offsets(block), pos) % 2 == 1


@lru_cache(maxsize=8)
def _quote_offsets(block: str) -> list[int]:
    # Counting from the start for every quote would be quadratic on a long block.
    return [i for i, ch in enumerate(block) if ch == '"']


def _starts_sentence(block: str, pos: int) -> bool:
    """Does what follows POS look like the start of a new sentence?"""
    i, spaced = pos, False
    while i < len(block) and block[i].isspace():
        i, spaced = i + 1, True
    if i >= len(block):
        return False
    opened = False
    while i < len(block) and (block[i] in _OPENERS or (opened and block[i].isspace())):
        if block[i] in "-–—" and not spaced and not block[i + 1 : i + 2].isspace():
            # "J.-P." or "av. J.-C." glued to a dash: not a sentence start ("smic).- La"
            # is: a list dash, a space after it)
            return False
        i, opened = i + 1, True
    if i >= len(block):
        return False
    ch = block[i]
    if ch.isupper() or _caseless(ch):
        return True
    # "2019.25" is a number; "en 2019. 25 blessés" and "le confinement.46 chambres" are not
    return ch.isdigit() and (spaced or bool(_WORD_END.search(block, max(0, pos - 12), pos)))


def _caseless(ch: str) -> bool:
    """A letter of a script without case (Arabic, Hebrew, CJK...)."""
    return ch.isalpha() and not ch.isupper() and not ch.islower()


def _is_abbreviation(block: str, match: re.Match[str]) -> bool:
    if match.group() != ".":
        return False  # "...", "!", "?" are never abbreviations
    before = block[max(0, match.start() - 40) : match.start()]  # a bounded look back
    token = before[before.rfind(" ") + 1 :].lstrip(_OPENERS)
    word = _LAST_WORD.search(before)
    if word is None:
        return False  # "en 2019." or '"bravo".'
    if len(word.group()) == 1:
        return True  # an initial: "A. B. Smith", "M. Hammouchi", "J.-P."
    return word.group() in ABBREVIATIONS or bool(_DOTTED.fullmatch(token))


# --- datelines -------------------------------------------------------------------------

_DASH = r"\s*(?:--|[-–—])\s+"
_DATELINES = (
    # "PARIS (AFP) -", "Rabat, 12 mars (MAP) –", "(MAP) –"
    re.compile(r"^(?:[^\W\d_][^()\n]{0,40}?\s*)?\([^\W\d_][^()]{0,18}\)" + _DASH),
    # "RABAT –", "NEW YORK, March 3 --"
    re.compile(
        r"^[A-ZÀ-ÖØ-Þ]{2}[A-ZÀ-ÖØ-Þ'’\-]*(?:[ \-][A-ZÀ-ÖØ-Þ'’\-]{2,}){0,3}(?:,[^,–—\-]{1,30})?"
        + _DASH
    ),
    # "الرباط –", "الدار البيضاء (و م ع) –"
    re.compile(r"^[\u0621-\u064a]+(?: [\u0621-\u064a]+)?\s*(?:\([^()]{1,20}\))?" + _DASH),
)


def strip_dateline(sentence: str) -> str:
    """SENTENCE without a leading dateline, when what remains is still a sentence."""
    for pattern in _DATELINES:
        match = pattern.match(sentence)
        if match and len(sentence[match.end() :].split()) >= 3:
            return sentence[match.end() :]
    return sentence


# --- what is not prose -------------------------------------------------------------------

_BYLINE = re.compile(
    r"^(?:©|\(c\)|copyright\b|photos?\b|crédits?\b|credits?\b|source\s*:|sources\s*:|"
    r"illustration\b|image\b|vidéo\s*:|video\s*:|lire (?:aussi|la suite|également)\b|"
    r"(?:à|a) lire (?:aussi|également)\b|voir aussi\b|read more\b|related\b|published\s*:|"
    r"updated\s*:|last updated\b|mis à jour\b|publié le\b|propos recueillis par\b|"
    r"de notre (?:correspondant|envoyé)|بقلم|تصوير|المصدر\s*:|اقرأ أيضا)",
    re.IGNORECASE,
)
_NAME_BYLINE = re.compile(  # "Par Jean Dupont", "By Ann Lee | Reuters": capitalised names only
    r"^(?:Par|By)\s+[A-ZÀ-Þ][\w'’.-]*"
    r"(?:\s+(?:[A-ZÀ-Þ][\w'’.-]*|de|du|van|von|et|and|avec|with|[|,/-]))*\s*$"
)
# The page speaking to its reader: "Pour réécouter son interview, cliquez sur l’icône
# ci-dessous.", "Profitez de notre offre découverte.", "Click here to watch the video."
_CALL_TO_ACTION = re.compile(
    r"\bcliquez (?:ici|sur (?:l['’]|le |la |les |ce |cette ))|\bclick (?:here|on the )|"
    r"\bprofitez de (?:notre|nos) offres?\b|\bje m['’]abonne\b|\ben remplissant ce formulaire\b|"
    r"\bsubscribe (?:now|today)\b|اضغط هنا|انقر هنا",
    re.IGNORECASE,
)
# Searching for the pattern above is slow: only sentences holding one of these words are.
_CALL_WORDS = ("cliquez", "click", "profitez", "abonne", "formulaire", "subscribe", "اضغط", "انقر")
_CODE = re.compile(
    r"\b(?:window|document)\.\w|\bfunction\s*\(|\bvar\s+\w+\s*=|\b(?:let|const)\s+\w+\s*=|"
    r"=>|\bnew\s+[A-Z]\w*\(|\}\s*\)|\{\s*['\"]?\w+['\"]?\s*:|\w+\s*\(\s*\)\s*;|</?\w+[^>]*>"
)


def looks_like_code(sentence: str) -> bool:
    """Script or markup left in a scraped article ("window.pvp_... = new Pvp(...)")."""
    if _CODE.search(sentence):
        return True
    symbols = sum(sentence.count(ch) for ch in "{}=;<>[]\\|")
    return symbols >= 4 and symbols > 0.05 * len(sentence)


def _calls_to_action(sentence: str) -> bool:
    lowered = sentence.lower()
    return any(word in lowered for word in _CALL_WORDS) and bool(_CALL_TO_ACTION.search(sentence))


def is_boilerplate(sentence: str) -> bool:
    """A byline, photo credit, "read also" link, call to action or code: never in a summary."""
    if looks_like_code(sentence):
        return True
    words = len(sentence.split())
    if words <= 30 and _calls_to_action(sentence):
        return True
    if words > 14:
        return False
    return bool(_BYLINE.match(sentence) or _NAME_BYLINE.match(sentence.rstrip(".")))
