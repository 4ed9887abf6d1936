"""The editor interface speaks French: every string of its templates and code is in the catalog."""

from __future__ import annotations

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from newsletter.web.i18n import LOCALE_DIR, translations

from .conftest import ROOT

TEMPLATES = "templates/web/editor/**.html"
CODE = "newsletter/web/editor/**.py"


def _used() -> dict[str, str]:
    found = extract_from_dir(
        str(ROOT),
        method_map=[(CODE, "python"), (TEMPLATES, "jinja2")],
        options_map={TEMPLATES: {"extensions": "jinja2.ext.i18n"}},
    )
    return {(m if isinstance(m, str) else m[0]): f"{path}:{line}" for path, line, m, *_ in found}


def test_every_interface_string_has_a_french_translation() -> None:
    used = _used()
    assert len(used) > 10
    translated: set[str] = set()
    for path in (LOCALE_DIR / "fr" / "LC_MESSAGES").glob("*.po"):
        with path.open("rb") as po:
            for m in read_po(po, locale="fr"):
                strings = m.string if isinstance(m.string, tuple) else (m.string,)
                if m.id and all(strings):  # a plural: every form translated
                    translated.add(m.id if isinstance(m.id, str) else m.id[0])
    missing = [f"{where}: {msgid!r}" for msgid, where in sorted(used.items()) if msgid not in translated]
    assert not missing, "add to newsletter/web/locale/fr/LC_MESSAGES/*.po:\n" + "\n".join(missing)


def test_catalog_is_read_without_a_compile_step() -> None:
    assert translations("fr").gettext("Log in") == "Se connecter"
    assert translations("en").gettext("Log in") == "Log in"
