"""RSS and Atom feeds to collected articles, with feedparser.

``parse_feed`` reads RSS 0.9x, 1.0 (RDF) and 2.0 and Atom. A malformed feed whose entries
could still be recovered comes back with those entries and its ``warnings`` (each an English
message with a code and params, as errors carry them: see :mod:`newsletter.errors`); something
that is not a feed at all (an HTML page, garbage) is an :class:`InputError`. Links are returned
as the feed gives them (made absolute); canonicalising them is the store's business.

Every text field is read as HTML, whatever type feedparser guessed for it: RSS says nothing,
and feeds escape their titles and summaries once or twice ("L&#8217;économie", "&lt;p&gt;").
Character references are decoded once and escaped markup is stripped (see
:func:`~newsletter.collect.clean.html_to_text`).
"""

from __future__ import annotations

import re
import time
import xml.sax
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser

from newsletter.collect.article import CollectedArticle
from newsletter.collect.clean import clean_text, html_to_line, html_to_text
from newsletter.collect.titles import site_free_title
from newsletter.errors import InputError
from newsletter.words import count_words

# A body from content:encoded / atom:content is used when it says more than the summary.
SUBSTANTIAL_RATIO = 1.2
TEASER_END = re.compile(
    r"(\[\s*(…|\.\.\.)\s*\]|\(\s*(…|\.\.\.)\s*\)|…|\.\.\.|read more|continue reading|"
    r"lire la suite|la suite|suite de l'article|اقرأ المزيد|المزيد)\W*$",
    re.IGNORECASE,
)


@dataclass
class FeedWarning:
    """Something wrong with a feed that was read all the same: MESSAGE in English, without the
    feed's name; CODE and PARAMS (the feed's ``url`` left to the caller) for the web app."""

    message: str
    code: str
    params: dict[str, str | int] = field(default_factory=dict)


@dataclass
class ParsedFeed:
    title: str
    language: str
    entries: list[CollectedArticle] = field(default_factory=list)
    # set when the feed was malformed but entries were recovered, or entries were skipped
    warnings: list[FeedWarning] = field(default_factory=list)

    @property
    def warning(self) -> str:
        """The warnings as one line (empty when there is none)."""
        return "; ".join(w.message for w in self.warnings)


def parse_feed(data: bytes, url: str = "", *, label: str = "") -> ParsedFeed:
    """Entries of the feed DATA fetched from URL (used to resolve relative links).

    LABEL names the feed in messages (a file path); it defaults to URL.
    """
    where = label or url or "feed"
    if not data.strip():
        raise InputError(f"{where}: empty document, not a feed", code="not-a-feed", url=where)
    parsed = feedparser.parse(data)
    feed = parsed.feed
    problem, position = _bozo_reason(parsed) if parsed.bozo else ("", "")
    if not parsed.entries and (not parsed.version or problem):
        reason = f"{position}{problem}" or "no RSS or Atom element found"
        raise InputError(
            f"{where}: not a readable RSS/Atom feed ({reason}; "
            "check that the URL points to the feed, not the site's home page)",
            code="not-a-feed", url=where,
        )
    feed_language = primary_language(feed.get("language", ""))
    entries: list[CollectedArticle] = []
    skipped = 0
    for entry in parsed.entries:
        article = _entry_article(entry, url, feed_language)
        if article is None:
            skipped += 1
        else:
            entries.append(article)
    warnings = []
    if problem:
        warnings.append(FeedWarning(
            f"malformed feed, {len(entries)} entries recovered: {position}{problem}",
            code="feed-malformed", params={"entries": len(entries), "detail": problem},
        ))
    if skipped:
        warnings.append(FeedWarning(
            f"{skipped} entries without title, link or text were skipped",
            code="feed-entries-skipped", params={"skipped": skipped},
        ))
    return ParsedFeed(
        title=html_to_line(feed.get("title", "")),
        language=feed_language,
        entries=entries,
        warnings=warnings,
    )


def is_teaser(article: CollectedArticle, teaser_words: int = 80) -> bool:
    """True when the entry only carries a teaser: its page should be fetched for the text."""
    text = article.text.strip()
    if count_words(text) < teaser_words:
        return True
    return bool(TEASER_END.search(text))


