"""The store on SQLite and PostgreSQL: migrations, exactly-once articles, editor summaries kept."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from newsletter.collect.article import CollectedArticle
from newsletter.collect.store import add_article, content_hash
from newsletter.errors import StoreError
from newsletter.store.db import Store, current_revision, head_revision, make_engine, migrate
from newsletter.store.models import Article, Source, Summary


def _article(**kw) -> CollectedArticle:
    base = dict(
        title="Le conseil municipal vote le budget",
        text="Le conseil municipal a voté lundi le budget de l’année prochaine. Les débats ont duré six heures.",
        url="https://news.example/budget",
        guid="news-1",
        published=datetime(2026, 11, 28, 9, 0, tzinfo=timezone.utc),
    )
    base.update(kw)
    return CollectedArticle(**base)


def test_migrations_are_idempotent(db_url: str) -> None:
    engine = make_engine(db_url)
    assert current_revision(engine) is None
    assert migrate(engine) == (None, head_revision())
    assert migrate(engine) == (head_revision(), head_revision())
    engine.dispose()


def test_an_empty_store_says_to_run_init(db_url: str) -> None:
    with pytest.raises(StoreError, match="run 'newsletter init'"):
        Store.open(db_url)


def test_unreachable_database_is_a_clear_error() -> None:
    with pytest.raises(
        StoreError, match=r"cannot reach the database postgresql\+psycopg://u:\*\*\*@127.0.0.1:9/x"
    ):
        Store.open("postgresql://u:pw@127.0.0.1:9/x?connect_timeout=2")


def test_an_article_is_stored_once(store: Store) -> None:
    with store.session() as session:
        source = Source(name="news", kind="feed", url="https://news.example/feed", tags=["local"])
        session.add(source)
        session.flush()
        first = add_article(session, source, _article())
        assert first is not None and [t.tag for t in first.tags] == ["local"]
        # the same URL dressed with trackers, a fragment and a default port
        assert (
            add_article(
                session,
                source,
                _article(url="https://NEWS.example:443/budget?utm_source=rss#top", guid="x"),
            )
            is None
        )
        # the same GUID at another address
        assert (
            add_article(
                session, source, _article(url="https://news.example/other", text="Autre texte.")
            )
            is None
        )
        # the same text (spacing and case aside) at another address
        assert (
            add_article(
                session,
                source,
                _article(
                    url="https://mirror.example/b",
                    guid="m-1",
                    text=_article().text.upper().replace(" ", "  "),
                ),
            )
            is None
        )
        # a different article
        assert (
            add_article(
                session,
                source,
                _article(
                    url="https://news.example/2", guid="news-2", text="Un autre sujet entièrement."
                ),
            )
            is not None
        )
    with store.session() as session:
        assert session.scalar(select(func.count(Article.id))) == 2
        stored = session.scalars(select(Article).order_by(Article.id)).first()
        assert stored.canonical_url == "https://news.example/budget"
        assert stored.published_at == datetime(2026, 11, 28, 9, 0, tzinfo=timezone.utc)
        assert stored.collected_at.tzinfo is not None
        assert abs(stored.collected_at - datetime.now(timezone.utc)) < timedelta(minutes=5)


def test_content_hash_ignores_case_and_spacing() -> None:
    assert content_hash("Le  Maroc\n\nà Rabat") == content_hash("le maroc à rabat")
    assert content_hash("a") != content_hash("b")


def test_summary_belongs_to_its_article(store: Store) -> None:
    with store.session() as session:
        article = add_article(session, None, _article())
        article.summary = Summary(text="Le budget est voté.", method="editor", edited=True)
    with store.session() as session:
        article = session.scalars(select(Article)).one()
        assert article.summary.edited and article.summary.text == "Le budget est voté."
        session.delete(article)
    with store.session() as session:
        assert session.scalar(select(func.count(Summary.id))) == 0


def _store_at(db_url: str, revision: str):  # type: ignore[no-untyped-def]
    """An engine on DB_URL migrated up to REVISION, and that revision's tables (reflected)."""
    from alembic import command
    from sqlalchemy import MetaData

    from newsletter.store.db import _alembic_config

    engine = make_engine(db_url)
    command.upgrade(_alembic_config(engine), revision)
    meta = MetaData()
    meta.reflect(engine)
    return engine, meta.tables


