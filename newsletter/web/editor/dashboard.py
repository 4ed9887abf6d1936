"""The dashboard: each list with its next edition and when it goes out.

    GET /editor     the dashboard
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from newsletter.web.editor.base import EditorSite, editor_route


def dashboard_routes(site: EditorSite) -> list[Route]:
    @editor_route(site)
    async def dashboard(request: Request) -> Response:
        return site.render(request, "dashboard.html", lists=list(site.lists.values()))

    return [Route("/editor", dashboard, methods=["GET"])]
