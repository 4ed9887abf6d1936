"""Feeds to articles: RSS 0.9x/1.0/2.0 and Atom, our fixtures and real feeds in place."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from newsletter.collect.article import CollectedArticle
from newsletter.collect.feeds import is_teaser, parse_feed, primary_language
from newsletter.errors import InputError

from .support import eval_data

BODY = " ".join(["Le port de Tanger Med a enregistré une hausse de son trafic."] * 12)

RSS2 = f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"
     xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel>
  <title>Le Quotidien</title><link>https://quotidien.example/</link>
  <language>fr-MA</language>
  <item>
    <title>Tanger Med&#160;: le trafic en hausse</title>
    <link>/economie/tanger-med</link>
    <guid isPermaLink="false">qt-1001</guid>
    <dc:creator>Salma Benali</dc:creator>
    <pubDate>Thu, 29 May 2025 08:30:00 +0100</pubDate>
    <category>Économie</category><category>Ports</category><category>Économie</category>
    <description><![CDATA[<p>Le trafic progresse encore. <a href="/x">Lire la suite</a></p>]]></description>
    <content:encoded><![CDATA[<h2>Tanger Med&#160;: le trafic en hausse</h2><p>{BODY}</p>
      <p>Le directeur a déclaré&#160;: «&#160;nous visons plus&#160;».</p>
      <p>Lire aussi : Le port de Nador ouvre ses portes</p>
      <script>var tracker = 1;</script>
      <p>The post Tanger Med appeared first on Le Quotidien.</p>]]></content:encoded>
  </item>
  <item>
    <title>Brève sans corps</title>
    <link>https://quotidien.example/breve</link>
    <description>Une courte brève [&#8230;]</description>
    <pubDate>not a date</pubDate>
  </item>
</channel></rss>""".encode()

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">
  <title>The Daily</title><id>urn:daily</id><updated>2025-05-29T10:00:00Z</updated>
  <entry>
    <title type="html">Rabat &lt;em&gt;hosts&lt;/em&gt; the summit</title>
    <link rel="alternate" href="https://daily.example/rabat-summit"/>
    <id>urn:daily:42</id>
    <author><name>John Doe</name></author><author><name>Jane Roe</name></author>
    <updated>2025-05-29T09:00:00+02:00</updated>
    <category term="politics"/>
    <summary>Leaders meet in Rabat.</summary>
    <content type="html">&lt;p&gt;Leaders meet in Rabat.&lt;/p&gt;</content>
  </entry>
  <entry xml:lang="ar">
    <title>قمة الرباط</title>
    <link href="https://daily.example/ar/summit"/>
    <id>urn:daily:43</id>
    <published>2025-05-28T22:00:00-01:00</published>
    <summary>اجتمع القادة في الرباط.</summary>
  </entry>
</feed>""".encode()

RDF = b"""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
         xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel rdf:about="https://rdf.example/"><title>RDF News</title><link>https://rdf.example/</link>
    <description>d</description><dc:language>de</dc:language></channel>
  <item rdf:about="https://rdf.example/1"><title>Eins</title><link>https://rdf.example/1</link>
    <dc:date>2025-01-03T10:14:24+01:00</dc:date><dc:creator>Redaktion</dc:creator>
    <dc:subject>Inland</dc:subject><description>Erste Meldung.</description></item>
</rdf:RDF>"""

RSS091 = b"""<?xml version="1.0"?><rss version="0.91"><channel><title>Old</title>
<link>http://old.example/</link><description>d</description><language>en</language>
<item><title>Ancient news</title><link>http://old.example/1</link><description>Old text.</description></item>
</channel></rss>"""


# Written for these tests, after what WordPress and others send: fields escaped twice, an
# author (at a domain feedparser splits wrong) and a category with references, and an article
# about "&amp;" (written "&amp;amp;" in its HTML, so "&amp;amp;amp;" in the XML).
RSS_ESCAPED = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel>
  <title>L&amp;#8217;Hebdo &amp;amp; Cie</title><link>https://hebdo.example/</link>
  <description>d</description><language>fr</language>
  <item>
    <title>L&amp;#8217;économie &#8230; &amp;amp; l&amp;apos;inflation</title>
    <link>https://hebdo.example/1</link>
    <author>redaction@hebdo.example (Jos&amp;eacute; Mart&amp;iacute;n)</author>
    <category>&amp;Eacute;conomie</category>
    <description>&amp;lt;p&amp;gt;L&amp;#8217;inflation ralentit&amp;nbsp;: 2,1 %.&amp;lt;/p&amp;gt;</description>
  </item>
  <item>
    <title>Le signe &amp;amp;amp; en typographie</title>
    <link>https://hebdo.example/2</link>
    <description>&lt;p&gt;L&amp;#8217;esperluette s&amp;#8217;écrit &amp;amp;amp; en HTML.&lt;/p&gt;</description>
  </item>
</channel></rss>""".encode()


