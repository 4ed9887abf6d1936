"""Article pages: trafilatura plus our cleanup, metadata from the page itself."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
import trafilatura

from newsletter.collect.dates import parse_datetime
from newsletter.collect.pages import extract_article, site_free_title
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
    assert article.canonical_url == "https://quotidien.example/economie/tanger-med"
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
        # a site name with a separator of its own
        (
            "Pour le néolibéralisme, la retraite est un archaïsme - AOC media - Analyse Opinion "
            "Critique",
            [],
            ["AOC media - Analyse Opinion Critique", "aoc.media"],
            "Pour le néolibéralisme, la retraite est un archaïsme",
        ),
        # Google News names the source after the headline; its <source url> names the site
        (
            "Coronavirus en Belgique: 200 cas détectés au total - RTBF",
            [],
            ["https://www.rtbf.be"],
            "Coronavirus en Belgique: 200 cas détectés au total",
        ),
        ("Le cessez-le-feu tient - RTBF", [], ["RTBF"], "Le cessez-le-feu tient"),
        # the site name and one more word; a news section before the site name
        ("Palestinians say talks could fail | CBC News", [], ["CBC", "www.cbc.ca"],
         "Palestinians say talks could fail"),
        (
            "Infant Abandonment Cases In India: Newborns left in dustbins | Bhopal News - "
            "The Times of India",
            [],
            ["The Times of India", "timesofindia.indiatimes.com"],
            "Infant Abandonment Cases In India: Newborns left in dustbins",
        ),
        ("समस्तीपुर पुलिस ने 2 बदमाशों को पकड़ा - Samastipur News", [], ["Dainik Bhaskar"],
         "समस्तीपुर पुलिस ने 2 बदमाशों को पकड़ा"),
        # Japanese and Korean sites: full-width colon and bar, Korean bar, no spaces
        ("宮崎県で震度5弱、高知と宮崎に1メートルの津波注意報\u3000気象庁：朝日新聞デジタル", [],
         ["朝日新聞デジタル"], "宮崎県で震度5弱、高知と宮崎に1メートルの津波注意報\u3000気象庁"),
        ("協賛企業\"総スカン\"で各競技団体のビジネスモデル完全崩壊へ｜日刊ゲンダイDIGITAL", [],
         ["日刊ゲンダイDIGITAL"], "協賛企業\"総スカン\"で各競技団体のビジネスモデル完全崩壊へ"),
        (
            '민주당 \'선호투표제\' 도입 또다시 불발 친청계 "당규 개정 왜 밀어붙이나"-정치ㅣ한국일보',
            ['민주당 \'선호투표제\' 도입 또다시 불발 친청계 "당규 개정 왜 밀어붙이나"'],
            ["한국일보"],
            '민주당 \'선호투표제\' 도입 또다시 불발 친청계 "당규 개정 왜 밀어붙이나"',
        ),
        # a byline after the site name: the page's own headline (h1, JSON-LD) marks the end
        (
            "Zelensky Is Now Considering Firing Top General Syrsky * The Gateway Pundit * by "
            "Paul Serran",
            ["Zelensky Is Now Considering Firing Top General Syrsky"],
            ["The Gateway Pundit"],
            "Zelensky Is Now Considering Firing Top General Syrsky",
        ),
        # real headlines with dashes, colons and quotes stay whole
        (
            "Rückschlag im Titelkampf - Liverpool verliert bei Everton",
            [],
            ["sportschau.de"],
            "Rückschlag im Titelkampf - Liverpool verliert bei Everton",
        ),
        (
            "Sophie Binet met en garde sur la « gravité de la situation » - Le Monde.fr",
            [],
            ["www.lemonde.fr"],
            "Sophie Binet met en garde sur la « gravité de la situation »",
        ),
        # a kicker of the h1 is no headline: what follows it is longer and names no site
        (
            "Vierschanzentournee | Beleidigen und beschuldigen: Skisprung-Zoff ums Material",
            ["Vierschanzentournee", "Vierschanzentournee Beleidigen und beschuldigen"],
            ["tageblatt.lu"],
            "Vierschanzentournee | Beleidigen und beschuldigen: Skisprung-Zoff ums Material",
        ),
        (
            "„Unermüdlicher Einsatz“ - Die Neue Südtiroler Tageszeitung",
            ["„Unermüdlicher Einsatz“"],
            ["tageszeitung.it"],
            "„Unermüdlicher Einsatz“",
        ),
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
        ("2023-04-28 18:11:01.0", datetime(2023, 4, 28, 18, 11, 1)),
        ("2024-04-25 04:21:02.000000-0400", datetime(2024, 4, 25, 4, 21, 2)),
        # Java's Date.toString() (FAZ's JSON-LD) and RFC 2822
        ("Fri Apr 28 19:20:36 CEST 2023", datetime(2023, 4, 28, 19, 20, 36)),
        ("Fri, 28 Apr 2023 17:20:36 GMT", datetime(2023, 4, 28, 17, 20, 36)),
    ],
)
def test_parse_datetime(value: str, expected: datetime) -> None:
    parsed = parse_datetime(value)
    assert parsed is not None and parsed.tzinfo is not None
    assert parsed.replace(tzinfo=None) == expected
    assert parse_datetime("hier") is None and parse_datetime("") is None
    assert parse_datetime("Le 28 avril") is None and parse_datetime("10:30") is None


def test_parse_datetime_zones() -> None:
    cest = datetime(2023, 4, 28, 17, 20, 36, tzinfo=UTC)
    assert parse_datetime("Fri Apr 28 19:20:36 CEST 2023") == cest
    assert parse_datetime("2023-04-28T19:20:36+0200") == cest
    berlin = ZoneInfo("Europe/Berlin")
    assert parse_datetime("2023-04-28 18:11:01", berlin) == datetime(
        2023, 4, 28, 16, 11, 1, tzinfo=UTC
    )
    assert parse_datetime("2023-04-28T18:11:01Z", berlin) == datetime(
        2023, 4, 28, 18, 11, 1, tzinfo=UTC
    )


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


# --- dates, titles and authors from the page's own metadata -------------------------------


def dated_page(head: str = "", before_h1: str = "", lang: str = "de") -> str:
    """Our article with HEAD tags added, and BEFORE_H1 (a <time> line) above the headline."""
    body = "\n".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8"><title>Le port</title>'
        f"{head}</head><body><article>{before_h1}<h1>Le port</h1>{body}</article></body></html>"
    )


def json_ld(**fields: Any) -> str:
    data = {"@context": "https://schema.org", "@type": "NewsArticle", **fields}
    return f'<script type="application/ld+json">{json.dumps(data)}</script>'


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("html", "url", "expected"),
    [
        # the print edition's day in <meta name=date>, which trafilatura takes (Junge Welt)
        (
            dated_page(json_ld(datePublished="2024-04-25T19:30:04+02:00")
                       + '<meta name="date" content="2024-04-26">'),
            "https://www.jungewelt.de/artikel/1.html",
            utc(2024, 4, 25, 17, 30, 4),
        ),
        # a live blog: article:published_time is its last update (the Mirror)
        (
            dated_page(
                json_ld(datePublished="2024-08-04T13:23:00Z", dateModified="2024-08-05T19:49:50Z")
                + '<meta property="article:published_time" content="2024-08-05T19:49:50Z">'
            ),
            "https://www.mirror.co.uk/news/1",
            utc(2024, 8, 4, 13, 23),
        ),
        # a page first published years ago, which trafilatura's day comes from (the Telegraph)
        (
            dated_page(
                '<meta name="DCSext.articleFirstPublished" content="2019-02-05 16:07">',
                '<time itemprop="datePublished" datetime="2023-08-30T16:45+0100">30 Aug</time>',
            ),
            "https://www.telegraph.co.uk/recommended/1/",
            utc(2023, 8, 30, 15, 45),
        ),
        # Java's Date.toString() in JSON-LD (FAZ); trafilatura guesses 2023-01-01
        (
            dated_page(json_ld(datePublished="Fri Apr 28 19:20:36 CEST 2023")),
            "https://www.faz.net/aktuell/1.html",
            utc(2023, 4, 28, 17, 20, 36),
        ),
        # a naive JSON-LD time, the same clock time with its zone in <meta name=date> (n-tv)
        (
            dated_page(json_ld(datePublished="2023-04-28 18:11:01.0")
                       + '<meta name="date" content="2023-04-28T18:11:01+02:00">'),
            "https://www.n-tv.de/leben/1.html",
            utc(2023, 4, 28, 16, 11, 1),
        ),
        # article:published:time, with colons (Börsen-Zeitung)
        (
            dated_page('<meta property="article:published:time" content="2024-10-23T15:48:15Z">'),
            "https://www.boersen-zeitung.de/1",
            utc(2024, 10, 23, 15, 48, 15),
        ),
        # a bare day and the update of that same day, the only time the page gives (AFP)
        (
            dated_page(json_ld(datePublished="2026-05-13")
                       + '<meta property="og:updated_time" content="2026-05-13T15:44:29+02:00">'),
            "https://faktencheck.afp.com/1",
            utc(2026, 5, 13, 13, 44, 29),
        ),
        # an update on another day gives no time to the day of publication
        (
            dated_page(json_ld(datePublished="2026-05-13")
                       + '<meta property="og:updated_time" content="2026-05-20T15:44:29+02:00">'),
            "https://faktencheck.afp.com/1",
            utc(2026, 5, 13),
        ),
    ],
    ids=["print-day", "live-blog", "first-published", "java-date", "naive-json-ld",
         "published-colon", "bare-day-update", "update-other-day"],
)
def test_the_page_metadata_gives_the_time(html: str, url: str, expected: datetime) -> None:
    assert extract_article(html, url).published == expected


@pytest.mark.parametrize(
    ("url", "lang", "expected"),
    [
        ("https://www.merkur.de/welt/1.html", "de", utc(2024, 4, 26, 18, 44)),  # .de: Berlin
        ("https://www.example.com/1", "de-AT", utc(2024, 4, 26, 18, 44)),  # the lang's region
        ("https://www.example.com/1", "de", utc(2024, 4, 26, 20, 44)),  # no country: UTC
        ("https://www.example.com/1", "en-US", utc(2024, 4, 26, 20, 44)),  # several zones: UTC
    ],
)
def test_a_naive_time_is_read_where_the_site_is(url: str, lang: str, expected: datetime) -> None:
    html = dated_page(before_h1='<time datetime="2024-04-26 20:44">26.04.2024, 20:44 Uhr</time>',
                      lang=lang)
    assert extract_article(html, url).published == expected


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        ('<meta name="author" content="Par Stefan Häne, Sylvain Besson">',
         "Stefan Häne, Sylvain Besson"),
        ('<meta name="author" content="Auteur Anna Kubišta">', "Anna Kubišta"),
        ('<meta name="author" content="Un documentaire de Kristen Falchon">', "Kristen Falchon"),
        # the group in <meta name=author>, named by the copyright notice (Condé Nast)
        (
            '<meta name="author" content="Condé Nast">'
            '<meta name="copyright" content="Copyright (c) Condé Nast 2023">'
            + json_ld(author=[{"@type": "Person", "name": "Rachel Riederer"}],
                      publisher={"@type": "Organization", "name": "The New Yorker"}),
            "Rachel Riederer",
        ),
        # the publisher, with its legal form
        (
            '<meta name="author" content="Frankfurter Allgemeine Zeitung GmbH">'
            '<meta name="publisher" content="Frankfurter Allgemeine Zeitung GmbH">'
            + json_ld(
                author={"@type": "Person", "name": "Ralf Euler"},
                publisher={"@type": "Organization", "name": "Frankfurter Allgemeine Zeitung"},
            ),
            "Ralf Euler",
        ),
        (
            '<meta name="author" content="heise online">'
            + json_ld(author=[{"@type": "Person", "name": "Dirk Knop"}],
                      publisher={"@type": "Organization", "name": "heise online"}),
            "Dirk Knop",
        ),
        # an agency keeps its spelling, and its place next to the people
        (json_ld(author=[{"@type": "Person", "name": "Felix Schröder und Jörg Soldwisch, dpa"}]),
         "Felix Schröder, Jörg Soldwisch, dpa"),
        # the publisher alone is still the credit
        (
            '<meta name="author" content="Deutsche Welle">'
            '<meta name="publisher" content="Deutsche Welle">',
            "Deutsche Welle",
        ),
    ],
    ids=["par", "auteur", "documentaire", "group", "publisher-gmbh", "publisher-online",
         "agency", "publisher-alone"],
)
def test_authors(head: str, expected: str) -> None:
    assert extract_article(dated_page(head), "https://journal.example/1").author == expected


# --- the same, on the shared evaluation pages ------------------------------------------------


def fundus() -> tuple[Path, dict[str, Any]]:
    folder = eval_data("extraction", "fundus")
    return folder, json.loads((folder / "ground-truth-flat.json").read_text(encoding="utf-8"))


def fundus_page(folder: Path, key: str) -> bytes:
    return gzip.decompress((folder / "test_data" / key).read_bytes())


@pytest.mark.parametrize(
    "key",
    [
        "uk/TheTelegraph_2023_08_30.html.gz",  # was 2019-02-05
        "uk/TheMirror_2024_08_05.html.gz",  # was the next day
        "de/JungeWelt_2024_04_26.html.gz",  # was the next day
        "ca/CBCNews_2024_08_08.html.gz",  # was the day before
        "de/FAZ_2023_04_28.html.gz",  # the time was lost: JSON-LD not ISO
        "de/NTV_2023_04_28.html.gz",  # 2 h off: naive JSON-LD time taken as UTC
        "de/BoersenZeitung_2024_10_23.html.gz",  # the time was lost
        "de/Merkur_2023_04_28.html.gz",  # the time was lost: a naive <time>
    ],
)
def test_real_publication_times(key: str) -> None:
    folder, truth = fundus()
    expected = datetime.fromisoformat(truth[key]["publishing_date"])
    published = extract_article(fundus_page(folder, key), truth[key]["url"]).published
    assert published is not None and abs(published - expected).total_seconds() <= 60


def test_real_headlines_are_never_cut() -> None:
    """The fundus titles, alone or with the site's name added, come back whole.

    With the page's own headlines (og:title, h1, JSON-LD), a title may only come back as one
    of them: Habertürk's h1 leaves out the "- Güncel haberler" of its og:title.
    """
    folder, truth = fundus()
    for key, expected in sorted(truth.items()):
        tree = trafilatura.load_html(fundus_page(folder, key))
        sites = [str(v) for v in tree.xpath('//meta[@property="og:site_name"]/@content')]
        sites += [urlsplit(expected["url"]).hostname or ""]
        headlines = [
            " ".join(str(h).split())
            for h in tree.xpath('//meta[@property="og:title"]/@content | (//h1)[1]//text()')
        ]
        headlines += [str(tree.xpath("normalize-space((//h1)[1])"))]
        title = " ".join(expected["title"].split())
        assert site_free_title(title, [], sites) == title, key
        assert site_free_title(title, headlines, sites) in {title, *headlines}, key
        for separator in (" | ", " - ", " – ", "｜", "："):
            assert site_free_title(title + separator + sites[0], [], sites) == title, key


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("de/FAZ_2023_04_28.html.gz", "Ralf Euler"),
        ("de/Heise_2024_04_19.html.gz", "Dirk Knop"),
        ("us/TheNewYorker_2023_05_16.html.gz", "Rachel Riederer"),
        ("ch/SRF_2025_01_05.html.gz", "Monika Bolliger, Anna Trechsel, Sweidah"),
        ("de/BSZ_2024_05_16.html.gz", "Felix Schröder, Jörg Soldwisch, dpa"),
        ("es/MallorcaMagazin_2025_04_16.html.gz", "Deutsche Presse-Agentur, MM-Redaktion"),
        ("es/ElPais_2024_10_15.html.gz", "María R. Sahuquillo"),
    ],
)
def test_real_authors(key: str, expected: str) -> None:
    folder, truth = fundus()
    assert extract_article(fundus_page(folder, key), truth[key]["url"]).author == expected


@pytest.mark.parametrize(
    ("name", "title", "author"),
    [
        ("aoc.media.archaisme.html", "Pour le néolibéralisme, la retraite est un archaïsme",
         "Barbara Stiegler"),
        ("tdg.ch.chlorothalonil.html", None, "Stefan Häne, Sylvain Besson"),
        ("gala.fr.surnom.html", None, "Marie Merlet"),
        ("francais.radio.cz-ministre.html", None, "Anna Kubišta"),
        ("arteradio.com-nuls.html", None, "Kristen Falchon"),
    ],
)
def test_real_french_titles_and_authors(name: str, title: str | None, author: str) -> None:
    folder = eval_data("extraction", "trafilatura-fr")
    pages = json.loads((folder / "evaldata_fr.json").read_text(encoding="utf-8"))
    (url,) = [u for u, item in pages.items() if item["file"] == name]
    article = extract_article((folder / "html" / name).read_bytes(), url)
    assert article.author == author
    if title:
        assert article.title == title


@pytest.mark.parametrize(
    ("head", "url", "expected"),
    [
        ('<link rel="canonical" href="https://journal.example/eco/port">',
         "https://journal.example/eco/port?CMP=rss", "https://journal.example/eco/port"),
        ('<link rel="Canonical" href="/eco/port">', "https://journal.example/x/1",
         "https://journal.example/eco/port"),  # relative, and rel in any case
        ('<meta property="og:url" content="https://journal.example/eco/port">',
         "https://journal.example/amp/1", "https://journal.example/eco/port"),
        # the home page on every page: not this page's address
        ('<link rel="canonical" href="https://journal.example/">', "https://journal.example/eco/port", ""),
        ('<link rel="canonical" href="javascript:void(0)">', "https://journal.example/eco/port", ""),
        ("", "https://journal.example/eco/port", ""),
    ],
)
def test_the_address_a_page_declares_as_its_own(head: str, url: str, expected: str) -> None:
    assert extract_article(dated_page(head), url).canonical_url == expected

