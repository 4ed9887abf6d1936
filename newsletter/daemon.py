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
  at the next run). Every minute the daemon reads newsletter.toml, lists.toml and the web app's
  sources again and reconciles the jobs when they ask for others (a list added, removed or
  rescheduled, a source added or disabled); a file broken at that moment leaves the jobs as
  they are, with an error in the log;
- jobs run one at a time (one worker thread): a draft and a send of the same list never race.
  The lock check has a thread of its own (executor ``control``): the heartbeat goes on while a
  long job runs.

One daemon per store (:mod:`newsletter.locks`): a second daemon waits as standby, and takes over
when the first one's lock goes with its process. The active daemon writes its heartbeat
(:func:`newsletter.report.write_heartbeat`) at start and at every lock check, for ``/healthz``,
and the last result of each job (ok, error, missed) next to it for ``newsletter status``.

For tests only, ``clock_start`` (the hidden ``--clock-start`` option) sets the daemon's clock to
an instant of the test's choosing when it starts scheduling; from then on it runs at the real
pace. Schedules have minute resolution: this is how an end-to-end test reaches a draft and a
send in seconds rather than minutes, without touching the real clock or APScheduler (the list's
triggers are shifted by the offset, and the jobs read "now" from :func:`daemon_now`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

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
from newsletter.config import Config, SourceConfig, safe_url
from newsletter.errors import ConfigError, NewsletterError
from newsletter.jobs import (
    HELD_CHECK_SECONDS,
    collect_source,
    draft_grace,
    draft_list,
    missed_send_step,
    release_approved,
    resume_sending,
    send_grace,
    send_list,
)
from newsletter.locks import DaemonLock, daemon_lock
from newsletter.report import (
    forget_job_results,
    heartbeat_path,
    job_results_path,
    record_job_result,
    write_heartbeat,
)
from newsletter.schedule import LeadTrigger, ListSchedule
from newsletter.store.db import Store, make_engine
from newsletter.store.models import utcnow

log = logging.getLogger("newsletter.daemon")

LOCK_CHECK_SECONDS = 30  # how often the holder checks it still has the lock (and beats)
CONTROL = "control"  # the executor of the lock check: never waits behind a long job
PLAN_CHECK_SECONDS = 60  # how soon a changed lists.toml or source list changes the jobs
STANDBY_POLL_SECONDS = 5.0  # how often a standby daemon tries to take the lock
DATABASE_RETRY_SECONDS = (1, 2, 5, 10, 30, 60)  # backoff while the database is unreachable
JOBSTORE = "default"  # the persisted jobs; "local" holds the daemon's own lock check


# -- the jobs: module-level functions with serialisable arguments ------------------------------


@dataclass
class _Runtime:
    """What the jobs of this process share, set by :meth:`Daemon.run`: neutral otherwise."""

    clock_offset: timedelta = timedelta(0)  # tests only (clock_start)
    results: Path | None = None  # where each job's last result goes


_runtime = _Runtime()


def daemon_now() -> datetime:
    """The daemon's "now": the real time, unless a test set the daemon's clock (clock_start)."""
    return utcnow() + _runtime.clock_offset


Outcome = tuple[str, str]  # ("ok" or "error", one line for 'newsletter status')


def _record(job_id: str, result: str, message: str) -> None:
    if _runtime.results is None:
        return
    try:
        record_job_result(_runtime.results, job_id, result, message, utcnow())
    except OSError as exc:  # status shows an older result; the schedule goes on
        log.error("cannot record the result of %s in %s: %s", job_id, _runtime.results, exc)


def _job(job_id: str, config_path: str, work: Callable[[Config, Store], Outcome]) -> None:
    """Run WORK against a fresh configuration and store, and record its outcome; errors are
    logged and recorded, never raised."""
    try:
        config = config_mod.load(config_path)
        store = Store.open(config.database_url)
        try:
            result, message = work(config, store)
        finally:
            store.close()
    except NewsletterError as exc:
        log.error("%s failed: %s", job_id, exc, extra={"job": job_id})
        result, message = "error", str(exc)
    except Exception as exc:
        log.exception("%s failed", job_id, extra={"job": job_id})
        result, message = "error", f"{type(exc).__name__}: {exc} (the daemon's log has the traceback)"
    _record(job_id, result, message)


def _list_config(config: Config, slug: str) -> ListConfig:
    return find_list(load_lists(config.folder(config.paths.subscribers) / "lists.toml"), slug)


def collect_job(config_path: str, source: str) -> None:
    def work(config: Config, store: Store) -> Outcome:
        with store.session() as session:
            return "ok", collect_source(session, config, source)

    _job(f"collect:{source}", config_path, work)


def draft_job(config_path: str, slug: str) -> None:
    def work(config: Config, store: Store) -> Outcome:
        list_config = _list_config(config, slug)
        with store.session() as session:
            edition = draft_list(session, list_config, now=daemon_now())
            if edition is None:
                return "ok", "nothing new: no draft"
            included = sum(1 for item in edition.items if item.included)
            return "ok", f"edition {edition.id} for {edition.date}: {edition.status}, {included} items"

    _job(f"draft:{slug}", config_path, work)


def send_job(config_path: str, slug: str) -> None:
    from newsletter.deliver import make_backend
    from newsletter.tokens import secret_key

    def work(config: Config, store: Store) -> Outcome:
        list_config = _list_config(config, slug)
        secret = secret_key()
        backend = make_backend(config)
        try:
            with store.session() as session:
                result = send_list(session, config, list_config, now=daemon_now(), backend=backend, secret=secret)
        finally:
            backend.close()
        return ("error" if result.notes else "ok"), result.summary()

    _job(f"send:{slug}", config_path, work)


def held_job(config_path: str, slug: str) -> None:
    from newsletter.deliver import make_backend
    from newsletter.tokens import secret_key

    def work(config: Config, store: Store) -> Outcome:
        list_config = _list_config(config, slug)
        secret = secret_key()
        backend = make_backend(config)
        try:
            with store.session() as session:
                resumed = resume_sending(session, config, list_config, backend=backend, secret=secret)
                result = release_approved(
                    session, config, list_config, now=daemon_now(), backend=backend, secret=secret
                )
        finally:
            backend.close()
        results = [*resumed, *([result] if result is not None else [])]
        if not results:
            return "ok", "no held edition in its grace window"
        return ("error" if any(r.notes for r in results) else "ok"), "; ".join(r.summary() for r in results)

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


def planned_jobs(
    config: Config, lists: Sequence[ListConfig], config_path: str,
    sources: Sequence[SourceConfig] | None = None,
) -> list[JobSpec]:
    """Every job CONFIG and LISTS ask for; ConfigError names a list with a bad schedule.

    SOURCES are the sources to collect (default: those the file enables); the running daemon
    passes what the store says (:func:`collected_sources`): the web app's too.
    """
    if sources is None:
        sources = [s for s in config.sources if s.enabled]
    jobs = [
        JobSpec(
            f"collect:{s.name}", collect_job, (config_path, s.name),
            IntervalTrigger(minutes=s.interval, timezone=UTC), timedelta(minutes=s.interval),
            first_run_now=True,
        )
        for s in sources
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


def collected_sources(url: str, config: Config) -> list[SourceConfig]:
    """The sources collection runs now: the file's, less those the web app disables, plus
    those added in the web app (:func:`newsletter.collect.sources.planned_sources`)."""
    from newsletter.collect.sources import planned_sources

    store = Store(url)
    try:
        with store.session() as session:
            return [p.config for p in planned_sources(session, config)]
    finally:
        store.close()


def shift_jobs(jobs: Sequence[JobSpec], offset: timedelta) -> list[JobSpec]:
    """JOBS as a daemon whose clock runs OFFSET ahead of the real one sees them (tests only):
    each calendar trigger fires OFFSET earlier in real time; interval triggers are unchanged."""
    if not offset:
        return list(jobs)
    return [
        spec if isinstance(spec.trigger, IntervalTrigger)
        else replace(spec, trigger=LeadTrigger(spec.trigger, offset, ZoneInfo("UTC")))
        for spec in jobs
    ]


def _signature(trigger: BaseTrigger) -> str:
    # an interval trigger's repr carries its start date, which is "now" when it is built
    return str(trigger) if isinstance(trigger, IntervalTrigger) else repr(trigger)


@dataclass
class ReconcileReport:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def _verdict(old: Any, spec: JobSpec) -> str:
    """What SPEC makes of the stored job OLD (None if there is none): added, kept or changed."""
    from apscheduler.util import obj_to_ref

    if old is None:
        return "added"
    same = (
        _signature(old.trigger) == _signature(spec.trigger)
        and tuple(old.args) == spec.args
        and old.func_ref == obj_to_ref(spec.func)
    )
    return "kept" if same else "changed"


def plan_changes(scheduler: BaseScheduler, jobs: Sequence[JobSpec]) -> ReconcileReport:
    """What :func:`reconcile` would do with JOBS, without doing it."""
    report = ReconcileReport()
    existing = {job.id: job for job in scheduler.get_jobs(jobstore=JOBSTORE)}
    for spec in jobs:
        getattr(report, _verdict(existing.pop(spec.id, None), spec)).append(spec.id)
    report.removed = sorted(existing)
    return report


def reconcile(scheduler: BaseScheduler, jobs: Sequence[JobSpec], *, now: datetime | None = None) -> ReconcileReport:
    """Make the scheduler's stored jobs exactly JOBS (the scheduler must be started or paused).

    Every job is (re)written with ``replace_existing``; one whose trigger and arguments did not
    change keeps its stored next run time, so a run missed while the daemon was down is not lost.
    """
    now = now or utcnow()
    report = ReconcileReport()
    existing = {job.id: job for job in scheduler.get_jobs(jobstore=JOBSTORE)}
    for spec in jobs:
        old = existing.pop(spec.id, None)
        options: dict[str, Any] = {}
        verdict = _verdict(old, spec)
        getattr(report, verdict).append(spec.id)
        if old is None:
            if spec.first_run_now:
                options["next_run_time"] = now
        elif verdict == "kept" and old.next_run_time is not None:
            options["next_run_time"] = old.next_run_time
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

    def __init__(
        self,
        config_path: str | Path | None,
        *,
        standby_poll: float = STANDBY_POLL_SECONDS,
        clock_start: datetime | None = None,
    ) -> None:
        self.config_path = config_path
        self.standby_poll = standby_poll
        self.clock_start = clock_start  # tests only: see the module docstring
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
        planned_jobs(config, lists, config_path)  # a bad schedule is a ConfigError now, not later
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
            _runtime.results = job_results_path(config)

            def plan() -> list[JobSpec]:
                """The jobs the configuration asks for now (read again: ConfigError if broken)."""
                current = config_mod.load(self.config_path)
                current_lists = load_lists(current.folder(current.paths.subscribers) / "lists.toml")
                return planned_jobs(current, current_lists, config_path, collected_sources(url, current))

            self._schedule(url, plan, lock)
        finally:
            lock.release()
            _runtime.results, _runtime.clock_offset = None, timedelta(0)
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

    def _schedule(self, url: str, plan: Callable[[], list[JobSpec]], lock: DaemonLock) -> None:
        engine = make_engine(url)
        scheduler = DaemonScheduler(
            jobstores={JOBSTORE: SQLAlchemyJobStore(engine=engine), "local": MemoryJobStore()},
            # The jobs run one at a time; the lock check and heartbeat have a thread of their
            # own, so that a send of an hour neither looks like a dead daemon on /healthz nor
            # delays noticing a lost lock.
            executors={"default": ThreadPoolExecutor(max_workers=1),
                       CONTROL: ThreadPoolExecutor(max_workers=1)},
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

        def check_plan() -> None:
            """The jobs follow the configuration while the daemon runs: a list added, removed or
            rescheduled in lists.toml, a source added or disabled in the web app or the file."""
            try:
                planned = shift_jobs(plan(), _runtime.clock_offset)
            except ConfigError as exc:
                log.error("%s; the jobs stay as they are until it is fixed", exc)
                return
            except (OperationalError, NewsletterError) as exc:
                log.error("cannot read the sources from the store: %s", exc)
                return
            changes = plan_changes(scheduler, planned)
            if changes.added or changes.changed or changes.removed:
                report = reconcile(scheduler, planned)
                log.info(
                    "the configuration changed: jobs %s added, %s changed, %s removed",
                    ", ".join(report.added) or "none", ", ".join(report.changed) or "none",
                    ", ".join(report.removed) or "none",
                )

        def on_start(_event: object) -> None:
            if self.clock_start is not None:
                _runtime.clock_offset = self.clock_start - utcnow()
            planned = shift_jobs(plan(), _runtime.clock_offset)
            if self.clock_start is not None:
                log.warning(
                    "test clock: the daemon's clock reads %s (%+.0f s from the real one); "
                    "next run times below are real times",
                    self.clock_start.isoformat(), _runtime.clock_offset.total_seconds(),
                )
            report = reconcile(scheduler, planned)
            if _runtime.results is not None:
                try:
                    forget_job_results(_runtime.results, [spec.id for spec in planned])
                except OSError as exc:
                    log.error("cannot update %s: %s", _runtime.results, exc)
            beat()
            scheduler.add_job(check_lock, "interval", seconds=LOCK_CHECK_SECONDS, id="lock-check",
                              jobstore="local", executor=CONTROL)
            scheduler.add_job(check_plan, "interval", seconds=PLAN_CHECK_SECONDS, id="plan-check",
                              jobstore="local")
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
            step = ""
            if event.job_id.startswith("send:"):  # an edition left unsent: say what sends it
                when = event.scheduled_run_time + _runtime.clock_offset
                step = "; " + missed_send_step(self.config_path and str(self.config_path),
                                               event.job_id.removeprefix("send:"), when)
            log.warning(
                "%s: the run of %s was missed by more than its grace time: skipped%s",
                event.job_id, event.scheduled_run_time, step,
            )
            if event.jobstore == JOBSTORE:
                when = event.scheduled_run_time.astimezone(UTC)
                _record(event.job_id, "missed", f"the run of {when:%Y-%m-%d %H:%M} UTC was missed by "
                        f"more than its grace time (daemon down or busy): skipped{step}")

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
