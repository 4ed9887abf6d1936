"""The editors' web app: every page under ``/editor``, each behind a login.

One module per part: :mod:`.login` (log in and out), :mod:`.dashboard` (the lists, their next
editions, the sources, recent sends). Each exposes ``<part>_routes(site)``; every editor
endpoint is wrapped in :func:`.base.editor_route`, which the route walk test checks.
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from newsletter.web.editor.base import EditorSite
from newsletter.web.editor.dashboard import dashboard_routes
from newsletter.web.editor.login import login_routes

__all__ = ["EditorSite", "editor_routes"]


def editor_routes(site: EditorSite) -> list[BaseRoute]:
    return [*login_routes(site), *dashboard_routes(site)]
