"""What a mail backend is given: one batch of recipients of one rendered edition.

The body is shared: the HTML and text carry the slots of :data:`newsletter.render.view.SLOTS`,
and each :class:`Recipient` brings the values for them and its own headers. Outbox and SMTP
fill the slots locally per message; SendGrid sends them as substitutions in one request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


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


@dataclass
class BatchResult:
    provider_message_id: str | None = None
    sent: int = 0
    refused: dict[str, str] = field(default_factory=dict)  # address -> server's reason (SMTP)


class MailBackend(Protocol):
    """Sends batches. Raises DeliveryError (or a subclass) when the batch was not sent."""

    name: str

    def send_batch(self, batch: MailBatch) -> BatchResult: ...

    def close(self) -> None: ...
