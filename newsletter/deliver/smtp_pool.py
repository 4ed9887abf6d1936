"""The SMTP backend's connections: up to ``pool_size`` of them, opened when needed (a 4xx
greeting or login reply retried with backoff), reused until :meth:`ConnectionPool.close`, each
sending at most ``rate`` messages a second.

Opening a connection raises :class:`DeliveryAuthError` for a refused login,
:class:`RetryableDeliveryError` when the cause may pass (refused, unreachable, timed out, the
server busy after ``max_attempts`` tries) and :class:`DeliveryError` for settings that cannot
work (TLS mismatch, no STARTTLS, a 5xx greeting). The password only reaches ``smtplib.login``.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from newsletter.deliver.message import RetryableDeliveryError
from newsletter.errors import DeliveryAuthError, DeliveryError

log = logging.getLogger(__name__)

Security = Literal["starttls", "ssl", "none"]

_END_OF_DATA = b"\r\n.\r\n"


class Client(smtplib.SMTP):
    """smtplib's client, noting when a message's data has been written whole (``handed_over``):
    a connection lost after that point, before the answer, may have delivered the message."""

    handed_over = False

    def send(self, s: bytes | str) -> None:
        super().send(s)
        if isinstance(s, bytes) and s.endswith(_END_OF_DATA):
            self.handed_over = True


class ClientSSL(smtplib.SMTP_SSL, Client):
    pass


class _Busy(Exception):
    """A 4xx reply while opening a connection: worth another try after a pause."""


@dataclass
class Slot:
    """One connection of the pool: used by one thread at a time."""

    smtp: Client | None = None
    next_send: float = float("-inf")  # the clock's time before which it must not send

    def forget(self) -> None:
        """Close the connection (the server closed it, or will): the next use opens another."""
        quietly_close(self.smtp)
        self.smtp = None


class ConnectionPool:
    def __init__(
        self,
        host: str,
        port: int,
        security: Security,
        username: str,
        password: str,
        timeout: float,
        *,
        ssl_context: ssl.SSLContext | None,
        size: int,
        rate: float,
        max_attempts: int,
        backoff: float,
        sleep: Callable[[float], object] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.host, self.port, self.security = host, port, security
        self.username, self._password, self.timeout = username, password, timeout
        self.rate, self.max_attempts, self.backoff = rate, max_attempts, backoff
        self._ssl_context, self._sleep, self._clock = ssl_context, sleep, clock
        self.slots = [Slot() for _ in range(size)]
        self._lock = threading.Lock()
        self.opened = 0  # connections opened so far (reuse is the point)

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    def delay(self, attempt: int) -> float:
        """The pause before try ATTEMPT + 1: ``backoff``, 2 x, 4 x ..."""
        return self.backoff * 2 ** (attempt - 1)

    def open(self, slot: Slot) -> Client:
        """SLOT's connection, opened (and a 4xx greeting or login reply retried) if need be."""
        attempt = 1
        while slot.smtp is None:
            try:
                slot.smtp = self._connect()
            except _Busy as busy:
                if attempt >= self.max_attempts:
                    raise RetryableDeliveryError(
                        f"SMTP server {self.where} is not taking connections ({busy}) after "
                        f"{attempt} tries: try again later"
                    ) from None
                log.info("SMTP server %s answered %s: retrying the connection", self.where, busy)
                self._sleep(self.delay(attempt))
                attempt += 1
        return slot.smtp

    def _connect(self) -> Client:
        context = self._ssl_context or ssl.create_default_context()
        smtp: Client | None = None
        try:
            if self.security == "ssl":
                smtp = ClientSSL(self.host, self.port, timeout=self.timeout, context=context)
            else:
                smtp = Client(self.host, self.port, timeout=self.timeout)
            smtp.ehlo()
            if self.security == "starttls":
                smtp.starttls(context=context)
                smtp.ehlo()
            if self.username:
                smtp.login(self.username, self._password)
        except smtplib.SMTPResponseException as exc:
            quietly_close(smtp)
            if 400 <= exc.smtp_code < 500:
                raise _Busy(describe(exc)) from None
            if isinstance(exc, smtplib.SMTPAuthenticationError):
                raise DeliveryAuthError(
                    f"SMTP server {self.where} refused the login for {self.username}: "
                    "check NEWSLETTER_SMTP_PASSWORD"
                ) from None
            raise DeliveryError(self._cannot_connect(exc)) from None
        except smtplib.SMTPNotSupportedError as exc:
            quietly_close(smtp)
            raise DeliveryError(
                f"SMTP server {self.where} does not support what delivery.smtp_security / "
                f"smtp_username ask for ({exc}): check the port and security settings"
            ) from None
        except ssl.SSLError as exc:  # a certificate or protocol mismatch: settings, not luck
            quietly_close(smtp)
            raise DeliveryError(self._cannot_connect(exc)) from None
        except (smtplib.SMTPException, OSError) as exc:  # refused, unreachable, timed out, lost
            quietly_close(smtp)
            raise RetryableDeliveryError(
                f"{self._cannot_connect(exc)}; nothing was sent"
            ) from None
        with self._lock:
            self.opened += 1
            number = self.opened
        log.debug("connected to %s (%s), connection %d", self.where, self.security, number)
        return smtp

    def _cannot_connect(self, exc: BaseException) -> str:
        return f"cannot connect to the SMTP server {self.where} ({self.security}): {describe(exc)}"

    def wait_turn(self, slot: Slot) -> None:
        """Hold back until SLOT may send again under ``rate`` (0: no limit)."""
        if not self.rate:
            return
        now = self._clock()
        if slot.next_send > now:
            self._sleep(slot.next_send - now)
            now = max(self._clock(), slot.next_send)
        slot.next_send = now + 1 / self.rate

    def close(self) -> None:
        for slot in self.slots:
            smtp, slot.smtp = slot.smtp, None
            if smtp is None:
                continue
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                quietly_close(smtp)


def quietly_close(smtp: smtplib.SMTP | None) -> None:
    if smtp is not None:
        try:
            smtp.close()
        except OSError:
            pass


def text(reason: bytes | str) -> str:
    return reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)


def describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {text(exc.smtp_error)}"
    return str(exc) or type(exc).__name__
