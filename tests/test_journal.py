"""The journal of SMTP batches: a sender stopped part way leaves only the messages in its hands
uncertain; the readers already mailed are not mailed again, the others are, automatically.

A real SMTP server (aiosmtpd on loopback) is the ground truth: it holds one message's answer
while the sender is killed (a real worker process, SIGKILL), found abandoned (its lease ran out)
or a reader unsubscribes; on SQLite and PostgreSQL.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from newsletter.audience.consent import unsubscribe
from newsletter.deliver.batches import claim_batch, delivery_problems, mark_abandoned, worker_id
from newsletter.deliver.outcomes import BatchOutcome
from newsletter.deliver.send import prepare_edition, send_claimed, send_edition
from newsletter.deliver.smtp import SMTPBackend
from newsletter.deliver.worker import run_worker
from newsletter.editions import get_edition
from newsletter.store.db import Store
from newsletter.store.models import (
    ConsentEvent,
    DeliveryBatch,
    JournalEntry,
    Membership,
    Subscriber,
    utcnow,
)

from .conftest import ROOT
from .support.smtpd import SMTPServer, smtp_server  # noqa: F401 (fixture)
from .test_editions import SECRET, _list, newsroom  # noqa: F401 (fixture)
from .test_worker import _dead_pid, _finish, _wait, worker_workspace
from .test_worker import _sending as worker_sending

READERS = 12


@pytest.fixture
def desk(newsroom, make_config):  # noqa: F811
    """The newsroom's configuration, sending by SMTP in batches of 6 (two batches)."""
    return make_config(
        web={"base_url": "https://news.example.org"},
        paths={"templates": str(ROOT / "templates")},
        delivery={"batch_size": 6, "backend": "smtp"},
    )


def _sending(store: Store, config) -> int:
    return worker_sending(store, config, READERS)


def _smtp(server: SMTPServer, pool_size: int = 1) -> SMTPBackend:
    return SMTPBackend("127.0.0.1", server.port, "none", timeout=10, pool_size=pool_size)


def _received(server: SMTPServer) -> Counter[str]:
    return Counter(rcpt for message in server.messages for rcpt in message.rcpt_tos)


def _batches(store: Store) -> list[tuple[int, str, list[str], int]]:
    """(number, status, addresses, sent_count) of every batch, in number order."""
    with store.session() as session:
        emails = dict(session.execute(select(Subscriber.id, Subscriber.email)).all())
        return [
            (b.number, b.status, sorted(emails[i] for i in b.recipients), b.sent_count)
            for b in session.scalars(select(DeliveryBatch).order_by(DeliveryBatch.number))
        ]


def _reader(n: int) -> str:
    return f"reader{n}@example.org"


def _readers(*numbers: int) -> list[str]:
    return sorted(map(_reader, numbers))


def _everyone_once() -> Counter[str]:
    return Counter({_reader(n): 1 for n in range(READERS)})


def test_a_worker_found_abandoned_mid_batch_leaves_only_the_message_in_hand_uncertain(
    store: Store, desk, smtp_server: SMTPServer  # noqa: F811
) -> None:
    """The sender is alive but its lease ran out while the server held its fourth message: the
    journal splits its batch (three sent, one uncertain, two to send again); once the server
    answers, the sender finds the batch is not its own any more and sends nothing more of it;
    a worker sends the two others. Every reader gets the edition once."""
    edition_id = _sending(store, desk)
    smtp_server.handler.hold_at = 3
    owner = worker_id("hung")
    outcome: list[BatchOutcome] = []

    def hung_sender() -> None:
        backend = _smtp(smtp_server)
        with store.session() as session:
            batch = claim_batch(session, owner)
            assert batch is not None and batch.number == 1
            prepared = prepare_edition(desk, _list(), get_edition(session, edition_id), backend)
            outcome.append(send_claimed(session, desk, prepared, batch, backend, SECRET, owner))
        backend.close()

    thread = threading.Thread(target=hung_sender)
    thread.start()
    assert smtp_server.handler.held.wait(15)
    with store.session() as session:
        assert session.scalar(select(DeliveryBatch.journaled).where(DeliveryBatch.number == 1))
        marked = mark_abandoned(session, lease=timedelta(0))  # its lease is over
        assert [(b.number, b.status) for b in marked] == [(3, "uncertain")]
        assert "1 message(s) in hand: reader3@example.org" in (marked[0].last_error or "")
    assert _batches(store) == [
        (1, "sent", _readers(0, 1, 2), 3),
        (2, "pending", _readers(*range(6, 12)), 0),
        (3, "uncertain", _readers(3), 0),
        (4, "pending", _readers(4, 5), 0),
    ]
    smtp_server.handler.release.set()
    thread.join(15)
    assert outcome[0].status == "lost"  # it found out at its next message, and stopped
    assert _received(smtp_server) == Counter({_reader(n): 1 for n in range(4)})

    backend = _smtp(smtp_server)
    report = run_worker(store, desk, backend, SECRET, once=True, lists=[_list()])
    backend.close()
    assert report.sent == 8 and not report.uncertain
    assert _received(smtp_server) == _everyone_once()
    with store.session() as session:
        assert get_edition(session, edition_id).status == "sending"  # one batch is uncertain
        [(number, status, reason)] = delivery_problems(session, edition_id)
        assert (number, status) == (3, "uncertain") and _reader(3) in reason
        assert session.scalar(select(JournalEntry.batch_id).limit(1)) is None  # all settled


