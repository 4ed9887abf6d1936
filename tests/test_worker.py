"""Delivery workers on SQLite and PostgreSQL: claims, graceful stop, dead owners, crashes.

The last part (``test_crash_*``) runs real worker processes against the fake SendGrid on
loopback, SIGKILLs one at a chosen point and restarts a worker; the fake's record of accepted
requests is the ground truth.
"""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text

from newsletter.cli import cli
from newsletter.deliver.message import BatchResult, MailBatch
from newsletter.deliver.batches import (
    claim_batch,
    delivery_problems,
    mark_abandoned,
    renew_claim,
    requeue_uncertain,
    worker_id,
)
from newsletter.deliver.send import send_edition, start_sending
from newsletter.deliver.sendgrid import SendGridBackend
from newsletter.deliver.smtp import SMTPBackend
from newsletter.audience import lists as lists_mod
from newsletter.deliver.worker import run_worker
from newsletter.editions import approve, build_edition, get_edition
from newsletter.errors import DeliveryAuthError
from newsletter.store.db import Store
from newsletter.store.models import DeliveryBatch, Subscriber, utcnow

from .conftest import ROOT
from .support.fake_sendgrid import FakeSendGrid, fake_sendgrid  # noqa: F401 (fixture)
from .support.smtpd import smtp_server  # noqa: F401 (fixture)
from .test_editions import DAY, SECRET, _list, _members, newsroom  # noqa: F401 (fixture)

READERS, BATCH = 40, 5  # eight batches


@pytest.fixture
def desk(newsroom, make_config):  # noqa: F811
    """The newsroom's configuration with small batches."""
    return make_config(
        web={"base_url": "https://news.example.org"},
        paths={"templates": str(ROOT / "templates")},
        delivery={"batch_size": BATCH},
    )


def _sending(store: Store, config, readers: int = READERS) -> int:
    """An approved edition of READERS readers, planned in batches and marked sending."""
    _members(store, readers)
    with store.session() as session:
        edition = build_edition(session, _list(), DAY)
        approve(edition)
        session.commit()
        start_sending(session, config, edition)
        return edition.id


def _edition_id(session) -> int:  # noqa: ANN001
    return session.scalars(select(DeliveryBatch.edition_id)).first()


def _statuses(store: Store) -> dict[int, str]:
    with store.session() as session:
        return {b.number: b.status for b in session.scalars(select(DeliveryBatch).order_by(DeliveryBatch.number))}


def _emails_by_batch(store: Store) -> dict[int, set[str]]:
    with store.session() as session:
        emails = dict(session.execute(select(Subscriber.id, Subscriber.email)).all())
        return {
            b.id: {emails[i] for i in b.recipients}
            for b in session.scalars(select(DeliveryBatch))
        }


def _received(fake: FakeSendGrid) -> Counter[str]:
    return Counter(p["to"][0]["email"] for a in fake.accepted for p in a.payload["personalizations"])


def _sendgrid(fake: FakeSendGrid) -> SendGridBackend:
    return SendGridBackend(fake.api_key, host=fake.url, timeout=5)


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


# -- claims ----------------------------------------------------------------------------------


def test_two_claimers_never_get_the_same_batch(store: Store, desk) -> None:
    _sending(store, desk)
    got: dict[str, list[int]] = {"a": [], "b": []}
    start = threading.Barrier(2)

    def claimer(tag: str) -> None:
        start.wait()
        with store.session() as session:
            while (batch := claim_batch(session, worker_id(tag))) is not None:
                got[tag].append(batch.id)

    threads = [threading.Thread(target=claimer, args=(tag,)) for tag in got]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not set(got["a"]) & set(got["b"])
    assert len(got["a"]) + len(got["b"]) == READERS // BATCH
    with store.session() as session:
        batches = session.scalars(select(DeliveryBatch)).all()
        assert {b.status for b in batches} == {"sending"}
        assert all(b.claimed_by in (worker_id("a"), worker_id("b")) and b.attempts == 1 for b in batches)


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_postgres_claim_skips_a_locked_batch_without_waiting(store: Store, desk) -> None:
    _sending(store, desk)
    with store.session() as holder, store.session() as claimer:
        holder.execute(select(DeliveryBatch).where(DeliveryBatch.number == 1).with_for_update())
        claimer.execute(text("SET lock_timeout = '3s'"))  # waiting would fail, not hang
        batch = claim_batch(claimer, worker_id("b"))
        assert batch is not None and batch.number == 2
        holder.rollback()


