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
