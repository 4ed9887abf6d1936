"""The journal of a batch sent message by message: who is in hand, who went, who did not.

SMTP sends a batch's messages one by one (up to 1,000, minutes apart under a rate limit). Were
the batch the only record, a worker killed in its middle would leave every reader of it
uncertain, and resending them on an editor's word would mail again all those already accepted.
So, for a backend that says ``journals = True``, the ledger hands the batch a
:class:`BatchJournal` and the backend calls, for each message:

- :meth:`BatchJournal.before`, which commits the reader as ``sending`` *before* the message is
  handed over, in one transaction that also records the outcomes settled since the last call,
  renews the sender's claim, and checks that the reader is still subscribed (a reader who
  unsubscribed while the batch was going out is not mailed);
- :meth:`BatchJournal.after`, which keeps the message's outcome for the next commit;
- :meth:`BatchJournal.pause` and :meth:`BatchJournal.resume` around the wait before another try
  of a message the server deferred (4xx): out of hand meanwhile, so a sender that dies then
  leaves it to be sent again, not uncertain.

When the sender stops dead, :func:`newsletter.deliver.batches.mark_abandoned` reads the journal
(:func:`newsletter.deliver.batches.settle_journal`): the messages accepted stay sent, those never
started go back to pending (nothing of them went), and only the messages in hand (at most one per
connection) are uncertain. A sender that is not dead but lost its claim (found abandoned after
its lease) learns it at its next :meth:`BatchJournal.before`, which raises :class:`ClaimLost`:
it sends nothing more of the batch. The rows are deleted when the batch's outcome is recorded.

One commit per message on one connection; with several, the messages that wait while one
commits go together in the next (``bench/smtp.py`` measures what it costs).
"""

from __future__ import annotations

import threading
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, Table, bindparam, func, select, update

from newsletter.deliver.message import Recipient
from newsletter.store.models import DeliveryBatch, JournalEntry, Membership, utcnow

IN_HAND = "sending"  # the journal state of a message started and not settled


def journals(backend: object) -> bool:
    """Whether BACKEND sends message by message and journals each (``journals = True``)."""
    return bool(getattr(backend, "journals", False))


class ClaimLost(Exception):
    """The batch is no longer this sender's (found abandoned, put back or taken over): nothing
    more of it may be sent. Not a DeliveryError: the batch's outcome is someone else's now."""


@dataclass
class _Ask:
    """One thread's :meth:`BatchJournal.before`, answered by whichever thread writes it."""

    subscriber_id: int
    again: bool = False  # its row is there already (resume after a pause)
    done: bool = False
    subscribed: bool = False
    error: BaseException | None = None


