"""Editions on SQLite and PostgreSQL: build, rebuild keeping edits, approve, send exactly once."""

from __future__ import annotations

import mailbox
from datetime import date, datetime, timedelta, timezone
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest
from sqlalchemy import select

from newsletter.audience.lists import ListConfig, sync_lists
from newsletter.audience.subscribers import Member, sync_members
from newsletter.collect.article import CollectedArticle
from newsletter.collect.store import add_article, import_source, sync_source
from newsletter.config import SourceConfig
from newsletter.deliver.outbox import OutboxBackend
from newsletter.deliver.batches import plan_batches
from newsletter.deliver.send import send_edition
from newsletter.editions import (
    NothingNewError,
    approve,
    build_edition,
    edit_edition,
    edition_view,
    get_edition,
    move_item,
    rewrite_item,
    set_included,
    unapprove,
)
from newsletter.enrich.pending import enrich_pending
from newsletter.errors import EditionError
from newsletter.store.db import Store
from newsletter.store.models import ArticleTag, DeliveryBatch, Membership, Source, Subscriber
from newsletter.summarize.pending import summarize_pending

from .conftest import ROOT
from .support.smtpd import smtp_server  # noqa: F401 (fixture)

SECRET = "test-secret-for-unsubscribe-links"
DAY = date(2026, 11, 28)

ARTICLES = [
    ("eco", "La banque centrale laisse son taux inchangé", "La banque centrale a laissé son taux directeur inchangé mardi. L’inflation reste contenue selon son conseil. Les analystes attendaient ce statu quo."),
    ("eco", "Les exportations de phosphates progressent", "Les exportations de phosphates ont progressé de huit pour cent au troisième trimestre. La demande asiatique soutient les volumes. Les prix restent élevés."),
    ("eco", "Le port enregistre un trafic record", "Le port a manipulé un volume record de conteneurs depuis janvier. Deux nouvelles lignes maritimes expliquent la hausse. Les terminaux approchent de leur capacité."),
    ("sport", "Le club local remporte le derby", "Le club local a remporté le derby dimanche soir devant un stade plein. Le but décisif est venu à dix minutes de la fin. L’entraîneur a salué ses joueurs."),
    ("sport", "La sélection prépare la coupe régionale", "La sélection nationale a commencé lundi sa préparation pour la coupe régionale. Vingt-trois joueurs ont été convoqués. Le premier match aura lieu en janvier."),
]


def _list(**kw) -> ListConfig:
    base = dict(
        slug="revue", name="Revue de presse", language="fr", tags=["eco", "sport"],
        from_name="Revue", from_address="revue@example.org", max_items=20,
    )
    base.update(kw)
    return ListConfig(**base)


@pytest.fixture
def newsroom(store: Store, make_config):
    """A store with two sources' articles collected an hour ago, enriched and summarized."""
    config = make_config(
        web={"base_url": "https://news.example.org"}, paths={"templates": str(ROOT / "templates")}
    )
    collected = datetime.now(timezone.utc) - timedelta(hours=1)
    with store.session() as session:
        wire = sync_source(session, SourceConfig(name="wire", label="L’Agence", url="https://wire.example/feed", priority=1), "https://wire.example/feed")
        daily = sync_source(session, SourceConfig(name="daily", url="https://daily.example/feed"), "https://daily.example/feed")
        for n, (tag, title, text) in enumerate(ARTICLES):
            article = add_article(session, wire, CollectedArticle(
                title=title, text=text, url=f"https://wire.example/{n}?utm_source=rss&utm_medium=feed", language="fr",
                published=collected - timedelta(minutes=n), categories=[],
            ))
            article.collected_at = collected
            article.tags.append(ArticleTag(tag=tag, origin="feed"))
        # the first story told again by a second source: shown once, "also in: daily"
        again = add_article(session, daily, CollectedArticle(
            title="Taux directeur : la banque centrale ne bouge pas",
            text="La banque centrale a laissé mardi son taux directeur inchangé, l’inflation restant contenue. Les analystes attendaient ce statu quo.",
            url="https://daily.example/taux?xtor=RSS-3#reactions", language="fr", published=collected,
        ))
        again.collected_at = collected
        again.tags.append(ArticleTag(tag="eco", origin="feed"))
        session.flush()
        enrich_pending(session, config)
        summarize_pending(session, config)
    return config


