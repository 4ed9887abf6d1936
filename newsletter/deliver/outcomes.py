"""What the ledger records after a provider call: a backend's answer turned into batch states.

    sent everyone (but refusals)      the batch is ``sent``, the refusals in its note
    RetryableDeliveryError            the batch waits for another attempt (``pending`` with
                                      ``not_before``), or is ``failed`` once its attempts are spent
    DeliveryError                     the batch is ``failed`` with the service's reasons
    part went, part did not           the batch keeps what went (``sent``); the deferred and the
    (deferred or uncertain recipients, uncertain recipients move to new batches: retried, failed or
    PartialDeliveryError, a partial   ``uncertain`` (:func:`newsletter.deliver.batches.split_batch`)
    RetryableDeliveryError)

A refusal saying the address does not exist marks the reader ``bounced`` on the edition's list
(:mod:`newsletter.deliver.bounces`).

Authentication errors, uncertain batches and interruptions are handled by the caller
(:func:`newsletter.deliver.send.send_claimed`): they concern the whole batch.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from newsletter.config import DeliveryConfig
from newsletter.deliver.batches import RESENT, Part, finish_batch, retry_wait, split_batch
from newsletter.deliver.bounces import mark_bounced
from newsletter.deliver.message import BatchResult, Recipient
from newsletter.store.models import DeliveryBatch, utcnow

# How many addresses a note names before it only counts the others.
NAMED = 5


@dataclass
class BatchOutcome:
    status: str  # of the claimed batch: sent, failed, uncertain, retrying, or lost (taken over)
    sent: int = 0
    dropped: int = 0
    error: str | None = None
    not_before: datetime | None = None  # when retrying
    moved: list[tuple[int, str]] = field(default_factory=list)  # (number, status) split off


def record_result(
    session: Session, delivery: DeliveryConfig, batch: DeliveryBatch, owner: str,
    recipients: list[Recipient], result: BatchResult, *, dropped: int = 0,
    stop: str | None = None, retryable: bool = True, retry_after: float | None = None,
) -> BatchOutcome:
    """Record what one call did with BATCH (sent to RECIPIENTS, the batch's readers still
    subscribed). STOP is why the call ended early, if it did; RETRYABLE whether the deferred
    recipients may be tried again, RETRY_AFTER seconds the service asked to wait."""
    notes = [batch.last_error] if batch.last_error and batch.last_error.startswith(RESENT) else []
    if result.refused:
        notes.append(f"{len(result.refused)} refused: {_named(result.refused.items())}")
    by_address = {r.email: r.subscriber_id for r in recipients}
    refused = [(by_address[a], why) for a, why in result.refused.items()]
    dropped += len(result.skipped)  # their consent ended during the call: not mailed
    if not (result.uncertain or result.deferred):  # the usual case: one update
        kept = finish_batch(
            session, batch, owner, status="sent", sent_count=result.sent,
            provider_message_id=result.provider_message_id, last_error="; ".join(notes) or None,
        )
        if kept:
            mark_bounced(session, batch.edition_id, refused)
        return BatchOutcome("sent" if kept else "lost", sent=result.sent, dropped=dropped)

    uncertain = [by_address[a] for a in result.uncertain]
    deferred = [by_address[a] for a in result.deferred]
    asked = set(by_address.values()) - {by_address[a] for a in result.skipped}
    settled = [i for i in asked if i not in {*uncertain, *deferred}]
    gone = [i for i in batch.recipients if i not in asked]  # consent ended: not mailed
    parts = []
    if uncertain:
        parts.append(Part(
            uncertain, "uncertain",
            last_error=f"may or may not have been delivered: {_named(result.uncertain.items())}",
        ))  # fmt: skip
    if deferred:
        why = stop or f"{len(result.deferred)} deferred: {_named(result.deferred.items())}"
        parts.append(_later(delivery, batch, deferred, why, retryable=retryable, retry_after=retry_after))
    if settled:
        keep = Part(
            [*settled, *gone], "sent", last_error="; ".join(notes) or None, sent_count=result.sent,
            provider_message_id=result.provider_message_id,
        )
    else:  # nothing of it went: the batch itself takes the first part (a whole-batch retry)
        keep, parts = parts[0], parts[1:]
        keep.recipients = [*keep.recipients, *gone]
    for part in parts:
        part.last_error = f"from batch {batch.number}: {part.last_error}"
    moved = split_batch(session, batch, owner, keep, parts)
    if moved is None:
        return BatchOutcome("lost", sent=result.sent, dropped=dropped)
    mark_bounced(session, batch.edition_id, refused)
    status = "retrying" if keep.status == "pending" else keep.status
    error = keep.last_error if status != "sent" else None
    return BatchOutcome(
        status, sent=result.sent, dropped=dropped, error=error, not_before=keep.not_before,
        moved=[(number, "retrying" if p.status == "pending" else p.status) for number, p in zip(moved, parts, strict=True)],
    )


def record_retryable(
    session: Session, delivery: DeliveryConfig, batch: DeliveryBatch, owner: str,
    recipients: list[Recipient], error: str, *, dropped: int = 0, retry_after: float | None = None,
) -> BatchOutcome:
    """Nothing of BATCH was taken, for a reason that may pass: another attempt later, or failed."""
    result = BatchResult(deferred={r.email: error for r in recipients})
    return record_result(
        session, delivery, batch, owner, recipients, result, dropped=dropped, stop=error,
        retry_after=retry_after,
    )


def _later(
    delivery: DeliveryConfig, batch: DeliveryBatch, ids: list[int], why: str, *,
    retryable: bool, retry_after: float | None,
) -> Part:
    """The part of BATCH not sent: pending for another attempt, or failed."""
    attempts, most = batch.attempts, delivery.batch_max_attempts
    if not retryable:
        return Part(ids, "failed", last_error=why)
    if attempts >= most:
        return Part(ids, "failed", last_error=f"gave up after {attempts} attempts: {why}")
    wait = retry_wait(delivery.batch_retry_backoff, attempts, retry_after)
    return Part(
        ids, "pending", not_before=utcnow() + wait,
        last_error=f"attempt {attempts} of {most} failed: {why}",
    )


def _named(items: Iterable[tuple[str, str]]) -> str:
    pairs = list(items)
    text = "; ".join(f"{address}: {why}" for address, why in pairs[:NAMED])
    return text + (f" (and {len(pairs) - NAMED} more)" if len(pairs) > NAMED else "")
