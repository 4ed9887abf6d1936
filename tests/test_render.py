"""Rendering editions to email: HTML (MJML) and text parts, languages, escaping, slots, errors."""

from __future__ import annotations

import os
import re
import shutil
from datetime import date, datetime
from pathlib import Path

import pytest

from newsletter.errors import RenderError
from newsletter.render import (
    SLOTS,
    EditionView,
    ItemView,
    SectionView,
    personalize,
    render_edition,
    section_title,
    subject_for,
)

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = ROOT / "templates"
GOLDEN = Path(__file__).resolve().parent / "golden"
DAY = date(2026, 11, 28)
URL_LINE = re.compile(r"^(https?://|mailto:|%%)\S+$")


def fr_edition() -> EditionView:
    return EditionView(
        list_slug="matin",
        list_name="Le Point du matin",
        language="fr",
        date=DAY,
        subject="",
        intro="Trois sujets ce matin, dont un chantier portuaire et une saison culturelle chargée.",
        sections=[
            SectionView(
                key="economie",
                title=section_title("economie", "fr"),
                items=[
                    ItemView(
                        title="Quai & <script>alert(1)</script> : le chantier du port avance",
                        summary=(
                            "Les travaux du nouveau quai de commerce entrent dans leur deuxième "
                            "phase. L'autorité portuaire annonce une mise en service partielle "
                            "avant l'été, avec deux grues supplémentaires et un accès ferroviaire "
                            "direct vers la zone logistique située au sud de la ville."
                        ),
                        url="https://quotidien.example/economie/port-chantier-quai-deuxieme-phase-2026?ref=rss&id=42",
                        source="Le Quotidien d'exemple",
                        published=datetime(2026, 11, 27, 18, 30),
                        language="fr",
                        also_in=[
                            ("L'Hebdo fictif", "https://hebdo.example/2026/11/port-quai"),
                            ("Piège", "javascript:alert(2)"),
                        ],
                    ),
                    ItemView(
                        title="Les coopératives agricoles misent sur le stockage de l'eau",
                        summary="Une vingtaine de coopératives testent des bassins couverts.",
                        url="https://quotidien.example/economie/cooperatives-eau",
                        source="Le Quotidien d'exemple",
                        published=datetime(2026, 11, 28, 6, 0),
                        language="fr",
                    ),
                ],
            ),
            SectionView(
                key="culture",
                title=section_title("culture", "fr"),
                items=[
                    ItemView(
                        title="Festival de musique : la programmation dévoilée",
                        summary="Onze concerts gratuits sur trois places de la médina.",
                        url="https://magazine.example/culture/festival-programmation",
                        source="Magazine imaginaire",
                        language="fr",
                    )
                ],
            ),
            SectionView(key="vide", title="Vide", items=[]),
        ],
        view_url="https://lettre.example/archives/matin/2026-11-28",
        archive_url="https://lettre.example/archives/matin",
    )


def en_edition() -> EditionView:
    return EditionView(
        list_slug="brief",
        list_name="Morning Brief",
        language="en",
        date=DAY,
        subject="Morning Brief: ports and festivals",
        preheader="The port works, water storage and a music festival",
        sections=[
            SectionView(
                key="economie",
                title=section_title("economie", "en"),
                items=[
                    ItemView(
                        title="Port works enter second phase",
                        summary="Two more cranes and a rail link are planned before summer.",
                        url="https://daily.example/business/port-works",
                        source="The Example Daily",
                        published=datetime(2026, 11, 27, 9, 0),
                        language="en",
                    )
                ],
            )
        ],
        view_url="https://letters.example/brief/2026-11-28",
    )


