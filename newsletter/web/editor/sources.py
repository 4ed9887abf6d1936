"""Sources: the list with each one's last fetch and errors, its fetch history, add, edit, disable.

    GET  /editor/sources                 every source: kind, URL, tags, state, last fetch, errors
    GET  /editor/sources/new             the form for a new source
    POST /editor/sources                 add a source (a feed or a page at an http(s) address; a
                                         site's page given as a feed: the feed it announces)
    GET  /editor/sources/{id}            one source and its fetch history
    POST /editor/sources/{id}            edit a source added here (a newsletter.toml one: refused,
                                         the message says to edit the file)
    POST /editor/sources/{id}/enabled    ``enabled=0|1``: disable or enable (any source)
    POST /editor/sources/import          an OPML file from a feed reader: each feed a source
    GET  /editor/sources/export.opml     every feed source as OPML, for a feed reader or a backup

How web changes live with newsletter.toml: see :mod:`newsletter.collect.sources`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.datastructures import UploadFile
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from newsletter.collect.discover import find_feed
from newsletter.collect.http import Fetcher
from newsletter.collect.opml import read_opml, write_opml
from newsletter.collect.sources import (
    PROBLEMS,
    SourceFields,
    SourceInputError,
    add_web_source,
    check_web_source,
    edit_web_source,
    feeds_of,
    fetch_history,
    get_source,
    import_feeds,
    list_sources,
    parse_tags,
    set_enabled,
)
from newsletter.errors import FetchError, InputError
from newsletter.store.models import Source
from newsletter.web.editor.base import EditorSite, editor_route, fits_row_id
from newsletter.web.editor.dashboard import formats
from newsletter.web.editor.problems import describe

NOTICES = ("added", "saved", "disabled", "enabled")
MAX_OPML = 2_000_000  # bytes; a feed reader's export of hundreds of feeds is a few hundred kB


def _fields(form: Any) -> SourceFields:
    def text(key: str) -> str:
        value = form.get(key, "")
        return value if isinstance(value, str) else ""

    return SourceFields(name=text("name"), label=text("label"), kind=text("kind") or "feed",
                        url=text("url"), tags=parse_tags(text("tags")), language=text("language"))


def sources_routes(site: EditorSite) -> list[Route]:
    def problem(request: Request, exc: SourceInputError) -> str:
        """The refusal in the editor's language (the library's message ids are English)."""
        return site.gettext(request)(PROBLEMS[exc.code]).format(**exc.params)

    def located(
        request: Request, fields: SourceFields, current_url: str = ""
    ) -> SourceFields | str:
        """FIELDS (already checked) with a feed's own address when its URL is a page that
        announces one; the refusal, in the editor's language, when it is a page that announces
        none. The URL stays as typed for a page source, an unchanged URL, or one that cannot be
        read now (the collector will say why, as for any source)."""
        url = fields.url.strip()
        if fields.kind != "feed" or url == current_url:
            return fields
        config = site.config
        try:
            with Fetcher.configured(config.collect) as fetcher:
                feed_url = find_feed(fetcher, url, public_only=not config.web.fetch_private)
        except InputError as exc:
            return describe(exc, site.gettext(request))
        except FetchError:
            return fields
        return dataclasses.replace(fields, url=feed_url)

    def detail(request: Request, source_id: int, *, status_code: int = 200, error: str = "",
               error_field: str = "", values: SourceFields | None = None) -> Response:
        with site.store.session() as session:
            entry = get_source(session, site.config, source_id) if fits_row_id(source_id) else None
            history = fetch_history(session, source_id) if entry else []
        if entry is None:
            _ = site.gettext(request)
            return site.render(request, "source_missing.html", status_code=404,
                               message=_("No source with this number."))
        notice = request.query_params.get("done", "")
        values = values or SourceFields(entry.name, entry.label, entry.kind, entry.url,
                                        entry.tags, entry.language)
        return site.render(request, "source.html", status_code=status_code, source=entry,
                           history=history, error=error, error_field=error_field, values=values,
                           notice=notice if notice in NOTICES else "", **formats(request))

    @editor_route(site)
    async def sources(request: Request) -> Response:
        def load():  # noqa: ANN202
            with site.store.session() as session:
                return list_sources(session, site.config)

        entries = await run_in_threadpool(load)
        return site.render(request, "sources.html", sources=entries, **formats(request))

    @editor_route(site)
    async def new_source(request: Request) -> Response:
        return site.render(request, "source_new.html", values=SourceFields(), error="",
                           error_field="")

    @editor_route(site)
    async def add_source(request: Request) -> Response:
        fields = _fields(await request.form())

        def refuse(error: str, error_field: str) -> Response:
            return site.render(request, "source_new.html", status_code=400, values=fields,
                               error=error, error_field=error_field)

        def work() -> Response:
            with site.store.session() as session:
                try:
                    check_web_source(session, site.config, fields)  # before any fetch
                except SourceInputError as exc:
                    return refuse(problem(request, exc), exc.field)
            found = located(request, fields)
            if isinstance(found, str):
                return refuse(found, "url")
            with site.store.session() as session:
                try:
                    source = add_web_source(session, site.config, found)
                except SourceInputError as exc:  # the feed found is collected already
                    session.rollback()
                    return refuse(problem(request, exc), exc.field)
                session.commit()
                return RedirectResponse(f"/editor/sources/{source.id}?done=added", status_code=303)

        return await run_in_threadpool(work)

    @editor_route(site)
    async def import_opml(request: Request) -> Response:
        _ = site.gettext(request)
        form = await request.form()
        try:
            upload = form.get("file")
            data = await upload.read(MAX_OPML + 1) if isinstance(upload, UploadFile) else b""
        finally:
            await form.close()

        def show(error: str = "", imported: list[Any] | None = None) -> Response:
            return site.render(request, "source_new.html", status_code=400 if error else 200,
                               values=SourceFields(), error="", error_field="",
                               import_error=error, imported=imported,
                               refusal=lambda exc: problem(request, exc))

        if not data.strip():
            return show(_("Choose an OPML file to upload."))
        if len(data) > MAX_OPML:
            return show(_("The file is larger than 2 MB: is it really a feed reader's OPML export?"))
        try:
            feeds = read_opml(data)
        except InputError as exc:
            return show(describe(exc, _))
        if not feeds:
            return show(_("The file lists no feed (no outline with an xmlUrl)."))

        def work() -> Response:
            with site.store.session() as session:
                imported = import_feeds(session, site.config, feeds)
                session.commit()
                return show(imported=imported)

        return await run_in_threadpool(work)

    @editor_route(site)
    async def export_opml(request: Request) -> Response:
        def load() -> bytes:
            with site.store.session() as session:
                return write_opml("newsletter sources", feeds_of(session, site.config))

        body = await run_in_threadpool(load)
        return Response(body, media_type="text/x-opml; charset=utf-8", headers={
            "Content-Disposition": 'attachment; filename="newsletter-sources.opml"'})

    @editor_route(site)
    async def source_page(request: Request) -> Response:
        return await run_in_threadpool(detail, request, request.path_params["id"])

    def change(request: Request, source_id: int, apply: Callable[[Session, Source], object],
               done: str, values: SourceFields | None = None) -> Response:
        """APPLY to the source in one transaction, then say DONE; a refusal shows the page again
        with it (and, for the edit form, what was typed: VALUES)."""
        with site.store.session() as session:
            source = session.get(Source, source_id) if fits_row_id(source_id) else None
            if source is None:
                return detail(request, source_id)
            try:
                apply(session, source)
            except SourceInputError as exc:
                session.rollback()
                return detail(request, source_id, status_code=400, error=problem(request, exc),
                              error_field=exc.field if values else "", values=values)
            except _Refused as refused:
                session.rollback()
                return detail(request, source_id, status_code=400, error=refused.message,
                              error_field="url", values=values)
            session.commit()
        return RedirectResponse(f"/editor/sources/{source_id}?done={done}", status_code=303)

    @editor_route(site)
    async def edit_source(request: Request) -> Response:
        fields = _fields(await request.form())

        def edit(session: Session, source: Source) -> None:
            check_web_source(session, site.config, fields, source)  # before any fetch
            found = located(request, fields, current_url=source.url)
            if isinstance(found, str):
                raise _Refused(found)
            edit_web_source(session, site.config, source, found)

        return await run_in_threadpool(change, request, request.path_params["id"], edit, "saved",
                                       fields)

    @editor_route(site)
    async def switch_source(request: Request) -> Response:
        enabled = (await request.form()).get("enabled") == "1"

        def switch(session: Session, source: Source) -> None:
            set_enabled(session, source, enabled)

        return await run_in_threadpool(change, request, request.path_params["id"], switch,
                                       "enabled" if enabled else "disabled")

    return [
        Route("/editor/sources", sources, methods=["GET"]),
        Route("/editor/sources", add_source, methods=["POST"]),
        Route("/editor/sources/new", new_source, methods=["GET"]),
        Route("/editor/sources/import", import_opml, methods=["POST"]),
        Route("/editor/sources/export.opml", export_opml, methods=["GET"]),
        Route("/editor/sources/{id:int}", source_page, methods=["GET"]),
        Route("/editor/sources/{id:int}", edit_source, methods=["POST"]),
        Route("/editor/sources/{id:int}/enabled", switch_source, methods=["POST"]),
    ]


class _Refused(Exception):
    """An edit refused before the library saw it; MESSAGE is already in the editor's language."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
