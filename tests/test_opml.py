"""OPML: feed readers' exports read into feeds, ours written, source names made from titles.

The OPML documents are written for these tests, in the shapes Feedly and NetNewsWire export.
"""

from __future__ import annotations

import pytest

from newsletter.collect.opml import OpmlFeed, folder_tag, read_opml, source_name, write_opml
from newsletter.errors import InputError

FEEDLY = """<?xml version="1.0" encoding="UTF-8"?>
<opml version="1.0">
  <head><title>Abonnements de la rédaction</title></head>
  <body>
    <outline text="Économie" title="Économie">
      <outline type="rss" text="Le Courrier — Éco" title="Le Courrier — Éco"
               xmlUrl="https://courrier.example/eco/rss" htmlUrl="https://courrier.example/eco"/>
      <outline text="Marchés">
        <outline type="rss" text="Bourse du jour" xmlUrl="https://bourse.example/feed"/>
      </outline>
    </outline>
    <outline type="rss" text="هسبريس" xmlUrl="https://www.hespress.example/feed"/>
    <outline text="Un lien sans flux" htmlUrl="https://example.org/"/>
  </body>
</opml>
""".encode()


def test_a_feed_readers_export_gives_each_feed_with_its_folder() -> None:
    assert read_opml(FEEDLY) == [
        OpmlFeed("Le Courrier — Éco", "https://courrier.example/eco/rss", "Économie"),
        OpmlFeed("Bourse du jour", "https://bourse.example/feed", "Marchés"),  # the nearest folder
        OpmlFeed("هسبريس", "https://www.hespress.example/feed", ""),
    ]


@pytest.mark.parametrize(
    "data",
    [b"<html><body><p>Bonjour</p></body></html>", b"<opml version='2.0'><head/></opml>", b"not xml at all <", b""],
)
def test_what_is_not_opml_is_refused_with_its_code(data: bytes) -> None:
    with pytest.raises(InputError, match="not OPML") as info:
        read_opml(data)
    assert info.value.code == "not-opml"


def test_written_opml_reads_back() -> None:
    feeds = [OpmlFeed("Le Courrier", "https://courrier.example/rss", "economie"),
             OpmlFeed("", "https://agence.example/fil?x=1&y=2", ""),
             OpmlFeed("Sport 24", "https://sport.example/rss", "economie")]
    back = read_opml(write_opml("Nos sources", feeds))
    # grouped in their folders, a feed without a title named by its address
    assert back == [feeds[0], feeds[2], OpmlFeed(feeds[1].url, feeds[1].url, "")]


def test_source_names_come_from_titles_or_hosts_and_never_collide() -> None:
    taken = {"le-courrier-eco"}
    assert source_name("Le Courrier — Éco", "https://courrier.example/eco/rss", taken) == "le-courrier-eco-2"
    assert source_name("هسبريس", "https://www.hespress.example/feed", set()) == "hespress-example"
    assert source_name("", "https://bourse.example/feed", set()) == "bourse-example"
    long = source_name("Une très longue suite de mots " * 4, "https://x.example/", set())
    assert len(long) <= 40 and not long.endswith("-")
    assert folder_tag("Économie") == "economie" and folder_tag("رياضة") == ""