# -- revision 0010: one person per address, whatever its case ---------------------------------


def _store_at_0009_with_mixed_case_rows(db_url: str):  # type: ignore[no-untyped-def]
    """A store migrated to 0009 holding one person three times (the case differs) and another."""

    engine, t = _store_at(db_url, "0009")
    now = datetime(2026, 11, 1, tzinfo=timezone.utc)
    with engine.begin() as conn:
        for i, slug in enumerate(["news", "other", "third"], 1):
            conn.execute(t["lists"].insert().values(id=i, slug=slug, name=slug, language="fr",
                                                    created_at=now))
        for sid, email, name, language in [
            (1, "Ana.Ruiz@example.org", "Ana", ""),
            (2, "ana.ruiz@example.org", "", "es"),
            (3, "ANA.RUIZ@example.org", "", ""),
            (4, "solo@example.org", "Solo", "fr"),
        ]:
            conn.execute(t["subscribers"].insert().values(
                id=sid, email=email, name=name, language=language, created_at=now))
        for mid, list_id, sid, status in [
            (1, 1, 1, "active"), (2, 1, 2, "unsubscribed"),  # news: the refusal wins
            (3, 2, 1, "active"), (4, 2, 3, "pending"),  # other: a pending request withdraws nothing
            (5, 3, 2, "pending"), (6, 3, 3, "active"),  # third: the active one, moved over
            (7, 1, 4, "active"),
        ]:
            conn.execute(t["memberships"].insert().values(
                id=mid, list_id=list_id, subscriber_id=sid, status=status, origin="csv",
                created_at=now, status_changed_at=now))
            conn.execute(t["consent_events"].insert().values(
                membership_id=mid, subscriber_id=sid, list_id=list_id, action="added",
                status=status, origin="csv", occurred_at=now))
        conn.execute(t["provider_events"].insert().values(
            provider="sendgrid", event_id="e1", type="open", email="ANA.RUIZ@example.org",
            subscriber_id=3, payload={}, received_at=now, applied=False))
    return engine


def test_revision_0010_merges_addresses_that_differ_only_in_case(db_url: str) -> None:
    from sqlalchemy.exc import IntegrityError

    from newsletter.audience import consent
    from newsletter.store.models import (
        ConsentEvent,
        MailingList,
        Membership,
        ProviderEvent,
        Subscriber,
    )

    engine = _store_at_0009_with_mixed_case_rows(db_url)
    migrate(engine)
    engine.dispose()
    store = Store.open(db_url)
    try:
        with store.session() as session:
            people = session.execute(
                select(Subscriber.id, Subscriber.email, Subscriber.email_key, Subscriber.name,
                       Subscriber.language).order_by(Subscriber.id)
            ).all()
            assert [tuple(p) for p in people] == [
                (1, "Ana.Ruiz@example.org", "ana.ruiz@example.org", "Ana", "es"),
                (4, "solo@example.org", "solo@example.org", "Solo", "fr"),
            ]
            statuses = session.execute(
                select(MailingList.slug, Membership.subscriber_id, Membership.status)
                .join(Membership, Membership.list_id == MailingList.id)
                .order_by(MailingList.slug, Membership.subscriber_id)
            ).all()
            assert [tuple(s) for s in statuses] == [
                ("news", 1, "unsubscribed"), ("news", 4, "active"),
                ("other", 1, "active"), ("third", 1, "active"),
            ]
            history = session.execute(
                select(ConsentEvent.subscriber_id, ConsentEvent.membership_id,
                       ConsentEvent.action, ConsentEvent.origin).order_by(ConsentEvent.id)
            ).all()
            assert {h.subscriber_id for h in history} == {1, 4}
            kept = set(session.scalars(select(Membership.id)))
            assert {h.membership_id for h in history if h.action == "added"} <= kept
            assert [h.origin for h in history if h.action == "merged"] == [
                "merge:subscriber-2", "merge:subscriber-3"
            ]
            assert session.scalar(select(ProviderEvent.subscriber_id)) == 1
        with store.session() as session:
            # an unsubscribe link mailed to a merged row acts on the person
            done = consent.unsubscribe(session, 3, "other", origin="form")
            assert done.changed == 1
            assert consent.current_subscriber_id(session, 2) == 1
            assert consent.current_subscriber_id(session, 99) is None
        with store.session() as session:
            assert session.scalar(
                select(Membership.status).where(Membership.list_id == 2)
            ) == "unsubscribed"
        with pytest.raises(IntegrityError), store.session() as session:
            session.add(Subscriber(email="ANA.ruiz@example.org"))
            session.flush()
    finally:
        store.close()


