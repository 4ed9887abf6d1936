"""OPML, the feed readers' exchange format: feeds to import as sources, and ours to export.

``read_opml`` takes what Feedly, Inoreader, NetNewsWire or Thunderbird export: every
``<outline>`` with an ``xmlUrl`` is a feed, with its title and the folder it sits in (the
nearest enclosing outline without ``xmlUrl``). Anything that is not OPML is an
:class:`InputError` (code ``not-opml``). ``write_opml`` writes the reverse, one folder per
source's first tag. ``source_name`` makes a source name (``SLUG_RE``) from a feed's title, or
its host when the title has no Latin letters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit
from xml.etree import ElementTree as ET

from newsletter.errors import InputError
from newsletter.words import strip_accents

NAME_MAX = 40  # a readable source name; the column takes 100


@dataclass(frozen=True)
class OpmlFeed:
    title: str
    url: str
    folder: str = ""  # the feed reader's folder ("Économie"), empty at the top level


def read_opml(data: bytes) -> list[OpmlFeed]:
    """The feeds of an OPML document, in its order; InputError if it is not OPML."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise InputError(f"not OPML: unreadable XML ({exc})", code="not-opml",
                         detail=str(exc)) from None
    if root.tag.lower() != "opml" or root.find("body") is None:
        raise InputError(f"not OPML: the document is <{root.tag}>, not <opml> with a <body>",
                         code="not-opml", detail=f"<{root.tag}>")
    feeds: list[OpmlFeed] = []

    def walk(element: ET.Element, folder: str) -> None:
        for outline in element.findall("outline"):
            title = " ".join((outline.get("title") or outline.get("text") or "").split())
            url = (outline.get("xmlUrl") or "").strip()
            if url:
                feeds.append(OpmlFeed(title, url, folder))
            walk(outline, folder if url else title or folder)

    walk(root.find("body"), "")  # type: ignore[arg-type]
    return feeds


def write_opml(title: str, feeds: list[OpmlFeed]) -> bytes:
    """An OPML 2.0 document of FEEDS, grouped in their folders (in first-seen order)."""
    root = ET.Element("opml", version="2.0")
    ET.SubElement(ET.SubElement(root, "head"), "title").text = title
    body = ET.SubElement(root, "body")
    folders: dict[str, ET.Element] = {}
    for feed in feeds:
        parent = body
        if feed.folder:
            if feed.folder not in folders:
                folders[feed.folder] = ET.SubElement(body, "outline", text=feed.folder,
                                                     title=feed.folder)
            parent = folders[feed.folder]
        name = feed.title or feed.url
        ET.SubElement(parent, "outline", type="rss", text=name, title=name, xmlUrl=feed.url)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def source_name(title: str, url: str, taken: set[str]) -> str:
    """A free source name for the feed TITLE at URL: "Le Matin — Économie" -> "le-matin-economie"."""
    base = _slug(title) or _slug((urlsplit(url).hostname or "").removeprefix("www.")) or "feed"
    name, n = base, 2
    while name in taken:
        suffix = f"-{n}"
        name, n = base[: NAME_MAX - len(suffix)] + suffix, n + 1
    return name


def folder_tag(folder: str) -> str:
    """The tag a feed reader's folder gives its feeds: "Économie" -> "economie" ("" if none)."""
    return _slug(folder)


def _slug(text: str) -> str:
    """TEXT in lower-case ASCII letters and digits, accents dropped, anything else a dash."""
    letters = strip_accents(text.lower())
    return re.sub(r"[^a-z0-9]+", "-", letters).strip("-")[:NAME_MAX].strip("-")
