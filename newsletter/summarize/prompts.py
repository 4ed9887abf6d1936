"""What the language model is asked, and what of its answer is accepted.

``build_messages`` writes the prompt in the article's language (French, English and Arabic;
English naming the language for the others) with the article cut by ``truncate`` at a
paragraph or sentence boundary. ``check_summary`` cleans the model's text and raises
``ValueError`` with the reason when it is unusable (see the rules in ``newsletter.summarize.llm``).
"""

from __future__ import annotations

import re

from babel import Locale

from newsletter.enrich.language import detect_language
from newsletter.summarize import count_words
from newsletter.summarize.sentences import (
    CLOSERS,
    END_MARKS,
    UNSPACED_MARKS,
    ends_sentence,
    join_sentences,
)

# A summary shorter than this is too short for the language check to be trusted.
MIN_CHECKED_WORDS = 6


# ---------------------------------------------------------------------------------------------
# The prompt

_PROMPTS = {
    "fr": (
        (
            "Tu résumes des articles de presse. Écris un résumé neutre et factuel de l'article "
            "ci-dessous, en français, en une ou deux phrases et en {words} mots au maximum. "
            "Réponds uniquement par le résumé : pas de préambule, pas de titre, pas de liste à "
            "puces, pas d'opinion."
        ),
        "Titre : {title}\n\n",
        "Article :\n{text}",
    ),
    "en": (
        (
            "You summarize news articles. Write a neutral, factual summary of the article "
            "below, {in_language}, in one or two sentences and at most {words} words. Reply "
            "with the summary only: no preamble, no title, no bullet points, no opinion."
        ),
        "Title: {title}\n\n",
        "Article:\n{text}",
    ),
    "ar": (
        (
            "أنت تلخّص المقالات الصحفية. اكتب ملخصًا محايدًا وموضوعيًا للمقال التالي باللغة "
            "العربية، في جملة أو جملتين، وفي {words} كلمة على الأكثر. أجب بالملخص فقط: بلا "
            "مقدمة ولا عنوان ولا نقاط ولا رأي."
        ),
        "العنوان: {title}\n\n",
        "المقال:\n{text}",
    ),
}

_PARAGRAPH_BREAK = re.compile(r"\n[ \t\u00a0]*\n")
# A sentence end where the text may be cut: an end mark and its closing quotes, then a space
# (none is needed after a Chinese or Japanese full stop).
_SENTENCE_END = re.compile(
    rf"[{END_MARKS}][\"'{re.escape(CLOSERS)}]*(?=\s)|[{UNSPACED_MARKS}][{re.escape(CLOSERS)}]*"
)


def truncate(text: str, max_chars: int) -> str:
    """TEXT cut to at most MAX_CHARS characters, at the last paragraph or sentence end that
    keeps at least half of them, else at a word boundary (never mid-word if avoidable)."""
    text = text.strip()
    if len(text) <= max_chars:
        return text
    head = text[:max_chars]
    floor = max_chars // 2
    breaks = [m.start() for m in _PARAGRAPH_BREAK.finditer(head) if m.start() >= floor]
    if breaks:
        return head[: breaks[-1]].rstrip()
    ends = [m.end() for m in _SENTENCE_END.finditer(head + " ") if m.end() >= floor]
    if ends:
        return head[: ends[-1]].rstrip()
    if not text[max_chars].isspace() and " " in head.rstrip():
        head = head[: head.rstrip().rfind(" ")]
    return head.rstrip()


def _in_language(language: str) -> str:
    if not language:
        return "in the same language as the article"
    if language == "en":
        return "in English"
    name = Locale("en").languages.get(language)
    return f"in {name}" if name else f"in the article's language ({language})"


