"""SMTP delivery: one connection, opened on the first message and reused until :meth:`close`.

A recipient the server refuses is reported in :attr:`BatchResult.refused` and the others are
still sent. A server that drops the connection (or answers 421, "closing") is reconnected once
per batch and the interrupted message sent again; a second loss stops the batch with a
:class:`DeliveryError` that says how many messages had already gone. The password is only
handed to ``smtplib.login``: it never appears in a message or a log line.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage
from typing import Literal

from newsletter.deliver.message import BatchResult, MailBatch
from newsletter.deliver.mime import build_messages
from newsletter.errors import DeliveryAuthError, DeliveryError, UncertainDeliveryError

log = logging.getLogger(__name__)

Security = Literal["starttls", "ssl", "none"]


class _Dropped(Exception):
    """The server closed the connection; carries the reason for the report."""


class SMTPBackend:
    name = "smtp"

    def __init__(
        self,
        host: str,
        port: int = 587,
        security: Security = "starttls",
        username: str = "",
        password: str = "",
        timeout: float = 30.0,
        *,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if security not in ("starttls", "ssl", "none"):
            raise ValueError(f"unknown SMTP security {security!r}")
        self.host = host
        self.port = port
        self.security = security
        self.username = username
        self._password = password
        self.timeout = timeout
        self._ssl_context = ssl_context
        self._smtp: smtplib.SMTP | None = None
        self.connections = 0  # opened so far (reuse is the point; reported in logs and tests)

    def __repr__(self) -> str:
        return f"SMTPBackend({self.host}:{self.port}, {self.security}, user={self.username!r})"

    @property
    def _where(self) -> str:
        return f"{self.host}:{self.port}"

    def _connect(self) -> smtplib.SMTP:
        if self._smtp is not None:
            return self._smtp
        context = self._ssl_context or ssl.create_default_context()
        smtp: smtplib.SMTP | None = None
        try:
            if self.security == "ssl":
                smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            smtp.ehlo()
            if self.security == "starttls":
                smtp.starttls(context=context)
                smtp.ehlo()
            if self.username:
                smtp.login(self.username, self._password)
        except smtplib.SMTPAuthenticationError:
            _quietly_close(smtp)
            raise DeliveryAuthError(
                f"SMTP server {self._where} refused the login for {self.username}: "
                "check NEWSLETTER_SMTP_PASSWORD"
            ) from None
        except smtplib.SMTPNotSupportedError as exc:
            _quietly_close(smtp)
            raise DeliveryError(
                f"SMTP server {self._where} does not support what delivery.smtp_security / "
                f"smtp_username ask for ({exc}): check the port and security settings"
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            _quietly_close(smtp)
            raise DeliveryError(
                f"cannot connect to the SMTP server {self._where} ({self.security}): "
                f"{_describe(exc)}"
            ) from None
        self._smtp = smtp
        self.connections += 1
        log.debug(
            "connected to %s (%s), connection %d", self._where, self.security, self.connections
        )
        return smtp

    def _send_one(self, msg: EmailMessage) -> None:
        """Send MSG on the open connection; _Dropped if the connection went away."""
        smtp = self._connect()
        try:
            smtp.send_message(msg)
        except smtplib.SMTPServerDisconnected as exc:
            self._forget()
            raise _Dropped(_describe(exc)) from None
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            if 421 in codes:
                self._forget()
                raise _Dropped("421 from the server") from None
            raise
        except smtplib.SMTPResponseException as exc:
            if exc.smtp_code == 421:
                self._forget()
                raise _Dropped(_describe(exc)) from None
            raise
        except smtplib.SMTPException:
            raise
        except OSError as exc:  # reset, broken pipe, timeout
            self._forget()
            raise _Dropped(_describe(exc)) from None

    def send_batch(self, batch: MailBatch) -> BatchResult:
        messages = build_messages(batch)
        result = BatchResult()
        reconnected = False
        for recipient, msg in messages:
            while True:
                try:
                    self._send_one(msg)
                    result.sent += 1
                except _Dropped as dropped:
                    if not reconnected:
                        reconnected = True
                        log.info(
                            "SMTP server %s dropped the connection (%s): reconnecting",
                            self._where,
                            dropped,
                        )
                        continue
                    raise _failure(result.sent)(
                        f"SMTP server {self._where} dropped the connection twice during batch "
                        f"{batch.batch_id} of edition {batch.edition_id} ({dropped}); "
                        f"{result.sent} of {len(messages)} messages had been sent"
                    ) from None
                except smtplib.SMTPRecipientsRefused as exc:
                    code, reason = next(iter(exc.recipients.values()))
                    result.refused[recipient.email] = f"{code} {_text(reason)}"
                except smtplib.SMTPDataError as exc:
                    # the message itself was refused (content, size, quota): this recipient only
                    result.refused[recipient.email] = f"{exc.smtp_code} {_text(exc.smtp_error)}"
                except smtplib.SMTPSenderRefused as exc:
                    raise _failure(result.sent)(
                        f"SMTP server {self._where} refused the sender {batch.from_address} "
                        f"({exc.smtp_code} {_text(exc.smtp_error)}); {result.sent} of "
                        f"{len(messages)} messages of batch {batch.batch_id} had been sent"
                    ) from None
                except smtplib.SMTPException as exc:
                    raise _failure(result.sent)(
                        f"SMTP server {self._where} failed during batch {batch.batch_id}: "
                        f"{_describe(exc)}; {result.sent} of {len(messages)} messages had been sent"
                    ) from None
                except DeliveryError as exc:  # reconnecting failed
                    if result.sent:
                        raise UncertainDeliveryError(
                            f"{exc}; {result.sent} of {len(messages)} messages of batch "
                            f"{batch.batch_id} had been sent"
                        ) from None
                    raise
                break
        return result

    def _forget(self) -> None:
        _quietly_close(self._smtp)
        self._smtp = None

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            _quietly_close(smtp)


def _quietly_close(smtp: smtplib.SMTP | None) -> None:
    if smtp is not None:
        try:
            smtp.close()
        except OSError:
            pass


def _text(reason: bytes | str) -> str:
    return reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {_text(exc.smtp_error)}"
    return str(exc) or type(exc).__name__


def _failure(sent: int) -> type[DeliveryError]:
    """Once some messages of a batch went out, resending it would mail those readers twice."""
    return UncertainDeliveryError if sent else DeliveryError
