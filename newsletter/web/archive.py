"""The public archive of sent editions: what every email's "view in browser" link opens.

    GET /archive                  every list: the declared ones, each with its sign-up link, and
                                  those with sent editions (page in the reader's language)
    GET /archive/<slug>           one list's sent editions, newest first, PAGE_SIZE a page (?page=N)
    GET /archive/<slug>/<date>    one edition (date as YYYY-MM-DD), as its readers got it
    GET /archive/<slug>/feed.xml  the list's newest sent editions as an Atom feed (see feed.py)

Only ``sent`` editions are public: a draft, approved, held or sending edition is a 404, as is an
unknown list, date or page. Nothing about subscribers is read. An edition is rendered with the
same template as its email, its per-recipient slots filled neutrally: no name after the
greeting, and no unsubscribe link (a public page cannot know whose it would be; every email
carries its reader's own). The "view in browser" line is left out: this page is the browser.

The URLs are the ones ``editions.edition_view`` puts in each email (``view_url``,
``archive_url``); change them together.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from newsletter.audience.lists import ListConfig, load_lists
from newsletter.config import Config
from newsletter.editions import edition_view, get_edition
from newsletter.errors import NewsletterError
from newsletter.render import SLOTS, render_edition, subject_for
from newsletter.render.strings import format_day
from newsletter.render.view import RTL_LANGUAGES
from newsletter.store.db import Store
from newsletter.store.models import Edition, MailingList
from newsletter.web.feed import FEED_SIZE, MEDIA_TYPE, FeedEntry, atom_feed
from newsletter.web.pages import language_of, render_page, request_language, text

log = logging.getLogger(__name__)

PAGE_SIZE = 30
RENDER_CACHE_SIZE = 64  # rendered sent editions kept per process (a sent edition never changes)
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_PAGE_RE = re.compile(r"^[1-9]\d{0,5}$")
# The unsubscribe link of the email footer, with the " · " that separates it from the link
# before it: removed whole from the public page.
_UNSUBSCRIBE_LINK = re.compile(
    r"(?:[ \t]*·[ \t]*)?<a\b[^>]*\bhref=\"" + re.escape(SLOTS["unsubscribe_url"]) + r"\"[^>]*>.*?</a>",
    re.DOTALL,
)
# The page shows text and images from sources and nothing else runs on it: no script, no
# form, no frame; links open the articles.
EDITION_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; img-src https: http: data:; style-src 'unsafe-inline'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "Cache-Control": "public, max-age=300",
    "X-Robots-Tag": "noindex",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


@dataclasses.dataclass(frozen=True)
class ArchivedList:
    slug: str
    name: str
    language: str
    editions: int
    latest: date | None  # None: nothing sent yet


@dataclasses.dataclass(frozen=True)
class ArchivedEdition:
    day: date
    subject: str


def public_html(html: str) -> str:
    """An edition's rendered HTML with its per-recipient slots filled for anyone to read."""
    html = _UNSUBSCRIBE_LINK.sub("", html)
    # A template that uses the unsubscribe slot elsewhere gets a link to nowhere.
    return html.replace(SLOTS["unsubscribe_url"], "#").replace(SLOTS["name"], "")


def archived_lists(store: Store) -> list[ArchivedList]:
    """The lists with at least one sent edition, by name."""
    with store.session() as session:
        rows = session.execute(
            select(MailingList.slug, MailingList.name, MailingList.language,
                   func.count(Edition.id), func.max(Edition.date))
            .join(Edition, Edition.list_id == MailingList.id)
            .where(Edition.status == "sent")
            .group_by(MailingList.id, MailingList.slug, MailingList.name, MailingList.language)
            .order_by(MailingList.name, MailingList.slug)
        ).all()
    return [ArchivedList(*row) for row in rows]


def public_lists(store: Store, declared: Iterable[ListConfig]) -> list[ArchivedList]:
    """What the index shows, by name: the lists with sent editions, and every DECLARED list
    (one with nothing sent yet is there too: readers can sign up to it)."""
    lists = {lst.slug: lst for lst in archived_lists(store)}
    for lst in declared:
        lists.setdefault(lst.slug, ArchivedList(lst.slug, lst.name, lst.language, 0, None))
    return sorted(lists.values(), key=lambda lst: (lst.name, lst.slug))


def archived_editions(
    store: Store, slug: str, page: int
) -> tuple[MailingList, list[ArchivedEdition], int] | None:
    """The list SLUG, its sent editions on PAGE (newest first) and how many there are in all."""
    with store.session() as session:
        row = session.scalar(select(MailingList).where(MailingList.slug == slug))
        if row is None:
            return None
        sent = (Edition.list_id == row.id) & (Edition.status == "sent")
        total = session.scalar(select(func.count(Edition.id)).where(sent)) or 0
        editions = session.execute(
            select(Edition.date, Edition.subject).where(sent)
            .order_by(Edition.date.desc()).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
        ).all()
        return row, [
            ArchivedEdition(day, subject or subject_for(row.name, day, row.language))
            for day, subject in editions
        ], total


