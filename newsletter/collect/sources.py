"""Sources as the newsroom manages them: declared in newsletter.toml, or added in the web app.

The rule, in one place:

- **newsletter.toml is the reference for the sources it declares** (origin ``file``). Every
  collect copies their kind, URL, label, tags, language and priority into the store. The web
  app shows them and can disable or enable them, nothing else: to change one, edit the file.
- **A source added in the web app** (origin ``web``) lives only in the store. It is a feed or a
  page at an http(s) address (local files are declared in the file), collected like the others
  by ``newsletter collect``, and edited or disabled in the web app. If newsletter.toml later
  declares a source of the same name, the file takes it over (it becomes a ``file`` source).
- **A source is collected when nothing stops it**: it is not disabled in the web app (the
  ``enabled`` column, which the sync from the file never changes) and, for a file source, it is
  still in newsletter.toml with ``enabled = true``. A source removed from the file keeps its
  row, its articles and its history, and is no longer collected.

Edits are checked like the configuration checks the file (name, kind, URL, tags, language);
a refused one raises :class:`SourceInputError`, whose ``field`` names the form field and whose
message is one of :data:`PROBLEMS` (English; the web app shows the translation).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from newsletter.collect.http import public_host
from newsletter.collect.opml import OpmlFeed, folder_tag, source_name
from newsletter.collect.store import sync_source
from newsletter.config import SLUG_RE, Config, SourceConfig, is_remote
from newsletter.errors import ConfigError, InputError
from newsletter.store.models import Article, Source, SourceFetch

ORIGIN_FILE, ORIGIN_WEB, ORIGIN_IMPORT = "file", "web", "import"
IMPORT_NAME = "import"  # the pseudo-source of `newsletter import` (newsletter.collect.store)
WEB_KINDS = ("feed", "page")
LABEL_MAX, TAG_MAX, URL_MAX = 200, 100, 2048  # the columns' sizes
HISTORY_PAGE = 100
_LANGUAGE_RE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})?$")

# What can be wrong with a source made or edited in the web app. The message ids are English
# templates; the web app translates them (newsletter/web/locale/*/LC_MESSAGES/pages.po).
PROBLEMS = {
    "name": "The name must be lower-case letters, digits, - or _ (for example le-matin).",
    "name-taken": "The name {name} is already used by another source.",
    "kind": "The kind must be feed (RSS or Atom) or page (one article page); "
    "local files are declared in newsletter.toml.",
    "url": "The URL must be an http:// or https:// address with a host name: {url}",
    "url-taken": "This URL is already collected as the source {name}.",
    "url-private": "The address {url} is private, loopback or link-local, not on the public web: "
    "the site's administrator can allow intranet sources (web.fetch_private = true in "
    "newsletter.toml).",
    "tag": "The tag {tag} is longer than 100 characters.",
    "language": "The language must be a code such as fr, en or ar, or empty to detect it.",
    "label": "The label is longer than 200 characters.",
    "from-file": "The source {name} is declared in newsletter.toml: edit it there "
    "(here you can only disable or enable it).",
    "import": "The source {name} holds the files of 'newsletter import': "
    "it cannot be changed here.",
}


class SourceInputError(InputError):
    """A source the web app cannot save: FIELD is the form field, CODE a key of PROBLEMS."""

    def __init__(self, field: str, code: str, **params: str) -> None:
        super().__init__(PROBLEMS[code].format(**params), code=code, **params)
        self.field = field


# -- what the pages show ------------------------------------------------------------------------


@dataclass
class SourceEntry:
    """A source row with where it comes from and whether it is collected."""

    id: int
    name: str
    label: str
    kind: str
    url: str
    tags: list[str]
    language: str
    origin: str
    enabled: bool  # the web app's switch
    in_file: bool  # declared in newsletter.toml now
    file_enabled: bool  # its `enabled` key there (True for the others)
    last_fetched_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None  # English, as the CLI prints it
    last_error_code: str | None  # with its params: what the web app says in the editor's language
    last_error_params: dict[str, str | int] | None
    error_count: int
    articles: int = 0

    @property
    def state(self) -> str:
        """collected, disabled (in the web app), disabled-in-file, not-in-file, import (the files
        of `newsletter import`) or added-by-address (a site's articles added on an edition page)."""
        if self.origin == ORIGIN_IMPORT:
            return "import" if self.kind == "file" else "added-by-address"
        if self.origin == ORIGIN_FILE and not self.in_file:
            return "not-in-file"
        if not self.enabled:
            return "disabled"
        if not self.file_enabled:
            return "disabled-in-file"
        return "collected"

    @property
    def collected(self) -> bool:
        return self.state == "collected"

    @property
    def editable(self) -> bool:
        return self.origin == ORIGIN_WEB


def ensure_file_sources(session: Session, config: Config) -> None:
    """Give every source of newsletter.toml its row (as a first collect would), committed.

    Existing rows are left alone: a collect run keeps them in step with the file, and the web
    app's copy of the configuration may be older than the file."""
    known = set(session.scalars(select(Source.name)))
    missing = [s for s in config.sources if s.name not in known]
    if not missing:
        return
    try:
        for source_config in missing:
            sync_source(session, source_config, config.resolve(source_config.url))
        session.commit()
    except IntegrityError:  # a collect run made the same rows meanwhile: theirs will do
        session.rollback()


def _entry(source: Source, config: Config, articles: int) -> SourceEntry:
    declared = {s.name: s for s in config.sources}.get(source.name)
    origin = source.origin
    return SourceEntry(
        id=source.id, name=source.name, label=source.label, kind=source.kind, url=source.url,
        tags=list(source.tags or []), language=source.language, origin=origin,
        enabled=source.enabled, in_file=declared is not None,
        file_enabled=declared.enabled if declared is not None and origin == ORIGIN_FILE else True,
        last_fetched_at=source.last_fetched_at, last_success_at=source.last_success_at,
        last_error=source.last_error, last_error_code=source.last_error_code,
        last_error_params=source.last_error_params, error_count=source.error_count,
        articles=articles,
    )


def list_sources(session: Session, config: Config) -> list[SourceEntry]:
    """Every source, those with errors first, then by name."""
    ensure_file_sources(session, config)
    counts = dict(
        session.execute(select(Article.source_id, func.count()).group_by(Article.source_id)).all()
    )
    entries = [
        _entry(source, config, counts.get(source.id, 0))
        for source in session.scalars(select(Source).order_by(Source.name))
    ]
    entries.sort(key=lambda e: (e.error_count == 0, e.name))
    return entries


def get_source(session: Session, config: Config, source_id: int) -> SourceEntry | None:
    source = session.get(Source, source_id)
    if source is None:
        return None
    articles = session.scalar(select(func.count(Article.id)).where(Article.source_id == source_id))
    return _entry(source, config, articles or 0)


def fetch_history(session: Session, source_id: int, limit: int = HISTORY_PAGE) -> list[SourceFetch]:
    """The source's latest fetches, newest first."""
    return list(
        session.scalars(
            select(SourceFetch)
            .where(SourceFetch.source_id == source_id)
            .order_by(SourceFetch.fetched_at.desc(), SourceFetch.id.desc())
            .limit(limit)
        )
    )


# -- changes made in the web app ----------------------------------------------------------------


def parse_tags(text: str) -> list[str]:
    """Tags typed as "economie, maroc": trimmed, lower-cased, empty ones and repeats dropped."""
    return list(dict.fromkeys(t.strip().lower() for t in text.split(",") if t.strip()))


@dataclass
class SourceFields:
    """What the web form gives for a source (the name only when it is created)."""

    name: str = ""
    label: str = ""
    kind: str = "feed"
    url: str = ""
    tags: list[str] = field(default_factory=list)
    language: str = ""


def _check(
    session: Session, config: Config, fields: SourceFields, current: Source | None
) -> SourceFields:
    """FIELDS trimmed and checked like newsletter.toml's sources; SourceInputError otherwise."""
    name = fields.name.strip() if current is None else current.name
    if current is None:
        if not SLUG_RE.match(name) or len(name) > 100:
            raise SourceInputError("name", "name")
        taken = name == IMPORT_NAME or any(s.name == name for s in config.sources)
        if taken or session.scalar(select(Source.id).where(Source.name == name)) is not None:
            raise SourceInputError("name", "name-taken", name=name)
    label = " ".join(fields.label.split())
    if len(label) > LABEL_MAX:
        raise SourceInputError("label", "label")
    kind = fields.kind.strip()
    if kind not in WEB_KINDS:
        raise SourceInputError("kind", "kind")
    url = fields.url.strip()
    parts = urlsplit(url)
    web = parts.scheme in ("http", "https") and bool(parts.hostname)
    if not web or len(url) > URL_MAX or " " in url:
        raise SourceInputError("url", "url", url=url[:200])
    if not config.web.fetch_private and not public_host(parts.hostname or ""):
        raise SourceInputError("url", "url-private", url=url[:200])
    other = session.scalar(
        select(Source.name).where(Source.url == url, Source.id != (current.id if current else -1))
    )
    if other is not None:
        raise SourceInputError("url", "url-taken", name=other)
    tags = [t.strip().lower() for t in fields.tags if t.strip()]
    for tag in tags:
        if len(tag) > TAG_MAX:
            raise SourceInputError("tags", "tag", tag=tag[:40] + "…")
    language = fields.language.strip().lower()
    if language and not _LANGUAGE_RE.match(language):
        raise SourceInputError("language", "language")
    return SourceFields(name, label, kind, url, list(dict.fromkeys(tags)), language)


def check_web_source(
    session: Session, config: Config, fields: SourceFields, current: Source | None = None
) -> SourceFields:
    """FIELDS as add_web_source (CURRENT: edit_web_source) would save them; SourceInputError
    if refused. Reads the store, changes nothing."""
    if current is not None:
        _changeable(current)
        if current.origin != ORIGIN_WEB:
            raise SourceInputError("", "from-file", name=current.name)
    return _check(session, config, fields, current)


def add_web_source(session: Session, config: Config, fields: SourceFields) -> Source:
    """A new source made in the web app (flushed, not committed); SourceInputError if refused."""
    checked = check_web_source(session, config, fields)
    source = Source(
        name=checked.name, label=checked.label, kind=checked.kind, url=checked.url,
        tags=checked.tags, language=checked.language, origin=ORIGIN_WEB, enabled=True,
    )
    session.add(source)
    session.flush()
    return source


@dataclass
class ImportedFeed:
    """One feed of an OPML file: the source made of it, or why none was."""

    feed: OpmlFeed
    source: Source | None = None
    refusal: SourceInputError | None = None


def import_feeds(session: Session, config: Config, feeds: list[OpmlFeed]) -> list[ImportedFeed]:
    """Each of FEEDS as a web source (named after its title, tagged with its folder); one that
    is refused (an address already collected, not http(s)...) is reported and the others stay.
    Flushed, not committed."""
    taken = {s.name for s in config.sources} | {IMPORT_NAME}
    taken |= set(session.scalars(select(Source.name)))
    results = []
    for feed in feeds:
        name = source_name(feed.title, feed.url, taken)
        tag = folder_tag(feed.folder)
        fields = SourceFields(name=name, label=feed.title[:LABEL_MAX], kind="feed", url=feed.url,
                              tags=[tag] if tag else [])
        try:
            with session.begin_nested():
                source = add_web_source(session, config, fields)
        except SourceInputError as exc:
            results.append(ImportedFeed(feed, refusal=exc))
            continue
        taken.add(name)
        results.append(ImportedFeed(feed, source=source))
    return results


def feeds_of(session: Session, config: Config) -> list[OpmlFeed]:
    """Every feed source, file's and web app's, as OPML feeds (their first tag as folder)."""
    entries = sorted(list_sources(session, config), key=lambda e: e.name)
    return [
        OpmlFeed(entry.label or entry.name, entry.url, entry.tags[0] if entry.tags else "")
        for entry in entries
        if entry.kind == "feed" and is_remote(entry.url)
    ]


def _changeable(source: Source) -> None:
    if source.origin == ORIGIN_IMPORT:
        raise SourceInputError("", "import", name=source.name)


def edit_web_source(
    session: Session, config: Config, source: Source, fields: SourceFields
) -> Source:
    """Change a web source's label, kind, URL, tags and language; a file source is refused."""
    checked = check_web_source(session, config, fields, source)
    if (checked.kind, checked.url) != (source.kind, source.url):
        # validators belong to the old address, as when the file points a source elsewhere
        source.etag = source.last_modified = None
    source.label, source.kind, source.url = checked.label, checked.kind, checked.url
    source.tags, source.language = checked.tags, checked.language
    session.flush()
    return source


def set_enabled(session: Session, source: Source, enabled: bool) -> Source:
    """Disable or enable SOURCE in the web app (any origin but import); the file sync keeps it."""
    _changeable(source)
    source.enabled = enabled
    session.flush()
    return source


# -- what a collect run fetches -----------------------------------------------------------------


@dataclass(frozen=True)
class PlannedSource:
    """One source a collect run was asked for; ``disabled`` ones are reported, not fetched."""

    config: SourceConfig
    origin: str
    disabled: bool = False


def web_source_config(source: Source) -> SourceConfig:
    """A web source as the collector reads sources (the configuration's shape)."""
    return SourceConfig(
        name=source.name, url=source.url, label=source.label,
        kind=source.kind,  # type: ignore[arg-type]  (a web source is a feed or a page)
        tags=list(source.tags or []), language=source.language, priority=source.priority,
    )


def planned_sources(
    session: Session, config: Config, names: Sequence[str] | None = None
) -> list[PlannedSource]:
    """The sources a collect run fetches: every collected one, or those NAMES.

    A named source is fetched even when newsletter.toml disables it (as before), but never when
    the web app disables it: it comes back ``disabled``. An unknown name is a ConfigError.
    """
    rows = {s.name: s for s in session.scalars(select(Source))}
    web = {n: s for n, s in rows.items() if s.origin == ORIGIN_WEB}
    declared = {s.name: s for s in config.sources}

    def plan(name: str) -> PlannedSource:
        row = rows.get(name)
        disabled = row is not None and not row.enabled
        if name in declared:
            return PlannedSource(declared[name], ORIGIN_FILE, disabled)
        return PlannedSource(web_source_config(web[name]), ORIGIN_WEB, disabled)

    if names:
        unknown = [n for n in names if n not in declared and n not in web]
        if unknown:
            known = ", ".join([*declared, *(n for n in web if n not in declared)]) or "none"
            raise ConfigError(
                f"no source named {unknown[0]!r} in {config.path or 'newsletter.toml'} "
                f"or added in the web app (known: {known})"
            )
        return [plan(n) for n in dict.fromkeys(names)]
    chosen = [n for n, s in declared.items() if s.enabled]
    chosen += sorted(n for n in web if n not in declared)
    return [p for p in (plan(n) for n in chosen) if not p.disabled]


def web_source_names(session: Session) -> list[str]:
    """The enabled sources added in the web app, for a scheduler that plans one job per source."""
    return list(
        session.scalars(
            select(Source.name)
            .where(Source.origin == ORIGIN_WEB, Source.enabled.is_(True))
            .order_by(Source.name)
        )
    )

