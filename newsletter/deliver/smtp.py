"""SMTP delivery: each batch's messages shared out between the connections of a pool
(:mod:`newsletter.deliver.smtp_pool`), one thread per connection (a single connection sends in
the caller's thread), each connection sending at most ``rate_per_connection`` messages a second.

What the server answers decides what happens to one message:

    250                 sent
    4xx (450, 451, 452, 454, ...) to RCPT or DATA
                        temporary: the message is tried again after ``backoff``, 2 x, 4 x ...
                        seconds, ``max_attempts`` tries in all, then left in
                        :attr:`BatchResult.deferred` (the ledger tries it again later)
    4xx to MAIL FROM    the same tries, then the batch stops (the server takes no mail from us
                        for now): the message and the rest are deferred
    5xx to RCPT or DATA recorded in :attr:`BatchResult.refused`; the others are still sent
    5xx to MAIL FROM    the sender is refused: the batch stops
    421, or the connection drops before the message was handed over
                        the server is closing this connection: it is reopened at once and the
                        message sent again; those already accepted are not. A connection lost
                        again before it settled a single message stops the batch
    the connection drops after the message was handed over, before the server's answer
                        it may have been delivered: recorded in :attr:`BatchResult.uncertain`,
                        never sent again on its own; the batch goes on on a new connection

A batch that stops raises :class:`RetryableDeliveryError` when the cause may pass (the server
unreachable, busy, or closing every connection) and :class:`DeliveryError` otherwise. Once part
of the batch went out, the error carries it as ``partial`` (:class:`PartialDeliveryError` for
the second kind), the recipients not sent in its ``deferred``: the ledger keeps what went out
and sends only the rest again. A refused login raises :class:`DeliveryAuthError`.

Each message is journaled (``MailBatch.journal``, :mod:`newsletter.deliver.journal`): its
reader is committed as in hand before the message is handed over, and its outcome after, so a
worker killed mid-batch leaves only the messages in hand uncertain. A reader whose consent ended
since the batch began is skipped (:attr:`BatchResult.skipped`); a batch no longer this worker's
stops at once (:class:`~newsletter.deliver.journal.ClaimLost`, raised as it is).
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
from typing import NoReturn

from newsletter.deliver.message import (
    BatchResult,
    Journal,
    MailBatch,
    PartialDeliveryError,
    Recipient,
    RetryableDeliveryError,
)
from newsletter.deliver.mime import build_messages
from newsletter.deliver.smtp_pool import ConnectionPool, Security, Slot, describe, text
from newsletter.errors import DeliveryError

log = logging.getLogger(__name__)

__all__ = ["SMTPBackend", "Security"]

# A message's outcome: "sent", or "refused" | "deferred" | "uncertain" with the reason, or
# "skipped" (journaled: its reader unsubscribed while it waited for another try).
Outcome = tuple[str, str]


class _Dropped(Exception):
    """The server closed the connection before taking the message; carries the reason."""


class _Unknown(Exception):
    """The connection was lost after the message was handed over: it may have gone out."""


class _Stop(Exception):
    """The batch cannot go on; carries what happened, without the counts (added at the end)."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