def test_entities_decoded_once_and_escaped_markup_stripped() -> None:
    feed = parse_feed(RSS_ESCAPED)
    assert feed.title == "L’Hebdo & Cie"
    first, second = feed.entries
    assert first.title == "L’économie … & l'inflation"
    assert first.text == first.teaser == "L’inflation ralentit\u00a0: 2,1 %."
    assert first.author == "José Martín" and first.categories == ["Économie"]
    # meant literally: decoded once, not twice
    assert second.title == "Le signe &amp; en typographie"
    assert second.text == "L’esperluette s’écrit &amp; en HTML."


def test_an_aggregators_entry_loses_the_outlet_it_names_from_its_title() -> None:
    """Google News ends each title with " - Outlet" and names the outlet in <source>."""
    items = "".join(
        f"<item><title>{title}</title><source url='{url}'>{name}</source>"
        f"<link>https://news.example/{n}</link><description>Un texte court.</description></item>"
        for n, (title, name, url) in enumerate([
            ("Inondations : la Wallonie en alerte - RTBF", "RTBF", "https://www.rtbf.be"),
            ("Le Real - Barcelone : 2-1", "L'Équipe", "https://www.lequipe.fr"),
        ])
    )
    feed = parse_feed(f"<rss version='2.0'><channel>{items}</channel></rss>".encode(), "gnews")
    assert [e.title for e in feed.entries] == [
        "Inondations : la Wallonie en alerte",
        "Le Real - Barcelone : 2-1",  # not the outlet: a score stays whole
    ]


def test_rss2_entry() -> None:
    feed = parse_feed(RSS2, "https://quotidien.example/feed")
    assert (feed.title, feed.language, feed.warning) == ("Le Quotidien", "fr", "")
    first, second = feed.entries
    assert first.title == "Tanger Med\u00a0: le trafic en hausse"
    assert first.url == "https://quotidien.example/economie/tanger-med"  # made absolute
    assert first.guid == "qt-1001" and first.author == "Salma Benali"
    assert first.published == datetime(2025, 5, 29, 7, 30, tzinfo=UTC)
    assert first.categories == ["Économie", "Ports"]
    assert first.language == "fr"
    assert first.teaser == "Le trafic progresse encore. Lire la suite"
    # the full body, cleaned: no repeated title, no "Lire aussi", no script, no WordPress trailer
    paragraphs = first.text.split("\n\n")
    assert paragraphs == [BODY, "Le directeur a déclaré\u00a0: «\u00a0nous visons plus\u00a0»."]
    assert not is_teaser(first, 80)
    assert second.text == "Une courte brève […]" and second.published is None
    assert is_teaser(second, 80)


def test_atom_entries() -> None:
    feed = parse_feed(ATOM)
    assert (feed.title, feed.language) == ("The Daily", "en")
    first, second = feed.entries
    assert first.title == "Rabat hosts the summit"
    assert first.author == "John Doe, Jane Roe"
    assert first.published == datetime(2025, 5, 29, 7, 0, tzinfo=UTC)
    assert first.categories == ["politics"] and first.guid == "urn:daily:42"
    assert first.text == "Leaders meet in Rabat."
    assert second.language == "ar" and second.title == "قمة الرباط"
    assert second.published == datetime(2025, 5, 28, 23, 0, tzinfo=UTC)


