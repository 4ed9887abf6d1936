"""The collect stage end to end, on SQLite and PostgreSQL, against a real HTTP server on loopback.

Feeds, pages and files go in; articles come out stored once, with the failures of one source
recorded on it while the others are collected.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rich.console import Console
from sqlalchemy import func, select, update

from newsletter.collect.http import Fetcher
from newsletter.collect.run import Collector, SourceReport, collect
from newsletter.enrich.pending import enrich_pending
from newsletter.store.db import Store
from newsletter.store.models import Article, Source, SourceFetch
from newsletter.summarize.pending import summarize_pending

from .conftest import shared_data
from .support.httpserver import LocalServer, Reply, Request, http_server  # noqa: F401 (fixture)

PARAGRAPHS = [
    "La commune a inauguré samedi une nouvelle médiathèque de trois étages au cœur de la vieille ville.",
    "Le bâtiment, construit en dix-huit mois, accueille quarante mille ouvrages et un espace numérique ouvert aux lycéens.",
    "Les horaires seront élargis le soir pendant la période des examens, a précisé la directrice.",
    "Le projet a coûté douze millions de dirhams, financés pour moitié par la région.",
]


def _rss(items: list[tuple[str, str, str, str]]) -> bytes:
    """A small RSS 2.0 document: (guid, title, link, description) per item."""
    body = "".join(
        f"<item><guid isPermaLink='false'>{g}</guid><title>{t}</title><link>{link}</link>"
        f"<description><![CDATA[{d}]]></description>"
        f"<pubDate>Sat, 28 Nov 2026 10:00:00 +0000</pubDate></item>"
        for g, t, link, d in items
    )
    return (
        "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
        f"<title>Exemple</title><language>fr</language>{body}</channel></rss>"
    ).encode()


def _page(title: str, paragraphs: list[str]) -> bytes:
    paras = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        "<!DOCTYPE html><html lang='fr'><head><meta charset='utf-8'>"
        f"<title>{title}</title></head><body><nav><a href='/'>Accueil</a></nav>"
        f"<article><h1>{title}</h1>{paras}<p>Partager sur Facebook</p></article>"
        "<footer>Tous droits réservés</footer></body></html>"
    ).encode()


def _count(store: Store) -> int:
    with store.session() as session:
        return session.scalar(select(func.count(Article.id))) or 0


def test_feed_with_teasers_pages_and_conditional_get(store: Store, http_server: LocalServer, make_config) -> None:
    page_url = http_server.route("/2026/mediatheque", Reply(body=_page("Une médiathèque au cœur de la ville", PARAGRAPHS)))
    long_text = " ".join(PARAGRAPHS * 3)
    feed = _rss([
        ("g-1", "Une médiathèque au cœur de la ville", page_url + "?utm_source=rss", "La commune a inauguré une médiathèque…"),
        ("g-2", "Le marché couvert rouvre ses portes", http_server.url("/2026/marche"), long_text.replace("médiathèque", "marché")),
    ])

    def answer(request: Request) -> Reply:
        headers = {"ETag": '"feed-v1"', "Content-Type": "application/rss+xml"}
        if request.headers.get("If-None-Match") == '"feed-v1"':
            return Reply(304, headers=headers)
        return Reply(200, feed, headers)

    config = make_config(sources=[{"name": "ville", "url": http_server.route("/feed.xml", answer), "tags": ["local"]}])
    with store.session() as session:
        (report,) = collect(session, config)
    assert (report.new, report.known, report.errors) == (2, 0, [])
    with store.session() as session:
        by_guid = {a.guid: a for a in session.scalars(select(Article))}
        teaser = by_guid["g-1"]
        # the teaser was completed from its page, cleaned of the page's share prompt
        assert "quarante mille ouvrages" in teaser.text and "Partager" not in teaser.text
        assert teaser.canonical_url == page_url
        # the long entry did not need its page
        assert "/2026/marche" not in [r.path for r in http_server.requests]
        source = session.scalars(select(Source)).one()
        assert source.etag == '"feed-v1"' and source.last_error is None

    with store.session() as session:
        (again,) = collect(session, config)
    assert again.not_modified and again.new == 0
    assert http_server.requests[-1].headers.get("If-None-Match") == '"feed-v1"'
    assert _count(store) == 2


def test_a_failing_source_is_recorded_and_the_others_go_on(store: Store, http_server: LocalServer, make_config, tmp_path: Path) -> None:
    http_server.route("/broken.xml", Reply(500, b"oops"))
    http_server.route("/home", Reply(body=b"<html><body><p>Bienvenue</p></body></html>", headers={"Content-Type": "text/html"}))
    http_server.route("/empty-page", Reply(body=b"<html><body><nav>Menu</nav></body></html>", headers={"Content-Type": "text/html"}))
    good = http_server.route("/good.xml", Reply(body=_rss([("a", "Titre", http_server.url("/a"), " ".join(PARAGRAPHS * 3))])))
    malformed = shared_data("feeds", "prof18_feed-test-malformed.xml")
    config = make_config(sources=[
        {"name": "broken", "url": http_server.url("/broken.xml")},
        {"name": "not-a-feed", "url": http_server.url("/home")},
        {"name": "no-article", "kind": "page", "url": http_server.url("/empty-page")},
        {"name": "malformed", "url": str(malformed)},
        {"name": "good", "url": good},
    ])
    with store.session() as session:
        reports = {r.name: r for r in collect(session, config)}
    assert "HTTP 500" in reports["broken"].errors[0] and "/broken.xml" in reports["broken"].errors[0]
    assert "not a readable RSS/Atom feed" in reports["not-a-feed"].errors[0]
    assert "no article text" in reports["no-article"].errors[0]
    assert reports["malformed"].errors, "the malformed feed's problem is reported"
    assert reports["good"].new == 1 and not reports["good"].errors
    with store.session() as session:
        sources = {s.name: s for s in session.scalars(select(Source))}
        assert "HTTP 500" in sources["broken"].last_error and sources["broken"].error_count == 1
        assert sources["good"].last_error is None and sources["good"].last_success_at is not None
    # the next run counts the failure again and still collects the rest
    with store.session() as session:
        collect(session, config)
        assert session.scalar(select(Source.error_count).where(Source.name == "broken")) == 2


def test_a_sources_error_is_stored_with_its_code_and_params_for_the_web_app(
    store: Store, http_server: LocalServer, make_config
) -> None:
    """The web app says a collect error in the editor's language from its code and params; the
    English message stays what the CLI prints. A success clears them with the message."""
    state = {"status": 404}
    gone = http_server.route("/gone.xml", lambda request: Reply(
        state["status"], _rss([("g", "Titre", http_server.url("/g"), " ".join(PARAGRAPHS * 3))])
        if state["status"] == 200 else b"not here"))
    slow = http_server.route("/slow.xml", Reply(200, _rss([]), delay=1.5))
    missing_page = http_server.url("/2026/absent")
    teasers = http_server.route("/teasers.xml", Reply(body=_rss([
        ("t-1", "Une médiathèque", missing_page, "La commune a inauguré une médiathèque…"),
    ])))
    config = make_config(collect={"timeout": 0.3}, sources=[
        {"name": "gone", "url": gone},
        {"name": "slow", "url": slow},
        {"name": "home", "url": http_server.route("/home", Reply(body=b"<html><body><p>Bienvenue</p></body></html>"))},
        {"name": "teasers", "url": teasers},
    ])
    with store.session() as session:
        reports = {r.name: r for r in collect(session, config)}
    assert reports["gone"].errors == [f"{gone}: HTTP 404 Not Found (the address is gone; check the source URL)"]
    assert reports["teasers"].errors[0].endswith("(kept the feed's teaser; its page will be tried again)")

    def stored() -> dict[str, tuple[object, ...]]:
        with store.session() as session:
            rows = session.execute(
                select(Source.name, Source.last_error_code, Source.last_error_params,
                       SourceFetch.error_code, SourceFetch.error_params)
                .join(SourceFetch, SourceFetch.source_id == Source.id)
                .order_by(SourceFetch.id)
            ).all()
        return {name: tuple(rest) for name, *rest in rows}  # each source's latest fetch

    after = stored()  # an error at the source's own address says so (its next step is the source's)
    assert after["gone"] == ("fetch-gone", {"url": gone, "status": 404, "context": "source"}) * 2
    assert after["slow"] == ("fetch-timeout", {"url": slow, "context": "source"}) * 2
    assert after["home"] == ("not-a-feed", {"url": http_server.url("/home"), "context": "source"}) * 2
    assert after["teasers"] == (
        "fetch-gone", {"url": missing_page, "status": 404, "teaser": "retry"}) * 2

    state["status"] = 200
    with store.session() as session:
        (report,) = collect(session, config, names=["gone"])
        assert report.new == 1 and not report.errors
        gone_row = session.scalar(select(Source).where(Source.name == "gone"))
        assert (gone_row.last_error, gone_row.last_error_code, gone_row.last_error_params) == (None, None, None)
    assert stored()["gone"][2:] == (None, None)


def test_an_error_without_a_code_keeps_only_its_message(store: Store, make_config) -> None:
    config = make_config(sources=[{"name": "missing", "url": "feeds/missing.xml"}])
    with store.session() as session:
        (report,) = collect(session, config)
        source = session.scalar(select(Source).where(Source.name == "missing"))
        assert "file or folder not found" in source.last_error and report.errors == [source.last_error]
        assert (source.last_error_code, source.last_error_params) == (None, None)
        fetch = session.scalar(select(SourceFetch).where(SourceFetch.source_id == source.id))
        assert (fetch.error, fetch.error_code, fetch.error_params) == (source.last_error, None, None)


def test_a_feeds_warnings_are_stored_with_codes_and_the_cli_line_is_unchanged(
    store: Store, http_server: LocalServer, make_config
) -> None:
    """A malformed feed read all the same, entries skipped: one problem, the CLI's line as it
    was, with the first warning's code and the second's as ``also`` for the web app."""
    text = " ".join(PARAGRAPHS * 3)
    no_title = "<item><guid>g-9</guid><link>{}</link></item>"  # no title, no text: skipped
    malformed = (
        "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>X</title>"
        f"<item><guid>g-1</guid><title>Le marché & la ville</title><link>{http_server.url('/a')}</link>"
        f"<description>{text}</description></item>{no_title.format(http_server.url('/b'))}</channel></rss>"
    ).encode()
    skipping = _rss([("g-2", "La halle", http_server.url("/c"), text.replace("médiathèque", "halle"))]).replace(
        b"</channel>", (no_title.format(http_server.url("/d")) * 2).encode() + b"</channel>")
    broken, sparse = http_server.route("/broken.xml", Reply(body=malformed)), http_server.route(
        "/sparse.xml", Reply(body=skipping))
    config = make_config(sources=[{"name": "broken", "url": broken}, {"name": "sparse", "url": sparse}])
    with store.session() as session:
        reports = {r.name: r for r in collect(session, config)}
        rows = {s.name: s for s in session.scalars(select(Source))}
        assert reports["broken"].new == reports["sparse"].new == 1
        assert reports["broken"].errors == [
            f"{broken}: malformed feed, 1 entries recovered: line 1, column 122: not well-formed "
            "(invalid token); 1 entries without title, link or text were skipped"
        ]
        assert reports["sparse"].errors == [f"{sparse}: 2 entries without title, link or text were skipped"]
        assert (rows["broken"].last_error_code, rows["broken"].last_error_params) == ("feed-malformed", {
            "url": broken, "entries": 1, "detail": "not well-formed (invalid token)",
            "skipped": 1, "also": "feed-entries-skipped",
        })
        assert (rows["sparse"].last_error_code, rows["sparse"].last_error_params) == (
            "feed-entries-skipped", {"url": sparse, "skipped": 2})
        fetch = session.scalar(select(SourceFetch).where(SourceFetch.source_id == rows["sparse"].id))
        assert (fetch.error_code, fetch.error_params) == ("feed-entries-skipped", {"url": sparse, "skipped": 2})


def test_an_address_that_fails_says_whether_it_is_the_sources_own_or_a_teasers_page(
    store: Store, http_server: LocalServer, make_config
) -> None:
    """The web app's next step differs: fix the source's address, or nothing (the feed's link)."""
    loop = http_server.url("/boucle")
    http_server.route("/boucle", Reply(302, headers={"Location": loop}))
    page_loop = http_server.url("/2026/boucle")
    http_server.route("/2026/boucle", Reply(302, headers={"Location": page_loop}))
    teasers = http_server.route("/teasers.xml", Reply(body=_rss([
        ("t-1", "Une médiathèque", page_loop, "La commune a inauguré une médiathèque…"),
    ])))
    config = make_config(sources=[{"name": "loop", "url": loop}, {"name": "teasers", "url": teasers}])
    with store.session() as session:
        reports = {r.name: r for r in collect(session, config)}
        rows = {s.name: s for s in session.scalars(select(Source))}
    assert reports["loop"].errors[0].startswith(f"{loop}: more than ")
    assert (rows["loop"].last_error_code, rows["loop"].last_error_params) == (
        "fetch-redirects", {"url": loop, "context": "source"})
    assert reports["teasers"].new == 1
    assert (rows["teasers"].last_error_code, rows["teasers"].last_error_params) == (
        "fetch-redirects", {"url": page_loop, "teaser": "final"})


def test_every_real_feed_collects_once(store: Store, make_config) -> None:
    folder = shared_data("feeds")
    feeds = sorted(p for p in folder.iterdir() if p.suffix in (".xml", ".rss", ".atom"))
    sources = [
        {"name": p.stem.lower().replace(".", "-").replace("_", "-"), "url": str(p), "fetch_pages": False}
        for p in feeds
    ]
    config = make_config(sources=sources)
    with store.session() as session:
        first = {r.name: r for r in collect(session, config)}
    stored = _count(store)
    # 76 entries in all; the malformed feed is a broken copy of prof18_feed-test.xml, so
    # its one recovered entry is already known whichever of the two is read first
    assert sum(r.new + r.known for r in first.values()) == 76
    assert stored == sum(r.new for r in first.values()) == 75
    assert first["rbren-guardian"].new == 55
    assert first["rbren-heise"].new == 15
    with store.session() as session:
        second = collect(session, config)
    assert sum(r.new for r in second) == 0
    assert _count(store) == stored
    with store.session() as session:
        enriched = enrich_pending(session, config)
        assert len(enriched) == stored
        summarize_pending(session, config)
        languages = {a.language for a in enriched}
        assert {"fr", "en", "de"} <= languages
        # every summary is within budget and made of the article's own words
        for article in session.scalars(select(Article)):
            if article.summary is not None:
                assert len(article.summary.text.split()) <= config.summarize.max_words


def test_import_sample_article_is_clean_and_idempotent(store: Store, make_config) -> None:
    sample = shared_data("articles", "hammouchi-moscou-fr.txt")
    config = make_config()
    with store.session() as session, Fetcher() as fetcher:
        report = Collector(session, config, fetcher).import_paths([sample])
        assert report.new == 1
        (article,) = enrich_pending(session, config)
        summarize_pending(session, config)
        assert article.language == "fr"
        assert article.title.startswith("Hammouchi impulse")
        assert "Bouton retour en haut de la page" not in article.text
        assert "Bouton retour" not in article.summary.text
        assert len(article.summary.text.split()) <= 60
        assert "«" in article.text
    with store.session() as session, Fetcher() as fetcher:
        again = Collector(session, config, fetcher).import_paths([sample, sample])
        assert (again.new, again.known) == (0, 2)


def test_stories_cluster_across_sources(store: Store, make_config) -> None:
    config = make_config(sources=[
        {"name": "sample", "kind": "file", "url": str(Path(__file__).resolve().parents[1] / "sample" / "articles")},
        {"name": "courrier", "url": str(Path(__file__).resolve().parents[1] / "sample" / "feeds" / "le-courrier-eco.xml")},
    ])
    with store.session() as session:
        collect(session, config)
        articles = enrich_pending(session, config)
        by_title = {a.title: a for a in articles}
        feed = by_title["La banque centrale maintient son taux directeur à 2,5 %"]
        agency = by_title["Taux directeur : statu quo à 2,5 % pour la banque centrale"]
        assert feed.story_id == agency.story_id
        others = [a.story_id for a in articles if a not in (feed, agency)]
        assert len(set(others)) == len(others) and feed.story_id not in others
    # enriching again changes nothing
    with store.session() as session:
        assert enrich_pending(session, config) == []


def test_a_missing_local_source_is_recorded_on_it_and_the_others_go_on(store: Store, make_config, tmp_path: Path) -> None:
    (tmp_path / "articles").mkdir()
    (tmp_path / "articles" / "mediatheque.txt").write_text(
        "Une médiathèque ouvre\n\n" + "\n\n".join(PARAGRAPHS), encoding="utf-8"
    )
    # valid at load time: a file that is not there yet (or any more) is that source's problem
    config = make_config(sources=[
        {"name": "gone-feed", "url": "feeds/gone.xml"},
        {"name": "gone-folder", "kind": "file", "url": "imports"},
        {"name": "later-folder", "url": "feeds/later"},
        {"name": "articles", "kind": "file", "url": "articles"},
    ])  # fmt: skip
    (tmp_path / "feeds" / "later").mkdir(parents=True)  # a feed's file turned into a folder since
    with store.session() as session:
        reports = {r.name: r for r in collect(session, config)}
    assert reports["gone-feed"].errors == [
        f"{tmp_path / 'feeds' / 'gone.xml'}: file or folder not found (restore it, or fix the url "
        "of source 'gone-feed' in newsletter.toml)"
    ]
    assert "imports: file or folder not found" in reports["gone-folder"].errors[0]
    assert "later: is a folder: a 'feed' source reads one feed file" in reports["later-folder"].errors[0]
    assert reports["articles"].new == 1 and not reports["articles"].errors
    with store.session() as session:
        sources = {s.name: s for s in session.scalars(select(Source))}
        assert "file or folder not found" in sources["gone-feed"].last_error
        assert sources["gone-feed"].error_count == 1
        assert sources["articles"].last_error is None


# -- teasers whose page failed are tried again ---------------------------------------------------

MARCHE = [p.replace("médiathèque", "halle").replace("ouvrages", "étals") for p in PARAGRAPHS]


def _page_until(state: dict[str, int], title: str, paragraphs: list[str]):  # type: ignore[no-untyped-def]
    """A page answering state["status"] (the page itself once it is 200)."""

    def answer(request: Request) -> Reply:
        if state["status"] == 200:
            return Reply(body=_page(title, paragraphs), headers={"Content-Type": "text/html"})
        return Reply(state["status"], b"not here")

    return answer


def _conditional_feed(feed: bytes):  # type: ignore[no-untyped-def]
    def answer(request: Request) -> Reply:
        headers = {"ETag": '"feed-v1"', "Content-Type": "application/rss+xml"}
        if request.headers.get("If-None-Match") == '"feed-v1"':
            return Reply(304, headers=headers)
        return Reply(200, feed, headers)

    return answer


def _stored_ago(store: Store, delta: timedelta) -> None:
    """As if every article had been collected DELTA ago."""
    with store.session() as session:
        session.execute(update(Article).values(collected_at=datetime.now(UTC) - delta))


def _fetches(server: LocalServer, path: str) -> int:
    return sum(1 for r in server.requests if r.path.split("?")[0] == path)


def test_a_teaser_whose_page_failed_gets_its_page_at_a_later_collect(
    store: Store, http_server: LocalServer, make_config
) -> None:
    state = {"status": 404}
    first = http_server.route("/2026/mediatheque", _page_until(state, "Une médiathèque", PARAGRAPHS))
    second = http_server.route("/2026/halle", _page_until(state, "La halle rouvre", MARCHE))
    feed = _rss([
        ("g-1", "Une médiathèque", first, "La commune a inauguré une médiathèque au cœur de la ville…"),
        ("g-2", "La halle rouvre", second, "La halle couverte rouvre ses portes ce samedi matin…"),
    ])
    config = make_config(sources=[{"name": "ville", "url": http_server.route("/feed.xml", _conditional_feed(feed))}])
    with store.session() as session:
        (report,) = collect(session, config)
        assert report.new == 2 and len(report.errors) == 2
        assert "HTTP 404" in report.errors[0]
        assert report.errors[0].endswith("(kept the feed's teaser; its page will be tried again)")
        enrich_pending(session, config)
        summarize_pending(session, config)
        halle = session.scalars(select(Article).where(Article.guid == "g-2")).one()
        halle.summary.text, halle.summary.edited = "Le résumé de la rédaction.", True
    with store.session() as session:
        assert [a.page_failures for a in session.scalars(select(Article))] == [1, 1]

    # not due yet: a collect right after does not fetch the pages again
    with store.session() as session:
        (report,) = collect(session, config)
    assert report.not_modified and report.errors == [] and not report.failed
    assert (_fetches(http_server, "/2026/mediatheque"), _fetches(http_server, "/2026/halle")) == (1, 1)

    # the pages are up now, and the first retry is due: a 304 does not keep them from coming
    state["status"] = 200
    _stored_ago(store, timedelta(minutes=20))
    with store.session() as session:
        (report,) = collect(session, config)
        assert report.not_modified and report.errors == [] and len(report.completed) == 2
    with store.session() as session:
        by_guid = {a.guid: a for a in session.scalars(select(Article))}
        media, halle = by_guid["g-1"], by_guid["g-2"]
        assert "quarante mille ouvrages" in media.text and "Partager" not in media.text
        assert media.teaser.startswith("La commune a inauguré")  # the feed's own teaser stays
        assert media.title == "Une médiathèque"
        assert media.page_failures is None and media.enriched_at is None  # enriched again
        assert media.summary is None  # the machine's summary of the teaser is gone
        assert halle.summary.text == "Le résumé de la rédaction."  # the editor's stays
        enrich_pending(session, config)
        summarize_pending(session, config)
        assert media.summary is not None and media.summary.text != media.teaser
        assert halle.summary.text == "Le résumé de la rédaction." and halle.summary.edited
    # done: later collects leave the pages alone
    _stored_ago(store, timedelta(hours=5))
    with store.session() as session:
        collect(session, config)
    assert (_fetches(http_server, "/2026/mediatheque"), _fetches(http_server, "/2026/halle")) == (2, 2)
    assert _count(store) == 2


def test_the_daemon_and_the_command_say_when_teasers_got_their_page(
    store: Store, http_server: LocalServer, make_config, capsys: pytest.CaptureFixture[str]
) -> None:
    from newsletter.cli.articles import _print_reports
    from newsletter.jobs import collect_source

    state = {"status": 404}
    page = http_server.route("/2026/mediatheque", _page_until(state, "Une médiathèque", PARAGRAPHS))
    feed = _rss([("g-1", "Une médiathèque", page, "La commune a inauguré une médiathèque…")])
    config = make_config(sources=[{"name": "ville", "url": http_server.route("/feed.xml", _conditional_feed(feed))}])
    with store.session() as session:
        collect(session, config)
    state["status"] = 200
    _stored_ago(store, timedelta(minutes=20))
    with store.session() as session:
        said = collect_source(session, config, "ville")
    assert "not modified; 1 enriched, 1 summarized; 1 earlier teaser(s) completed from their page" in said
    _print_reports([SourceReport("ville", completed=[Article()])], Console(width=200))
    assert "ville: 1 teaser(s) of earlier collects completed from their page" in capsys.readouterr().out


def test_a_page_that_never_comes_is_tried_a_bounded_number_of_times(
    store: Store, http_server: LocalServer, make_config
) -> None:
    page = http_server.route("/2026/mediatheque", Reply(503, b"down"))
    feed = _rss([("g-1", "Une médiathèque", page, "La commune a inauguré une médiathèque…")])
    config = make_config(sources=[{"name": "ville", "url": http_server.route("/feed.xml", _conditional_feed(feed))}])
    ages = [timedelta(minutes=20), timedelta(minutes=30), timedelta(hours=2), timedelta(hours=5),
            timedelta(hours=13), timedelta(hours=20), timedelta(hours=30)]
    errors = []
    for age in [timedelta(0), *ages]:
        _stored_ago(store, age)
        with store.session() as session:
            (report,) = collect(session, config)
        errors += report.errors
    # the first fetch, then one per window: 15 min, 1 h, 4 h and 12 h after the teaser came
    assert _fetches(http_server, "/2026/mediatheque") == 5
    assert [e.rsplit("(", 1)[1] for e in errors] == (
        ["kept the feed's teaser; its page will be tried again)"] * 4
        + ["kept the feed's teaser; its page is not tried again)"]
    )
    with store.session() as session:
        assert "Pass" not in session.scalars(select(Article)).one().text


def test_windows_no_collect_ran_in_are_not_made_up_for(store: Store, http_server: LocalServer, make_config) -> None:
    page = http_server.route("/2026/mediatheque", Reply(404, b"not yet"))
    feed = _rss([("g-1", "Une médiathèque", page, "La commune a inauguré une médiathèque…")])
    config = make_config(sources=[{"name": "ville", "url": http_server.route("/feed.xml", Reply(body=feed))}])
    with store.session() as session:
        collect(session, config)
    for age in (timedelta(hours=5), timedelta(hours=5, minutes=10)):  # the daemon was down
        _stored_ago(store, age)
        with store.session() as session:
            collect(session, config)
    assert _fetches(http_server, "/2026/mediatheque") == 2  # one try for the 3 windows passed
    with store.session() as session:
        assert session.scalars(select(Article)).one().page_failures == 4  # next: 12 h after


@pytest.mark.parametrize(
    ("why", "reply", "settings"),
    [
        ("robots.txt", Reply(body=_page("Une médiathèque", PARAGRAPHS)), {}),
        ("403", Reply(403, b"no"), {}),
        ("410", Reply(410, b"gone"), {}),
        ("no article", Reply(body=b"<html><body><nav>Menu</nav></body></html>"), {}),
        ("fetch_pages off", Reply(404, b"not yet"), {"fetch_pages": False}),
    ],
)
def test_a_page_that_will_not_come_is_not_tried_again(
    store: Store, http_server: LocalServer, make_config, why: str, reply: Reply, settings: dict
) -> None:
    http_server.route("/robots.txt", Reply(body=b"User-agent: *\nDisallow: /abonnes/\n"))
    page = http_server.route("/abonnes/mediatheque" if why == "robots.txt" else "/2026/mediatheque", reply)
    feed = _rss([("g-1", "Une médiathèque", page, "La commune a inauguré une médiathèque…")])
    config = make_config(sources=[{"name": "ville", "url": http_server.route("/feed.xml", Reply(body=feed)), **settings}])
    with store.session() as session:
        (report,) = collect(session, config)
        assert report.new == 1 and not any("tried again" in e for e in report.errors)
    path = page.removeprefix(http_server.base)
    before = _fetches(http_server, path)
    _stored_ago(store, timedelta(hours=2))
    with store.session() as session:
        collect(session, config)
        assert session.scalars(select(Article)).one().page_failures is None
    assert _fetches(http_server, path) == before


# -- what a 304 does to the source's error state ------------------------------------------------


def test_a_304_keeps_the_problems_of_the_feed_last_read(store: Store, http_server: LocalServer, make_config) -> None:
    malformed = (
        "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>X</title>"
        f"<item><guid>g-1</guid><title>Le marché & la ville</title><link>{http_server.url('/a')}</link>"
        f"<description>{' '.join(PARAGRAPHS * 3)}</description></item></channel></rss>"
    ).encode()
    config = make_config(sources=[{"name": "ville", "url": http_server.route("/feed.xml", _conditional_feed(malformed))}])
    with store.session() as session:
        (report,) = collect(session, config)
        assert report.new == 1 and "malformed feed" in report.errors[0]
    for _ in range(2):
        with store.session() as session:
            (report,) = collect(session, config)
            assert report.not_modified and report.errors == []
            source = session.scalars(select(Source)).one()
            # the feed is the one read, unchanged: still malformed, not counted twice
            assert "malformed feed" in source.last_error and source.error_count == 1
            assert source.last_success_at is None


def test_a_teasers_failed_page_stays_on_its_source_through_a_304(
    store: Store, http_server: LocalServer, make_config
) -> None:
    page = http_server.route("/2026/mediatheque", Reply(404, b"not yet"))
    feed = _rss([("g-1", "Une médiathèque", page, "La commune a inauguré une médiathèque…")])
    config = make_config(sources=[{"name": "ville", "url": http_server.route("/feed.xml", _conditional_feed(feed))}])
    with store.session() as session:
        collect(session, config)
    with store.session() as session:
        (report,) = collect(session, config)
        assert report.not_modified
        source = session.scalars(select(Source)).one()
        assert "/2026/mediatheque: HTTP 404" in source.last_error and source.error_count == 1


def test_a_feed_that_could_not_be_read_is_asked_for_in_full(
    store: Store, http_server: LocalServer, make_config
) -> None:
    feed = _rss([("g-1", "Titre", http_server.url("/a"), " ".join(PARAGRAPHS * 3))])
    answers = iter([Reply(200, feed, {"ETag": '"v1"'}), Reply(500, b"oops"), Reply(200, feed, {"ETag": '"v1"'})])

    def answer(request: Request) -> Reply:
        reply = next(answers)
        if reply.status == 200 and request.headers.get("If-None-Match") == '"v1"':
            return Reply(304, headers={"ETag": '"v1"'})
        return reply

    config = make_config(sources=[{"name": "ville", "url": http_server.route("/feed.xml", answer)}])
    for _ in range(3):
        with store.session() as session:
            collect(session, config)
    asked = [r.headers.get("If-None-Match") for r in http_server.requests if r.path == "/feed.xml"]
    assert asked == [None, '"v1"', None]  # after the 500, a full read, never a 304
    with store.session() as session:
        source = session.scalars(select(Source)).one()
        assert source.last_error is None and source.error_count == 0 and source.etag == '"v1"'


# -- the same article by another address -----------------------------------------------------


def test_a_full_text_item_with_campaign_parameters_is_the_page_of_another_source(
    store: Store, http_server: LocalServer, make_config
) -> None:
    page = http_server.route("/2023/04/28/us_CNBC_2023_04_28.html", Reply(body=_page("Une médiathèque", PARAGRAPHS)))
    feed = _rss([("g-1", "Une médiathèque au cœur de la ville", page + "?CMP=rss&ref=feed", " ".join(PARAGRAPHS * 3))])
    config = make_config(sources=[
        {"name": "page", "kind": "page", "url": page},
        {"name": "agence", "url": http_server.route("/feed.xml", Reply(body=feed))},
    ])
    with store.session() as session:
        reports = {r.name: r for r in collect(session, config)}
    assert (reports["page"].new, reports["agence"].new, reports["agence"].known) == (1, 0, 1)
    assert _count(store) == 1


def test_a_teaser_whose_link_leads_to_a_stored_page_is_known(
    store: Store, http_server: LocalServer, make_config
) -> None:
    views = iter(range(1000, 2000))

    def live(request: Request) -> Reply:  # a page that changes at each view: never the same text
        counter = f"Cet article a été lu {next(views)} fois depuis sa publication ce matin."
        return Reply(body=_page("Une médiathèque", [*PARAGRAPHS, counter]))

    page = http_server.route("/2026/mediatheque", live)
    link = http_server.route("/r/8841", Reply(302, headers={"Location": page}))
    feed = _rss([("g-1", "Une médiathèque au cœur de la ville", link, "La commune a inauguré une médiathèque…")])
    config = make_config(sources=[
        {"name": "page", "kind": "page", "url": page},
        {"name": "agence", "url": http_server.route("/feed.xml", Reply(body=feed))},
    ])
    with store.session() as session:
        reports = {r.name: r for r in collect(session, config)}
    assert (reports["agence"].new, reports["agence"].known, reports["agence"].errors) == (0, 1, [])
    assert _count(store) == 1


def test_a_page_is_known_by_the_address_it_declares_as_its_own(
    store: Store, http_server: LocalServer, make_config
) -> None:
    """The same article under two addresses (an AMP copy, a section path): its canonical link
    names one address, and the article is stored once, under it."""
    canonical = http_server.url("/2026/mediatheque")
    views = iter(range(1000, 2000))

    def article_at(path: str):  # type: ignore[no-untyped-def]
        def answer(request: Request) -> Reply:  # never the same text twice: a view counter
            counter = f"Cet article a été lu {next(views)} fois depuis sa publication ce matin."
            head = f'<link rel="canonical" href="{canonical}">'
            body = _page("Une médiathèque", [*PARAGRAPHS, counter]).replace(
                b"</head>", head.encode() + b"</head>")
            return Reply(body=body)
        return http_server.route(path, answer)

    amp = article_at("/amp/2026/mediatheque")
    article_at("/2026/mediatheque")
    feed = _rss([("g-1", "Une médiathèque au cœur de la ville", canonical, "La commune a inauguré…")])
    config = make_config(sources=[
        {"name": "amp", "kind": "page", "url": amp},
        {"name": "agence", "url": http_server.route("/feed.xml", Reply(body=feed))},
    ])
    with store.session() as session:
        reports = {r.name: r for r in collect(session, config)}
        stored = session.scalars(select(Article)).one()
        assert stored.canonical_url == canonical  # where readers are sent
    assert (reports["amp"].new, reports["agence"].new, reports["agence"].known) == (1, 0, 1)