def test_build_groups_ranks_and_shows_a_story_once(store: Store, newsroom) -> None:
    with store.session() as session:
        edition = build_edition(session, _list(), DAY)
        items = sorted(edition.items, key=lambda i: (i.section_position, i.position))
        sections = [i.section for i in items]
        assert sections == ["eco"] * 3 + ["sport"] * 2
        lead = items[0]
        assert lead.article.source.name == "wire"  # the priority source tells it
        assert [a["source"] for a in lead.also_in] == ["daily"]
        assert edition.status == "draft"
        view = edition_view(newsroom, _list(), edition)
        assert view.sections[0].items[0].source == "L’Agence"  # readers see the label
        # readers follow clean links: the feeds' tracking parameters and fragments are gone
        assert view.sections[0].items[0].url == "https://wire.example/0"
        assert view.sections[0].items[0].also_in == [("daily", "https://daily.example/taux")]


def test_max_items_and_excluded_tags(store: Store, newsroom) -> None:
    with store.session() as session:
        edition = build_edition(session, _list(max_items=2, exclude_tags=["sport"]), DAY)
        assert len(edition.items) == 2
        assert {i.section for i in edition.items} == {"eco"}


def _add(session, source, title: str, *, published: datetime, url: str = "", author: str = "",
         story_of: int | None = None, tag: str = "eco"):  # noqa: ANN001, ANN202
    """An article collected an hour ago, enriched, tagged TAG; in the story of STORY_OF."""
    article = add_article(session, source, CollectedArticle(
        title=title, text=f"{title}. Un texte écrit pour ce test, assez long pour un résumé.",
        url=url, author=author, language="fr", published=published,
    ))
    article.collected_at = datetime.now(timezone.utc) - timedelta(hours=1)
    article.enriched_at, article.language = article.collected_at, "fr"
    article.story_id = story_of or article.id
    article.tags.append(ArticleTag(tag=tag, origin="feed"))
    session.flush()
    return article


def _titles(edition) -> set[str]:  # noqa: ANN001
    return {item.article.title for item in edition.items}


def test_old_news_is_left_out_however_recently_collected(store: Store, newsroom) -> None:
    now = datetime.now(timezone.utc)
    with store.session() as session:
        wire = session.scalar(select(Source).where(Source.name == "wire"))
        # the first edition covers the last two days; three more days of grace for late feeds
        _add(session, wire, "Un article republié de l'an passé", published=now - timedelta(days=400))
        _add(session, wire, "Un article de la semaine dernière", published=now - timedelta(days=6))
        _add(session, wire, "Un article d'avant-hier soir", published=now - timedelta(days=4))
        _add(session, wire, "Un article sans date", published=None)
        titles = _titles(build_edition(session, _list(), DAY))
    assert "Un article d'avant-hier soir" in titles and "Un article sans date" in titles
    assert "Un article republié de l'an passé" not in titles
    assert "Un article de la semaine dernière" not in titles


def test_also_in_names_each_other_outlet_once(store: Store, newsroom) -> None:
    now = datetime.now(timezone.utc)
    with store.session() as session:
        edition = build_edition(session, _list(), DAY)
        lead = min(edition.items, key=lambda i: (i.section_position, i.position)).article
        wire, daily = (session.scalar(select(Source).where(Source.name == n)) for n in ("wire", "daily"))
        for source, n in ((daily, 1), (daily, 2), (wire, 3)):
            _add(session, source, f"Le même sujet, version {n}", published=now,
                 url=f"https://{source.name}.example/meme-{n}", story_of=lead.story_id)
        edition = build_edition(session, _list(), DAY)
        item = next(i for i in edition.items if i.article_id == lead.id)
        assert [a["source"] for a in item.also_in] == ["daily"]  # not "daily, daily, L’Agence"


def test_imported_articles_are_credited_to_their_site_not_to_import(store: Store, newsroom) -> None:
    now = datetime.now(timezone.utc)
    with store.session() as session:
        imported = import_source(session)
        _add(session, imported, "Un article importé avec son adresse", published=now,
             url="https://www.lematin.ma/economie/article", tag="sport")
        _add(session, imported, "Un article importé sans adresse", published=now,
             author="Médias24", tag="sport")
        _add(session, imported, "Un article importé sans rien", published=now, tag="sport")
        view = edition_view(newsroom, _list(), build_edition(session, _list(), DAY))
    sources = {i.title: i.source for s in view.sections for i in s.items}
    assert sources["Un article importé avec son adresse"] == "lematin.ma"
    assert sources["Un article importé sans adresse"] == "Médias24"
    assert sources["Un article importé sans rien"] == ""