def ar_edition() -> EditionView:
    return EditionView(
        list_slug="sabah",
        list_name="نشرة الصباح",
        language="ar",
        date=DAY,
        subject="",
        intro="أهم الأخبار الاقتصادية والثقافية لهذا اليوم.",
        sections=[
            SectionView(
                key="economie",
                title=section_title("economie", "ar"),
                items=[
                    ItemView(
                        title="أشغال الميناء تدخل مرحلتها الثانية",
                        summary="تعلن إدارة الميناء عن تشغيل جزئي قبل الصيف مع رافعتين إضافيتين.",
                        url="https://jarida.example/iqtisad/mina",
                        source="جريدة المثال",
                        published=datetime(2026, 11, 27, 10, 0),
                        language="ar",
                        also_in=[("Le Quotidien d'exemple", "https://quotidien.example/port")],
                    ),
                    ItemView(
                        title="Un article resté en français",
                        summary="Ce résumé est en français dans une édition arabe.",
                        url="https://quotidien.example/fr-dans-ar",
                        source="Le Quotidien d'exemple",
                        language="fr",
                    ),
                ],
            )
        ],
        view_url="https://lettre.example/archives/sabah/2026-11-28",
        archive_url="https://lettre.example/archives/sabah",
    )


def big_edition(n: int) -> EditionView:
    """N items with realistic sizes: 12-word titles, 60-word summaries, ~90-character URLs."""
    words = [
        "chantier",
        "quai",
        "conseil",
        "région",
        "budget",
        "réforme",
        "saison",
        "équipe",
        "projet",
        "marché",
        "banque",
        "emploi",
        "jeunesse",
        "énergie",
        "agriculture",
        "tourisme",
        "festival",
        "ministère",
        "coopérative",
    ]
    tags = ["economie", "politique", "societe", "sport", "culture"]
    sections = [SectionView(key=t, title=section_title(t, "fr")) for t in tags]
    for i in range(n):
        phrase = [words[(i * 7 + k * 3) % len(words)] for k in range(60)]
        url = f"https://www.quotidien-exemple.example/actualites/{'-'.join(phrase[:5])}-{100000 + i}.html"
        sections[i % len(sections)].items.append(
            ItemView(
                title=" ".join(phrase[:12]).capitalize(),
                summary=" ".join(phrase).capitalize() + ".",
                url=url,
                source="Le Quotidien d'exemple",
                published=datetime(2026, 11, 27, 8, 0),
                language="fr",
                also_in=[("L'Hebdo fictif", url.replace("quotidien", "hebdo"))]
                if i % 3 == 0
                else [],
            )
        )
    return EditionView(
        list_slug="matin",
        list_name="Le Point du matin",
        language="fr",
        date=DAY,
        subject="",
        intro="Une édition chargée.",
        sections=sections,
        view_url="https://lettre.example/archives/matin/2026-11-28",
        archive_url="https://lettre.example/archives/matin",
    )


def block_styles(html: str) -> list[str]:
    """The style attribute of every p and h1-h3: our text blocks."""
    return re.findall(r"<(?:p|h[1-3])\b[^>]*\bstyle=\"([^\"]*)\"", html)


# --- languages ---------------------------------------------------------------------------------


def test_fr_edition_is_french_left_to_right() -> None:
    rendered = render_edition(fr_edition(), TEMPLATES)

    assert rendered.subject == "Le Point du matin — samedi 28 novembre 2026"
    assert re.search(r'<html[^>]* lang="fr"[^>]* dir="ltr"', rendered.html)
    assert "<title>Le Point du matin — samedi 28 novembre 2026</title>" in rendered.html
    assert "27 novembre 2026" in rendered.html and "27 novembre 2026" in rendered.text
    assert "Voir dans le navigateur" in rendered.html
    assert "Économie" in rendered.html and "ÉCONOMIE" in rendered.text
    assert "direction:rtl" not in rendered.html
    assert "Vide" not in rendered.html  # an empty section is not shown


def test_en_edition_uses_its_subject_and_preheader() -> None:
    rendered = render_edition(en_edition(), TEMPLATES)

    assert rendered.subject == "Morning Brief: ports and festivals"
    assert re.search(r'<html[^>]* lang="en"[^>]* dir="ltr"', rendered.html)
    assert "November 27, 2026" in rendered.html
    assert "Saturday, November 28, 2026" in rendered.text
    # the preheader: hidden text right after <body>
    body = rendered.html.split("<body", 1)[1]
    assert re.match(r'[^>]*><div style="display:none[^>]*>The port works, water storage', body)
    assert "View in your browser" in rendered.html and "Unsubscribe" in rendered.html


