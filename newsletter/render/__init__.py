"""Rendering editions: Jinja2 -> MJML -> HTML (mjml-python), a plain-text part, personalisation.

render_edition(view, templates_dir)  once per edition -> RenderedEdition (slots left in)
personalize(rendered, name=, unsubscribe_url=)  per recipient: the slots filled, cheaply
subject_for(list_name, day, language)  the default subject ("Revue de presse — samedi ...")
section_title(tag, language)  a readable default title for a tag's section
"""

from newsletter.render.email import render_edition
from newsletter.render.strings import section_title, subject_for
from newsletter.render.view import (
    SLOTS,
    EditionView,
    ItemView,
    RenderedEdition,
    SectionView,
    personalize,
)

__all__ = [
    "SLOTS",
    "EditionView",
    "ItemView",
    "RenderedEdition",
    "SectionView",
    "personalize",
    "render_edition",
    "section_title",
    "subject_for",
]