# -- the lease: a claim renewed while its batch is sent -----------------------------------------


def test_a_renewed_claim_is_not_abandoned_until_its_renewals_stop(store: Store, desk) -> None:
    _sending(store, desk)
    owner, lease = "elsewhere:7", timedelta(minutes=10)  # another host: only the lease can tell
    with store.session() as session:
        batch = claim_batch(session, owner)
        t0 = batch.claimed_at
        # a batch sent for 23 minutes, its claim renewed every lease / 3
        for minutes in (3, 6, 9, 12):
            assert renew_claim(session, batch.id, owner, now=t0 + timedelta(minutes=minutes))
            assert mark_abandoned(session, lease=lease, now=t0 + timedelta(minutes=minutes + 3)) == []
        assert not renew_claim(session, batch.id, "elsewhere:8")  # not its claim to renew
        # the renewals stop (the owner hung, or lost the database): a lease later it is uncertain
        assert mark_abandoned(session, lease=lease, now=t0 + timedelta(minutes=21)) == []
        [lost] = mark_abandoned(session, lease=lease, now=t0 + timedelta(minutes=23))
        assert lost.id == batch.id and lost.status == "uncertain"
        assert "not renewed for more than 0:10:00" in lost.last_error
        assert not renew_claim(session, batch.id, owner)  # an uncertain batch stays uncertain
        requeue_uncertain(session, lost.edition_id)
        assert not renew_claim(session, batch.id, owner)  # put back: anyone's to claim
        assert session.get(DeliveryBatch, batch.id, populate_existing=True).status == "pending"


class _LongBatch:
    """A backend whose first batch lasts until its claim was renewed past half a lease, then
    checks that nobody calls it abandoned a lease after it was claimed."""

    name = "long"

    def __init__(self, store: Store, lease: timedelta) -> None:
        self.store, self.lease = store, lease
        self.claimed_at: list[object] = []
        self.abandoned: list[DeliveryBatch] | None = None

    def send_batch(self, batch: MailBatch) -> BatchResult:
        if self.abandoned is None:
            with self.store.session() as session:
                first = session.get(DeliveryBatch, batch.batch_id).claimed_at
                latest = first
                for _ in range(600):  # 30 s at most: the renewer runs every lease / 3
                    if latest - first > self.lease / 2:
                        break
                    time.sleep(0.05)
                    latest = session.get(DeliveryBatch, batch.batch_id, populate_existing=True).claimed_at
                    session.commit()
                self.claimed_at = [first, latest]
                # judged by the last renewal: under the old rule (claimed more than a lease
                # ago) this moment would make the batch uncertain
                self.abandoned = mark_abandoned(session, lease=self.lease, now=latest + self.lease / 2)
        return BatchResult(sent=len(batch.recipients))

    def close(self) -> None:
        pass


def test_the_worker_renews_its_claim_while_a_long_batch_is_sent(store: Store, desk) -> None:
    edition_id = _sending(store, desk)
    lease = timedelta(seconds=0.6)
    backend = _LongBatch(store, lease)
    report = run_worker(store, desk, backend, SECRET, once=True, lists=[_list()], lease=lease)
    first, latest = backend.claimed_at
    assert latest - first > lease / 2 and latest + lease / 2 > first + lease  # renewed
    assert backend.abandoned == []
    assert (report.batches, report.sent, report.uncertain) == (8, READERS, [])
    with store.session() as session:
        assert get_edition(session, edition_id).status == "sent"


