"""robots.txt: article pages are fetched only where the site allows it; feeds always are.

Against a real HTTP server on loopback; the robots.txt files are written for these tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import select

from newsletter.collect.http import Fetcher
from newsletter.collect.robots import MAX_CRAWL_DELAY, RobotsDisallowed, RobotsPolicy
from newsletter.collect.run import collect
from newsletter.jobs import collect_source
from newsletter.store.db import Store
from newsletter.store.models import Article, Source

from .support.httpserver import LocalServer, Reply, http_server  # noqa: F401 (fixture)
from .test_collect_run import PARAGRAPHS, _page, _rss

ROBOTS = b"""# written for the tests
User-agent: *
Disallow: /abonnes/
Disallow: /*?print=1$

User-agent: newsletter
Disallow: /prive/
Allow: /prive/publique/
"""


@pytest.fixture
def policy_for(http_server: LocalServer) -> Iterator[Callable[..., RobotsPolicy]]:
    """policy_for(robots_reply[, user_agent]): a policy over the server, its client closed after."""
    fetchers: list[Fetcher] = []

    def make(robots: Reply, user_agent: str = "") -> RobotsPolicy:
        http_server.route("/robots.txt", robots)
        fetchers.append(Fetcher(timeout=2, user_agent=user_agent))
        return RobotsPolicy(fetchers[-1])

    yield make
    for fetcher in fetchers:
        fetcher.close()


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/2026/mediatheque", True),
        ("/prive/dossier", False),  # our own group...
        ("/prive/publique/dossier", True),  # ...where the longest rule wins
        ("/abonnes/enquete", True),  # the * group does not apply once a group names us
    ],
)
def test_the_group_for_our_user_agent_and_its_most_specific_rule(
    http_server: LocalServer, policy_for: Callable[..., RobotsPolicy], path: str, allowed: bool
) -> None:
    policy = policy_for(Reply(body=ROBOTS))
    url = http_server.url(path)
    if allowed:
        policy.check(url)
    else:
        with pytest.raises(RobotsDisallowed, match=r"robots\.txt does not allow 'newsletter/"):
            policy.check(url)


def test_another_user_agent_falls_to_the_star_group_with_wildcards(
    http_server: LocalServer, policy_for: Callable[..., RobotsPolicy]
) -> None:
    policy = policy_for(Reply(body=ROBOTS), user_agent="Mozilla/5.0 (compatible; LeMatinBot/1.0)")
    policy.check(http_server.url("/prive/dossier"))
    for path in ("/abonnes/enquete", "/2026/article?print=1"):
        with pytest.raises(RobotsDisallowed) as info:
            policy.check(http_server.url(path))
        assert info.value.code == "robots-disallowed"
    policy.check(http_server.url("/2026/article?print=12"))  # "$" anchors the end


def test_robots_txt_is_read_once_per_site(
    http_server: LocalServer, policy_for: Callable[..., RobotsPolicy]
) -> None:
    policy = policy_for(Reply(body=ROBOTS))
    for path in ("/a", "/b", "/prive/c", "/d"):
        try:
            policy.check(http_server.url(path))
        except RobotsDisallowed:
            pass
    assert [r.path for r in http_server.requests] == ["/robots.txt"]


def test_the_crawl_delay_is_kept_between_two_pages_of_a_site(http_server: LocalServer) -> None:
    http_server.route("/robots.txt", Reply(body=b"User-agent: *\nCrawl-delay: 2\n"))
    now = [100.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    with Fetcher(timeout=2) as fetcher:
        policy = RobotsPolicy(fetcher, clock=lambda: now[0], sleep=sleep)
        policy.check(http_server.url("/a"))  # the first page goes at once
        now[0] += 0.5
        policy.check(http_server.url("/b"))  # 0.5 s later: waits the other 1.5 s
        now[0] += 10
        policy.check(http_server.url("/c"))  # long after: no wait
    assert waits == [1.5]


def test_a_huge_crawl_delay_is_capped(http_server: LocalServer) -> None:
    http_server.route("/robots.txt", Reply(body=b"User-agent: *\nCrawl-delay: 3600\n"))
    waits: list[float] = []
    with Fetcher(timeout=2) as fetcher:
        policy = RobotsPolicy(fetcher, clock=lambda: 0.0, sleep=waits.append)
        policy.check(http_server.url("/a"))
        policy.check(http_server.url("/b"))
    assert waits == [MAX_CRAWL_DELAY]


@pytest.mark.parametrize("status", [404, 410, 401, 403])
def test_no_robots_txt_or_a_refused_one_allows_every_page(
    http_server: LocalServer, policy_for: Callable[..., RobotsPolicy], status: int
) -> None:
    policy_for(Reply(status, b"no")).check(http_server.url("/prive/dossier"))


@pytest.mark.parametrize(
    ("reply", "reason"),
    [(Reply(503, b"down"), "HTTP 503"), (Reply(429, b"slow down"), "HTTP 429"), (Reply(body=ROBOTS, delay=3), "timed out")],
)
def test_an_unreachable_robots_txt_allows_no_page_for_now(
    http_server: LocalServer, policy_for: Callable[..., RobotsPolicy], reply: Reply, reason: str
) -> None:
    policy = policy_for(reply)
    with pytest.raises(RobotsDisallowed) as info:
        policy.check(http_server.url("/2026/mediatheque"))
    assert info.value.code == "robots-unreachable"
    assert f"/robots.txt could not be read ({reason}), which counts as a refusal" in str(info.value)


def _newsroom(server: LocalServer, make_config, **collect_settings):  # type: ignore[no-untyped-def]
    server.route("/robots.txt", Reply(body=b"User-agent: *\nDisallow: /abonnes/\n"))
    free = server.route("/2026/mediatheque", Reply(body=_page("Une médiathèque au cœur de la ville", PARAGRAPHS)))
    paywalled = server.route("/abonnes/marche", Reply(body=_page("Le marché couvert rouvre", PARAGRAPHS)))
    feed = _rss([
        ("g-1", "Une médiathèque au cœur de la ville", free, "La commune a inauguré une médiathèque…"),
        ("g-2", "Le marché couvert rouvre", paywalled, "Le marché couvert rouvre ses portes…"),
    ])
    return make_config(
        sources=[{"name": "ville", "url": server.route("/feed.xml", Reply(body=feed)), "tags": ["local"]}],
        collect=collect_settings,
    )


def test_a_teaser_whose_page_robots_txt_refuses_keeps_its_teaser_without_error(
    store: Store, http_server: LocalServer, make_config
) -> None:
    config = _newsroom(http_server, make_config)
    with store.session() as session:
        (report,) = collect(session, config)
    assert (report.new, report.errors) == (2, [])
    assert report.robots_refused == [http_server.url("/abonnes/marche")]
    fetched = [r.path for r in http_server.requests]
    assert "/2026/mediatheque" in fetched and "/abonnes/marche" not in fetched
    with store.session() as session:
        texts = {a.guid: a.text for a in session.scalars(select(Article))}
        assert "quarante mille ouvrages" in texts["g-1"]  # completed from its page
        assert texts["g-2"] == "Le marché couvert rouvre ses portes…"  # the feed's own teaser
        assert session.scalars(select(Source)).one().last_error is None


def test_the_daemons_collect_job_says_so_in_its_result(store: Store, http_server: LocalServer, make_config) -> None:
    config = _newsroom(http_server, make_config)
    with store.session() as session:
        done = collect_source(session, config, "ville")
    assert done.startswith("2 new, 0 known;")
    assert done.endswith("; 1 page(s) not fetched (robots.txt): teasers kept")


def test_respect_robots_off_fetches_every_page(store: Store, http_server: LocalServer, make_config) -> None:
    config = _newsroom(http_server, make_config, respect_robots=False)
    with store.session() as session:
        (report,) = collect(session, config)
    assert report.robots_refused == [] and "/abonnes/marche" in [r.path for r in http_server.requests]
    assert "/robots.txt" not in [r.path for r in http_server.requests]


def test_a_page_source_refused_by_robots_txt_is_an_error_naming_the_next_step(
    store: Store, http_server: LocalServer, make_config
) -> None:
    http_server.route("/robots.txt", Reply(body=b"User-agent: *\nDisallow: /\n"))
    page = http_server.route("/2026/mediatheque", Reply(body=_page("Une médiathèque", PARAGRAPHS)))
    config = make_config(sources=[{"name": "page", "kind": "page", "url": page, "tags": ["local"]}])
    with store.session() as session:
        (report,) = collect(session, config)
        assert report.new == 0 and "collect.respect_robots = false" in report.errors[0]
        assert "robots.txt does not allow" in session.scalars(select(Source)).one().last_error
    assert "/2026/mediatheque" not in [r.path for r in http_server.requests]