def _workspace(tmp_path: Path, server: SMTPServer, db_url: str, pool_size: int) -> tuple[Path, dict[str, str]]:
    return worker_workspace(
        tmp_path, db_url,
        f'backend = "smtp"\nsmtp_host = "127.0.0.1"\nsmtp_port = {server.port}\nsmtp_security = "none"\n'
        f'smtp_timeout = 10\nsmtp_pool_size = {pool_size}\nbatch_size = 6\n',
    )


def _cli(config: Path, env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "newsletter.cli", "--config", str(config), *args],
        env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )


@pytest.mark.parametrize("pool_size", [1, 2])
@pytest.mark.parametrize("db_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_a_worker_killed_mid_batch_is_resumed_by_the_next_without_mailing_anyone_twice(
    store: Store, db_url: str, desk, tmp_path: Path, pool_size: int
) -> None:
    """SIGKILL while the SMTP server holds its answer to the third message (it has the whole
    message). The next worker sends the rest: every reader once, the held one included, and
    only the messages in hand (one per connection) are reported uncertain, by address."""
    edition_id = _sending(store, desk)
    with SMTPServer() as server:
        server.handler.hold_at = 2
        config, env = _workspace(tmp_path, server, db_url, pool_size)
        victim = _cli(config, env, "worker", "--poll", "0.1", "--once")
        assert server.handler.held.wait(20), _finish(victim, 5)
        [held] = server.messages[2].rcpt_tos
        victim.send_signal(signal.SIGKILL)
        _finish(victim)
        server.handler.release.set()
        _wait(lambda: len(server.messages) >= 3, "the held message to be accepted")
        code, output = _finish(_cli(config, env, "worker", "--poll", "0.1", "--once"), 30)
        assert code == 0, output
        received = _received(server)
        code, shown = _finish(_cli(config, env, "editions", "show", str(edition_id)))
    assert code == 0, shown
    batches = _batches(store)
    uncertain = [b for b in batches if b[1] == "uncertain"]
    assert len(uncertain) == 1 and {b[1] for b in batches} == {"sent", "uncertain"}, batches
    # one message per connection may have been in hand: the held one (the server has it), and
    # with two connections perhaps the other's, which may or may not have reached the server
    in_hand = uncertain[0][2]
    assert held in in_hand and len(in_hand) <= pool_size, in_hand
    assert received == _everyone_once() - Counter({a: 1 for a in in_hand if a not in received})
    assert sum(b[3] for b in batches) == READERS - len(in_hand)
    assert f"batch {uncertain[0][0]} uncertain" in shown
    assert all(address in shown for address in in_hand), shown


@pytest.mark.parametrize("db_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_a_reader_who_unsubscribes_while_the_batch_goes_out_is_not_mailed(
    store: Store, desk, smtp_server: SMTPServer  # noqa: F811
) -> None:
    edition_id = _sending(store, desk)
    smtp_server.handler.hold_at = 1
    reports = []

    def sender() -> None:
        backend = _smtp(smtp_server)
        with store.session() as session:
            reports.append(send_edition(session, desk, _list(), edition_id, backend, SECRET))
        backend.close()

    thread = threading.Thread(target=sender)
    thread.start()
    assert smtp_server.handler.held.wait(15)
    with store.session() as session:
        reader4 = session.scalar(select(Subscriber.id).where(Subscriber.email == _reader(4)))
        unsubscribe(session, reader4, "revue", origin="web")
        session.commit()
    smtp_server.handler.release.set()
    thread.join(30)
    [report] = reports
    assert report.sent == READERS - 1 and report.dropped == 1
    assert _received(smtp_server) == _everyone_once() - Counter({_reader(4): 1})
    assert [b[1] for b in _batches(store)] == ["sent", "sent"]