def test_ar_edition_is_right_to_left_and_right_aligned() -> None:
    rendered = render_edition(ar_edition(), TEMPLATES)
    html = rendered.html

    assert re.search(r'<html[^>]* lang="ar"[^>]* dir="rtl"', html)
    assert 'role="article" lang="ar" dir="rtl"' in html  # MJML's wrapper, kept by Gmail
    assert "نونبر" in rendered.subject and "نونبر" in html and "نونبر" in rendered.text
    assert "28" in rendered.subject  # Latin digits, as Moroccan papers print them
    # MJML's text blocks are right-aligned, and so is every paragraph and heading of ours
    assert re.search(r'<td align="right"[^>]*><div style="[^"]*text-align:right', html)
    assert 'align="left"' not in html
    arabic, french = html.split('<div class="item" dir="ltr" lang="fr">')
    french, footer = french.split("</div>", 1)
    assert len(block_styles(arabic)) >= 6
    assert all("direction:rtl;text-align:right" in s for s in block_styles(arabic + footer))
    # an item in French inside the Arabic edition reads left to right
    assert "Un article resté en français" in french
    assert all("direction:ltr;text-align:left" in s for s in block_styles(french))
    assert "إلغاء الاشتراك" in html and "اقتصاد" in html


# --- safety and structure ----------------------------------------------------------------------


def test_everything_from_sources_is_escaped() -> None:
    rendered = render_edition(fr_edition(), TEMPLATES)
    html = rendered.html

    assert "<script" not in html
    assert "Quai &amp; &lt;script&gt;alert(1)&lt;/script&gt; : le chantier" in html
    assert (
        'href="https://quotidien.example/economie/port-chantier-quai-deuxieme-phase-2026?ref=rss&amp;id=42"'
        in html
    )
    assert "javascript:" not in html and "javascript:" not in rendered.text
    # the text part is plain text: no escaping there
    assert "Quai & <script>alert(1)</script> : le chantier" in rendered.text


def test_no_remote_resources_and_every_image_has_alt() -> None:
    html = render_edition(fr_edition(), TEMPLATES).html

    assert "<link" not in html
    assert "@import" not in html and "googleapis" not in html
    for img in re.findall(r"<img\b[^>]*>", html):
        assert re.search(r'\balt="', img), img


def test_links_sections_and_footer() -> None:
    rendered = render_edition(fr_edition(), TEMPLATES)
    html = rendered.html

    assert '<a href="https://hebdo.example/2026/11/port-quai"' in html  # "also in"
    assert "Aussi dans" in html
    assert 'href="https://lettre.example/archives/matin/2026-11-28"' in html  # view in browser
    assert 'href="https://lettre.example/archives/matin"' in html  # archive
    assert "Le Point du matin" in html and "parce que vous êtes inscrit(e)" in html
    assert html.count('class="section"') == 2


# --- direction and punctuation -----------------------------------------------------------------

RLM, LRM = "\u200f", "\u200e"


def test_a_name_in_the_other_script_is_followed_by_the_line_direction_mark() -> None:
    """So the date after it stays after it (tests/test_browser_email.py looks at the result)."""
    view = ar_edition()
    view.sections[0].items[0].source = "Médias24"
    rendered = render_edition(view, TEMPLATES)
    assert f"Médias24{RLM} — 27 نونبر 2026" in rendered.html
    assert f"Médias24{RLM} — 27 نونبر 2026" in rendered.text
    assert f"Le Quotidien d'exemple{RLM}</a>" in rendered.html  # "also in"
    assert f"Le Quotidien d'exemple{RLM}:" in rendered.text

    view = fr_edition()
    view.sections[0].items[1].source = "هسبريس"
    rendered = render_edition(view, TEMPLATES)
    assert f"هسبريس{LRM} — 28 novembre 2026" in rendered.html
    assert f"هسبريس{LRM} — 28 novembre 2026" in rendered.text
    # a name in the line's own direction needs no mark
    assert f"Le Quotidien d'exemple{LRM}" not in rendered.text
    assert f"جريدة المثال{RLM}" not in render_edition(ar_edition(), TEMPLATES).text


