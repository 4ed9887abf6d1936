"""Clean article text: page boilerplate out, paragraphs and typography kept.

Extractors (trafilatura, feed HTML) let through lines that belong to the page, not the
article: the "back to top" button, "Lire aussi : ..." links, share and comment prompts,
newsletter and cookie notices, JavaScript. ``clean_text`` drops a paragraph only when the
whole paragraph is such boilerplate, never a sentence inside a real one, and normalises
whitespace without touching French typography (the non-breaking spaces around « » and
before : ; ! ?, the apostrophe ’).

``html_to_text`` turns an HTML fragment (a feed's ``content:encoded``) into paragraphs and
``html_to_line`` a title or a name into one line; ``sanitize_html`` keeps foreign HTML down to a
few safe text tags.

Character references ("&amp;", "&#8217;", "&eacute;") are decoded exactly once, where text
enters: by the HTML parser, or by ``unescape_entities`` for text that holds no tag. Text that
has already been through either (``clean_text``'s input) is never decoded again, so an article
about "&amp;", written "&amp;amp;" in its HTML, keeps its "&amp;".
"""

from __future__ import annotations

import re
from html import unescape

import lxml.html
import nh3
from lxml import etree

from newsletter.words import strip_accents

# -- boilerplate paragraphs -----------------------------------------------------------------
# Patterns are written naturally and matched against ``_key(paragraph)``: accents, Arabic
# hamza/tanwin and case folded away, ’ -> ', non-breaking spaces -> spaces. Each must match
# the WHOLE paragraph (fullmatch).