def test_two_workers_and_a_slow_smtp_server_mail_every_reader_once(store: Store, desk, smtp_server) -> None:  # noqa: F811
    """The operator's case, shortened: worker A sends an edition's only batch for longer than
    the lease, worker B idles and the editor resends whatever is called uncertain."""
    import asyncio

    _members(store, BATCH)  # one batch
    with store.session() as session:
        edition = build_edition(session, _list(), DAY)
        approve(edition)
        session.commit()
        start_sending(session, desk, edition)
        edition_id = edition.id
    delay, lease = 1.0, timedelta(seconds=3)  # 5 messages of 1 s: the batch outlasts its lease
    collector = smtp_server.handler
    accept = collector.handle_DATA

    async def slow_data(server, session, envelope):
        await asyncio.sleep(delay)
        return await accept(server, session, envelope)

    collector.handle_DATA = slow_data
    reports = {}

    def work(tag: str, **kw) -> None:
        backend = SMTPBackend("127.0.0.1", smtp_server.port, "none")
        try:
            reports[tag] = run_worker(
                store, desk, backend, SECRET, lists=[_list()], worker=worker_id(tag), lease=lease,
                poll_seconds=0.1, **kw,
            )
        finally:
            backend.close()

    a = threading.Thread(target=work, args=("a",), kwargs={"once": True})
    a.start()
    for _ in range(200):
        if _statuses(store) == {1: "sending"}:
            break
        time.sleep(0.05)
    assert _statuses(store) == {1: "sending"}
    stop_b = threading.Event()
    b = threading.Thread(target=work, args=("b",), kwargs={"stop": stop_b})
    b.start()
    resent = []
    while a.is_alive():  # the editor follows `editions show`: resend what is uncertain
        with store.session() as session:
            resent += requeue_uncertain(session, edition_id)
        a.join(0.1)
    time.sleep(0.3)  # B has polled again after A finished
    stop_b.set()
    b.join(30)
    received = Counter(address for m in smtp_server.messages for address in m.rcpt_tos)
    assert received == Counter({f"reader{i}@example.org": 1 for i in range(BATCH)})
    assert resent == [] and reports["a"].uncertain == reports["b"].uncertain == []
    assert (reports["a"].sent, reports["b"].sent) == (BATCH, 0)
    assert _statuses(store) == {1: "sent"}
    with store.session() as session:
        assert get_edition(session, edition_id).status == "sent"


# -- the worker in this process ----------------------------------------------------------------


def test_worker_sends_every_batch_once_then_the_edition_is_sent(store: Store, desk, fake_sendgrid) -> None:  # noqa: F811
    edition_id = _sending(store, desk)
    report = run_worker(store, desk, _sendgrid(fake_sendgrid), SECRET, once=True, lists=[_list()])
    again = run_worker(store, desk, _sendgrid(fake_sendgrid), SECRET, once=True, lists=[_list()])
    assert (report.batches, report.sent, again.batches) == (8, READERS, 0)
    assert set(_received(fake_sendgrid).values()) == {1} and len(_received(fake_sendgrid)) == READERS
    with store.session() as session:
        assert get_edition(session, edition_id).status == "sent"


LISTS_TOML = (
    '[[lists]]\nslug = "revue"\nname = "Revue de presse"\nlanguage = "fr"\ntags = ["eco", "sport"]\n'
    'from_name = "{sender}"\nfrom_address = "revue@example.org"\nmax_items = 20\n'
)


