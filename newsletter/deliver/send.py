"""Sending an edition's batches: render once, re-check consent, hand each batch to the backend.

The batches and their states (planning, claims, the uncertainty rule, retries) are in
:mod:`newsletter.deliver.batches`, what a backend's answer makes of a batch in
:mod:`newsletter.deliver.outcomes`; this module does the sending, for ``editions send`` (in
process) and for ``newsletter worker``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from newsletter.audience.lists import ListConfig
from newsletter.config import Config
from newsletter.deliver.batches import (
    CLAIM_LEASE,
    INTERRUPTED,
    ClaimRenewer,
    abandon_batch,
    claim_batch,
    delivery_counts,
    delivery_problems,
    finish_batch,
    mark_abandoned,
    next_attempt,
    plan_batches,
    requeue_failed,
    requeue_uncertain,
    worker_id,
)
from newsletter.deliver.journal import BatchJournal, ClaimLost, journals
from newsletter.deliver.message import (
    BatchResult,
    MailBackend,
    MailBatch,
    PartialDeliveryError,
    Recipient,
    RetryableDeliveryError,
    message_id_domain,
)
from newsletter.deliver.outcomes import BatchOutcome, record_result, record_retryable
from newsletter.editions import edition_view, get_edition
from newsletter.errors import DeliveryAuthError, DeliveryError, EditionError, UncertainDeliveryError
from newsletter.render import render_edition
from newsletter.render.view import RenderedEdition, personalize
from newsletter.store.models import DeliveryBatch, Edition, Membership, Subscriber, utcnow
from newsletter.tokens import list_unsubscribe_headers, make_unsubscribe_token, unsubscribe_url

log = logging.getLogger(__name__)

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
    retries: int = 0  # batches (or parts) put back for a later attempt by this run
    retrying: list[str] = field(default_factory=list)  # left waiting: "batch N: next after T: why"


@dataclass
class PreparedEdition:
    """What every batch of one edition shares: rendered once per edition and process."""

    edition_id: int
    list_config: ListConfig
    rendered: RenderedEdition
    domain: str


Progress = Callable[[int, int], None]  # (batches done, batches in all)


def start_sending(session: Session, config: Config, edition: Edition) -> int:
    """Plan an approved edition's batches and mark it sending (committed); batches planned now."""
    if edition.status in ("draft", "held", "cancelled"):
        hint = (
            f": approve it first ('newsletter editions approve {edition.id}'), then run "
            f"'newsletter editions send {edition.id}' again"
            if edition.status in ("draft", "held") else ""
        )
        raise EditionError(
            f"edition {edition.id} is {edition.status}, not approved{hint}",
            code="send-not-approved", status=edition.status,
        )
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


CONFIRMED = "sent: the provider's events show it accepted the batch"


def confirm_sent(session: Session, batches: dict[int, int]) -> list[tuple[int, int]]:
    """Mark ``sent`` the uncertain batches the provider's own events show it accepted (BATCHES:
    batch id -> edition id, as the events' custom_args name them), committed; their editions
    are sent once every batch is. The (edition id, batch number) confirmed.

    Only an ``uncertain`` batch changes: one an editor already put back to be sent again is
    past helping. Its ``sent_count`` is its planned recipients (the request's own count was
    not recorded)."""
    uncertain = session.scalars(
        select(DeliveryBatch)
        .where(DeliveryBatch.id.in_(list(batches)), DeliveryBatch.status == "uncertain")
        .order_by(DeliveryBatch.id)
        .with_for_update()
    ).all() if batches else []
    confirmed = []
    for batch in uncertain:
        if batches[batch.id] != batch.edition_id:
            continue  # not this batch's own event
        batch.status, batch.sent_count = "sent", len(batch.recipients)
        batch.last_error = f"{CONFIRMED} (was uncertain: {batch.last_error or 'no reason recorded'})"
        batch.updated_at = utcnow()
        log.info("batch %s of edition %s: %s", batch.number, batch.edition_id, CONFIRMED)
        confirmed.append((batch.edition_id, batch.number))
    session.commit()
    for edition_id in sorted({edition_id for edition_id, _ in confirmed}):
        finish_edition(session, edition_id)
    return confirmed


def sample_unsubscribe_url(config: Config) -> str:
    """The unsubscribe link of a sample (the outbox's HTML copy, a preview, a test): no token."""
    return f"{config.web.base_url.rstrip('/')}/unsubscribe"