def test_revision_0010_downgrades_and_upgrades_without_losing_members(db_url: str) -> None:
    from alembic import command
    from sqlalchemy import inspect, text

    from newsletter.store.db import _alembic_config

    engine = _store_at_0009_with_mixed_case_rows(db_url)
    migrate(engine)
    command.downgrade(_alembic_config(engine), "0009")
    assert "email_key" not in {c["name"] for c in inspect(engine).get_columns("subscribers")}
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM memberships")) == 4
    assert migrate(engine) == ("0009", head_revision())
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM memberships")) == 4
        assert conn.scalar(text("SELECT count(*) FROM subscribers WHERE email_key = ''")) == 0
    engine.dispose()


# -- revision 0011: the page of a teaser tried again -------------------------------------------


def test_revision_0011_adds_page_failures_in_place_and_downgrades(db_url: str) -> None:
    """Articles, their tags and summaries survive the upgrade and the downgrade (a rebuilt
    `articles` table on SQLite would cascade-delete them); rows from before are not retried."""
    from alembic import command
    from sqlalchemy import inspect, text

    from newsletter.store.db import _alembic_config

    engine, t = _store_at(db_url, "0010")
    now = datetime(2026, 11, 28, tzinfo=timezone.utc)
    with engine.begin() as conn:
        conn.execute(t["articles"].insert().values(
            id=1, url="https://news.example/a", canonical_url="https://news.example/a",
            title="Titre", author="", language="fr", declared_language="fr", text="Texte.",
            teaser="Texte.", categories=[], content_hash="h1", collected_at=now))
        conn.execute(t["article_tags"].insert().values(article_id=1, tag="local", origin="source"))
        conn.execute(t["summaries"].insert().values(
            article_id=1, text="Résumé.", method="editor", language="fr", edited=True,
            created_at=now, updated_at=now))
    assert migrate(engine) == ("0010", head_revision())
    assert "page_failures" in {c["name"] for c in inspect(engine).get_columns("articles")}
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT page_failures FROM articles WHERE id = 1")) is None
        assert conn.scalar(text("SELECT count(*) FROM article_tags")) == 1
        assert conn.scalar(text("SELECT count(*) FROM summaries")) == 1
    with engine.begin() as conn:
        conn.execute(text("UPDATE articles SET page_failures = 2"))
    command.downgrade(_alembic_config(engine), "0010")
    assert "page_failures" not in {c["name"] for c in inspect(engine).get_columns("articles")}
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM article_tags")) == 1
        assert conn.scalar(text("SELECT count(*) FROM summaries")) == 1
    assert migrate(engine) == ("0010", head_revision())
    engine.dispose()


# -- revision 0012: the journal of batches sent message by message -----------------------------


