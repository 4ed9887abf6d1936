"""What every editor page shares: the login check, the CSRF check and page rendering.

Every editor route is wrapped in :func:`editor_route`. It lets a request through only with a
session of an active editor whose password has not changed since (the session keeps a stamp
of it, :func:`newsletter.accounts.session_stamp`); anonymous GETs are sent to the login page,
anything else gets 403. A state-changing request (any method but GET/HEAD) must carry the
session's CSRF token, as the ``csrf_token`` form field or the ``X-CSRF-Token`` header (the
JavaScript sends the header); a missing or wrong one is a 403 that changes nothing. Both refusals
speak the editor's language: JSON for the page's JavaScript, else a page that says what happened
and leads back to the page the form was on (or to the login, then back there).

Sessions are Starlette's signed cookie (HttpOnly, SameSite=Lax, Secure when ``web.base_url``
is https): it holds the editor's id, the stamp and the CSRF token, nothing secret.
"""

from __future__ import annotations

import functools
import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import jinja2
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Match

from newsletter.accounts import session_stamp
from newsletter.audience.lists import ListConfig
from newsletter.config import Config
from newsletter.deliver.message import MailBackend
from newsletter.render.view import RTL_LANGUAGES
from newsletter.store.db import Store
from newsletter.store.models import Editor
from newsletter.web.editor.problems import say
from newsletter.web.i18n import interface_language, translations

LOGIN_PATH = "/editor/login"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SESSION_MAX_AGE = 12 * 3600  # a working day; then log in again
# Row ids are INTEGER columns: 32 bits on PostgreSQL (SQLite's hold 64, the schema is the same).
MAX_ROW_ID = 2**31 - 1

Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass
class EditorSite:
    """What the editor pages work with: the configuration, the store, the lists, the mailer."""

    config: Config
    store: Store
    lists: dict[str, ListConfig]
    backend: Callable[[], MailBackend]
    clock: Callable[[], float]
    templates: Path = field(init=False)

    def __post_init__(self) -> None:
        self.templates = self.config.folder(self.config.paths.templates)

    def list_config(self, slug: str) -> ListConfig | None:
        return self.lists.get(slug)

    def render(
        self, request: Request, template: str, status_code: int = 200, **context: Any
    ) -> HTMLResponse:
        """The page templates/web/editor/TEMPLATE in the editor's interface language."""
        editor: Editor | None = getattr(request.state, "editor", None)
        language = interface_language(request, editor.language if editor else "")
        html = _environment(str(self.templates / "web"), language).get_template(
            f"editor/{template}"
        ).render(
            lang=language,
            editor=editor,
            csrf_token=csrf_token(request),
            rtl_languages=RTL_LANGUAGES,
            request_path=request.url.path,
            **context,
        )
        return HTMLResponse(html, status_code=status_code, headers=PRIVATE_HEADERS)

    def gettext(self, request: Request) -> Callable[[str], str]:
        """The ``gettext`` of the editor's interface language, for messages made in Python."""
        editor: Editor | None = getattr(request.state, "editor", None)
        return translations(interface_language(request, editor.language if editor else "")).gettext


# Editor pages are private and never framed by another site.
PRIVATE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "SAMEORIGIN",  # the preview frames are ours
    "X-Content-Type-Options": "nosniff",
}


@functools.lru_cache(maxsize=8)
def _environment(folder: str, language: str) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(folder),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    catalog = translations(language)
    env.install_gettext_translations(catalog, newstyle=True)  # type: ignore[attr-defined]
    # problem(code, params, message): a stored error (a source's last collect error) in the
    # editor's language, else as stored
    env.globals["problem"] = functools.partial(say, gettext=catalog.gettext)
    return env


def csrf_token(request: Request) -> str:
    """The session's CSRF token (made on first use)."""
    if "session" not in request.scope:
        return ""
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return token


async def csrf_ok(request: Request) -> bool:
    expected = request.session.get("csrf") if "session" in request.scope else None
    if not expected:
        return False
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()  # cached on the request: the endpoint reads it again
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    return sent is not None and hmac.compare_digest(sent.encode(), expected.encode())


def login_session(request: Request, editor: Editor) -> None:
    """Open EDITOR's session: a fresh CSRF token, so one seen before login is worth nothing."""
    request.session.clear()
    request.session.update(
        editor=editor.id, stamp=session_stamp(editor), csrf=secrets.token_urlsafe(32)
    )


def editor_route(site: EditorSite) -> Callable[[Endpoint], Endpoint]:
    """Wrap an editor endpoint: login required, CSRF checked on state-changing requests."""

    def wrap(endpoint: Endpoint) -> Endpoint:
        @functools.wraps(endpoint)
        async def guarded(request: Request) -> Response:
            editor = await run_in_threadpool(_session_editor, site, request)
            try:
                if editor is None:
                    if request.method in SAFE_METHODS:
                        target = request.url.path + (
                            f"?{request.url.query}" if request.url.query else ""
                        )
                        return RedirectResponse(f"{LOGIN_PATH}?next={quote(target)}",
                                                status_code=303)
                    return await _refuse(site, request, session_ended=True)
                request.state.editor = editor
                if request.method not in SAFE_METHODS and not await csrf_ok(request):
                    return await _refuse(site, request, session_ended=False)
                return await endpoint(request)
            finally:
                await request.close()  # the form's uploaded files, spooled to disk

        guarded.editor_only = True  # type: ignore[attr-defined]  (the route walk test reads it)
        return guarded

    return wrap


def _session_editor(site: EditorSite, request: Request) -> Editor | None:
    if "session" not in request.scope:
        return None
    editor_id, stamp = request.session.get("editor"), request.session.get("stamp")
    if not isinstance(editor_id, int) or not isinstance(stamp, str):
        return None
    with site.store.session() as session:
        editor = session.get(Editor, editor_id)
        if editor is None or not editor.active or session_stamp(editor) != stamp:
            request.session.clear()
            return None
        session.expunge(editor)
    return editor


async def _refuse(site: EditorSite, request: Request, *, session_ended: bool) -> Response:
    """The 403 of a change refused: the session has ended, or the page the form was on is older
    than the session (its CSRF token is stale: a logout and login in another tab). The page's
    JavaScript gets JSON; a form gets a page that says nothing was changed and leads back to the
    page it was on (through the login for an ended session), with the text it carried."""
    _ = site.gettext(request)
    if "application/json" in request.headers.get("accept", "") or request.headers.get(CSRF_HEADER):
        if session_ended:
            reason = _("Your session has ended. Log in again (copy your text first), then redo "
                       "the change.")
        else:
            reason = _("This page has expired. Reload it (copy your text first), then redo the "
                       "change.")
        return JSONResponse({"error": reason}, status_code=403, headers=PRIVATE_HEADERS)
    page = _form_page(site, request)
    back = page or "/editor"
    return site.render(
        request, "refused.html", status_code=403, session_ended=session_ended,
        from_page=page is not None,
        back=f"{LOGIN_PATH}?next={quote(back)}" if session_ended else back,
        typed=await _typed_text(request, _) if page else [],
    )


def _form_page(site: EditorSite, request: Request) -> str | None:
    """The editor page a form was sent from (path and query), as the browser names it in the
    Referer; None when that is not a page of this site a link can open again (another site's
    page, a forged request's, or the answer to a POST such as an import report)."""
    referer = urlsplit(request.headers.get("referer", ""))
    ours = {request.url.netloc, urlsplit(site.config.web.base_url).netloc}
    path = unquote(referer.path)
    if not referer.netloc or referer.netloc not in ours:
        return None
    if path != "/editor" and not path.startswith("/editor/"):
        return None
    scope = {"type": "http", "method": "GET", "path": path, "root_path": ""}
    if not any(route.matches(scope)[0] is Match.FULL for route in request.app.routes):
        return None
    return safe_next(referer.path + (f"?{referer.query}" if referer.query else ""))


async def _typed_text(request: Request, _: Callable[[str], str]) -> list[tuple[str, str]]:
    """What the editor typed in a refused form, as (label, text): an edition's subject,
    preheader and intro, an article's title and summary. Shown back to be copied."""
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return []
    form = await request.form()
    labels = {"subject": _("Subject"), "preheader": _("Preheader"), "intro": _("Intro"),
              "title": _("Title"), "summary": _("Summary")}
    return [(label, text) for name, label in labels.items()
            if isinstance(text := form.get(name), str) and text.strip()]


def fits_row_id(number: int) -> bool:
    """Whether NUMBER can be a row's id. An ``{id:int}`` of an address can be any number; past
    MAX_ROW_ID it names no row (a 404), and the database would fail on it, not find nothing."""
    return 0 <= number <= MAX_ROW_ID


def safe_next(target: str | None) -> str:
    """Where to go after login: a path of this site only (never //other.example or a URL)."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/editor"