_SEP = r"\s*[:\-–—|»>›→•·]*\s*"  # separators after a prompt: "Lire aussi :", "Read more »"
_SOCIAL = (
    r"facebook|twitter|x|linkedin|whatsapp|telegram|pinterest|messenger|reddit|tumblr|"
    r"e-?mail|mail|courriel|sms|flipboard|bluesky|threads|instagram|youtube|tiktok|"
    r"imprimer|print|copier le lien|copy link|copier|partager|share|tweet|"
    r"فيسبوك|تويتر|واتساب|تيليجرام|لينكدإن|البريد الإلكتروني|طباعة|مشاركة|شارك"
)
_EXACT = [
    # "back to top" buttons
    r"(bouton )?retour (en haut|vers le haut|au debut)( de (la )?page)?",
    r"haut de (la )?page|remonter( en haut( de la page)?)?",
    r"(back|scroll|go|return) to (the )?top( of (the )?page)?( button)?|top of page",
    r"(زر )?(الذهاب|العوده|الرجوع|انتقل) (الي|لاعلي|للاعلي) ?(الاعلي)?( الصفحه)?",
    r"الي الاعلي",
    # share prompts
    rf"(partager|partagez|share|شارك|مشاركه)"
    rf"( (cet|l')? ?(article|page|story|post|this( article| story| post)?|المقال|الخبر))?"
    rf"( (sur|via|on|by|عبر|علي) ({_SOCIAL}))?{_SEP}",
    rf"(({_SOCIAL})[\s,|/·•]*)+",
    r"(envoyer|send)( (cet article|this article|par e-?mail|by e-?mail|to a friend|a un ami))+",
    r"(enregistrer|sauvegarder|save)( (cet |l')?(article|for later|pour plus tard))?",
    r"(suivez|suivre|follow) ?(-?nous|us)( (sur|on) ({_SOCIAL}|google (news|actualites)).*)?",
    # comment prompts
    r"(laisser|laissez|ajouter|ecrire|poster|publier) un commentaire.*",
    r"(leave|post|add|write) a (comment|reply).*",
    r"(\d+ )?(comments?|commentaires?|reactions?)( \(\d+\))?",
    r"(reagir|reagissez|comment)( a cet article)?",
    r"vous devez etre connecte pour (publier|poster) un commentaire.*",
    r"(اترك|اضف|اكتب) (تعليقا|تعليق|ردا)|التعليقات|(\d+ )?تعليقات?",
    r"join our commenting forum|join thought-provoking conversations.{0,150}",  # The Independent
    # paywall prompts
    r"(pour )?(lire|continuer a lire|poursuivre) la suite(,| de cet article| de l'article)?"
    r".*(abonn|connect|compte).*|"
    r"pour lire la suite|(pour )?acceder en illimite.*|"
    r"(cet article|la suite de cet article|cet article premium) est reserve(e)? aux abonnes.*|"
    r"il vous reste \d+([.,]\d+)? ?% de (cet article|l'article) a lire.*|deja abonne.*|"
    r"(subscribe|sign in|log in) to (continue|keep) reading.*|already a subscriber.*|"
    r"this (article|content) is (only )?(available|reserved) (to|for) subscribers.*",
    # cookie banner buttons
    r"(tout |tous les )?(accepter|refuser|gerer|parametrer|personnaliser)( les| tous les)? cookies|"
    r"(accept|reject|manage|allow)( all)? cookies|cookie (policy|settings|preferences)|"
    r"(politique|gestion|parametres) (des |de |relative aux )?cookies|"
    r"tout accepter|tout refuser|accept all",
    # photo credits and captions' bylines
    r"(credits? photos?|credits? images?|photo credits?|copyright|image illustrative|"
    r"photo d'illustration|illustration|photos?|images?)\s*:\s*\S.{0,120}|(©|\(c\)).{0,80}",
    # "Photo by Chris Welch / The Verge", "... via Getty Images": the agency after the name
    r"(photo|photograph|picture|image|illustration|video)s? by [^/.!?]{1,60}(/| via ).{1,60}",
    # ads
    r"(publicite|advertisement|advertising|annonce|sponsorise|contenu sponsorise|sponsored|ad|pub|"
    r"اعلان)",
    r"(passer|fermer|ignorer) la publicite|skip (the )?ad(vertisement)?",
    # agency and aggregator footers
    r"our standards ?: the thomson reuters trust principles",
    r"voir la couverture complete( sur google (actualites|news))?|"
    r"(view|see) full coverage( on google news)?",
    # feed trailers (WordPress)
    r"the post .{1,300} appeared first on .{1,200}",
    r"(l'article|le post|cet article) .{1,300} est apparu en premier sur .{1,200}",
    r"(continue reading|continuer la lecture|lire la suite|read more|read the full (story|article)|"
    r"la suite apres (cette )?(la )?publicite|اقرا المزيد|تابع القراءه)"
    r"(\s*(on|sur|at|dans|in|في|علي|:|»|›|→|>|-)\s*.{0,60})?",
]
# Prompts followed by a short link text ("Lire aussi : Le Maroc ..."): at most 30 words, one
# sentence. French and Arabic labels are never how a real paragraph starts; English ones can
# be ("Read more about the plan..."), so they need an explicit separator after them.
_PREFIXED = [
    r"((a|à) )?lire (aussi|egalement|encore|en complement)|((a|à) )?voir aussi|"
    r"(sur le meme sujet|dans la meme rubrique|nos articles sur le sujet|les plus lus)",
    r"(اقرا|اقرئي) (ايضا|كذلك)|(اخبار|مقالات) (ذات صله|متعلقه)|اقرا المزيد",
    # newsletter sign-up
    r"(abonnez-vous|inscrivez-vous|recevez|s'abonner|s'inscrire)( gratuitement)? (a|aux) "
    r"(notre |nos |la |les )?(newsletters?|lettres? d'information|alertes?)",
    r"(subscribe|sign up)( now)?( for free)? (to|for) (our |the )?"
    r"(newsletters?|daily newsletter|emails)",
    r"sign up( here| now)? to (get|receive) (an? |our )?(e-?mails?|newsletters?|alerts?)",
    r"(اشترك|اشتركوا|سجل) (في|فى) (النشره|نشرتنا)",
]
_PREFIXED_STRICT = [
    r"(read|see) (more|also)|related( articles?| stories| posts)?|more( on this( story)?)?|"
    r"recommended( for you)?|you (may|might) also like",
]
# A cookie notice says who sets the cookies ("ce site", "we use") or how browsing consents;
# a sentence about cookies in an article does neither.
_COOKIES = re.compile(
    r"(ce site|notre site|nos partenaires|nous utilisons|this (web)?site|our (web)?site|"
    r"we and our partners|we use)\b.{0,200}\bcookies?"
    r"|en poursuivant (votre|la) navigation|en continuant (a naviguer|votre navigation)"
    r"|by continuing to (browse|use)"
)
# A consent dialog's text at the end of a page ("ARTE France et des tiers utilisent des cookies
# et autres traceurs", "Mesure d'audience : ...", "En cliquant sur « TOUT REFUSER »..."):
# only some of its lines are boilerplate on their own, so it goes as a whole (see
# _without_consent_notice).
_TRACKERS = re.compile(r"\bcookies?\b|\btraceurs?\b|\btrackers?\b|ملفات تعريف الارتباط")
# Asking the reader, not reporting on consent: an article may quote a "Tout refuser" button.
_CONSENT_ACTION = re.compile(
    r"\ben cliquant\b|\bvous (acceptez|refusez)\b|\bvotre consentement\b|"
    r"\bby clicking\b|\byou (accept|agree|consent)\b|\byour consent\b|بالنقر|موافقتك"
)
_MIN_NOTICE_LINES = 3
_MAX_NOTICE_LINE_WORDS = 60

