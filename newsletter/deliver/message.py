"""What a mail backend is given, what it gives back, and what it raises.

The body is shared: the HTML and text carry the slots of :data:`newsletter.render.view.SLOTS`,
and each :class:`Recipient` brings the values for them and its own headers. Outbox and SMTP
fill the slots locally per message; SendGrid sends them as substitutions in one request.

A backend answers each batch with a :class:`BatchResult`, which may settle recipients one by
one (SMTP does: accepted, refused for good, deferred, uncertain), or raises::

    DeliveryError                 nothing of the batch (or of its rest) can go as it is: fix, resend
    ├── DeliveryAuthError         the service refused our credentials: stop the whole send
    ├── PartialDeliveryError      the batch stopped part way for good; ``partial`` says what went
    ├── RetryableDeliveryError    the service did not take the batch (or its rest, ``partial``) for
    │                             a reason that may pass (429, 5xx, refused connection, SMTP 4xx):
    │                             the ledger tries it again later
    └── UncertainDeliveryError    the batch may have gone out: never resent on its own

The ledger (:mod:`newsletter.deliver.send`) turns these into batch states.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit

from newsletter.audience.lists import ListConfig
from newsletter.errors import DeliveryError

# The edition id of a mail that belongs to no edition (a sign-up confirmation, an editors'
# notice, a test send): the outbox writes it to edition-0.mbox, provider events map to no list.
NO_EDITION = 0


@dataclass
class Recipient:
    email: str
    name: str
    unsubscribe_url: str  # https URL with the recipient's signed token (RFC 8058 target)
    subscriber_id: int
    headers: dict[str, str] = field(default_factory=dict)  # List-Unsubscribe, ... per recipient


@dataclass
class MailBatch:
    """One provider call's worth of mail: at most 1,000 recipients, no address twice."""

    edition_id: int
    batch_id: int
    list_slug: str
    subject: str
    html: str  # with slots
    text: str  # with slots
    from_name: str
    from_address: str
    reply_to: str
    headers: dict[str, str]  # shared: List-Id, ...
    recipients: list[Recipient]
    message_id_domain: str = "newsletter.invalid"
    list_name: str = ""  # the List-Id phrase ("Revue de presse"); empty means the slug alone
    # Given by the ledger to a backend that sends message by message (``journals = True``).
    journal: Journal | None = None


class Journal(Protocol):
    """The ledger's record of a batch sent message by message (see
    :class:`newsletter.deliver.journal.BatchJournal`)."""

    def before(self, recipient: Recipient) -> bool:
        """Record, durably, that RECIPIENT's message is about to be handed over; False when the
        reader's consent ended meanwhile (skip the message). Raises when the batch is no longer
        this sender's: nothing more of it may go."""
        ...

    def after(self, recipient: Recipient, outcome: str, why: str) -> None:
        """What became of RECIPIENT's message: sent, refused, deferred or uncertain."""
        ...

    def pause(self, recipient: Recipient, why: str) -> None:
        """Record, durably, that RECIPIENT's message is out of hand: the server deferred it
        (WHY) and it waits for another try."""
        ...

    def resume(self, recipient: Recipient) -> bool:
        """As :meth:`before`, for a message that waited after :meth:`pause`."""
        ...


def message_id_domain(base_url: str) -> str:
    """The right-hand side of our Message-IDs: the web app's host name."""
    return urlsplit(base_url).hostname or MailBatch.message_id_domain


def single_mail(
    list_config: ListConfig,
    base_url: str,
    *,
    subject: str,
    html: str,
    text: str,
    recipients: list[Recipient],
    reply_to: str = "",
    headers: dict[str, str] | None = None,
) -> MailBatch:
    """A mail from LIST_CONFIG's sender that is no edition's delivery (:data:`NO_EDITION`)."""
    return MailBatch(
        edition_id=NO_EDITION,
        batch_id=0,
        list_slug=list_config.slug,
        subject=subject,
        html=html,
        text=text,
        from_name=list_config.from_name,
        from_address=list_config.from_address,
        reply_to=reply_to,
        headers=headers or {},
        recipients=recipients,
        message_id_domain=message_id_domain(base_url),
        list_name=list_config.name,
    )


@dataclass
class BatchResult:
    """What one call did. Recipients in none of the three maps were sent (``sent`` of them).

    ``deferred`` recipients were not sent (a temporary refusal, or the call stopped before
    them): the ledger tries them again later. ``uncertain`` ones may have gone out (the
    connection was lost after the message was handed over): never resent on their own.
    """

    provider_message_id: str | None = None
    sent: int = 0
    refused: dict[str, str] = field(default_factory=dict)  # address -> reason, for good (SMTP 5xx)
    deferred: dict[str, str] = field(default_factory=dict)  # address -> why not sent now
    uncertain: dict[str, str] = field(default_factory=dict)  # address -> what happened
    skipped: list[str] = field(default_factory=list)  # consent ended before their turn (journal)

    @property
    def settled_some(self) -> bool:
        """True when part of the batch has an outcome of its own (sent, refused, uncertain or
        skipped)."""
        return bool(self.sent or self.refused or self.uncertain or self.skipped)


class RetryableDeliveryError(DeliveryError):
    """The service did not take the batch, or the rest of it: it may be sent again later.

    ``retry_after``: seconds the service asked us to wait, if it said. ``partial``: when part of
    the batch went out first, what did (its ``deferred`` are the recipients to try again).
    """

    def __init__(
        self, message: str, *, status: int | None = None, retry_after: float | None = None,
        partial: BatchResult | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after
        self.partial = partial


class PartialDeliveryError(DeliveryError):
    """The batch stopped part way for a reason that will not pass by itself (a refused sender).

    ``partial`` says what went out; its ``deferred`` recipients were not sent."""

    def __init__(self, message: str, *, partial: BatchResult) -> None:
        super().__init__(message)
        self.partial = partial


class MailBackend(Protocol):
    """Sends batches. Raises DeliveryError (or a subclass) when the batch was not sent."""

    name: str

    def send_batch(self, batch: MailBatch) -> BatchResult: ...

    def close(self) -> None: ...
