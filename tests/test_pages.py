"""Article pages: trafilatura plus our cleanup, metadata from the page itself."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime

import pytest

from newsletter.collect.pages import extract_article, parse_datetime, site_free_title
from newsletter.errors import NoArticleError

from .support import eval_data

PARAGRAPHS = [
    "Le port de Tanger Med a enregistré en mai une hausse de 12\u00a0% de son trafic de conteneurs, "
    "selon les chiffres publiés jeudi par l’autorité portuaire, qui évoque une année record.",
    "« Nous visons désormais les dix millions de conteneurs\u00a0», a déclaré le directeur général "
    "lors d’une conférence de presse à Tanger, devant une centaine de journalistes et d’opérateurs.",
    "Les opérateurs attribuent cette progression à la réorganisation des lignes maritimes entre "
    "l’Asie et l’Europe, ainsi qu’aux nouveaux quais mis en service au début de l’année dernière.",
    "Le gouvernement prévoit d’étendre la zone logistique de quatre cents hectares d’ici à 2027, "
    "un investissement estimé à plusieurs milliards de dirhams selon le ministère de l’Équipement.",
]


def page(lang: str = "fr", charset: str = "utf-8") -> str:
    body = "\n".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    return f"""<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="{charset}">
<title>Tanger Med : le trafic en hausse | Le Quotidien</title>
<meta property="og:title" content="Tanger Med : le trafic en hausse">
<meta name="author" content="Salma Benali">
<meta property="article:published_time" content="2025-05-29T08:30:00+01:00">
<link rel="canonical" href="https://quotidien.example/economie/tanger-med">
<script type="application/ld+json">{
        json.dumps(
            {
                "@context": "https://schema.org",
                "@type": "NewsArticle",
                "headline": "Tanger Med : le trafic en hausse",
                "datePublished": "2025-05-29T08:30:00+01:00",
                "author": {"@type": "Person", "name": "Salma Benali"},
            }
        )
    }</script>