# -- JavaScript that leaked into the text --------------------------------------------------
_JS = re.compile(
    r"(window|document|googletag|dataLayer|jQuery|_gaq|_paq|fbq|gtag|ga|console|pbjs|"
    r"__tcfapi|tarteaucitron|Didomi|OneTrust)\s*[.(\[=].*"
    r"|(var|let|const)\s+[\w$]+\s*=.*"
    r"|(async\s+)?function\s*[\w$]*\s*\(.*|\(\s*function\s*\(.*|\(\s*\)\s*=>.*"
    r"|\$\s*\(.*\)\s*[.;].*"
    r"|if\s*\(.*\)\s*\{.*|(try|else)\s*\{.*|\}\s*(catch|else|finally)\b.*"
    r"|[\w$]+(\.[\w$]+)+\s*=\s*.+;?"
    r"|[\w$]+(\.[\w$]+)*\(.*\)\s*;"
    r"|[\s{}()\[\];,]+"
    r"|<!--.*|.*-->|<script\b.*|</script>|//\s*<!\[CDATA\[.*|//\s*\]\]>"
)

_ARABIC_FOLD = str.maketrans({"ى": "ي", "ة": "ه", "ـ": None, "أ": "ا", "إ": "ا", "آ": "ا"})


def _fold(text: str) -> str:
    """Accents and Arabic hamza/tanwin/ta marbuta folded away (safe on regex source too)."""
    return strip_accents(text.translate(_ARABIC_FOLD)).translate(_ARABIC_FOLD)


_EXACT_RE = [re.compile(_fold(p)) for p in _EXACT]
_PREFIXED_RE = re.compile(
    _fold(
        rf"({'|'.join(_PREFIXED)}){_SEP}(?P<rest>.*)"
        rf"|({'|'.join(_PREFIXED_STRICT)})(\s*[:|»>›→•·–—-]+\s*(?P<rest2>.*))?"
    )
)
_MAX_EXACT_WORDS = 40
_ZERO_WIDTH = re.compile("[\u200b\u2060\ufeff\u00ad]")
_SPACES = re.compile(r"[ \t\f\v\r\u1680\u3000]+")
_SPACES_AROUND_NBSP = re.compile(r" *([\u00a0\u202f]) *")


def _key(text: str) -> str:
    """The form boilerplate patterns are matched against (see the comment above)."""
    text = text.replace("\u00a0", " ").replace("\u202f", " ").replace("’", "'").replace("‘", "'")
    text = _fold(text).casefold()
    return re.sub(r"\s+", " ", text).strip(" .!…")


def is_boilerplate(paragraph: str) -> bool:
    """True when the whole PARAGRAPH is page furniture, not article text."""
    stripped = paragraph.strip()
    if not stripped:
        return True
    if _JS.fullmatch(stripped):
        return True
    key = _key(stripped)
    if not key:
        return True
    words = len(key.split())
    if words <= _MAX_EXACT_WORDS and any(p.fullmatch(key) for p in _EXACT_RE):
        return True
    match = _PREFIXED_RE.fullmatch(key)
    if match:
        # a link text is one headline: at most 30 words, no second sentence
        rest = match.group("rest") or match.group("rest2")
        if not rest or (len(rest.split()) <= 30 and not re.search(r"[.!?] \S", rest)):
            return True
    if words <= 80 and "cookie" in key and _COOKIES.search(key):
        return True
    return False


