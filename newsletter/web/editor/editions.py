"""An edition's editor: items by section, their text and order, and the edition's fate.

    GET  /editor/editions/{id}                              the editor
    POST /editor/editions/{id}/fields                       subject, preheader, intro
    POST /editor/editions/{id}/items                        add an article by URL (url, section)
    POST /editor/editions/{id}/items/{item_id}/text         title, summary
    POST /editor/editions/{id}/items/{item_id}/include      included = 1 | 0
    POST /editor/editions/{id}/items/{item_id}/move         direction = up | down, or to = N
    POST /editor/editions/{id}/items/{item_id}/regenerate   a fresh machine summary
    POST /editor/editions/{id}/rebuild                      refresh the draft, edits kept
    POST /editor/editions/{id}/approve | unapprove
    POST /editor/editions/{id}/send                         send now (as 'newsletter editions send')
    POST /editor/editions/{id}/test                         the email to one address (address)

and the preview's routes (:mod:`.preview`). A form post answers with a redirect back to the
editor and a message, shown next to the form that was sent (the redirect's anchor), with what
the editor typed put back in that form after a refusal; a request asking for JSON (the page's
JavaScript: ``Accept: application/json``) gets ``{"ok": true, ...}``, or ``{"error": ...}`` with
409 when the library refused (a sent edition, an unreachable page...). The work is
:mod:`newsletter.curate` and :mod:`newsletter.editions`; nothing is decided here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from newsletter import curate
from newsletter.audience.lists import ListConfig
from newsletter.editions import (
    approve,
    edit_edition,
    get_edition,
    included_items,
    move_item,
    set_included,
    unapprove,
)
from newsletter.errors import EditionError, InputError, NewsletterError
from newsletter.render import subject_for
from newsletter.store.models import Edition
from newsletter.web.editor.base import PRIVATE_HEADERS, EditorSite, editor_route, fits_row_id
from newsletter.web.editor.problems import describe

log = logging.getLogger(__name__)

T = TypeVar("T")
FIELD_LIMITS = {"subject": 300, "preheader": 300, "intro": 5000, "title": 1000, "summary": 5000}
FLASH = "flash"
Result = dict[str, Any]  # what an action did: the JSON answer's fields, and its message's values
KEPT_LIMIT = 1000  # a longer typed value is not put back (the session is a cookie)


class NotFound(Exception):
    """No edition with that id."""


def load_edition(session: Session, site: EditorSite, edition_id: int) -> tuple[Edition, ListConfig]:
    """The edition and its list's configuration; NotFound, or EditionError for a list that
    subscribers/lists.toml no longer declares."""
    if not fits_row_id(edition_id) or session.get(Edition, edition_id) is None:
        raise NotFound(edition_id)
    edition = get_edition(session, edition_id)
    slug = edition.mailing_list.slug
    list_config = site.list_config(slug)
    if list_config is None:
        raise EditionError(
            f"edition {edition_id} belongs to list {slug!r}, which subscribers/lists.toml no "
            "longer declares: add it back to work on the edition",
            code="list-undeclared", list=slug,
        )
    return edition, list_config


async def with_edition(
    site: EditorSite, edition_id: int, work: Callable[[Session, Edition, ListConfig], T]
) -> T:
    """WORK on the edition in a session of its own (committed when WORK returns), off the loop."""

    def run() -> T:
        with site.store.session() as session:
            edition, list_config = load_edition(session, site, edition_id)
            return work(session, edition, list_config)

    return await run_in_threadpool(run)


def wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


@dataclass
class Message:
    """A message for the editor after a form post, shown on the edition's next page."""

    kind: str  # notice | error
    text: str
    place: str = ""  # the id of the page's part holding the form; "": the top of the page
    kept: dict[str, str] = field(default_factory=dict)  # what was typed, put back in the form