class BatchJournal:
    """The journal of BATCH_ID, sent by OWNER to the readers of LIST_ID, written on ENGINE.

    Thread-safe: the threads of an SMTP pool share one. Their writes are grouped: while one
    thread commits, the others' messages wait and go in the next commit together (one commit
    per message on one connection, fewer with several).
    """

    def __init__(self, engine: Engine, batch_id: int, owner: str, list_id: int) -> None:
        self.batch_id, self.owner, self.list_id = batch_id, owner, list_id
        self._engine = engine
        self._db_clock = engine.dialect.name == "postgresql"  # as ledger_now: hosts share it
        self._connection: Connection | None = None
        self._turn = threading.Condition()
        self._writing = False
        self._asks: list[_Ask] = []
        self._settled: list[dict[str, Any]] = []

    def before(self, recipient: Recipient, *, again: bool = False) -> bool:
        ask = _Ask(recipient.subscriber_id, again)
        with self._turn:
            self._asks.append(ask)
            while self._writing and not ask.done:
                self._turn.wait()
            if not ask.done:  # this thread writes what is waiting, its own message included
                asks, self._asks = self._asks, []
                self._write(asks)
        if ask.error is not None:
            raise ask.error
        return ask.subscribed

    def after(self, recipient: Recipient, outcome: str, why: str) -> None:
        with self._turn:
            self._settled.append({
                "b": self.batch_id, "s": recipient.subscriber_id, "state": outcome,
                "note": why or None,
            })  # fmt: skip

    def pause(self, recipient: Recipient, why: str) -> None:
        """The message is out of hand while it waits for another try: a sender that dies now
        leaves it to be sent again, not uncertain."""
        self.after(recipient, "deferred", why)
        self.flush()

    def resume(self, recipient: Recipient) -> bool:
        return self.before(recipient, again=True)

    def flush(self) -> None:
        """Commit the outcomes settled since the last message, if the batch is still OWNER's
        (before its outcome is read from the journal: the sender was interrupted)."""
        with self._turn:
            while self._writing:
                self._turn.wait()
            if self._settled:
                self._write([])

    def _write(self, asks: list[_Ask]) -> None:
        """Commit ASKS and the outcomes settled so far, outside the lock (held on entry and
        on return); every ask is answered, with the error if the commit failed."""
        self._writing = True
        settled, self._settled = self._settled, []
        self._turn.release()
        error: BaseException | None = None
        try:
            subscribed = self._commit(
                [ask.subscriber_id for ask in asks], settled,
                {ask.subscriber_id for ask in asks if ask.again},
            )
        except BaseException as exc:  # noqa: BLE001 - each waiting thread raises it
            error, subscribed = exc, set()
        finally:
            self._turn.acquire()
        if error is not None and not isinstance(error, ClaimLost):
            self._settled = settled + self._settled  # kept for the next commit
        for ask in asks:
            ask.done, ask.error = True, error
            ask.subscribed = ask.subscriber_id in subscribed
        self._writing = False
        self._turn.notify_all()

    def _commit(
        self, ids: list[int], settled: list[dict[str, Any]], again: AbstractSet[int] = frozenset()
    ) -> set[int]:
        """One transaction: the claim checked and renewed, SETTLED recorded, IDS still
        subscribed put in hand (AGAIN: those already in the journal); those ids. Core
        statements: this runs once per message."""
        if self._connection is None:
            self._connection = self._engine.connect()
        with self._connection.begin():
            held = self._connection.execute(
                _RENEW.values(claimed_at=func.now() if self._db_clock else utcnow()),
                {"batch": self.batch_id, "owner": self.owner},
            )
            if held.rowcount != 1:
                raise ClaimLost(
                    f"{self.owner} no longer holds batch id {self.batch_id}: "
                    "it was found abandoned, put back or taken over"
                )
            if settled:
                self._connection.execute(_SETTLE, settled)
            subscribed = set(self._connection.scalars(
                select(_members.c.subscriber_id).where(
                    _members.c.list_id == self.list_id, _members.c.subscriber_id.in_(ids),
                    _members.c.status == "active",
                )
            )) if ids else set()  # fmt: skip
            if subscribed - again:
                self._connection.execute(_journal.insert(), [
                    {"batch_id": self.batch_id, "subscriber_id": i, "state": IN_HAND}
                    for i in subscribed - again
                ])  # fmt: skip
            if subscribed & again:
                self._connection.execute(_SETTLE, [
                    {"b": self.batch_id, "s": i, "state": IN_HAND, "note": None}
                    for i in subscribed & again
                ])  # fmt: skip
        return subscribed

    def close(self) -> None:
        with self._turn:
            while self._writing:
                self._turn.wait()
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    def __enter__(self) -> BatchJournal:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


_journal: Table = JournalEntry.__table__  # type: ignore[assignment]
_members: Table = Membership.__table__  # type: ignore[assignment]
_batches: Table = DeliveryBatch.__table__  # type: ignore[assignment]
_RENEW = update(_batches).where(
    _batches.c.id == bindparam("batch"), _batches.c.claimed_by == bindparam("owner"),
    _batches.c.status == "sending",
)  # claimed_at: now, on the ledger's clock (the transaction's start on PostgreSQL)
_SETTLE = (
    update(_journal)
    .where(_journal.c.batch_id == bindparam("b"), _journal.c.subscriber_id == bindparam("s"))
    .values(state=bindparam("state"), note=bindparam("note"))
)
