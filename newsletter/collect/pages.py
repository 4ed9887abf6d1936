"""One web page to one article, with trafilatura; then our boilerplate cleanup.

trafilatura finds the body, title, author and day of publication; the page's own metadata
(``article:published_time``, JSON-LD ``datePublished``, ``<html lang>``) gives the exact time and
the declared language; :func:`clean_text` removes what trafilatura lets through. Titles lose the
site name pages add to them; author lists lose the publisher and credit words ("Par", "Autor").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, NamedTuple
from urllib.parse import urljoin, urlsplit

import trafilatura
from lxml import etree

from newsletter.collect import jsonld
from newsletter.collect.article import CollectedArticle
from newsletter.collect.clean import clean_text, restore_nonbreaking_spaces
from newsletter.collect.dates import published
from newsletter.collect.feeds import primary_language
from newsletter.collect.titles import site_free_title, site_key, site_keys
from newsletter.errors import NoArticleError
from newsletter.words import count_words

MIN_WORDS = 20

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
    headlines = [
        " ".join(str(h).split())
        for h in tree.xpath(
            '//meta[@property="og:title" or @name="twitter:title"]/@content | (//h1)[1]//text()'
        )
    ]
    headlines.append(str(tree.xpath("normalize-space((//h1)[1])")))
    headlines += [
        jsonld.text(data.get("headline"))
        for data in jsonld.article_items(tree)
        if data.get("headline")
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
    page_url = url or document.url or ""
    site_names += [document.sitename or "", document.hostname or "", page_url]
    title = site_free_title((document.title or "").strip(), headlines, site_names)
    title = restore_nonbreaking_spaces(title, source_text)
    text = restore_nonbreaking_spaces(document.text or "", source_text)
    text = clean_text(text, title, declared_language)
    if count_words(text) < MIN_WORDS:
        raise NoArticleError(
            f"{where}: no article text found on the page "
            f"(fewer than {MIN_WORDS} words: a home page, a paywall or a page built by "
            "JavaScript?)",
            code="article-too-short", url=where, words=MIN_WORDS,
        )
    return CollectedArticle(
        title=title or _first_words(text),
        text=text,
        url=url or (document.url or ""),
        canonical_url=_declared_address(tree, page_url),
        author=_authors(document.author or "", tree, site_names, source_text),
        published=published(tree, page_url, document.date or ""),
        language=declared_language,
        categories=[c for c in (document.categories or []) if c],
        teaser=(document.description or "").strip(),
    )


def _declared_address(tree: Any, page_url: str) -> str:
    """The address the page gives as its own (``<link rel="canonical">``, else ``og:url``),
    absolute; "" when it names none we can trust: not http(s), or the site's home page for a
    page that is not (content systems that put their home page on every page)."""
    found = tree.xpath(
        '//link[contains(concat(" ", translate(@rel, "CANONICAL", "canonical"), " "),'
        ' " canonical ")]/@href | //meta[@property="og:url"]/@content'
    )
    for value in found:
        address = urljoin(page_url, str(value).strip())
        parts = urlsplit(address)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            continue
        if parts.path.strip("/") == "" and urlsplit(page_url).path.strip("/") != "":
            continue
        return address
    return ""


# --- authors -----------------------------------------------------------------------------

# Credit words before a name: "Par", "Autor", "Un documentaire de", "Written by".
_CREDIT = re.compile(
    r"^(?:(?:un|une|a|an|ein|eine)\s+\w+\s+(?:de|d['’]|by|von)\s*"
    r"|(?:written\s+by|par|by|door|por|auteure?|autor(?:in|a)?|author)\s*:?\s+"
    r"|texte?\s*:\s*)",
    re.IGNORECASE,
)


def _authors(found: str, tree: Any, site_names: list[str], page_text: str) -> str:
    """trafilatura's authors (FOUND, ";"-separated) without credit words, spelt as on the page.

    Organisations go when someone else is credited too: the publisher (JSON-LD ``publisher``
    and its parent, ``<meta name=publisher>``, the copyright holder, the site's names) and,
    when the JSON-LD names its authors as Persons, any other name the author meta tags give
    (a group, "Condé Nast", "Prisma Média"; a role, "Journalist"). Agencies credited next to
    people stay (dpa, Deutsche Presse-Agentur).
    """
    credits = _page_credits(tree)
    names: dict[str, str] = {}
    for name in found.split(";"):
        name = _CREDIT.sub("", name.strip()).strip()
        if name:
            name = _as_written(name, [*credits.written, page_text])
            names.setdefault(site_key(name).replace(" ", ""), name)
    publishers = credits.publishers | site_keys(site_names)
    people = []
    for key, name in names.items():
        words = site_key(name).split()
        if not (
            _names_publisher(words, publishers)
            or f" {' '.join(words)} " in f" {credits.copyright} "
            or (credits.persons and key not in credits.listed and _tagged(key, credits.tagged))
        ):
            people.append(name)
    return ", ".join(people or names.values())


# What may follow a publisher's name in a credit: "Heise Online", "… Zeitung GmbH", "….com"
_ORGANISATION_WORDS = {
    "ag", "co", "com", "de", "digital", "fr", "gmbh", "group", "groupe", "gruppe", "http",
    "https", "inc", "kg", "llc", "ltd", "media", "médias", "news", "online", "plc", "sa", "sas",
    "verlag",
}


def _names_publisher(words: list[str], publishers: set[str]) -> bool:
    """Whether the credit WORDS (keys) name one of the PUBLISHERS (keys without spaces)."""
    words = words[1:] if words[:1] == ["www"] else words
    return any(
        "".join(words[:n]) in publishers and set(words[n:]) <= _ORGANISATION_WORDS
        for n in range(1, len(words) + 1)
    )


class _Credits(NamedTuple):
    """What the page says of its authors and publisher; names as keys without spaces."""

    written: list[str]  # author names as the page writes them (meta tags, JSON-LD)
    publishers: set[str]
    copyright: str  # the copyright notice, as a key
    listed: set[str]  # the JSON-LD authors
    persons: bool  # whether some JSON-LD author is of type Person
    tagged: set[str]  # the names in author meta tags


_AUTHOR_TAGS = (
    '//meta[@name="author" or @property="article:author" or @name="article:author"'
    ' or @property="og:article:author"]/@content'
)
_NAMES_SEPARATOR = re.compile(r"\s*(?:[,;/|&]|\b(?:and|und|et)\b)\s*", re.IGNORECASE)


def _page_credits(tree: Any) -> _Credits:
    tagged = [str(v) for v in tree.xpath(_AUTHOR_TAGS)]
    publishers = [str(v) for v in tree.xpath('//meta[@name="publisher"]/@content')]
    nodes = {item.get("@id"): item for item in jsonld.items(tree) if "@id" in item}
    written, listed, persons = list(tagged), [], False
    for data in jsonld.article_items(tree):
        authors = jsonld.as_list(data.get("author"))
        for author in [a for item in authors for a in jsonld.as_list(item)]:  # lists nest at times
            name = jsonld.text(author.get("name") if isinstance(author, dict) else author)
            written.append(name)
            listed += _NAMES_SEPARATOR.split(name)
            persons |= isinstance(author, dict) and "Person" in jsonld.as_list(author.get("@type"))
        for role in ("publisher", "copyrightHolder", "sourceOrganization"):
            for owner in jsonld.as_list(data.get(role)):
                while isinstance(owner, dict):
                    if "name" not in owner and isinstance(nodes.get(owner.get("@id")), dict):
                        owner = nodes[owner.get("@id")]  # {"@id": "…#publisher"}, in @graph
                    publishers.append(jsonld.text(owner.get("name")))
                    owner = owner.get("parentOrganization")
    notices = tree.xpath('//meta[@name="copyright"]/@content')
    return _Credits(
        written=[w for w in written if w],
        publishers=_keys(publishers),
        copyright=" ".join(site_key(str(v)) for v in notices),
        listed=_keys(listed),
        persons=persons,
        tagged=_keys(n for value in tagged for n in _NAMES_SEPARATOR.split(value)),
    )


def _tagged(key: str, tagged: set[str]) -> bool:
    # trafilatura cuts "Associated Press in Valencia" to "Associated Press"
    return any(value.startswith(key) for value in tagged)


def _keys(names: Iterable[str]) -> set[str]:
    return {site_key(n).replace(" ", "") for n in names} - {""}


def _as_written(name: str, sources: list[str]) -> str:
    """NAME as the page writes it: trafilatura capitalises "dpa" and drops the dot of "ORF.at"."""
    words = [re.escape(w) for w in re.split(r"[\s._+]+", name) if w]
    if not words:
        return name
    pattern = re.compile(r"(?<!\w)" + r"[\s._+]+".join(words) + r"(?!\w)", re.IGNORECASE)
    for text in sources:
        for found in pattern.finditer(text):
            written = " ".join(found[0].split())
            # an initial's dot ("Miguel A. Herguedas") or a host's ("ORF.at"), not a user name
            if not re.search(r"[_+]|\.(?!\s|[A-Za-z]{2,3}$)", written):
                return written
    return name


# --- page metadata -----------------------------------------------------------------------


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
    for data in jsonld.article_items(tree):
        language = primary_language(jsonld.text(data.get("inLanguage")))
        if language:
            return language
    return ""


def _first_words(text: str, words: int = 12) -> str:
    first = text.split("\n", 1)[0].split()
    return " ".join(first[:words]) + ("…" if len(first) > words else "")
