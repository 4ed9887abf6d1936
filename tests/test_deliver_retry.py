"""Batches retried later on SQLite and PostgreSQL: temporary failures come back after their
``not_before``, permanent ones stay failed, part-sent batches are split so nobody is mailed twice.

The fake SendGrid injects 500s, 503s, 429s and 400s per batch; aiosmtpd on loopback throttles
the sender part way through a batch or loses the connection after a message was handed over.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from click.testing import CliRunner
from sqlalchemy import inspect, select

from newsletter.cli import cli
from newsletter.deliver.batches import MAX_RETRY_WAIT, Part, claim_batch, retry_wait, split_batch, worker_id
from newsletter.deliver.message import BatchResult, MailBatch
from newsletter.deliver.send import send_edition
from newsletter.deliver.smtp import SMTPBackend
from newsletter.deliver.worker import run_worker
from newsletter.editions import get_edition
from newsletter.store.db import Store, _alembic_config, make_engine
from newsletter.store.models import DeliveryBatch, Subscriber, utcnow

from .conftest import ROOT
from .support.fake_sendgrid import FakeSendGrid, fake_sendgrid  # noqa: F401 (fixture)
from .support.smtpd import SMTPServer, smtp_server  # noqa: F401 (fixture)
from .test_editions import SECRET, _list, newsroom  # noqa: F401 (fixture)
from .test_worker import BATCH, READERS, _cli_worker, _finish, _received, _sending, _sendgrid, _workspace

BACKOFF = 0.05  # seconds before a batch's second attempt: the tests wait for real, briefly


@pytest.fixture
def desk(newsroom, make_config):  # noqa: F811
    """The newsroom with batches of five and quick retries."""
    return make_config(
        web={"base_url": "https://news.example.org"},
        paths={"templates": str(ROOT / "templates")},
        delivery={"batch_size": BATCH, "batch_retry_backoff": BACKOFF, "batch_max_attempts": 3},
    )


def _batches(store: Store) -> dict[int, DeliveryBatch]:
    with store.session() as session:
        return {b.number: b for b in session.scalars(select(DeliveryBatch).order_by(DeliveryBatch.number))}


def _ids(store: Store) -> dict[int, int]:
    return {number: b.id for number, b in _batches(store).items()}


def _emails(store: Store) -> dict[int, str]:
    with store.session() as session:
        return dict(session.execute(select(Subscriber.id, Subscriber.email)).all())


def _editions_show(store: Store, tmp_path: Path, monkeypatch, edition_id: int, *options: str):  # noqa: ANN001, ANN202
    """`newsletter editions show EDITION_ID [OPTIONS]` over STORE, as an editor runs it."""
    config = tmp_path / "newsletter.toml"
    config.write_text(f'[paths]\ntemplates = "{ROOT / "templates"}"\n')
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", store.url)
    monkeypatch.setattr("newsletter.cli.editions.edition_list", lambda config, edition: _list())
    shown = CliRunner().invoke(cli, ["--config", str(config), "editions", "show", str(edition_id), *options])
    assert shown.exit_code == 0, shown.output
    return shown


class Watching:
    """A backend that notes, as each call starts, the batch's ``not_before`` and the time."""

    name = "watching"

    def __init__(self, inner: Any, store: Store) -> None:
        self.inner, self.store = inner, store
        self.calls: list[tuple[int, Any, Any]] = []  # (batch id, not_before, now)

    def send_batch(self, batch: MailBatch) -> BatchResult:
        with self.store.session() as session:
            row = session.get(DeliveryBatch, batch.batch_id)
            assert row is not None
            self.calls.append((batch.batch_id, row.not_before, utcnow()))
        return self.inner.send_batch(batch)

    def close(self) -> None:
        self.inner.close()


# -- SendGrid: 5xx, then success ------------------------------------------------------------