def test_rdf_and_rss091() -> None:
    rdf = parse_feed(RDF)
    (entry,) = rdf.entries
    assert (rdf.language, entry.author, entry.categories) == ("de", "Redaktion", ["Inland"])
    assert entry.published == datetime(2025, 1, 3, 9, 14, 24, tzinfo=UTC)
    old = parse_feed(RSS091)
    assert old.entries[0].title == "Ancient news" and old.entries[0].language == "en"


def test_malformed_feed_recovers_entries_with_a_warning() -> None:
    broken = RSS2.replace(
        "<title>Brève sans corps</title>".encode(), b"<title>Br & sans corps</title>"
    )
    feed = parse_feed(broken, "https://quotidien.example/feed")
    assert feed.entries and "malformed feed" in feed.warning and "line" in feed.warning
    # the web app says it from its code and params; the line and column are the CLI's
    (warning,) = feed.warnings
    assert (warning.code, warning.params) == (
        "feed-malformed", {"entries": len(feed.entries), "detail": "not well-formed (invalid token)"})
    assert warning.message == feed.warning


def test_entries_skipped_and_a_malformed_feed_are_two_warnings_on_one_line() -> None:
    skipped = "<item><guid>x-1</guid><link>https://quotidien.example/x</link></item>"
    broken = RSS2.replace(
        "<title>Brève sans corps</title>".encode(), b"<title>Br & sans corps</title>"
    ).replace(b"</channel>", skipped.encode() + b"</channel>")
    feed = parse_feed(broken, "https://quotidien.example/feed")
    assert [(w.code, w.params.get("skipped")) for w in feed.warnings] == [
        ("feed-malformed", None), ("feed-entries-skipped", 1)
    ]
    assert feed.warning.endswith("; 1 entries without title, link or text were skipped")
    assert feed.warning == "; ".join(w.message for w in feed.warnings)


@pytest.mark.parametrize(
    "data",
    [
        b"<!DOCTYPE html><html><head><title>Accueil</title></head><body><p>Bienvenue</p></body></html>",
        b"\x00\x01garbage\xff\xfe not xml at all",
        b'{"json": true}',
    ],
    ids=["html", "garbage", "json"],
)
def test_not_a_feed_is_an_input_error(data: bytes) -> None:
    with pytest.raises(InputError) as caught:
        parse_feed(data, "https://site.example/")
    assert str(caught.value).startswith("https://site.example/: not a readable RSS/Atom feed")


def test_empty_document_and_empty_feed() -> None:
    with pytest.raises(InputError, match="empty"):
        parse_feed(b"  \n", label="feed.xml")
    empty = parse_feed(
        b"<?xml version='1.0'?><rss version='2.0'><channel><title>E</title></channel></rss>"
    )
    assert empty.entries == [] and empty.title == "E"


def test_is_teaser_markers() -> None:
    long = " ".join(["mot"] * 100)
    assert not is_teaser(CollectedArticle(title="t", text=long), 80)
    assert is_teaser(CollectedArticle(title="t", text=long + " [...]"), 80)
    assert is_teaser(CollectedArticle(title="t", text=long + " Read more"), 80)
    assert is_teaser(CollectedArticle(title="t", text="court"), 80)


def test_primary_language() -> None:
    assert [primary_language(t) for t in ("fr-BE", "en_US", "AR", "", "x-klingon")] == [
        "fr",
        "en",
        "ar",
        "",
        "",
    ]


# -- the real feeds, read in place ------------------------------------------------------------


def real(name: str):
    return parse_feed(eval_data("feeds", name).read_bytes(), label=name)


def test_real_atom_the_verge() -> None:
    feed = real("prof18_feed-atom-test.xml")
    (entry,) = feed.entries
    assert entry.title.startswith("Sonos wins") and entry.author == "Chris Welch"
    assert entry.published == datetime(2023, 5, 26, 21, 30, 31, tzinfo=UTC)
    assert entry.language == "en" and len(entry.text.split()) > 100
    assert "<" not in entry.text
    assert "Photo by Chris Welch / The Verge" not in entry.text


