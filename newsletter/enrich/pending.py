"""The enrich stage over the store: language, tags and story of every article not yet enriched."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from newsletter.config import Config
from newsletter.enrich.language import detect_language
from newsletter.enrich.stories import StoryIndex
from newsletter.enrich.tags import Tagger
from newsletter.store.models import Article, ArticleTag, utcnow


def enrich_pending(session: Session, config: Config, *, limit: int | None = None) -> list[Article]:
    """Enrich the articles that have not been; returns them. Running it twice changes nothing."""
    query = (
        select(Article)
        .where(Article.enriched_at.is_(None))
        .options(selectinload(Article.tags))
        .order_by(Article.id)
    )
    if limit:
        query = query.limit(limit)
    pending = list(session.scalars(query))
    if not pending:
        return []
    tagger = Tagger(config.tags)
    index = _story_index(session, config, pending)
    for article in pending:
        article.language = detect_language(
            f"{article.title}\n\n{article.text}", hint=article.declared_language
        )
        have = {t.tag for t in article.tags}
        for tag, origin in tagger.tag(
            article.title, article.text, article.categories, language=article.language
        ):
            if tag not in have:
                article.tags.append(ArticleTag(tag=tag, origin=origin))
                have.add(tag)
        story = index.add(
            article.id, article.title, article.text, article.published_at or article.collected_at,
            language=article.language,
        )
        article.story_id = int(story) if story is not None else article.id
        article.enriched_at = utcnow()
    session.flush()
    return pending


def _story_index(session: Session, config: Config, pending: list[Article]) -> StoryIndex:
    """An index of the already enriched articles that new ones could share a story with."""
    index = StoryIndex(threshold=config.stories.threshold, window_days=config.stories.window_days)
    when = func.coalesce(Article.published_at, Article.collected_at)
    dates = [a.published_at or a.collected_at or utcnow() for a in pending]
    since = min(dates) - timedelta(days=config.stories.window_days)
    recent = session.execute(
        select(Article.id, Article.title, Article.text, Article.published_at,
               Article.collected_at, Article.language, Article.story_id)
        .where(Article.enriched_at.is_not(None), when >= since)
        .order_by(Article.id)
    )
    for row in recent:
        index.add(
            row.id, row.title, row.text, row.published_at or row.collected_at,
            language=row.language, story=str(row.story_id) if row.story_id else None,
        )
    return index
