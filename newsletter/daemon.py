"""The daemon: collect, draft and send on schedule, once per list and day, one daemon per store.

It only triggers stages (DESIGN.md); the rules stay in the stages, and what each job does is a
library function of :mod:`newsletter.jobs`. APScheduler 3.x runs it:

- a ``BlockingScheduler`` whose jobs live in the application database (``SQLAlchemyJobStore``,
  table ``apscheduler_jobs``), reconciled with the configuration at every start
  (:func:`reconcile`): ``collect:<source>`` every ``interval`` minutes, ``draft:<list>``
  ``lead_minutes`` before each send, ``send:<list>`` on the list's schedule in its time zone
  (:mod:`newsletter.schedule`), and ``held:<list>`` every minute (a held edition approved within
  the grace window goes out then). Jobs of removed lists and sources are removed. A job whose
  trigger did not change keeps its stored next run time, so a run missed while the daemon was
  down still runs once within the grace time (``coalesce``, ``misfire_grace_time``) and an older
  one is logged and skipped;
- every job is a module-level function of this module taking the configuration path and a name
  (stored as a ``newsletter.daemon:<function>`` reference: moving one drops its stored job at the
  next start), and reads the configuration afresh when it runs (a changed review policy applies
  at the next run; a changed schedule at the next start);
- jobs run one at a time (one worker thread): a draft and a send of the same list never race.

One daemon per store (:mod:`newsletter.locks`): a second daemon waits as standby, and takes over
when the first one's lock goes with its process. The active daemon writes its heartbeat
(:func:`newsletter.report.write_heartbeat`) at start and at every lock check, for ``/healthz``.
"""

from __future__ import annotations

import json
import logging
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
from sqlalchemy.exc import OperationalError

from newsletter import config as config_mod
from newsletter.audience.lists import ListConfig, find_list, load_lists
from newsletter.config import Config, safe_url
from newsletter.errors import NewsletterError
from newsletter.jobs import (
    HELD_CHECK_SECONDS,
    collect_source,
    draft_grace,
    draft_list,
    release_approved,
    send_grace,
    send_list,
)
from newsletter.locks import DaemonLock, daemon_lock
from newsletter.report import heartbeat_path, write_heartbeat
from newsletter.schedule import ListSchedule
from newsletter.store.db import Store, make_engine
from newsletter.store.models import utcnow

log = logging.getLogger("newsletter.daemon")

LOCK_CHECK_SECONDS = 30  # how often the holder checks it still has the lock (and beats)
STANDBY_POLL_SECONDS = 5.0  # how often a standby daemon tries to take the lock
DATABASE_RETRY_SECONDS = (1, 2, 5, 10, 30, 60)  # backoff while the database is unreachable
JOBSTORE = "default"  # the persisted jobs; "local" holds the daemon's own lock check


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
