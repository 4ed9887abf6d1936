"""The editor interface speaks French: every string of its templates and code is in the catalog."""

from __future__ import annotations

import re

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.catalog import Message
from babel.messages.pofile import read_po

from newsletter.errors import EditionError, InputError, RenderError
from newsletter.web.editor.problems import IN_COLLECT, PROBLEMS, describe, say
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


def _french() -> list[tuple[str, Message]]:
    """(catalog file name, message) of every French catalog, the catalogs' headers left out."""
    found = []
    for path in (LOCALE_DIR / "fr" / "LC_MESSAGES").glob("*.po"):
        with path.open("rb") as po:
            found += [(path.name, m) for m in read_po(po, locale="fr") if m.id]
    return found


def _strings(message: Message) -> tuple[str, ...]:
    """A message's translations: one, or each plural form."""
    return message.string if isinstance(message.string, tuple) else (message.string,)


def test_every_interface_string_has_a_french_translation() -> None:
    used = _used()
    assert len(used) > 10
    translated = {
        m.id if isinstance(m.id, str) else m.id[0]
        for _, m in _french()
        if all(_strings(m))  # a plural: every form translated
    }
    missing = [f"{where}: {msgid!r}" for msgid, where in sorted(used.items()) if msgid not in translated]
    assert not missing, "add to newsletter/web/locale/fr/LC_MESSAGES/*.po:\n" + "\n".join(missing)


def test_catalog_is_read_without_a_compile_step() -> None:
    assert translations("fr").gettext("Log in") == "Se connecter"
    assert translations("en").gettext("Log in") == "Log in"


def test_every_translation_keeps_the_placeholders_of_its_message() -> None:
    """A translation that drops or renames a %(name)s would fail only when that message is shown."""
    placeholder = re.compile(r"%\((\w+)\)s")
    for name, m in _french():
        if isinstance(m.id, str) and m.string:
            expected = set(placeholder.findall(m.id))
            assert set(placeholder.findall(m.string)) == expected, (name, m.id)


def test_every_problem_the_app_translates_is_raised_by_the_library() -> None:
    """PROBLEMS' codes are the ones the library raises (no dead entry, no misspelt code)."""
    source = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "newsletter").rglob("*.py"))
    raised = set(re.findall(r'code(?:, hint)?\s*=\s*"([a-z0-9-]+)"', source))
    raised |= set(re.findall(r'code\s*=\s*"[a-z0-9-]+" if [^\n]+? else "([a-z0-9-]+)"', source))
    assert set(PROBLEMS) <= raised, sorted(set(PROBLEMS) - raised)


def test_a_problem_reads_in_the_editors_language_and_an_unknown_one_keeps_its_message() -> None:
    french = translations("fr").gettext
    locked = EditionError("edition 3 is sent", code="edition-closed", status="sent")
    assert describe(locked, french) == "Cette édition ne peut plus changer (état\u00a0: envoyée)."
    english = translations("en").gettext
    assert describe(locked, english) == "This edition can no longer change (status: sent)."
    broken = RenderError("templates/email/digest.mjml, line 4: unexpected '}'")
    assert describe(broken, french) == str(broken)


def test_an_address_refused_by_email_validator_reads_in_french() -> None:
    from newsletter.audience.members import normalise_email

    french = translations("fr").gettext
    for address, reason in [("bad-address", "il manque le signe @"), ("a@b", "il y manque un point")]:
        with pytest.raises(InputError) as refused:
            normalise_email(address)
        said = describe(refused.value, french)
        assert said.startswith(f"Adresse électronique invalide {address} (") and reason in said
        assert said.endswith(").") and "@-sign" not in said
    # a reason we have no translation for is shown as the library wrote it
    odd = InputError("x", code="email-invalid", email="a b@x.org", detail="Some new reason.")
    assert describe(odd, french) == "Adresse électronique invalide a b@x.org (Some new reason)."


def test_french_punctuation_keeps_its_no_break_space() -> None:
    """« : ; ? ! » take a space before them in French, one that never wraps onto the next line."""
    loose = re.compile(r" [:;?!»]|« ")
    for name, m in _french():
        assert not any(loose.search(s or "") for s in _strings(m)), (name, _strings(m))


def test_a_collect_says_its_own_next_step_for_an_address_and_the_catalog_keeps_one_meaning() -> None:
    """IN_COLLECT only replaces sentences of PROBLEMS (same code, same placeholders); the
    article-adding pages (no context) keep the catalog's own sentence."""
    placeholder = re.compile(r"%\((\w+)\)s")
    for context, sentences in IN_COLLECT.items():
        for code, sentence in sentences.items():
            assert code in PROBLEMS, (context, code)
            assert set(placeholder.findall(sentence)) == set(placeholder.findall(PROBLEMS[code]))
    french = translations("fr").gettext
    url = "https://a.example/x"
    pasted = say("url-invalid", {"url": url}, "", french)
    assert pasted.endswith("copiez-la de nouveau depuis la barre d’adresse du navigateur.")
    at_source = say("url-invalid", {"url": url, "context": "source"}, "", french)
    assert at_source == f"{url} n’est pas une adresse valide\u00a0: vérifiez l’adresse de la source."
    at_page = say("url-invalid", {"url": url, "teaser": "final"}, "", french)
    assert at_page.startswith(f"Le flux renvoie à {url}, qui n’est pas une adresse valide. L’extrait")
    # a code with no sentence of its own for a source keeps the catalog's
    gone = {"url": url, "status": 404}
    assert say("fetch-gone", {**gone, "context": "source"}, "", french) == say("fetch-gone", gone, "", french)
