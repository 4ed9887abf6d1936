"""The daemon's jobs, reconciliation, lock and run loop, on SQLite and PostgreSQL.

"now" is always given to the jobs' library functions; nothing waits for a real send time.
"""

from __future__ import annotations

import logging
import mailbox
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import func, select

from newsletter.audience.lists import ListConfig, sync_lists
from newsletter.audience.subscribers import Member, sync_members
from newsletter.collect.article import CollectedArticle
from newsletter.collect.store import add_article, sync_source
from newsletter.config import SourceConfig
from newsletter.daemon import Daemon, StopsClean, planned_jobs, reconcile, wait_for_database
from newsletter.deliver.outbox import OutboxBackend
from newsletter.editions import approve, get_edition
from newsletter.enrich.pending import enrich_pending
from newsletter.jobs import draft_list, release_approved, send_list
from newsletter.locks import FileLock, daemon_lock
from newsletter.report import read_heartbeat
from newsletter.schedule import ListSchedule, fire_times
from newsletter.store.db import Store, make_engine, migrate
from newsletter.store.models import ArticleTag, Edition
from newsletter.summarize.pending import summarize_pending

from .conftest import ROOT

SECRET = "test-secret-for-unsubscribe-links"
# Paris goes back from CEST to CET on 2026-10-25: a 02:30 send fires at 00:30 and 01:30 UTC
REPEATED = "30 2 * * *"
EVE = datetime(2026, 10, 24, 20, 0, tzinfo=UTC)

ARTICLES = [
    ("eco", "La banque centrale laisse son taux inchangé", "La banque centrale a laissé son taux directeur inchangé mardi. L’inflation reste contenue selon son conseil. Les analystes attendaient ce statu quo."),
    ("sport", "Le club local remporte le derby", "Le club local a remporté le derby dimanche soir devant un stade plein. Le but décisif est venu à dix minutes de la fin. L’entraîneur a salué ses joueurs."),
]


def _list(**kw: object) -> ListConfig:
    base: dict[str, object] = {
        "slug": "revue", "name": "Revue de presse", "language": "fr", "tags": ["eco", "sport"],
        "from_name": "Revue", "from_address": "revue@example.org", "schedule": REPEATED,
        "timezone": "Europe/Paris", "review": "auto", "lead_minutes": 60,
    }
    base.update(kw)
    return ListConfig(**base)  # type: ignore[arg-type]


@pytest.fixture
def newsroom(store: Store, make_config, tmp_path: Path):
    """Articles collected on the eve of the Paris clock change, enriched and summarized; 3 readers."""
    config = make_config(
        web={"base_url": "https://news.example.org"},
        paths={"templates": str(ROOT / "templates"), "outbox": str(tmp_path / "outbox")},
    )
    with store.session() as session:
        wire = sync_source(session, SourceConfig(name="wire", url="https://wire.example/feed"), "https://wire.example/feed")
        for n, (tag, title, text) in enumerate(ARTICLES):
            article = add_article(session, wire, CollectedArticle(
                title=title, text=text, url=f"https://wire.example/{n}", language="fr",
                published=EVE, categories=[],
            ))
            article.collected_at = EVE
            article.tags.append(ArticleTag(tag=tag, origin="feed"))
        session.flush()
        enrich_pending(session, config)
        summarize_pending(session, config)
        mailing_list = sync_lists(session, [_list()])["revue"]
        sync_members(session, mailing_list, [Member(email=f"reader{i}@example.org", name="", language="fr") for i in range(3)], origin="test")
    return config


def _times(list_config: ListConfig) -> tuple[datetime, datetime, datetime]:
    """The draft and the two sends of the repeated 02:30 (Paris, 2026-10-25)."""
    schedule = ListSchedule.of(list_config)
    draft = schedule.next_draft(EVE)
    first, second = fire_times(schedule.send, EVE, 2)
    assert (first.astimezone(UTC).hour, second.astimezone(UTC).hour) == (0, 1)
    return draft, first, second


def _recipients(outbox: Path) -> list[str]:
    found = []
    for path in sorted(outbox.glob("*.mbox")):
        box = mailbox.mbox(str(path))
        found += [m["To"] for m in box]
        box.close()
    return sorted(found)


def _send(session, config, list_config, now):
    backend = OutboxBackend(config.folder(config.paths.outbox))
    return send_list(session, config, list_config, now=now, backend=backend, secret=SECRET)


def _release(session, config, list_config, now):
    backend = OutboxBackend(config.folder(config.paths.outbox))
    return release_approved(session, config, list_config, now=now, backend=backend, secret=SECRET)


def _editions(session) -> list[Edition]:
    return list(session.scalars(select(Edition).order_by(Edition.id)))


# -- the jobs --------------------------------------------------------------------------------


def test_auto_review_sends_once_though_the_repeated_hour_fires_twice(store: Store, newsroom, tmp_path: Path) -> None:
    lst = _list()
    draft, first, second = _times(lst)
    with store.session() as session:
        edition = draft_list(session, lst, now=draft)
        assert edition is not None and edition.status == "draft"
        assert str(edition.date) == "2026-10-25"  # drafted at 01:30 CEST on the 25th
        assert _send(session, newsroom, lst, first).outcome == "sent"
        again = _send(session, newsroom, lst, second)  # 02:30 again, now CET
        assert again.outcome == "already sent" and again.messages == 0
        draft_list(session, lst, now=second)  # a late draft leaves a sent edition alone
        editions = _editions(session)
        assert [(str(e.date), e.status) for e in editions] == [("2026-10-25", "sent")]
    assert _recipients(tmp_path / "outbox") == [f"reader{i}@example.org" for i in range(3)]


def test_required_review_without_approval_is_held_and_not_sent(store: Store, newsroom, tmp_path: Path, caplog) -> None:
    lst = _list(review="required")
    draft, first, second = _times(lst)
    with store.session() as session, caplog.at_level(logging.INFO, "newsletter.daemon"):
        draft_list(session, lst, now=draft)
        assert _send(session, newsroom, lst, first).outcome == "held"
        assert _send(session, newsroom, lst, second).outcome == "held"
        assert [e.status for e in _editions(session)] == ["held"]
    assert "held: not approved by its send time (review = required)" in caplog.text
    assert _recipients(tmp_path / "outbox") == []


def test_required_review_approved_in_time_is_sent(store: Store, newsroom, tmp_path: Path) -> None:
    lst = _list(review="required")
    draft, first, _ = _times(lst)
    with store.session() as session:
        edition = draft_list(session, lst, now=draft)
        approve(get_edition(session, edition.id))
        session.commit()
        result = _send(session, newsroom, lst, first)
        assert (result.outcome, result.messages) == ("sent", 3)
    assert len(_recipients(tmp_path / "outbox")) == 3


def test_an_edition_cancelled_by_an_editor_is_not_sent(store: Store, newsroom, tmp_path: Path) -> None:
    lst = _list()
    draft, first, _ = _times(lst)
    with store.session() as session:
        edition = draft_list(session, lst, now=draft)
        edition.status = "cancelled"
        session.commit()
        assert _send(session, newsroom, lst, first).outcome == "cancelled"
    assert _recipients(tmp_path / "outbox") == []


def test_a_missed_draft_is_built_at_send_time(store: Store, newsroom, tmp_path: Path) -> None:
    """The daemon was down at draft time (or the lead time is 0): the send builds it."""
    lst = _list()
    _, first, _ = _times(lst)
    with store.session() as session:
        assert _send(session, newsroom, lst, first).messages == 3
    assert len(_recipients(tmp_path / "outbox")) == 3


def test_nothing_new_sends_no_mail_and_says_so(store: Store, make_config, tmp_path: Path, caplog) -> None:
    config = make_config(paths={"templates": str(ROOT / "templates"), "outbox": str(tmp_path / "outbox")})
    lst = _list(send_empty=True)
    draft, first, _ = _times(lst)
    with store.session() as session, caplog.at_level(logging.INFO, "newsletter.daemon"):
        assert draft_list(session, lst, now=draft) is None
        assert _send(session, config, lst, first).outcome == "nothing new"
        assert session.scalar(select(func.count()).select_from(Edition)) == 0
    assert "nothing new for revue since" in caplog.text and "send_empty is set" in caplog.text


def test_a_held_edition_approved_within_the_grace_window_is_sent_once(store: Store, newsroom, tmp_path: Path, caplog) -> None:
    lst = _list(review="required")
    draft, first, second = _times(lst)
    with store.session() as session, caplog.at_level(logging.INFO, "newsletter.daemon"):
        edition = draft_list(session, lst, now=draft)
        assert _send(session, newsroom, lst, first).outcome == "held"
        assert _release(session, newsroom, lst, first + timedelta(minutes=5)).outcome == "held"
        assert _recipients(tmp_path / "outbox") == []
        approve(get_edition(session, edition.id))  # held -> approved, 10 minutes into the window
        get_edition(session, edition.id).approved_at = first + timedelta(minutes=10)
        session.commit()
        assert get_edition(session, edition.id).status == "approved"
        released = _release(session, newsroom, lst, first + timedelta(minutes=11))
        assert (released.outcome, released.edition_id, released.messages) == ("sent", edition.id, 3)
        assert _release(session, newsroom, lst, first + timedelta(minutes=12)) is None
        again = _send(session, newsroom, lst, second)  # the repeated 02:30
        assert again.outcome == "already sent" and again.messages == 0
        assert [e.status for e in _editions(session)] == ["sent"]
    assert "approved within its grace window: 3 messages sent" in caplog.text
    assert _recipients(tmp_path / "outbox") == [f"reader{i}@example.org" for i in range(3)]


def test_a_held_edition_stays_unsent_after_the_grace_window(store: Store, newsroom, tmp_path: Path, caplog) -> None:
    lst = _list(review="required", schedule="0 7 * * *")
    schedule = ListSchedule.of(lst)
    send_at = schedule.next_send(EVE)  # 2026-10-25 07:00 CET = 06:00 UTC
    closes = send_at + timedelta(minutes=30)
    with store.session() as session, caplog.at_level(logging.INFO, "newsletter.daemon"):
        edition = draft_list(session, lst, now=schedule.next_draft(EVE))
        assert _send(session, newsroom, lst, send_at).outcome == "held"
        assert _release(session, newsroom, lst, closes + timedelta(seconds=30)).outcome == "held"
        assert "still held when its grace window closed at 2026-10-25 06:30 UTC: not sent" in caplog.text
        # approved too late: still not sent by the daemon, and it says what to run
        approve(get_edition(session, edition.id))
        get_edition(session, edition.id).approved_at = closes + timedelta(seconds=40)
        session.commit()
        late = _release(session, newsroom, lst, closes + timedelta(seconds=50))
        assert late.outcome == "approved too late" and late.messages == 0
        assert f"run 'newsletter editions send {edition.id}' to send it anyway" in caplog.text
        # one check past the window, the edition is no longer looked at
        assert _release(session, newsroom, lst, closes + timedelta(minutes=2)) is None
        assert [e.status for e in _editions(session)] == ["approved"]
    assert _recipients(tmp_path / "outbox") == []


def test_an_approval_at_the_end_of_the_window_counts_though_the_check_runs_later(store: Store, newsroom, tmp_path: Path) -> None:
    lst = _list(review="required", schedule="0 7 * * *")
    schedule = ListSchedule.of(lst)
    send_at = schedule.next_send(EVE)
    with store.session() as session:
        edition = draft_list(session, lst, now=schedule.next_draft(EVE))
        _send(session, newsroom, lst, send_at)
        approve(get_edition(session, edition.id))
        get_edition(session, edition.id).approved_at = send_at + timedelta(minutes=29)
        session.commit()
        assert _release(session, newsroom, lst, send_at + timedelta(minutes=30, seconds=45)).messages == 3


def test_nothing_new_since_the_last_edition_sends_no_mail(store: Store, newsroom, tmp_path: Path, caplog) -> None:
    lst = _list()
    _, first, _ = _times(lst)
    with store.session() as session, caplog.at_level(logging.INFO, "newsletter.daemon"):
        assert _send(session, newsroom, lst, first).messages == 3
        next_day = first + timedelta(days=1)
        assert draft_list(session, lst, now=next_day - timedelta(hours=1)) is None
        assert _send(session, newsroom, lst, next_day).outcome == "nothing new"
        assert [str(e.date) for e in _editions(session)] == ["2026-10-25"]
    assert "revue: nothing new for revue since" in caplog.text and "no mail" in caplog.text
    assert len(_recipients(tmp_path / "outbox")) == 3


def test_a_late_send_after_midnight_sends_the_day_it_was_for(store: Store, newsroom, tmp_path: Path) -> None:
    lst = _list(schedule="50 23 * * *", lead_minutes=30)
    with store.session() as session:
        drafted = draft_list(session, lst, now=datetime(2026, 10, 24, 21, 20, tzinfo=UTC))  # 23:20 CEST
        late = _send(session, newsroom, lst, datetime(2026, 10, 24, 22, 10, tzinfo=UTC))  # 00:10, 20 min late
        assert late.edition_id == drafted.id and late.messages == 3


# -- reconciling jobs ------------------------------------------------------------------------


class PausedScheduler(StopsClean, BackgroundScheduler):
    pass


@pytest.fixture
def scheduler_factory(store: Store) -> Iterator:
    """Paused schedulers on the store's database, as a restarted daemon sees it."""
    started: list[PausedScheduler] = []

    def make() -> BackgroundScheduler:
        engine = make_engine(store.url)
        scheduler = PausedScheduler(jobstores={"default": SQLAlchemyJobStore(engine=engine)}, timezone=UTC)
        scheduler.start(paused=True)
        started.append(scheduler)
        return scheduler

    yield make
    for scheduler in started:
        if scheduler.running:
            scheduler.shutdown(wait=False)


def _stop(scheduler: BackgroundScheduler) -> None:
    scheduler.shutdown(wait=False)


def test_reconcile_adds_keeps_changes_and_removes_jobs(store: Store, make_config, scheduler_factory) -> None:
    config = make_config()
    lists = [_list(), _list(slug="digest", schedule="30 7 * * 1-5", timezone="Africa/Casablanca")]
    first = scheduler_factory()
    report = reconcile(first, planned_jobs(config, lists, "/etc/newsletter.toml"))
    assert sorted(report.added) == [
        "draft:digest", "draft:revue", "held:digest", "held:revue", "send:digest", "send:revue",
    ]
    jobs = {job.id: job for job in first.get_jobs()}
    send = jobs["send:revue"]
    assert send.coalesce and send.max_instances == 1 and send.misfire_grace_time == 30 * 60
    assert send.args == ("/etc/newsletter.toml", "revue") and send.func_ref == "newsletter.daemon:send_job"
    assert jobs["draft:digest"].trigger.timezone.key == "Africa/Casablanca"
    kept_time = jobs["send:digest"].next_run_time
    _stop(first)

    # restart: digest unchanged (its stored next run time survives), revue removed
    second = scheduler_factory()
    report = reconcile(second, planned_jobs(config, lists[1:], "/etc/newsletter.toml"))
    assert sorted(report.removed) == ["draft:revue", "held:revue", "send:revue"]
    assert sorted(report.kept) == ["draft:digest", "held:digest", "send:digest"]
    assert sorted(j.id for j in second.get_jobs()) == ["draft:digest", "held:digest", "send:digest"]
    held = second.get_job("held:digest")
    assert held.func_ref == "newsletter.daemon:held_job" and str(held.trigger) == "interval[0:01:00]"
    assert second.get_job("send:digest").next_run_time == kept_time
    _stop(second)

    # a changed schedule is rewritten
    third = scheduler_factory()
    report = reconcile(third, planned_jobs(config, [_list(slug="digest", schedule="0 8 * * *")], "/etc/newsletter.toml"))
    assert sorted(report.changed) == ["draft:digest", "send:digest"]
    assert third.get_job("send:digest").next_run_time.astimezone(ZoneParis).hour == 8


ZoneParis = __import__("zoneinfo").ZoneInfo("Europe/Paris")


def test_a_run_missed_while_down_is_kept_for_the_misfire_rules(store: Store, make_config, scheduler_factory) -> None:
    """A restart keeps the stored next run time, even in the past: APScheduler then runs it once
    if it is within the grace time (coalesced), or logs and skips it."""
    config = make_config()
    first = scheduler_factory()
    reconcile(first, planned_jobs(config, [_list()], "/c.toml"))
    past = datetime.now(UTC) - timedelta(minutes=10)
    first.modify_job("send:revue", next_run_time=past)
    _stop(first)
    second = scheduler_factory()
    reconcile(second, planned_jobs(config, [_list()], "/c.toml"))
    job = second.get_job("send:revue")
    assert job.next_run_time == past
    assert len(job._get_run_times(datetime.now(UTC))) == 1


def test_sources_get_collect_jobs_that_run_at_once(store: Store, make_config, tmp_path: Path, scheduler_factory) -> None:
    (tmp_path / "articles").mkdir()
    config = make_config(sources=[
        {"name": "local", "kind": "file", "url": "articles", "interval": 15},
        {"name": "off", "kind": "file", "url": "articles", "enabled": False},
    ])
    scheduler = scheduler_factory()
    before = datetime.now(UTC)
    reconcile(scheduler, planned_jobs(config, [], "/c.toml"), now=before)
    (job,) = scheduler.get_jobs()
    assert job.id == "collect:local" and job.next_run_time == before
    assert str(job.trigger) == "interval[0:15:00]"


# -- one daemon per store ----------------------------------------------------------------------


def test_a_second_lock_holder_waits_until_the_first_releases(db_url: str) -> None:
    first, second = daemon_lock(db_url), daemon_lock(db_url)
    try:
        assert first.acquire()
        assert not second.acquire()
        assert first.held()
        first.release()
        assert second.acquire()
        assert not first.acquire()
    finally:
        first.release()
        second.release()


def test_the_file_lock_goes_with_a_killed_process(tmp_path: Path) -> None:
    path = tmp_path / "newsletter.db.daemon.lock"
    code = (
        "import sys, time; from pathlib import Path; from newsletter.locks import FileLock;"
        f"lock = FileLock(Path({str(path)!r})); assert lock.acquire(); print('held', flush=True); time.sleep(30)"
    )
    with subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) as holder:
        try:
            assert holder.stdout.readline().strip() == "held"
            assert not FileLock(path).acquire()
        finally:
            holder.kill()
    lock = FileLock(path)
    assert lock.acquire()
    lock.release()


def test_waits_for_an_unreachable_database_with_backoff(caplog) -> None:
    stop = threading.Event()
    result: list[bool] = []
    url = "postgresql+psycopg://postgres@127.0.0.1:9/nowhere?connect_timeout=1"
    with caplog.at_level(logging.WARNING, "newsletter.daemon"):
        thread = threading.Thread(target=lambda: result.append(wait_for_database(url, stop, delays=(0.01, 0.02))))
        thread.start()
        deadline = time.monotonic() + 20
        while sum("unreachable" in r.message for r in caplog.records) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        stop.set()
        thread.join()
    assert result == [False]
    messages = [r.message for r in caplog.records if "unreachable" in r.message]
    assert "database postgresql+psycopg://postgres@127.0.0.1:9/nowhere" in messages[0]
    assert "retrying in 0.01s (attempt 1)" in messages[0] and "retrying in 0.02s (attempt 3)" in messages[2]


# -- the run loop: standby, take-over, reconcile, stop -------------------------------------------


def _workspace(tmp_path: Path, monkeypatch) -> Path:
    subscribers = tmp_path / "subscribers"
    subscribers.mkdir()
    (subscribers / "lists.toml").write_text(
        '[[lists]]\nslug = "revue"\nname = "Revue"\ntags = ["eco"]\nfrom_name = "Revue"\n'
        'from_address = "revue@example.org"\nschedule = "0 7 * * *"\ntimezone = "Europe/Paris"\n',
        encoding="utf-8",
    )
    config = tmp_path / "newsletter.toml"
    config.write_text(
        f'[paths]\ndata = "{tmp_path}"\nsubscribers = "{subscribers}"\ntemplates = "{ROOT}/templates"\n'
        f'outbox = "{tmp_path}/outbox"\n',
        encoding="utf-8",
    )
    monkeypatch.delenv("NEWSLETTER_DATABASE_URL", raising=False)
    monkeypatch.setenv("NEWSLETTER_SECRET_KEY", "a-test-secret-that-is-long-enough")
    engine = make_engine(f"sqlite:///{tmp_path / 'newsletter.db'}")
    migrate(engine)
    engine.dispose()
    return config


def _wait_for(condition, what: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def test_a_standby_daemon_takes_over_then_stops_cleanly(tmp_path: Path, monkeypatch, caplog) -> None:
    config = _workspace(tmp_path, monkeypatch)
    other = FileLock(tmp_path / "newsletter.db.daemon.lock")  # the "first daemon"
    assert other.acquire()
    daemon = Daemon(config, standby_poll=0.02)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            daemon.run()
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    with caplog.at_level(logging.INFO, "newsletter.daemon"):
        thread = threading.Thread(target=run)
        thread.start()
        try:
            _wait_for(lambda: "waiting as standby" in caplog.text, "standby")
            assert not daemon._started.is_set()
            other.release()  # the first daemon dies
            _wait_for(daemon._started.is_set, "take-over")
            assert "took over" in caplog.text
            assert sorted(j.id for j in daemon.scheduler.get_jobs(jobstore="default")) == ["draft:revue", "held:revue", "send:revue"]
            beat = read_heartbeat(tmp_path / "daemon.heartbeat")  # data = tmp_path
            assert beat is not None and abs((datetime.now(UTC) - beat).total_seconds()) < 60
        finally:
            daemon.request_stop("SIGTERM")
            thread.join(20)
    assert not thread.is_alive() and errors == []
    assert "SIGTERM: finishing the job in hand, then stopping" in caplog.text
    # the jobs stay in the database for the next start
    store = Store.open(f"sqlite:///{tmp_path / 'newsletter.db'}")
    with store.engine.connect() as conn:
        assert sorted(r[0] for r in conn.exec_driver_sql("SELECT id FROM apscheduler_jobs")) == ["draft:revue", "held:revue", "send:revue"]
    store.close()


# -- real processes ----------------------------------------------------------------------------


def _daemon_process(config: Path, log: Path) -> subprocess.Popen:
    with log.open("w") as stderr:  # the child keeps its own copy
        return subprocess.Popen(
            [sys.executable, "-m", "newsletter.cli", "--config", str(config), "daemon", "--log-format", "json"],
            stdout=subprocess.DEVNULL, stderr=stderr, cwd=config.parent,
        )


def test_processes_standby_take_over_on_sigkill_and_stop_on_sigterm(tmp_path: Path, monkeypatch) -> None:
    import json
    import os
    import signal

    config = _workspace(tmp_path, monkeypatch)
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"

    def messages(log: Path) -> list[str]:
        lines = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
        return [json.loads(line)["message"] for line in lines if line.startswith("{")]

    first = _daemon_process(config, first_log)
    try:
        _wait_for(lambda: any(m.startswith("jobs: ") for m in messages(first_log)), "the first daemon")
        second = _daemon_process(config, second_log)
        try:
            _wait_for(lambda: any("waiting as standby" in m for m in messages(second_log)), "standby")
            os.kill(first.pid, signal.SIGKILL)
            first.wait()
            _wait_for(lambda: any(m.startswith("took over") for m in messages(second_log)), "take-over")
            _wait_for(lambda: any(m.startswith("jobs: 0 added") for m in messages(second_log)), "reconcile")
            second.send_signal(signal.SIGTERM)
            assert second.wait(30) == 0
            assert "SIGTERM: finishing the job in hand, then stopping" in messages(second_log)
            assert messages(second_log)[-1] == "stopped"
        finally:
            second.kill()
            second.wait()
    finally:
        first.kill()
        first.wait()