def test_a_dead_senders_journal_settles_each_reader_by_what_happened(store: Store, desk) -> None:
    """Accepted and refused stay sent (a 5.1.1 refusal bounces the reader), deferred and never
    started go again, in hand and uncertain are uncertain; the journal is then cleared."""
    edition_id = _sending(store, desk)
    with store.session() as session:
        ids = dict(session.execute(select(Subscriber.email, Subscriber.id)).all())
        batch = session.scalar(select(DeliveryBatch).where(DeliveryBatch.number == 1))
        owner = f"{socket.gethostname()}:{_dead_pid()}"
        batch.status, batch.claimed_by, batch.claimed_at, batch.journaled = "sending", owner, utcnow(), True
        for n, state, note in [
            (0, "sent", None), (1, "refused", "550 5.1.1 No such mailbox here"),
            (2, "deferred", "451 4.3.0 try later"), (3, "uncertain", "connection lost"),
            (4, "sending", None),
        ]:  # reader 5: never started
            session.add(JournalEntry(batch_id=batch.id, subscriber_id=ids[_reader(n)], state=state, note=note))
        session.commit()
        marked = mark_abandoned(session)
        assert [b.number for b in marked] == [3]
        assert f"worker {owner} died" in (marked[0].last_error or "")
        assert session.scalar(select(JournalEntry.batch_id).limit(1)) is None
        bounced = session.scalar(select(Membership.status).where(Membership.subscriber_id == ids[_reader(1)]))
        assert bounced == "bounced"
        assert session.scalar(select(ConsentEvent.origin).where(ConsentEvent.action == "bounce")) == "smtp"
    assert _batches(store) == [
        (1, "sent", _readers(0, 1), 1),
        (2, "pending", _readers(*range(6, 12)), 0),
        (3, "uncertain", _readers(3, 4), 0),
        (4, "pending", _readers(2, 5), 0),
    ]
    with store.session() as session:
        first = session.scalar(select(DeliveryBatch).where(DeliveryBatch.number == 1))
        assert not first.journaled
        assert "1 refused: reader1@example.org: 550 5.1.1" in (first.last_error or "")
        assert "moved to batch 3 (uncertain)" in (first.last_error or "")


