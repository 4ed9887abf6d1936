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
- lease: while it sends a batch, its owner renews the claim (``claimed_at`` moves to now) every
  third of :data:`CLAIM_LEASE` from a thread with its own session (:class:`ClaimRenewer`), since
  one provider call may last as long as the batch (SMTP sends up to 1,000 messages one by one,
  with its rate limit and retry waits); a renewal only lands while the same owner still holds
  the batch ``sending``. Claims and leases are timed by the database's clock on PostgreSQL
  (:func:`ledger_now`): workers on several hosts need not agree on the time;
- uncertainty rule (:func:`mark_abandoned`, run when a worker starts, whenever it finds nothing
  to do, when ``editions send`` starts, and by ``status`` and ``editions show`` before they
  report): a ``sending`` batch is ``uncertain`` when its owner
  is unknown (no ``claimed_by``), when its owner names this host and that pid is no longer alive,
  or when its claim was not renewed for :data:`CLAIM_LEASE`, whoever holds it (the owner is
  gone, hung or cut off from the database). A batch held by a live worker is left alone. An
  uncertain batch may or may not have gone out: it is reported and never resent on its own
  (``editions send ID --resend-uncertain`` puts it back, on an editor's word). The pid test
  needs worker host names unique per pid namespace (true of separate machines, containers and
  pods); a reused pid only delays the verdict until the lease runs out. A worker that lost its
  claim records nothing (:func:`finish_batch` checks ``claimed_by``);
- journaled batches (SMTP, message by message: :mod:`newsletter.deliver.journal`): instead of
  the whole batch, only the messages in hand when the sender stopped are ``uncertain``; those
  accepted or refused stay in the batch (``sent``), those never started go to a new ``pending``
  batch, sent by the next worker (:func:`settle_journal`). A sender found abandoned while alive
  learns it before its next message and sends nothing more of the batch, and records nothing
  over it (a settled batch is nobody's claim).

A batch the provider refuses for good is ``failed``; running ``editions send`` again retries the
edition's failed batches. Sending a sent edition again sends nothing more.

A batch that failed for a reason that may pass (429, 5xx, the server unreachable or busy: the
backend's :class:`~newsletter.deliver.message.RetryableDeliveryError`) goes back to ``pending``
with ``not_before`` set (:mod:`newsletter.deliver.outcomes`): no worker claims it before then
(:func:`claim_batch`; :func:`next_attempt` tells a waiting sender when to look). The wait doubles
at each attempt (``delivery.batch_retry_backoff``, jitter of a quarter either way, at most
:data:`MAX_RETRY_WAIT`; a reset time given by the service wins); after
``delivery.batch_max_attempts`` attempts the batch is ``failed`` with the last reason. A pending
batch with ``not_before`` set is reported as ``retrying``.

When only part of a batch went out (SMTP settles each recipient: accepted, refused, deferred,
or uncertain when the connection was lost after the message was handed over),
:func:`split_batch` keeps the settled recipients in the batch (``sent``) and moves the others
to new batches of the same edition, in the same transaction: the deferred ones ``pending``
(retried as above, the attempts counted on) or ``failed``, the uncertain ones ``uncertain``.
Nobody is mailed twice and every recipient stays in exactly one batch.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, and_, case, delete, func, or_, select, update
from sqlalchemy.orm import Session

from newsletter.deliver.bounces import mark_bounced
from newsletter.deliver.journal import IN_HAND
from newsletter.store.models import (
    DeliveryBatch,
    Edition,
    JournalEntry,
    Membership,
    Subscriber,
    utcnow,
)

log = logging.getLogger(__name__)

# A claim not renewed for this long has lost its worker, wherever it ran. The worker renews its
# claim every third of it while it sends (ClaimRenewer), however long the batch takes.
CLAIM_LEASE = timedelta(minutes=10)

INTERRUPTED = "interrupted during the provider call: may or may not have been sent"
RESENT = "resent on an editor's request"
MAX_RETRY_WAIT = timedelta(hours=1)


def ledger_now(session: Session) -> datetime:
    """Now, for claims and leases: the database's clock on PostgreSQL, which workers on several
    hosts share (a host whose clock ran ahead would judge every other host's claim expired);
    this process's on SQLite, which is one host's."""
    if session.get_bind().dialect.name == "postgresql":
        return session.scalar(select(func.clock_timestamp())).astimezone(UTC)
    return utcnow()


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
    now = now or ledger_now(session)
    host = socket.gethostname()
    query = select(DeliveryBatch).where(DeliveryBatch.status == "sending")
    if edition_id is not None:
        query = query.where(DeliveryBatch.edition_id == edition_id)
    # A row another transaction holds is being claimed or finished right now: not abandoned.
    # Read afresh: a batch this session loaded before may have been renewed since.
    batches = session.scalars(
        query.order_by(DeliveryBatch.id).with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    ).all()
    marked: list[DeliveryBatch] = []
    refusals: list[tuple[int, list[tuple[int, str]]]] = []
    for batch in batches:
        if batch.claimed_by is None:
            reason = INTERRUPTED
        elif batch.claimed_at is None or batch.claimed_at < now - lease:
            reason = (
                f"{INTERRUPTED} (claimed by {batch.claimed_by}, not renewed for more than {lease})"
            )
        elif _owner_gone(batch.claimed_by, host):
            reason = f"{INTERRUPTED} (worker {batch.claimed_by} died)"
        else:
            continue
        settled = _abandon(session, batch, batch.claimed_by, reason, now, renewed_since=True)
        if settled is not None:
            marked += settled[0]
            refusals.append((batch.edition_id, settled[1]))
    session.commit()
    for edition_id, refused in refusals:
        mark_bounced(session, edition_id, refused)
    for batch in marked:
        session.refresh(batch)
    return marked


def abandon_batch(
    session: Session, batch: DeliveryBatch, owner: str, reason: str
) -> list[DeliveryBatch] | None:
    """Settle a batch OWNER stopped sending part way (interrupted): ``uncertain``, or, when it
    was journaled, what its journal says (:func:`settle_journal`); committed. The batches left
    uncertain, or None if the batch was no longer OWNER's and ``sending``."""
    settled = _abandon(session, batch, owner, reason, utcnow())
    session.commit()
    if settled is None:
        return None
    mark_bounced(session, batch.edition_id, settled[1])
    for uncertain in settled[0]:
        session.refresh(uncertain)
    return settled[0]


def _abandon(
    session: Session, batch: DeliveryBatch, owner: str | None, reason: str, now: datetime, *,
    renewed_since: bool = False,
) -> tuple[list[DeliveryBatch], list[tuple[int, str]]] | None:
    """Mark BATCH uncertain if OWNER still holds it ``sending`` (with RENEWED_SINCE, under a
    claim not renewed since BATCH was read), then settle its journal if it has one; no commit.
    The batches left uncertain and the journal's refusals, or None when BATCH was not
    abandoned."""
    same_claim = [
        DeliveryBatch.claimed_by.is_(None) if owner is None
        else DeliveryBatch.claimed_by == owner
    ]
    if renewed_since:  # SQLite has no row lock: a renewal committed since our read wins
        same_claim.append(
            DeliveryBatch.claimed_at.is_(None) if batch.claimed_at is None
            else DeliveryBatch.claimed_at == batch.claimed_at
        )
    done = session.execute(
        update(DeliveryBatch)
        .where(DeliveryBatch.id == batch.id, DeliveryBatch.status == "sending", *same_claim)
        .values(status="uncertain", last_error=reason, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:
        return None
    session.refresh(batch)  # as it is now, under our update
    if not batch.journaled or owner is None:
        log.warning(
            "batch %s of edition %s is uncertain: %s", batch.number, batch.edition_id, reason
        )
        return [batch], []
    return settle_journal(session, batch, owner, reason)


# What a journaled message's state makes of its reader when the sender stopped; the others
# (deferred, or never started) go again.
_SETTLED_AS = {"sent": "sent", "refused": "sent", IN_HAND: "uncertain", "uncertain": "uncertain"}


def settle_journal(
    session: Session, batch: DeliveryBatch, owner: str, reason: str
) -> tuple[list[DeliveryBatch], list[tuple[int, str]]]:
    """Split a journaled batch whose sender stopped (REASON) by what its journal says; no commit.

    The messages accepted or refused stay in BATCH (``sent``); those never started, or deferred,
    move to a ``pending`` batch, sent again by the next worker (nothing of them went); those in
    hand when the sender stopped move to an ``uncertain`` batch. The batches left uncertain and
    the refusals (subscriber id, reason), for :func:`~newsletter.deliver.bounces.mark_bounced`.
    """
    journal = {
        subscriber_id: (state, note or "")
        for subscriber_id, state, note in session.execute(
            select(JournalEntry.subscriber_id, JournalEntry.state, JournalEntry.note)
            .where(JournalEntry.batch_id == batch.id)
        )
    }
    by_state: dict[str, list[int]] = {}
    for subscriber_id in batch.recipients:
        state = journal.get(subscriber_id, ("", ""))[0]
        by_state.setdefault(_SETTLED_AS.get(state, "pending"), []).append(subscriber_id)
    refused = [(i, note) for i, (state, note) in journal.items() if state == "refused"]
    sent_count = sum(state == "sent" for state, _ in journal.values())
    emails = _emails(session, [*by_state.get("uncertain", []), *(i for i, _ in refused)])
    parts = []
    if by_state.get("uncertain"):
        in_hand = by_state["uncertain"]
        parts.append(Part(in_hand, "uncertain", last_error=(
            f"{reason}; {len(in_hand)} message(s) in hand: "
            + ", ".join(emails.get(i, f"subscriber {i}") for i in in_hand)
        )))  # fmt: skip
    if by_state.get("pending"):
        parts.append(Part(
            by_state["pending"], "pending",
            last_error="not handed over before its sender stopped: to be sent again",
            attempts=max(batch.attempts - 1, 0),  # a claim cut short is no attempt of theirs
        ))  # fmt: skip
    if by_state.get("sent"):
        note = "; ".join(f"{emails.get(i, i)}: {why}" for i, why in refused)
        keep = Part(
            by_state["sent"], "sent", sent_count=sent_count,
            last_error=f"{len(refused)} refused: {note}" if refused else None,
        )
    else:
        keep, parts = parts[0], parts[1:]
    numbers = _split(session, batch, owner, keep, parts) or []
    # Settled: no longer OWNER's, should it be alive (its lease judged over). Its own view of
    # the batch is out of date now: what it would record (finish_batch, split_batch) must miss.
    session.execute(
        update(DeliveryBatch)
        .where(DeliveryBatch.edition_id == batch.edition_id,
               DeliveryBatch.number.in_([batch.number, *numbers]))
        .values(claimed_by=None)
        .execution_options(synchronize_session=False)
    )
    log.warning(
        "batch %s of edition %s stopped part way (%s): %d accepted or refused, %d to send "
        "again, %d uncertain", batch.number, batch.edition_id, reason,
        *(len(by_state.get(group, [])) for group in ("sent", "pending", "uncertain")),
    )
    uncertain = [
        number for number, part in zip([batch.number, *numbers], [keep, *parts], strict=True)
        if part.status == "uncertain"
    ]
    return list(session.scalars(
        select(DeliveryBatch).where(
            DeliveryBatch.edition_id == batch.edition_id, DeliveryBatch.number.in_(uncertain)
        )
    )), refused


def _emails(session: Session, ids: Sequence[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.execute(select(Subscriber.id, Subscriber.email).where(Subscriber.id.in_(ids)))
    return dict(rows.all())


def claim_batch(
    session: Session, owner: str, *, edition_id: int | None = None, journaled: bool = False
) -> DeliveryBatch | None:
    """Claim the first pending batch of a sending edition that is due (``not_before`` passed)
    for OWNER, committed; None if none.

    JOURNALED (the sender's backend journals each message, :mod:`newsletter.deliver.journal`)
    is recorded with the claim: a sender that dies before its first message leaves a batch
    whose readers all go again, not one wholly uncertain."""
    while True:
        now = ledger_now(session)
        query = (
            select(DeliveryBatch.id)
            .join(Edition, Edition.id == DeliveryBatch.edition_id)
            .where(
                DeliveryBatch.status == "pending", Edition.status == "sending",
                or_(DeliveryBatch.not_before.is_(None), DeliveryBatch.not_before <= now),
            )
        )
        if edition_id is not None:
            query = query.where(DeliveryBatch.edition_id == edition_id)
        batch_id = session.scalar(
            query.order_by(DeliveryBatch.id).limit(1).with_for_update(skip_locked=True, of=DeliveryBatch)
        )
        if batch_id is None:
            session.commit()
            return None
        claimed = session.execute(
            update(DeliveryBatch)
            .where(DeliveryBatch.id == batch_id, DeliveryBatch.status == "pending")
            .values(
                status="sending", claimed_by=owner, claimed_at=now, journaled=journaled,
                attempts=DeliveryBatch.attempts + 1, updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        session.commit()
        if claimed.rowcount == 1:
            return session.get(DeliveryBatch, batch_id, populate_existing=True)
        # SQLite: another worker claimed it between our SELECT and UPDATE; take the next one.


def renew_claim(
    session: Session, batch_id: int, owner: str, *, now: datetime | None = None
) -> bool:
    """Renew OWNER's claim on a batch it is sending (``claimed_at`` = NOW), committed; False
    when OWNER holds it no more (found uncertain, put back, finished or taken over)."""
    done = session.execute(
        update(DeliveryBatch)
        .where(
            DeliveryBatch.id == batch_id, DeliveryBatch.claimed_by == owner,
            DeliveryBatch.status == "sending",
        )
        .values(claimed_at=now or ledger_now(session))
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return done.rowcount == 1


class ClaimRenewer:
    """Renews OWNER's claim on batch BATCH_ID every LEASE / 3 (or EVERY seconds) from a daemon
    thread with its own session on ENGINE, while the ``with`` block sends the batch.

    ``lost`` is set once a renewal finds the batch no longer OWNER's; a renewal that fails (the
    database unreachable for a moment) is logged and tried again at the next tick.
    """

    def __init__(
        self, engine: Engine, batch_id: int, owner: str, lease: timedelta = CLAIM_LEASE, *,
        every: float | None = None,
    ) -> None:
        self.engine, self.batch_id, self.owner = engine, batch_id, owner
        self.every = lease.total_seconds() / 3 if every is None else every
        self.renewals = 0
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"renew-batch-{batch_id}", daemon=True
        )

    def __enter__(self) -> ClaimRenewer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                with Session(self.engine) as session:
                    kept = renew_claim(session, self.batch_id, self.owner)
            except Exception:  # noqa: BLE001 - the next tick tries again; the lease is long
                log.warning(
                    "could not renew the claim on batch id %s", self.batch_id, exc_info=True
                )
                continue
            if not kept:
                self.lost.set()
                log.warning(
                    "%s no longer holds batch id %s (found uncertain, put back or taken over)",
                    self.owner, self.batch_id,
                )
                return
            self.renewals += 1


def _requeue(session: Session, edition_id: int, status: str, note: str) -> list[int]:
    batches = session.scalars(
        select(DeliveryBatch)
        .where(DeliveryBatch.edition_id == edition_id, DeliveryBatch.status == status)
        .order_by(DeliveryBatch.number)
    ).all()
    for batch in batches:
        batch.status = "pending"
        batch.last_error = f"{note} (was {status}: {batch.last_error or 'no reason recorded'})"
        batch.claimed_by = batch.claimed_at = batch.not_before = None
        if status == "failed":
            batch.attempts = 0  # an editor's new try gets its own batch_max_attempts
    session.commit()
    return [b.number for b in batches]


def requeue_failed(session: Session, edition_id: int) -> list[int]:
    """Put the edition's failed batches back to pending (nothing of them was accepted)."""
    return _requeue(session, edition_id, "failed", "retried")


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


def finish_batch(session: Session, batch: DeliveryBatch, owner: str, **values: object) -> bool:
    """Record the outcome if OWNER still holds the batch; False when it was taken over."""
    done = session.execute(
        update(DeliveryBatch)
        .where(
            DeliveryBatch.id == batch.id, DeliveryBatch.claimed_by == owner,
            DeliveryBatch.status.in_(("sending", "uncertain")),
        )
        .values(updated_at=utcnow(), journaled=False, **values)
        .execution_options(synchronize_session=False)
    )
    if done.rowcount == 1:
        _clear_journal(session, batch.id)
    session.commit()
    session.refresh(batch)
    if done.rowcount != 1:
        log.warning("batch %s of edition %s was taken over while %s sent it", batch.number, batch.edition_id, owner)
    return done.rowcount == 1


def retry_wait(
    backoff: float, attempts: int, asked: float | None = None, *, jitter: float | None = None
) -> timedelta:
    """The wait before attempt ATTEMPTS + 1: BACKOFF doubled per attempt made, times JITTER
    (random in 0.75-1.25 unless given), at most MAX_RETRY_WAIT; at least ASKED (the service's
    reset time, in seconds), whatever the cap."""
    factor = random.uniform(0.75, 1.25) if jitter is None else jitter
    wait = min(timedelta(seconds=backoff * 2 ** max(0, attempts - 1) * factor), MAX_RETRY_WAIT)
    return max(wait, timedelta(seconds=asked or 0))


@dataclass
class Part:
    """Recipients of a batch that share one outcome, for :func:`split_batch`."""

    recipients: Sequence[int]  # subscriber ids
    status: str
    last_error: str | None = None
    not_before: datetime | None = None
    sent_count: int = 0
    provider_message_id: str | None = None
    attempts: int | None = None  # None: the batch's attempts, carried on


def split_batch(
    session: Session, batch: DeliveryBatch, owner: str, keep: Part, moved: Sequence[Part]
) -> list[int] | None:
    """Record KEEP in BATCH and move the MOVED parts to new batches of its edition, in one
    transaction, if OWNER still holds BATCH; the new batches' numbers, or None if taken over.

    The new batches follow the edition's last number (the edition's row is locked meanwhile on
    PostgreSQL; SQLite has one writer at a time) and carry BATCH's attempts on. KEEP's note
    says where the others went.
    """
    numbers = _split(session, batch, owner, keep, moved)
    if numbers is None:
        session.rollback()
        session.refresh(batch)
        log.warning("batch %s of edition %s was taken over while %s sent it", batch.number, batch.edition_id, owner)
        return None
    session.commit()
    session.refresh(batch)
    return numbers


def _split(
    session: Session, batch: DeliveryBatch, owner: str, keep: Part, moved: Sequence[Part]
) -> list[int] | None:
    """:func:`split_batch` without the commit; None (nothing done) if OWNER lost BATCH."""
    now = utcnow()
    done = session.execute(
        update(DeliveryBatch)
        .where(
            DeliveryBatch.id == batch.id, DeliveryBatch.claimed_by == owner,
            DeliveryBatch.status.in_(("sending", "uncertain")),
        )
        .values(updated_at=now, **_part_values(keep))
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:
        return None
    _clear_journal(session, batch.id)
    numbers: list[int] = []
    if moved:
        session.execute(select(Edition.id).where(Edition.id == batch.edition_id).with_for_update())
        last = session.scalar(select(func.max(DeliveryBatch.number)).where(DeliveryBatch.edition_id == batch.edition_id))
        numbers = list(range((last or 0) + 1, (last or 0) + 1 + len(moved)))
    for number, part in zip(numbers, moved, strict=True):
        values = {
            "claimed_by": owner, "claimed_at": batch.claimed_at, "attempts": batch.attempts,
            **_part_values(part),
        }
        session.add(DeliveryBatch(
            edition_id=batch.edition_id, number=number, created_at=now, **values
        ))
    if moved:
        where = "; ".join(
            f"{len(part.recipients)} moved to batch {number} ({_label(part.status)})"
            for number, part in zip(numbers, moved, strict=True)
        )
        session.execute(
            update(DeliveryBatch).where(DeliveryBatch.id == batch.id)
            .values(last_error="; ".join(filter(None, [keep.last_error, where])))
            .execution_options(synchronize_session=False)
        )
    session.flush()
    return numbers


def _clear_journal(session: Session, batch_id: int) -> None:
    """Forget BATCH_ID's journal: its outcome is recorded now (see newsletter.deliver.journal)."""
    session.execute(delete(JournalEntry).where(JournalEntry.batch_id == batch_id))


def _label(status: str) -> str:
    return "retrying" if status == "pending" else status


def _part_values(part: Part) -> dict[str, object]:
    ids = sorted(part.recipients)
    values: dict[str, object] = {
        "recipients": ids, "first_subscriber_id": ids[0], "last_subscriber_id": ids[-1],
        "status": part.status, "last_error": part.last_error, "not_before": part.not_before,
        "sent_count": part.sent_count, "provider_message_id": part.provider_message_id,
        "journaled": False,
    }
    if part.status == "pending":  # anyone's to claim
        values.update(claimed_by=None, claimed_at=None)
    if part.attempts is not None:
        values["attempts"] = part.attempts
    return values


def next_attempt(session: Session, *, edition_id: int | None = None) -> datetime | None:
    """When the next pending batch of a sending edition may be claimed (now, or a later
    ``not_before``), or None when no batch is pending."""
    query = (
        select(func.count(), func.count(DeliveryBatch.not_before), func.min(DeliveryBatch.not_before))
        .join(Edition, Edition.id == DeliveryBatch.edition_id)
        .where(DeliveryBatch.status == "pending", Edition.status == "sending")
    )
    if edition_id is not None:
        query = query.where(DeliveryBatch.edition_id == edition_id)
    pending, timed, earliest = session.execute(query).one()
    session.commit()
    if not pending:
        return None
    now = utcnow()
    if timed < pending or earliest is None:
        return now  # one is due now
    return max(earliest, now)


def delivery_counts(session: Session, edition_id: int) -> dict[str, int]:
    """Batches per status for one edition (for status and show); pending batches waiting for
    another attempt are counted as ``retrying``."""
    status = case(
        (and_(DeliveryBatch.status == "pending", DeliveryBatch.not_before.is_not(None)), "retrying"),
        else_=DeliveryBatch.status,
    )
    rows = session.execute(
        select(status, func.count())
        .where(DeliveryBatch.edition_id == edition_id)
        .group_by(status)
    ).all()
    return {name: int(count) for name, count in rows}


def delivery_problems(session: Session, edition_id: int) -> list[tuple[int, str, str]]:
    """(batch number, status, reason) of the edition's failed, uncertain and retrying batches;
    a retrying batch's reason starts with its next attempt time."""
    rows = session.execute(
        select(DeliveryBatch.number, DeliveryBatch.status, DeliveryBatch.last_error, DeliveryBatch.not_before)
        .where(
            DeliveryBatch.edition_id == edition_id,
            or_(
                DeliveryBatch.status.in_(("failed", "uncertain")),
                and_(DeliveryBatch.status == "pending", DeliveryBatch.not_before.is_not(None)),
            ),
        )
        .order_by(DeliveryBatch.number)
    ).all()
    problems = []
    for number, status, error, not_before in rows:
        if status == "pending":
            status, error = "retrying", f"next attempt after {not_before.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC: {error or ''}"
        problems.append((number, status, error or ""))
    return problems
