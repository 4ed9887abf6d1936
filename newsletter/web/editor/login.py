"""Log in and out. Failed logins are throttled per editor name and per client address.

    GET  /editor/login     the form (with its CSRF token: a login form posted from another
                           site is refused like any other forged request)
    POST /editor/login     name + password: the session, then ``next`` (a path of this site)
    POST /editor/logout    ends the session
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from newsletter.accounts import authenticate
from newsletter.web.editor.base import (
    LOGIN_PATH,
    EditorSite,
    csrf_ok,
    editor_route,
    login_session,
    safe_next,
)
from newsletter.web.throttle import Throttle

# Failed logins: per name (guessing one editor's password), per client (trying many names).
NAME_LIMIT, CLIENT_LIMIT, WINDOW = 5, 20, 900.0


def login_routes(site: EditorSite) -> list[Route]:
    by_name = Throttle(NAME_LIMIT, WINDOW, clock=site.clock)
    by_client = Throttle(CLIENT_LIMIT, WINDOW, clock=site.clock)

    async def login_page(request: Request) -> Response:
        return site.render(request, "login.html", next=safe_next(request.query_params.get("next")),
                           error="", name="")

    async def login(request: Request) -> Response:
        _ = site.gettext(request)
        form = await request.form()
        name = str(form.get("name", "")).strip()[:100]
        password = str(form.get("password", ""))
        target = safe_next(str(form.get("next", "")))
        client = request.client.host if request.client else "unknown"

        def again(error: str, status_code: int) -> Response:
            return site.render(request, "login.html", status_code=status_code,
                               next=target, error=error, name=name)

        if not await csrf_ok(request):
            return again(_("The form expired. Please log in again."), 403)
        if by_name.blocked(name.lower()) or by_client.blocked(client):
            return again(_("Too many failed attempts. Try again in 15 minutes."), 429)

        def check():  # noqa: ANN202
            with site.store.session() as session:
                editor = authenticate(session, name, password)
                if editor is not None:
                    session.commit()
                    session.refresh(editor)
                    session.expunge(editor)
                return editor

        editor = await run_in_threadpool(check)
        if editor is None:
            by_name.allow(name.lower())
            by_client.allow(client)
            return again(_("Wrong name or password."), 401)
        login_session(request, editor)
        return RedirectResponse(target, status_code=303)

    @editor_route(site)
    async def logout(request: Request) -> Response:
        request.session.clear()
        return RedirectResponse(LOGIN_PATH, status_code=303)

    return [
        Route(LOGIN_PATH, login_page, methods=["GET"]),
        Route(LOGIN_PATH, login, methods=["POST"]),
        Route("/editor/logout", logout, methods=["POST"]),
    ]