def test_revision_0012_adds_the_delivery_journal_in_place_and_downgrades(db_url: str) -> None:
    """Batches from before are kept, not journaled (an interrupted one stays uncertain whole);
    the journal goes with its batch; the downgrade keeps the batches."""
    from alembic import command
    from sqlalchemy import inspect, text

    from newsletter.store.db import _alembic_config

    engine, t = _store_at(db_url, "0011")
    now = datetime(2026, 11, 28, tzinfo=timezone.utc)
    with engine.begin() as conn:
        conn.execute(t["lists"].insert().values(id=1, slug="news", name="News", language="fr", created_at=now))
        conn.execute(t["editions"].insert().values(
            id=1, list_id=1, date=now.date(), status="sending", subject="S", preheader="",
            intro="", created_at=now))
        conn.execute(t["delivery_batches"].insert().values(
            id=1, edition_id=1, number=1, first_subscriber_id=1, last_subscriber_id=2,
            recipients=[1, 2], status="sending", attempts=1, sent_count=0, created_at=now,
            updated_at=now))
    assert migrate(engine) == ("0011", head_revision())
    with engine.begin() as conn:
        assert conn.scalar(text("SELECT journaled FROM delivery_batches WHERE id = 1")) in (False, 0)
        conn.execute(text("UPDATE delivery_batches SET journaled = true"))
        conn.execute(text(
            "INSERT INTO delivery_journal (batch_id, subscriber_id, state) VALUES (1, 1, 'sent')"))
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM delivery_batches WHERE id = 1"))
        assert conn.scalar(text("SELECT count(*) FROM delivery_journal")) == 0
        conn.execute(t["delivery_batches"].insert().values(
            id=2, edition_id=1, number=1, first_subscriber_id=1, last_subscriber_id=2,
            recipients=[1, 2], status="sent", attempts=1, sent_count=2, created_at=now,
            updated_at=now))
    command.downgrade(_alembic_config(engine), "0011")
    assert "journaled" not in {c["name"] for c in inspect(engine).get_columns("delivery_batches")}
    assert "delivery_journal" not in inspect(engine).get_table_names()
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT sent_count FROM delivery_batches WHERE id = 2")) == 2
    assert migrate(engine) == ("0011", head_revision())
    engine.dispose()


# -- revision 0013: the code and params of a source's collect error -----------------------------


def test_revision_0013_adds_error_codes_in_place_and_downgrades(db_url: str) -> None:
    """A source, its fetch history and its articles survive the upgrade and the downgrade (a
    rebuilt `sources` table on SQLite would take them); errors from before have no code and
    are shown as their stored message."""
    from alembic import command
    from sqlalchemy import inspect, text

    from newsletter.store.db import _alembic_config

    engine, t = _store_at(db_url, "0012")
    now = datetime(2026, 11, 28, tzinfo=timezone.utc)
    with engine.begin() as conn:
        conn.execute(t["sources"].insert().values(
            id=1, name="agence", label="", kind="feed", url="https://agence.example/rss",
            language="", tags=[], priority=0, enabled=True, origin="web", error_count=1,
            last_error="https://agence.example/rss: HTTP 404 Not Found", created_at=now))
        conn.execute(t["source_fetches"].insert().values(
            id=1, source_id=1, fetched_at=now, outcome="error", new_articles=0,
            error="https://agence.example/rss: HTTP 404 Not Found"))
        conn.execute(t["articles"].insert().values(
            id=1, source_id=1, url="https://agence.example/a", canonical_url="https://agence.example/a",
            title="Titre", author="", language="fr", declared_language="fr", text="Texte.",
            teaser="Texte.", categories=[], content_hash="h1", collected_at=now))
    assert migrate(engine) == ("0012", head_revision())
    columns = {c["name"] for c in inspect(engine).get_columns("sources")}
    assert {"last_error_code", "last_error_params"} <= columns
    with engine.connect() as conn:
        assert conn.execute(text(
            "SELECT last_error, last_error_code, last_error_params FROM sources WHERE id = 1"
        )).one() == ("https://agence.example/rss: HTTP 404 Not Found", None, None)
        assert conn.execute(text(
            "SELECT error_code, error_params FROM source_fetches WHERE id = 1")).one() == (None, None)
        assert conn.scalar(text("SELECT source_id FROM articles WHERE id = 1")) == 1
    store = Store.open(db_url)  # the model writes the new columns
    try:
        with store.session() as session:
            source = session.get(Source, 1)
            source.last_error_code = "fetch-gone"
            source.last_error_params = {"url": "https://agence.example/rss", "status": 404}
            session.commit()
    finally:
        store.close()
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT last_error_code FROM sources WHERE id = 1")) == "fetch-gone"
    command.downgrade(_alembic_config(engine), "0012")
    assert "last_error_code" not in {c["name"] for c in inspect(engine).get_columns("sources")}
    assert "error_code" not in {c["name"] for c in inspect(engine).get_columns("source_fetches")}
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM source_fetches WHERE source_id = 1")) == 1
        assert conn.scalar(text("SELECT source_id FROM articles WHERE id = 1")) == 1
        assert conn.scalar(text("SELECT last_error FROM sources WHERE id = 1")).endswith("HTTP 404 Not Found")
    assert migrate(engine) == ("0012", head_revision())
    engine.dispose()
