"""Boilerplate cleanup (fr, en, ar) that never eats a real paragraph or French typography."""

from __future__ import annotations

import pytest

from newsletter.collect.clean import clean_text, html_to_text, is_boilerplate, sanitize_html

from .support import eval_data

NBSP, NNBSP = "\u00a0", "\u202f"

BOILERPLATE = [
    # back to top
    "Bouton retour en haut de la page",
    "Retour en haut",
    "Back to top button",
    "Back to top",
    "زر الذهاب إلى الأعلى",
    "العودة إلى الأعلى",
    # read also
    "Lire aussi : Le Maroc et l’Espagne signent un accord de pêche",
    "LIRE AUSSI - Le gouvernement présente son budget",
    "À lire aussi",
    "A lire également : la réforme des retraites",
    "Voir aussi",
    "Read more: How the vote went",
    "Read also: Rabat hosts the summit",
    "Related: The summit in pictures",
    "اقرأ أيضا: المغرب يوقع اتفاقية جديدة",
    "اقرأ أيضاً",
    "Continue reading...",
    "Lire la suite",
    # share, comment, newsletter, cookies, ads
    "Partager sur Facebook",
    "Partager",
    "Share this article",
    "Share on Twitter",
    "Facebook Twitter LinkedIn WhatsApp Email",
    "Facebook | X | Telegram",
    "شارك عبر فيسبوك",
    "Laisser un commentaire",
    "Leave a comment",
    "Leave a Reply Cancel reply",
    "Commentaires (12)",
    "3 comments",
    "اترك تعليقاً",
    "Abonnez-vous à notre newsletter",
    "Inscrivez-vous à nos newsletters pour recevoir l’essentiel de l’actualité",
    "Sign up for our newsletter",
    "Ce site utilise des cookies pour améliorer votre expérience de navigation.",
    "We use cookies to improve your experience. By continuing to browse, you accept them.",
    "En poursuivant votre navigation, vous acceptez l’utilisation de cookies.",
    "Publicité",
    "Advertisement",
    "The post Rabat hosts the summit appeared first on Example News.",
    "L’article Rabat accueille le sommet est apparu en premier sur Exemple.",
    # JavaScript
    "window.pvp_ads = window.pvp_ads || [];",
    "function(d, s, id){",
    "(function() {",
    "var x = document.createElement('script');",
    "googletag.cmd.push(function() { googletag.display('div-gpt-ad-1'); });",
    "});",
    "}",
]

KEPT = [
    "Il a affirmé : « Lire aussi les rapports des ONG est essentiel. » Puis il est parti.",
    "Le ministère partage sur Facebook ses résultats, et les internautes réagissent en nombre.",
    "Read more about the plan in the report, which was published on Monday.",
    "Lire aussi : un premier point. Et une deuxième phrase fait de ce paragraphe un vrai texte.",
    "La CNIL a sanctionné Google pour ses cookies publicitaires déposés sans consentement.",
    "Share prices fell sharply on Monday after the announcement.",
    "Le retour en haut de l’affiche du club a surpris tout le monde cette saison.",
    "Les commentaires du ministre ont été mal accueillis par l’opposition.",
    "La publicité en ligne représente 60 % du marché.",
    "وقال الوزير إن العودة إلى الأعلى مستوى من النمو تتطلب إصلاحات.",
    "Var : les pompiers luttent contre un incendie près de Toulon.",
    "Function and form matter equally, the architect said.",
]


@pytest.mark.parametrize("line", BOILERPLATE)
def test_boilerplate_lines_are_recognised(line: str) -> None:
    assert is_boilerplate(line)


@pytest.mark.parametrize("line", KEPT)
def test_real_paragraphs_are_kept(line: str) -> None:
    assert not is_boilerplate(line)
    assert clean_text(line) == line


def test_clean_text_removes_boilerplate_paragraphs_only() -> None:
    text = "\n".join(
        [
            "Le gouvernement a présenté son budget mardi.",
            "Lire aussi : La réforme fiscale en questions",
            "Le texte sera débattu au Parlement la semaine prochaine.",
            "Partager sur Facebook",
            "Bouton retour en haut de la page",
        ]
    )
    assert clean_text(text) == (
        "Le gouvernement a présenté son budget mardi.\n\n"
        "Le texte sera débattu au Parlement la semaine prochaine."
    )


# Written for these tests, after a consent dialog a radio's page carried below its article.
CONSENT_DIALOG = [
    "Soucieux de la protection de vos données personnelles, nous vous informons que sur ce site,",
    "Radio Exemple et des tiers utilisent des cookies et autres traceurs.",
    "Mesure d’audience : pour établir des statistiques de fréquentation du site.",
    "Partage avec les réseaux sociaux :",
    "En cliquant sur « TOUT ACCEPTER », vous acceptez que des tiers utilisent ces cookies.",
    "Ces cookies permettent d’établir des statistiques de fréquentation du site.",
]
ARTICLE = [
    "Faut-il compter les bulletins blancs ? La question revient à chaque élection.",
    "Au Conseil constitutionnel, les bulletins nuls racontent aussi une histoire.",
]