def render_for_send(config: Config, list_config: ListConfig, edition: Edition) -> RenderedEdition:
    return render_edition(edition_view(config, list_config, edition), config.folder(config.paths.templates))


def prepare_edition(
    config: Config, list_config: ListConfig, edition: Edition, backend: MailBackend
) -> PreparedEdition:
    """Render EDITION for sending; the outbox also keeps its HTML beside its mbox."""
    rendered = render_for_send(config, list_config, edition)
    if hasattr(backend, "write_html"):
        sample, _ = personalize(rendered, name="", unsubscribe_url=sample_unsubscribe_url(config))
        backend.write_html(edition.id, sample)
    return PreparedEdition(edition.id, list_config, rendered, message_id_domain(config.web.base_url))


def _recipients(
    session: Session, config: Config, list_config: ListConfig, list_id: int,
    batch: DeliveryBatch, secret: str,
) -> list[Recipient]:
    """The batch's recipients whose membership is still active, right now.

    A batch is a keyset range of subscriber ids, so the query reads that range of the
    (list, status, subscriber) index and the snapshot filters it: one index range scan
    whatever the planner knows of the tables (an IN list of 1,000 ids on freshly filled
    PostgreSQL tables could get a plan that took minutes).
    """
    snapshot = set(batch.recipients)
    rows = session.execute(
        select(Subscriber.id, Subscriber.email, Subscriber.name)
        .join(Membership, Membership.subscriber_id == Subscriber.id)
        .where(
            Membership.list_id == list_id,
            Membership.status == "active",
            Membership.subscriber_id.between(batch.first_subscriber_id, batch.last_subscriber_id),
        )
        .order_by(Membership.subscriber_id)
    ).all()
    recipients = []
    for subscriber_id, email, name in rows:
        if subscriber_id not in snapshot:
            continue  # joined the list after the batch was planned: a later send's reader
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


def send_claimed(
    session: Session, config: Config, prepared: PreparedEdition, batch: DeliveryBatch,
    backend: MailBackend, secret: str, owner: str, *, lease: timedelta = CLAIM_LEASE,
) -> BatchOutcome:
    """Send a batch OWNER has claimed and record the outcome (consent checked right now).

    The claim is renewed every LEASE / 3 while the backend sends (:class:`ClaimRenewer`): a
    batch that takes longer than the lease is still its owner's, not abandoned.

    DeliveryAuthError puts the batch back to pending and is raised: stop sending. A failure
    that may pass puts the batch (or the part not sent) back for a later attempt. Anything
    else that interrupts the provider call leaves the batch uncertain.
    """
    list_id = session.scalar(select(Edition.list_id).where(Edition.id == batch.edition_id))
    assert list_id is not None
    recipients = _recipients(session, config, prepared.list_config, list_id, batch, secret)
    journal = None
    if journals(backend) and recipients:
        journal = _start_journal(session, batch, owner, list_id)
    session.commit()  # end the read transaction: no lock is held across the provider call
    dropped = len(batch.recipients) - len(recipients)
    rendered, list_config = prepared.rendered, prepared.list_config
    mail = MailBatch(
        edition_id=batch.edition_id, batch_id=batch.id, list_slug=list_config.slug,
        subject=rendered.subject, html=rendered.html, text=rendered.text,
        from_name=list_config.from_name, from_address=list_config.from_address,
        reply_to=list_config.reply_to or list_config.from_address,
        list_name=list_config.name, headers={},
        recipients=recipients, message_id_domain=prepared.domain, journal=journal,
    )
    delivery = config.delivery
    try:
        with ClaimRenewer(session.get_bind(), batch.id, owner, lease), journal or nullcontext():
            result = backend.send_batch(mail) if recipients else BatchResult()
    except ClaimLost as exc:  # found abandoned while it was sent: its journal settled it
        log.warning("%s", exc)
        session.rollback()
        return BatchOutcome("lost", dropped=dropped, error=str(exc))
    except DeliveryAuthError:
        finish_batch(session, batch, owner, status="pending", claimed_by=None, claimed_at=None,
                     not_before=None, last_error="not sent: the mail service refused our credentials")
        raise
    except UncertainDeliveryError as exc:
        finish_batch(session, batch, owner, status="uncertain", last_error=str(exc))
        return BatchOutcome("uncertain", dropped=dropped, error=str(exc))
    except RetryableDeliveryError as exc:
        if exc.partial is not None:
            return record_result(
                session, delivery, batch, owner, recipients, exc.partial, dropped=dropped,
                stop=str(exc), retry_after=exc.retry_after,
            )
        return record_retryable(
            session, delivery, batch, owner, recipients, str(exc), dropped=dropped,
            retry_after=exc.retry_after,
        )
    except PartialDeliveryError as exc:
        return record_result(
            session, delivery, batch, owner, recipients, exc.partial, dropped=dropped,
            stop=str(exc), retryable=False,
        )
    except DeliveryError as exc:
        status = "failed" if finish_batch(session, batch, owner, status="failed", last_error=str(exc)) else "lost"
        return BatchOutcome(status, dropped=dropped, error=str(exc))
    except BaseException:
        # Interrupted inside the call (Ctrl-C, a bug): it may have gone out, all of it, or, if
        # it was journaled, the messages in hand. Best effort: if this fails too, the next
        # worker's mark_abandoned finds the batch.
        try:
            session.rollback()
            if journal is not None:
                journal.flush()
            abandon_batch(session, batch, owner, INTERRUPTED)
        except Exception:
            log.exception("could not mark batch %s uncertain", batch.id)
        raise
    return record_result(session, delivery, batch, owner, recipients, result, dropped=dropped)


