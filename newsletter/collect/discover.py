"""Finding a site's feed from the address an editor knows: its home page or a section page.

``find_feed(fetcher, url)`` returns URL itself when it already is an RSS or Atom feed; when it is
an HTML page, the first feed the page announces (``<link rel="alternate"
type="application/rss+xml" href="...">``, or Atom), made absolute and checked to be a readable
feed. Anything else is an :class:`InputError` (code ``no-feed``, or ``feed-unreadable`` when the
announced feed cannot be read) saying what to paste instead; failing to read URL itself is the
fetcher's own :class:`FetchError`.
"""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

from newsletter.collect.feeds import parse_feed
from newsletter.collect.http import Fetcher
from newsletter.errors import FetchError, InputError

FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/rdf+xml")


class _FeedLinks(HTMLParser):
    """The href of every <link rel="alternate"> with a feed's type, in page order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "link":
            return
        found = {name.lower(): (value or "").strip() for name, value in attrs}
        media_type = found.get("type", "").lower().split(";")[0].strip()
        if "alternate" in found.get("rel", "").lower().split() and media_type in FEED_TYPES:
            if found.get("href"):
                self.hrefs.append(found["href"])


def find_feed(fetcher: Fetcher, url: str, *, public_only: bool = False) -> str:
    """The feed at URL: URL itself, or the one its page announces (see the module docstring)."""
    page = fetcher.fetch(url, public_only=public_only)
    try:
        parse_feed(page.content, page.url)
        return url
    except InputError:
        pass  # not a feed: perhaps a page that announces one
    links = _FeedLinks()
    links.feed(page.text())
    for href in links.hrefs:
        feed_url = urljoin(page.url, href)
        if urlsplit(feed_url).scheme not in ("http", "https"):
            continue
        try:
            parse_feed(fetcher.fetch(feed_url, public_only=public_only).content, feed_url)
        except (FetchError, InputError):
            raise InputError(
                f"{url} announces the feed {feed_url}, but it is not a readable RSS or Atom feed; "
                "paste the address of another of the site's feeds",
                code="feed-unreadable", url=feed_url,
            ) from None
        return feed_url
    raise InputError(
        f"{url}: neither an RSS or Atom feed nor a page announcing one; paste the feed's own "
        "address (often ending in /rss or /feed), or choose the kind 'page' for a single article",
        code="no-feed", url=url,
    )
