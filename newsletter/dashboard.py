"""What the editors' dashboard shows: each list's open editions and next send, and recent sends.

It reads the store and changes nothing. The next draft and send times come from
:func:`newsletter.report.list_plans`, the batch counts from
:func:`newsletter.report.recent_editions`.

How a send is counted:

- **delivered**: the recipients of its sent batches (``sent_count``: consent is checked again
  right before a batch goes, so it can be less than planned);
- **bounced** and **complained**: the provider's events tied to the edition (SendGrid returns
  the ``edition_id`` given at send time) that bounce or complain, as
  :func:`newsletter.audience.events.status_for` reads them, one per person;
- **unsubscribed**: the provider's unsubscribe events tied to the edition, plus the people who
  used the unsubscribe link of a mail (one-click or the form) on its list after it was sent and
  before the list's next edition went out. The link names the list, not the edition, so that
  window is the closest attribution there is.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from newsletter.audience.events import status_for
from newsletter.audience.lists import ListConfig
from newsletter.report import list_plans, recent_editions
from newsletter.store.models import (
    ConsentEvent,
    DeliveryBatch,
    Edition,
    EditionItem,
    MailingList,
    ProviderEvent,
)

# Open editions in the order an editor deals with them: held ones are late already.
OPEN_STATUSES = ("held", "draft", "approved", "sending")
LOOKBACK = timedelta(days=7)  # older drafts and held editions are left to the edition pages
STOP_EVENTS = ("bounce", "dropped", "spamreport", "unsubscribe", "group_unsubscribe")
LINK_ORIGINS = ("one-click", "form")  # the unsubscribe link of a mail (newsletter.web.app)


@dataclass
class Progress:
    """An edition's delivery: batches per status and recipients sent out of those planned."""

    batches: dict[str, int] = field(default_factory=dict)
    sent: int = 0
    planned: int = 0

    @property
    def batches_total(self) -> int:
        return sum(self.batches.values())

    @property
    def batches_sent(self) -> int:
        return self.batches.get("sent", 0)

    @property
    def problems(self) -> int:
        """Batches an editor must look at: failed, or uncertain (never resent on their own)."""
        return self.batches.get("failed", 0) + self.batches.get("uncertain", 0)

    @property
    def percent(self) -> int:
        if self.planned:
            return min(100, round(100 * self.sent / self.planned))
        total = self.batches_total
        return round(100 * self.batches_sent / total) if total else 0


@dataclass
class EditionCard:
    id: int
    date: date
    status: str
    subject: str
    items: int  # included items
    progress: Progress


@dataclass
class ListCard:
    """One list on the dashboard; times are aware datetimes in the list's time zone."""

    slug: str
    name: str
    language: str
    timezone: str
    review: str
    next_send: datetime | None
    next_draft: datetime | None
    editions: list[EditionCard] = field(default_factory=list)
    last_sent: EditionCard | None = None

    @property
    def awaiting_review(self) -> bool:
        """Whether the list waits for an editor: a held edition, or a draft to approve. A draft
        of a list with ``review = "auto"`` goes out as built and waits for no one."""
        return any(
            e.status == "held" or (e.status == "draft" and self.review == "required")
            for e in self.editions
        )


@dataclass
class SendSummary:
    """A sent (or sending) edition and what became of it."""

    edition_id: int
    list_slug: str
    list_name: str
    date: date
    status: str
    sent_at: datetime | None
    delivered: int
    bounced: int = 0
    complained: int = 0
    unsubscribed: int = 0


def _progress(
    session: Session, ids: Sequence[int], planned_for: Sequence[int] = ()
) -> dict[int, Progress]:
    """Progress of each edition of IDS; recipients planned only for PLANNED_FOR (they are read
    from each batch's recipient list, so only for the few editions being sent)."""
    found = {i: Progress() for i in ids}
    if not ids:
        return found
    for state in recent_editions(session, limit=len(ids), ids=list(ids)):
        found[state.id].batches = dict(state.batches)
        found[state.id].sent = state.recipients_sent
    if planned_for:
        for edition_id, recipients in session.execute(
            select(DeliveryBatch.edition_id, DeliveryBatch.recipients).where(
                DeliveryBatch.edition_id.in_(list(planned_for))
            )
        ):
            found[edition_id].planned += len(recipients or [])
    return found


def _item_counts(session: Session, ids: Sequence[int]) -> dict[int, int]:
    if not ids:
        return {}
    return dict(
        session.execute(
            select(EditionItem.edition_id, func.count())
            .where(EditionItem.edition_id.in_(list(ids)), EditionItem.included.is_(True))
            .group_by(EditionItem.edition_id)
        ).all()
    )