def parse_day(value: str) -> date | None:
    """VALUE as a date when it is exactly YYYY-MM-DD and a real day, else None."""
    if not _DATE_RE.match(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def archive_routes(config: Config, store: Store) -> list[Route]:
    """The archive's routes over STORE, for the web app (see the module docstring)."""
    templates = config.folder(config.paths.templates)
    declared: dict[str, ListConfig] = {
        lst.slug: lst
        for lst in load_lists(config.folder(config.paths.subscribers) / "lists.toml")
    }

    def page(name: str, language: str, **context: Any) -> Response:
        response = render_page(templates, name, language, **context)
        response.headers["Cache-Control"] = "public, max-age=300"
        return response

    def error_page(request: Request, key: str = "not_found", status_code: int = 404) -> Response:
        language = request_language(request)
        return render_page(templates, "message.html", language, status_code,
                           title=text("error_title", language),
                           message=text(key, language), error=True)

    def list_config(row: MailingList) -> ListConfig:
        # A list no longer in lists.toml keeps its archive, in the default template.
        return declared.get(row.slug) or ListConfig(
            slug=row.slug, name=row.name, from_name=row.name, from_address="", tags=[],
            language=row.language,
        )

    @functools.lru_cache(maxsize=RENDER_CACHE_SIZE)
    def rendered(edition_id: int, sent_at: datetime | None) -> str:
        # Keyed by when it was sent too: SQLite may give a deleted edition's id to a new one.
        with store.session() as session:
            edition = get_edition(session, edition_id)
            view = edition_view(config, list_config(edition.mailing_list), edition)
        view = dataclasses.replace(view, view_url="")
        return public_html(render_edition(view, templates).html)

    def sent_edition(slug: str, day: date) -> tuple[int, datetime | None] | None:
        with store.session() as session:
            row = session.execute(
                select(Edition.id, Edition.sent_at)
                .join(MailingList, MailingList.id == Edition.list_id)
                .where(MailingList.slug == slug, Edition.date == day, Edition.status == "sent")
            ).first()
            return None if row is None else (row[0], row[1])

    async def index(request: Request) -> Response:
        language = request_language(request)
        lists = await run_in_threadpool(public_lists, store, declared.values())
        return page(
            "archive.html", language, title=text("archive_title", language),
            lists=[(lst, _direction(lst.language),
                    format_day(lst.latest, language) if lst.latest else "",
                    declared.get(lst.slug)) for lst in lists],
        )

    async def home(request: Request) -> Response:
        return RedirectResponse("/archive", status_code=303)  # the site's public front page

    async def list_page(request: Request) -> Response:
        slug = request.path_params["slug"]
        raw_page = request.query_params.get("page", "1")
        if not _PAGE_RE.match(raw_page):
            return error_page(request)
        number = int(raw_page)
        found = await run_in_threadpool(archived_editions, store, slug, number)
        if found is None:
            return error_page(request)
        row, editions, total = found
        pages = max(1, -(-total // PAGE_SIZE))
        if number > pages:
            return error_page(request)
        language = language_of(row.language)
        return page(
            "archive_list.html", language, title=text("archive_list_title", language, list=row.name),
            list_name=row.name, list_slug=row.slug, declared=declared.get(row.slug),
            editions=[(e, e.day.isoformat(), format_day(e.day, language, "full")) for e in editions],
            page=number, pages=pages,
        )

    def feed_state(slug: str) -> tuple[Any, ...] | None:
        """What the feed of SLUG shows, in brief: its cache key (None: no such list)."""
        with store.session() as session:
            row = session.execute(
                select(MailingList.id, MailingList.name).where(MailingList.slug == slug)
            ).first()
            if row is None:
                return None
            sent = session.execute(
                select(Edition.id, Edition.sent_at)
                .where(Edition.list_id == row.id, Edition.status == "sent")
                .order_by(Edition.date.desc()).limit(FEED_SIZE)
            ).all()
            return (slug, row.name, *((edition_id, at) for edition_id, at in sent))

    @functools.lru_cache(maxsize=RENDER_CACHE_SIZE)
    def feed_xml(state: tuple[Any, ...]) -> bytes:
        slug, ids = state[0], [edition_id for edition_id, _ in state[2:]]
        with store.session() as session:
            row = session.scalar(select(MailingList).where(MailingList.slug == slug))
            editions = [get_edition(session, edition_id) for edition_id in ids]
            lst = list_config(row)
            entries = []
            for edition in editions:
                view = edition_view(config, lst, edition)
                sent_at = edition.sent_at or datetime.combine(edition.date, time(), UTC)
                entries.append(FeedEntry(view.view_url, sent_at, view))
            page_url = f"{config.web.base_url.rstrip('/')}/archive/{row.slug}"
            return atom_feed(
                title=row.name, subtitle=lst.description, language=language_of(row.language),
                page_url=page_url, feed_url=f"{page_url}/feed.xml",
                author=lst.from_name or row.name, entries=entries,
            )

    async def feed(request: Request) -> Response:
        state = await run_in_threadpool(feed_state, request.path_params["slug"])
        if state is None:
            return error_page(request)
        body = await run_in_threadpool(feed_xml, state)
        return Response(body, media_type=MEDIA_TYPE,
                        headers={"Cache-Control": "public, max-age=300"})

    async def edition_page(request: Request) -> Response:
        slug, day = request.path_params["slug"], parse_day(request.path_params["day"])
        if day is None:
            return error_page(request)
        found = await run_in_threadpool(sent_edition, slug, day)
        if found is None:
            return error_page(request)
        try:
            html = await run_in_threadpool(rendered, *found)
        except NewsletterError as exc:  # a template broken since the send: the newsroom's to fix
            log.error("archive page /archive/%s/%s not rendered: %s", slug, day, exc)
            return error_page(request, "archive_unavailable", 500)
        return HTMLResponse(html, headers=EDITION_HEADERS)

    return [
        Route("/", home, methods=["GET"]),
        Route("/archive", index, methods=["GET"]),
        Route("/archive/{slug}", list_page, methods=["GET"]),
        Route("/archive/{slug}/feed.xml", feed, methods=["GET"]),
        Route("/archive/{slug}/{day}", edition_page, methods=["GET"]),
    ]


def _direction(language: str) -> str:
    return "rtl" if language.split("-")[0].lower() in RTL_LANGUAGES else "ltr"
