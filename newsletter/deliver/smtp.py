"""SMTP delivery: a pool of up to ``pool_size`` connections, opened when needed, reused until
:meth:`SMTPBackend.close`.

A batch's messages are shared out between the pool's connections, one thread per connection
(a single connection sends in the caller's thread). Each connection sends at most
``rate_per_connection`` messages a second (0: no limit), counting every attempt.

What the server answers decides what happens to one message:

    250                 sent
    4xx (450, 451, 452, 454, ...) to MAIL, RCPT or DATA
                        temporary: the message is tried again after ``backoff``, 2 x, 4 x ...
                        seconds, ``max_attempts`` tries in all, then recorded as refused
    5xx to RCPT or DATA recorded in :attr:`BatchResult.refused`; the others are still sent
    5xx to MAIL FROM    the sender is refused: the batch stops
    421, or the connection drops
                        the server is closing this connection: it is reopened at once (a 4xx
                        greeting or login reply is retried with the same backoff) and the
                        message sent again, once per connection and batch; a second loss stops
                        the batch

A batch that stops raises :class:`DeliveryError`, or :class:`UncertainDeliveryError` once some
of its messages had gone out (the message says how many); a refused login raises
:class:`DeliveryAuthError`. The password is only handed to ``smtplib.login``: it never appears
in a message or a log line.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Literal

from newsletter.deliver.message import BatchResult, MailBatch, Recipient
from newsletter.deliver.mime import build_messages
from newsletter.errors import DeliveryAuthError, DeliveryError, UncertainDeliveryError

log = logging.getLogger(__name__)

Security = Literal["starttls", "ssl", "none"]


class _Dropped(Exception):
    """The server closed the connection; carries the reason for the report."""


class _Stop(Exception):
    """The batch cannot go on; carries what happened, without the counts (added at the end)."""


class _Busy(Exception):
    """A 4xx reply while opening a connection: worth another try after a pause."""


@dataclass
class _Slot:
    """One connection of the pool: used by one thread at a time."""

    smtp: smtplib.SMTP | None = None
    next_send: float = float("-inf")  # the clock's time before which it must not send


@dataclass
class _Run:
    """What the threads of one batch share."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)
    sent: int = 0
    refused: dict[int, tuple[str, str]] = field(default_factory=dict)  # index -> address, why
    error: BaseException | None = None

    def fail(self, error: BaseException) -> None:
        with self.lock:
            if self.error is None:
                self.error = error
        self.stop.set()


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
        pool_size: int = 1,
        rate_per_connection: float = 0,
        max_attempts: int = 3,
        backoff: float = 1.0,
        sleep: Callable[[float], object] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if security not in ("starttls", "ssl", "none"):
            raise ValueError(f"unknown SMTP security {security!r}")
        if pool_size < 1:
            raise ValueError(f"SMTP pool_size must be at least 1, not {pool_size}")
        if rate_per_connection < 0:
            raise ValueError(
                f"SMTP rate_per_connection must be 0 or more, not {rate_per_connection}"
            )
        if max_attempts < 1:
            raise ValueError(f"SMTP max_attempts must be at least 1, not {max_attempts}")
        self.host = host
        self.port = port
        self.security = security
        self.username = username
        self._password = password
        self.timeout = timeout
        self.pool_size = pool_size
        self.rate_per_connection = rate_per_connection
        self.max_attempts = max_attempts
        self.backoff = backoff
        self._sleep = sleep
        self._clock = clock
        self._ssl_context = ssl_context
        self._slots = [_Slot() for _ in range(pool_size)]
        self._lock = threading.Lock()
        self.connections = 0  # opened so far (reuse is the point; reported in logs and tests)

    def __repr__(self) -> str:
        return (
            f"SMTPBackend({self.host}:{self.port}, {self.security}, user={self.username!r}, "
            f"pool={self.pool_size})"
        )

    @property
    def _where(self) -> str:
        return f"{self.host}:{self.port}"

    def _delay(self, attempt: int) -> float:
        return self.backoff * 2 ** (attempt - 1)

    # -- connections ---------------------------------------------------------------------------

    def _open(self, slot: _Slot) -> smtplib.SMTP:
        """SLOT's connection, opened (and a 4xx greeting or login reply retried) if need be."""
        attempt = 1
        while slot.smtp is None:
            try:
                slot.smtp = self._connect()
            except _Busy as busy:
                if attempt >= self.max_attempts:
                    raise DeliveryError(
                        f"SMTP server {self._where} is not taking connections ({busy}) after "
                        f"{attempt} tries: try again later"
                    ) from None
                log.info("SMTP server %s answered %s: retrying the connection", self._where, busy)
                self._sleep(self._delay(attempt))
                attempt += 1
        return slot.smtp

    def _connect(self) -> smtplib.SMTP:
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
        except smtplib.SMTPResponseException as exc:
            _quietly_close(smtp)
            if _temporary(exc.smtp_code):
                raise _Busy(_describe(exc)) from None
            if isinstance(exc, smtplib.SMTPAuthenticationError):
                raise DeliveryAuthError(
                    f"SMTP server {self._where} refused the login for {self.username}: "
                    "check NEWSLETTER_SMTP_PASSWORD"
                ) from None
            raise self._cannot_connect(exc) from None
        except smtplib.SMTPNotSupportedError as exc:
            _quietly_close(smtp)
            raise DeliveryError(
                f"SMTP server {self._where} does not support what delivery.smtp_security / "
                f"smtp_username ask for ({exc}): check the port and security settings"
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            _quietly_close(smtp)
            raise self._cannot_connect(exc) from None
        with self._lock:
            self.connections += 1
            number = self.connections
        log.debug("connected to %s (%s), connection %d", self._where, self.security, number)
        return smtp

    def _cannot_connect(self, exc: BaseException) -> DeliveryError:
        return DeliveryError(
            f"cannot connect to the SMTP server {self._where} ({self.security}): {_describe(exc)}"
        )

    def _wait_turn(self, slot: _Slot) -> None:
        """Hold back until SLOT may send again under ``rate_per_connection``."""
        if not self.rate_per_connection:
            return
        now = self._clock()
        if slot.next_send > now:
            self._sleep(slot.next_send - now)
            now = max(self._clock(), slot.next_send)
        slot.next_send = now + 1 / self.rate_per_connection

    # -- messages ------------------------------------------------------------------------------

    def _attempt(self, slot: _Slot, msg: EmailMessage) -> None:
        """One try at MSG on SLOT; _Dropped if the connection went away, else smtplib's error."""
        smtp = self._open(slot)
        self._wait_turn(slot)
        try:
            smtp.send_message(msg)
        except smtplib.SMTPServerDisconnected as exc:
            _forget(slot)
            raise _Dropped(_describe(exc)) from None
        except smtplib.SMTPRecipientsRefused as exc:
            if any(code == 421 for code, _ in exc.recipients.values()):
                _forget(slot)
                raise _Dropped("421 from the server") from None
            raise
        except smtplib.SMTPResponseException as exc:
            if exc.smtp_code == 421:
                _forget(slot)
                raise _Dropped(_describe(exc)) from None
            raise
        except smtplib.SMTPException:
            raise
        except OSError as exc:  # reset, broken pipe, timeout
            _forget(slot)
            raise _Dropped(_describe(exc)) from None

    def _deliver(self, slot: _Slot, msg: EmailMessage, reconnected: list[bool]) -> str | None:
        """Send MSG, retrying 4xx replies; None once accepted, else the server's refusal.

        RECONNECTED is the connection's one reconnection per batch, spent or not."""
        attempt = 1
        while True:
            try:
                self._attempt(slot, msg)
                return None
            except _Dropped as dropped:
                if reconnected[0]:
                    raise _Stop(f"dropped the connection twice ({dropped})") from None
                reconnected[0] = True
                log.info(
                    "SMTP server %s dropped the connection (%s): reconnecting", self._where, dropped
                )
                continue
            except smtplib.SMTPRecipientsRefused as exc:
                code, reason = next(iter(exc.recipients.values()))
            except smtplib.SMTPSenderRefused as exc:
                code, reason = exc.smtp_code, exc.smtp_error
                if not _temporary(code):
                    raise _Stop(
                        f"refused the sender {_text(exc.sender)} ({code} {_text(reason)})"
                    ) from None
            except smtplib.SMTPDataError as exc:
                # the message itself was refused (content, size, quota): this recipient only
                code, reason = exc.smtp_code, exc.smtp_error
            except smtplib.SMTPResponseException as exc:
                code, reason = exc.smtp_code, exc.smtp_error
                if not _temporary(code):
                    raise _Stop(f"failed: {_describe(exc)}") from None
            except smtplib.SMTPException as exc:
                raise _Stop(f"failed: {_describe(exc)}") from None
            refusal = f"{code} {_text(reason)}"
            if not _temporary(code) or attempt >= self.max_attempts:
                return refusal
            log.info(
                "SMTP server %s deferred a message (%s): try %d of %d in %.1f s",
                self._where, refusal, attempt + 1, self.max_attempts, self._delay(attempt),
            )  # fmt: skip
            self._sleep(self._delay(attempt))
            attempt += 1

    def _work(
        self, slot: _Slot, queue: deque[tuple[int, tuple[Recipient, EmailMessage]]], run: _Run
    ) -> None:
        """Send messages from QUEUE on SLOT until it is empty or another thread stopped the run."""
        reconnected = [False]
        while not run.stop.is_set():
            try:
                index, (recipient, msg) = queue.popleft()
            except IndexError:
                return
            try:
                refusal = self._deliver(slot, msg, reconnected)
            # send_batch raises it again, in the caller's thread
            except BaseException as exc:  # noqa: BLE001
                run.fail(exc)
                return
            with run.lock:
                if refusal is None:
                    run.sent += 1
                else:
                    run.refused[index] = (recipient.email, refusal)

    def send_batch(self, batch: MailBatch) -> BatchResult:
        messages = build_messages(batch)
        queue = deque(enumerate(messages))
        run = _Run()
        slots = self._slots[: min(self.pool_size, len(messages))]
        if len(slots) == 1:
            self._work(slots[0], queue, run)
        elif slots:
            threads = [
                threading.Thread(target=self._work, args=(slot, queue, run), daemon=True)
                for slot in slots
            ]
            try:
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
            except BaseException:  # Ctrl-C: let each thread finish the message it is sending
                run.stop.set()
                raise
        result = BatchResult(
            sent=run.sent, refused={a: why for _, (a, why) in sorted(run.refused.items())}
        )
        if run.error is None:
            return result
        error, sent = run.error, run.sent
        if isinstance(error, _Stop):
            raise _failure(sent)(
                f"SMTP server {self._where} {error} during batch {batch.batch_id} of edition "
                f"{batch.edition_id}; {sent} of {len(messages)} messages had been sent"
            ) from None
        if isinstance(error, DeliveryError) and sent:  # a connection could not be (re)opened
            raise UncertainDeliveryError(
                f"{error}; {sent} of {len(messages)} messages of batch {batch.batch_id} "
                "had been sent"
            ) from None
        raise error

    def close(self) -> None:
        for slot in self._slots:
            smtp, slot.smtp = slot.smtp, None
            if smtp is None:
                continue
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                _quietly_close(smtp)


def _forget(slot: _Slot) -> None:
    _quietly_close(slot.smtp)
    slot.smtp = None


def _quietly_close(smtp: smtplib.SMTP | None) -> None:
    if smtp is not None:
        try:
            smtp.close()
        except OSError:
            pass


def _temporary(code: int) -> bool:
    return 400 <= code < 500


def _text(reason: bytes | str) -> str:
    return reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {_text(exc.smtp_error)}"
    return str(exc) or type(exc).__name__


def _failure(sent: int) -> type[DeliveryError]:
    """Once some messages of a batch went out, resending it would mail those readers twice."""
    return UncertainDeliveryError if sent else DeliveryError
