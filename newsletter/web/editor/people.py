"""Subscribers: find one, see their lists and consent history, import a CSV file into a list.

    GET  /editor/subscribers?q=TEXT&page=N   search by address or name (any case), paginated
    GET  /editor/subscribers/{id}            lists and statuses, consent history, provider events
    POST /editor/subscribers/import          multipart: ``list`` and ``file`` (CSV); the report
                                             line by line. Consent wins: an unsubscribed,
                                             bounced, complained or forgotten address stays so.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from newsletter.audience.lists import sync_lists
from newsletter.audience.lookup import profile, search
from newsletter.audience.subscribers import SyncReport, import_file
from newsletter.errors import NewsletterError
from newsletter.web.editor.base import EditorSite, editor_route, fits_row_id
from newsletter.web.editor.dashboard import formats
from newsletter.web.editor.problems import describe, say

MAX_UPLOAD = 20_000_000  # bytes: 100,000 rows with names fit several times over
_UNSAFE = re.compile(r"[^\w.-]+")


def _page_number(value: str | None) -> int:
    """The page asked for; the first for what is no page: text, 0, or a number past the ids
    (there are fewer subscribers than ids, and such a page's offset could overflow)."""
    try:
        number = int(value or "1")
    except ValueError:
        return 1
    return number if number >= 1 and fits_row_id(number) else 1


def _file_name(upload: UploadFile) -> str:
    """The uploaded file's own name, made safe: it becomes the origin ``csv:<name>``."""
    name = _UNSAFE.sub("-", Path(upload.filename or "").name).strip(".-")[:60]
    return name or "upload.csv"


def people_routes(site: EditorSite) -> list[Route]:
    def lists() -> list[Any]:
        return list(site.lists.values())

    @editor_route(site)
    async def subscribers(request: Request) -> Response:
        query = request.query_params.get("q", "")
        page = _page_number(request.query_params.get("page"))

        def find():  # noqa: ANN202
            with site.store.session() as session:
                return search(session, query, page)

        result = await run_in_threadpool(find)
        return site.render(request, "subscribers.html", result=result, lists=lists(),
                           report=None, upload_error="", chosen_list="", **formats(request))

    @editor_route(site)
    async def subscriber(request: Request) -> Response:
        subscriber_id = request.path_params["id"]

        def load():  # noqa: ANN202
            with site.store.session() as session:
                return profile(session, subscriber_id)

        person = await run_in_threadpool(load) if fits_row_id(subscriber_id) else None
        if person is None:
            _ = site.gettext(request)
            return site.render(
                request, "subscriber_missing.html", status_code=404,
                message=_("No subscriber with this number: they may have been forgotten."),
            )
        return site.render(request, "subscriber.html", person=person, **formats(request))

    @editor_route(site)
    async def import_csv(request: Request) -> Response:
        _ = site.gettext(request)
        form = await request.form()
        try:
            slug = str(form.get("list", ""))
            upload = form.get("file")
            data = b""
            if isinstance(upload, UploadFile) and upload.filename:
                data = await upload.read(MAX_UPLOAD + 1)
                name = _file_name(upload)
        finally:
            await form.close()  # the spooled upload: its bytes are in DATA now
        list_config = site.list_config(slug)

        def show(error: str, report: SyncReport | None = None, status_code: int = 400) -> Response:
            with site.store.session() as session:
                result = search(session, "", 1)
            return site.render(request, "subscribers.html", status_code=status_code, result=result,
                               lists=lists(), report=report, upload_error=error, chosen_list=slug,
                               reason=lambda row: say(row.code, row.params, row.reason, _),
                               **formats(request))

        if list_config is None:
            return await run_in_threadpool(show, _("Choose the list to import into."))
        if not isinstance(upload, UploadFile) or not upload.filename:
            return await run_in_threadpool(show, _("Choose a CSV file to upload."))
        if len(data) > MAX_UPLOAD:
            too_large = _("The file is larger than 20 MB: split it, or use 'newsletter subscribers import'.")
            return await run_in_threadpool(show, too_large)
        if not data.strip():
            return await run_in_threadpool(show, _("The file is empty."))

        def work() -> Response:
            with tempfile.TemporaryDirectory(prefix="newsletter-upload-") as folder:
                path = Path(folder) / name
                path.write_bytes(data)
                with site.store.session() as session:
                    try:
                        row = sync_lists(session, [list_config])[list_config.slug]
                        report = import_file(session, path, row)
                        session.commit()
                    except NewsletterError as exc:
                        session.rollback()
                        message = describe(exc, _).replace(str(path), name)
                        return show(_("The file could not be imported:") + " " + message)
            return show("", report, status_code=200)

        return await run_in_threadpool(work)

    return [
        Route("/editor/subscribers", subscribers, methods=["GET"]),
        Route("/editor/subscribers/import", import_csv, methods=["POST"]),
        Route("/editor/subscribers/{id:int}", subscriber, methods=["GET"]),
    ]
