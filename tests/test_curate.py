"""newsletter.curate on SQLite and PostgreSQL: the editor's edits beyond the command line's,
adding an article by URL from a page on loopback, the send time of an edition's day."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from newsletter import curate
from newsletter.audience.lists import ListConfig
from newsletter.collect.article import CollectedArticle
from newsletter.collect.store import add_article, sync_source
from newsletter.config import SourceConfig
from newsletter.editions import build_edition, set_included
from newsletter.enrich.pending import enrich_pending
from newsletter.errors import EditionError, InputError
from newsletter.store.db import Store
from newsletter.store.models import ArticleTag
from newsletter.summarize.pending import summarize_pending

from .conftest import ROOT
from .support.httpserver import LocalServer, Reply
from .test_editor_editions import ARTICLE_PAGE

DAY = date(2026, 11, 28)  # a Saturday


def _list(**kw) -> ListConfig:  # type: ignore[no-untyped-def]
    base = dict(slug="revue", name="Revue de presse", language="fr", tags=["eco", "transport"],
                from_name="Revue", from_address="revue@example.org")
    base.update(kw)
    return ListConfig(**base)


@pytest.fixture
def newsroom(store: Store, make_config):  # type: ignore[no-untyped-def]
    """Three articles of the 'eco' section, collected an hour ago, enriched and summarized."""
    config = make_config(web={"base_url": "https://news.example.org", "fetch_private": True},
                         paths={"templates": str(ROOT / "templates")},
                         tags=[{"name": "transport", "keywords": ["train", "grande vitesse"]}])
    collected = datetime.now(UTC) - timedelta(hours=1)
    with store.session() as session:
        wire = sync_source(session, SourceConfig(name="wire", url="https://wire.example/feed"), "https://wire.example/feed")
        for n in range(3):
            article = add_article(session, wire, CollectedArticle(
                title=f"Dépêche économique numéro {n}", url=f"https://wire.example/{n}", language="fr",
                text=f"La dépêche {n} parle d’économie et de marchés. Les prix montent doucement. Les analystes restent prudents.",
            ))
            article.collected_at = collected
            article.tags.append(ArticleTag(tag="eco", origin="feed"))
        session.flush()
        enrich_pending(session, config)
        summarize_pending(session, config)
    return config


def _ordered(edition, section: str = "eco") -> list[int]:  # type: ignore[no-untyped-def]
    return curate.section_order(edition, section)


def test_rewrite_keeps_an_override_only_where_the_text_changed(store: Store, newsroom) -> None:  # type: ignore[no-untyped-def]
    with store.session() as session:
        edition = build_edition(session, _list(), DAY)
        item = edition.items[0]
        own = curate.own_summary(item.article)
        curate.rewrite_text(edition, item.id, title=f"  {item.article.title} ", summary=own.replace(" ", "  "))
        assert item.title_override is None and item.summary_override is None
        curate.rewrite_text(edition, item.id, title=item.article.title, summary="Autre résumé.")
        assert item.title_override is None and item.summary_override == "Autre résumé."
        row = curate.editor_sections(edition, _list())[0].items[0]
        assert row.summary == "Autre résumé." and row.summary_edited and not row.title_edited


def test_shift_stays_within_the_section_and_its_ends(store: Store, newsroom) -> None:  # type: ignore[no-untyped-def]
    with store.session() as session:
        edition = build_edition(session, _list(), DAY)
        a, b, c = _ordered(edition)
        set_included(edition, b, False)  # a left-out item keeps its place
        curate.shift_item(edition, c, -1)
        assert _ordered(edition) == [a, c, b]
        curate.shift_item(edition, a, -1)
        curate.shift_item(edition, b, +1)
        assert _ordered(edition) == [a, c, b]
        rows = curate.editor_sections(edition, _list())[0].items
        assert [(r.id, r.place, r.included) for r in rows] == [(a, 1, True), (c, 2, True), (b, 3, False)]


def test_an_article_added_by_url_is_filed_under_the_configured_source_of_its_site(
    store: Store, newsroom  # type: ignore[no-untyped-def]
) -> None:
    with LocalServer() as site, store.session() as session:
        url = site.route("/train", Reply(200, ARTICLE_PAGE.format(published="2026-11-28T06:00:00+01:00").encode(),
                                         {"Content-Type": "text/html; charset=utf-8"}))
        quotidien = sync_source(session, SourceConfig(name="quotidien", label="Le Quotidien", url=site.url("/rss"), priority=3),
                                site.url("/rss"))
        edition = build_edition(session, _list(), DAY)
        with pytest.raises(EditionError, match="no section 'sport'.*eco, transport"):
            curate.add_article_by_url(session, newsroom, _list(), edition, url, section="sport")
        added = curate.add_article_by_url(session, newsroom, _list(), edition, url)
        article = added.item.article
        assert article.source is quotidien and not added.already
        # its section: the tag the rules gave it ("train"), in the list's order
        assert added.item.section == "transport" and {t.tag for t in article.tags} >= {"transport"}
        assert article.summary is not None and article.language == "fr"
        assert article.published_at == datetime(2026, 11, 28, 5, 0, tzinfo=UTC)
        rows = {s.key: s for s in curate.editor_sections(edition, _list())}
        assert rows["transport"].items[0].source == "Le Quotidien"
        # dropped, then added again: put back, not duplicated
        set_included(edition, added.item.id, False)
        again = curate.add_article_by_url(session, newsroom, _list(), edition, url + "?utm_source=x")
        assert again.already and again.item is added.item and again.item.included
        assert len(site.requests) == 1


def test_an_approved_edition_takes_no_article(store: Store, newsroom) -> None:  # type: ignore[no-untyped-def]
    from newsletter.editions import approve

    with store.session() as session:
        edition = build_edition(session, _list(), DAY)
        approve(edition)
        with pytest.raises(EditionError, match="unapprove"):
            curate.add_article_by_url(session, newsroom, _list(), edition, "https://x.example/a")
        with pytest.raises(EditionError, match="unapprove"):
            curate.regenerate_summary(session, newsroom, edition, edition.items[0].id)


def test_a_test_send_needs_a_valid_address(store: Store, newsroom, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from newsletter.deliver.outbox import OutboxBackend

    backend = OutboxBackend(tmp_path / "outbox")
    with store.session() as session:
        edition = build_edition(session, _list(), DAY)
        with pytest.raises(InputError):
            curate.send_test(newsroom, _list(), edition, backend, "nobody", name="Salma")
        assert curate.send_test(newsroom, _list(), edition, backend, " Salma@Example.ORG ", name="Salma") == "Salma@example.org"
    assert (tmp_path / "outbox" / "edition-0.mbox").exists()


def test_the_send_time_of_an_editions_day() -> None:
    daily = _list(schedule="0 7 * * *", timezone="Africa/Casablanca")
    assert curate.scheduled_send(daily, DAY) == datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
    assert curate.scheduled_send(daily, DAY).tzinfo.key == "Africa/Casablanca"  # type: ignore[union-attr]
    weekdays = _list(schedule="30 7 * * 1-5", timezone="Europe/Paris")
    assert curate.scheduled_send(weekdays, DAY) is None  # a Saturday
    assert curate.scheduled_send(weekdays, DAY + timedelta(days=2)) == datetime(2026, 11, 30, 6, 30, tzinfo=UTC)


def test_an_article_at_a_private_address_is_refused_unless_the_intranet_is_allowed(
    store: Store, newsroom  # type: ignore[no-untyped-def]
) -> None:
    import dataclasses

    from newsletter.errors import FetchError

    public_only = dataclasses.replace(newsroom, web=dataclasses.replace(newsroom.web, fetch_private=False))
    with LocalServer() as site, store.session() as session:
        url = site.route("/train", Reply(200, ARTICLE_PAGE.format(published="2026-11-28T06:00:00+01:00").encode(),
                                         {"Content-Type": "text/html; charset=utf-8"}))
        edition = build_edition(session, _list(), DAY)
        with pytest.raises(FetchError, match=r"/train: the address is private.*web\.fetch_private = true"):
            curate.add_article_by_url(session, public_only, _list(), edition, url)
        assert len(site.requests) == 0  # refused before anything was sent
        added = curate.add_article_by_url(session, newsroom, _list(), edition, url)  # fetch_private = true
        assert not added.already
