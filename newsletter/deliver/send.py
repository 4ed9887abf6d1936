"""Sending an approved edition through the delivery ledger, exactly once per recipient.

The first send plans the edition's DeliveryBatch rows: active members by ascending subscriber
id (keyset pagination, never the whole list in memory), at most ``delivery.batch_size`` each,
with the ids snapshotted so later list changes do not shift batches. Each batch is marked
``sending`` and committed *before* the provider call, then ``sent`` (or ``failed``) after it:
a batch still ``sending`` when a send starts was interrupted inside a provider call and is
marked ``uncertain`` — reported, never resent on its own. Sending again sends nothing more.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from sqlalchemy import func, select
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


@dataclass
class SendReport:
    edition_id: int
    planned: int = 0  # batches planned by this run
    sent_batches: int = 0
    sent: int = 0  # messages handed to the backend by this run
    already_sent: int = 0  # batches sent by an earlier run
    failed: list[str] = field(default_factory=list)
    uncertain: list[int] = field(default_factory=list)
    dropped: int = 0  # recipients whose consent ended after planning


Progress = Callable[[int, int], None]  # (batches done, batches in all)


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


def render_for_send(config: Config, list_config: ListConfig, edition: Edition) -> RenderedEdition:
    return render_edition(edition_view(config, list_config, edition), config.folder(config.paths.templates))


def _recipients(
    session: Session, config: Config, list_config: ListConfig, edition: Edition,
    batch: DeliveryBatch, secret: str,
) -> list[Recipient]:
    """The batch's recipients whose membership is still active, right now."""
    rows = session.execute(
        select(Subscriber.id, Subscriber.email, Subscriber.name)
        .join(Membership, Membership.subscriber_id == Subscriber.id)
        .where(
            Membership.list_id == edition.list_id,
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


def send_edition(
    session: Session,
    config: Config,
    list_config: ListConfig,
    edition_id: int,
    backend: MailBackend,
    secret: str,
    *,
    progress: Progress | None = None,
) -> SendReport:
    """Send an approved edition to its list's active members; see the module docstring."""
    edition = get_edition(session, edition_id)
    report = SendReport(edition.id)
    if edition.status in ("draft", "held", "cancelled"):
        hint = f": approve it first ('newsletter editions approve {edition.id}')" if edition.status == "draft" else ""
        raise EditionError(f"edition {edition.id} is {edition.status}, not approved{hint}")
    # Batches left 'sending' by an interrupted run may or may not have gone out.
    for batch in edition.batches:
        if batch.status == "sending":
            batch.status = "uncertain"
            batch.last_error = "interrupted during the provider call: may or may not have been sent"
    if edition.status == "approved":
        report.planned = plan_batches(session, edition, config.delivery.batch_size)
        edition.status = "sending"
    session.commit()

    rendered = render_for_send(config, list_config, edition)
    domain = urlsplit(config.web.base_url).hostname or "newsletter.invalid"
    todo = [b for b in edition.batches if b.status in ("pending", "failed")]
    report.already_sent = sum(1 for b in edition.batches if b.status == "sent")
    report.uncertain = [b.number for b in edition.batches if b.status == "uncertain"]
    if hasattr(backend, "write_html"):  # the outbox keeps the edition's HTML beside its mbox
        sample, _ = personalize(rendered, name="", unsubscribe_url=f"{config.web.base_url.rstrip('/')}/unsubscribe")
        backend.write_html(edition.id, sample)
    done = 0
    for batch in todo:
        recipients = _recipients(session, config, list_config, edition, batch, secret)
        report.dropped += len(batch.recipients) - len(recipients)
        batch.status, batch.attempts = "sending", batch.attempts + 1
        session.commit()
        mail = MailBatch(
            edition_id=edition.id, batch_id=batch.id, list_slug=list_config.slug,
            subject=rendered.subject, html=rendered.html, text=rendered.text,
            from_name=list_config.from_name, from_address=list_config.from_address,
            reply_to=list_config.reply_to or list_config.from_address,
            list_name=list_config.name, headers={},
            recipients=recipients, message_id_domain=domain,
        )
        try:
            result = backend.send_batch(mail) if recipients else None
        except DeliveryAuthError:
            batch.status, batch.last_error = "pending", "not sent: the mail service refused our credentials"
            session.commit()
            raise
        except UncertainDeliveryError as exc:
            batch.status, batch.last_error = "uncertain", str(exc)
            report.uncertain.append(batch.number)
        except DeliveryError as exc:
            batch.status, batch.last_error = "failed", str(exc)
            report.failed.append(f"batch {batch.number}: {exc}")
        else:
            refused = result.refused if result else {}
            batch.status = "sent"
            batch.last_error = (
                f"{len(refused)} refused: " + "; ".join(f"{a}: {r}" for a, r in refused.items())
                if refused else None
            )
            batch.sent_count = result.sent if result else 0
            batch.provider_message_id = result.provider_message_id if result else None
            report.sent += batch.sent_count
            report.sent_batches += 1
        session.commit()
        done += 1
        if progress:
            progress(done, len(todo))
    if all(b.status == "sent" for b in edition.batches):
        edition.status = "sent"
        edition.sent_at = edition.sent_at or utcnow()
    session.commit()
    return report


def delivery_counts(session: Session, edition_id: int) -> dict[str, int]:
    """Recipients per batch status for one edition (for status and show)."""
    rows = session.execute(
        select(DeliveryBatch.status, func.count(), func.sum(DeliveryBatch.sent_count))
        .where(DeliveryBatch.edition_id == edition_id)
        .group_by(DeliveryBatch.status)
    ).all()
    return {status: int(count) for status, count, _ in rows}
