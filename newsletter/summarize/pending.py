"""The summarize stage over the store: one summary per article, by the configured method.

Articles are stored once (unique content hash), so an article's Summary row is the cache of
its text's summary: an article already summarized by the configured method is not summarized
again. After a method change, `resummarize` redoes the machine summaries of a day; an
editor's summary (``edited``) is never replaced. With the ``llm`` method every failure falls
back to the extractive summary (and is logged); the next run tries the model again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from contextlib import nullcontext
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from newsletter.config import Config, SummarizeConfig
from newsletter.errors import InputError
from newsletter.store.models import Article, Summary
from newsletter.summarize import Summary as SummaryResult
from newsletter.summarize import summarize

log = logging.getLogger(__name__)


def summarize_one(
    text: str, *, title: str, language: str, settings: SummarizeConfig, llm: object | None = None
) -> SummaryResult:
    """TEXT's summary by the configured method (the model's, or the extractive on failure)."""
    if settings.method == "llm":
        from newsletter.summarize.llm import summarize_with_fallback

        return summarize_with_fallback(
            text, title=title, language=language, max_words=settings.max_words, llm=llm
        )
    return summarize(
        text, title=title, language=language, max_words=settings.max_words, method=settings.method
    )


def _store(article: Article, result: SummaryResult) -> None:
    if article.summary is None:
        article.summary = Summary(text=result.text, method=result.method, language=result.language)
    else:
        article.summary.text = result.text
        article.summary.method = result.method
        article.summary.language = result.language


def summarize_articles(session: Session, config: Config, articles: Iterable[Article]) -> int:
    """Summarize ARTICLES by the configured method, skipping editors' summaries; returns the count."""
    settings = config.summarize
    todo = [a for a in articles if not (a.summary is not None and a.summary.edited)]
    if not todo:
        return 0
    results: dict[int, SummaryResult | None] = {}
    llm_cm = nullcontext(None)
    if settings.method == "llm":
        from newsletter.summarize.llm import LLMSummarizer

        llm_cm = LLMSummarizer.from_config(settings)
    with llm_cm as llm:
        if llm is not None:
            # The model is slow: ask it for every article at once, within its concurrency limit.
            answers = llm.summarize_many(
                [(a.id, a.text, a.title, a.language) for a in todo], settings.max_words
            )
            for article in todo:
                answer = answers.get(article.id)
                if isinstance(answer, str):
                    results[article.id] = SummaryResult(answer, "llm", article.language)
                else:
                    log.warning(
                        "article %s: the model's summary was not used (%s); using the extractive one",
                        article.id, answer,
                    )
        for article in todo:
            if article.id in results:
                continue
            try:
                results[article.id] = summarize(
                    article.text, title=article.title, language=article.language,
                    max_words=settings.max_words,
                    method="extractive" if settings.method == "llm" else settings.method,
                )
            except InputError as exc:
                log.warning("article %s (%s): no summary: %s", article.id, article.url or article.title, exc)
                results[article.id] = None
    done = 0
    for article in todo:
        result = results.get(article.id)
        if result is not None:
            _store(article, result)
            done += 1
    session.flush()
    return done


def summarize_pending(session: Session, config: Config) -> int:
    """Summarize the enriched articles that have no summary yet."""
    articles = session.scalars(
        select(Article)
        .where(Article.enriched_at.is_not(None), ~Article.summary.has())
        .options(selectinload(Article.summary))
        .order_by(Article.id)
    ).all()
    return summarize_articles(session, config, articles)


def resummarize(session: Session, config: Config, day: date, *, force: bool = False) -> int:
    """Redo the machine summaries of the articles published (else collected) on DAY (UTC).

    Only summaries made by another method than the configured one are redone, unless FORCE.
    An editor's summary is never touched.
    """
    start = datetime.combine(day, time.min, tzinfo=timezone.utc)
    when = func.coalesce(Article.published_at, Article.collected_at)
    articles = session.scalars(
        select(Article)
        .where(Article.enriched_at.is_not(None), when >= start, when < start + timedelta(days=1))
        .options(selectinload(Article.summary))
        .order_by(Article.id)
    ).all()
    method = config.summarize.method
    chosen = [
        a for a in articles
        if force or a.summary is None or (not a.summary.edited and a.summary.method != method)
    ]
    return summarize_articles(session, config, chosen)