def test_a_consent_dialog_ending_the_page_goes_as_a_whole() -> None:
    assert clean_text("\n".join(ARTICLE + CONSENT_DIALOG)) == "\n\n".join(ARTICLE)


def test_an_article_about_cookies_is_kept() -> None:
    article = [
        "La CNIL a infligé lundi une amende de 150 millions d’euros à un moteur de recherche.",
        "En cause, des cookies déposés sans le consentement des internautes.",
        "Refuser les cookies doit être aussi simple que les accepter, rappelle la CNIL.",
        "Un bouton « Tout refuser » devra figurer à côté de « Tout accepter ».",
        "Les traceurs publicitaires sont au cœur de l’enquête, ouverte il y a deux ans.",
    ]
    assert clean_text("\n".join(article)) == "\n\n".join(article)
    # the dialog itself, with nothing before it, is not an article to cut down to nothing
    assert clean_text("\n".join(CONSENT_DIALOG[1:])).count("\n\n") == 4


def test_a_page_laid_out_in_a_table_loses_its_cell_borders_but_a_real_table_keeps_them() -> None:
    text = "| | | |\n| | Les Français travaillent-ils trop peu ? | |\n| Une réponse en chiffres. |"
    assert clean_text(text) == (
        "Les Français travaillent-ils trop peu ?\n\nUne réponse en chiffres."
    )
    table = "| Année | Premier ministre | Jours |\n| 2002 | Vladimír Špidla | 30 |"
    assert clean_text(table) == table.replace("\n", "\n\n")


def test_whitespace_normalised_typography_kept() -> None:
    text = (
        "  Il a déclaré\u00a0:\t« la sécurité   efficace »\u202f!  \n\n\n\n"
        f"Deuxième{NBSP}paragraphe\u00a0; l’apostrophe reste.\r\n"
    )
    assert clean_text(text) == (
        f"Il a déclaré{NBSP}: « la sécurité efficace »{NNBSP}!\n\n"
        f"Deuxième{NBSP}paragraphe{NBSP}; l’apostrophe reste."
    )
    guillemets = f"«{NBSP}oui{NBSP}» et «{NNBSP}non{NNBSP}»"
    assert clean_text(guillemets) == guillemets


def test_repeated_title_dropped_from_the_top_only() -> None:
    title = "Le Maroc accueille le sommet"
    text = f"{title}\nLe sommet s’ouvre lundi.\n{title}"
    assert clean_text(text, title) == f"Le sommet s’ouvre lundi.\n\n{title}"
    assert clean_text("LE MAROC ACCUEILLE LE SOMMET.\nTexte.", title) == "Texte."


def test_arabic_text_untouched() -> None:
    text = "أعلن المغرب عن خطة جديدة للأمن.\nزر الذهاب إلى الأعلى"
    assert clean_text(text, language="ar") == "أعلن المغرب عن خطة جديدة للأمن."


def test_sample_article_loses_its_back_to_top_button() -> None:
    path = eval_data("articles", "hammouchi-moscou-fr.txt")
    raw = path.read_text(encoding="utf-8")
    title, body = raw.split("\n", 1)
    cleaned = clean_text(body, title)
    assert "Bouton retour en haut de la page" not in cleaned
    paragraphs = cleaned.split("\n\n")
    assert len(paragraphs) == len([p for p in body.split("\n") if p.strip()]) - 1
    assert paragraphs[0].startswith("Du 27 au 29 mai 2025")
    assert "« la sécurité efficace ne peut être atteinte" in cleaned
    assert "’" in cleaned and "\n\n\n" not in cleaned


def test_html_to_text_keeps_paragraphs() -> None:
    html = (
        "<div><h2>Titre</h2><p>Premier <b>paragraphe</b>,\n sur deux lignes.</p>"
        "<script>var x = 1;</script><ul><li>un</li><li>deux</li></ul>"
        "<p>Ligne<br>coupée</p><figure><img src='x.jpg'><figcaption>Légende</figcaption></figure>"
        "texte final</div>"
    )
    assert html_to_text(html).split("\n") == [
        "Titre",
        "Premier paragraphe, sur deux lignes.",
        "un",
        "deux",
        "Ligne",
        "coupée",
        "Légende",
        "texte final",
    ]
    assert html_to_text("déjà du texte") == "déjà du texte"
    assert html_to_text("") == ""


def test_sanitize_html() -> None:
    html = (
        '<p onclick="x()">Texte <a href="https://example.com" target="_blank">lien</a>'
        '<a href="javascript:alert(1)">mal</a></p><script>alert(1)</script>'
        '<img src="x.jpg"><h1>grand</h1><h2>moyen</h2><table><tr><td>cellule</td></tr></table>'
    )
    clean = sanitize_html(html)
    assert "<script" not in clean and "alert(1)</" not in clean and "onclick" not in clean
    assert '<a href="https://example.com" rel="noopener noreferrer nofollow">lien</a>' in clean
    assert "javascript:" not in clean and "<img" not in clean and "<h1>" not in clean
    assert "<h2>moyen</h2>" in clean and "cellule" in clean and "<td>" not in clean