def test_a_batch_answered_500_is_retried_later_by_the_worker_then_sent(store: Store, desk, fake_sendgrid) -> None:  # noqa: F811
    edition_id = _sending(store, desk)
    ids = _ids(store)
    fake_sendgrid.fail_batch(ids[1], 500, times=2)  # two whole calls fail, the third goes through
    fake_sendgrid.fail_batch(ids[4], 503, "Service Unavailable", times=1)
    backend = Watching(_sendgrid(fake_sendgrid), store)  # one request per call: no in-call retry
    backend.inner.max_attempts = 1
    report = run_worker(store, desk, backend, SECRET, once=True, lists=[_list()])

    assert report.sent == READERS and report.retries == 3 and report.editions_sent == [edition_id]
    assert set(_received(fake_sendgrid).values()) == {1} and len(_received(fake_sendgrid)) == READERS
    batches = _batches(store)
    assert {b.status for b in batches.values()} == {"sent"} and len(batches) == READERS // BATCH
    assert (batches[1].attempts, batches[4].attempts, batches[2].attempts) == (3, 2, 1)
    # the first failed call went before anything else; its retries only once they were due
    statuses = [(b, s) for b, s, _ in fake_sendgrid.log if b == ids[1]]
    assert statuses == [(ids[1], 500), (ids[1], 500), (ids[1], 202)]
    retried = [(not_before, now) for batch_id, not_before, now in backend.calls if not_before is not None]
    assert len(retried) == 3 and all(now >= not_before for not_before, now in retried)
    with store.session() as session:
        assert get_edition(session, edition_id).status == "sent"


def test_retries_are_bounded_then_the_batch_fails_with_the_last_reason(store: Store, desk, fake_sendgrid, tmp_path: Path, monkeypatch) -> None:  # noqa: F811
    edition_id = _sending(store, desk)
    ids = _ids(store)
    fake_sendgrid.fail_batch(ids[2], 503, "Service Unavailable", times=None)  # down for this batch
    backend = _sendgrid(fake_sendgrid)
    backend.max_attempts = 1
    report = run_worker(store, desk, backend, SECRET, once=True, lists=[_list()])

    assert report.sent == READERS - BATCH and len(report.failed) == 1
    assert [s for b, s, _ in fake_sendgrid.log if b == ids[2]] == [503, 503, 503]  # batch_max_attempts
    failed = _batches(store)[2]
    assert (failed.status, failed.attempts, failed.sent_count) == ("failed", 3, 0)
    assert failed.last_error.startswith("gave up after 3 attempts: SendGrid answered 503")
    assert "Service Unavailable" in failed.last_error

    # editions show: the failure and its reason
    shown = _editions_show(store, tmp_path, monkeypatch, edition_id)
    assert "failed 1" in shown.output and "sent 7" in shown.output
    assert "batch 2 failed: gave up after 3 attempts: SendGrid answered 503" in shown.output

    # SendGrid is back: the editor's send retries the failed batch, with attempts of its own
    emails = _emails(store)
    fake_sendgrid.clear_faults()
    with store.session() as session:
        again = send_edition(session, desk, _list(), edition_id, backend, SECRET)
        assert again.sent == BATCH and again.failed == [] and get_edition(session, edition_id).status == "sent"
    assert _batches(store)[2].attempts == 1
    assert _received(fake_sendgrid) == Counter({e: 1 for e in emails.values()})


def test_a_400_fails_at_once_with_sendgrids_reason_and_is_not_retried(store: Store, desk, fake_sendgrid) -> None:  # noqa: F811
    _sending(store, desk)
    ids = _ids(store)
    fake_sendgrid.fail_batch(ids[3], 400, "The from address does not match a verified Sender Identity.")
    report = run_worker(store, desk, _sendgrid(fake_sendgrid), SECRET, once=True, lists=[_list()])
    assert report.retries == 0 and len(report.failed) == 1
    assert [s for b, s, _ in fake_sendgrid.log if b == ids[3]] == [400]
    batch = _batches(store)[3]
    assert (batch.status, batch.attempts, batch.not_before) == ("failed", 1, None)
    assert "(400): The from address does not match a verified Sender Identity." in batch.last_error


