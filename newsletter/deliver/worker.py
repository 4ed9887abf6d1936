"""The delivery worker: sends the pending batches of every edition that is sending.

Any number of workers, on any number of machines, may share one PostgreSQL database: each
claims one batch at a time and renews its claim while it sends it (see
:mod:`newsletter.deliver.batches` for the claim, the lease and the uncertainty rule). On SQLite
one worker is the supported setup (writers are serialised; the conditional claim still keeps two
from taking the same batch).

A worker renders each edition once (reading ``lists.toml`` again for it: a list added or changed
since the worker started is known), re-checks consent right before each batch, and stops
when asked (``stop`` is set, by SIGTERM/SIGINT in the CLI) after the batch in hand. A batch
that failed for a reason that may pass comes back when its ``not_before`` is reached, to this
worker or another. With ``once`` it stops when no batch is pending any more (it waits for
those put back for a later attempt).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from newsletter.audience.lists import ListConfig, find_list, load_lists
from newsletter.config import Config
from newsletter.deliver.batches import CLAIM_LEASE, claim_batch, mark_abandoned, next_attempt, worker_id
from newsletter.deliver.journal import journals
from newsletter.deliver.message import MailBackend
from newsletter.deliver.send import PreparedEdition, finish_edition, prepare_edition, send_claimed
from newsletter.editions import get_edition
from newsletter.errors import ConfigError, NewsletterError
from newsletter.store.db import Store
from newsletter.store.models import DeliveryBatch, utcnow

log = logging.getLogger(__name__)


@dataclass
class WorkerReport:
    worker: str
    batches: int = 0  # batches this worker sent
    sent: int = 0  # messages handed to the backend
    dropped: int = 0  # recipients whose consent ended after planning
    failed: list[str] = field(default_factory=list)  # "edition E batch N: reason"
    retries: int = 0  # batches (or parts of them) put back for a later attempt
    uncertain: list[str] = field(default_factory=list)  # "edition E batch N", found or made
    editions_sent: list[int] = field(default_factory=list)


Notify = Callable[[str], None]


def run_worker(
    store: Store,
    config: Config,
    backend: MailBackend,
    secret: str,
    *,
    once: bool = False,
    poll_seconds: float = 1.0,
    stop: threading.Event | None = None,
    lists: list[ListConfig] | None = None,
    worker: str | None = None,
    lease: timedelta = CLAIM_LEASE,
    notify: Notify | None = None,
) -> WorkerReport:
    """Claim and send pending batches until STOP is set (or, with ONCE, none is left).

    DeliveryAuthError (the service refuses our credentials) puts the batch back and is raised.
    """
    stop = stop or threading.Event()
    owner = worker or worker_id()
    list_of = _ListReader(config, lists)
    report = WorkerReport(owner)
    prepared: dict[int, PreparedEdition] = {}

    def abandoned(session) -> None:
        for batch in mark_abandoned(session, lease=lease):
            label = f"edition {batch.edition_id} batch {batch.number}"
            report.uncertain.append(label)
            if notify:
                notify(f"{label} is uncertain: {batch.last_error}")

    with store.session() as session:
        abandoned(session)
    while not stop.is_set():
        with store.session() as session:
            batch = claim_batch(session, owner, journaled=journals(backend))
            if batch is not None:
                _send_one(
                    session, config, backend, secret, owner, list_of, prepared, batch, report,
                    notify, lease,
                )
                continue
            abandoned(session)  # a worker may have died since we last looked
            due = next_attempt(session)
        if once and due is None:
            break
        # look again at the poll interval, or sooner when a batch put back becomes due
        wait = poll_seconds if due is None else (due - utcnow()).total_seconds()
        stop.wait(min(poll_seconds, max(wait, 0.05)))
    return report


class _ListReader:
    """The lists given, or else ``lists.toml`` read again for each edition the worker prepares:
    a list added or changed since a long-running worker started is known to it. A file that
    cannot be read right then (being edited) leaves the lists read before, with a warning."""

    def __init__(self, config: Config, given: list[ListConfig] | None) -> None:
        self.path = config.folder(config.paths.subscribers) / "lists.toml"
        self.reload = given is None
        self.lists = load_lists(self.path) if given is None else given

    def __call__(self, slug: str) -> ListConfig:
        if self.reload:
            try:
                self.lists = load_lists(self.path)
            except ConfigError as exc:
                log.warning("%s; the lists read before are used", exc)
        return find_list(self.lists, slug)


def _send_one(
    session, config: Config, backend: MailBackend, secret: str, owner: str,
    list_of: Callable[[str], ListConfig], prepared: dict[int, PreparedEdition],
    batch: DeliveryBatch, report: WorkerReport, notify: Notify | None,
    lease: timedelta = CLAIM_LEASE,
) -> None:
    label = f"edition {batch.edition_id} batch {batch.number}"
    job = prepared.get(batch.edition_id)
    if job is None:
        try:
            edition = get_edition(session, batch.edition_id)
            job = prepare_edition(config, list_of(edition.mailing_list.slug), edition, backend)
        except NewsletterError as exc:
            # Nothing went out: the batch fails with the reason, the worker goes on.
            batch.status, batch.last_error, batch.updated_at = "failed", f"not sent: {exc}", utcnow()
            session.commit()
            report.failed.append(f"{label}: not sent: {exc}")
            if notify:
                notify(f"{label} failed: not sent: {exc}")
            return
        prepared[batch.edition_id] = job
    outcome = send_claimed(session, config, job, batch, backend, secret, owner, lease=lease)
    report.dropped += outcome.dropped
    report.sent += outcome.sent
    if outcome.status == "sent":
        report.batches += 1
    elif outcome.status == "failed":
        report.failed.append(f"{label}: {outcome.error}")
    elif outcome.status == "uncertain":
        report.uncertain.append(label)
    report.retries += (outcome.status == "retrying") + sum(s == "retrying" for _, s in outcome.moved)
    for number, status in outcome.moved:
        if status == "failed":
            report.failed.append(f"edition {batch.edition_id} batch {number}: from batch {batch.number}")
        elif status == "uncertain":
            report.uncertain.append(f"edition {batch.edition_id} batch {number}")
    if notify:
        when = f" (next attempt after {outcome.not_before:%H:%M:%S} UTC)" if outcome.not_before else ""
        moved = "".join(f"; batch {number} {status}" for number, status in outcome.moved)
        notify(f"{label}: {outcome.status}{when}" + (f" ({outcome.sent} messages)" if outcome.sent else "")
               + (f": {outcome.error}" if outcome.error else "") + moved)
    if finish_edition(session, batch.edition_id):
        report.editions_sent.append(batch.edition_id)
        prepared.pop(batch.edition_id, None)
        if notify:
            notify(f"edition {batch.edition_id} is sent")
