"""Subscriber lists as declared in ``subscribers/lists.toml``, and their rows in the store.

The file is the reference: one ``[[lists]]`` table per list (like ``[[sources]]`` in
newsletter.toml), read with the same declared-schema loader as the configuration, so an unknown
key, a wrong type, a bad address or an unknown time zone is reported with the file and the key
path (``subscribers/lists.toml: lists[1].from_address: ...``) as a :class:`ConfigError`.
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from newsletter.config import (
    SLUG_RE,
    Config,
    build_section,
    check_address,
    is_language_code,
    read_toml,
    setting,
)
from newsletter.errors import ConfigError
from newsletter.render.strings import section_title
from newsletter.store.models import MailingList

LISTS_FILE = "lists.toml"
_TEMPLATE_RE = re.compile(r"^[A-Za-z0-9_-]+$")  # as render.email reads a template name


@dataclass
class ListConfig:
    slug: str = setting(
        "Short name of the list (lower-case letters, digits, - and _); members in <slug>.csv."
    )
    name: str = setting("The list's name as readers see it (subject line, footer, archive).")
    from_name: str = setting("Sender name shown in the reader's mailbox.")
    from_address: str = setting("Sender address (must be a valid email address).")
    tags: list[str] = setting(
        "Articles carrying any of these tags go into the list's editions (at least one)."
    )
    language: str = setting(
        "Language of the list (fr, en, ar...): dates, fixed texts, text direction.", "fr"
    )
    description: str = setting(
        "One or two sentences telling readers what the list brings and when, shown on its "
        "sign-up page and in the archive; empty means none.",
        "",
    )
    exclude_tags: list[str] = setting(
        "Articles carrying any of these tags are left out, whatever their other tags.",
        default_factory=list,
    )
    sections: list[str] = setting(
        "Order of the sections, by tag; tags not named here follow in the order of `tags`.",
        default_factory=list,
    )
    section_titles: dict[str, str] = setting(
        "Section titles as readers see them, by tag (e.g. { energie-climat = \"Énergie et "
        "climat\" }); other tags get a built-in title (economie: Économie) or the tag "
        "made readable.",
        default_factory=dict,
    )
    max_items: int = setting("Most articles in one edition.", 20)
    reply_to: str = setting("Reply-To address; empty means replies go to from_address.", "")
    schedule: str = setting(
        "When the edition is sent: a cron expression of 5 fields (minute hour day month weekday).",
        "0 7 * * *",
    )
    timezone: str = setting(
        "IANA time zone the schedule is read in (e.g. Africa/Casablanca, Europe/Paris).",
        "Africa/Casablanca",
    )
    review: Literal["required", "auto"] = setting(
        "required: an editor approves each edition before sending; auto: drafts are sent as built.",
        "required",
    )
    template: str = setting("Email template folder under templates/email/.", "default")
    send_empty: bool = setting(
        "With nothing new since the last edition, send a short edition saying so "
        "(otherwise: no mail, one log line).",
        False,
    )
    lead_minutes: int = setting(
        "Minutes before the send time at which the draft is built (time for review).", 60
    )
    editors: list[str] = setting(
        "Addresses emailed when an edition is held (review = required, not approved by its "
        "send time).",
        default_factory=list,
    )

    @property
    def section_order(self) -> list[str]:
        """Every tag of the list in section order: ``sections`` first, then the rest of ``tags``."""
        return list(self.sections) + [t for t in self.tags if t not in self.sections]

    def section_title(self, tag: str) -> str:
        """The title readers see above the section of TAG, in the list's language."""
        return self.section_titles.get(tag) or section_title(tag, self.language)


@dataclass
class _ListsFile:
    lists: list[ListConfig] = setting("The subscriber lists.", default_factory=list)


def _check_tags(values: list[str], where: str) -> None:
    seen: set[str] = set()
    for i, tag in enumerate(values):
        if not tag.strip():
            raise ConfigError(f"{where}[{i}]: empty tag")
        if tag in seen:
            raise ConfigError(f"{where}[{i}]: {tag!r} is given twice")
        seen.add(tag)