def test_arabic_text_part_lines_are_marked_right_to_left() -> None:
    """A client that lays plain text out left to right still ends "الأعداد السابقة:" on the
    left; links stand alone, unmarked, so a mark never sticks to a URL."""
    text = render_edition(ar_edition(), TEMPLATES).text
    prose = [line for line in text.splitlines() if line and not URL_LINE.match(line)]
    links = [line for line in text.splitlines() if URL_LINE.match(line)]
    assert len(prose) > 10 and len(links) >= 4
    assert all(line.startswith(RLM) and line.endswith(RLM) for line in prose)
    assert not any(RLM in line for line in links)
    assert RLM not in render_edition(fr_edition(), TEMPLATES).text


@pytest.mark.parametrize("name", ["La Matinale", "Le Point du matin", "Revue de presse du Maroc"])
def test_french_text_part_keeps_its_no_break_spaces(name: str) -> None:
    view = fr_edition()
    view.list_name = name
    view.sections[0].items[0].also_in = [("Agence de presse des nouvelles régionales", "https://a.ex/")]
    text = render_edition(view, TEMPLATES).text
    assert f"«\u00a0{name}\u00a0»." in " ".join(text.split("\n"))
    assert "Aussi dans Agence de presse des nouvelles régionales\u00a0:" in text
    for line in text.splitlines():
        assert not line.startswith((":", "»")) and not line.endswith("«"), line


def test_arabic_lists_use_the_arabic_comma() -> None:
    view = ar_edition()
    first = view.sections[0].items[0]
    first.also_in = [("هسبريس", "https://a.example/1"), ("العمق", "https://b.example/2")]
    view.sections.append(SectionView(key="culture", title="ثقافة", items=[first]))
    rendered = render_edition(view, TEMPLATES)
    assert ">هسبريس</a>، <a " in rendered.html
    assert "اقتصاد (2)، ثقافة (1)" in rendered.text
    assert "، " not in render_edition(fr_edition(), TEMPLATES).html


# --- slots and personalisation -----------------------------------------------------------------


def test_slots_survive_mjml_and_css_inlining() -> None:
    rendered = render_edition(fr_edition(), TEMPLATES)

    for slot in SLOTS.values():
        assert slot in rendered.html, slot
        assert slot in rendered.text, slot
    assert f'href="{SLOTS["unsubscribe_url"]}"' in rendered.html  # not percent-encoded
    assert "%25%25" not in rendered.html


def test_personalize_fills_the_slots() -> None:
    rendered = render_edition(fr_edition(), TEMPLATES)
    unsubscribe = "https://lettre.example/desinscription?t=abc&l=matin"

    html, text = personalize(rendered, name="Zoé <Z>", unsubscribe_url=unsubscribe)

    assert "%%" not in html and "%%" not in text
    assert "Bonjour Zoé &lt;Z&gt;" in html
    assert 'href="https://lettre.example/desinscription?t=abc&amp;l=matin"' in html
    assert "Bonjour Zoé <Z>" in text
    assert f"\n{unsubscribe}\n" in text


def test_an_empty_name_still_reads_well() -> None:
    rendered = render_edition(fr_edition(), TEMPLATES)

    html, text = personalize(rendered, name="", unsubscribe_url="https://x.example/u")

    assert re.search(r">Bonjour\s*</p>", html)
    assert "\nBonjour \n" in text or "\nBonjour\n" in text


# --- text part ---------------------------------------------------------------------------------


@pytest.mark.parametrize("edition", [fr_edition, en_edition, ar_edition, lambda: big_edition(12)])
def test_text_part_is_wrapped_with_urls_on_their_own_lines(edition) -> None:
    view = edition()
    text = render_edition(view, TEMPLATES).text

    for line in text.splitlines():
        assert len(line) <= 78 or URL_LINE.match(line), line
    lines = set(text.splitlines())
    for section in view.sections:
        for item in section.items:
            assert item.url in lines
            for _, url in item.also_in:
                assert url in lines or not url.startswith("http")
    assert not re.search(r"<(p|a|div|td)\b", text)  # not stripped HTML either


