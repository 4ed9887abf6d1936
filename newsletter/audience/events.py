"""Provider events (SendGrid's event webhook): stored once each, and the statuses they change.

Each event is kept as a :class:`ProviderEvent`, keyed by its ``sg_event_id``: SendGrid retries
a delivery until it gets a 2xx, so the same event may come many times and is applied once.

Which events stop mail, and to what status (a membership only ever moves up
:data:`~newsletter.audience.consent.STATUS_RANK`, so a late ``unsubscribe`` does not hide an
earlier complaint):

    bounce (type "bounce")        bounced       a "blocked" bounce is temporary: stored only
    dropped ("Invalid", "Bounced Address")      bounced
    spamreport                    complained
    unsubscribe, group_unsubscribe unsubscribed

The list comes from the custom_args set at send time (``edition_id`` -> the edition's list,
``subscriber_id``); an event without a known edition applies to every list of the subscriber.

Every event (processed, delivered, deferred, open...) is about a message SendGrid accepted, and
SendGrid takes a request whole or not at all: the ``batch_id`` of its custom_args tells the
ledger that batch went out (:func:`newsletter.deliver.send.confirm_sent`), even one it had to
call uncertain.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from newsletter.audience.consent import (
    STATUS_RANK,
    current_subscriber_id,
    set_status,
    subscriber_by_address,
)
from newsletter.errors import InputError
from newsletter.store.models import Edition, Membership, ProviderEvent, Subscriber, email_key

PROVIDER = "sendgrid"
ORIGIN = "webhook:sendgrid"
_DROPPED_INVALID = ("invalid", "bounced address")


@dataclass
class EventReport:
    received: int = 0
    new: int = 0  # not seen before
    duplicates: int = 0
    changed: int = 0  # memberships whose status changed
    ignored: list[str] = field(default_factory=list)  # events that were not objects
    # batch id -> edition id, named by the new events: SendGrid accepted those batches' requests
    batches: dict[int, int] = field(default_factory=dict)


def status_for(event: dict[str, Any]) -> str | None:
    """The membership status EVENT calls for, or None when it changes nothing."""
    kind = event.get("event")
    if kind == "bounce":
        return "bounced" if str(event.get("type", "bounce")).lower() != "blocked" else None
    if kind == "dropped":
        reason = str(event.get("reason", "")).lower()
        return "bounced" if any(r in reason for r in _DROPPED_INVALID) else None
    if kind == "spamreport":
        return "complained"
    if kind in ("unsubscribe", "group_unsubscribe"):
        return "unsubscribed"
    return None


def parse_events(body: bytes) -> list[Any]:
    """The JSON array of a webhook body; InputError when it is not one."""
    try:
        events = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"webhook body is not JSON: {exc}") from None
    if not isinstance(events, list):
        raise InputError("webhook body is not a JSON array of events")
    return events


def _int(value: Any) -> int | None:
    try:
        number = int(str(value))
    except (TypeError, ValueError):
        return None
    return number if 0 < number < 2**31 else None


def _event_id(event: dict[str, Any]) -> str:
    ident = event.get("sg_event_id")
    if isinstance(ident, str) and ident.strip():
        return ident.strip()[:100]
    # Never seen from SendGrid, but a retry of such an event must still be recognised.
    canonical = json.dumps(event, sort_keys=True, ensure_ascii=False).encode("utf-8")
    return "sha256:" + hashlib.sha256(canonical).hexdigest()


def _when(event: dict[str, Any]) -> datetime | None:
    stamp = event.get("timestamp")
    if isinstance(stamp, int | float) and 0 < stamp < 2**33:
        return datetime.fromtimestamp(stamp, UTC)
    return None


def record_events(session: Session, events: list[Any]) -> EventReport:
    """Store each event not seen before and apply the status changes it calls for."""
    report = EventReport(received=len(events))
    by_id: dict[str, dict[str, Any]] = {}
    for i, event in enumerate(events):
        if not isinstance(event, dict):
            report.ignored.append(f"event {i}: not an object")
            continue
        by_id.setdefault(_event_id(event), event)
    report.duplicates = len(events) - len(report.ignored) - len(by_id)
    known = set()
    ids = list(by_id)
    for start in range(0, len(ids), 500):
        known.update(
            session.scalars(
                select(ProviderEvent.event_id).where(
                    ProviderEvent.provider == PROVIDER,
                    ProviderEvent.event_id.in_(ids[start : start + 500]),
                )
            )
        )
    report.duplicates += len(known)
    for event_id, event in by_id.items():
        if event_id in known:
            continue
        report.new += 1
        report.changed += _apply(session, event_id, event)
        batch_id, edition_id = _int(event.get("batch_id")), _int(event.get("edition_id"))
        if batch_id and edition_id:
            report.batches[batch_id] = edition_id
    session.flush()
    return report


def _apply(session: Session, event_id: str, event: dict[str, Any]) -> int:
    email = str(event.get("email", ""))[:320]
    subscriber_id = _int(event.get("subscriber_id"))
    edition_id = _int(event.get("edition_id"))
    current = current_subscriber_id(session, subscriber_id) if subscriber_id else None
    subscriber = session.get(Subscriber, current) if current else None
    if subscriber is not None and subscriber.email_key != email_key(email):
        subscriber = None  # ids that do not match the address are not trusted
    if subscriber is None and email.strip():
        subscriber = subscriber_by_address(session, email)
    edition = session.get(Edition, edition_id) if edition_id else None
    row = ProviderEvent(
        provider=PROVIDER, event_id=event_id, type=str(event.get("event", ""))[:40],
        email=email, subscriber_id=subscriber.id if subscriber else None,
        edition_id=edition.id if edition else None, payload=event, occurred_at=_when(event),
    )
    session.add(row)
    status = status_for(event)
    if status is None or subscriber is None:
        return 0
    stmt = select(Membership).where(Membership.subscriber_id == subscriber.id)
    if edition is not None:
        stmt = stmt.where(Membership.list_id == edition.list_id)
    changed = 0
    for membership in session.scalars(stmt.with_for_update()):
        if STATUS_RANK[status] > STATUS_RANK.get(membership.status, 0):
            changed += set_status(session, membership, status, str(event.get("event")), ORIGIN)
    row.applied = changed > 0
    return changed
