"""What the daemon's jobs do: library functions with "now" given, one per stage it triggers.

:func:`collect_source` (``collect:<source>``), :func:`draft_list` (``draft:<list>``),
:func:`send_list` (``send:<list>``) and :func:`release_approved` (``held:<list>``). The
scheduled entry points that call them stay in :mod:`newsletter.daemon`: the job store keeps them
as ``module:function`` references.

Sending is idempotent per list and edition date (:func:`send_list`): the edition is the list's
one row for its local date (unique in the store), and sending a sent edition sends nothing more,
so a send that fires twice (the repeated hour when clocks go back, a restart, a second daemon)
mails nobody twice. A send says what went: ``sent``, ``partly sent`` (batches wait for a retry,
with the reason) or ``nothing sent yet`` (a problem, logged at WARNING).

A send job that failed (lists.toml briefly invalid, a database hiccup) loses nothing within the
grace window: the ``held:<list>`` check sends a due edition still approved, or an ``auto``
list's draft (:func:`release_approved`). Past the window it is logged once with the commands to
run, and ``newsletter status`` lists it (:func:`newsletter.report.attention_editions`).

Review ``required``: an edition not approved by its send time is ``held``, and the list's
``editors`` get a short email (:mod:`newsletter.notify`). An approval within the list's grace
window (:func:`send_grace`, counted from the send time) sends it at the next ``held:<list>``
check; once the window has closed it stays unsent, and the check logs so once.

Nothing new since the last edition: with ``send_empty`` false (the default) no edition is built
and the send logs one line, no mail; with ``send_empty`` true an edition with no item is built
and sent like any other ("nothing new since the last edition", in the list's language).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from newsletter.audience.lists import ListConfig, sync_lists
from newsletter.config import Config
from newsletter.deliver.message import MailBackend
from newsletter.editions import NothingNewError, approve, build_edition
from newsletter.errors import EditionError, NewsletterError
from newsletter.schedule import ListSchedule
from newsletter.store.models import Edition, utcnow

# the daemon's log lines keep one logger name, whichever module writes them
log = logging.getLogger("newsletter.daemon")

GRACE_MINUTES = 30  # a send missed by less than this still runs once; older ones are skipped
HELD_CHECK_SECONDS = 60  # how often held:<list> looks for an edition approved after its send time


def send_grace(list_config: ListConfig) -> timedelta:
    return timedelta(minutes=GRACE_MINUTES)


def draft_grace(list_config: ListConfig) -> timedelta:
    """A draft run late is still useful until the send time (the send builds it otherwise)."""
    return timedelta(minutes=max(1, min(GRACE_MINUTES, list_config.lead_minutes)))


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
        edition = build_edition(session, list_config, day, now=now, allow_empty=list_config.send_empty)
    except NothingNewError as exc:
        log.info("%s: %s", list_config.slug, exc)
        return None
    session.commit()
    included = sum(1 for item in edition.items if item.included)
    empty = " (nothing new: send_empty is set)" if not edition.items else ""
    log.info("%s: draft edition %s for %s with %s items%s", list_config.slug, edition.id, day, included, empty)
    return edition


@dataclass
class SendResult:
    """What a send run did: ``sent``, ``partly sent``, ``nothing sent yet``, ``already sent``,
    ``held``, ``cancelled``, ``nothing new``...

    NOTES are problems (failed or uncertain batches, a notice not sent): the run is an error.
    """

    outcome: str
    edition_id: int | None = None
    messages: int = 0
    notes: list[str] = field(default_factory=list)
    notified: list[str] = field(default_factory=list)  # editors told of a held edition
    retrying: str = ""  # batches waiting for another attempt, in one line (not a problem yet)

    def summary(self) -> str:
        """One line for ``newsletter status``: "sent: edition 4, 3 messages"."""
        details = [f"edition {self.edition_id}"] if self.edition_id is not None else []
        if self.messages:
            details.append(f"{self.messages} messages")
        if self.notified:
            details.append(f"{len(self.notified)} editors notified")
        line = f"{self.outcome}: {', '.join(details)}" if details else self.outcome
        extra = [*self.notes, *([self.retrying] if self.retrying else [])]
        return line + "".join(f"; {note}" for note in extra)


_RETRYING = re.compile(r"^batch (?P<n>\d+): next attempt after (?P<at>.+? UTC): (?P<why>.*)$", re.S)


def retry_line(retrying: list[str]) -> str:
    """RETRYING (a send report's "batch N: next attempt after T UTC: why") in one line: how
    many batches wait, when the first is tried again and why it did not go."""
    if not retrying:
        return ""
    found = [m for m in map(_RETRYING.match, retrying) if m is not None]
    if not found:
        return f"{len(retrying)} batches wait for a retry: {retrying[0]}"
    first = min(found, key=lambda m: m["at"])  # "YYYY-MM-DD HH:MM:SS UTC" sorts as text
    return (f"{len(retrying)} batches wait for a retry, the next after {first['at']} "
            f"(batch {first['n']}: {first['why'] or 'no reason given'})")


def _delivered(
    result: SendResult, report: Any, slug: str, day: Any, how: str = ""
) -> SendResult:
    """Fill RESULT from a send REPORT and log it truthfully: ``sent`` only when every batch
    went; ``partly sent`` when some wait for a retry; ``nothing sent yet`` (a problem, logged
    at WARNING) when none went. HOW says how the edition came to be sent, for the log."""
    edition_id = result.edition_id
    result.messages = report.sent
    result.notes = [*report.failed, *(f"batch {n} uncertain" for n in report.uncertain)]
    waiting = retry_line(report.retrying)
    before = f" ({report.already_sent} batches sent before)" if report.already_sent else ""
    done = f"{report.sent} messages sent in {report.sent_batches} batches{before}"
    if not waiting:
        result.outcome = "sent"
        log.info("%s: edition %s for %s%s: %s", slug, edition_id, day, how, done)
    elif report.sent or report.already_sent:
        result.outcome, result.retrying = "partly sent", waiting
        log.warning("%s: edition %s for %s%s: partly sent: %s; %s (the held:%s check sends them "
                    "when due)", slug, edition_id, day, how, done, waiting, slug)
    else:  # nothing went out: the run is a problem, whatever comes of the retries
        result.outcome = "nothing sent yet"
        result.notes.insert(0, waiting)
        log.warning("%s: edition %s for %s%s: nothing sent yet (0 messages): %s (the held:%s "
                    "check sends them when due)", slug, edition_id, day, how, waiting, slug)
    for note in result.notes:
        if note != waiting:
            log.error("%s: edition %s: %s", slug, edition_id, note)
    return result


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
    slug = list_config.slug
    schedule = ListSchedule.of(list_config)
    day = schedule.send_day(now, send_grace(list_config))
    edition = _edition(session, list_config, day)
    if edition is None:  # the draft did not run (daemon down then, or no lead time): build now
        try:
            edition = build_edition(session, list_config, day, now=now, allow_empty=list_config.send_empty)
        except NothingNewError as exc:
            log.info("%s: %s: no mail", slug, exc)
            return SendResult("nothing new")
        session.commit()
    if edition.status == "draft" and not edition.items and not list_config.send_empty:
        # a draft whose articles all went into an earlier edition sent since it was built
        log.info("%s: edition %s for %s has no article and send_empty is off: no mail", slug, edition.id, day)
        return SendResult("nothing new", edition.id)
    return _send_due(session, config, list_config, edition, now=now, backend=backend, secret=secret)


def _send_due(
    session: Session,
    config: Config,
    list_config: ListConfig,
    edition: Edition,
    *,
    now: datetime,
    backend: MailBackend,
    secret: str,
    how: str = "",
) -> SendResult:
    """Do what the review policy says with EDITION, whose send time has come (see send_list).

    HOW, for the log, says why it is sent now if not by the send job itself."""
    from newsletter.deliver.send import send_edition

    slug, day, schedule = list_config.slug, edition.date, ListSchedule.of(list_config)
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
            result.outcome = "held"
            _notify_held(session, config, list_config, edition, schedule, now, backend, result)
            log.warning(
                "%s: edition %s for %s held: not approved by its send time (review = required); %s",
                slug, edition.id, day,
                f"editors notified: {', '.join(result.notified)}" if result.notified
                else "no editor notified" + ("" if list_config.editors else " (lists[].editors is empty)"),
            )
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
    report = send_edition(session, config, list_config, edition.id, backend, secret, wait_for_retries=False)
    return _delivered(result, report, slug, day, how)


def resume_sending(
    session: Session, config: Config, list_config: ListConfig, *, backend: MailBackend, secret: str
) -> list[SendResult]:
    """Send the batches of LIST_CONFIG's editions still ``sending`` whose next attempt is due.

    The daemon never sleeps through a provider's outage inside a job (its other jobs would
    wait): a send leaves batches put back for a later attempt pending, and the ``held:<list>``
    check, every HELD_CHECK_SECONDS, sends them when due (as ``newsletter worker`` would).
    """
    from newsletter.deliver.batches import next_attempt
    from newsletter.deliver.send import send_edition

    list_id = sync_lists(session, [list_config])[list_config.slug].id
    sending = session.scalars(
        select(Edition.id).where(Edition.list_id == list_id, Edition.status == "sending")
    ).all()
    results = []
    for edition_id in sending:
        due = next_attempt(session, edition_id=edition_id)
        if due is None or due > utcnow():
            continue
        report = send_edition(session, config, list_config, edition_id, backend, secret, wait_for_retries=False)
        result = SendResult("resumed", edition_id, report.sent)
        result.notes = [*report.failed, *(f"batch {n} uncertain" for n in report.uncertain)]
        result.retrying = retry_line(report.retrying)
        log.log(logging.WARNING if result.retrying and not report.sent else logging.INFO,
                "%s: edition %s: %s messages sent on a later attempt%s", list_config.slug,
                edition_id, report.sent, f"; {result.retrying}" if result.retrying else "")
        for note in result.notes:
            log.error("%s: edition %s: %s", list_config.slug, edition_id, note)
        results.append(result)
    return results


def _notify_held(
    session: Session,
    config: Config,
    list_config: ListConfig,
    edition: Edition,
    schedule: ListSchedule,
    now: datetime,
    backend: MailBackend,
    result: SendResult,
) -> None:
    """Email the editors that EDITION is held, and note it on the edition; a failure is a note,
    the edition stays held and the ``held:<list>`` check tries again (:func:`release_approved`),
    as it does when the daemon died between holding the edition and mailing."""
    from newsletter.notify import send_held_notice

    send_time = schedule.latest_send(now, send_grace(list_config)) or now.astimezone(UTC)
    try:
        result.notified = send_held_notice(
            backend, config, list_config, edition,
            send_time=send_time, deadline=send_time + send_grace(list_config),
        )
    except NewsletterError as exc:
        result.notes.append(f"editors not notified: {exc}")
        log.error("%s: edition %s held, but its editors were not notified: %s", list_config.slug, edition.id, exc)
        return
    edition.held_notified_at = now
    session.commit()


def release_approved(
    session: Session,
    config: Config,
    list_config: ListConfig,
    *,
    now: datetime,
    backend: MailBackend,
    secret: str,
) -> SendResult | None:
    """Send the edition of LIST_CONFIG's latest send time if it is due but not sent; None when
    there is nothing to do.

    Due: held, then approved within the grace window; or approved, or a draft, whose send job
    did not send it (it failed: lists.toml briefly invalid, a database hiccup). A draft is
    then dealt with as the send job would (``auto``: approved and sent; ``required``: held), once
    the send job had a check's time to run first.

    The ``held:<list>`` job runs this every HELD_CHECK_SECONDS. An approval up to the end of the
    window (send time + grace) counts even if this check runs a little later; a held edition,
    a draft, or one approved too late, is logged (once: it is seen for one check past the
    window) with the command that sends it, and left unsent. Sending goes through
    ``send_edition``, which sends nothing twice.
    """
    slug = list_config.slug
    schedule = ListSchedule.of(list_config)
    grace, check = send_grace(list_config), timedelta(seconds=HELD_CHECK_SECONDS)
    send_time = schedule.latest_send(now, grace + check)
    if send_time is None:
        return None
    day = schedule.local_day(send_time)
    edition = _edition(session, list_config, day)
    if edition is None or edition.status not in ("held", "approved", "draft"):
        return None
    deadline = send_time + grace
    closed = f"its grace window closed at {deadline.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
    if edition.status == "draft":
        return _release_draft(session, config, list_config, edition, now=now, backend=backend,
                              secret=secret, send_time=send_time, closed=closed)
    if edition.status == "held":
        result = SendResult("held", edition.id)
        if now > deadline:
            log.warning(
                "%s: edition %s for %s still held when %s: not sent "
                "(approve it, then 'newsletter editions send %s', to send it anyway)",
                slug, edition.id, day, closed, edition.id,
            )
        elif edition.held_notified_at is None:  # the notice failed, or the daemon died before it
            _notify_held(session, config, list_config, edition, schedule, now, backend, result)
            if result.notified:
                log.warning("%s: edition %s for %s held: editors notified: %s", slug, edition.id, day,
                            ", ".join(result.notified))
        return result
    approved_at = edition.approved_at
    if approved_at is not None and approved_at > deadline:
        log.warning(
            "%s: edition %s for %s approved at %s UTC, after %s: not sent "
            "(run 'newsletter editions send %s' to send it anyway)",
            slug, edition.id, day, f"{approved_at.astimezone(UTC):%H:%M}", closed, edition.id,
        )
        return SendResult("approved too late", edition.id)
    late = approved_at is not None and approved_at > send_time
    how = (" approved within its grace window" if late
           else " approved, not sent by its send job: sent by the held check")
    return _send_due(session, config, list_config, edition, now=now, backend=backend,
                     secret=secret, how=how)


def _release_draft(
    session: Session,
    config: Config,
    list_config: ListConfig,
    edition: Edition,
    *,
    now: datetime,
    backend: MailBackend,
    secret: str,
    send_time: datetime,
    closed: str,
) -> SendResult | None:
    """A draft still a draft after its send time: its send job failed or did not run."""
    slug, day = list_config.slug, edition.date
    if now < send_time + timedelta(seconds=HELD_CHECK_SECONDS):
        return None  # the send job goes first
    if not edition.items and not list_config.send_empty:
        return None  # nothing new: no mail (the send job says so)
    if edition.items and not any(item.included for item in edition.items):
        return None  # cannot be approved as it is: the send job says so
    if now > send_time + send_grace(list_config):
        log.warning(
            "%s: edition %s for %s still a draft when %s: not sent (its send job did not run "
            "or failed; approve it ('newsletter editions approve %s'), then "
            "'newsletter editions send %s', to send it anyway)",
            slug, edition.id, day, closed, edition.id, edition.id,
        )
        return SendResult("not sent", edition.id)
    log.warning("%s: edition %s for %s still a draft after its send time (its send job failed "
                "or did not run): dealt with now (review = %s)", slug, edition.id, day,
                list_config.review)
    return _send_due(session, config, list_config, edition, now=now, backend=backend,
                     secret=secret, how=" by the held check")


def missed_send_step(config_path: str | None, slug: str, scheduled: datetime) -> str:
    """What to run about LIST's send missed at SCHEDULED by more than its grace time (the
    daemon was down or busy): the edition of that day and the command that sends it. For the
    daemon's log line; never raises (a generic hint when the store cannot tell)."""
    from newsletter import config as config_mod
    from newsletter.audience.lists import find_list, load_lists
    from newsletter.store.db import Store

    generic = "see 'newsletter status' for the edition to send ('newsletter editions send ID')"
    try:
        config = config_mod.load(config_path)
        lists = load_lists(config.folder(config.paths.subscribers) / "lists.toml")
        list_config = find_list(lists, slug)
        day = ListSchedule.of(list_config).local_day(scheduled)
        store = Store.open(config.database_url)
        try:
            with store.session() as session:
                edition = _edition(session, list_config, day)
                status, edition_id = (edition.status, edition.id) if edition else ("", 0)
        finally:
            store.close()
    except Exception:  # noqa: BLE001 - a hint, not worth failing the listener for
        log.debug("no step for the missed send of %s", slug, exc_info=True)
        return generic
    send = f"'newsletter editions send {edition_id}'"
    if not status:
        return (f"no edition for {day}: build it ('newsletter editions build --list {slug} "
                f"--date {day}'), approve it, then send it ('newsletter editions send ID')")
    if status == "approved":
        return f"edition {edition_id} for {day} is approved, not sent: send it with {send}"
    if status in ("draft", "held"):
        return (f"edition {edition_id} for {day} is {status}, not sent: approve it ('newsletter "
                f"editions approve {edition_id}'), then send it with {send}")
    return f"edition {edition_id} for {day} is {status}"


def collect_source(session: Session, config: Config, name: str) -> str:
    """Collect one source, then enrich and summarize what is new; what it did, in one line."""
    from newsletter.collect.run import collect
    from newsletter.enrich.pending import enrich_pending
    from newsletter.summarize.pending import summarize_pending

    (report,) = collect(session, config, names=[name])
    if report.disabled:
        log.info("%s: disabled in the web app, not fetched", name)
        return "disabled in the web app: not fetched"
    enriched = enrich_pending(session, config)
    summarized = summarize_pending(session, config)
    state = "not modified" if report.not_modified else f"{report.new} new, {report.known} known"
    done = f"{state}; {len(enriched)} enriched, {summarized} summarized"
    if report.robots_refused:
        done += f"; {len(report.robots_refused)} page(s) not fetched (robots.txt): teasers kept"
    if report.completed:
        done += f"; {len(report.completed)} earlier teaser(s) completed from their page"
    log.info("%s: %s", name, done)
    for message in report.errors:
        log.warning("%s: %s", name, message)
    return done + (f"; {len(report.errors)} errors (see 'newsletter status')" if report.errors else "")