</head><body>
<header><nav><a href="/">Accueil</a> <a href="/economie">Économie</a> <a href="/sport">Sport</a></nav></header>
<main><article>
<h1>Tanger Med : le trafic en hausse</h1>
<p class="byline">Par Salma Benali</p>
{body}
<p>Lire aussi : Le port de Nador ouvre ses portes</p>
<div class="share"><p>Partager sur Facebook</p></div>
</article></main>
<aside><h3>Les plus lus</h3><ul><li><a href="/a">Autre article</a></li><li><a href="/b">Encore un</a></li></ul></aside>
<footer><p>© Le Quotidien 2025</p><p>Bouton retour en haut de la page</p></footer>
<script>window.pvp_cfg = {{"x": 1}};</script>
</body></html>"""


def test_extract_article_from_our_page() -> None:
    article = extract_article(page(), "https://quotidien.example/economie/tanger-med?utm_source=x")
    assert article.title == "Tanger Med : le trafic en hausse"
    assert article.author == "Salma Benali"
    assert article.published == datetime(2025, 5, 29, 7, 30, tzinfo=UTC)
    assert article.language == "fr"
    assert article.url == "https://quotidien.example/economie/tanger-med?utm_source=x"
    assert article.text.split("\n\n") == PARAGRAPHS
    assert "Bouton retour" not in article.text and "pvp_cfg" not in article.text


def test_bytes_in_a_legacy_charset_and_no_url() -> None:
    data = page(lang="fr-FR", charset="iso-8859-1").encode("iso-8859-1", errors="xmlcharrefreplace")
    article = extract_article(data)
    assert article.language == "fr"
    assert "Équipement" in article.text and "l’autorité" in article.text
    assert article.url == "https://quotidien.example/economie/tanger-med"  # from rel=canonical


def test_arabic_page_language() -> None:
    text = (
        "أعلنت السلطات المغربية اليوم عن خطة جديدة لتطوير الموانئ وتعزيز التجارة مع أوروبا وإفريقيا. "
        * 4
    )
    html = (
        f'<html lang="ar" dir="rtl"><head><title>خطة الموانئ</title></head><body><article>'
        f"<h1>خطة الموانئ</h1><p>{text}</p><p>{text}</p><p>زر الذهاب إلى الأعلى</p></article></body></html>"
    )
    article = extract_article(html, "https://ar.example/1")
    assert article.language == "ar"
    assert "زر الذهاب" not in article.text and article.text.startswith("أعلنت")


@pytest.mark.parametrize(
    "html",
    [
        "<html><body><nav><a href='/'>Accueil</a></nav><p>Bienvenue.</p></body></html>",
        "",
        b"\x00\x00",
    ],
    ids=["home-page", "empty", "binary"],
)
def test_no_article(html: str | bytes) -> None:
    with pytest.raises(NoArticleError) as caught:
        extract_article(html, "https://site.example/")
    assert str(caught.value).startswith("https://site.example/: ")


def test_no_article_names_the_label() -> None:
    with pytest.raises(NoArticleError, match=r"^saved/page\.html: no article text"):
        extract_article("<html><body><p>Court.</p></body></html>", label="saved/page.html")


@pytest.mark.parametrize(
    ("title", "headlines", "sites", "expected"),
    [
        (
            "Steigende Zinsen setzen Dax zu | Börsen-Zeitung",
            [],
            ["Börsen-Zeitung"],
            "Steigende Zinsen setzen Dax zu",
        ),
        ("Was wissen wir? – DW – 13.06.2023", [], ["www.dw.com"], "Was wissen wir?"),
        ("Le budget adopté - Le Monde.fr", [], ["www.lemonde.fr"], "Le budget adopté"),
        (
            "Le budget adopté - Politique | Le Quotidien",
            ["Le budget adopté"],
            [],
            "Le budget adopté",
        ),
        ("Paris - Nice : la course", [], ["www.nice-matin.com"], "Paris - Nice : la course"),
        (
            "Trump plant – während es stockt",
            [],
            ["tagesanzeiger.ch"],
            "Trump plant – während es stockt",
        ),
        ("Sans séparateur", [], ["x.fr"], "Sans séparateur"),
    ],
)
def test_site_free_title(title: str, headlines: list[str], sites: list[str], expected: str) -> None:
    assert site_free_title(title, headlines, sites) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            "2025-05-29T08:30:00+01:00",
            datetime(2025, 5, 29, 8, 30, tzinfo=UTC).replace(tzinfo=None),
        ),
        ("2025-05-29T08:30:00Z", datetime(2025, 5, 29, 8, 30)),
        ("2025-05-29T08:30:00+0100", datetime(2025, 5, 29, 8, 30)),
        ("2025-05-29", datetime(2025, 5, 29)),
    ],
)
def test_parse_datetime(value: str, expected: datetime) -> None:
    parsed = parse_datetime(value)
    assert parsed is not None and parsed.tzinfo is not None
    assert parsed.replace(tzinfo=None) == expected
    assert parse_datetime("hier") is None and parse_datetime("") is None


def test_real_french_pages() -> None:
    """The 5 French pages of the fundus set: title exact, body close, date right."""
    folder = eval_data("extraction", "fundus")
    truth = json.loads((folder / "ground-truth-flat.json").read_text(encoding="utf-8"))
    french = sorted(k for k in truth if k.startswith("fr/"))
    assert len(french) == 5
    for key in french:
        html = gzip.decompress((folder / "test_data" / key).read_bytes())
        expected = truth[key]
        article = extract_article(html, expected.get("url", ""))
        assert article.language == "fr", key
        assert " ".join(article.title.split()) == " ".join(expected["title"].split()), key
        expected_words = set(expected["articleBody"].split())
        found = set(article.text.split())
        assert len(found & expected_words) / len(expected_words) > 0.8, key
        if expected.get("publishing_date"):
            assert article.published is not None, key
            assert str(article.published.date()) <= expected["publishing_date"][:10], key
