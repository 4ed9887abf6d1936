"""An Atom feed (RFC 4287) of one list's sent editions, for readers who follow it in a feed reader.

Each entry is one sent edition: its subject, its public archive page, when it was sent, and as
content its sections and articles (title linking to the article, source, summary) in plain
HTML, the email's layout left out. Nothing about subscribers is in it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from xml.etree import ElementTree as ET

from markupsafe import escape

from newsletter.render.view import EditionView

ATOM = "http://www.w3.org/2005/Atom"
FEED_SIZE = 20  # the newest sent editions a feed carries
MEDIA_TYPE = "application/atom+xml; charset=utf-8"

ET.register_namespace("", ATOM)


@dataclass(frozen=True)
class FeedEntry:
    url: str  # the edition's public archive page (also its id)
    sent_at: datetime
    view: EditionView


def atom_feed(
    *, title: str, subtitle: str, language: str, page_url: str, feed_url: str, author: str,
    entries: list[FeedEntry],
) -> bytes:
    """The feed's XML; ENTRIES newest first (the latest send is the feed's update time)."""
    feed = ET.Element(f"{{{ATOM}}}feed", {"{http://www.w3.org/XML/1998/namespace}lang": language})
    _text(feed, "title", title)
    if subtitle:
        _text(feed, "subtitle", subtitle)
    _text(feed, "id", page_url)
    _link(feed, "self", feed_url, "application/atom+xml")
    _link(feed, "alternate", page_url, "text/html")
    updated = max((_utc(entry.sent_at) for entry in entries), default=datetime(1970, 1, 1, tzinfo=UTC))
    _text(feed, "updated", _stamp(updated))
    _text(ET.SubElement(feed, f"{{{ATOM}}}author"), "name", author)
    for entry in entries:
        element = ET.SubElement(feed, f"{{{ATOM}}}entry")
        _text(element, "title", entry.view.subject)
        _text(element, "id", entry.url)
        _link(element, "alternate", entry.url, "text/html")
        _text(element, "published", _stamp(entry.sent_at))
        _text(element, "updated", _stamp(entry.sent_at))
        if entry.view.preheader:
            _text(element, "summary", entry.view.preheader)
        content = _text(element, "content", _content_html(entry.view))
        content.set("type", "html")
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


def _content_html(view: EditionView) -> str:
    parts = [f"<p>{escape(view.intro)}</p>"] if view.intro else []
    for section in view.sections:
        parts.append(f"<h2>{escape(section.title)}</h2>")
        for item in section.items:
            title = escape(item.title)
            heading = f'<a href="{escape(item.url)}">{title}</a>' if item.url else title
            source = f" <small>({escape(item.source)})</small>" if item.source else ""
            parts.append(f"<h3>{heading}{source}</h3>")
            if item.summary:
                parts.append(f"<p>{escape(item.summary)}</p>")
    return "\n".join(parts)


def _text(parent: ET.Element, tag: str, value: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{tag}")
    element.text = value
    return element


def _link(parent: ET.Element, rel: str, href: str, media_type: str) -> None:
    ET.SubElement(parent, f"{{{ATOM}}}link", {"rel": rel, "href": href, "type": media_type})


def _utc(moment: datetime) -> datetime:
    """MOMENT with its time zone; a naive time (SQLite gives those back) is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _stamp(moment: datetime) -> str:
    """RFC 3339, as Atom wants it."""
    return _utc(moment).isoformat(timespec="seconds")