def test_a_rate_limit_reset_beyond_the_call_is_kept_by_the_ledger(store: Store, desk, fake_sendgrid, tmp_path: Path, monkeypatch) -> None:  # noqa: F811
    edition_id = _sending(store, desk)
    ids = _ids(store)
    fake_sendgrid.fail_batch(ids[1], 429, headers={"Retry-After": "3600"})  # longer than a call waits
    before = utcnow()
    with store.session() as session:
        report = send_edition(
            session, desk, _list(), edition_id, _sendgrid(fake_sendgrid), SECRET, wait_for_retries=False,
        )  # fmt: skip
    assert report.sent == READERS - BATCH and report.failed == [] and report.retries == 1
    assert len(report.retrying) == 1 and report.retrying[0].startswith("batch 1: next attempt after ")
    assert [s for b, s, _ in fake_sendgrid.log if b == ids[1]] == [429]  # no second request yet
    batch = _batches(store)[1]
    assert batch.status == "pending" and batch.not_before - before >= timedelta(seconds=3600)

    shown = _editions_show(store, tmp_path, monkeypatch, edition_id)
    assert "retrying 1" in shown.output and "sent 7" in shown.output
    when = f"{batch.not_before:%Y-%m-%d %H:%M:%S} UTC"
    assert f"batch 1 retrying: next attempt after {when}: attempt 1 of 3 failed: SendGrid answered 429" in shown.output
    listed = _editions_show(store, tmp_path, monkeypatch, edition_id, "--format", "json")
    assert '"retrying": 1' in listed.output


def test_the_wait_doubles_is_capped_and_yields_to_the_services_reset() -> None:
    assert retry_wait(60, 1, jitter=1.0) == timedelta(seconds=60)
    assert retry_wait(60, 3, jitter=1.0) == timedelta(seconds=240)
    assert retry_wait(60, 20, jitter=1.0) == MAX_RETRY_WAIT
    assert retry_wait(60, 1, asked=7200, jitter=1.0) == timedelta(seconds=7200)  # the reset wins
    assert all(timedelta(seconds=45) <= retry_wait(60, 1) <= timedelta(seconds=75) for _ in range(50))


@pytest.mark.parametrize(
    ("db_url", "workers"), [("sqlite", 1), pytest.param("postgres", 2, marks=pytest.mark.postgres)],
    indirect=["db_url"],
)
def test_worker_processes_retry_500s_and_mail_everyone_once(store: Store, db_url: str, workers: int, desk, tmp_path: Path) -> None:
    edition_id = _sending(store, desk)
    ids = _ids(store)
    emails = _emails(store)
    with FakeSendGrid() as fake:
        for number in (1, 3, 6):
            fake.fail_batch(ids[number], 500, times=2)
        config, env = _workspace(tmp_path, fake, db_url)
        with config.open("a") as f:  # the [delivery] table is the file's last
            f.write(f"sendgrid_max_attempts = 1\nbatch_retry_backoff = {BACKOFF}\nbatch_max_attempts = 3\n")
        procs = [_cli_worker(config, env, "--once") for _ in range(workers)]
        outputs = []
        for proc in procs:
            code, output = _finish(proc, 60)
            assert code == 0, output
            outputs.append(output)
        received = _received(fake)
        failures = Counter(b for b, status, _ in fake.log if status == 500)
    assert received == Counter({e: 1 for e in emails.values()})
    assert failures == Counter({ids[1]: 2, ids[3]: 2, ids[6]: 2})
    assert sum("retrying (next attempt after" in output for output in outputs) >= 1
    batches = _batches(store)
    assert {b.status for b in batches.values()} == {"sent"} and len(batches) == READERS // BATCH
    assert [batches[n].attempts for n in (1, 3, 6)] == [3, 3, 3]
    with store.session() as session:
        assert get_edition(session, edition_id).status == "sent"


# -- SMTP: part of a batch went out ---------------------------------------------------------


def _smtp(server: SMTPServer) -> SMTPBackend:
    return SMTPBackend("127.0.0.1", server.port, "none", timeout=5, sleep=lambda _: None)


