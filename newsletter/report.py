"""What the store holds and what the daemon will do next, for `newsletter status` and `/healthz`.

The daemon's heartbeat is a file, ``<data folder>/daemon.heartbeat``, holding the ISO time of
its last lock check (every 30 s): no table, so no migration, and readable without the database.
Next to it, ``daemon.jobs.json`` holds the last result of each of its jobs (ok, error or
missed, with a one-line message and the time), written by the active daemon after every run.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from newsletter.audience.lists import ListConfig
from newsletter.config import Config
from newsletter.schedule import ListSchedule
from newsletter.store.models import (
    Article,
    DeliveryBatch,
    Edition,
    EditionItem,
    MailingList,
    Source,
    Summary,
)

HEARTBEAT_FILE = "daemon.heartbeat"
JOB_RESULTS_FILE = "daemon.jobs.json"
JOB_RESULTS = ("ok", "error", "missed")


@dataclass
class SourceState:
    name: str
    kind: str
    articles: int
    last_fetch: str
    last_error: str | None


@dataclass
class EditionState:
    id: int
    list_slug: str
    date: str
    status: str
    batches: dict[str, int]  # batch status -> count
    recipients_sent: int
    # set by attention_editions: the end of the grace window of its send time (None: unknown),
    # and whether it was due (approved, or an auto-review list's draft) and went unsent
    send_deadline: datetime | None = None
    overdue: bool = False


@dataclass
class StoreStatus:
    sources: list[SourceState] = field(default_factory=list)
    articles: int = 0
    summaries: int = 0
    stories: int = 0
    pending: int = 0
    languages: dict[str, int] = field(default_factory=dict)
    editions: list[EditionState] = field(default_factory=list)


def store_status(session: Session) -> StoreStatus:
    counts = dict(
        session.execute(select(Article.source_id, func.count()).group_by(Article.source_id)).all()
    )
    state = StoreStatus()
    for source in session.scalars(select(Source).order_by(Source.name)):
        when = source.last_fetched_at.strftime("%Y-%m-%d %H:%M UTC") if source.last_fetched_at else "never"
        state.sources.append(
            SourceState(source.name, source.kind, counts.get(source.id, 0), when, source.last_error)
        )
    state.articles = session.scalar(select(func.count(Article.id))) or 0
    state.summaries = session.scalar(select(func.count(Summary.id))) or 0
    state.stories = session.scalar(select(func.count(func.distinct(Article.story_id)))) or 0
    state.pending = session.scalar(
        select(func.count(Article.id)).where(Article.enriched_at.is_(None))
    ) or 0
    state.languages = dict(
        session.execute(
            select(Article.language, func.count()).group_by(Article.language).order_by(func.count().desc())
        ).all()
    )
    state.editions = recent_editions(session)
    return state


def recent_editions(
    session: Session, limit: int = 10, ids: Sequence[int] | None = None, *,
    list_slug: str = "", status: str = "",
) -> list[EditionState]:
    """The latest editions (or those of IDS, of LIST_SLUG, with STATUS) with their delivery
    progress, newest first."""
    query = (
        select(Edition.id, MailingList.slug, Edition.date, Edition.status)
        .join(MailingList, MailingList.id == Edition.list_id)
        .order_by(Edition.date.desc(), Edition.id.desc())
        .limit(limit)
    )
    if ids is not None:
        query = query.where(Edition.id.in_(ids))
    if list_slug:
        query = query.where(MailingList.slug == list_slug)
    if status:
        query = query.where(Edition.status == status)
    editions = session.execute(query).all()
    ids = [row.id for row in editions]
    batches: dict[int, dict[str, int]] = {i: {} for i in ids}
    sent: dict[int, int] = dict.fromkeys(ids, 0)
    waiting = DeliveryBatch.not_before.is_not(None)  # pending again after a failed attempt
    for edition_id, status, retry, count, recipients in session.execute(
        select(DeliveryBatch.edition_id, DeliveryBatch.status, waiting, func.count(),
               func.sum(DeliveryBatch.sent_count))
        .where(DeliveryBatch.edition_id.in_(ids))
        .group_by(DeliveryBatch.edition_id, DeliveryBatch.status, waiting)
    ):
        status = "retrying" if status == "pending" and retry else status
        batches[edition_id][status] = batches[edition_id].get(status, 0) + count
        if status == "sent":  # sent batches come in two groups: sent at once, sent after a retry
            sent[edition_id] += int(recipients or 0)
    return [
        EditionState(row.id, row.slug, row.date.isoformat(), row.status, batches[row.id], sent[row.id])
        for row in editions
    ]


def attention_editions(
    session: Session, lists: Sequence[ListConfig] = (), now: datetime | None = None
) -> list[EditionState]:
    """Editions an editor must look at: held (review = required), or with uncertain batches;
    and, with LISTS and NOW, those due whose send time and grace window passed unsent (approved,
    or a draft of an ``auto`` list: its send job failed, or the daemon was down then)."""
    configs = {lst.slug: lst for lst in lists}
    uncertain = select(DeliveryBatch.edition_id).where(DeliveryBatch.status == "uncertain")
    ids = set(session.scalars(
        select(Edition.id).where(or_(Edition.status == "held", Edition.id.in_(uncertain)))
    ).all())
    overdue: set[int] = set()
    if configs and now is not None:
        items = (
            select(func.count(EditionItem.id))
            .where(EditionItem.edition_id == Edition.id)
            .scalar_subquery()
        )
        for edition_id, slug, day, status, count in session.execute(
            select(Edition.id, MailingList.slug, Edition.date, Edition.status, items)
            .join(MailingList, MailingList.id == Edition.list_id)
            .where(Edition.status.in_(("approved", "draft")), MailingList.slug.in_(configs))
        ):
            lst = configs[slug]
            if status == "draft" and (lst.review != "auto" or (not count and not lst.send_empty)):
                continue  # a required list's draft gets held; an empty one sends no mail
            deadline = send_deadline(lst, day)
            if deadline is not None and now > deadline:
                overdue.add(edition_id)
    ids |= overdue
    if not ids:
        return []
    states = recent_editions(session, limit=len(ids), ids=sorted(ids))
    for state in states:
        state.overdue = state.id in overdue
        lst = configs.get(state.list_slug)
        if lst is not None:
            state.send_deadline = send_deadline(lst, date.fromisoformat(state.date))
    return states


def send_deadline(list_config: ListConfig, day: date) -> datetime | None:
    """The end (UTC) of the grace window of LIST_CONFIG's last send time on its local DAY; None
    if its schedule sends nothing that day (or is invalid)."""
    from newsletter.errors import ConfigError
    from newsletter.jobs import send_grace

    try:
        schedule = ListSchedule.of(list_config)
    except ConfigError:
        return None
    times = schedule.send_times(day)
    return times[-1].astimezone(UTC) + send_grace(list_config) if times else None


@dataclass
class ListPlan:
    """When the daemon next drafts and sends a list's edition (aware datetimes, None if never)."""

    slug: str
    timezone: str
    review: str
    next_draft: datetime | None
    next_send: datetime | None