def flash(
    request: Request,
    edition_id: int,
    kind: str,
    text: str,
    *,
    place: str = "",
    kept: dict[str, str] | None = None,
) -> None:
    """A message for the edition's next page (kept short: the session is a cookie)."""
    kept = {name: value for name, value in (kept or {}).items() if len(value) <= KEPT_LIMIT}
    entry = {"edition": edition_id, "kind": kind, "text": text[:600], "place": place,
             "kept": kept}
    request.session[FLASH] = [*request.session.get(FLASH, [])[-3:], entry]


def take_flash(request: Request, edition_id: int) -> list[Message]:
    """The messages for the edition's page; those of other editions wait for theirs."""
    entries = request.session.get(FLASH, [])
    mine = [e for e in entries if isinstance(e, dict) and e.get("edition") == edition_id]
    rest = [e for e in entries if isinstance(e, dict) and e.get("edition") != edition_id]
    if len(rest) != len(entries):  # old entries without an edition are dropped too
        if rest:
            request.session[FLASH] = rest
        else:
            del request.session[FLASH]
    return [Message(str(e.get("kind")), str(e.get("text")), str(e.get("place") or ""),
                    {str(k): str(v) for k, v in (e.get("kept") or {}).items()}) for e in mine]


def by_place(messages: list[Message], places: Iterable[str]) -> dict[str, list[Message]]:
    """MESSAGES by the part of the page they show in; one whose part is not on the page (an
    item since removed, the add form of an edition approved meanwhile) at the top."""
    known = set(places)
    found: dict[str, list[Message]] = {}
    for message in messages:
        found.setdefault(message.place if message.place in known else "", []).append(message)
    return found


def text_field(form: FormData, name: str) -> str | None:
    """The form's NAME as text (None when absent); InputError past its length limit."""
    value = form.get(name)
    if not isinstance(value, str):
        return None
    limit = FIELD_LIMITS.get(name)
    if limit and len(value) > limit:
        raise InputError(f"{name}: at most {limit} characters ({len(value)} given)")
    return value


def edition_url(edition_id: int, anchor: str = "") -> str:
    return f"/editor/editions/{edition_id}" + (f"#{anchor}" if anchor else "")


def answer(
    request: Request,
    edition_id: int,
    *,
    message: str = "",
    error: str = "",
    anchor: str = "",
    data: dict[str, Any] | None = None,
    background: BackgroundTask | None = None,
    kept: dict[str, str] | None = None,
) -> Response:
    """JSON for the page's JavaScript, else a redirect to the editor's ANCHOR, where the message
    shows next to the form; KEPT: the form's fields to fill again."""
    if wants_json(request):
        if error:
            return JSONResponse({"error": error}, status_code=409, headers=PRIVATE_HEADERS)
        return JSONResponse({"ok": True, "message": message, **(data or {})},
                            headers=PRIVATE_HEADERS, background=background)
    flash(request, edition_id, "error" if error else "notice", error or message, place=anchor,
          kept=kept)
    return RedirectResponse(edition_url(edition_id, anchor), status_code=303, background=background)


def not_found(site: EditorSite, request: Request, edition_id: int) -> Response:
    _ = site.gettext(request)
    message = _("There is no edition %(id)s.") % {"id": edition_id}
    if wants_json(request):
        return JSONResponse({"error": message}, status_code=404, headers=PRIVATE_HEADERS)
    return site.render(request, "edition_error.html", status_code=404, message=message)


# -- the page ------------------------------------------------------------------------------------


def local_time(moment: datetime | None, timezone: str) -> str:
    return moment.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M") if moment else ""


def page_places(context: dict[str, Any]) -> set[str]:
    """The ids of the page's parts that show the messages of their forms (edition.html)."""
    items = {f"item-{item.id}" for section in context["sections"] for item in section.items}
    return {"fields", "test", *(["add"] if context["editable"] else []), *items}