def test_an_interrupted_send_keeps_what_went_and_puts_the_rest_back(
    store: Store, desk, smtp_server: SMTPServer, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    """Ctrl-C lands right after the third message was accepted: the sender records what it
    knows before it stops (three sent, nothing uncertain), and the next send mails the others."""
    from newsletter.deliver.journal import BatchJournal

    edition_id = _sending(store, desk)
    real_after = BatchJournal.after
    calls = []

    def interrupted_after(self, recipient, outcome, why):  # noqa: ANN001, ANN202
        real_after(self, recipient, outcome, why)
        calls.append(recipient.email)
        if len(calls) == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(BatchJournal, "after", interrupted_after)
    backend = _smtp(smtp_server)
    with store.session() as session, pytest.raises(KeyboardInterrupt):
        send_edition(session, desk, _list(), edition_id, backend, SECRET)
    assert _batches(store) == [
        (1, "sent", _readers(0, 1, 2), 3),
        (2, "pending", _readers(*range(6, 12)), 0),
        (3, "pending", _readers(3, 4, 5), 0),
    ]
    monkeypatch.setattr(BatchJournal, "after", real_after)
    with store.session() as session:
        report = send_edition(session, desk, _list(), edition_id, backend, SECRET)
        assert report.sent == READERS - 3 and get_edition(session, edition_id).status == "sent"
    backend.close()
    assert _received(smtp_server) == _everyone_once()


def test_a_sender_whose_batch_was_settled_without_it_records_nothing_over_it(
    store: Store, desk, smtp_server: SMTPServer  # noqa: F811
) -> None:
    """Its first reader deferred (450 until its tries ran out), its second held by the server,
    the sender's lease is judged over: the journal puts the first back and makes the second
    uncertain. The sender, alive, then has no message left to start: it must not record its
    own view over that (it had put the first one in a batch of its own: mailed twice)."""
    edition_id = _sending(store, desk)
    smtp_server.handler.defer[_reader(0)] = ["450 4.7.1 greylisted, try later", 2]
    smtp_server.handler.hold_at = 0  # the first message accepted: reader 1's
    with store.session() as session:  # one batch of two readers
        batch = session.scalar(select(DeliveryBatch).where(DeliveryBatch.number == 1))
        batch.recipients = batch.recipients[:2]
        batch.last_subscriber_id = batch.recipients[-1]
        session.query(DeliveryBatch).filter(DeliveryBatch.number != 1).delete()
        session.commit()
    owner, outcome = worker_id("late"), []

    def late_sender() -> None:
        backend = SMTPBackend("127.0.0.1", smtp_server.port, "none", timeout=10, max_attempts=2, backoff=0.05)
        with store.session() as session:
            claimed = claim_batch(session, owner, journaled=True)
            prepared = prepare_edition(desk, _list(), get_edition(session, edition_id), backend)
            outcome.append(send_claimed(session, desk, prepared, claimed, backend, SECRET, owner))
        backend.close()

    thread = threading.Thread(target=late_sender)
    thread.start()
    assert smtp_server.handler.held.wait(15)
    with store.session() as session:
        mark_abandoned(session, lease=timedelta(0))
    settled = _batches(store)
    smtp_server.handler.release.set()
    thread.join(15)
    assert outcome[0].status == "lost"
    assert _batches(store) == settled == [
        (1, "uncertain", _readers(1), 0), (2, "pending", _readers(0), 0),
    ]
    with store.session() as session:
        session.execute(update(DeliveryBatch).values(not_before=None))
        session.commit()
    backend = _smtp(smtp_server)
    run_worker(store, desk, backend, SECRET, once=True, lists=[_list()])
    backend.close()
    assert _received(smtp_server) == Counter({_reader(0): 1, _reader(1): 1})


def test_a_sender_dead_before_its_first_message_leaves_its_readers_to_the_next(store: Store, desk) -> None:
    """Claimed by an SMTP sender that died while it rendered the edition (no message started):
    its readers go again on their own, not one of them is uncertain."""
    _sending(store, desk)
    owner = f"{socket.gethostname()}:{_dead_pid()}"
    for _ in range(3):  # dead three times over: still no attempt of theirs counted
        with store.session() as session:
            batch = claim_batch(session, owner, journaled=True)
            assert batch is not None and batch.journaled and batch.number == 1
            assert mark_abandoned(session) == []
    assert [(b[0], b[1]) for b in _batches(store)] == [(1, "pending"), (2, "pending")]
    with store.session() as session:
        assert session.scalar(select(DeliveryBatch.attempts).where(DeliveryBatch.number == 1)) == 0


@pytest.mark.parametrize("db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_claims_and_leases_are_on_the_databases_clock(store: Store, desk, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two worker hosts whose clocks differ by an hour: the one ahead must not judge the
    other's fresh claim expired (on PostgreSQL, where workers on several hosts share a store)."""
    from newsletter.deliver import batches as batches_mod

    _sending(store, desk)
    with store.session() as session:
        claim_batch(session, worker_id("elsewhere"), journaled=True)
    monkeypatch.setattr(batches_mod, "utcnow", lambda: datetime.now(UTC) + timedelta(hours=1))
    with store.session() as session:
        assert mark_abandoned(session) == []
    assert [b[1] for b in _batches(store)] == ["sending", "pending"]


def test_resend_uncertain_resends_only_what_was_reported_uncertain(
    store: Store, desk, smtp_server: SMTPServer  # noqa: F811
) -> None:
    """A batch whose worker died unseen is found by the send itself: reported, not resent
    ('check the provider's activity first' was never said of it)."""
    edition_id = _sending(store, desk)
    with store.session() as session:
        first = session.scalar(select(DeliveryBatch).where(DeliveryBatch.number == 1))
        first.status, first.claimed_by, first.claimed_at = "sending", f"{socket.gethostname()}:{_dead_pid()}", utcnow()
        session.commit()
    backend = _smtp(smtp_server)
    with store.session() as session:
        report = send_edition(session, desk, _list(), edition_id, backend, SECRET, resend_uncertain=True)
    backend.close()
    assert report.requeued == [] and report.uncertain == [1]
    assert _received(smtp_server) == Counter({_reader(n): 1 for n in range(6, 12)})


def test_show_and_status_settle_a_dead_workers_batch_before_they_report(
    store: Store, desk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a crash and before any worker runs again, 'editions show' and 'status' said
    "sending" for a batch nobody sends; they settle it first, as the next worker would."""
    from click.testing import CliRunner

    from newsletter.cli import cli

    edition_id = _sending(store, desk)
    with store.session() as session:
        ids = dict(session.execute(select(Subscriber.email, Subscriber.id)).all())
        batch = session.scalar(select(DeliveryBatch).where(DeliveryBatch.number == 1))
        batch.status, batch.claimed_at, batch.journaled = "sending", utcnow(), True
        batch.claimed_by = f"{socket.gethostname()}:{_dead_pid()}"
        session.add(JournalEntry(batch_id=batch.id, subscriber_id=ids[_reader(0)], state="sent"))
        session.add(JournalEntry(batch_id=batch.id, subscriber_id=ids[_reader(1)], state="sending"))
        session.commit()
    config = tmp_path / "newsletter.toml"
    config.write_text(f'[paths]\ntemplates = "{ROOT / "templates"}"\nsubscribers = "{ROOT / "subscribers"}"\n')
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", store.url)
    monkeypatch.setattr("newsletter.cli.editions.edition_list", lambda config, edition: _list())
    shown = CliRunner().invoke(cli, ["--config", str(config), "editions", "show", str(edition_id)])
    assert shown.exit_code == 0, shown.output
    assert "sending" not in shown.output.split("Delivery:")[1].splitlines()[0]
    assert "batch 3 uncertain" in shown.output and _reader(1) in shown.output
    status = CliRunner().invoke(cli, ["--config", str(config), "status"])
    assert status.exit_code == 0, status.output
    assert "1 uncertain" in status.output and "1 sending" not in status.output


@pytest.mark.parametrize("meanwhile", ["sender found abandoned", "reader unsubscribed"])
def test_a_message_waiting_for_another_try_is_out_of_hand(
    store: Store, desk, smtp_server: SMTPServer, meanwhile: str  # noqa: F811
) -> None:
    """The server defers reader 0 (450) and the sender waits before trying again: meanwhile the
    journal says 'deferred', not 'in hand'. A sender found dead then leaves reader 0 to be sent
    again (not uncertain: the server never took it); a reader who unsubscribes then is not
    mailed when the wait is over."""
    edition_id = _sending(store, desk)
    smtp_server.handler.defer[_reader(0)] = ["450 4.7.1 greylisted, try later", 1]
    owner, outcome, states = worker_id("waiting"), [], []

    def wait(seconds: float) -> None:  # the backoff: what the journal says, and what happens
        with store.session() as session:
            states.append(session.scalar(select(JournalEntry.state)))
            if meanwhile == "sender found abandoned":
                mark_abandoned(session, lease=timedelta(0))
            else:
                reader0 = session.scalar(select(Subscriber.id).where(Subscriber.email == _reader(0)))
                unsubscribe(session, reader0, "revue", origin="web")
                session.commit()

    backend = SMTPBackend("127.0.0.1", smtp_server.port, "none", timeout=10, sleep=wait)
    with store.session() as session:
        batch = claim_batch(session, owner, journaled=True)
        prepared = prepare_edition(desk, _list(), get_edition(session, edition_id), backend)
        outcome.append(send_claimed(session, desk, prepared, batch, backend, SECRET, owner))
    backend.close()
    assert states == ["deferred"]
    if meanwhile == "sender found abandoned":
        assert outcome[0].status == "lost" and _received(smtp_server) == Counter()
        assert [(b[0], b[1], b[2]) for b in _batches(store)] == [
            (1, "pending", _readers(0, 1, 2, 3, 4, 5)), (2, "pending", _readers(*range(6, 12))),
        ]
        backend = _smtp(smtp_server)
        run_worker(store, desk, backend, SECRET, once=True, lists=[_list()])
        backend.close()
        assert _received(smtp_server) == _everyone_once()
    else:
        assert outcome[0].status == "sent" and outcome[0].dropped == 1
        assert _received(smtp_server) == Counter({_reader(n): 1 for n in range(1, 6)})