def _start_journal(
    session: Session, batch: DeliveryBatch, owner: str, list_id: int
) -> BatchJournal:
    """Open BATCH's journal; marked journaled (in the caller's transaction) if its claim did not
    say so already (claim_batch records it when told the backend journals)."""
    if not batch.journaled:
        session.execute(
            update(DeliveryBatch)
            .where(DeliveryBatch.id == batch.id, DeliveryBatch.claimed_by == owner)
            .values(journaled=True)
            .execution_options(synchronize_session=False)
        )
    return BatchJournal(session.get_bind(), batch.id, owner, list_id)


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
    wait_for_retries: bool = True,
    sleep: Callable[[float], object] = time.sleep,
) -> SendReport:
    """Plan (once) and send an approved edition in this process; see the module docstring.

    Batches held by live workers are left to them (counted in ``in_flight``); failed batches
    are retried; uncertain ones only with RESEND_UNCERTAIN. A batch put back for a later
    attempt is waited for (SLEEP) and sent when due, unless WAIT_FOR_RETRIES is false: it is
    then left pending for ``newsletter worker`` or the next send (``retrying`` in the report).
    """
    owner = owner or worker_id()
    edition = get_edition(session, edition_id)
    report = SendReport(edition.id)
    report.planned = start_sending(session, config, edition)
    if resend_uncertain:  # those reported before: one found now is reported, not resent
        report.requeued = requeue_uncertain(session, edition.id)
    mark_abandoned(session, edition_id=edition.id)
    requeue_failed(session, edition.id)
    counts = delivery_counts(session, edition.id)
    report.already_sent = counts.get("sent", 0)
    total = counts.get("pending", 0) + counts.get("retrying", 0)
    prepared: PreparedEdition | None = None
    done = 0
    while True:
        batch = claim_batch(
            session, owner, edition_id=edition.id, journaled=journals(backend)
        )
        if batch is None:
            due = next_attempt(session, edition_id=edition.id) if wait_for_retries else None
            if due is None:
                break
            # a short pause at least: a due batch another process is claiming right now is theirs
            pause = max((due - utcnow()).total_seconds(), 0.05)
            log.info("edition %s: next batch attempt in %.1f s", edition.id, pause)
            sleep(pause)
            continue
        if prepared is None:
            prepared = prepare_edition(config, list_config, edition, backend)
        outcome = send_claimed(session, config, prepared, batch, backend, secret, owner)
        report.dropped += outcome.dropped
        report.sent += outcome.sent
        if outcome.status == "sent":
            report.sent_batches += 1
        report.retries += (outcome.status == "retrying") + sum(s == "retrying" for _, s in outcome.moved)
        done += 1
        if progress:
            progress(done, max(total, done))
    finish_edition(session, edition.id)
    for number, status, reason in delivery_problems(session, edition.id):
        if status == "failed":
            report.failed.append(f"batch {number}: {reason}")
        elif status == "uncertain":
            report.uncertain.append(number)
        else:
            report.retrying.append(f"batch {number}: {reason}")
    report.in_flight = int(session.scalar(
        select(func.count()).where(DeliveryBatch.edition_id == edition.id, DeliveryBatch.status == "sending")
    ) or 0)
    session.commit()
    return report