def page_context(
    session: Session, site: EditorSite, edition: Edition, list_config: ListConfig
) -> dict[str, Any]:
    """What edition.html shows."""
    now = datetime.fromtimestamp(site.clock(), UTC)
    schedule = curate.edition_schedule(list_config, edition.date, now)
    return {
        "edition": edition,
        "list": list_config,
        "sections": curate.editor_sections(edition, list_config),
        "section_choices": [(s, list_config.section_title(s))
                            for s in list_config.section_order],
        "included_count": len(included_items(edition)),
        "default_subject": subject_for(list_config.name, edition.date, list_config.language),
        "schedule": schedule,
        "send_at_local": local_time(schedule.send_at, list_config.timezone),
        "next_send_local": local_time(schedule.next_send, list_config.timezone),
        "sent_at_local": local_time(edition.sent_at, list_config.timezone),
        "delivery": curate.delivery_progress(session, edition.id),
        "editable": edition.status == "draft",
    }


def editions_routes(site: EditorSite) -> list[Route]:
    # The preview's module uses this one's helpers: imported here, not at the top, to avoid a cycle.
    from newsletter.web.editor.preview import preview_routes

    def edition_id_of(request: Request) -> int:
        return int(request.path_params["id"])

    @editor_route(site)
    async def edition_page(request: Request) -> Response:
        edition_id = edition_id_of(request)
        messages = take_flash(request, edition_id)
        try:
            context = await with_edition(
                site, edition_id, lambda s, e, lc: page_context(s, site, e, lc)
            )
        except NotFound:
            return not_found(site, request, edition_id)
        except NewsletterError as exc:
            return site.render(request, "edition_error.html", status_code=409,
                               message=describe(exc, site.gettext(request)), messages=messages)
        editor = request.state.editor
        return site.render(request, "edition.html", test_address=editor.email,
                           messages=by_place(messages, page_places(context)),
                           kept={k: v for m in messages for k, v in m.kept.items()}, **context)

    async def act(
        request: Request,
        work: Callable[[Session, Edition, ListConfig, FormData], Result],
        *,
        done: Callable[[Result], str],
        anchor: str = "",
        failed: Callable[[str], str] | None = None,
        keep: tuple[str, ...] = (),
    ) -> Response:
        """Parse the form, run WORK on the edition; DONE(result) is the message for the editor.
        KEEP: the fields put back in the form after a refusal, for another try."""
        edition_id = edition_id_of(request)
        form = await request.form()
        try:
            result = await with_edition(site, edition_id, lambda s, e, lc: work(s, e, lc, form))
        except NotFound:
            return not_found(site, request, edition_id)
        except NewsletterError as exc:
            reason = describe(exc, site.gettext(request))
            kept = {name: str(form[name]) for name in keep if isinstance(form.get(name), str)}
            return answer(request, edition_id, error=failed(reason) if failed else reason,
                          anchor=anchor, kept=kept)
        return answer(request, edition_id, message=done(result), anchor=anchor, data=result)

    def item_of(request: Request) -> int:
        return int(request.path_params["item_id"])

    # -- the edition's own fields -------------------------------------------------------------

    @editor_route(site)
    async def fields(request: Request) -> Response:
        _ = site.gettext(request)

        def work(session: Session, edition: Edition, lc: ListConfig, form: FormData) -> Result:
            edit_edition(edition, subject=text_field(form, "subject"),
                         preheader=text_field(form, "preheader"), intro=text_field(form, "intro"))
            return {"subject": edition.subject, "preheader": edition.preheader,
                    "intro": edition.intro}

        return await act(request, work, done=lambda r: _("Saved."), anchor="fields")

    # -- items ----------------------------------------------------------------------------------

    @editor_route(site)
    async def item_text(request: Request) -> Response:
        _ = site.gettext(request)
        item_id = item_of(request)

        def work(session: Session, edition: Edition, lc: ListConfig, form: FormData) -> Result:
            item = curate.rewrite_text(edition, item_id, title=text_field(form, "title"),
                                       summary=text_field(form, "summary"))
            article = item.article
            return {
                "title": item.title_override or article.title,
                "summary": item.summary_override or curate.own_summary(article),
                "title_edited": item.title_override is not None,
                "summary_edited": item.summary_override is not None,
            }

        return await act(request, work, done=lambda r: _("Saved."), anchor=f"item-{item_id}")

    @editor_route(site)
    async def item_include(request: Request) -> Response:
        _ = site.gettext(request)
        item_id = item_of(request)

        def work(session: Session, edition: Edition, lc: ListConfig, form: FormData) -> Result:
            item = set_included(edition, item_id, form.get("included") == "1")
            count = len(included_items(edition))
            # the page's header counts the included articles: the JavaScript shows this text
            return {"included": item.included, "included_count": count,
                    "included_text": _("Articles included: %(count)s") % {"count": count}}

        return await act(
            request, work, anchor=f"item-{item_id}",
            done=lambda r: _("Included.") if r["included"] else _("Left out."),
        )

    @editor_route(site)
    async def item_move(request: Request) -> Response:
        _ = site.gettext(request)
        item_id = item_of(request)

        def work(session: Session, edition: Edition, lc: ListConfig, form: FormData) -> Result:
            direction, to = form.get("direction"), str(form.get("to", ""))
            if direction in ("up", "down"):
                item = curate.shift_item(edition, item_id, -1 if direction == "up" else 1)
            elif to.strip().isdigit():
                item = move_item(edition, item_id, int(to))
            else:
                raise InputError(
                    "say where to move the item: direction = up or down, or to = a place")
            order = curate.section_order(edition, item.section)
            return {"order": order, "place": order.index(item.id) + 1, "count": len(order)}

        return await act(
            request, work, anchor=f"item-{item_id}",
            done=lambda r: _("Moved to place %(place)s of %(count)s.") % r,
        )

    @editor_route(site)
    async def item_regenerate(request: Request) -> Response:
        _ = site.gettext(request)
        item_id = item_of(request)

        def work(session: Session, edition: Edition, lc: ListConfig, form: FormData) -> Result:
            return {"summary": curate.regenerate_summary(session, site.config, edition, item_id)}

        return await act(request, work, anchor=f"item-{item_id}",
                         done=lambda r: _("New summary written."))

    @editor_route(site)
    async def add_item(request: Request) -> Response:
        _ = site.gettext(request)

        def work(session: Session, edition: Edition, lc: ListConfig, form: FormData) -> Result:
            url, section = str(form.get("url", "")), str(form.get("section", ""))
            added = curate.add_article_by_url(session, site.config, lc, edition, url,
                                              section=section)
            item = added.item
            return {"item": item.id, "already": added.already,
                    "title": item.title_override or item.article.title,
                    "section": lc.section_title(item.section)}

        def done(r: Result) -> str:
            if r["already"]:
                return _("“%(title)s” was already in the edition: it is included.") % r
            return _("Added “%(title)s” to %(section)s.") % r

        return await act(request, work, done=done, anchor="add", keep=("url", "section"),
                         failed=lambda reason: _("Not added: %(reason)s") % {"reason": reason})

    # -- the edition as a whole -------------------------------------------------------------------

    @editor_route(site)
    async def rebuild(request: Request) -> Response:
        _ = site.gettext(request)

        def work(session: Session, edition: Edition, lc: ListConfig, form: FormData) -> Result:
            curate.rebuild(session, lc, edition)
            return {"included": len(included_items(edition))}

        return await act(
            request, work,
            done=lambda r: _(
                "Draft rebuilt, your edits kept. Articles included: %(included)s.") % r,
        )

    @editor_route(site)
    async def approve_edition(request: Request) -> Response:
        _ = site.gettext(request)

        def work(session: Session, edition: Edition, lc: ListConfig, form: FormData) -> Result:
            approve(edition)
            return {"status": edition.status}

        return await act(request, work, done=lambda r: _("Approved."))

    @editor_route(site)
    async def unapprove_edition(request: Request) -> Response:
        _ = site.gettext(request)

        def work(session: Session, edition: Edition, lc: ListConfig, form: FormData) -> Result:
            unapprove(edition)
            return {"status": edition.status}

        return await act(request, work, done=lambda r: _("Back to draft: it can be edited again."))

    @editor_route(site)
    async def send_now(request: Request) -> Response:
        """Plan the batches now (an error shows at once), send them after the answer."""
        from newsletter.deliver.send import send_edition, start_sending
        from newsletter.tokens import secret_key

        _ = site.gettext(request)
        edition_id = edition_id_of(request)

        def plan(session: Session, edition: Edition, lc: ListConfig) -> str | None:
            """None once the send is planned; the refusal's text for an edition already sent
            (a stale form, a second click: start_sending would send nothing, say so)."""
            if edition.status == "sent":
                if edition.sent_at is None:
                    return _("Already sent: nothing was sent again.")
                when = local_time(edition.sent_at, lc.timezone)
                return _("Already sent on %(when)s (%(tz)s): nothing was sent again.") % {
                    "when": when, "tz": lc.timezone}
            secret_key()  # ConfigError now rather than in the background
            site.backend()
            start_sending(session, site.config, edition)
            return None

        def send() -> None:
            try:
                with site.store.session() as session:
                    _edition, lc = load_edition(session, site, edition_id)
                    report = send_edition(session, site.config, lc, edition_id, site.backend(),
                                          secret_key())
                log.info("edition %s sent from the web app: %s messages in %s batches%s",
                         edition_id, report.sent, report.sent_batches,
                         "".join(f"; {m}" for m in report.failed))
            except NewsletterError as exc:
                log.error("edition %s: the send started from the web app stopped: %s",
                          edition_id, exc)

        try:
            refused = await with_edition(site, edition_id, plan)
        except NotFound:
            return not_found(site, request, edition_id)
        except NewsletterError as exc:
            return answer(request, edition_id, error=describe(exc, site.gettext(request)))
        if refused:
            return answer(request, edition_id, error=refused)
        return answer(request, edition_id, message=_("Sending: this page shows the progress."),
                      background=BackgroundTask(send))

    @editor_route(site)
    async def test_send(request: Request) -> Response:
        _ = site.gettext(request)
        editor = request.state.editor

        def work(session: Session, edition: Edition, lc: ListConfig, form: FormData) -> Result:
            address = str(form.get("address", "")).strip() or editor.email
            sent = curate.send_test(site.config, lc, edition, site.backend(), address,
                                    name=editor.name)
            return {"address": sent}

        return await act(request, work, anchor="test", keep=("address",),
                         done=lambda r: _("Test sent to %(address)s.") % r,
                         failed=lambda reason: _("Test not sent: %(reason)s") % {"reason": reason})

    base = "/editor/editions/{id:int}"
    item = base + "/items/{item_id:int}"
    return [
        Route(base, edition_page, methods=["GET"]),
        Route(base + "/fields", fields, methods=["POST"]),
        Route(base + "/items", add_item, methods=["POST"]),
        Route(item + "/text", item_text, methods=["POST"]),
        Route(item + "/include", item_include, methods=["POST"]),
        Route(item + "/move", item_move, methods=["POST"]),
        Route(item + "/regenerate", item_regenerate, methods=["POST"]),
        Route(base + "/rebuild", rebuild, methods=["POST"]),
        Route(base + "/approve", approve_edition, methods=["POST"]),
        Route(base + "/unapprove", unapprove_edition, methods=["POST"]),
        Route(base + "/send", send_now, methods=["POST"]),
        Route(base + "/test", test_send, methods=["POST"]),
        *preview_routes(site),
    ]
