"""The delivery ledger: each edition's batches, claimed and sent exactly once per recipient.

Sending an approved edition first *plans* its DeliveryBatch rows: active members by ascending
subscriber id (keyset pagination, never the whole list in memory), at most
``delivery.batch_size`` each, with the ids snapshotted so later list changes do not shift
batches; the edition becomes ``sending``. Batches are then sent one by one, by ``editions send``
in-process or by any number of ``newsletter worker`` processes sharing the database.

A batch goes ``pending -> sending -> sent | failed | uncertain``:

- claim: one transaction picks a pending batch (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so
  concurrent workers never wait for or take the same row; on SQLite, which has no row locks,
  the conditional ``UPDATE ... WHERE status = 'pending'`` and its row count decide), marks it
  ``sending`` with ``claimed_by`` (the worker id, ``host:pid``) and ``claimed_at``, and commits
  *before* the provider call;
- finish: after the call, ``sent`` (or ``failed``: nothing was accepted, with the reason) is
  written only if the batch is still claimed by the same worker (even over ``uncertain``: a
  worker that outlived its lease knows better than the one that judged it; a batch put back
  to pending and claimed again is no longer its own);
- uncertainty rule (:func:`mark_abandoned`, run when a worker starts, whenever it finds nothing
  to do, and when ``editions send`` starts): a ``sending`` batch is ``uncertain`` when its owner
  is unknown (no ``claimed_by``), when its owner names this host and that pid is no longer alive,
  or when it was claimed longer than :data:`CLAIM_LEASE` ago, whoever holds it (a provider call
  never lasts that long: SendGrid and SMTP time out in seconds). A batch held by a live worker
  is left alone. An uncertain batch may or may not have gone out: it is reported and never
  resent on its own (``editions send ID --resend-uncertain`` puts it back, on an editor's word).
  The pid test needs worker host names unique per pid namespace (true of separate machines,
  containers and pods); a reused pid only delays the verdict until the lease runs out.

A batch the provider refuses for good is ``failed``; running ``editions send`` again retries the
edition's failed batches. Sending a sent edition again sends nothing more.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from newsletter.audience.lists import ListConfig
from newsletter.config import Config
from newsletter.deliver.message import MailBackend, MailBatch, Recipient
from newsletter.editions import edition_view, get_edition
from newsletter.errors import DeliveryAuthError, DeliveryError, EditionError, UncertainDeliveryError
from newsletter.render import render_edition
from newsletter.render.view import RenderedEdition, personalize
from newsletter.store.models import DeliveryBatch, Edition, Membership, Subscriber, utcnow
from newsletter.tokens import list_unsubscribe_headers, make_unsubscribe_token, unsubscribe_url

log = logging.getLogger(__name__)

# Longer than any provider call (SendGrid and SMTP give up after delivery.*_timeout seconds,
# 30 by default): a batch claimed longer ago than this has lost its worker, wherever it ran.
CLAIM_LEASE = timedelta(minutes=10)

INTERRUPTED = "interrupted during the provider call: may or may not have been sent"
RESENT = "resent on an editor's request"


@dataclass
class SendReport:
    edition_id: int
    planned: int = 0  # batches planned by this run
    sent_batches: int = 0
    sent: int = 0  # messages handed to the backend by this run
    already_sent: int = 0  # batches sent by an earlier run
    failed: list[str] = field(default_factory=list)
    uncertain: list[int] = field(default_factory=list)  # batch numbers, whenever they became so
    dropped: int = 0  # recipients whose consent ended after planning
    in_flight: int = 0  # batches left to live workers that hold them
    requeued: list[int] = field(default_factory=list)  # uncertain batches resent on request


@dataclass
class BatchOutcome:
    status: str  # sent, failed, uncertain, or lost (another worker took the batch over)
    sent: int = 0
    dropped: int = 0
    error: str | None = None


@dataclass
class PreparedEdition:
    """What every batch of one edition shares: rendered once per edition and process."""

    edition_id: int
    list_config: ListConfig
    rendered: RenderedEdition
    domain: str


Progress = Callable[[int, int], None]  # (batches done, batches in all)


def worker_id(tag: str = "") -> str:
    """This process's name in ``claimed_by``: ``host:pid`` (``host:pid:tag`` for threads)."""
    return f"{socket.gethostname()}:{os.getpid()}" + (f":{tag}" if tag else "")


def _owner_gone(claimed_by: str, host: str) -> bool:
    """True when CLAIMED_BY names a process of this host that no longer runs."""
    owner_host, _, rest = claimed_by.partition(":")
    pid_text = rest.split(":", 1)[0]
    if owner_host != host or not pid_text.isdigit():
        return False  # another machine's worker: only the lease can tell
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, under another user
    return False