def test_text_part_matches_golden_file() -> None:
    """The whole text part of a small edition; regenerate with NEWSLETTER_UPDATE_GOLDEN=1."""
    text = render_edition(fr_edition(), TEMPLATES).text
    golden = GOLDEN / "edition-fr.txt"
    if os.environ.get("NEWSLETTER_UPDATE_GOLDEN"):
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8")


# --- size --------------------------------------------------------------------------------------


def test_forty_items_stay_well_under_gmail_clipping() -> None:
    rendered = render_edition(big_edition(40), TEMPLATES)

    assert rendered.html.count('class="title"') == 40
    assert len(rendered.html.encode("utf-8")) < 90 * 1024


def test_minified_html_keeps_spaces_between_inline_elements() -> None:
    view = fr_edition()
    view.sections[0].items[0].also_in = [("A", "https://a.example/"), ("B", "https://b.example/")]
    html = render_edition(view, TEMPLATES).html

    assert re.search(r">A</a>, <a ", html)
    assert "\n\n" not in html


# --- strings -----------------------------------------------------------------------------------


def test_subject_and_section_titles() -> None:
    assert subject_for("Revue de presse", DAY, "fr") == "Revue de presse — samedi 28 novembre 2026"
    assert subject_for("Morning Brief", DAY, "en") == "Morning Brief — Saturday, November 28, 2026"
    assert subject_for("نشرة", DAY, "ar") == "نشرة — السبت، 28 نونبر 2026"
    assert subject_for("Revue", DAY, "xx") == "Revue — Saturday, November 28, 2026"
    assert section_title("economie", "fr") == "Économie"
    assert section_title("economie", "en") == "Economy"
    assert section_title("economie", "de") == "Economy"
    assert section_title("energies-renouvelables", "fr") == "Energies renouvelables"


# --- errors ------------------------------------------------------------------------------------


@pytest.fixture
def template_copy(tmp_path: Path) -> Path:
    shutil.copytree(TEMPLATES / "email" / "default", tmp_path / "email" / "default")
    return tmp_path


def test_a_missing_template_file_is_named(template_copy: Path) -> None:
    (template_copy / "email" / "default" / "body.txt.j2").unlink()

    with pytest.raises(RenderError, match=r"default/body\.txt\.j2"):
        render_edition(fr_edition(), template_copy)


def test_an_unknown_template_is_named(template_copy: Path) -> None:
    view = fr_edition()
    view.template = "gala"
    with pytest.raises(RenderError, match=r"email/gala/body\.mjml\.j2"):
        render_edition(view, template_copy)
    view.template = "../default"
    with pytest.raises(RenderError, match="invalid email template name"):
        render_edition(view, template_copy)


def test_a_jinja_syntax_error_names_file_and_line(template_copy: Path) -> None:
    path = template_copy / "email" / "default" / "body.mjml.j2"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines.insert(4, "{% if view.intro %}never closed")
    path.write_text("\n".join(lines), encoding="utf-8")

    with pytest.raises(RenderError, match=r"body\.mjml\.j2, line \d+"):
        render_edition(fr_edition(), template_copy)


def test_an_undefined_name_names_file_and_line(template_copy: Path) -> None:
    path = template_copy / "email" / "default" / "body.txt.j2"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines.insert(3, "{{ view.no_such_field }}")
    path.write_text("\n".join(lines), encoding="utf-8")

    with pytest.raises(RenderError, match=r"body\.txt\.j2, line 4: .*no_such_field"):
        render_edition(fr_edition(), template_copy)


def test_invalid_mjml_names_the_template(template_copy: Path) -> None:
    path = template_copy / "email" / "default" / "body.mjml.j2"
    path.write_text(path.read_text(encoding="utf-8").replace("</mjml>", ""), encoding="utf-8")

    with pytest.raises(RenderError, match=r"body\.mjml\.j2: invalid MJML"):
        render_edition(fr_edition(), template_copy)
