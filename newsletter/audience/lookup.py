"""Finding a subscriber, and everything the store knows of their consent.

:func:`search` matches a piece of an address or a name, case-insensitively (Unicode case
folding on SQLite too, where ``lower()`` only knows ASCII), a page at a time.
:func:`profile` gives one subscriber's lists with their statuses, their consent history
(:class:`~newsletter.store.models.ConsentEvent`, newest first) and the provider's events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from newsletter.store.models import ConsentEvent, MailingList, Membership, ProviderEvent, Subscriber

PAGE_SIZE = 50
QUERY_MAX = 200
HISTORY_MAX = 500


@dataclass
class Hit:
    id: int
    email: str
    name: str
    lists: list[tuple[str, str]]  # (list slug, status)


@dataclass
class SearchPage:
    query: str
    page: int
    per_page: int
    total: int
    hits: list[Hit] = field(default_factory=list)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _casefold(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


def _folded(session: Session, column: Any) -> ColumnElement[str]:
    """COLUMN case-folded in SQL: PostgreSQL's lower() is Unicode-aware, SQLite's is not."""
    if session.get_bind().dialect.name == "sqlite":
        raw = session.connection().connection.driver_connection
        # registered on this session's connection, which runs the query
        raw.create_function("nl_casefold", 1, _casefold, deterministic=True)  # type: ignore
        return func.nl_casefold(column)
    return func.lower(column)


def _fold_query(session: Session, text: str) -> str:
    return text.casefold() if session.get_bind().dialect.name == "sqlite" else text.lower()


def search(session: Session, query: str, page: int = 1, per_page: int = PAGE_SIZE) -> SearchPage:
    """Subscribers whose address or name contains QUERY (any case), by address; PAGE from 1.

    An empty query lists everyone."""
    query = " ".join(query.split())[:QUERY_MAX]
    page = max(1, page)
    stmt = select(Subscriber.id)
    if query:
        wanted = _fold_query(session, query)
        stmt = stmt.where(
            or_(
                _folded(session, Subscriber.email).contains(wanted, autoescape=True),
                _folded(session, Subscriber.name).contains(wanted, autoescape=True),
            )
        )
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.execute(
        select(Subscriber.id, Subscriber.email, Subscriber.name)
        .where(Subscriber.id.in_(stmt.scalar_subquery()))
        .order_by(Subscriber.email, Subscriber.id)
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    result = SearchPage(query, page, per_page, total)
    if not rows:
        return result
    lists: dict[int, list[tuple[str, str]]] = {r.id: [] for r in rows}
    for subscriber_id, slug, status in session.execute(
        select(Membership.subscriber_id, MailingList.slug, Membership.status)
        .join(MailingList, MailingList.id == Membership.list_id)
        .where(Membership.subscriber_id.in_(list(lists)))
        .order_by(MailingList.slug)
    ):
        lists[subscriber_id].append((slug, status))
    result.hits = [Hit(r.id, r.email, r.name, lists[r.id]) for r in rows]
    return result


@dataclass
class ListStatus:
    slug: str
    name: str
    status: str
    origin: str
    since: datetime | None


@dataclass
class ConsentLine:
    occurred_at: datetime
    list_slug: str
    action: str
    status: str
    origin: str


@dataclass
class EventLine:
    occurred_at: datetime | None
    type: str
    edition_id: int | None


@dataclass
class Profile:
    id: int
    email: str
    name: str
    language: str
    created_at: datetime
    lists: list[ListStatus]
    history: list[ConsentLine]
    events: list[EventLine]


def profile(session: Session, subscriber_id: int) -> Profile | None:
    """One subscriber's lists, consent history and provider events; None if there is none."""
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None:
        return None
    lists = [
        ListStatus(slug, name, status, origin, since)
        for slug, name, status, origin, since in session.execute(
            select(MailingList.slug, MailingList.name, Membership.status, Membership.origin,
                   Membership.status_changed_at)
            .join(MailingList, MailingList.id == Membership.list_id)
            .where(Membership.subscriber_id == subscriber_id)
            .order_by(MailingList.slug)
        )
    ]
    history = [
        ConsentLine(when, slug or "", action, status, origin)
        for when, slug, action, status, origin in session.execute(
            select(ConsentEvent.occurred_at, MailingList.slug, ConsentEvent.action,
                   ConsentEvent.status, ConsentEvent.origin)
            .outerjoin(MailingList, MailingList.id == ConsentEvent.list_id)
            .where(ConsentEvent.subscriber_id == subscriber_id)
            .order_by(ConsentEvent.occurred_at.desc(), ConsentEvent.id.desc())
            .limit(HISTORY_MAX)
        )
    ]
    events = [
        EventLine(when or received, kind, edition_id)
        for when, received, kind, edition_id in session.execute(
            select(ProviderEvent.occurred_at, ProviderEvent.received_at, ProviderEvent.type,
                   ProviderEvent.edition_id)
            .where(ProviderEvent.subscriber_id == subscriber_id)
            .order_by(ProviderEvent.received_at.desc(), ProviderEvent.id.desc())
            .limit(HISTORY_MAX)
        )
    ]
    return Profile(subscriber.id, subscriber.email, subscriber.name, subscriber.language,
                   subscriber.created_at, lists, history, events)