def list_plans(lists: Sequence[ListConfig], now: datetime) -> list[ListPlan]:
    """Each list's next draft and send time after NOW, in the list's time zone."""
    plans = []
    for lst in lists:
        schedule = ListSchedule.of(lst)
        plans.append(
            ListPlan(lst.slug, lst.timezone, lst.review, schedule.next_draft(now), schedule.next_send(now))
        )
    return plans


# -- the daemon's heartbeat ----------------------------------------------------------------------


def heartbeat_path(config: Config) -> Path:
    return config.data_dir / HEARTBEAT_FILE


def write_heartbeat(path: Path, now: datetime) -> None:
    """Record NOW in PATH atomically (a reader never sees half a time)."""
    _write_atomically(path, now.astimezone(UTC).isoformat() + "\n")


def read_heartbeat(path: Path) -> datetime | None:
    """The daemon's last heartbeat, or None if it never beat here (or the file is unreadable)."""
    try:
        when = datetime.fromisoformat(path.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def heartbeat_age(path: Path, now: datetime) -> float | None:
    """Seconds since the daemon's last heartbeat, or None without one."""
    when = read_heartbeat(path)
    return None if when is None else max(0.0, (now - when).total_seconds())


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".tmp")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


# -- the last result of each daemon job ----------------------------------------------------------


@dataclass(frozen=True)
class JobResult:
    """The last run of one daemon job: RESULT is ok, error or missed (skipped: too late)."""

    job: str
    result: str
    message: str
    at: datetime


_results_lock = threading.Lock()  # jobs and the scheduler's listeners write from their threads


def job_results_path(config: Config) -> Path:
    return config.data_dir / JOB_RESULTS_FILE


def _load_results(path: Path) -> dict[str, dict[str, str]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    jobs = data.get("jobs") if isinstance(data, dict) else None
    return {k: v for k, v in jobs.items() if isinstance(v, dict)} if isinstance(jobs, dict) else {}


def _save_results(path: Path, jobs: dict[str, dict[str, str]]) -> None:
    _write_atomically(path, json.dumps({"jobs": dict(sorted(jobs.items()))}, ensure_ascii=False, indent=1) + "\n")


def record_job_result(path: Path, job: str, result: str, message: str, at: datetime) -> None:
    """Record the last run of JOB in PATH (atomically: a reader sees the old file or the new)."""
    if result not in JOB_RESULTS:
        raise ValueError(f"job result {result!r} is not one of {', '.join(JOB_RESULTS)}")
    with _results_lock:
        jobs = _load_results(path)
        jobs[job] = {"result": result, "message": message, "at": at.astimezone(UTC).isoformat()}
        _save_results(path, jobs)


def forget_job_results(path: Path, keep: Iterable[str]) -> list[str]:
    """Drop the results of jobs not in KEEP (removed lists and sources); the ids dropped."""
    keep = set(keep)
    with _results_lock:
        jobs = _load_results(path)
        gone = sorted(set(jobs) - keep)
        if gone:
            _save_results(path, {k: v for k, v in jobs.items() if k in keep})
    return gone


def read_job_results(path: Path) -> list[JobResult]:
    """The last result of each job, by job id; none if the daemon never ran here."""
    results = []
    for job, entry in sorted(_load_results(path).items()):
        try:
            when = datetime.fromisoformat(str(entry.get("at", "")))
        except ValueError:
            continue
        when = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
        results.append(JobResult(job, str(entry.get("result", "?")), str(entry.get("message", "")), when))
    return results