def primary_language(tag: str) -> str:
    """'fr-BE' -> 'fr', 'en_US' -> 'en'; empty when TAG is empty or not a language code."""
    code = re.split(r"[-_]", tag.strip(), maxsplit=1)[0].lower()
    return code if re.fullmatch(r"[a-z]{2,3}", code) else ""


def _bozo_reason(parsed: Any) -> tuple[str, str]:
    """Why feedparser found the document malformed, and where ("line 3, column 7: ", or empty);
    no reason when only its charset or content type was wrong."""
    exc = parsed.get("bozo_exception")
    if exc is None:
        return "malformed document", ""
    if isinstance(exc, (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)):
        return "", ""  # a wrong charset or content type, but the XML itself was fine
    if isinstance(exc, xml.sax.SAXParseException):
        position = f"line {exc.getLineNumber()}, column {exc.getColumnNumber()}: "
        return exc.getMessage(), position
    return str(exc) or type(exc).__name__, ""


def _entry_article(entry: Any, base_url: str, feed_language: str) -> CollectedArticle | None:
    link = entry.get("link", "") or ""
    guid = entry.get("id", "") or ""
    if not link and guid.startswith(("http://", "https://")):
        link = guid
    try:
        link = urljoin(base_url, link) if link and base_url else link
        urlsplit(link)
    except ValueError:  # not a URL ("http://[::1/x"): the entry has no usable link
        link = ""
    summary_html = entry.get("summary", "") or ""
    content_html = max(
        (c.get("value", "") for c in entry.get("content", []) if c.get("value")),
        key=len,
        default="",
    )
    title = html_to_line(entry.get("title", ""))
    origin = entry.get("source") or {}  # an aggregator's entry names the outlet (Google News)
    if isinstance(origin, dict) and (origin.get("title") or origin.get("href")):
        names = [html_to_line(origin.get("title") or ""), origin.get("href") or ""]
        title = site_free_title(title, [], [n for n in names if n])
    teaser = clean_text(html_to_text(summary_html), title)
    body = clean_text(html_to_text(content_html), title) if content_html else ""
    if body and count_words(body) >= SUBSTANTIAL_RATIO * count_words(teaser):
        text = body
    else:
        text = teaser or body
    if not title:
        title = _title_from(text)
    if not title or not (link or text):
        return None
    return CollectedArticle(
        title=title,
        text=text,
        url=link,
        guid=guid,
        author=_author(entry),
        published=_published(entry),
        language=_entry_language(entry, feed_language),
        categories=_categories(entry),
        teaser=teaser,
    )


def _title_from(text: str, words: int = 12) -> str:
    first = text.split("\n", 1)[0].split()
    if not first:
        return ""
    return " ".join(first[:words]) + ("…" if len(first) > words else "")


_MAIL_AND_NAME = re.compile(r"^\S+@\S+\s*\((.+)\)$")


def _author(entry: Any) -> str:
    # RSS <author> is "mail@example.com (Name)": keep the name. Read from the element itself,
    # as feedparser splits it wrong when the domain ends in more than four letters (".media").
    rss_author = _MAIL_AND_NAME.match((entry.get("author") or "").strip())
    if rss_author:
        return html_to_line(rss_author.group(1))
    names = [a.get("name", "").strip() for a in entry.get("authors", []) if a.get("name")]
    if not names and entry.get("author"):
        names = [entry["author"].strip()]
    names = [_MAIL_AND_NAME.sub(r"\1", n) for n in names]
    return ", ".join(dict.fromkeys(html_to_line(n) for n in names if n))


def _published(entry: Any) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(key)
        if isinstance(value, time.struct_time):
            try:
                return datetime(*value[:6], tzinfo=UTC)
            except ValueError:
                continue
    return None


def _entry_language(entry: Any, feed_language: str) -> str:
    candidates = [entry.get("language", "")]
    candidates += [c.get("language") or "" for c in entry.get("content", [])]
    for detail in ("summary_detail", "title_detail"):
        candidates.append((entry.get(detail) or {}).get("language") or "")
    for candidate in candidates:
        language = primary_language(candidate or "")
        if language:
            return language
    return feed_language


def _categories(entry: Any) -> list[str]:
    terms = (html_to_line(t.get("term") or t.get("label") or "") for t in entry.get("tags", []))
    return list(dict.fromkeys(t for t in terms if t))
