"""The dashboard: each list with its next edition and when it goes out, the sources, recent sends.

    GET /editor     the dashboard (newsletter.dashboard reads the store)

Also the date formats every page of this part shares (:func:`formats`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from newsletter.collect.sources import list_sources
from newsletter.dashboard import list_cards, recent_sends
from newsletter.web.editor.base import EditorSite, editor_route
from newsletter.web.i18n import interface_language


def formats(request: Request) -> dict[str, Callable[..., str]]:
    """Date helpers for the templates, in the editor's interface language.

    ``when(dt)`` is a UTC time ("2 déc. 2026 06:30 UTC"); ``local(dt)`` a time in its own zone
    with the weekday ("mar. 2 déc. 07:00"); ``day(d)`` a date."""
    editor = getattr(request.state, "editor", None)
    language = interface_language(request, editor.language if editor else "")

    def when(value: datetime | None) -> str:
        if value is None:
            return "—"
        return format_datetime(value, "d MMM y HH:mm", tzinfo=UTC, locale=language) + " UTC"

    def local(value: datetime | None) -> str:
        if value is None:
            return "—"
        zone = value.tzinfo if isinstance(value.tzinfo, ZoneInfo) else UTC
        return format_datetime(value, "EEE d MMM HH:mm", tzinfo=zone, locale=language)

    def day(value: date | None) -> str:
        return format_date(value, "EEE d MMM y", locale=language) if value else "—"

    return {"when": when, "local": local, "day": day}


def now_of(site: EditorSite) -> datetime:
    return datetime.fromtimestamp(site.clock(), UTC)


def dashboard_routes(site: EditorSite) -> list[Route]:
    @editor_route(site)
    async def dashboard(request: Request) -> Response:
        now = now_of(site)

        def load() -> dict[str, Any]:
            with site.store.session() as session:
                return {
                    "cards": list_cards(session, list(site.lists.values()), now),
                    "sends": recent_sends(session),
                    "sources": list_sources(session, site.config),
                }

        data = await run_in_threadpool(load)
        return site.render(request, "dashboard.html", now=now, **data,
                           **formats(request))

    return [Route("/editor", dashboard, methods=["GET"])]
