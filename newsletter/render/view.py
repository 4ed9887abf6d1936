"""What the renderer needs to know about an edition: plain data, no database.

``editions.py`` builds an :class:`EditionView` from the store; the renderer turns it into
MJML, HTML and text once per edition. Per-recipient values are left as slots (see
:data:`SLOTS`) and filled by :func:`personalize`, cheaply, for each recipient.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import date, datetime

# Placeholders left in the rendered HTML and text, replaced per recipient (also usable as
# SendGrid substitution keys). Chosen so no template, article or URL contains them by chance.
SLOTS = {
    "name": "%%recipient_name%%",
    "unsubscribe_url": "%%unsubscribe_url%%",
}


@dataclass
class ItemView:
    title: str
    summary: str
    url: str
    source: str  # the source's display name
    published: datetime | None = None
    language: str = ""
    also_in: list[tuple[str, str]] = field(default_factory=list)  # (source name, url)


@dataclass
class SectionView:
    key: str  # the tag
    title: str  # what readers see ("Économie")
    items: list[ItemView] = field(default_factory=list)


@dataclass
class EditionView:
    list_slug: str
    list_name: str
    language: str  # fr, en, ar...
    date: date
    subject: str
    preheader: str = ""
    intro: str = ""
    sections: list[SectionView] = field(default_factory=list)
    view_url: str = ""  # "view in browser" (the public archive page of this edition)
    archive_url: str = ""  # the list's public archive
    sender_name: str = ""
    template: str = "default"

    @property
    def direction(self) -> str:
        return "rtl" if self.language in RTL_LANGUAGES else "ltr"

    @property
    def item_count(self) -> int:
        return sum(len(s.items) for s in self.sections)


RTL_LANGUAGES = frozenset({"ar", "he", "fa", "ur"})


@dataclass(frozen=True)
class RenderedEdition:
    """An edition rendered once: subject, MJML source, final HTML and text, with slots."""

    subject: str
    mjml: str
    html: str
    text: str


def personalize(rendered: RenderedEdition, *, name: str, unsubscribe_url: str) -> tuple[str, str]:
    """The (html, text) of RENDERED for one recipient: slots replaced, HTML-escaped in HTML."""
    html_out = rendered.html.replace(SLOTS["name"], html.escape(name)).replace(
        SLOTS["unsubscribe_url"], html.escape(unsubscribe_url)
    )
    text_out = rendered.text.replace(SLOTS["name"], name).replace(
        SLOTS["unsubscribe_url"], unsubscribe_url
    )
    return html_out, text_out