def mark_abandoned(
    session: Session, *, lease: timedelta = CLAIM_LEASE, edition_id: int | None = None,
    now: datetime | None = None,
) -> list[DeliveryBatch]:
    """Mark ``uncertain`` the ``sending`` batches whose worker is gone (the module's rule)."""
    now = now or utcnow()
    host = socket.gethostname()
    query = select(DeliveryBatch).where(DeliveryBatch.status == "sending")
    if edition_id is not None:
        query = query.where(DeliveryBatch.edition_id == edition_id)
    # A row another transaction holds is being claimed or finished right now: not abandoned.
    batches = session.scalars(
        query.order_by(DeliveryBatch.id).with_for_update(skip_locked=True)
    ).all()
    marked = []
    for batch in batches:
        if batch.claimed_by is None:
            reason = INTERRUPTED
        elif batch.claimed_at is None or batch.claimed_at < now - lease:
            reason = f"{INTERRUPTED} (claimed by {batch.claimed_by} more than {lease} ago)"
        elif _owner_gone(batch.claimed_by, host):
            reason = f"{INTERRUPTED} (worker {batch.claimed_by} died)"
        else:
            continue
        owner = (
            DeliveryBatch.claimed_by.is_(None) if batch.claimed_by is None
            else DeliveryBatch.claimed_by == batch.claimed_by
        )
        done = session.execute(
            update(DeliveryBatch)
            .where(DeliveryBatch.id == batch.id, DeliveryBatch.status == "sending", owner)
            .values(status="uncertain", last_error=reason, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        if done.rowcount == 1:
            marked.append(batch)
            log.warning("batch %s of edition %s is uncertain: %s", batch.number, batch.edition_id, reason)
    session.commit()
    for batch in marked:
        session.refresh(batch)
    return marked


def claim_batch(session: Session, owner: str, *, edition_id: int | None = None) -> DeliveryBatch | None:
    """Claim the first pending batch of a sending edition for OWNER, committed; None if none."""
    while True:
        query = (
            select(DeliveryBatch.id)
            .join(Edition, Edition.id == DeliveryBatch.edition_id)
            .where(DeliveryBatch.status == "pending", Edition.status == "sending")
        )
        if edition_id is not None:
            query = query.where(DeliveryBatch.edition_id == edition_id)
        batch_id = session.scalar(
            query.order_by(DeliveryBatch.id).limit(1).with_for_update(skip_locked=True, of=DeliveryBatch)
        )
        if batch_id is None:
            session.commit()
            return None
        now = utcnow()
        claimed = session.execute(
            update(DeliveryBatch)
            .where(DeliveryBatch.id == batch_id, DeliveryBatch.status == "pending")
            .values(
                status="sending", claimed_by=owner, claimed_at=now,
                attempts=DeliveryBatch.attempts + 1, updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        session.commit()
        if claimed.rowcount == 1:
            return session.get(DeliveryBatch, batch_id, populate_existing=True)
        # SQLite: another worker claimed it between our SELECT and UPDATE; take the next one.


def _requeue(session: Session, edition_id: int, status: str, note: str) -> list[int]:
    batches = session.scalars(
        select(DeliveryBatch)
        .where(DeliveryBatch.edition_id == edition_id, DeliveryBatch.status == status)
        .order_by(DeliveryBatch.number)
    ).all()
    for batch in batches:
        batch.status = "pending"
        batch.last_error = f"{note} (was {status}: {batch.last_error or 'no reason recorded'})"
        batch.claimed_by = batch.claimed_at = None
    session.commit()
    return [b.number for b in batches]


def requeue_uncertain(session: Session, edition_id: int) -> list[int]:
    """Put the edition's uncertain batches back to pending, on an editor's request."""
    return _requeue(session, edition_id, "uncertain", RESENT)


def plan_batches(session: Session, edition: Edition, batch_size: int) -> int:
    """Create the edition's batches once; returns how many were created now."""
    if edition.batches:
        return 0
    number, after, created = 0, 0, 0
    while True:
        ids = session.scalars(
            select(Membership.subscriber_id)
            .where(
                Membership.list_id == edition.list_id,
                Membership.status == "active",
                Membership.subscriber_id > after,
            )
            .order_by(Membership.subscriber_id)
            .limit(batch_size)
        ).all()
        if not ids:
            return created
        number += 1
        edition.batches.append(
            DeliveryBatch(
                number=number, first_subscriber_id=ids[0], last_subscriber_id=ids[-1],
                recipients=list(ids), status="pending",
            )
        )
        created += 1
        after = ids[-1]


def start_sending(session: Session, config: Config, edition: Edition) -> int:
    """Plan an approved edition's batches and mark it sending (committed); batches planned now."""
    if edition.status in ("draft", "held", "cancelled"):
        hint = f": approve it first ('newsletter editions approve {edition.id}')" if edition.status == "draft" else ""
        raise EditionError(f"edition {edition.id} is {edition.status}, not approved{hint}")
    planned = 0
    if edition.status == "approved":
        planned = plan_batches(session, edition, config.delivery.batch_size)
        edition.status = "sending"
    session.commit()
    finish_edition(session, edition.id)
    return planned


def finish_edition(session: Session, edition_id: int) -> bool:
    """Mark a sending edition sent once every batch is sent; True if it is sent."""
    unsent = session.scalar(
        select(func.count()).where(DeliveryBatch.edition_id == edition_id, DeliveryBatch.status != "sent")
    )
    if unsent == 0:
        session.execute(
            update(Edition)
            .where(Edition.id == edition_id, Edition.status == "sending")
            .values(status="sent", sent_at=func.coalesce(Edition.sent_at, utcnow()))
            .execution_options(synchronize_session=False)
        )
    session.commit()
    edition = session.get(Edition, edition_id)
    if edition is not None:
        session.refresh(edition, ["status", "sent_at"])
    return unsent == 0


def render_for_send(config: Config, list_config: ListConfig, edition: Edition) -> RenderedEdition:
    return render_edition(edition_view(config, list_config, edition), config.folder(config.paths.templates))


def prepare_edition(
    config: Config, list_config: ListConfig, edition: Edition, backend: MailBackend
) -> PreparedEdition:
    """Render EDITION for sending; the outbox also keeps its HTML beside its mbox."""
    rendered = render_for_send(config, list_config, edition)
    if hasattr(backend, "write_html"):
        sample, _ = personalize(rendered, name="", unsubscribe_url=f"{config.web.base_url.rstrip('/')}/unsubscribe")
        backend.write_html(edition.id, sample)
    domain = urlsplit(config.web.base_url).hostname or "newsletter.invalid"
    return PreparedEdition(edition.id, list_config, rendered, domain)


def _recipients(
    session: Session, config: Config, list_config: ListConfig, list_id: int,
    batch: DeliveryBatch, secret: str,
) -> list[Recipient]:
    """The batch's recipients whose membership is still active, right now."""
    rows = session.execute(
        select(Subscriber.id, Subscriber.email, Subscriber.name)
        .join(Membership, Membership.subscriber_id == Subscriber.id)
        .where(
            Membership.list_id == list_id,
            Membership.status == "active",
            Subscriber.id.in_(batch.recipients),
        )
        .order_by(Subscriber.id)
    ).all()
    recipients = []
    for subscriber_id, email, name in rows:
        url = unsubscribe_url(
            config.web.base_url, make_unsubscribe_token(secret, subscriber_id, list_config.slug)
        )
        recipients.append(
            Recipient(
                email=email, name=name or "", unsubscribe_url=url, subscriber_id=subscriber_id,
                headers=list_unsubscribe_headers(url, config.delivery.unsubscribe_mailto),
            )
        )
    return recipients


def _finish(session: Session, batch: DeliveryBatch, owner: str, **values: object) -> bool:
    """Record the outcome if OWNER still holds the batch; False when it was taken over."""
    done = session.execute(
        update(DeliveryBatch)
        .where(
            DeliveryBatch.id == batch.id, DeliveryBatch.claimed_by == owner,
            DeliveryBatch.status.in_(("sending", "uncertain")),
        )
        .values(updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    session.refresh(batch)
    if done.rowcount != 1:
        log.warning("batch %s of edition %s was taken over while %s sent it", batch.number, batch.edition_id, owner)
    return done.rowcount == 1


def send_claimed(
    session: Session, config: Config, prepared: PreparedEdition, batch: DeliveryBatch,
    backend: MailBackend, secret: str, owner: str,
) -> BatchOutcome:
    """Send a batch OWNER has claimed and record the outcome (consent checked right now).

    DeliveryAuthError puts the batch back to pending and is raised: stop sending. Anything
    else that interrupts the provider call leaves the batch uncertain.
    """
    list_id = session.scalar(select(Edition.list_id).where(Edition.id == batch.edition_id))
    assert list_id is not None
    recipients = _recipients(session, config, prepared.list_config, list_id, batch, secret)
    session.commit()  # end the read transaction: no lock is held across the provider call
    dropped = len(batch.recipients) - len(recipients)
    rendered, list_config = prepared.rendered, prepared.list_config
    mail = MailBatch(
        edition_id=batch.edition_id, batch_id=batch.id, list_slug=list_config.slug,
        subject=rendered.subject, html=rendered.html, text=rendered.text,
        from_name=list_config.from_name, from_address=list_config.from_address,
        reply_to=list_config.reply_to or list_config.from_address,
        list_name=list_config.name, headers={},
        recipients=recipients, message_id_domain=prepared.domain,
    )
    try:
        result = backend.send_batch(mail) if recipients else None
    except DeliveryAuthError:
        _finish(session, batch, owner, status="pending", claimed_by=None, claimed_at=None,
                last_error="not sent: the mail service refused our credentials")
        raise
    except UncertainDeliveryError as exc:
        _finish(session, batch, owner, status="uncertain", last_error=str(exc))
        return BatchOutcome("uncertain", dropped=dropped, error=str(exc))
    except DeliveryError as exc:
        status = "failed" if _finish(session, batch, owner, status="failed", last_error=str(exc)) else "lost"
        return BatchOutcome(status, dropped=dropped, error=str(exc))
    except BaseException:
        # Interrupted inside the call (Ctrl-C, a bug): it may have gone out. Best effort: if
        # this fails too, the next worker's mark_abandoned finds the batch.
        try:
            session.rollback()
            _finish(session, batch, owner, status="uncertain", last_error=INTERRUPTED)
        except Exception:
            log.exception("could not mark batch %s uncertain", batch.id)
        raise
    refused = result.refused if result else {}
    sent = result.sent if result else 0
    # a resent batch keeps its history: its readers may have got the edition twice
    notes = [batch.last_error] if batch.last_error and batch.last_error.startswith(RESENT) else []
    if refused:
        notes.append(f"{len(refused)} refused: " + "; ".join(f"{a}: {r}" for a, r in refused.items()))
    kept = _finish(
        session, batch, owner, status="sent", sent_count=sent,
        provider_message_id=result.provider_message_id if result else None,
        last_error="; ".join(notes) or None,
    )
    return BatchOutcome("sent" if kept else "lost", sent=sent, dropped=dropped)


def send_edition(
    session: Session,
    config: Config,
    list_config: ListConfig,
    edition_id: int,
    backend: MailBackend,
    secret: str,
    *,
    progress: Progress | None = None,
    resend_uncertain: bool = False,
    owner: str | None = None,
) -> SendReport:
    """Plan (once) and send an approved edition in this process; see the module docstring.

    Batches held by live workers are left to them (counted in ``in_flight``); failed batches
    are retried; uncertain ones only with RESEND_UNCERTAIN.
    """
    owner = owner or worker_id()
    edition = get_edition(session, edition_id)
    report = SendReport(edition.id)
    report.planned = start_sending(session, config, edition)
    mark_abandoned(session, edition_id=edition.id)
    if resend_uncertain:
        report.requeued = requeue_uncertain(session, edition.id)
    _requeue(session, edition.id, "failed", "retried")
    statuses = session.execute(
        select(DeliveryBatch.status, func.count())
        .where(DeliveryBatch.edition_id == edition.id)
        .group_by(DeliveryBatch.status)
    ).all()
    counts = {status: int(n) for status, n in statuses}
    report.already_sent = counts.get("sent", 0)
    total = counts.get("pending", 0)
    prepared: PreparedEdition | None = None
    done = 0
    while (batch := claim_batch(session, owner, edition_id=edition.id)) is not None:
        if prepared is None:
            prepared = prepare_edition(config, list_config, edition, backend)
        outcome = send_claimed(session, config, prepared, batch, backend, secret, owner)
        report.dropped += outcome.dropped
        if outcome.status == "sent":
            report.sent += outcome.sent
            report.sent_batches += 1
        elif outcome.status == "failed":
            report.failed.append(f"batch {batch.number}: {outcome.error}")
        elif outcome.status == "uncertain":
            report.uncertain.append(batch.number)
        done += 1
        if progress:
            progress(done, total)
    finish_edition(session, edition.id)
    report.uncertain = sorted(
        b.number for b in session.scalars(
            select(DeliveryBatch).where(DeliveryBatch.edition_id == edition.id, DeliveryBatch.status == "uncertain")
        )
    )
    report.in_flight = int(session.scalar(
        select(func.count()).where(DeliveryBatch.edition_id == edition.id, DeliveryBatch.status == "sending")
    ) or 0)
    session.commit()
    return report


def delivery_counts(session: Session, edition_id: int) -> dict[str, int]:
    """Batches per status for one edition (for status and show)."""
    rows = session.execute(
        select(DeliveryBatch.status, func.count())
        .where(DeliveryBatch.edition_id == edition_id)
        .group_by(DeliveryBatch.status)
    ).all()
    return {status: int(count) for status, count in rows}


def delivery_problems(session: Session, edition_id: int) -> list[tuple[int, str, str]]:
    """(batch number, status, reason) of the edition's failed and uncertain batches."""
    rows = session.execute(
        select(DeliveryBatch.number, DeliveryBatch.status, DeliveryBatch.last_error)
        .where(DeliveryBatch.edition_id == edition_id, DeliveryBatch.status.in_(("failed", "uncertain")))
        .order_by(DeliveryBatch.number)
    ).all()
    return [(number, status, error or "") for number, status, error in rows]
