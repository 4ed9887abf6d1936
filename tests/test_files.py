"""Local files: .txt, .html, .json and feeds, with errors that name the file and the item."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from newsletter.collect.files import SUPPORTED, iter_article_files, read_file
from newsletter.errors import InputError, NoArticleError

from .support import eval_data
from .test_feeds import RSS2
from .test_pages import PARAGRAPHS, page

NBSP = "\u00a0"


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def test_txt_title_then_body(tmp_path: Path) -> None:
    path = write(
        tmp_path / "article.txt",
        f"\n\nLe titre{NBSP}: « enfin »\n\nPremier paragraphe.\n\nDeuxième paragraphe{NBSP}!\n\n"
        "Bouton retour en haut de la page",
    )
    result = read_file(path)
    assert result.errors == []
    (article,) = result.articles
    assert article.title == f"Le titre{NBSP}: « enfin »"
    assert article.text == f"Premier paragraphe.\n\nDeuxième paragraphe{NBSP}!"
    assert article.url == "" and article.guid == path.resolve().as_uri()


def test_sample_article(tmp_path: Path) -> None:
    path = eval_data("articles", "hammouchi-moscou-fr.txt")
    (article,) = read_file(path).articles
    assert article.title.startswith("Hammouchi impulse une nouvelle vision")
    assert "Bouton retour en haut de la page" not in article.text
    assert not article.text.endswith("page")
    paragraphs = article.text.split("\n\n")
    assert len(paragraphs) == 6
    assert paragraphs[0].startswith("Du 27 au 29 mai 2025")
    assert (
        "« la sécurité efficace ne peut être atteinte que par une coopération solide et partagée »"
        in article.text
    )
    assert "d’une centaine" in article.text  # the typographic apostrophe kept
    assert "clair : le modèle" in article.text


def test_html_file(tmp_path: Path) -> None:
    path = write(tmp_path / "saved.HTML", page())
    (article,) = read_file(path).articles
    assert article.title == "Tanger Med : le trafic en hausse"
    assert article.text.split("\n\n") == PARAGRAPHS
    assert article.url == "https://quotidien.example/economie/tanger-med"


def test_html_file_without_article(tmp_path: Path) -> None:
    path = write(tmp_path / "home.html", "<html><body><p>Accueil</p></body></html>")
    with pytest.raises(NoArticleError, match=rf"^{path}: no article text"):
        read_file(path)


def test_json_list_reports_invalid_items_and_keeps_the_rest(tmp_path: Path) -> None:
    items = [
        {
            "title": "Un",
            "text": "Premier texte.\nLire aussi : autre chose",
            "published": "2025-05-29T08:30:00+01:00",
            "url": "https://a.example/1",
            "author": "A. Auteur",
            "language": "fr-MA",
            "tags": ["économie", "ports"],
            "guid": "g1",
        },
        {
            "title": "Deux",
            "text": "<p>Texte en HTML.</p><p>Second.</p>",
            "categories": "a, b ,",
            "published": "2025-05-29",
        },
        {"title": "Trois"},
        {"title": "Quatre", "text": "Texte.", "published": "hier"},
        "not an object",
        {"title": "", "text": "Sans titre."},
    ]
    path = write(tmp_path / "data.json", json.dumps(items))
    result = read_file(path)
    assert [a.title for a in result.articles] == ["Un", "Deux"]
    one, two = result.articles
    assert (
        one.text == "Premier texte."
        and one.language == "fr"
        and one.categories == ["économie", "ports"]
    )
    assert one.published == datetime(2025, 5, 29, 7, 30, tzinfo=UTC)
    assert (one.url, one.author, one.guid) == ("https://a.example/1", "A. Auteur", "g1")
    assert two.text == "Texte en HTML.\n\nSecond." and two.categories == ["a", "b"]
    assert two.published == datetime(2025, 5, 29, tzinfo=UTC)
    assert result.errors == [
        f'{path}: item 3: missing "text"',
        f"{path}: item 4: \"published\": 'hier' is not an ISO 8601 date (e.g. 2025-05-29T08:00:00+01:00)",
        f"{path}: item 5: expected an object, got str",
        f'{path}: item 6: missing "title"',
    ]


def test_json_wordpress_style_references_and_markup(tmp_path: Path) -> None:
    # Written for this test, after WordPress's REST API ("rendered" fields carry HTML).
    items = [
        {
            "title": "Le riad d&#8217;Essaouira &amp; ses jardins",
            "text": "Un lieu &eacute;tonnant&nbsp;: la m&eacute;dina.\n\nDeuxi&egrave;me paragraphe.",
            "author": "Jos&eacute; Mart&iacute;n",
            "tags": ["&Eacute;conomie", "Tourisme &amp; loisirs"],
        },
        {
            "title": "<em>Inline</em> tags",
            "text": "Un <strong>mot</strong> en gras.\n\nUn <a href='/x'>lien</a>.",
        },
        {"title": "Deux fois", "text": "&lt;p&gt;Un.&lt;/p&gt;&lt;p&gt;Deux &amp;amp; trois.&lt;/p&gt;"},
        # a text about the entity itself: "&amp;amp;" is decoded once, to "&amp;"
        {"title": "Le signe &amp;amp;", "text": "<p>On &eacute;crit &amp;amp; en HTML.</p>"},
    ]
    result = read_file(write(tmp_path / "wp.json", json.dumps(items)))
    first, inline, escaped, literal = result.articles
    assert first.title == "Le riad d’Essaouira & ses jardins"
    assert first.text == f"Un lieu étonnant{NBSP}: la médina.\n\nDeuxième paragraphe."
    assert first.author == "José Martín"
    assert first.categories == ["Économie", "Tourisme & loisirs"]
    assert (inline.title, inline.text) == ("Inline tags", "Un mot en gras.\n\nUn lien.")
    assert escaped.text == "Un.\n\nDeux & trois."
    assert (literal.title, literal.text) == ("Le signe &amp;", "On écrit &amp; en HTML.")


def test_txt_with_character_references(tmp_path: Path) -> None:
    path = write(
        tmp_path / "copied.txt",
        "L&#8217;&eacute;conomie &amp; l&apos;inflation\n\nLe taux &lt; 3 %, dit-il&nbsp;!\n",
    )
    (article,) = read_file(path).articles
    assert article.title == "L’économie & l'inflation"
    assert article.text == f"Le taux < 3 %, dit-il{NBSP}!"


def test_json_object_with_articles_key(tmp_path: Path) -> None:
    path = write(
        tmp_path / "data.json", json.dumps({"articles": [{"title": "T", "text": "Corps."}]})
    )
    assert [a.text for a in read_file(path).articles] == ["Corps."]


def test_json_where_every_item_is_invalid(tmp_path: Path) -> None:
    path = write(tmp_path / "data.json", json.dumps([{"title": "T"}]))
    with pytest.raises(InputError, match=rf'^{path}: item 1: missing "text"'):
        read_file(path)


def test_invalid_json(tmp_path: Path) -> None:
    path = write(tmp_path / "data.json", '[{"title": "T",\n "text": }]')
    with pytest.raises(InputError, match=rf"^{path}: invalid JSON at line 2, column 10"):
        read_file(path)


def test_feed_files(tmp_path: Path) -> None:
    result = read_file(write(tmp_path / "feed.rss", RSS2))
    assert len(result.articles) == 2 and result.errors == []
    broken = write(
        tmp_path / "broken.xml",
        RSS2.replace(b"<title>Le Quotidien</title>", b"<title>A & B</title>"),
    )
    result = read_file(broken)
    assert result.articles and result.errors[0].startswith(f"{broken}: malformed feed")
    html = write(tmp_path / "page.atom", "<html><body>no feed</body></html>")
    with pytest.raises(InputError, match=rf"^{html}: not a readable RSS/Atom feed"):
        read_file(html)


def test_real_feed_files() -> None:
    for path in iter_article_files(eval_data("feeds")):
        if path.suffix == ".txt":
            continue  # PROVENANCE.txt: not an article (and it reads as one; that is fine)
        result = read_file(path)
        assert result.articles, path


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("notes.docx", b"PK...", "unsupported file type '.docx' (supported: .txt"),
        ("README", b"text", "unsupported file type '(no extension)'"),
        ("empty.txt", b"  \n\n", "empty file"),
        ("empty.json", b"", "empty file"),
        (
            "latin1.txt",
            "Titre\n\nCaf\u00e9".encode("latin-1"),
            "not UTF-8 text (byte 10: unexpected end of data; save the file as UTF-8)",
        ),
        ("title-only.txt", b"Just a title\n", "no body text after the title line"),
    ],
)
def test_unusable_files(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    path = write(tmp_path / name, content)
    with pytest.raises(InputError) as caught:
        read_file(path)
    assert str(caught.value).startswith(f"{path}: {message}")


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found"):
        read_file(tmp_path / "nope.txt")
    (tmp_path / "dir.txt").mkdir()
    with pytest.raises(InputError, match="is a folder"):
        read_file(tmp_path / "dir.txt")


def test_iter_article_files(tmp_path: Path) -> None:
    for name in [
        "b.txt",
        "a.html",
        "sub/c.json",
        "sub/d.rss",
        ".hidden.txt",
        ".git/e.xml",
        "f.pdf",
        "g.ATOM",
    ]:
        write(tmp_path / name, "x")
    found = [p.relative_to(tmp_path).as_posix() for p in iter_article_files(tmp_path)]
    assert found == ["a.html", "b.txt", "g.ATOM", "sub/c.json", "sub/d.rss"]
    assert ".atom" in SUPPORTED
