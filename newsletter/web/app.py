"""The Starlette application: public consent pages and the SendGrid event webhook.

    GET  /subscribe?list=SLUG        sign-up form in the list's language
    POST /subscribe                  form or JSON {email, list, name, language}: pending + mail
    GET  /confirm/<token>            double opt-in: activates the membership
    GET  /unsubscribe                the link of a copy addressed to nobody: says where to go
    GET  /unsubscribe/<token>        one confirm button; changes nothing (scanners follow links)
    POST /unsubscribe/<token>        the form (optionally every list), or RFC 8058 one-click
    POST /webhooks/sendgrid          signed Event Webhook batches
    GET  /healthz                    {database: ok|error, daemon_heartbeat_age_s}: 200, or 503
    GET  /archive[/<slug>[/<date>]]  the public archive of sent editions (newsletter.web.archive)
    GET  /static/...                 the editor pages' CSS and JavaScript (templates/web/static)
    /editor/...                      the editors' pages, each behind a login (newsletter.web.editor)

Library errors become pages (or JSON for JSON requests); nothing here decides consent.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import logging
import os
import re
import time
from collections.abc import Callable
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from sendgrid.helpers.eventwebhook import EventWebhook
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from newsletter.audience import consent, events
from newsletter.audience.lists import ListConfig, load_lists
from newsletter.audience.members import normalise_email
from newsletter.config import Config
from newsletter.deliver.message import MailBackend
from newsletter.errors import InputError, NewsletterError
from newsletter.store.db import Store
from newsletter.store.models import MailingList
from newsletter.tokens import (
    derive_key,
    make_unsubscribe_token,
    read_unsubscribe_token,
    secret_key,
    unsubscribe_url,
)
from newsletter.web.archive import archive_routes
from newsletter.web.editor import EditorSite, editor_routes
from newsletter.web.editor.base import SESSION_MAX_AGE
from newsletter.web.mail import send_confirmation
from newsletter.web.pages import language_of, render_page, request_language, text
from newsletter.web.throttle import Throttle

log = logging.getLogger(__name__)

ENV_WEBHOOK_KEY = "NEWSLETTER_SENDGRID_WEBHOOK_KEY"
SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
WEBHOOK_MAX_AGE = 600  # seconds between SendGrid's timestamp and now, either way
WEBHOOK_MAX_BYTES = 10_000_000
FORM_MAX_BYTES = 20_000
ONE_CLICK = b"List-Unsubscribe=One-Click"  # RFC 8058 section 3.2, the whole body
# Sign-ups: per address, then per client address (in memory, per process).
ADDRESS_LIMIT, ADDRESS_WINDOW = 3, 3600.0
CLIENT_LIMIT, CLIENT_WINDOW = 10, 600.0
_LANGUAGE_RE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})?$")


class _TooLarge(Exception):
    pass


async def _read_body(request: Request, limit: int) -> bytes:
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


@functools.lru_cache(maxsize=4)
def _verifier(key: str) -> EventWebhook:
    return EventWebhook(key)


def verify_sendgrid_signature(
    key: str, body: bytes, signature: str, timestamp: str, now: float
) -> str | None:
    """None when BODY is signed by KEY's owner at a fresh TIMESTAMP, else why not."""
    if not signature or not timestamp:
        return "missing signature or timestamp header"
    try:
        stamp = int(timestamp)
    except ValueError:
        return "timestamp is not a number"
    if abs(now - stamp) > WEBHOOK_MAX_AGE:
        return "stale timestamp"
    try:
        verifier = _verifier(key)
    except (ValueError, UnsupportedAlgorithm, binascii.Error) as exc:
        log.error("%s is not a usable public key: %s", ENV_WEBHOOK_KEY, exc)
        return "webhook key unusable"
    try:
        base64.b64decode(signature, validate=True)
        ok = verifier.verify_signature(body.decode("utf-8"), signature, timestamp)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return "malformed signature or body"
    return None if ok else "bad signature"


def create_app(
    config: Config,
    store: Store,
    *,
    backend: MailBackend | None = None,
    secret: str | None = None,
    clock: Callable[[], float] = time.time,
) -> Starlette:
    """The web app over STORE. BACKEND sends confirmation mail (default: ``make_backend``)."""
    secret = secret or secret_key()
    templates = config.folder(config.paths.templates)
    lists: dict[str, ListConfig] = {
        lst.slug: lst
        for lst in load_lists(config.folder(config.paths.subscribers) / "lists.toml")
    }
    base_url = config.web.base_url
    by_address = Throttle(ADDRESS_LIMIT, ADDRESS_WINDOW)
    by_client = Throttle(CLIENT_LIMIT, CLIENT_WINDOW)
    mailer: list[MailBackend] = [backend] if backend is not None else []

    def get_backend() -> MailBackend:
        if not mailer:
            from newsletter.deliver import make_backend

            mailer.append(make_backend(config))
        return mailer[0]

    def client_hash(request: Request) -> str | None:
        host = request.client.host if request.client else ""
        return consent.client_hash(secret, host) if host else None

    def page(name: str, language: str, status_code: int = 200, **context: Any) -> Response:
        return render_page(templates, name, language, status_code, **context)

    def message(language: str, title: str, body: str, status_code: int = 200, *,
                link: tuple[str, str] | None = None) -> Response:
        """A page that says BODY; LINK, (href, text), is where to go next."""
        return page("message.html", language, status_code, title=title, message=body,
                    error=status_code >= 400, link=link)

    def bad_link(language: str, status_code: int = 400) -> Response:
        return message(language, text("bad_link_title", language), text("bad_link", language),
                       status_code)

    # -- unsubscribe ---------------------------------------------------------------------

    def _list_row(slug: str) -> MailingList | None:
        with store.session() as session:
            return session.scalar(
                select(MailingList).where(MailingList.slug == slug)
            )

    async def unsubscribe_page(request: Request) -> Response:
        token = request.path_params["token"]
        try:
            _, slug = read_unsubscribe_token(secret, token)
        except InputError:
            return bad_link(request_language(request))
        row = await run_in_threadpool(_list_row, slug)
        if row is None:
            language = request_language(request)
            return message(language, text("bad_link_title", language), text("no_list", language), 404)
        language = language_of(row.language)
        return page("unsubscribe.html", language, title=text("unsubscribe_title", language),
                    list_name=row.name, action=f"/unsubscribe/{token}")

    async def unsubscribe_copy(request: Request) -> Response:
        """The unsubscribe link of a copy addressed to nobody (deliver.send's sample): what to do."""
        language = request_language(request)
        return message(language, text("unsubscribe_title", language),
                       text("unsubscribe_copy", language))

    async def unsubscribe_post(request: Request) -> Response:
        token = request.path_params["token"]
        try:
            body = await _read_body(request, FORM_MAX_BYTES)
        except _TooLarge:
            return PlainTextResponse("request body too large", 413)
        try:
            subscriber_id, slug = read_unsubscribe_token(secret, token)
        except InputError:
            return bad_link(request_language(request))
        one_click = body.strip() == ONE_CLICK
        fields: dict[str, str] = {}
        if not one_click:
            fields = await _form_fields(request, body)
            one_click = fields.get("List-Unsubscribe") == "One-Click"
        if not one_click and fields.get("confirm") != "1":
            return bad_link(request_language(request))
        all_lists = not one_click and fields.get("all") == "1"
        origin = "one-click" if one_click else "form"

        def work() -> consent.Unsubscribed | None:
            with store.session() as session:
                try:
                    return consent.unsubscribe(
                        session, subscriber_id, slug, all_lists=all_lists, origin=origin,
                        client_ip_hash=client_hash(request),
                    )
                except InputError:
                    return None

        done = await run_in_threadpool(work)
        if done is None:
            language = request_language(request)
            return message(language, text("bad_link_title", language), text("no_list", language), 404)
        language = language_of(done.mailing_list.language)
        title = text("unsubscribe_title", language)
        if all_lists:
            return message(language, title, text("unsubscribed_all", language))
        return message(language, title, text("unsubscribed", language, list=done.mailing_list.name))

    # -- subscribe and confirm -------------------------------------------------------------

    async def subscribe_page(request: Request) -> Response:
        slug = request.query_params.get("list", "")
        if not slug:  # no list named: the archive shows each one with its sign-up link
            return RedirectResponse("/archive", status_code=303)
        lst = lists.get(slug)
        if lst is None:
            language = request_language(request)
            return message(language, text("error_title", language), text("no_list", language), 404)
        language = language_of(lst.language)
        return page("subscribe.html", language, title=text("subscribe_title", language),
                    list=lst, error="", invalid="", email="", reader_name="")

    async def subscribe(request: Request) -> Response:
        if request.method == "OPTIONS":  # not a CORS preflight from an allowed site
            return PlainTextResponse("method not allowed", 405, headers={"Allow": "GET, POST"})
        wants_json = request.headers.get("content-type", "").startswith("application/json")
        try:
            body = await _read_body(request, FORM_MAX_BYTES)
        except _TooLarge:
            return PlainTextResponse("request body too large", 413)
        if wants_json:
            try:
                data = json.loads(body)
            except ValueError:
                data = None
            if not isinstance(data, dict):
                return JSONResponse({"error": "expected a JSON object"}, 400)
            fields = {k: v for k, v in data.items() if isinstance(v, str)}
        else:
            fields = await _form_fields(request, body)
        lst = lists.get(fields.get("list", ""))
        language = language_of(lst.language) if lst else request_language(request)

        def answer(key: str, status_code: int, field: str = "") -> Response:
            if wants_json:
                payload = {"status": "ok"} if status_code < 400 else {"error": text(key, language)}
                if field:
                    payload["field"] = field
                if status_code < 400:
                    payload["message"] = text(key, language)
                return JSONResponse(payload, status_code)
            title = text("subscribe_title", language)
            if status_code == 400 and lst is not None:
                # The form again, as the reader filled it (escaped by the template), and the
                # field at fault marked for screen readers.
                return page("subscribe.html", language, 400, title=title, list=lst,
                            error=text(key, language), invalid=field,
                            email=fields.get("email", "")[:320],
                            reader_name=fields.get("name", "")[:200])
            return message(language, title, text(key, language), status_code)

        if lst is None:
            return answer("no_list", 404, "list")
        try:
            email = normalise_email(fields.get("email", "")[:320])
        except InputError:
            return answer("bad_email", 400, "email")
        name = " ".join(fields.get("name", "").split())[:200]
        reader_language = fields.get("language", "").strip().lower()
        if not _LANGUAGE_RE.match(reader_language):
            reader_language = ""
        host = request.client.host if request.client else ""
        if not by_client.allow(host):
            return answer("too_many", 429)
        if not by_address.allow(email.lower()):
            # Same answer as a sent mail: a refusal would tell that the address was just used.
            return answer("check_mailbox", 202 if wants_json else 200)
        ip_hash = client_hash(request)

        def work() -> None:
            with store.session() as session:
                row = session.scalar(
                    select(MailingList).where(MailingList.slug == lst.slug)
                )
                if row is None:  # declared but never synced: create it now
                    from newsletter.audience.lists import sync_lists

                    row = sync_lists(session, [lst])[lst.slug]
                subscriber = consent.request_subscription(
                    session, row, email, name=name, language=reader_language,
                    client_ip_hash=ip_hash, secret=secret,
                )
                if subscriber is None:
                    return
                sid = subscriber.id  # the session keeps loaded values after commit
                issued = int(clock() * 1000)
            token = consent.make_confirm_token(secret, sid, lst.slug, issued)
            try:
                send_confirmation(
                    get_backend(), base_url, templates, lst, language_of(lst.language),
                    subscriber, f"{base_url.rstrip('/')}/confirm/{token}",
                    unsubscribe_url(base_url, make_unsubscribe_token(secret, sid, lst.slug)),
                )
            except NewsletterError as exc:
                # The reader gets the usual answer (anything else would tell the address's
                # state); the newsroom gets the reason in the log.
                log.error("confirmation mail to subscriber %s of %s not sent: %s",
                          sid, lst.slug, exc)

        await run_in_threadpool(work)
        return answer("check_mailbox", 202 if wants_json else 200)

    async def confirm_page(request: Request) -> Response:
        token = request.path_params["token"]
        try:
            subscriber_id, slug, issued = consent.read_confirm_token(secret, token, now=clock())
        except consent.ExpiredTokenError:
            language = request_language(request)
            return message(language, text("expired_title", language), text("expired", language), 410)
        except InputError:
            return bad_link(request_language(request))
        ip_hash = client_hash(request)

        def work() -> tuple[str, str, str] | None:
            with store.session() as session:
                membership = consent.confirm(
                    session, subscriber_id, slug, issued, client_ip_hash=ip_hash
                )
                if membership is None:
                    return None
                return (membership.status, membership.mailing_list.name,
                        membership.mailing_list.language, membership.mailing_list.slug)

        done = await run_in_threadpool(work)
        if done is None:
            return bad_link(request_language(request))
        status, list_name, list_language, list_slug = done
        language = language_of(list_language)
        if status != "active":
            return message(language, text("error_title", language),
                           text("not_confirmed", language), 409)
        return message(language, text("confirmed_title", language),
                       text("confirmed", language, list=list_name),
                       link=(f"/archive/{list_slug}", text("confirmed_archive", language)))

    # -- provider events -------------------------------------------------------------------

    async def sendgrid_webhook(request: Request) -> Response:
        key = os.environ.get(ENV_WEBHOOK_KEY, "").strip()
        if not key:
            # 5xx: SendGrid keeps the events and retries once the key is set.
            log.error("set %s (the Event Webhook verification key) to accept events",
                      ENV_WEBHOOK_KEY)
            return JSONResponse({"error": "webhook not configured"}, 503)
        try:
            body = await _read_body(request, WEBHOOK_MAX_BYTES)
        except _TooLarge:
            return JSONResponse({"error": "request body too large"}, 413)
        refused = verify_sendgrid_signature(
            key, body, request.headers.get(SIGNATURE_HEADER, ""),
            request.headers.get(TIMESTAMP_HEADER, ""), clock(),
        )
        if refused:
            log.warning("SendGrid webhook refused: %s", refused)
            return JSONResponse({"error": refused}, 403)
        try:
            batch = events.parse_events(body)
        except InputError as exc:
            return JSONResponse({"error": str(exc)}, 400)

        def work() -> tuple[events.EventReport, list[tuple[int, int]]]:
            from newsletter.deliver.send import confirm_sent

            with store.session() as session:
                report = events.record_events(session, batch)
                session.commit()
                return report, confirm_sent(session, report.batches)

        report, confirmed = await run_in_threadpool(work)
        return JSONResponse({
            "received": report.received, "new": report.new, "duplicates": report.duplicates,
            "changed": report.changed, "ignored": report.ignored,
            "batches_confirmed": len(confirmed),
        })

    async def not_found(request: Request, exc: Exception) -> Response:
        language = request_language(request)
        status_code = exc.status_code if isinstance(exc, HTTPException) else 500
        key = "not_found" if status_code == 404 else "error_title"
        return message(language, text("error_title", language), text(key, language), status_code)

    # -- health ----------------------------------------------------------------------------

    def database_reachable() -> bool:
        from sqlalchemy import text as sql
        from sqlalchemy.exc import SQLAlchemyError

        try:
            with store.engine.connect() as conn:
                conn.execute(sql("SELECT 1"))
        except SQLAlchemyError as exc:
            log.warning("healthz: database unreachable: %s", str(exc).splitlines()[0])
            return False
        return True

    async def healthz(request: Request) -> Response:
        from datetime import UTC, datetime

        from newsletter.report import heartbeat_age, heartbeat_path

        ok = await run_in_threadpool(database_reachable)
        age = heartbeat_age(heartbeat_path(config), datetime.fromtimestamp(clock(), UTC))
        body = {"database": "ok" if ok else "error",
                "daemon_heartbeat_age_s": None if age is None else round(age, 1)}
        return JSONResponse(body, status_code=200 if ok else 503)

    signup_cors = Middleware(
        CORSMiddleware, allow_origins=[o.rstrip("/") for o in config.web.signup_origins],
        allow_methods=["POST"], allow_headers=["Content-Type"], max_age=3600,
    )
    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/subscribe", subscribe_page, methods=["GET"]),
        # Other sites' pages may post it from JavaScript: CORS for web.signup_origins only.
        Route("/subscribe", subscribe, methods=["POST", "OPTIONS"], middleware=[signup_cors]),
        Route("/confirm/{token}", confirm_page, methods=["GET"]),
        Route("/unsubscribe", unsubscribe_copy, methods=["GET"]),
        Route("/unsubscribe/{token}", unsubscribe_page, methods=["GET"]),
        Route("/unsubscribe/{token}", unsubscribe_post, methods=["POST"]),
        Route("/webhooks/sendgrid", sendgrid_webhook, methods=["POST"]),
        *archive_routes(config, store),
    ]
    site = EditorSite(config, store, lists, get_backend, clock)
    routes += [
        *editor_routes(site),
        Mount("/static", StaticFiles(directory=templates / "web" / "static"), name="static"),
    ]
    session_cookie = Middleware(
        SessionMiddleware,
        secret_key=derive_key(secret, "editor-session"),
        session_cookie="newsletter_session",
        max_age=SESSION_MAX_AGE,
        same_site="lax",
        https_only=base_url.startswith("https://"),
    )
    app = Starlette(routes=routes, middleware=[session_cookie],
                    exception_handlers={404: not_found, 405: not_found})
    app.state.config, app.state.store = config, store
    return app


async def _form_fields(request: Request, body: bytes) -> dict[str, str]:
    """The string fields of a urlencoded or multipart form (the body was already read)."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/x-www-form-urlencoded") or not content_type:
        from urllib.parse import parse_qsl

        try:
            return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            return {}
    if content_type.startswith("multipart/form-data"):
        from starlette.datastructures import Headers
        from starlette.formparsers import MultiPartException, MultiPartParser

        async def stream():  # type: ignore[no-untyped-def]
            yield body

        try:
            form = await MultiPartParser(Headers(scope=request.scope), stream()).parse()
        except MultiPartException:  # a malformed body is simply not a form we know
            return {}
        return {k: v for k, v in form.items() if isinstance(v, str)}
    return {}
