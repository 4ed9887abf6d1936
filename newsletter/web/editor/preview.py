"""The preview: an edition's email exactly as a sample recipient gets it.

    GET /editor/editions/{id}/preview      the HTML part in frames 600 px and 375 px wide (a
                                           desktop client, a phone), the plain-text part, and
                                           the size, with a warning above 90 KB
    GET /editor/editions/{id}/email.html   the HTML part itself: the frames' source

Rendered by :func:`newsletter.curate.preview`, the path a send takes, for a sample recipient
named after the editor (its unsubscribe link is no reader's). The email runs no script in its
frame: the page forbids them (``Content-Security-Policy``) and the frames are sandboxed.
"""

from __future__ import annotations

from typing import Any

from babel.numbers import format_decimal
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from newsletter import curate
from newsletter.audience.lists import ListConfig
from newsletter.errors import NewsletterError
from newsletter.store.models import Edition
from newsletter.web.editor.base import PRIVATE_HEADERS, EditorSite, editor_route
from newsletter.web.editor.editions import NotFound, not_found, with_edition
from newsletter.web.editor.problems import describe
from newsletter.web.i18n import interface_language

# The frames' widths: Gmail's and Outlook's reading panes on a desktop, an iPhone's screen.
WIDTHS = (600, 375)
EMAIL_HEADERS = {**PRIVATE_HEADERS, "Content-Security-Policy": "script-src 'none'; frame-ancestors 'self'"}


def preview_routes(site: EditorSite) -> list[Route]:
    async def rendered(request: Request) -> dict[str, Any] | Response:
        """The preview and what the page says about its edition, or an error page."""
        edition_id = int(request.path_params["id"])
        name = request.state.editor.name

        def work(session: Session, edition: Edition, lc: ListConfig) -> dict[str, Any]:
            return {"preview": curate.preview(site.config, lc, edition, name=name),
                    "edition": edition, "list": lc}

        try:
            return await with_edition(site, edition_id, work)
        except NotFound:
            return not_found(site, request, edition_id)
        except NewsletterError as exc:  # a broken template: the message names its file and line
            return site.render(request, "edition_error.html", status_code=409,
                               message=describe(exc, site.gettext(request)))

    @editor_route(site)
    async def preview_page(request: Request) -> Response:
        found = await rendered(request)
        if isinstance(found, Response):
            return found
        language = interface_language(request, request.state.editor.language)
        kilobytes = format_decimal(found["preview"].kilobytes, format="#,##0.0", locale=language)
        return site.render(
            request, "preview.html", widths=WIDTHS, kilobytes=kilobytes,
            limit_kb=curate.SIZE_WARNING_BYTES // 1024, clip_kb=curate.GMAIL_CLIP_BYTES // 1024,
            **found,
        )

    @editor_route(site)
    async def email_html(request: Request) -> Response:
        found = await rendered(request)
        if isinstance(found, Response):
            return found
        return HTMLResponse(found["preview"].html, headers=EMAIL_HEADERS)

    return [
        Route("/editor/editions/{id:int}/preview", preview_page, methods=["GET"]),
        Route("/editor/editions/{id:int}/email.html", email_html, methods=["GET"]),
    ]