@dataclass
class _Run:
    """What the threads of one batch share; outcomes are keyed by the message's index."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)
    sent: int = 0
    refused: dict[int, tuple[str, str]] = field(default_factory=dict)  # index -> address, why
    deferred: dict[int, tuple[str, str]] = field(default_factory=dict)
    uncertain: dict[int, tuple[str, str]] = field(default_factory=dict)
    skipped: dict[int, str] = field(default_factory=dict)  # index -> address
    error: BaseException | None = None

    def fail(self, error: BaseException) -> None:
        with self.lock:
            if self.error is None:
                self.error = error
        self.stop.set()

    def result(self) -> BatchResult:
        def by_address(outcomes: dict[int, tuple[str, str]]) -> dict[str, str]:
            return {address: why for _, (address, why) in sorted(outcomes.items())}

        return BatchResult(
            sent=self.sent, refused=by_address(self.refused), deferred=by_address(self.deferred),
            uncertain=by_address(self.uncertain),
            skipped=[address for _, address in sorted(self.skipped.items())],
        )


@dataclass
class _Waits:
    """A journaled message waiting between two tries (see :meth:`SMTPBackend._deliver`)."""

    journal: Journal
    recipient: Recipient

    def pause(self, why: str) -> None:
        self.journal.pause(self.recipient, why)

    def resume(self) -> bool:
        return self.journal.resume(self.recipient)


class SMTPBackend:
    name = "smtp"
    journals = True  # each message is journaled (MailBatch.journal): a crash loses no progress

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
        self.timeout = timeout
        self.pool_size = pool_size
        self.rate_per_connection = rate_per_connection
        self.max_attempts = max_attempts
        self._sleep = sleep
        self._pool = ConnectionPool(
            host, port, security, username, password, timeout, ssl_context=ssl_context,
            size=pool_size, rate=rate_per_connection, max_attempts=max_attempts,
            backoff=backoff, sleep=sleep, clock=clock,
        )  # fmt: skip

    def __repr__(self) -> str:
        return (
            f"SMTPBackend({self.host}:{self.port}, {self.security}, user={self.username!r}, "
            f"pool={self.pool_size})"
        )

    @property
    def connections(self) -> int:
        """Connections opened so far (reuse is the point; reported in logs and tests)."""
        return self._pool.opened

    # -- one message ---------------------------------------------------------------------------

    def _attempt(self, slot: Slot, msg: EmailMessage) -> None:
        """One try at MSG on SLOT: _Dropped or _Unknown if the connection went, else smtplib's
        error for a refusal."""
        smtp = self._pool.open(slot)
        self._pool.wait_turn(slot)
        smtp.handed_over = False
        try:
            smtp.send_message(msg)
        except smtplib.SMTPRecipientsRefused as exc:
            if any(code == 421 for code, _ in exc.recipients.values()):
                slot.forget()
                raise _Dropped("421 from the server") from None
            raise
        except smtplib.SMTPServerDisconnected as exc:
            raise _lost(slot, describe(exc)) from None
        except smtplib.SMTPResponseException as exc:
            if exc.smtp_code == 421:  # an answer, even to the data: the message was not taken
                slot.forget()
                raise _Dropped(describe(exc)) from None
            raise
        except smtplib.SMTPException:
            raise
        except OSError as exc:  # reset, broken pipe, timeout
            raise _lost(slot, describe(exc)) from None

    def _deliver(
        self, slot: Slot, msg: EmailMessage, losses: list[int], waits: _Waits | None = None
    ) -> Outcome:
        """Send MSG, retrying 4xx replies and reconnecting when the server closes.

        LOSSES counts this thread's connections lost in a row before one settled a message.
        WAITS tells the journal the message is out of hand while it waits for another try, and
        back in hand after it (``skipped`` if its reader unsubscribed meanwhile)."""
        where = self._pool.where
        attempt = 1
        while True:
            try:
                self._attempt(slot, msg)
                return "sent", ""
            except _Unknown as unknown:
                losses[0] += 1
                return "uncertain", (
                    f"the connection to {where} was lost after the message was handed over "
                    f"({unknown}): it may have been delivered; not sent again"
                )
            except _Dropped as dropped:
                losses[0] += 1
                if losses[0] >= 2:
                    raise _Stop(
                        f"closed the connection again before taking a message ({dropped})",
                        transient=True,
                    ) from None
                log.info("SMTP server %s closed the connection (%s): reconnecting", where, dropped)
                continue
            except smtplib.SMTPRecipientsRefused as exc:
                code, reason = next(iter(exc.recipients.values()))
            except smtplib.SMTPSenderRefused as exc:
                code, reason = exc.smtp_code, exc.smtp_error
                if not _temporary(code):
                    raise _Stop(
                        f"refused the sender {text(exc.sender)} ({code} {text(reason)})",
                        transient=False,
                    ) from None
                if attempt >= self.max_attempts:
                    raise _Stop(
                        f"deferred the sender {text(exc.sender)} {attempt} times "
                        f"({code} {text(reason)})",
                        transient=True,
                    ) from None
            except smtplib.SMTPDataError as exc:
                # the message itself was refused (content, size, quota): this recipient only
                code, reason = exc.smtp_code, exc.smtp_error
            except smtplib.SMTPResponseException as exc:
                code, reason = exc.smtp_code, exc.smtp_error
                if not _temporary(code):
                    raise _Stop(f"failed: {describe(exc)}", transient=False) from None
            except smtplib.SMTPException as exc:
                raise _Stop(f"failed: {describe(exc)}", transient=False) from None
            refusal = f"{code} {text(reason)}"
            if not _temporary(code):
                return "refused", refusal
            if attempt >= self.max_attempts:
                return "deferred", f"{refusal} ({attempt} tries)"
            delay = self._pool.delay(attempt)
            log.info(
                "SMTP server %s deferred a message (%s): try %d of %d in %.1f s",
                where, refusal, attempt + 1, self.max_attempts, delay,
            )  # fmt: skip
            if waits is not None:
                waits.pause(refusal)
            self._sleep(delay)
            if waits is not None and not waits.resume():
                return "skipped", "unsubscribed while the message waited for another try"
            attempt += 1

    # -- one batch -----------------------------------------------------------------------------

    def _work(
        self, slot: Slot, queue: deque[tuple[int, tuple[Recipient, EmailMessage]]], run: _Run,
        journal: Journal | None = None,
    ) -> None:
        """Send messages from QUEUE on SLOT until it is empty or the run stops, each recorded
        in JOURNAL before it is handed over and after."""
        losses = [0]
        while not run.stop.is_set():
            try:
                index, (recipient, msg) = queue.popleft()
            except IndexError:
                return
            try:
                if journal is not None and not journal.before(recipient):
                    with run.lock:
                        run.skipped[index] = recipient.email  # unsubscribed meanwhile
                    continue
                waits = _Waits(journal, recipient) if journal is not None else None
                outcome, why = self._deliver(slot, msg, losses, waits)
            # send_batch raises it again, in the caller's thread
            except BaseException as exc:  # noqa: BLE001
                queue.appendleft((index, (recipient, msg)))  # not sent: deferred with the rest
                run.fail(exc)
                return
            if outcome == "skipped":
                with run.lock:
                    run.skipped[index] = recipient.email
                continue
            if journal is not None:
                journal.after(recipient, outcome, why)
            with run.lock:
                if outcome == "sent":
                    run.sent += 1
                else:
                    getattr(run, outcome)[index] = (recipient.email, why)
            if outcome != "uncertain":
                losses[0] = 0  # the connection settled a message: it works
            elif losses[0] >= 2:
                run.fail(_Stop("closed the connection again before answering a message", transient=True))
                return

    def send_batch(self, batch: MailBatch) -> BatchResult:
        messages = build_messages(batch)
        queue = deque(enumerate(messages))
        run = _Run()
        slots = self._pool.slots[: min(self.pool_size, len(messages))]
        if len(slots) == 1:
            self._work(slots[0], queue, run, batch.journal)
        elif slots:
            threads = [
                threading.Thread(
                    target=self._work, args=(slot, queue, run, batch.journal), daemon=True
                )
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
        if run.error is None:
            return run.result()
        for index, (recipient, _) in queue:
            run.deferred[index] = (recipient.email, f"not sent: the batch stopped ({run.error})")
        self._stopped(batch, run.error, run.result(), len(messages))

    def _stopped(self, batch: MailBatch, error: BaseException, result: BatchResult, total: int) -> NoReturn:
        """Raise what stopped BATCH, with RESULT as its ``partial`` once part of it went out."""
        where = f"batch {batch.batch_id} of edition {batch.edition_id}"
        partial = result if result.settled_some else None
        if isinstance(error, _Stop):
            message = (
                f"SMTP server {self._pool.where} {error} during {where}; {result.sent} of "
                f"{total} messages had been sent"
            )
            if error.transient:
                raise RetryableDeliveryError(message, partial=partial) from None
            if partial is not None:
                raise PartialDeliveryError(message, partial=partial) from None
            raise DeliveryError(message) from None
        if not isinstance(error, DeliveryError) or partial is None:
            raise error  # a bug or Ctrl-C, or a connection that failed before anything went
        message = f"{error}; {result.sent} of {total} messages of {where} had been sent"
        if isinstance(error, RetryableDeliveryError):
            raise RetryableDeliveryError(message, partial=partial) from None
        raise PartialDeliveryError(message, partial=partial) from None  # login or settings

    def close(self) -> None:
        self._pool.close()


def _lost(slot: Slot, why: str) -> Exception:
    """SLOT's connection is gone: _Unknown if the message had been handed over, else _Dropped."""
    handed_over = slot.smtp is not None and slot.smtp.handed_over
    slot.forget()
    return _Unknown(why) if handed_over else _Dropped(why)


def _temporary(code: int) -> bool:
    return 400 <= code < 500
