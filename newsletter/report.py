"""What the store holds, for `newsletter status` (and later the dashboard)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from newsletter.store.models import Article, DeliveryBatch, Edition, MailingList, Source, Summary


@dataclass
class SourceState:
    name: str
    kind: str
    articles: int
    last_fetch: str
    last_error: str | None


@dataclass
class EditionState:
    id: int
    list_slug: str
    date: str
    status: str
    batches: dict[str, int]  # batch status -> count
    recipients_sent: int


@dataclass
class StoreStatus:
    sources: list[SourceState] = field(default_factory=list)
    articles: int = 0
    summaries: int = 0
    stories: int = 0
    pending: int = 0
    languages: dict[str, int] = field(default_factory=dict)
    editions: list[EditionState] = field(default_factory=list)


def store_status(session: Session) -> StoreStatus:
    counts = dict(
        session.execute(select(Article.source_id, func.count()).group_by(Article.source_id)).all()
    )
    state = StoreStatus()
    for source in session.scalars(select(Source).order_by(Source.name)):
        when = source.last_fetched_at.strftime("%Y-%m-%d %H:%M UTC") if source.last_fetched_at else "never"
        state.sources.append(
            SourceState(source.name, source.kind, counts.get(source.id, 0), when, source.last_error)
        )
    state.articles = session.scalar(select(func.count(Article.id))) or 0
    state.summaries = session.scalar(select(func.count(Summary.id))) or 0
    state.stories = session.scalar(select(func.count(func.distinct(Article.story_id)))) or 0
    state.pending = session.scalar(
        select(func.count(Article.id)).where(Article.enriched_at.is_(None))
    ) or 0
    state.languages = dict(
        session.execute(
            select(Article.language, func.count()).group_by(Article.language).order_by(func.count().desc())
        ).all()
    )
    state.editions = recent_editions(session)
    return state


def recent_editions(session: Session, limit: int = 10) -> list[EditionState]:
    """The latest editions with their delivery progress, newest first."""
    editions = session.execute(
        select(Edition.id, MailingList.slug, Edition.date, Edition.status)
        .join(MailingList, MailingList.id == Edition.list_id)
        .order_by(Edition.date.desc(), Edition.id.desc())
        .limit(limit)
    ).all()
    ids = [row.id for row in editions]
    batches: dict[int, dict[str, int]] = {i: {} for i in ids}
    sent: dict[int, int] = dict.fromkeys(ids, 0)
    for edition_id, status, count, recipients in session.execute(
        select(DeliveryBatch.edition_id, DeliveryBatch.status, func.count(), func.sum(DeliveryBatch.sent_count))
        .where(DeliveryBatch.edition_id.in_(ids))
        .group_by(DeliveryBatch.edition_id, DeliveryBatch.status)
    ):
        batches[edition_id][status] = count
        if status == "sent":
            sent[edition_id] = int(recipients or 0)
    return [
        EditionState(row.id, row.slug, row.date.isoformat(), row.status, batches[row.id], sent[row.id])
        for row in editions
    ]
