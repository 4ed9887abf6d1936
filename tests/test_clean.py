"""Boilerplate cleanup (fr, en, ar) that never eats a real paragraph or French typography."""

from __future__ import annotations

import gzip
import json

import pytest

from newsletter.collect.clean import (
    clean_text,
    html_to_line,
    html_to_text,
    is_boilerplate,
    sanitize_html,
    unescape_entities,
)
from newsletter.collect.pages import extract_article

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
    # paywalls, ads, prompts and footers of named sites
    "Il vous reste 57.09% de cet article à lire. La suite est réservée aux abonnés.",  # Le Monde
    "Il vous reste 12 % de l’article à lire",
    "Passer la publicité",  # Le Figaro
    "Join our commenting forum",  # The Independent
    "Join thought-provoking conversations, follow other Independent readers and see their replies",
    "Sign up here to get an email whenever First Dog cartoons are published",  # The Guardian
    "Sign up for our emails",
    "Photo by Chris Welch / The Verge",
    "Photo by Kevin Dietsch via Getty Images",
    "Our Standards: The Thomson Reuters Trust Principles.",
    "MORE : The Metro daily cartoon by Guy Venables",  # Metro
    "MORE: Putin ‘prepared to discuss Ukraine ceasefire’ with Trump",
    "Voir la couverture complète sur Google Actualités",
    "View full coverage on Google News",
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
    # the words of the prompts above, in real paragraphs
    "Il vous reste 57,09 % de chances de gagner, a calculé le statisticien.",
    "Passer la publicité à la télévision coûte cher aux annonceurs, selon l’étude.",
    "Readers were invited to join our commenting forum after the debate turned sour.",
    "Sign up to receive an email ballot before Friday, officials urged. The deadline is near.",
    "Photo by photo, the archive rebuilds the city’s memory.",
    "Our standards are the Thomson Reuters Trust Principles, the agency said on Monday.",
    "More than 100 people were evacuated on Monday.",
    "More: the council changed its vote. It was close.",
    "Voir la couverture complète du match n’était pas possible, regrettent les supporters.",
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


def test_character_references_are_decoded_once() -> None:
    assert unescape_entities("d&#8217;Essaouira, &eacute;t&eacute; &amp; &#x27;hiver&#39;") == (
        "d’Essaouira, été & 'hiver'"
    )
    # a text about "&amp;" writes it "&amp;amp;" in HTML: one decoding gives it back
    assert unescape_entities("le signe &amp;amp;") == "le signe &amp;"
    assert html_to_text("<p>le signe &amp;amp;</p>") == "le signe &amp;"
    assert html_to_text("le signe &amp;amp;") == "le signe &amp;"
    # only complete references: "AT&T", "R&D", "&copy paste" and unknown names stay
    unfinished = "AT&T, R&D, cut&copy paste, &foo;"
    assert unescape_entities(unfinished) == unfinished


def test_html_to_text_decodes_a_fragment_without_tags() -> None:
    # a feed's summary of type html without markup (heise.de): it used to come out as it was
    summary = "mit mehreren Versionen der gleichen &quot;Klasse&quot; arbeitet.\nZweite&nbsp;Zeile"
    assert html_to_text(summary) == (
        f'mit mehreren Versionen der gleichen "Klasse" arbeitet.\nZweite{NBSP}Zeile'
    )
    # a "<" that opens no tag is text
    assert html_to_text("Taux < 3 % et a<b") == "Taux < 3 % et a<b"


def test_escaped_markup_is_read_as_markup() -> None:
    # feeds often escape their HTML twice: "&lt;p&gt;" is a paragraph, not text for readers
    assert html_to_text("&lt;p&gt;L&amp;#8217;inflation&lt;/p&gt;&lt;p&gt;Second.&lt;/p&gt;") == (
        "L’inflation\nSecond."
    )
    assert html_to_text("un &lt;b&gt;mot&lt;/b&gt; en gras") == "un mot en gras"
    # a text about a tag is not markup
    assert html_to_text("Use the &lt;br&gt; tag") == "Use the <br> tag"


def test_html_to_line() -> None:
    assert html_to_line("L&#8217;économie … &amp; l&apos;inflation") == "L’économie … & l'inflation"
    line = html_to_line("Rabat <em>hosts</em>\n the&nbsp;: summit")
    assert line == f"Rabat hosts the{NBSP}: summit"
    assert html_to_line("&lt;p&gt;Titre&lt;/p&gt;") == "Titre"
    assert html_to_line("") == ""


# Pages of the fundus set with a boilerplate line our cleanup let through (see bench.extraction),
# and the line.
FUNDUS_BOILERPLATE = [
    ("fr/LeMonde_2023_09_01.html.gz", "Il vous reste 57.09% de cet article à lire."),
    ("fr/LeFigaro_2024_11_22.html.gz", "Passer la publicité"),
    ("uk/TheIndependent_2024_11_22.html.gz", "Join our commenting forum"),
    ("us/Reuters_2023_05_16.html.gz", "Our Standards: The Thomson Reuters Trust Principles."),
    ("uk/Metro_2024_11_29.html.gz", "MORE: Putin"),
]


@pytest.mark.parametrize(("name", "line"), FUNDUS_BOILERPLATE)
def test_real_pages_lose_their_boilerplate_line(name: str, line: str) -> None:
    fundus = eval_data("extraction", "fundus")
    truth = json.loads((fundus / "ground-truth-flat.json").read_text(encoding="utf-8"))[name]
    html = gzip.decompress((fundus / "test_data" / name).read_bytes())
    text = extract_article(html, truth["url"]).text
    assert line not in text
    last = truth["articleBody"].split("\n")[-1].strip()
    assert " ".join(last.split()[:8]) in " ".join(text.split())  # the article is all there
