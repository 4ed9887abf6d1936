"""robots.txt (RFC 9309): may the collector fetch a site's article pages?

Feeds are fetched whatever robots.txt says: a feed is published for programs to read. An article
page (the full text behind a feed's teaser, or a ``page`` source) is fetched only when the
site's robots.txt lets the collector's user agent have it (``collect.respect_robots``, on by
default). Protego reads the file as search engines do: wildcards, ``$``, the most specific rule
wins, and a group for the user agent's product token ("newsletter", or a token of
``collect.user_agent``) before the ``*`` group.

When robots.txt cannot be read the RFC decides: a 4xx answer (no file, or refused) allows every
page; a 5xx or a 429, a timeout or a broken connection allows none for this run (a teaser keeps
the feed's text; a page source is tried again at its next collect). Each site's robots.txt
(scheme, host and port) is read once per run, and its ``Crawl-delay`` (up to MAX_CRAWL_DELAY
seconds) is kept between two pages of the site.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit

from protego import Protego

from newsletter.collect.http import Fetcher
from newsletter.errors import FetchError

# robots.txt unreadable for a reason that may pass (and why, in brief): no page of the site
# this run. fetch-busy and fetch-server (429, 5xx) are told by their status.
_UNREACHABLE = {
    "fetch-timeout": "timed out", "fetch-connect": "cannot connect",
    "fetch-broken": "connection broken", "fetch-too-large": "too large",
    "fetch-busy": "", "fetch-server": "",
}


MAX_CRAWL_DELAY = 5.0  # seconds; a longer Crawl-delay would hold a collect run for minutes


class RobotsDisallowed(FetchError):
    """The site's robots.txt does not let the collector fetch this page (or could not be read)."""


class RobotsPolicy:
    """robots.txt verdicts for one collect run: ``policy.check(url)`` raises when not allowed."""

    def __init__(
        self,
        fetcher: Fetcher,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._fetcher = fetcher
        self._clock, self._sleep = clock, sleep
        # robots.txt URL (one per scheme, host and port) -> its rules, or why none can be read
        self._sites: dict[str, Protego | str] = {}
        self._last_page: dict[str, float] = {}  # robots.txt URL -> when its site's last page went

    def check(self, url: str, *, public_only: bool = False) -> None:
        """Return when URL may be fetched (after the site's crawl delay, if any); raise
        :class:`RobotsDisallowed`, naming why, if it may not."""
        parts = urlsplit(url)
        robots_url = urlunsplit((parts.scheme, parts.netloc, "/robots.txt", "", ""))
        if robots_url not in self._sites:
            self._sites[robots_url] = self._read(robots_url, public_only)
        rules = self._sites[robots_url]
        agent = self._fetcher.user_agent
        if isinstance(rules, str):
            raise RobotsDisallowed(
                f"{url}: not fetched: {robots_url} could not be read ({rules}), which counts "
                "as a refusal until it can be",
                code="robots-unreachable", url=url,
            )
        if not rules.can_fetch(url, agent):
            raise RobotsDisallowed(
                f"{url}: {robots_url} does not allow {agent!r} to fetch this page (ask the "
                "publisher, then set collect.respect_robots = false if they agree)",
                code="robots-disallowed", url=url,
            )
        delay = min(rules.crawl_delay(agent) or 0.0, MAX_CRAWL_DELAY)
        last = self._last_page.get(robots_url)
        if delay and last is not None:
            wait = last + delay - self._clock()
            if wait > 0:
                self._sleep(wait)
        self._last_page[robots_url] = self._clock()

    def _read(self, robots_url: str, public_only: bool) -> Protego | str:
        try:
            result = self._fetcher.fetch(robots_url, public_only=public_only)
        except FetchError as exc:
            if exc.code in _UNREACHABLE:
                return _UNREACHABLE[exc.code] or f"HTTP {exc.params.get('status')}"
            # a 4xx (none, gone, refused), or not a web address: every page allowed
            return Protego.parse("")
        return Protego.parse(result.text())
