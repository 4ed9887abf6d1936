"""(being written)"""

from __future__ import annotations

from starlette.routing import Route

from newsletter.web.editor.base import EditorSite


def editions_routes(site: EditorSite) -> list[Route]:
    return []