def normalise_line(line: str) -> str:
    """Collapse runs of spaces and tabs, keep the non-breaking spaces of French typography."""
    line = _ZERO_WIDTH.sub("", line)
    line = _SPACES.sub(" ", line)
    line = _SPACES_AROUND_NBSP.sub(r"\1", line)  # "mot \u00a0:" -> "mot\u00a0:"
    return line.strip(" \u00a0\u202f\u2009")


_TABLE_EDGES = re.compile(r"^(?:\|\s*)+|(?:\s*\|)+$")


def _out_of_layout_table(line: str) -> str:
    """LINE without the cell borders of a page laid out in a table ("| | Le texte... | |").

    A row of a real table ("| 2002 | Vladimír Špidla | 30 |") keeps them.
    """
    inner = _TABLE_EDGES.sub("", line)
    return line if "|" in inner else inner


_TITLE_SEP = re.compile(r"\s+[|–—•-]{1,2}\s+")


def _norm(text: str) -> str:
    return re.sub(r"[\W_]+", " ", _key(text)).strip()


def _same_title(paragraph: str, title: str) -> bool:
    """PARAGRAPH is the title, or the title with a site name or section ("Titre | Site")."""
    if not title:
        return False
    headline = _norm(title)
    # the page title may carry the site name: "Titre - Le Site" or "Titre | DW | 23.05.2011"
    variants = {headline}
    parts = _TITLE_SEP.split(title)
    for end in range(1, len(parts)):
        variants.add(_norm(" ".join(parts[:end])))
    if _norm(paragraph) in variants:
        return True
    pieces = _TITLE_SEP.split(paragraph)
    return (
        len(pieces) > 1
        and _norm(pieces[0]) in variants
        and all(len(p.split()) <= 4 for p in pieces[1:])
    )


def clean_text(text: str, title: str = "", language: str = "") -> str:
    """Article TEXT without page boilerplate, one blank line between paragraphs.

    Every non-empty line is a paragraph. TITLE, when given, is dropped from the first lines
    where the extractor repeated it. LANGUAGE is accepted for callers that know it; the
    patterns cover French, English and Arabic whatever it says.
    """
    del language  # the patterns are few and unambiguous across fr/en/ar
    paragraphs = [
        _out_of_layout_table(normalise_line(line))
        for line in text.replace("\r\n", "\n").split("\n")
    ]
    paragraphs = _without_consent_notice([p for p in paragraphs if p and not is_boilerplate(p)])
    # a title repeated at the top (sometimes after a kicker, or as "Title | Section | Site")
    kept = [p for p in paragraphs[:2] if not _same_title(p, title)] + paragraphs[2:]
    return "\n\n".join(kept)


def _without_consent_notice(paragraphs: list[str]) -> list[str]:
    """PARAGRAPHS without the cookie consent dialog that ends them, if it does.

    The dialog is the longest run of short lines up to the end, at least three, half of
    them about cookies or trackers and one asking the reader's consent ("en cliquant sur",
    "vous acceptez"), after some article text. A line it leaves unfinished before it ("nous
    vous informons que sur le site ARTE RADIO,") goes with it.
    """
    start, about, asks = len(paragraphs), 0, False
    for i in range(len(paragraphs) - 1, 0, -1):  # growing the tail from the end
        key = _key(paragraphs[i])
        if len(key.split()) > _MAX_NOTICE_LINE_WORDS:
            break
        trackers = bool(_TRACKERS.search(key))
        about += trackers
        asks = asks or bool(_CONSENT_ACTION.search(key))
        size = len(paragraphs) - i
        if trackers and asks and size >= _MIN_NOTICE_LINES and 2 * about >= size:
            start = i
    kept = paragraphs[:start]
    if start < len(paragraphs) and kept and kept[-1].endswith((",", ":")):
        kept.pop()
    return kept if kept else paragraphs


# (?<!\S) anchors each match at the start of a word: linear time on long unbroken strings
_NB_PAIR = re.compile(r"(?<!\S)(\S{1,20}|\S+?(\S{20}))([\u00a0\u202f])(?=(\S{1,20}))")
_SPACE_PAIR = re.compile(r"(?<!\S)(\S+) (?=(\S{1,20}))")


