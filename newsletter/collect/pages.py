"""One web page to one article, with trafilatura; then our boilerplate cleanup.

trafilatura finds the body, title, author and day of publication; the page's own metadata
(``article:published_time``, JSON-LD ``datePublished``, ``<html lang>``) gives the exact time and
the declared language; :func:`clean_text` removes what trafilatura lets through.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import trafilatura
from lxml import etree

from newsletter.collect.article import CollectedArticle
from newsletter.collect.clean import clean_text, restore_nonbreaking_spaces
from newsletter.collect.feeds import primary_language
from newsletter.errors import NoArticleError
from newsletter.words import count_words

MIN_WORDS = 20

# Page metadata holding the publication time, most specific first.
_DATE_XPATHS = (
    '//meta[@property="article:published_time"]/@content',
    '//meta[@property="og:article:published_time"]/@content',
    '//meta[@name="article:published_time"]/@content',
    '//meta[@itemprop="datePublished"]/@content',
    '//meta[@name="pubdate" or @name="publishdate" or @name="date"]/@content',
    '//meta[@name="DC.date.issued"]/@content',
    '//*[@itemprop="datePublished"]/@datetime',
    "//time[@pubdate]/@datetime",
)
_LANG_XPATHS = (
    "/html/@lang",
    "/html/@xml:lang",
    '//meta[translate(@http-equiv, "CONTENT-LANGUAGE", "content-language")="content-language"]'
    "/@content",
    '//meta[@property="og:locale"]/@content',
    '//meta[@name="language" or @name="lang" or @name="DC.language"]/@content',
)


def extract_article(html: str | bytes, url: str = "", *, label: str = "") -> CollectedArticle:
    """The article on the page HTML (fetched from URL); raises :class:`NoArticleError`.

    LABEL names the page in messages (a file path); it defaults to URL. Bytes are decoded
    by trafilatura (declared charset, then detection).
    """
    where = label or url or "page"
    tree = trafilatura.load_html(html)
    if tree is None:
        raise NoArticleError(
            f"{where}: not an HTML page (empty or unreadable)", code="not-html", url=where
        )
    declared_language = _page_language(tree)
    published = _page_date(tree)
    headlines = [
        " ".join(str(h).split())
        for h in tree.xpath(
            '//meta[@property="og:title" or @name="twitter:title"]/@content | (//h1)[1]//text()'
        )
    ]
    site_names = [str(v) for v in tree.xpath('//meta[@property="og:site_name"]/@content')]
    source_text = "\n".join(
        tree.xpath(
            "//body//text()[not(ancestor::script or ancestor::style)]"
            ' | //title/text() | //meta[@property="og:title"]/@content'
        )
    )
    document = trafilatura.bare_extraction(
        tree,
        url=url or None,
        with_metadata=True,
        include_comments=False,
        include_tables=True,
        include_images=False,
        deduplicate=False,
    )
    if document is None:
        raise NoArticleError(
            f"{where}: no article text found on the page", code="no-article", url=where
        )
    site_names += [document.sitename or "", document.hostname or "", urlsplit(url).hostname or ""]
    title = site_free_title((document.title or "").strip(), headlines, site_names)
    title = restore_nonbreaking_spaces(title, source_text)
    text = restore_nonbreaking_spaces(document.text or "", source_text)
    text = clean_text(text, title, declared_language)
    if count_words(text) < MIN_WORDS:
        raise NoArticleError(
            f"{where}: no article text found on the page "
            f"(fewer than {MIN_WORDS} words: a home page, a paywall or a page built by JavaScript?)",
            code="article-too-short", url=where, words=MIN_WORDS,
        )
    return CollectedArticle(
        title=title or _first_words(text),
        text=text,
        url=url or (document.url or ""),
        author=_author(document.author or ""),
        published=_choose_date(published, document.date or ""),
        language=declared_language,
        categories=[c for c in (document.categories or []) if c],
        teaser=(document.description or "").strip(),
    )


_TITLE_PARTS = re.compile(r"\s+(?:[|–—•·»]|-|::)\s+")
_DATE_PART = re.compile(r"[\d./ -]{6,}")


def site_free_title(title: str, headlines: list[str], site_names: list[str]) -> str:
    """TITLE without the site name pages add to it ("Titre - Le Site", "Titre | DW | 23.05.2011").

    A prefix of TITLE equal to one of the page's HEADLINES (og:title, the first h1) wins;
    otherwise trailing parts that name the site (SITE_NAMES: og:site_name, host) or are dates go.
    """
    parts = _TITLE_PARTS.split(title)
    if len(parts) < 2:
        return title
    separators = _TITLE_PARTS.findall(title)
    wanted = {_site_key(h) for h in headlines if h}
    for end in range(len(parts) - 1, 0, -1):
        prefix = _join(parts[:end], separators)
        if _site_key(prefix) in wanted:
            return prefix
    sites = set()
    for name in site_names:
        key = _site_key(name)
        if key:
            sites.add(key.replace(" ", ""))
            if "." in name:  # a host: "golem.de" also names the site "golem"
                sites.add(key.rsplit(" ", 1)[0].replace(" ", ""))
    while len(parts) > 1:
        last = _site_key(parts[-1]).replace(" ", "")
        if not (_DATE_PART.fullmatch(parts[-1]) or last in sites):
            break
        parts.pop()
    return _join(parts, separators)


def _join(parts: list[str], separators: list[str]) -> str:
    out = parts[0]
    for part, separator in zip(parts[1:], separators):
        out += separator + part
    return out


def _site_key(text: str) -> str:
    return re.sub(r"[\W_]+", " ", text.casefold().replace("www.", "")).strip()


def _page_language(tree: Any) -> str:
    for xpath in _LANG_XPATHS:
        try:
            values = tree.xpath(xpath, namespaces={"xml": "http://www.w3.org/XML/1998/namespace"})
        except etree.XPathError:
            continue
        for value in values:
            language = primary_language(str(value))
            if language:
                return language
    for data in _json_ld(tree):
        language = primary_language(str(data.get("inLanguage") or ""))
        if language:
            return language
    return ""


def _page_date(tree: Any) -> datetime | None:
    for data in _json_ld(tree):
        found = parse_datetime(str(data.get("datePublished") or ""))
        if found:
            return found
    for xpath in _DATE_XPATHS:
        for value in tree.xpath(xpath):
            found = parse_datetime(str(value))
            if found:
                return found
    return None


def _choose_date(precise: datetime | None, day: str) -> datetime | None:
    """The page's exact time when it agrees with trafilatura's day, else that day at 00:00 UTC."""
    found_day = parse_datetime(day[:10]) if day else None
    # compare calendar days where the page was published, before converting to UTC
    if precise and (found_day is None or precise.date() == found_day.date()):
        return precise.astimezone(UTC)
    return found_day


def parse_datetime(value: str) -> datetime | None:
    """An ISO 8601 date or time as an aware datetime (naive ones are taken as UTC)."""
    value = value.strip()
    if not re.match(r"\d{4}-\d{2}-\d{2}", value):
        return None
    value = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", value.replace("Z", "+00:00"))
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        try:
            moment = datetime.fromisoformat(value[:10])
        except ValueError:
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


def _json_ld(tree: Any) -> list[dict[str, Any]]:
    """The JSON-LD objects of the page that describe an article (flattened @graph)."""
    found: list[dict[str, Any]] = []
    for script in tree.xpath('//script[@type="application/ld+json"]/text()'):
        try:
            data = json.loads(script)
        except ValueError:
            continue
        stack = data if isinstance(data, list) else [data]
        while stack:
            item = stack.pop(0)
            if not isinstance(item, dict):
                continue
            graph = item.get("@graph")
            if isinstance(graph, list):
                stack.extend(graph)
            kind = item.get("@type")
            kinds = kind if isinstance(kind, list) else [kind]
            if any(
                isinstance(k, str) and k.endswith(("Article", "Posting", "Report")) for k in kinds
            ):
                found.append(item)
    return found


def _author(value: str) -> str:
    names = [n.strip() for n in value.split(";") if n.strip()]
    return ", ".join(dict.fromkeys(names))


def _first_words(text: str, words: int = 12) -> str:
    first = text.split("\n", 1)[0].split()
    return " ".join(first[:words]) + ("…" if len(first) > words else "")