def build_messages(
    text: str, *, title: str, language: str, max_words: int, max_input_chars: int
) -> list[dict[str, str]]:
    """The system and user messages asking for a summary of TEXT, in the article's language."""
    system, title_line, body = _PROMPTS.get(language, _PROMPTS["en"])
    system = system.format(words=max_words, in_language=_in_language(language))
    title = " ".join(title.split())
    user = (title_line.format(title=title) if title else "") + body.format(
        text=truncate(text, max_input_chars)
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


# ---------------------------------------------------------------------------------------------
# Checking the answer

_THINK = re.compile(r"^\s*<think>.*?</think>", re.DOTALL | re.IGNORECASE)
_QUOTES = {'"': '"', "«": "»", "“": "”", "'": "'", "‘": "’"}
_EMPHASIS = re.compile(r"\*\*|__|(?<!\w)\*(?=\S)|(?<=\S)\*(?!\w)")
_LABEL = re.compile(r"^(?:résumé|resume|summary|tl;?dr|ملخص|الملخص)\s*[:：]\s*", re.IGNORECASE)
_PREAMBLE = re.compile(
    r"""^(?:voici\b|voilà\b|bien\s+sûr\b|certainement\b|d'accord\b|d’accord\b
        |here(?:'s|’s|\s+is|\s+are)\b|below\s+is\b|(?:sure|certainly|of\s+course|ok(?:ay)?)\s*[,.!:]
        |إليك|اليك|إليكم|فيما\s+يلي|هذا\s+(?:هو\s+)?(?:ملخص|تلخيص)|بالتأكيد|حسنا|حسنًا)""",
    re.IGNORECASE | re.VERBOSE,
)
_SUMMARY_WORD = re.compile(
    r"\b(?:résumé|resume|summary|summari[sz]ed?)\b|ملخص|تلخيص", re.IGNORECASE
)
_CHATTY = re.compile(
    r"as an ai\b|en tant qu['’](?:ia|assistant)|let me know|n['’]hésitez pas|i hope this|"
    r"j['’]espère que ce",
    re.IGNORECASE,
)
_BULLET = re.compile(r"^\s*(?:[-*•–]|\d+[.)])\s+", re.MULTILINE)
_HEADING = re.compile(r"^\s*#", re.MULTILINE)


def _unquote(text: str) -> str:
    text = text.strip()
    while len(text) > 1 and _QUOTES.get(text[0]) == text[-1] and text[-1] not in text[1:-1]:
        text = text[1:-1].strip()
    return text


def check_summary(answer: str, *, language: str, max_words: int) -> str:
    """The model's ANSWER cleaned into one paragraph, or ValueError naming why it is unusable
    (see the module docstring for what is cleaned and what is rejected)."""
    text = _THINK.sub("", answer or "")
    if "<think>" in text.lower():
        raise ValueError("the answer is an unfinished <think> block")
    text = _EMPHASIS.sub("", _unquote(text))
    text = _unquote(_LABEL.sub("", text))
    if not text:
        raise ValueError("the answer is empty")
    first_line = text.split("\n", 1)[0]
    if _PREAMBLE.match(text):
        raise ValueError(f"the answer starts with a preamble ({_excerpt(first_line)!r})")
    head = text.split(":", 1)[0] if ":" in text else ""
    if head and count_words(head) <= 10 and _SUMMARY_WORD.search(head):
        raise ValueError(f"the answer starts with a preamble ({_excerpt(head + ':')!r})")
    chatty = _CHATTY.search(text)
    if chatty:
        raise ValueError(f"the answer talks to the reader ({chatty.group(0)!r})")
    if _BULLET.search(text) or _HEADING.search(text):
        raise ValueError("the answer is a list or has headings, not one or two sentences")
    paragraphs = [_one_line(p) for p in _PARAGRAPH_BREAK.split(text) if p.strip()]
    for paragraph in paragraphs[:-1]:
        if not ends_sentence(paragraph):
            raise ValueError(f"the answer starts with a title ({_excerpt(paragraph)!r})")
    text = join_sentences(paragraphs)
    words = count_words(text)
    if words > max_words:
        raise ValueError(f"the answer has {words} words, over the budget of {max_words}")
    if language and words >= MIN_CHECKED_WORDS:
        found = detect_language(text, hint=language)
        if found and found != language:
            raise ValueError(f"the answer is in {found!r}, not in the article's {language!r}")
    return text


def _one_line(paragraph: str) -> str:
    """PARAGRAPH's lines as one, whitespace collapsed, joined like ``join_sentences``."""
    lines = [" ".join(line.split()) for line in paragraph.splitlines()]
    return join_sentences([line for line in lines if line])


def _excerpt(text: str, size: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= size else text[: size - 1] + "…"


# ---------------------------------------------------------------------------------------------
# The client