@pytest.mark.parametrize(("change", "sender"), [("edited", "La Revue du matin"), ("broken", "Revue")])
def test_a_running_worker_reads_the_lists_again_for_each_edition(
    store: Store, desk, make_config, fake_sendgrid, tmp_path: Path, change: str, sender: str,  # noqa: F811
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """lists.toml edited after the worker started: the next edition goes out as it says now. A
    file broken at that moment (being edited) leaves the lists read before, with a warning."""
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "lists.toml").write_text(LISTS_TOML.format(sender="Revue"))
    config = make_config(
        web={"base_url": "https://news.example.org"},
        paths={"templates": str(ROOT / "templates"), "subscribers": str(subs)},
        delivery={"batch_size": BATCH},
    )
    stop, reports, started = threading.Event(), [], threading.Event()

    def load_lists(path: Path) -> list:
        lists = lists_mod.load_lists(path)
        started.set()
        return lists

    monkeypatch.setattr("newsletter.deliver.worker.load_lists", load_lists)
    worker = threading.Thread(target=lambda: reports.append(run_worker(
        store, config, _sendgrid(fake_sendgrid), SECRET, poll_seconds=0.05, stop=stop,
    )))
    worker.start()
    try:
        assert started.wait(10)  # the worker has read the lists as they were
        edited = LISTS_TOML.format(sender=sender) if change == "edited" else "[[lists]\nslug = "
        (subs / "lists.toml").write_text(edited)
        edition_id = _sending(store, desk)
        _wait(lambda: len(fake_sendgrid.accepted) == READERS // BATCH, "every batch to be sent")
    finally:
        stop.set()
        worker.join(15)
    assert reports[0].editions_sent == [edition_id] and not reports[0].failed
    assert {a.payload["from"]["name"] for a in fake_sendgrid.accepted} == {sender}
    warned = [r.getMessage() for r in caplog.records if "the lists read before are used" in r.getMessage()]
    assert bool(warned) == (change == "broken") and all("lists.toml" in w for w in warned)


class _StopAfterThisOne:
    """A backend that asks the worker to stop while its first batch is in the provider call."""

    name = "stopper"

    def __init__(self, inner: SendGridBackend, stop: threading.Event) -> None:
        self.inner, self.stop = inner, stop

    def send_batch(self, batch: MailBatch) -> BatchResult:
        self.stop.set()  # as SIGTERM does, in the middle of the call
        return self.inner.send_batch(batch)

    def close(self) -> None:
        pass


def test_stop_finishes_the_batch_in_hand_and_leaves_the_rest(store: Store, desk, fake_sendgrid) -> None:  # noqa: F811
    _sending(store, desk)
    stop = threading.Event()
    report = run_worker(store, desk, _StopAfterThisOne(_sendgrid(fake_sendgrid), stop), SECRET, stop=stop, lists=[_list()])
    assert report.batches == 1 and len(fake_sendgrid.accepted) == 1
    assert list(_statuses(store).values()) == ["sent"] + ["pending"] * 7


def test_dead_owners_batches_are_uncertain_and_not_resent(store: Store, desk, fake_sendgrid) -> None:  # noqa: F811
    edition_id = _sending(store, desk)
    host = socket.gethostname()
    with store.session() as session:
        batches = {b.number: b for b in session.scalars(select(DeliveryBatch))}
        owners = {
            1: (f"{host}:{_dead_pid()}", utcnow()),  # this host, process gone
            2: (f"{host}:{os.getpid()}:other", utcnow()),  # this host, alive: left alone
            3: ("elsewhere:1", utcnow()),  # another host, within its lease: left alone
            4: ("elsewhere:2", utcnow() - timedelta(hours=1)),  # lease expired
            5: (None, None),  # no owner recorded
        }
        for number, (owner, at) in owners.items():
            batches[number].status, batches[number].claimed_by, batches[number].claimed_at = "sending", owner, at
    emails = _emails_by_batch(store)
    report = run_worker(store, desk, _sendgrid(fake_sendgrid), SECRET, once=True, lists=[_list()])
    assert _statuses(store) == {1: "uncertain", 2: "sending", 3: "sending", 4: "uncertain", 5: "uncertain", 6: "sent", 7: "sent", 8: "sent"}
    assert report.uncertain == [f"edition {edition_id} batch {n}" for n in (1, 4, 5)]
    with store.session() as session:
        ids = {b.number: b.id for b in session.scalars(select(DeliveryBatch))}
        assert "died" in session.get(DeliveryBatch, ids[1]).last_error
        assert get_edition(session, edition_id).status == "sending"
    expected = set().union(*(emails[ids[n]] for n in (6, 7, 8)))
    assert _received(fake_sendgrid) == Counter({e: 1 for e in expected})

    # the live owners finish (here: the editor gives up on them) ...
    with store.session() as session:
        for n in (2, 3):
            session.get(DeliveryBatch, ids[n]).status = "sent"
    # ... and the editor resends exactly the uncertain ones
    fake_sendgrid.accepted.clear()
    with store.session() as session:
        resent = send_edition(session, desk, _list(), edition_id, _sendgrid(fake_sendgrid), SECRET, resend_uncertain=True)
        assert resent.requeued == [1, 4, 5] and resent.sent_batches == 3 and resent.uncertain == []
        assert get_edition(session, edition_id).status == "sent"
        assert all("resent on an editor's request" in session.get(DeliveryBatch, ids[n]).last_error for n in (1, 4, 5))
    assert _received(fake_sendgrid) == Counter({e: 1 for n in (1, 4, 5) for e in emails[ids[n]]})


def test_refused_key_puts_the_batch_back_and_stops(store: Store, desk, fake_sendgrid) -> None:  # noqa: F811
    _sending(store, desk)
    with store.session() as session:  # the first batch had waited for a retry before
        first = session.scalar(select(DeliveryBatch).where(DeliveryBatch.number == 1))
        first.attempts, first.not_before = 1, utcnow() - timedelta(minutes=5)
        session.commit()
    backend = SendGridBackend("SG.wrong-key", host=fake_sendgrid.url, timeout=5)
    with pytest.raises(DeliveryAuthError, match="SENDGRID_API_KEY"):
        run_worker(store, desk, backend, SECRET, once=True, lists=[_list()])
    assert set(_statuses(store).values()) == {"pending"}
    with store.session() as session:  # waiting for the key, not for a retry time long gone
        assert delivery_problems(session, _edition_id(session)) == []


def test_show_reports_failed_reasons_and_uncertain_batches(store: Store, desk, tmp_path: Path, monkeypatch) -> None:
    edition_id = _sending(store, desk)
    with store.session() as session:
        batches = {b.number: b for b in session.scalars(select(DeliveryBatch))}
        batches[1].status, batches[1].last_error = "sent", None
        batches[2].status, batches[2].last_error = "failed", "SendGrid rejected batch 2 (400): from.email: invalid"
        batches[3].status = "sending"
        mark_abandoned(session)
    config = tmp_path / "newsletter.toml"
    config.write_text(f'[paths]\ntemplates = "{ROOT / "templates"}"\nsubscribers = "{ROOT / "subscribers"}"\n')
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", store.url)
    monkeypatch.setattr("newsletter.cli.editions.edition_list", lambda config, edition: _list())
    result = CliRunner().invoke(cli, ["--config", str(config), "editions", "show", str(edition_id)])
    assert result.exit_code == 0, result.output
    assert "failed 1" in result.output and "uncertain 1" in result.output and "pending 5" in result.output
    assert "batch 2 failed: SendGrid rejected batch 2 (400): from.email: invalid" in result.output
    assert "batch 3 uncertain: interrupted during the provider call" in result.output
    assert f"editions send {edition_id} --resend-uncertain" in result.output


def test_plan_only_leaves_the_batches_to_workers(store: Store, desk, fake_sendgrid, tmp_path: Path, monkeypatch) -> None:  # noqa: F811
    _members(store, READERS)
    with store.session() as session:
        edition = build_edition(session, _list(), DAY)
        approve(edition)
        edition_id = edition.id
    config = tmp_path / "newsletter.toml"
    config.write_text(f'[paths]\ntemplates = "{ROOT / "templates"}"\n[delivery]\nbatch_size = {BATCH}\n')
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", store.url)
    planned = CliRunner().invoke(cli, ["--config", str(config), "editions", "send", str(edition_id), "--plan-only"])
    assert planned.exit_code == 0, planned.output
    assert f"edition {edition_id}: 8 batches planned; 8 pending for 'newsletter worker'" in planned.output
    assert not fake_sendgrid.accepted
    with store.session() as session:  # two batches the service refused (fixed since)
        for batch in session.scalars(select(DeliveryBatch).where(DeliveryBatch.number.in_([2, 5]))):
            batch.status, batch.attempts, batch.last_error = "failed", 3, "SendGrid rejected batch (400)"
        session.commit()
    run_worker(store, desk, _sendgrid(fake_sendgrid), SECRET, once=True, lists=[_list()])
    # planned again, as the advice after a failure says: the failed batches go to the workers
    again = CliRunner().invoke(cli, ["--config", str(config), "editions", "send", str(edition_id), "--plan-only"])
    assert again.exit_code == 0, again.output
    assert f"edition {edition_id}: 0 batches planned, failed batches 2, 5 put back; 2 pending" in again.output
    report = run_worker(store, desk, _sendgrid(fake_sendgrid), SECRET, once=True, lists=[_list()])
    assert report.sent == 2 * BATCH and report.editions_sent == [edition_id]
    assert set(_received(fake_sendgrid).values()) == {1} and len(_received(fake_sendgrid)) == READERS


# -- crash tests: real worker processes, SIGKILLed ---------------------------------------------


class HoldingSendGrid(FakeSendGrid):
    """The fake SendGrid, holding the HOLD-th request until released (a slow answer)."""

    def __init__(self, hold: int | None = None) -> None:
        super().__init__()
        self.hold, self.arrivals = hold, 0
        self.held_batch: int | None = None
        self.held, self.release = threading.Event(), threading.Event()
        self.delay = 0.02  # every answer takes a little while: workers overlap

    def _handle(self, handler) -> None:
        body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        handler.rfile = io.BytesIO(body)
        with self._lock:
            self.arrivals += 1
            arrival = self.arrivals
        if arrival == self.hold:
            self.held_batch = int(json.loads(body)["personalizations"][0]["custom_args"]["batch_id"])
            self.held.set()
            self.release.wait(20)  # then it is accepted, as SendGrid would once it got the body
        super()._handle(handler)


def worker_workspace(
    tmp_path: Path, db_url: str, delivery: str, **env: str
) -> tuple[Path, dict[str, str]]:
    """lists.toml and a configuration whose [delivery] section holds DELIVERY (TOML lines), and
    the environment of a worker process on DB_URL (ENV added)."""
    subs = tmp_path / "subs"
    subs.mkdir(exist_ok=True)
    (subs / "lists.toml").write_text(LISTS_TOML.format(sender="Revue"))
    config = tmp_path / "worker.toml"
    config.write_text(
        f'[paths]\ntemplates = "{ROOT / "templates"}"\nsubscribers = "{subs}"\n'
        f'[web]\nbase_url = "https://news.example.org"\n[delivery]\n{delivery}'
    )
    return config, {
        **os.environ, "NEWSLETTER_SECRET_KEY": SECRET, "NEWSLETTER_DATABASE_URL": db_url,
        "PYTHONPATH": str(ROOT), **env,
    }


def _workspace(tmp_path: Path, fake: FakeSendGrid, db_url: str) -> tuple[Path, dict[str, str]]:
    return worker_workspace(
        tmp_path, db_url,
        f'backend = "sendgrid"\nsendgrid_host = "{fake.url}"\nsendgrid_timeout = 20\nbatch_size = {BATCH}\n',
        SENDGRID_API_KEY=fake.api_key,
    )


def _cli_worker(config: Path, env: dict[str, str], *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "newsletter.cli", "--config", str(config), "worker", "--poll", "0.1", *extra],
        env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )


def _wait(condition, what: str, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def _finish(proc: subprocess.Popen[bytes], seconds: float = 15.0) -> tuple[int, str]:
    out, err = proc.communicate(timeout=seconds)
    return proc.returncode, (out + err).decode()


def _crash_and_restart(store: Store, db_url: str, desk, tmp_path: Path, point: str, workers: int) -> None:
    """Kill one of WORKERS worker processes at POINT of its first batch, restart; check the record."""
    edition_id = _sending(store, desk)
    emails = _emails_by_batch(store)
    with HoldingSendGrid(hold=1 if point == "during" else None) as fake:
        config, env = _workspace(tmp_path, fake, db_url)
        # the victim runs alone until it is stuck at POINT with its first batch in hand
        if point == "during":
            victim = _cli_worker(config, env, "--once")
            _wait(fake.held.is_set, "the held request")
            in_flight = fake.held_batch
        else:
            marker = tmp_path / "in-flight"
            victim = subprocess.Popen(
                [sys.executable, "-m", "tests.support.worker_proc", str(config)], cwd=ROOT,
                env={**env, "NEWSLETTER_TEST_CRASH": point, "NEWSLETTER_TEST_MARKER": str(marker)},
                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            )
            _wait(marker.exists, f"the victim to reach '{point}'")
            in_flight = int(marker.read_text())
        assert in_flight is not None
        # the other workers start while the victim is alive: its batch is not theirs to judge
        others = [_cli_worker(config, env, "--once") for _ in range(workers - 1)]
        if others:
            _wait(lambda: _statuses(store).get(2) != "pending", "another worker to start sending")
            assert _statuses(store)[1] == "sending"
        victim.send_signal(signal.SIGKILL)
        _finish(victim)  # reaped, pipes closed
        fake.release.set()  # the held request is then accepted: SendGrid got the whole body
        for proc in others:
            code, output = _finish(proc)
            assert code == 0, output
        code, output = _finish(_cli_worker(config, env, "--once"))  # the restart
        assert code == 0, output
        received = _received(fake)
        accepted_batches = Counter(int(a.payload["personalizations"][0]["custom_args"]["batch_id"]) for a in fake.accepted)

    with store.session() as session:
        batches = session.scalars(select(DeliveryBatch)).all()
        uncertain = {b.id for b in batches if b.status == "uncertain"}
        assert uncertain == {in_flight}, [(b.number, b.status, b.claimed_by, b.last_error) for b in batches]
        assert {b.status for b in batches if b.id != in_flight} == {"sent"}
        assert get_edition(session, edition_id).status == "sending"
        if workers > 1:  # the work was shared
            assert len({b.claimed_by for b in batches}) >= 2
    # every reader exactly once, but the in-flight batch's: 0 before the call, 1 once SendGrid had it
    expected = Counter({e: 1 for batch_id, group in emails.items() if batch_id != in_flight for e in group})
    for e in emails[in_flight]:
        expected[e] = 0 if point == "before" else 1
    assert received == +expected and max(accepted_batches.values()) == 1
    assert sum(received.values()) == READERS - (BATCH if point == "before" else 0)

    if point == "before":  # the editor checked the provider: not sent; resend it, exactly once
        with FakeSendGrid() as fake, store.session() as session:
            report = send_edition(session, desk, _list(), edition_id, _sendgrid(fake), SECRET, resend_uncertain=True)
            assert report.sent == BATCH and get_edition(session, edition_id).status == "sent"
            assert _received(fake) == Counter({e: 1 for e in emails[in_flight]})


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("point", ["before", "during", "after"])
def test_crash_sqlite_one_worker(point: str, store: Store, db_url: str, desk, tmp_path: Path) -> None:
    _crash_and_restart(store, db_url, desk, tmp_path, point, workers=1)


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
@pytest.mark.parametrize(("point", "workers"), [("during", 2), ("after", 3), ("before", 2)])
def test_crash_postgres_concurrent_workers(point: str, workers: int, store: Store, db_url: str, desk, tmp_path: Path) -> None:
    _crash_and_restart(store, db_url, desk, tmp_path, point, workers=workers)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_sigterm_stops_a_worker_process_after_the_batch_in_hand(store: Store, db_url: str, desk, tmp_path: Path) -> None:
    _sending(store, desk)
    with HoldingSendGrid(hold=2) as fake:
        config, env = _workspace(tmp_path, fake, db_url)
        worker = _cli_worker(config, env)
        _wait(fake.held.is_set, "the second request")
        worker.send_signal(signal.SIGTERM)
        time.sleep(0.2)  # the signal lands while the request is in flight
        fake.release.set()
        code, output = _finish(worker)
    assert code == 0, output
    assert "SIGTERM: stopping after the batch in hand" in output
    assert list(_statuses(store).values()) == ["sent", "sent"] + ["pending"] * 6
    assert len(fake.accepted) == 2
