"""The editor interface's strings through gettext: English message ids, catalogs per language.

The catalogs are the ``.po`` files in ``newsletter/web/locale/<lang>/LC_MESSAGES/`` (one per
part of the interface, merged), read at start-up with babel (no compile step: the ``.po`` is
the source and what ships). Add a string with ``_("...")`` in a template or ``gettext`` in
Python, then its translation to the part's catalog; ``tests/test_editor_i18n.py`` fails on a
string the French catalogs lack. With
babel installed, ``pybabel extract -F babel.cfg -o editor.pot .`` lists them all.
"""

from __future__ import annotations

import functools
import io
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from starlette.requests import Request

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "editor"
INTERFACE_LANGUAGES = ("fr", "en")
DEFAULT_INTERFACE = "fr"  # the first newsroom's


@functools.lru_cache(maxsize=None)
def translations(language: str) -> NullTranslations:
    """The catalogs of LANGUAGE, merged (English, the message ids themselves, when none)."""
    merged: NullTranslations = NullTranslations()
    for path in sorted((LOCALE_DIR / language / "LC_MESSAGES").glob("*.po")):
        with path.open("rb") as po:
            catalog = read_po(po, locale=language, domain=DOMAIN)
        buffer = io.BytesIO()
        write_mo(buffer, catalog, use_fuzzy=False)
        buffer.seek(0)
        part = Translations(buffer, domain=DOMAIN)
        merged = merged.merge(part) if isinstance(merged, Translations) else part
    return merged


def interface_language(request: Request, preferred: str = "") -> str:
    """PREFERRED (the editor's setting) when we have it, else the browser's, else French."""
    if preferred in INTERFACE_LANGUAGES:
        return preferred
    for part in request.headers.get("accept-language", "").split(","):
        code = part.split(";")[0].split("-")[0].strip().lower()
        if code in INTERFACE_LANGUAGES:
            return code
    return DEFAULT_INTERFACE