def list_cards(session: Session, lists: Sequence[ListConfig], now: datetime) -> list[ListCard]:
    """Each list with its open editions (held and drafts first) and next times after NOW.

    Lists with an edition awaiting review come first, then by next send time."""
    cards = {}
    for lst, plan in zip(lists, list_plans(lists, now), strict=True):
        tz = ZoneInfo(lst.timezone)
        cards[lst.slug] = ListCard(
            lst.slug, lst.name, lst.language, lst.timezone, lst.review,
            plan.next_send.astimezone(tz) if plan.next_send else None,
            plan.next_draft.astimezone(tz) if plan.next_draft else None,
        )
    if not cards:
        return []
    cutoff = (now - LOOKBACK).date()
    rows = session.execute(
        select(Edition, MailingList.slug)
        .join(MailingList, MailingList.id == Edition.list_id)
        .where(
            MailingList.slug.in_(list(cards)),
            Edition.status.in_(OPEN_STATUSES),
            or_(Edition.date >= cutoff, Edition.status == "sending"),
        )
    ).all()
    last_sent_ids = list(
        session.scalars(
            select(func.max(Edition.id))
            .join(MailingList, MailingList.id == Edition.list_id)
            .where(MailingList.slug.in_(list(cards)), Edition.status == "sent")
            .group_by(Edition.list_id)
        )
    )
    last_sent = {
        edition.id: (edition, slug)
        for edition, slug in session.execute(
            select(Edition, MailingList.slug)
            .join(MailingList, MailingList.id == Edition.list_id)
            .where(Edition.id.in_(last_sent_ids))
        ).all()
    }
    ids = [e.id for e, _ in rows] + list(last_sent)
    progress = _progress(session, ids, [e.id for e, _ in rows if e.status == "sending"])
    items = _item_counts(session, ids)

    def card(edition: Edition) -> EditionCard:
        return EditionCard(edition.id, edition.date, edition.status, edition.subject,
                           items.get(edition.id, 0), progress[edition.id])

    for edition, slug in rows:
        cards[slug].editions.append(card(edition))
    for edition, slug in last_sent.values():
        cards[slug].last_sent = card(edition)
    for c in cards.values():
        c.editions.sort(key=lambda e: (OPEN_STATUSES.index(e.status), e.date, e.id))
    far = datetime.max.replace(tzinfo=ZoneInfo("UTC"))
    return sorted(cards.values(), key=lambda c: (not c.awaiting_review, c.next_send or far, c.slug))


def _person(subscriber_id: int | None, email: str, row_id: int) -> str:
    if subscriber_id is not None:
        return f"s{subscriber_id}"
    return f"e{email.lower()}" if email else f"r{row_id}"


def recent_sends(session: Session, limit: int = 10) -> list[SendSummary]:
    """The latest sent or sending editions, newest first, with their counts (see the module)."""
    rows = session.execute(
        select(Edition, MailingList.slug, MailingList.name)
        .join(MailingList, MailingList.id == Edition.list_id)
        .where(Edition.status.in_(("sent", "sending")))
        .order_by(Edition.date.desc(), Edition.id.desc())
        .limit(limit)
    ).all()
    if not rows:
        return []
    ids = [e.id for e, _, _ in rows]
    progress = _progress(session, ids)
    people: dict[int, dict[str, set[str]]] = {i: defaultdict(set) for i in ids}
    for row_id, edition_id, kind, payload, subscriber_id, email in session.execute(
        select(ProviderEvent.id, ProviderEvent.edition_id, ProviderEvent.type,
               ProviderEvent.payload, ProviderEvent.subscriber_id, ProviderEvent.email)
        .where(ProviderEvent.edition_id.in_(ids), ProviderEvent.type.in_(STOP_EVENTS))
    ):
        # a forgotten person's payload is emptied: the type alone still tells most events
        event = payload if isinstance(payload, dict) and payload.get("event") else {"event": kind}
        status = status_for(event)
        if status is not None:
            people[edition_id][status].add(_person(subscriber_id, email, row_id))
    _link_unsubscribes(session, [e for e, _, _ in rows if e.sent_at is not None], people)
    return [
        SendSummary(
            e.id, slug, name, e.date, e.status, e.sent_at, progress[e.id].sent,
            bounced=len(people[e.id]["bounced"]), complained=len(people[e.id]["complained"]),
            unsubscribed=len(people[e.id]["unsubscribed"]),
        )
        for e, slug, name in rows
    ]


def _link_unsubscribes(
    session: Session, editions: Sequence[Edition], people: dict[int, dict[str, set[str]]]
) -> None:
    """Add to PEOPLE the link unsubscribes that followed each of EDITIONS on its list."""
    if not editions:
        return
    list_ids = {e.list_id for e in editions}
    start = min(e.sent_at for e in editions if e.sent_at is not None)
    # every send of these lists since START, so each edition's window ends at the next one
    sends: dict[int, list[tuple[datetime, int]]] = defaultdict(list)
    for list_id, sent_at, edition_id in session.execute(
        select(Edition.list_id, Edition.sent_at, Edition.id)
        .where(Edition.list_id.in_(list_ids), Edition.sent_at.is_not(None),
               Edition.sent_at >= start)
        .order_by(Edition.sent_at, Edition.id)
    ):
        sends[list_id].append((sent_at, edition_id))
    for row_id, list_id, subscriber_id, when in session.execute(
        select(ConsentEvent.id, ConsentEvent.list_id, ConsentEvent.subscriber_id,
               ConsentEvent.occurred_at)
        .where(
            ConsentEvent.list_id.in_(list_ids),
            ConsentEvent.action == "unsubscribed",
            ConsentEvent.origin.in_(LINK_ORIGINS),
            ConsentEvent.occurred_at >= start,
        )
    ):
        times = sends.get(list_id, [])
        at = bisect.bisect_right([t for t, _ in times], when) - 1
        if at >= 0 and times[at][1] in people:
            people[times[at][1]]["unsubscribed"].add(_person(subscriber_id, "", row_id))