def _check_schedule(expression: str, tz: zoneinfo.ZoneInfo, where: str) -> None:
    """The schedule read as the daemon reads it: our cron parser (cron's weekday numbers, which
    APScheduler's own ``from_crontab`` reads a day off) and its trigger in the list's zone."""
    from newsletter.schedule import parse_cron  # it imports this module

    try:
        parse_cron(expression).trigger(tz)
    except ValueError as exc:
        raise ConfigError(
            f"{where}: {expression!r}: {exc} (a cron expression: minute hour day month weekday, "
            "e.g. '0 7 * * mon-fri')"
        ) from None


def _check_template(templates: Path, name: str, where: str) -> None:
    """The list's email template must be a complete folder under TEMPLATES/email/."""
    from newsletter.errors import RenderError
    from newsletter.render.email import template_folder

    def complete(folder: str) -> bool:
        try:
            template_folder(templates, folder)
        except RenderError:
            return False
        return True

    email = templates / "email"
    if not (email / name).is_dir():
        folders = sorted(p.name for p in email.iterdir() if p.is_dir()) if email.is_dir() else []
        known = [folder for folder in folders if complete(folder)]
        raise ConfigError(
            f"{where}: no template folder {email / name} "
            f"(edition templates there: {', '.join(known) or 'none'}; see paths.templates)"
        )
    try:
        template_folder(templates, name)
    except RenderError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _validate(lists: list[ListConfig], templates: Path | None = None) -> None:
    """Check every list; with TEMPLATES (the paths.templates folder), its email template too."""
    slugs: set[str] = set()
    for i, lst in enumerate(lists):
        where = f"lists[{i}]"
        if not SLUG_RE.match(lst.slug):
            raise ConfigError(
                f"{where}.slug: {lst.slug!r} must be lower-case letters, digits, - or _"
            )
        if lst.slug in slugs:
            raise ConfigError(f"{where}.slug: {lst.slug!r} is used by another list")
        slugs.add(lst.slug)
        if not lst.name.strip():
            raise ConfigError(f"{where}.name: empty name")
        if not lst.language.strip():
            raise ConfigError(f"{where}.language: empty language (fr, en, ar...)")
        if not is_language_code(lst.language):
            raise ConfigError(
                f"{where}.language: {lst.language!r} is not a language code "
                "(use a code such as fr, en or ar)"
            )
        if not lst.tags:
            raise ConfigError(f"{where}.tags: give at least one tag")
        _check_tags(lst.tags, f"{where}.tags")
        _check_tags(lst.exclude_tags, f"{where}.exclude_tags")
        both = sorted(set(lst.tags) & set(lst.exclude_tags))
        if both:
            raise ConfigError(f"{where}.exclude_tags: {', '.join(both)} also in tags")
        _check_tags(lst.sections, f"{where}.sections")
        for j, section in enumerate(lst.sections):
            if section not in lst.tags:
                raise ConfigError(
                    f"{where}.sections[{j}]: {section!r} is not one of the list's tags "
                    f"({', '.join(lst.tags)})"
                )
        for tag, title in lst.section_titles.items():
            if tag not in lst.tags:
                raise ConfigError(
                    f"{where}.section_titles.{tag}: {tag!r} is not one of the list's tags "
                    f"({', '.join(lst.tags)})"
                )
            if not title.strip():
                raise ConfigError(f"{where}.section_titles.{tag}: empty title")
        if lst.max_items < 1:
            raise ConfigError(f"{where}.max_items: must be at least 1")
        if not lst.from_name.strip():
            raise ConfigError(f"{where}.from_name: empty sender name")
        check_address(lst.from_address, f"{where}.from_address")
        if lst.reply_to:
            check_address(lst.reply_to, f"{where}.reply_to")
        fields = lst.schedule.split()
        if len(fields) != 5:
            raise ConfigError(
                f"{where}.schedule: {lst.schedule!r} has {len(fields)} fields, a cron expression "
                "needs 5 (minute hour day month weekday, e.g. '0 7 * * *')"
            )
        try:
            tz = zoneinfo.ZoneInfo(lst.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ConfigError(
                f"{where}.timezone: unknown time zone {lst.timezone!r} "
                "(use an IANA name such as Africa/Casablanca)"
            ) from None
        _check_schedule(lst.schedule, tz, f"{where}.schedule")
        if lst.lead_minutes < 0:
            raise ConfigError(f"{where}.lead_minutes: must be 0 or more")
        if not _TEMPLATE_RE.match(lst.template):
            raise ConfigError(
                f"{where}.template: {lst.template!r} must be a folder name under "
                "templates/email/ (letters, digits, - and _)"
            )
        if templates is not None:
            _check_template(templates, lst.template, f"{where}.template")
        editors: set[str] = set()
        for j, address in enumerate(lst.editors):
            check_address(address, f"{where}.editors[{j}]")
            if address.strip().lower() in editors:
                raise ConfigError(f"{where}.editors[{j}]: {address!r} is given twice")
            editors.add(address.strip().lower())


def parse_lists(data: dict[str, object], templates: Path | None = None) -> list[ListConfig]:
    """Validated lists from already-parsed TOML data (errors carry the key path only); with
    TEMPLATES (the paths.templates folder), each list's email template is checked too."""
    lists: list[ListConfig] = build_section(_ListsFile, data, "").lists
    _validate(lists, templates)
    return lists


def load_lists(path: Path, templates: Path | None = None) -> list[ListConfig]:
    """Read and validate ``lists.toml``; every error names the file and the key path.

    With TEMPLATES (the paths.templates folder), each list's email template folder must exist
    there (``newsletter check`` asks for it; rendering says so again otherwise)."""
    if not path.exists():
        raise ConfigError(
            f"{path}: lists file not found (create it with one [[lists]] table per list, "
            "or set paths.subscribers in newsletter.toml)"
        )
    data = read_toml(path)  # a UTF-8 byte order mark is fine, as in the members' CSV files
    try:
        return parse_lists(data, templates)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def unfed_tags(lists: list[ListConfig], config: Config) -> list[str]:
    """Warnings for list tags that no tag rule and no source of newsletter.toml gives: such a
    section stays empty unless a source added in the web app carries the tag."""
    given = {rule.name for rule in config.tags} | {t for s in config.sources for t in s.tags}
    warnings = []
    for i, lst in enumerate(lists):
        for j, tag in enumerate(lst.tags):
            if tag not in given:
                warnings.append(
                    f"lists[{i}].tags[{j}]: {tag!r} ({lst.slug}) is given by no tag rule and no "
                    "source of newsletter.toml: add a [[tags]] rule for it, or tag a source"
                )
    return warnings


def find_list(lists: list[ListConfig], slug: str) -> ListConfig:
    for lst in lists:
        if lst.slug == slug:
            return lst
    known = ", ".join(lst.slug for lst in lists) or "none"
    raise ConfigError(f"no list named {slug!r} in {LISTS_FILE} (known: {known})")


def sync_lists(session: Session, lists: list[ListConfig]) -> dict[str, MailingList]:
    """The MailingList row of every declared list, created or updated (slug, name, language).

    Lists no longer declared keep their rows: their editions and consent records stay.
    """
    slugs = [lst.slug for lst in lists]
    rows = (
        {
            row.slug: row
            for row in session.scalars(select(MailingList).where(MailingList.slug.in_(slugs)))
        }
        if slugs
        else {}
    )
    for lst in lists:
        row = rows.get(lst.slug)
        if row is None:
            row = rows[lst.slug] = MailingList(slug=lst.slug, name=lst.name, language=lst.language)
            session.add(row)
        row.name, row.language = lst.name, lst.language
    session.flush()
    return {slug: rows[slug] for slug in slugs}