def test_real_dcdate_reporterre_keeps_french_typography() -> None:
    feed = real("prof18_feed-dcdate.xml")
    (entry,) = feed.entries
    assert feed.language == "fr" and entry.language == "fr"
    assert entry.published == datetime(2025, 2, 26, 16, 42, 45, tzinfo=UTC)
    assert entry.categories == ["Europe"]
    assert "\u00a0:" in entry.title and "«\u00a0" in entry.title and "\u00a0»" in entry.title
    assert "«" in entry.text


def test_real_google_news_source() -> None:
    feed = real("prof18_feed-test-source.xml")
    (entry,) = feed.entries
    assert feed.language == "fr" and entry.url.startswith("https://news.google.com/")
    assert "couverture complète" not in entry.text
    assert entry.published == datetime(2020, 3, 8, 10, 32, 7, tzinfo=UTC)


def test_real_wordpress_content_encoded() -> None:
    feed = real("prof18_feed-test.xml")
    (entry,) = feed.entries
    assert entry.author == "Williams Pelegrin" and "5G" in entry.categories
    assert entry.published == datetime(2019, 5, 15, 20, 48, 2, tzinfo=UTC)
    assert entry.language == "en"
    assert len(entry.text.split()) > 5 * len(entry.teaser.split())  # content:encoded won
    assert entry.text.count("\n\n") >= 3 and not is_teaser(entry, 80)


def test_real_malformed_feed_recovers_one_entry() -> None:
    try:
        feed = real("prof18_feed-test-malformed.xml")
    except InputError as exc:  # acceptable too; never a crash
        assert "prof18_feed-test-malformed.xml" in str(exc)
        return
    assert len(feed.entries) == 1 and "malformed" in feed.warning and "line" in feed.warning
    assert feed.entries[0].author == "Williams Pelegrin"


def test_real_rdf_orf() -> None:
    feed = real("prof18_rdf-feed-test.xml")
    (entry,) = feed.entries
    assert feed.language == "de" and entry.categories == ["Ausland"]
    assert entry.author.startswith("ORF Online")
    assert entry.published == datetime(2025, 1, 3, 9, 14, 24, tzinfo=UTC)


def test_real_guardian() -> None:
    feed = real("rbren_guardian.rss")
    assert len(feed.entries) == 55 and feed.language == "en"
    assert all(e.title and e.url.startswith("https://www.theguardian.com/") for e in feed.entries)
    assert all(e.published is not None for e in feed.entries)
    assert sum(bool(e.author) for e in feed.entries) >= 50
    assert feed.entries[0].author == "David Smith in Washington"
    assert not any("Continue reading" in e.text for e in feed.entries)
    assert not any("Sign up here to get an email" in e.text for e in feed.entries)


def test_real_heise_atom() -> None:
    feed = real("rbren_heise.atom")
    assert len(feed.entries) == 15
    assert feed.entries[0].published == datetime(2016, 2, 1, 16, 22, tzinfo=UTC)
    assert all(e.text and "<" not in e.text for e in feed.entries)
    # a summary of type html without tags, "&quot;" in it: decoded like the rest
    fields = [f for e in feed.entries for f in (e.title, e.text, e.teaser, e.author)]
    assert not [f for f in fields if re.search(r"&#?\w+;", f)]
    (entry,) = [e for e in feed.entries if "continued-3086830" in e.url]
    assert 'der gleichen "Klasse" arbeitet' in entry.text


def test_an_entry_whose_link_is_not_a_url_loses_its_link_not_the_feed() -> None:
    """One entry's broken link ("http://[::1/x": urllib raises on it) had failed the whole feed
    as an unexpected error; the others are read, and that one has no link."""
    rss = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
        b"<item><title>Lien cass\xc3\xa9</title><link>http://[::1/x</link>"
        b"<description>Un texte assez long pour un article de test.</description></item>"
        b"<item><title>Bon lien</title><link>/a</link><description>Un autre texte.</description></item>"
        b"</channel></rss>"
    )
    parsed = parse_feed(rss, "https://ex.org/feed")
    assert [(e.title, e.url) for e in parsed.entries] == [("Lien cassé", ""), ("Bon lien", "https://ex.org/a")]
