"""Finding a site's feed from its page, against a real HTTP server on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from newsletter.collect.discover import find_feed
from newsletter.collect.http import Fetcher
from newsletter.errors import FetchError, InputError

from .support.httpserver import LocalServer, Reply, http_server  # noqa: F401 (fixture)
from .test_collect_run import _rss

HTML = {"Content-Type": "text/html; charset=utf-8"}
RSS = _rss([("g-1", "Une dépêche", "https://agence.example/a", "Le texte de la dépêche.")])
ATOM = (
    b"<?xml version='1.0' encoding='utf-8'?><feed xmlns='http://www.w3.org/2005/Atom'>"
    b"<title>Agence</title><id>urn:agence</id><updated>2026-11-28T10:00:00Z</updated>"
    b"<entry><title>Une d\xc3\xa9p\xc3\xaache</title><id>urn:a</id><link href='https://agence.example/a'/>"
    b"<updated>2026-11-28T10:00:00Z</updated><summary>Le texte.</summary></entry></feed>"
)


def _home(*links: str) -> bytes:
    return ("<!DOCTYPE html><html><head><title>Agence</title>" + "".join(links)
            + "</head><body><p>Bienvenue</p></body></html>").encode()


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    with Fetcher(timeout=2) as client:
        yield client


def test_a_feed_is_its_own_feed(http_server: LocalServer, fetcher: Fetcher) -> None:
    url = http_server.route("/rss", Reply(body=RSS))
    assert find_feed(fetcher, url) == url


def test_the_first_feed_a_page_announces_made_absolute(http_server: LocalServer, fetcher: Fetcher) -> None:
    http_server.route("/fil/atom.xml", Reply(body=ATOM))
    page = http_server.route("/", Reply(body=_home(
        '<link rel="stylesheet" href="/style.css">',
        '<link rel="alternate" hreflang="ar" href="/ar/">',  # an alternate page, not a feed
        '<LINK REL="Alternate" TYPE="application/atom+xml; charset=utf-8" HREF="fil/atom.xml">',
        '<link rel="alternate" type="application/rss+xml" href="/rss">',
    ), headers=HTML))
    assert find_feed(fetcher, page) == http_server.url("/fil/atom.xml")


def test_a_page_announcing_no_feed_is_refused_with_the_next_step(http_server: LocalServer, fetcher: Fetcher) -> None:
    page = http_server.route("/accueil", Reply(body=_home('<link rel="icon" href="/f.ico">'), headers=HTML))
    with pytest.raises(InputError, match=r"paste the feed's own address") as info:
        find_feed(fetcher, page)
    assert info.value.code == "no-feed"


def test_an_announced_feed_that_cannot_be_read_is_named(http_server: LocalServer, fetcher: Fetcher) -> None:
    page = http_server.route("/", Reply(body=_home(
        '<link rel="alternate" type="application/rss+xml" href="/gone.xml">'), headers=HTML))
    with pytest.raises(InputError) as info:
        find_feed(fetcher, page)
    assert info.value.code == "feed-unreadable" and info.value.params["url"] == http_server.url("/gone.xml")


def test_an_address_that_cannot_be_read_is_the_fetchers_error(http_server: LocalServer, fetcher: Fetcher) -> None:
    with pytest.raises(FetchError) as info:
        find_feed(fetcher, http_server.url("/nowhere"))
    assert info.value.code == "fetch-gone"
