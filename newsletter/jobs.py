"""What the daemon's jobs do: library functions with "now" given, one per stage it triggers.

:func:`collect_source` (``collect:<source>``), :func:`draft_list` (``draft:<list>``),
:func:`send_list` (``send:<list>``) and :func:`release_approved` (``held:<list>``). The
scheduled entry points that call them stay in :mod:`newsletter.daemon`: the job store keeps them
as ``module:function`` references.

Sending is idempotent per list and edition date (:func:`send_list`): the edition is the list's
one row for its local date (unique in the store), and sending a sent edition sends nothing more,
so a send that fires twice (the repeated hour when clocks go back, a restart, a second daemon)
mails nobody twice.

Review ``required``: an edition not approved by its send time is ``held``. An approval within
the list's grace window (:func:`send_grace`, counted from the send time) sends it at the next
``held:<list>`` check; once the window has closed it stays unsent, and the check logs so once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from newsletter.audience.lists import ListConfig, sync_lists
from newsletter.config import Config
from newsletter.deliver.message import MailBackend
from newsletter.editions import NothingNewError, approve, build_edition
from newsletter.errors import EditionError
from newsletter.schedule import ListSchedule
from newsletter.store.models import Edition

# the daemon's log lines keep one logger name, whichever module writes them
log = logging.getLogger("newsletter.daemon")

GRACE_MINUTES = 30  # a send missed by less than this still runs once; older ones are skipped
HELD_CHECK_SECONDS = 60  # how often held:<list> looks for an edition approved after its send time


def send_grace(list_config: ListConfig) -> timedelta:
    return timedelta(minutes=GRACE_MINUTES)


def draft_grace(list_config: ListConfig) -> timedelta:
    """A draft run late is still useful until the send time (the send builds it otherwise)."""
    return timedelta(minutes=max(1, min(GRACE_MINUTES, list_config.lead_minutes)))


def _edition(session: Session, list_config: ListConfig, day: Any) -> Edition | None:
    list_id = sync_lists(session, [list_config])[list_config.slug].id
    return session.scalars(
        select(Edition).where(Edition.list_id == list_id, Edition.date == day)
    ).first()


def draft_list(session: Session, list_config: ListConfig, *, now: datetime) -> Edition | None:
    """Build or refresh the draft of the edition LIST_CONFIG sends next; None if nothing new."""
    day = ListSchedule.of(list_config).draft_day(now)
    existing = _edition(session, list_config, day)
    if existing is not None and existing.status != "draft":
        log.info("%s: edition %s for %s is %s: left as it is", list_config.slug, existing.id, day, existing.status)
        return existing
    try:
        edition = build_edition(session, list_config, day, now=now)
    except NothingNewError as exc:
        log.info("%s: %s", list_config.slug, exc)
        return None
    session.commit()
    included = sum(1 for item in edition.items if item.included)
    log.info("%s: draft edition %s for %s with %s items", list_config.slug, edition.id, day, included)
    return edition


@dataclass
class SendResult:
    """What a send run did: ``sent``, ``already sent``, ``held``, ``cancelled``, ``nothing new``..."""

    outcome: str
    edition_id: int | None = None
    messages: int = 0
    notes: list[str] = field(default_factory=list)


def send_list(
    session: Session,
    config: Config,
    list_config: ListConfig,
    *,
    now: datetime,
    backend: MailBackend,
    secret: str,
) -> SendResult:
    """Send LIST_CONFIG's edition of the day whose send time is at NOW, per the review policy.

    ``auto``: a draft is approved and sent (unless an editor cancelled it). ``required``: sent
    only if approved, otherwise marked ``held``. An edition already sent sends nothing more; one
    left ``sending`` by a crash is resumed (its uncertain batches stay uncertain).
    """
    from newsletter.deliver.send import send_edition

    slug = list_config.slug
    day = ListSchedule.of(list_config).send_day(now, send_grace(list_config))
    edition = _edition(session, list_config, day)
    if edition is None:  # the draft did not run (daemon down then, or no lead time): build now
        try:
            edition = build_edition(session, list_config, day, now=now)
        except NothingNewError as exc:
            note = " (send_empty is set, but an edition with no article cannot be built yet)" if list_config.send_empty else ""
            log.info("%s: %s: no mail%s", slug, exc, note)
            return SendResult("nothing new")
        session.commit()
    result = SendResult(edition.status, edition.id)
    if edition.status in ("sent", "cancelled", "held"):
        why = {"sent": "already sent", "cancelled": "cancelled by an editor: not sent", "held": "held: not sent"}
        log.info("%s: edition %s for %s %s", slug, edition.id, day, why[edition.status])
        result.outcome = "already sent" if edition.status == "sent" else edition.status
        return result
    if edition.status == "draft" and list_config.review == "required":
        # a conditional update: an approval landing at this very moment is not overwritten
        held = session.execute(
            update(Edition).where(Edition.id == edition.id, Edition.status == "draft")
            .values(status="held").execution_options(synchronize_session=False)
        ).rowcount
        session.commit()
        session.refresh(edition)
        if held:
            # TODO(issue 7): email the list's editors (no editor-to-list mapping exists yet)
            log.warning(
                "%s: edition %s for %s held: not approved by its send time (review = required)",
                slug, edition.id, day,
            )
            result.outcome = "held"
            return result
    if edition.status == "draft":  # review = auto
        try:
            approve(edition)
        except EditionError as exc:
            log.warning("%s: edition %s for %s not sent: %s", slug, edition.id, day, exc)
            result.outcome = "not approved"
            result.notes.append(str(exc))
            return result
        session.commit()
        log.info("%s: edition %s for %s approved (review = auto)", slug, edition.id, day)
    report = send_edition(session, config, list_config, edition.id, backend, secret)
    result.outcome, result.messages = "sent", report.sent
    result.notes = [*report.failed, *(f"batch {n} uncertain" for n in report.uncertain)]
    log.info(
        "%s: edition %s for %s: %s messages sent in %s batches%s", slug, edition.id, day,
        report.sent, report.sent_batches,
        f" ({report.already_sent} batches sent before)" if report.already_sent else "",
    )
    for note in result.notes:
        log.error("%s: edition %s: %s", slug, edition.id, note)
    return result


def latest_send(schedule: ListSchedule, now: datetime, lookback: timedelta) -> datetime | None:
    """The latest send time of SCHEDULE in [NOW - LOOKBACK, NOW], or None."""
    latest = None
    fire = schedule.send.get_next_fire_time(None, now - lookback)
    while fire is not None and fire <= now:
        latest = fire
        fire = schedule.send.get_next_fire_time(fire, fire)
    # in UTC: adding a grace time to a local time is wall-clock arithmetic across a clock change
    return None if latest is None else latest.astimezone(UTC)


def release_approved(
    session: Session,
    config: Config,
    list_config: ListConfig,
    *,
    now: datetime,
    backend: MailBackend,
    secret: str,
) -> SendResult | None:
    """Send the edition of LIST_CONFIG's latest send time if it is approved but not sent (held,
    then approved within the grace window); None when there is nothing to do.

    The ``held:<list>`` job runs this every HELD_CHECK_SECONDS. An approval up to the end of the
    window (send time + grace) counts even if this check runs a little later; a held edition,
    or one approved too late, is logged (once: it is seen for one check past the window) and
    left unsent. Sending goes through ``send_edition``, which sends nothing twice.
    """
    from newsletter.deliver.send import send_edition

    slug = list_config.slug
    schedule = ListSchedule.of(list_config)
    grace, check = send_grace(list_config), timedelta(seconds=HELD_CHECK_SECONDS)
    send_time = latest_send(schedule, now, grace + check)
    if send_time is None:
        return None
    day = schedule.local_day(send_time)
    edition = _edition(session, list_config, day)
    if edition is None or edition.status not in ("held", "approved"):
        return None
    deadline = send_time + grace
    closed = f"its grace window closed at {deadline.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
    if edition.status == "held":
        if now > deadline:
            log.warning(
                "%s: edition %s for %s still held when %s: not sent "
                "(approve it, then 'newsletter editions send %s', to send it anyway)",
                slug, edition.id, day, closed, edition.id,
            )
        return SendResult("held", edition.id)
    approved_at = edition.approved_at
    if approved_at is not None and approved_at > deadline:
        log.warning(
            "%s: edition %s for %s approved at %s UTC, after %s: not sent "
            "(run 'newsletter editions send %s' to send it anyway)",
            slug, edition.id, day, f"{approved_at.astimezone(UTC):%H:%M}", closed, edition.id,
        )
        return SendResult("approved too late", edition.id)
    report = send_edition(session, config, list_config, edition.id, backend, secret)
    result = SendResult("sent", edition.id, report.sent)
    result.notes = [*report.failed, *(f"batch {n} uncertain" for n in report.uncertain)]
    log.info(
        "%s: edition %s for %s approved within its grace window: %s messages sent in %s batches",
        slug, edition.id, day, report.sent, report.sent_batches,
    )
    for note in result.notes:
        log.error("%s: edition %s: %s", slug, edition.id, note)
    return result


def collect_source(session: Session, config: Config, name: str) -> None:
    """Collect one source, then enrich and summarize what is new."""
    from newsletter.collect.run import collect
    from newsletter.enrich.pending import enrich_pending
    from newsletter.summarize.pending import summarize_pending

    (report,) = collect(session, config, names=[name])
    enriched = enrich_pending(session, config)
    summarized = summarize_pending(session, config)
    state = "not modified" if report.not_modified else f"{report.new} new, {report.known} known"
    log.info("%s: %s; %s enriched, %s summarized", name, state, len(enriched), summarized)
    for message in report.errors:
        log.warning("%s: %s", name, message)
