"""The editors' web app: every page under ``/editor``, each behind a login.

One module per part: :mod:`.login` (log in and out), :mod:`.dashboard` (the lists, their next
editions, the sources, recent sends), :mod:`.editions` (an edition's editor and preview),
:mod:`.people` (subscribers), :mod:`.sources` (sources and their fetch history). Each exposes ``<part>_routes(site)``; every editor
endpoint is wrapped in :func:`.base.editor_route`, which the route walk test checks.
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from newsletter.web.editor.base import EditorSite
from newsletter.web.editor.dashboard import dashboard_routes
from newsletter.web.editor.editions import editions_routes
from newsletter.web.editor.login import login_routes
from newsletter.web.editor.people import people_routes
from newsletter.web.editor.sources import sources_routes

__all__ = ["EditorSite", "editor_routes"]


def editor_routes(site: EditorSite) -> list[BaseRoute]:
    return [
        *login_routes(site),
        *dashboard_routes(site),
        *editions_routes(site),
        *people_routes(site),
        *sources_routes(site),
    ]
