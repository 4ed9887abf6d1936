"""Delivery: the mail backends behind one interface, chosen by ``delivery.backend``.

outbox    (default) one mbox file per edition in the outbox folder: nothing leaves the machine
smtp      smtplib, STARTTLS or SSL, pooled connections; password in NEWSLETTER_SMTP_PASSWORD
sendgrid  the v3 mail-send API, one request per batch; key in SENDGRID_API_KEY
"""

from __future__ import annotations

import os

from newsletter.config import Config
from newsletter.deliver.message import (
    BatchResult,
    MailBackend,
    MailBatch,
    PartialDeliveryError,
    Recipient,
    RetryableDeliveryError,
)
from newsletter.deliver.mime import build_message, build_messages
from newsletter.deliver.outbox import OutboxBackend
from newsletter.deliver.sendgrid import SendGridBackend
from newsletter.deliver.smtp import SMTPBackend
from newsletter.errors import ConfigError, UncertainDeliveryError

ENV_SMTP_PASSWORD = "NEWSLETTER_SMTP_PASSWORD"
ENV_SENDGRID_API_KEY = "SENDGRID_API_KEY"

__all__ = [
    "BatchResult",
    "MailBackend",
    "MailBatch",
    "OutboxBackend",
    "PartialDeliveryError",
    "Recipient",
    "RetryableDeliveryError",
    "SMTPBackend",
    "SendGridBackend",
    "UncertainDeliveryError",
    "build_message",
    "build_messages",
    "make_backend",
]


def make_backend(config: Config) -> MailBackend:
    """The backend ``delivery.backend`` names, with its secrets read from the environment."""
    delivery = config.delivery
    if delivery.backend == "outbox":
        return OutboxBackend(config.outbox_dir)
    if delivery.backend == "smtp":
        password = os.environ.get(ENV_SMTP_PASSWORD, "")
        if delivery.smtp_username and not password:
            raise ConfigError(
                f"delivery.smtp_username is {delivery.smtp_username!r} but {ENV_SMTP_PASSWORD} is "
                "not set: put the SMTP password in that environment variable (never in the file)"
            )
        return SMTPBackend(
            delivery.smtp_host,
            delivery.smtp_port,
            delivery.smtp_security,
            delivery.smtp_username,
            password,
            delivery.smtp_timeout,
            pool_size=delivery.smtp_pool_size,
            rate_per_connection=delivery.smtp_rate,
        )
    if delivery.backend == "sendgrid":
        api_key = os.environ.get(ENV_SENDGRID_API_KEY, "").strip()
        if not api_key:
            raise ConfigError(
                f"set {ENV_SENDGRID_API_KEY} in the environment (a SendGrid API key with the "
                "Mail Send permission) to send with delivery.backend = 'sendgrid'"
            )
        return SendGridBackend(
            api_key,
            host=delivery.sendgrid_host,
            timeout=delivery.sendgrid_timeout,
            sandbox=delivery.sendgrid_sandbox,
            track_clicks=delivery.sendgrid_track_clicks,
            track_opens=delivery.sendgrid_track_opens,
            max_attempts=delivery.sendgrid_max_attempts,
        )
    raise ConfigError(
        f"delivery.backend: unknown backend {delivery.backend!r} (expected outbox, smtp or sendgrid)"
    )
