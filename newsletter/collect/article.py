"""What every collector hands to the store: one article as found, before enrichment."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class CollectedArticle:
    """An article read from a feed entry, a page or a local file.

    ``text`` is clean plain text: paragraphs separated by one blank line, no page boilerplate.
    ``published`` is timezone-aware (UTC) when known. ``language`` is what the source declared
    (feed ``xml:lang``, ``<html lang>``), possibly empty; detection happens in ``enrich``.
    """

    title: str
    text: str
    url: str = ""
    # the address a page declares as its own (<link rel="canonical">), when it declares one
    canonical_url: str = ""
    guid: str = ""
    author: str = ""
    published: datetime | None = None
    language: str = ""
    categories: list[str] = field(default_factory=list)
    teaser: str = ""  # the feed's own description of the entry, when it had one
