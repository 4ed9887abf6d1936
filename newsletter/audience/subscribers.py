"""Subscribers: members files synced into the store, export, erasure.

Consent wins. A membership that is unsubscribed, bounced or complained is never touched by an
import, whatever the file says; a forgotten person (:func:`forget`) stays suppressed on every
list, because their address is kept only as a keyed hash in the suppression list
(:mod:`newsletter.audience.consent`) that every import checks. Each membership an import adds
or activates gets a line in the consent history (origin ``csv:<file>``). A person is their
address in any case (``Subscriber.email_key``): a file's ``ANA@x.org`` updates the ``ana@x.org``
already known, whose spelling is kept.

The work is done in bulk (``WHERE email_key IN (...)`` by chunks, multi-row inserts and updates),
never one query per row, so a file of 100,000 rows syncs in seconds.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    any_,
    bindparam,
    delete,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session

from newsletter.audience.consent import suppress, suppressed_among
from newsletter.audience.lists import ListConfig, sync_lists
from newsletter.audience.members import (  # re-exported: the CLI and tests read members here too
    Member,
    RowError,
    _FileError,
    email_key,
    normalise_email,
    read_members,
)
from newsletter.errors import InputError
from newsletter.store.models import (
    SUPPRESSED,
    ConsentEvent,
    MailingList,
    Membership,
    ProviderEvent,
    Subscriber,
    utcnow,
)

CHUNK = 500
ANALYZE_AFTER = 5000  # rows added to a PostgreSQL store before its statistics are refreshed
ORIGIN_MAX = 40  # Membership.origin


@dataclass
class SyncReport:
    """What one list file did to one list. ``path`` is None when the list has no file.

    ``file_error`` is set when the whole file could not be read (no header, no email column,
    not UTF-8...): nothing of it was synced. It is also the only item of ``errors``.
    """

    list_slug: str
    path: Path | None = None
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    kept_suppressed: int = 0
    errors: list[RowError] = field(default_factory=list)
    warnings: list[RowError] = field(default_factory=list)
    file_error: RowError | None = None

    def summary(self) -> str:
        if self.path is None and not self.errors:
            return f"{self.list_slug}: no member file, nothing to sync"
        if self.file_error is not None:
            return f"{self.list_slug}: file not read, nothing synced ({self.file_error})"
        text = (
            f"{self.list_slug}: {self.added} added, {self.updated} updated, "
            f"{self.unchanged} unchanged, {self.kept_suppressed} kept suppressed"
        )
        if self.errors:
            text += f", {len(self.errors)} invalid row{'s' if len(self.errors) > 1 else ''}"
        return text


def _chunks(items: list[Any], size: int = CHUNK) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _one_of(session: Session, column: ColumnElement[Any], values: list[Any]) -> ColumnElement[bool]:
    """``column IN values``; on PostgreSQL ``= ANY(array)``, one parameter.

    psycopg prepares a statement run five times, and PostgreSQL's generic plan for
    ``IN ($1, ..., $500)`` compares every row with every value (minutes for 100,000 rows);
    with an array parameter it looks each value up in the index.
    """
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, values, type_=ARRAY(column.type)))
    return column.in_(values)


def _subscribers_by_key(session: Session, keys: list[str]) -> dict[str, tuple[int, str, str]]:
    """(id, name, language) of the subscribers of KEYS (email_key), by key."""
    found: dict[str, tuple[int, str, str]] = {}
    for chunk in _chunks(keys):
        rows = session.execute(
            select(Subscriber.id, Subscriber.email_key, Subscriber.name, Subscriber.language)
            .where(_one_of(session, Subscriber.email_key, chunk))
        )
        for sid, key, name, language in rows:
            found[key] = (sid, name, language)
    return found


def _memberships(
    session: Session, list_id: int, subscriber_ids: list[int]
) -> dict[int, tuple[int, str]]:
    found: dict[int, tuple[int, str]] = {}
    for chunk in _chunks(subscriber_ids):
        rows = session.execute(
            select(Membership.id, Membership.subscriber_id, Membership.status).where(
                Membership.list_id == list_id, _one_of(session, Membership.subscriber_id, chunk)
            )
        )
        for mid, sid, status in rows:
            found[sid] = (mid, status)
    return found


def sync_members(
    session: Session, mailing_list: MailingList, members: Iterable[Member], origin: str
) -> SyncReport:
    """Add and update the list's members from a file's rows; consent wins over the file.

    - a new address gets a Subscriber and an active Membership (``added``);
    - a known subscriber (the address in any case; its first spelling stays) gets the name and
      language the file gives (empty means keep), and a pending membership becomes active: the
      newsroom importing the file holds the consent (``updated``);
    - a membership that is unsubscribed, bounced or complained, or an address on the
      suppression list (forgotten), is left exactly as it is (``kept_suppressed``);
    - members missing from the file stay (removing them is a later ``--prune``).
    """
    report = SyncReport(mailing_list.slug)
    by_key: dict[str, Member] = {}
    for member in members:  # callers other than read_members may repeat an address
        key = email_key(member.email)
        known = by_key.get(key)
        if known is None:
            by_key[key] = Member(member.email, member.name, member.language, member.line)
        else:
            known.name = member.name or known.name
            known.language = member.language or known.language
    if not by_key:
        return report
    keys = list(by_key)
    suppressed = suppressed_among(session, [m.email for m in by_key.values()])
    existing = _subscribers_by_key(session, keys)
    memberships = _memberships(
        session, mailing_list.id, [existing[k][0] for k in keys if k in existing]
    )
    origin = origin[:ORIGIN_MAX]
    now = utcnow()

    new_subscribers: list[dict[str, str]] = []
    new_members: list[int] = []  # subscriber ids needing a membership
    subscriber_updates: list[dict[str, object]] = []
    activated: list[dict[str, object]] = []
    for key, member in by_key.items():
        if member.email in suppressed:
            report.kept_suppressed += 1
            continue
        known_sub = existing.get(key)
        if known_sub is None:
            new_subscribers.append(
                {"email": member.email, "email_key": key, "name": member.name,
                 "language": member.language}
            )
            continue
        sid, name, language = known_sub
        membership = memberships.get(sid)
        if membership is not None and membership[1] in SUPPRESSED:
            report.kept_suppressed += 1
            continue
        new_name, new_language = member.name or name, member.language or language
        changed = (new_name, new_language) != (name, language)
        if changed:
            subscriber_updates.append({"id": sid, "name": new_name, "language": new_language})
        if membership is None:
            new_members.append(sid)
            report.added += 1
        elif membership[1] != "active":
            activated.append({"id": membership[0], "status": "active", "status_changed_at": now})
            report.updated += 1
        elif changed:
            report.updated += 1
        else:
            report.unchanged += 1

    # Core inserts on the tables: the ORM bulk path adds overhead per row and nothing we use.
    if new_subscribers:
        table = Subscriber.__table__
        for chunk in _chunks(new_subscribers):
            new_members.extend(
                session.execute(insert(table).returning(table.c.id), chunk).scalars()
            )
        report.added += len(new_subscribers)
    history: list[dict[str, object]] = []
    if new_members:
        table = Membership.__table__
        rows = session.execute(
            insert(table).returning(table.c.id, table.c.subscriber_id),
            [
                {
                    "list_id": mailing_list.id,
                    "subscriber_id": sid,
                    "status": "active",
                    "origin": origin,
                    "created_at": now,
                    "status_changed_at": now,
                }
                for sid in new_members
            ],
        ).all()
        history.extend(_history(mailing_list.id, mid, sid, "added", "active", origin, now)
                       for mid, sid in rows)
    if subscriber_updates:
        session.execute(update(Subscriber), subscriber_updates)
    if activated:
        session.execute(update(Membership), activated)
        ids = {row["id"] for row in activated}
        history.extend(
            _history(mailing_list.id, mid, sid, "activated", "active", origin, now)
            for sid, (mid, _) in memberships.items()
            if mid in ids
        )
    for chunk in _chunks(history):
        session.execute(insert(ConsentEvent.__table__), chunk)
    if len(new_members) >= ANALYZE_AFTER and session.get_bind().dialect.name == "postgresql":
        # Fresh statistics, and plans prepared while the tables were small are dropped: a
        # cached sequential-scan plan made the next sync of 100,000 rows take minutes.
        session.execute(text("ANALYZE subscribers, memberships"))
    session.flush()
    return report


def _history(
    list_id: int, membership_id: int, subscriber_id: int, action: str, status: str, origin: str,
    when: datetime,
) -> dict[str, object]:
    return {
        "membership_id": membership_id, "subscriber_id": subscriber_id, "list_id": list_id,
        "action": action, "status": status, "origin": origin, "client_ip_hash": None,
        "occurred_at": when,
    }


def import_file(session: Session, path: Path, mailing_list: MailingList) -> SyncReport:
    """Read one list file and sync it into one list (``newsletter subscribers import``)."""
    return _sync_file(session, path, mailing_list, *read_members(path))


def _sync_file(
    session: Session,
    path: Path,
    mailing_list: MailingList,
    found: list[Member],
    problems: list[RowError],
) -> SyncReport:
    report = sync_members(session, mailing_list, found, f"csv:{path.name}")
    report.path = path
    report.errors = [p for p in problems if not p.warning]
    report.warnings = sorted((p for p in problems if p.warning), key=lambda p: p.line)
    return report


def sync_all(session: Session, lists: list[ListConfig], folder: Path) -> list[SyncReport]:
    """Sync every declared list and its ``<slug>.csv`` (``newsletter subscribers sync``).

    A list without a file has no members to add (a warning, not an error); a file that cannot
    be read at all is reported on its list (``file_error``) and the other lists still load. Name
    and language belong to the person, not the list: when two files disagree, the first list's
    value is kept and the later row gets a warning, so that a second sync changes nothing.
    """
    rows = sync_lists(session, lists)
    reports = []
    first: dict[tuple[str, str], tuple[str, str]] = {}  # (email key, field) -> (value, file)
    for lst in lists:
        path = folder / f"{lst.slug}.csv"
        if not path.exists():
            missing = RowError(path, 0, f"no members file for list {lst.slug!r}: nothing to sync",
                               warning=True, code="no-file", params={"list": lst.slug})
            reports.append(SyncReport(lst.slug, warnings=[missing]))
            continue
        try:
            found, problems = read_members(path)
        except _FileError as exc:
            reports.append(SyncReport(lst.slug, path, errors=[exc.error], file_error=exc.error))
            continue
        problems.extend(_keep_first_values(path, found, first))
        reports.append(_sync_file(session, path, rows[lst.slug], found, problems))
    return reports


def _keep_first_values(
    path: Path, found: list[Member], first: dict[tuple[str, str], tuple[str, str]]
) -> list[RowError]:
    """Give each member the name and language an earlier file gave them; warn where they differ."""
    problems = []
    for member in found:
        for key in ("name", "language"):
            value = getattr(member, key)
            if not value:
                continue
            kept, origin = first.setdefault((email_key(member.email), key), (value, path.name))
            if kept != value:
                setattr(member, key, kept)
                problems.append(
                    RowError(
                        path,
                        member.line,
                        f"{member.email}: {key} {value!r} differs from {kept!r} in {origin}; "
                        f"keeping {kept!r}",
                        warning=True,
                    )
                )
    return problems


# -- export and erasure -----------------------------------------------------------------------


EXPORT_COLUMNS = ("list", "email", "name", "language", "status", "since")


def export_members(session: Session, list_slug: str | None = None) -> Iterator[dict[str, str]]:
    """Every membership (of one list, or all), as rows of EXPORT_COLUMNS; ``since`` is ISO UTC.

    Forgotten people appear under their hashed stand-in: their suppression is part of the record.
    """
    if (
        list_slug is not None
        and session.scalar(select(MailingList.id).where(MailingList.slug == list_slug)) is None
    ):
        raise InputError(
            f"no list {list_slug!r} in the store (declare it in lists.toml and run "
            "'newsletter subscribers sync')"
        )
    stmt = (
        select(
            MailingList.slug,
            Subscriber.email,
            Subscriber.name,
            Subscriber.language,
            Membership.status,
            Membership.status_changed_at,
        )
        .join(Membership, Membership.list_id == MailingList.id)
        .join(Subscriber, Subscriber.id == Membership.subscriber_id)
        .order_by(MailingList.slug, Subscriber.email)
    )
    if list_slug is not None:
        stmt = stmt.where(MailingList.slug == list_slug)
    for slug, email, name, language, status, since in session.execute(
        stmt.execution_options(yield_per=1000)
    ):
        yield {
            "list": slug,
            "email": email,
            "name": name,
            "language": language,
            "status": status,
            "since": _iso(since),
        }


def _iso(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value else ""


def forget(session: Session, email: str, *, origin: str = "cli") -> int:
    """Erase a person and keep their refusal: returns the number of lists they were on.

    The Subscriber row (the address in any case) and its memberships are deleted; the address
    goes on the suppression list as a keyed hash (HMAC under NEWSLETTER_SECRET_KEY) of its
    lower-cased form, which every import and sign-up checks, so the person is never added back,
    on any list, in any spelling. Their consent history stays, without them: each list they were
    on gets a ``forgotten`` line, and earlier lines lose the link to the person. Provider events
    keep their ids (for idempotency) but lose address and payload. Forgetting an unknown address
    still suppresses it.
    """
    address = normalise_email(email)
    key = email_key(address)
    suppress(session, address, "forgotten")
    sid = session.scalar(select(Subscriber.id).where(Subscriber.email_key == key))
    session.execute(
        update(ProviderEvent).where(_same_address(session, ProviderEvent.email, key))
        .values(email="", payload={})
    )
    if sid is None:
        return 0
    list_ids = list(
        session.scalars(select(Membership.list_id).where(Membership.subscriber_id == sid))
    )
    for list_id in list_ids:
        session.add(ConsentEvent(list_id=list_id, action="forgotten", status="", origin=origin))
    session.execute(
        update(ConsentEvent).where(ConsentEvent.subscriber_id == sid)
        .values(subscriber_id=None, membership_id=None)
    )
    session.execute(
        update(ProviderEvent).where(ProviderEvent.subscriber_id == sid)
        .values(subscriber_id=None, email="", payload={})
    )
    session.execute(delete(Membership).where(Membership.subscriber_id == sid))
    session.execute(delete(Subscriber).where(Subscriber.id == sid))
    session.flush()
    return len(list_ids)


def _key_or_none(value: object) -> str | None:
    return email_key(value) if isinstance(value, str) else None


def _same_address(session: Session, column: Any, key: str) -> ColumnElement[bool]:
    """COLUMN (an address as a provider wrote it) is the address of KEY, in any case.

    PostgreSQL's lower() folds what the database's locale knows; SQLite's only knows ASCII, so
    there the key is computed by :func:`email_key` itself.
    """
    if session.get_bind().dialect.name == "sqlite":
        raw = session.connection().connection.driver_connection
        # registered on this session's connection, which runs the statement
        raw.create_function("nl_email_key", 1, _key_or_none, deterministic=True)  # type: ignore
        return func.nl_email_key(column) == key
    return func.lower(func.trim(column)) == key