def restore_nonbreaking_spaces(text: str, source: str) -> str:
    """Put back the non-breaking spaces of SOURCE that an extractor turned into plain spaces.

    trafilatura normalises every space; a plain space in TEXT goes back to U+00A0 or U+202F
    where SOURCE had that non-breaking space between the same two words (« nous », 12 %).
    """
    pairs = {(m.group(1)[-20:], m.group(4)): m.group(3) for m in _NB_PAIR.finditer(source)}
    if not pairs:
        return text

    def swap(match: re.Match[str]) -> str:
        space = pairs.get((match.group(1)[-20:], match.group(2)), " ")
        return match.group(1) + space

    return _SPACE_PAIR.sub(swap, text)


# -- HTML ---------------------------------------------------------------------------------

_BLOCK_TAGS = {
    "p",
    "div",
    "section",
    "article",
    "header",
    "footer",
    "main",
    "aside",
    "blockquote",
    "li",
    "ul",
    "ol",
    "dl",
    "dt",
    "dd",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "pre",
    "table",
    "tr",
    "figure",
    "figcaption",
    "address",
    "hr",
    "details",
    "summary",
}
_DROP_TAGS = {
    "script",
    "style",
    "noscript",
    "iframe",
    "object",
    "embed",
    "svg",
    "form",
    "button",
    "nav",
    "template",
    "canvas",
    "video",
    "audio",
    "select",
    "textarea",
    "head",
    "title",
}


# A complete character reference; one without its ";" ("AT&T", "R&D") is left as written.
_REFERENCE = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_TAG = re.compile(r"<!--|</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?/?>")
# Markup escaped once more than the rest ("&lt;p&gt;Texte&lt;/p&gt;"), once decoded: a fragment
# that starts with a tag or closes one. "Use the &lt;br&gt; tag" is a text about a tag.
_OPENING_TAG = re.compile(r"\s*<[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?/?>")
_CLOSING_TAG = re.compile(r"</[A-Za-z][A-Za-z0-9]*\s*>")


def unescape_entities(text: str) -> str:
    """TEXT with its HTML character references decoded, once: "d&#8217;Essaouira" ->
    "d’Essaouira", "&amp;amp;" -> "&amp;". An unknown name ("&foo;") stays as written."""
    if "&" not in text:
        return text
    return _REFERENCE.sub(lambda match: unescape(match.group()), text)


def html_to_text(html: str) -> str:
    """Paragraphs of an HTML fragment as plain text (one line each), before ``clean_text``.

    A fragment without tags is text with character references (a feed's plain summary,
    "&quot;Klasse&quot;"): they are decoded and its lines kept. When decoding reveals markup
    ("&lt;p&gt;…&lt;/p&gt;": feeds often escape their HTML twice), that markup is read too.
    """
    if not html or not html.strip():
        return ""
    if not _TAG.search(html):
        text = unescape_entities(html)
        if not (_OPENING_TAG.match(text) or _CLOSING_TAG.search(text)):
            return text
        html = text
    try:
        root = lxml.html.fragment_fromstring(html, create_parent="div")
    except (etree.ParserError, ValueError):
        return ""
    lines: list[str] = []
    current: list[str] = []

    def flush() -> None:
        line = re.sub(r"[ \t\r\n]+", " ", "".join(current)).strip()
        if line:
            lines.append(line)
        current.clear()

    def walk(element: etree._Element) -> None:
        tag = element.tag if isinstance(element.tag, str) else ""
        if tag in _DROP_TAGS or not tag:
            if element.tail:
                current.append(element.tail)
            return
        block = tag in _BLOCK_TAGS
        if block:
            flush()
        if tag == "br":
            flush()
        if tag in ("td", "th"):
            current.append(" ")
        if element.text:
            current.append(element.text)
        for child in element:
            walk(child)
        if block:
            flush()
        if element.tail:
            current.append(element.tail)

    walk(root)
    flush()
    return "\n".join(lines)


def html_to_line(html: str) -> str:
    """A title, a name or a category from a feed or an import: tags out, character references
    decoded (see :func:`html_to_text`), one line, French typography kept."""
    return normalise_line(html_to_text(html).replace("\n", " "))


ALLOWED_TAGS = {
    "p",
    "br",
    "a",
    "strong",
    "em",
    "b",
    "i",
    "ul",
    "ol",
    "li",
    "blockquote",
    "h2",
    "h3",
    "h4",
}


def sanitize_html(html: str) -> str:
    """HTML from elsewhere reduced to basic text tags; links made safe (rel=noopener...)."""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        clean_content_tags={"script", "style", "noscript", "iframe", "object", "template"},
        attributes={"a": {"href"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )
