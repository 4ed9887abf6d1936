"""The daemon: collect, draft and send on schedule, once per list and day, one daemon per store.

It only triggers stages (DESIGN.md); the rules stay in the stages. APScheduler 3.x runs it:

- a ``BlockingScheduler`` whose jobs live in the application database (``SQLAlchemyJobStore``,
  table ``apscheduler_jobs``), reconciled with the configuration at every start
  (:func:`reconcile`): ``collect:<source>`` every ``interval`` minutes, ``draft:<list>``
  ``lead_minutes`` before each send, ``send:<list>`` on the list's schedule in its time zone
  (:mod:`newsletter.schedule`), and ``held:<list>`` every minute (:func:`release_approved`: a
  held edition approved within the grace window goes out then). Jobs of removed lists and
  sources are removed. A job whose
  trigger did not change keeps its stored next run time, so a run missed while the daemon was
  down still runs once within the grace time (``coalesce``, ``misfire_grace_time``) and an older
  one is logged and skipped;
- every job is a module-level function taking the configuration path and a name, and reads the
  configuration afresh when it runs (a changed review policy applies at the next run; a changed
  schedule at the next start);
- jobs run one at a time (one worker thread): a draft and a send of the same list never race.

Sending is idempotent per list and edition date (:func:`send_list`): the edition is the list's
one row for its local date (unique in the store), and sending a sent edition sends nothing more,
so a send that fires twice (the repeated hour when clocks go back, a restart, a second daemon)
mails nobody twice.

Review ``required``: an edition not approved by its send time is ``held``. An approval within
the list's grace window (:func:`send_grace`, counted from the send time) sends it at the next
``held:<list>`` check; once the window has closed it stays unsent, and the check logs so once.

One daemon per store (:class:`DaemonLock`): a PostgreSQL advisory lock held on a dedicated
connection, or an exclusive ``flock`` on ``<database>.daemon.lock`` next to a SQLite file. A
second daemon waits as standby, and takes over when the first one's lock goes with its process.
The active daemon writes its heartbeat (:func:`newsletter.report.write_heartbeat`) at start and
at every lock check, for ``/healthz``.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from apscheduler.events import EVENT_JOB_MISSED, EVENT_SCHEDULER_START, JobExecutionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.base import STATE_STOPPED, BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine, create_engine, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from newsletter import config as config_mod
from newsletter.audience.lists import ListConfig, find_list, load_lists, sync_lists
from newsletter.config import Config, safe_url
from newsletter.deliver.message import MailBackend
from newsletter.editions import NothingNewError, approve, build_edition
from newsletter.errors import ConfigError, EditionError, NewsletterError
from newsletter.report import heartbeat_path, write_heartbeat
from newsletter.schedule import ListSchedule
from newsletter.store.db import Store, make_engine
from newsletter.store.models import Edition, utcnow

log = logging.getLogger("newsletter.daemon")

GRACE_MINUTES = 30  # a send missed by less than this still runs once; older ones are skipped
LOCK_CHECK_SECONDS = 30  # how often the holder checks it still has the lock (and beats)
HELD_CHECK_SECONDS = 60  # how often held:<list> looks for an edition approved after its send time
STANDBY_POLL_SECONDS = 5.0  # how often a standby daemon tries to take the lock
DATABASE_RETRY_SECONDS = (1, 2, 5, 10, 30, 60)  # backoff while the database is unreachable
JOBSTORE = "default"  # the persisted jobs; "local" holds the daemon's own lock check
_LOCK_CLASS = 0x6E657773  # "news": first key of the PostgreSQL advisory lock


def send_grace(list_config: ListConfig) -> timedelta:
    return timedelta(minutes=GRACE_MINUTES)


def draft_grace(list_config: ListConfig) -> timedelta:
    """A draft run late is still useful until the send time (the send builds it otherwise)."""
    return timedelta(minutes=max(1, min(GRACE_MINUTES, list_config.lead_minutes)))


# -- what the jobs do: library functions with "now" given --------------------------------------


def _edition(session: Session, list_config: ListConfig, day: Any) -> Edition | None:
    list_id = sync_lists(session, [list_config])[list_config.slug].id
    return session.scalars(
        select(Edition).where(Edition.list_id == list_id, Edition.date == day)
    ).first()


def draft_list(session: Session, list_config: ListConfig, *, now: datetime) -> Edition | None:
    """Build or refresh the draft of the edition LIST_CONFIG sends next; None if nothing new."""
    day = ListSchedule.of(list_config).draft_day(now)
    existing = _edition(session, list_config, day)
    if existing is not None and existing.status != "draft":
        log.info("%s: edition %s for %s is %s: left as it is", list_config.slug, existing.id, day, existing.status)
        return existing
    try:
        edition = build_edition(session, list_config, day, now=now)
    except NothingNewError as exc:
        log.info("%s: %s", list_config.slug, exc)
        return None
    session.commit()
    included = sum(1 for item in edition.items if item.included)
    log.info("%s: draft edition %s for %s with %s items", list_config.slug, edition.id, day, included)
    return edition


@dataclass
class SendResult:
    """What a send run did: ``sent``, ``already sent``, ``held``, ``cancelled``, ``nothing new``..."""

    outcome: str
    edition_id: int | None = None
    messages: int = 0
    notes: list[str] = field(default_factory=list)


def send_list(
    session: Session,
    config: Config,
    list_config: ListConfig,
    *,
    now: datetime,
    backend: MailBackend,
    secret: str,
) -> SendResult:
    """Send LIST_CONFIG's edition of the day whose send time is at NOW, per the review policy.

    ``auto``: a draft is approved and sent (unless an editor cancelled it). ``required``: sent
    only if approved, otherwise marked ``held``. An edition already sent sends nothing more; one
    left ``sending`` by a crash is resumed (its uncertain batches stay uncertain).
    """
    from newsletter.deliver.send import send_edition

    slug = list_config.slug
    day = ListSchedule.of(list_config).send_day(now, send_grace(list_config))
    edition = _edition(session, list_config, day)
    if edition is None:  # the draft did not run (daemon down then, or no lead time): build now
        try:
            edition = build_edition(session, list_config, day, now=now)
        except NothingNewError as exc:
            note = " (send_empty is set, but an edition with no article cannot be built yet)" if list_config.send_empty else ""
            log.info("%s: %s: no mail%s", slug, exc, note)
            return SendResult("nothing new")
        session.commit()
    result = SendResult(edition.status, edition.id)
    if edition.status in ("sent", "cancelled", "held"):
        why = {"sent": "already sent", "cancelled": "cancelled by an editor: not sent", "held": "held: not sent"}
        log.info("%s: edition %s for %s %s", slug, edition.id, day, why[edition.status])
        result.outcome = "already sent" if edition.status == "sent" else edition.status
        return result
    if edition.status == "draft" and list_config.review == "required":
        # a conditional update: an approval landing at this very moment is not overwritten
        held = session.execute(
            update(Edition).where(Edition.id == edition.id, Edition.status == "draft")
            .values(status="held").execution_options(synchronize_session=False)
        ).rowcount
        session.commit()
        session.refresh(edition)
        if held:
            # TODO(issue 7): email the list's editors (no editor-to-list mapping exists yet)
            log.warning(
                "%s: edition %s for %s held: not approved by its send time (review = required)",
                slug, edition.id, day,
            )
            result.outcome = "held"
            return result
    if edition.status == "draft":  # review = auto
        try:
            approve(edition)
        except EditionError as exc:
            log.warning("%s: edition %s for %s not sent: %s", slug, edition.id, day, exc)
            result.outcome = "not approved"
            result.notes.append(str(exc))
            return result
        session.commit()
        log.info("%s: edition %s for %s approved (review = auto)", slug, edition.id, day)
    report = send_edition(session, config, list_config, edition.id, backend, secret)
    result.outcome, result.messages = "sent", report.sent
    result.notes = [*report.failed, *(f"batch {n} uncertain" for n in report.uncertain)]
    log.info(
        "%s: edition %s for %s: %s messages sent in %s batches%s", slug, edition.id, day,
        report.sent, report.sent_batches,
        f" ({report.already_sent} batches sent before)" if report.already_sent else "",
    )
    for note in result.notes:
        log.error("%s: edition %s: %s", slug, edition.id, note)
    return result


def latest_send(schedule: ListSchedule, now: datetime, lookback: timedelta) -> datetime | None:
    """The latest send time of SCHEDULE in [NOW - LOOKBACK, NOW], or None."""
    latest = None
    fire = schedule.send.get_next_fire_time(None, now - lookback)
    while fire is not None and fire <= now:
        latest = fire
        fire = schedule.send.get_next_fire_time(fire, fire)
    # in UTC: adding a grace time to a local time is wall-clock arithmetic across a clock change
    return None if latest is None else latest.astimezone(UTC)


def release_approved(
    session: Session,
    config: Config,
    list_config: ListConfig,
    *,
    now: datetime,
    backend: MailBackend,
    secret: str,
) -> SendResult | None:
    """Send the edition of LIST_CONFIG's latest send time if it is approved but not sent (held,
    then approved within the grace window); None when there is nothing to do.

    The ``held:<list>`` job runs this every HELD_CHECK_SECONDS. An approval up to the end of the
    window (send time + grace) counts even if this check runs a little later; a held edition,
    or one approved too late, is logged (once: it is seen for one check past the window) and
    left unsent. Sending goes through ``send_edition``, which sends nothing twice.
    """
    from newsletter.deliver.send import send_edition

    slug = list_config.slug
    schedule = ListSchedule.of(list_config)
    grace, check = send_grace(list_config), timedelta(seconds=HELD_CHECK_SECONDS)
    send_time = latest_send(schedule, now, grace + check)
    if send_time is None:
        return None
    day = schedule.local_day(send_time)
    edition = _edition(session, list_config, day)
    if edition is None or edition.status not in ("held", "approved"):
        return None
    deadline = send_time + grace
    closed = f"its grace window closed at {deadline.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
    if edition.status == "held":
        if now > deadline:
            log.warning(
                "%s: edition %s for %s still held when %s: not sent "
                "(approve it, then 'newsletter editions send %s', to send it anyway)",
                slug, edition.id, day, closed, edition.id,
            )
        return SendResult("held", edition.id)
    approved_at = edition.approved_at
    if approved_at is not None and approved_at > deadline:
        log.warning(
            "%s: edition %s for %s approved at %s UTC, after %s: not sent "
            "(run 'newsletter editions send %s' to send it anyway)",
            slug, edition.id, day, f"{approved_at.astimezone(UTC):%H:%M}", closed, edition.id,
        )
        return SendResult("approved too late", edition.id)
    report = send_edition(session, config, list_config, edition.id, backend, secret)
    result = SendResult("sent", edition.id, report.sent)
    result.notes = [*report.failed, *(f"batch {n} uncertain" for n in report.uncertain)]
    log.info(
        "%s: edition %s for %s approved within its grace window: %s messages sent in %s batches",
        slug, edition.id, day, report.sent, report.sent_batches,
    )
    for note in result.notes:
        log.error("%s: edition %s: %s", slug, edition.id, note)
    return result


def collect_source(session: Session, config: Config, name: str) -> None:
    """Collect one source, then enrich and summarize what is new."""
    from newsletter.collect.run import collect
    from newsletter.enrich.pending import enrich_pending
    from newsletter.summarize.pending import summarize_pending

    (report,) = collect(session, config, names=[name])
    enriched = enrich_pending(session, config)
    summarized = summarize_pending(session, config)
    state = "not modified" if report.not_modified else f"{report.new} new, {report.known} known"
    log.info("%s: %s; %s enriched, %s summarized", name, state, len(enriched), summarized)
    for message in report.errors:
        log.warning("%s: %s", name, message)


# -- the jobs: module-level functions with serialisable arguments ------------------------------


def _job(job_id: str, config_path: str, work: Callable[[Config, Store], None]) -> None:
    """Run WORK against a fresh configuration and store; errors are logged, never raised."""
    try:
        config = config_mod.load(config_path)
        store = Store.open(config.database_url)
        try:
            work(config, store)
        finally:
            store.close()
    except NewsletterError as exc:
        log.error("%s failed: %s", job_id, exc, extra={"job": job_id})
    except Exception:
        log.exception("%s failed", job_id, extra={"job": job_id})


def _list_config(config: Config, slug: str) -> ListConfig:
    return find_list(load_lists(config.folder(config.paths.subscribers) / "lists.toml"), slug)


def collect_job(config_path: str, source: str) -> None:
    def work(config: Config, store: Store) -> None:
        with store.session() as session:
            collect_source(session, config, source)

    _job(f"collect:{source}", config_path, work)


def draft_job(config_path: str, slug: str) -> None:
    def work(config: Config, store: Store) -> None:
        list_config = _list_config(config, slug)
        with store.session() as session:
            draft_list(session, list_config, now=utcnow())

    _job(f"draft:{slug}", config_path, work)


def send_job(config_path: str, slug: str) -> None:
    from newsletter.deliver import make_backend
    from newsletter.tokens import secret_key

    def work(config: Config, store: Store) -> None:
        list_config = _list_config(config, slug)
        secret = secret_key()
        backend = make_backend(config)
        try:
            with store.session() as session:
                send_list(session, config, list_config, now=utcnow(), backend=backend, secret=secret)
        finally:
            backend.close()

    _job(f"send:{slug}", config_path, work)


def held_job(config_path: str, slug: str) -> None:
    from newsletter.deliver import make_backend
    from newsletter.tokens import secret_key

    def work(config: Config, store: Store) -> None:
        list_config = _list_config(config, slug)
        secret = secret_key()
        backend = make_backend(config)
        try:
            with store.session() as session:
                release_approved(session, config, list_config, now=utcnow(), backend=backend, secret=secret)
        finally:
            backend.close()

    _job(f"held:{slug}", config_path, work)


# -- reconciling the stored jobs with the configuration ----------------------------------------


@dataclass(frozen=True)
class JobSpec:
    """One job the configuration asks for."""

    id: str
    func: Callable[..., None]
    args: tuple[str, ...]
    trigger: BaseTrigger
    grace: timedelta
    first_run_now: bool = False  # a new collect job runs at once, not an interval from now


def planned_jobs(config: Config, lists: Sequence[ListConfig], config_path: str) -> list[JobSpec]:
    """Every job CONFIG and LISTS ask for; ConfigError names a list with a bad schedule."""
    jobs = [
        JobSpec(
            f"collect:{s.name}", collect_job, (config_path, s.name),
            IntervalTrigger(minutes=s.interval, timezone=UTC), timedelta(minutes=s.interval),
            first_run_now=True,
        )
        for s in config.sources if s.enabled
    ]
    for lst in lists:
        schedule = ListSchedule.of(lst)
        jobs.append(JobSpec(f"draft:{lst.slug}", draft_job, (config_path, lst.slug), schedule.draft, draft_grace(lst)))
        jobs.append(JobSpec(f"send:{lst.slug}", send_job, (config_path, lst.slug), schedule.send, send_grace(lst)))
        # every list, whatever its review policy: the policy is read afresh at each run
        jobs.append(JobSpec(
            f"held:{lst.slug}", held_job, (config_path, lst.slug),
            IntervalTrigger(seconds=HELD_CHECK_SECONDS, timezone=UTC),
            timedelta(seconds=HELD_CHECK_SECONDS), first_run_now=True,
        ))
    return jobs


def _signature(trigger: BaseTrigger) -> str:
    # an interval trigger's repr carries its start date, which is "now" when it is built
    return str(trigger) if isinstance(trigger, IntervalTrigger) else repr(trigger)


@dataclass
class ReconcileReport:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def reconcile(scheduler: BaseScheduler, jobs: Sequence[JobSpec], *, now: datetime | None = None) -> ReconcileReport:
    """Make the scheduler's stored jobs exactly JOBS (the scheduler must be started or paused).

    Every job is (re)written with ``replace_existing``; one whose trigger and arguments did not
    change keeps its stored next run time, so a run missed while the daemon was down is not lost.
    """
    from apscheduler.util import obj_to_ref

    now = now or utcnow()
    report = ReconcileReport()
    existing = {job.id: job for job in scheduler.get_jobs(jobstore=JOBSTORE)}
    for spec in jobs:
        old = existing.pop(spec.id, None)
        options: dict[str, Any] = {}
        if old is None:
            report.added.append(spec.id)
            if spec.first_run_now:
                options["next_run_time"] = now
        elif (
            _signature(old.trigger) == _signature(spec.trigger)
            and tuple(old.args) == spec.args
            and old.func_ref == obj_to_ref(spec.func)
        ):
            report.kept.append(spec.id)
            if old.next_run_time is not None:
                options["next_run_time"] = old.next_run_time
        else:
            report.changed.append(spec.id)
        scheduler.add_job(
            spec.func, trigger=spec.trigger, args=spec.args, id=spec.id, name=spec.id,
            jobstore=JOBSTORE, replace_existing=True, coalesce=True, max_instances=1,
            misfire_grace_time=int(spec.grace.total_seconds()), **options,
        )
    for job_id in existing:
        scheduler.remove_job(job_id, jobstore=JOBSTORE)
        report.removed.append(job_id)
    return report


# -- one daemon per store --------------------------------------------------------------------


class DaemonLock:
    """Held by the one active daemon of a store; ``acquire`` never blocks."""

    def acquire(self) -> bool:
        raise NotImplementedError

    def held(self) -> bool:
        """Whether the lock is still ours (a dropped PostgreSQL connection loses it)."""
        return True

    def release(self) -> None:
        raise NotImplementedError


class FileLock(DaemonLock):
    """An exclusive ``flock`` on a file next to the SQLite database; the kernel drops it with
    the process, however it dies."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: Any = None

    def acquire(self) -> bool:
        if self._file is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the daemon's life
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        handle.truncate(0)
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._file = handle
        return True

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None

    def __str__(self) -> str:
        return f"lock file {self.path}"


class AdvisoryLock(DaemonLock):
    """A PostgreSQL session advisory lock on a dedicated connection (no pool, autocommit):
    it goes with the connection, so with the process. Keyed by the schema, so stores sharing
    a server in different schemas do not block each other."""

    def __init__(self, url: str) -> None:
        pooled = make_engine(url)  # the driver and URL checks of the store
        self.engine: Engine = create_engine(pooled.url, poolclass=NullPool)
        pooled.dispose()
        self.url = url
        self._conn: Any = None

    def acquire(self) -> bool:
        if self._conn is not None:
            return True
        conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        got = conn.scalar(
            text("SELECT pg_try_advisory_lock(:key, hashtext(current_schema()))"), {"key": _LOCK_CLASS}
        )
        if not got:
            conn.close()
            return False
        self._conn = conn
        return True

    def held(self) -> bool:
        if self._conn is None:
            return False
        try:
            self._conn.scalar(text("SELECT 1"))
        except DBAPIError:
            return False
        return True

    def release(self) -> None:
        if self._conn is not None:
            try:
                self._conn.scalar(
                    text("SELECT pg_advisory_unlock(:key, hashtext(current_schema()))"), {"key": _LOCK_CLASS}
                )
            except DBAPIError:
                pass  # the connection is gone, and the lock with it
            self._conn.close()
            self._conn = None
        self.engine.dispose()

    def __str__(self) -> str:
        return f"advisory lock on {safe_url(self.url)}"


def daemon_lock(database_url: str) -> DaemonLock:
    url = make_url(database_url)
    if url.drivername.startswith("sqlite"):
        if not url.database or url.database == ":memory:":
            raise ConfigError("the daemon needs a database file or server, not an in-memory SQLite store")
        return FileLock(Path(url.database).resolve().with_name(Path(url.database).name + ".daemon.lock"))
    if url.drivername.startswith("postgres"):
        return AdvisoryLock(database_url)
    raise ConfigError(f"the daemon supports SQLite and PostgreSQL stores, not {url.drivername}")


# -- running -------------------------------------------------------------------------------


def wait_for_database(url: str, stop: threading.Event, *, delays: Sequence[float] = DATABASE_RETRY_SECONDS) -> bool:
    """Return True once URL answers, retrying with backoff; False if STOP was set first."""
    engine = make_engine(url)
    attempt = 0
    try:
        while not stop.is_set():
            try:
                with engine.connect():
                    if attempt:
                        log.info("database %s reachable again after %s attempts", safe_url(url), attempt + 1)
                    return True
            except OperationalError as exc:
                delay = delays[min(attempt, len(delays) - 1)]
                attempt += 1
                reason = (str(exc.orig).strip().splitlines() or ["?"])[0]
                log.warning(
                    "database %s unreachable (%s): retrying in %ss (attempt %s)",
                    safe_url(url), reason, delay, attempt,
                )
                stop.wait(delay)
        return False
    finally:
        engine.dispose()


class StopsClean:
    """Mixin: no pass over the due jobs once the scheduler is shut down.

    APScheduler 3.x's main loop runs ``_process_jobs`` once more after ``shutdown``; a job due
    at that moment fails to reach the closed executor and its next run time moves on: a send
    due exactly when the daemon stops would be skipped instead of run after the restart.
    """

    def _process_jobs(self) -> float | None:
        if self.state == STATE_STOPPED:  # type: ignore[attr-defined]
            return None
        return super()._process_jobs()  # type: ignore[misc]


class DaemonScheduler(StopsClean, BlockingScheduler):
    pass


class Daemon:
    """``newsletter daemon``: wait for the database and the lock, then run the schedule.

    :meth:`request_stop` (from a signal handler or another thread) lets the job in hand finish,
    shuts the scheduler down and makes :meth:`run` return.
    """

    def __init__(self, config_path: str | Path | None, *, standby_poll: float = STANDBY_POLL_SECONDS) -> None:
        self.config_path = config_path
        self.standby_poll = standby_poll
        self.stop = threading.Event()
        self.scheduler: DaemonScheduler | None = None
        self.lock_lost = False
        self._stopper: threading.Thread | None = None
        self._started = threading.Event()
        self._stop_lock = threading.Lock()
        self.heartbeat: Path | None = None  # set from the configuration by run()

    def request_stop(self, reason: str = "stop requested") -> None:
        if self.stop.is_set():
            return
        log.info("%s: finishing the job in hand, then stopping", reason)
        self.stop.set()
        self._shutdown_scheduler()

    def _shutdown_scheduler(self) -> None:
        with self._stop_lock:
            if self.scheduler is None or not self._started.is_set() or self._stopper is not None:
                return
            # not in the signal handler itself: the main thread may hold the scheduler's locks
            self._stopper = threading.Thread(target=self.scheduler.shutdown, name="daemon-stop")
            self._stopper.start()

    def run(self) -> None:
        """Run until stopped; raises NewsletterError (ConfigError: exit 2) on bad configuration."""
        from newsletter.deliver import make_backend
        from newsletter.tokens import secret_key

        config = config_mod.load(self.config_path)
        config_path = str(Path(config.path or config_mod.DEFAULT_CONFIG).resolve())
        lists = load_lists(config.folder(config.paths.subscribers) / "lists.toml")
        jobs = planned_jobs(config, lists, config_path)
        self.heartbeat = heartbeat_path(config)
        secret_key()  # fail now, not at the first send time
        make_backend(config).close()
        url = config.database_url
        if not wait_for_database(url, self.stop):
            return
        Store.open(url).close()  # the schema is there and current, or StoreError says what to run
        lock = daemon_lock(url)
        try:
            if not self._wait_for_lock(lock):
                return
            self._schedule(url, jobs, lock)
        finally:
            lock.release()
        if self.lock_lost:
            raise NewsletterError(f"lost the {lock}: stopped so that another daemon can take over")

    def _wait_for_lock(self, lock: DaemonLock) -> bool:
        waited = False
        while not self.stop.is_set():
            if lock.acquire():
                if waited:
                    log.warning("took over: the other daemon is gone, this one is now active (%s)", lock)
                else:
                    log.info("active daemon (%s)", lock)
                return True
            if not waited:
                log.warning("another daemon holds the %s: waiting as standby", lock)
                waited = True
            self.stop.wait(self.standby_poll)
        return False

    def _schedule(self, url: str, jobs: list[JobSpec], lock: DaemonLock) -> None:
        engine = make_engine(url)
        scheduler = DaemonScheduler(
            jobstores={JOBSTORE: SQLAlchemyJobStore(engine=engine), "local": MemoryJobStore()},
            executors={"default": ThreadPoolExecutor(max_workers=1)},
            job_defaults={"coalesce": True, "max_instances": 1},
            timezone=UTC,
        )
        self.scheduler = scheduler

        def beat() -> None:
            if self.heartbeat is None:
                return
            try:
                write_heartbeat(self.heartbeat, utcnow())
            except OSError as exc:  # /healthz will show the age growing; the schedule goes on
                log.error("cannot write the heartbeat %s: %s", self.heartbeat, exc)

        def check_lock() -> None:
            if not lock.held():
                log.error("lost the %s (database connection dropped): stopping", lock)
                self.lock_lost = True
                self.request_stop("lock lost")
                return
            beat()

        def on_start(_event: object) -> None:
            report = reconcile(scheduler, jobs)
            beat()
            scheduler.add_job(check_lock, "interval", seconds=LOCK_CHECK_SECONDS, id="lock-check", jobstore="local")
            log.info(
                "jobs: %s added, %s changed, %s kept, %s removed%s", len(report.added),
                len(report.changed), len(report.kept), len(report.removed),
                f" ({', '.join(report.removed)})" if report.removed else "",
            )
            for job in sorted(scheduler.get_jobs(jobstore=JOBSTORE), key=lambda j: j.id):
                when = job.next_run_time
                log.info("next %s: %s (%s UTC)", job.id, when, when.astimezone(UTC) if when else "-")
            self._started.set()
            if self.stop.is_set():  # a signal arrived while starting
                self._shutdown_scheduler()

        def on_missed(event: JobExecutionEvent) -> None:
            log.warning(
                "%s: the run of %s was missed by more than its grace time: skipped",
                event.job_id, event.scheduled_run_time,
            )

        scheduler.add_listener(on_start, EVENT_SCHEDULER_START)
        scheduler.add_listener(on_missed, EVENT_JOB_MISSED)
        try:
            scheduler.start()
        finally:
            if self._stopper is not None:
                self._stopper.join()
            elif scheduler.running:
                scheduler.shutdown()
            engine.dispose()
        log.info("stopped")


# -- logs ------------------------------------------------------------------------------------


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, job, error."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if hasattr(record, "job"):
            data["job"] = record.job
        if record.exc_info:
            data["error"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False)


def configure_logging(fmt: str = "plain") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonFormatter() if fmt == "json"
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
