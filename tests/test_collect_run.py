"""The collect stage end to end, on SQLite and PostgreSQL, against a real HTTP server on loopback.

Feeds, pages and files go in; articles come out stored once, with the failures of one source
recorded on it while the others are collected.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from newsletter.collect.http import Fetcher
from newsletter.collect.run import Collector, collect
from newsletter.enrich.pending import enrich_pending
from newsletter.store.db import Store
from newsletter.store.models import Article, Source
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