def test_smtp_throttled_part_way_sends_only_the_rest_later(store: Store, desk, smtp_server) -> None:  # noqa: F811
    edition_id = _sending(store, desk)
    emails = _emails(store)
    handler = smtp_server.handler
    throttled = []

    async def throttle(server: object, session: object, envelope: Any, address: str, options: list[str]) -> str:
        if len(handler.messages) == 3 and len(throttled) < 3:  # after 3 messages, 3 deferrals
            throttled.append(address)
            return "451 4.7.1 Rate limit exceeded, try again later"
        envelope.mail_from = address
        return "250 OK"

    handler.handle_MAIL = throttle  # type: ignore[attr-defined]
    backend = _smtp(smtp_server)
    try:
        report = run_worker(store, desk, backend, SECRET, once=True, lists=[_list()])
    finally:
        backend.close()
    assert len(throttled) == 3 and report.retries == 1 and report.sent == READERS
    received = Counter(r for m in smtp_server.messages for r in m.rcpt_tos)
    assert received == Counter({e: 1 for e in emails.values()})  # nobody twice, nobody left out
    batches = _batches(store)
    assert len(batches) == READERS // BATCH + 1 and {b.status for b in batches.values()} == {"sent"}
    first, rest = batches[1], batches[READERS // BATCH + 1]
    assert (first.sent_count, len(first.recipients)) == (3, 3)
    assert first.last_error == "2 moved to batch 9 (retrying)"
    assert (rest.sent_count, len(rest.recipients), rest.attempts) == (2, 2, 2)
    assert not set(first.recipients) & set(rest.recipients)
    with store.session() as session:
        assert get_edition(session, edition_id).status == "sent"


def test_smtp_message_lost_after_hand_over_is_split_off_as_uncertain(store: Store, desk, smtp_server, tmp_path: Path) -> None:  # noqa: F811
    edition_id = _sending(store, desk)
    emails = _emails(store)
    handler = smtp_server.handler
    original = handler.handle_DATA

    async def taken_then_lost(server: Any, session: object, envelope: object) -> str:
        status = await original(server, session, envelope)
        if len(handler.messages) == 2:  # delivered, but the answer never reaches us
            server.transport.close()
        return status

    handler.handle_DATA = taken_then_lost  # type: ignore[method-assign]
    backend = _smtp(smtp_server)
    try:
        report = run_worker(store, desk, backend, SECRET, once=True, lists=[_list()])
    finally:
        backend.close()
    lost = smtp_server.messages[1].rcpt_tos[0]
    assert report.sent == READERS - 1 and report.uncertain == [f"edition {edition_id} batch 9"]
    batches = _batches(store)
    uncertain = batches[9]
    assert (uncertain.status, [emails[i] for i in uncertain.recipients]) == ("uncertain", [lost])
    assert "may or may not have been delivered" in uncertain.last_error
    assert batches[1].status == "sent" and batches[1].sent_count == BATCH - 1
    assert Counter(r for m in smtp_server.messages for r in m.rcpt_tos) == Counter({e: 1 for e in emails.values()})

    # the editor resends the uncertain: exactly that one reader, once more
    backend = _smtp(smtp_server)
    try:
        with store.session() as session:
            again = send_edition(session, desk, _list(), edition_id, backend, SECRET, resend_uncertain=True)
    finally:
        backend.close()
    assert (again.requeued, again.sent) == ([9], 1)
    assert [r for m in smtp_server.messages[READERS:] for r in m.rcpt_tos] == [lost]


def test_smtp_server_down_retries_the_whole_batch_then_fails(store: Store, make_config, newsroom) -> None:  # noqa: F811
    from .support.smtpd import free_port

    config = make_config(
        web={"base_url": "https://news.example.org"}, paths={"templates": str(ROOT / "templates")},
        delivery={"batch_size": 40, "batch_retry_backoff": BACKOFF, "batch_max_attempts": 2},
    )  # fmt: skip
    edition_id = _sending(store, config)  # one batch
    backend = SMTPBackend("127.0.0.1", free_port(), "none", timeout=2)  # connection refused
    with store.session() as session:
        report = send_edition(session, config, _list(), edition_id, backend, SECRET)
    assert report.sent == 0 and report.retries == 1 and len(report.failed) == 1
    assert "batch 1: gave up after 2 attempts: cannot connect to the SMTP server" in report.failed[0]
    batch = _batches(store)[1]
    assert (batch.status, batch.attempts, len(batch.recipients)) == ("failed", 2, READERS)


def test_two_splits_at_once_take_different_numbers(store: Store, desk) -> None:
    """Two workers splitting batches of one edition at the same moment (row locks on PostgreSQL)."""
    _sending(store, desk)
    got: dict[str, list[int] | None] = {}
    start = threading.Barrier(2)

    def splitter(tag: str) -> None:
        with store.session() as session:
            batch = claim_batch(session, worker_id(tag))
            assert batch is not None
            start.wait()
            keep, rest = batch.recipients[:2], batch.recipients[2:]
            got[tag] = split_batch(
                session, batch, worker_id(tag), Part(keep, "sent", sent_count=2),
                [Part(rest[:1], "uncertain", last_error="lost"), Part(rest[1:], "pending", not_before=utcnow())],
            )

    threads = [threading.Thread(target=splitter, args=(tag,)) for tag in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    numbers = sorted(n for moved in got.values() for n in moved or [])
    assert numbers == [9, 10, 11, 12]
    batches = _batches(store)
    recipients = [i for b in batches.values() for i in b.recipients]
    assert len(recipients) == len(set(recipients)) == READERS  # every reader in exactly one batch
    assert sorted(b.status for b in batches.values() if b.number > 8) == ["pending", "pending", "uncertain", "uncertain"]


# -- the migration -------------------------------------------------------------------------


def test_revision_0006_adds_and_removes_not_before(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        config = _alembic_config(engine)
        command.upgrade(config, "head")
        assert "not_before" in {c["name"] for c in inspect(engine).get_columns("delivery_batches")}
        command.downgrade(config, "0005")
        assert "not_before" not in {c["name"] for c in inspect(engine).get_columns("delivery_batches")}
        command.upgrade(config, "head")
        assert "not_before" in {c["name"] for c in inspect(engine).get_columns("delivery_batches")}
    finally:
        engine.dispose()


def test_the_daemon_leaves_a_retry_pending_and_its_check_sends_it_when_due(store: Store, desk, fake_sendgrid) -> None:  # noqa: F811
    """The daemon's send never sleeps through an outage; the held:<list> check resumes it."""
    import dataclasses
    import time

    from newsletter.jobs import resume_sending
    from newsletter.report import recent_editions

    # a backoff longer than the rest of the send: the retry is not yet due when it ends
    desk = dataclasses.replace(desk, delivery=dataclasses.replace(desk.delivery, batch_retry_backoff=1.0))
    edition_id = _sending(store, desk)
    ids = _ids(store)
    fake_sendgrid.fail_batch(ids[2], 500, times=1)
    backend = _sendgrid(fake_sendgrid)
    backend.max_attempts = 1
    with store.session() as session:
        report = send_edition(session, desk, _list(), edition_id, backend, SECRET, wait_for_retries=False)
        assert report.retrying and report.sent == READERS - BATCH
        assert get_edition(session, edition_id).status == "sending"
        (state,) = recent_editions(session, ids=[edition_id])  # what `newsletter status` prints
        assert state.batches == {"sent": READERS // BATCH - 1, "retrying": 1}
    time.sleep(1.5)  # past the not_before (1 s, jitter ±25 %): the batch is due
    with store.session() as session:
        (result,) = resume_sending(session, desk, _list(), backend=backend, secret=SECRET)
        assert (result.outcome, result.messages, result.notes) == ("resumed", BATCH, [])
        assert get_edition(session, edition_id).status == "sent"
        assert resume_sending(session, desk, _list(), backend=backend, secret=SECRET) == []
    assert set(_received(fake_sendgrid).values()) == {1} and len(_received(fake_sendgrid)) == READERS
