"""The summarize stage over the store: a summary for every article that has none.

An editor's summary (``edited``) is never replaced; ``refresh=True`` redoes machine summaries.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from newsletter.config import Config
from newsletter.errors import InputError
from newsletter.store.models import Article, Summary
from newsletter.summarize import summarize

log = logging.getLogger(__name__)


def summarize_article(article: Article, config: Config) -> Summary | None:
    """Create or refresh ARTICLE's machine summary; None when its text cannot be summarized."""
    if article.summary is not None and article.summary.edited:
        return article.summary
    try:
        result = summarize(
            article.text,
            title=article.title,
            language=article.language,
            max_words=config.summarize.max_words,
            method=config.summarize.method,
        )
    except InputError as exc:
        log.warning("article %s (%s): no summary: %s", article.id, article.url or article.title, exc)
        return None
    if article.summary is None:
        article.summary = Summary(text=result.text, method=result.method, language=result.language)
    else:
        article.summary.text = result.text
        article.summary.method = result.method
        article.summary.language = result.language
    return article.summary


def summarize_pending(session: Session, config: Config, *, refresh: bool = False) -> int:
    """Summarize the enriched articles without a summary (all machine ones with REFRESH)."""
    query = select(Article).where(Article.enriched_at.is_not(None)).order_by(Article.id)
    if not refresh:
        query = query.where(~Article.summary.has())
    done = 0
    for article in session.scalars(query):
        if summarize_article(article, config) is not None:
            done += 1
    session.flush()
    return done