def test_rebuild_keeps_every_edit(store: Store, newsroom) -> None:
    with store.session() as session:
        edition = build_edition(session, _list(), DAY)
        eco = sorted((i for i in edition.items if i.section == "eco"), key=lambda i: i.position)
        set_included(edition, eco[1].id, False)
        move_item(edition, eco[2].id, 1)
        rewrite_item(edition, eco[0].id, title="Titre réécrit", summary="Résumé de la rédaction.")
        edit_edition(edition, subject="Sujet du jour", intro="Bonjour à tous.")
        edition_id, dropped, moved, rewritten = edition.id, eco[1].id, eco[2].id, eco[0].id
    with store.session() as session:
        edition = build_edition(session, _list(), DAY)
        assert edition.id == edition_id
        by_id = {i.id: i for i in edition.items}
        assert by_id[dropped].included is False
        first_eco = min((i for i in edition.items if i.section == "eco"), key=lambda i: i.position)
        assert first_eco.id == moved
        assert by_id[rewritten].title_override == "Titre réécrit"
        assert edition.subject == "Sujet du jour" and edition.intro == "Bonjour à tous."
        view = edition_view(newsroom, _list(), edition)
        titles = [item.title for s in view.sections for item in s.items]
        assert "Titre réécrit" in titles and len(titles) == 4


def test_nothing_new_makes_no_edition(store: Store, make_config) -> None:
    with store.session() as session, pytest.raises(NothingNewError, match="nothing new for revue since"):
        build_edition(session, _list(), DAY)


def _members(store: Store, n: int) -> None:
    with store.session() as session:
        mailing_list = sync_lists(session, [_list()])["revue"]
        sync_members(session, mailing_list, [Member(email=f"reader{i}@example.org", name=f"Lecteur {i}", language="fr") for i in range(n)], origin="test")


def test_send_twice_sends_once_and_sent_is_immutable(store: Store, newsroom, tmp_path: Path) -> None:
    _members(store, 5)
    config = newsroom
    outbox = OutboxBackend(tmp_path / "outbox")
    with store.session() as session:
        edition = build_edition(session, _list(), DAY)
        with pytest.raises(EditionError, match="is draft, not approved: approve it first"):
            send_edition(session, config, _list(), edition.id, outbox, SECRET)
        approve(edition)
        session.commit()
        first = send_edition(session, config, _list(), edition.id, outbox, SECRET)
        second = send_edition(session, config, _list(), edition.id, outbox, SECRET)
        edition_id = edition.id
    assert first.sent == 5 and second.sent == 0 and second.already_sent == 1
    box = mailbox.mbox(str(tmp_path / "outbox" / f"edition-{edition_id}.mbox"))
    messages = [BytesParser(policy=policy.default).parsebytes(m.as_bytes()) for m in box]
    box.close()
    assert sorted(m["To"].addresses[0].addr_spec for m in messages) == [f"reader{i}@example.org" for i in range(5)]
    for message in messages:
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert "https://news.example.org/unsubscribe/" in message["List-Unsubscribe"]
        text = message.get_body(("plain",)).get_content()
        assert "La banque centrale laisse son taux inchangé" in text
    with store.session() as session:
        edition = get_edition(session, edition_id)
        assert edition.status == "sent"
        with pytest.raises(EditionError, match="is sent"):
            build_edition(session, _list(), DAY)
        with pytest.raises(EditionError, match="can no longer change"):
            edit_edition(edition, subject="trop tard")


def _planned(session, batch_size: int):  # noqa: ANN001, ANN202
    """An approved edition whose batches are planned, as a send does before its first batch."""
    edition = build_edition(session, _list(), DAY)
    approve(edition)
    plan_batches(session, edition, batch_size)
    edition.status = "sending"
    return edition


def test_consent_is_checked_right_before_a_batch(store: Store, newsroom, tmp_path: Path) -> None:
    _members(store, 3)
    config = newsroom
    with store.session() as session:
        edition = _planned(session, 1000)
        # planned, then one reader unsubscribes before the batch goes out
        membership = session.scalars(select(Membership).join(Subscriber).where(Subscriber.email == "reader1@example.org")).one()
        membership.status = "unsubscribed"
        session.commit()
        report = send_edition(session, config, _list(), edition.id, OutboxBackend(tmp_path), SECRET)
    assert report.sent == 2 and report.dropped == 1


def test_interrupted_batch_is_uncertain_and_not_resent(store: Store, newsroom, tmp_path: Path) -> None:
    _members(store, 3)
    config = newsroom
    with store.session() as session:
        edition = _planned(session, 2)
        edition.batches[0].status = "sending"  # a worker died inside the provider call
        session.commit()
        report = send_edition(session, config, _list(), edition.id, OutboxBackend(tmp_path), SECRET)
        assert report.uncertain == [1] and report.sent == 1
        statuses = [b.status for b in session.scalars(select(DeliveryBatch).order_by(DeliveryBatch.number))]
        assert statuses == ["uncertain", "sent"]
        assert get_edition(session, edition.id).status == "sending"


def test_unapprove_to_edit(store: Store, newsroom) -> None:
    with store.session() as session:
        edition = build_edition(session, _list(), DAY)
        approve(edition)
        with pytest.raises(EditionError, match="unapprove"):
            edit_edition(edition, subject="x")
        unapprove(edition)
        edit_edition(edition, subject="x")
        assert edition.subject == "x"


def test_an_address_the_smtp_server_says_does_not_exist_is_marked_bounced(
    store: Store, newsroom, smtp_server
) -> None:
    """A 550 5.1.1 is a hard bounce: the reader is bounced on the list, in the consent history,
    and the next edition does not go to that address. Other refusals are the message's own."""
    from newsletter.deliver.bounces import hard_bounce
    from newsletter.deliver.smtp import SMTPBackend
    from newsletter.store.models import ConsentEvent

    _members(store, 3)
    smtp_server.handler.refuse.add("reader1@example.org")
    backend = SMTPBackend("127.0.0.1", smtp_server.port, "none")
    try:
        with store.session() as session:
            edition = _planned(session, 1000)
            session.commit()
            report = send_edition(session, newsroom, _list(), edition.id, backend, SECRET)
    finally:
        backend.close()
    assert report.sent == 2
    with store.session() as session:
        status = {m.subscriber.email: m.status for m in session.scalars(select(Membership))}
        events = session.scalars(select(ConsentEvent).where(ConsentEvent.origin == "smtp")).all()
    assert status == {"reader0@example.org": "active", "reader1@example.org": "bounced",
                      "reader2@example.org": "active"}
    assert [(e.action, e.status) for e in events] == [("bounce", "bounced")]
    assert not hard_bounce("550 5.7.1 Message rejected as spam")  # the content, not the address
    assert not hard_bounce("552 5.3.4 Message size exceeds fixed limit")


def test_an_edition_goes_out_over_smtp_on_one_connection(store: Store, newsroom, smtp_server) -> None:
    """The whole send against a real SMTP server on loopback: every reader once, one connection."""
    from newsletter.deliver.smtp import SMTPBackend

    _members(store, 4)
    backend = SMTPBackend("127.0.0.1", smtp_server.port, "none")
    try:
        with store.session() as session:
            edition = _planned(session, 3)  # two batches: 3 + 1 readers
            session.commit()
            first = send_edition(session, newsroom, _list(), edition.id, backend, SECRET)
            again = send_edition(session, newsroom, _list(), edition.id, backend, SECRET)
    finally:
        backend.close()
    assert (first.sent, first.sent_batches, again.sent) == (4, 2, 0)
    assert sorted(r for m in smtp_server.messages for r in m.rcpt_tos) == [f"reader{i}@example.org" for i in range(4)]
    assert smtp_server.connections_used() == 1
    message = smtp_server.messages[0].parsed()
    assert message["Subject"].startswith("Revue de presse")
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    assert "Lecteur 0" in message.get_body(("html",)).get_content()


def test_a_reader_who_joins_after_planning_is_not_slipped_into_a_batch(store: Store, newsroom, tmp_path: Path) -> None:
    """Batches are snapshots: a membership added later, even with an id inside a batch's range, waits."""
    _members(store, 3)
    with store.session() as session:
        mailing_list = sync_lists(session, [_list()])["revue"]
        late = Subscriber(email="late@example.org", name="En retard")
        session.add(late)
        session.flush()
        edition = _planned(session, 1000)
        # an older subscriber id would fall inside the range: simulate it with the batch's bounds
        edition.batches[0].last_subscriber_id = late.id
        session.add(Membership(list_id=mailing_list.id, subscriber_id=late.id, status="active"))
        session.commit()
        report = send_edition(session, newsroom, _list(), edition.id, OutboxBackend(tmp_path), SECRET)
    assert report.sent == 3
