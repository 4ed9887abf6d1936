"""A fake SendGrid v3 mail-send API on 127.0.0.1 that validates requests like the real one.

    def test_x(fake_sendgrid):
        backend = SendGridBackend(fake_sendgrid.api_key, host=fake_sendgrid.url)
        backend.send_batch(batch)
        payload = fake_sendgrid.accepted[0].payload

``POST /v3/mail/send`` checks the bearer key (401), the JSON body and the v3 rules the
backend relies on: 1 to 1,000 personalizations, each with a ``to`` of valid addresses, no
address twice in one request (case-insensitive), ``from.email``, a subject (top level or in
every personalization), non-empty ``content`` with text/plain before text/html, string values
in custom_args, substitutions and headers, no reserved header, at most 10 categories, ``tracking_settings``
objects with boolean ``enable`` flags, a body
under 30 MB (413). It answers 202 with an ``X-Message-Id``, or 400 with SendGrid's error
shape ``{"errors": [{"message", "field", "help"}]}``. :meth:`fail_next` queues 429/500
answers; :meth:`fail_batch` answers the requests of one batch (by its ``batch_id`` custom arg)
with an error a number of times; :attr:`delay` makes it slow (for timeouts). :attr:`log` keeps
every request's (batch id, status, monotonic time).
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

import pytest

MAX_BYTES = 30 * 1024 * 1024
_EMAIL_RE = re.compile(r"^[^@\s;,<>\"]+@[^@\s;,<>\"]+\.[^@\s;,<>\"]+$")
_RESERVED = {
    "x-sg-id", "x-sg-eid", "received", "dkim-signature", "content-type",
    "content-transfer-encoding", "to", "from", "subject", "reply-to", "cc", "bcc",
}  # fmt: skip


@dataclass
class Accepted:
    payload: dict[str, Any]
    headers: dict[str, str]
    message_id: str


@dataclass
class Canned:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


class _Invalid(Exception):
    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _errors(*items: tuple[str | None, str]) -> dict[str, Any]:
    return {"errors": [{"message": m, "field": f, "help": None} for f, m in items]}


def validate(payload: Any) -> None:
    """Raise _Invalid the way SendGrid's v3 mail send answers 400."""
    if not isinstance(payload, dict):
        raise _Invalid(None, "Bad Request")
    persos = payload.get("personalizations")
    if not isinstance(persos, list) or not persos:
        raise _Invalid(
            "personalizations",
            "The personalizations field is required and must have at least one personalization.",
        )
    if len(persos) > 1000:
        raise _Invalid(
            "personalizations",
            "You may not have more than 1000 personalizations per API request. "
            "You may need to deliver your message in batches.",
        )
    seen: dict[str, str] = {}
    for i, perso in enumerate(persos):
        where = f"personalizations.{i}"
        to = perso.get("to") if isinstance(perso, dict) else None
        if not isinstance(to, list) or not to:
            raise _Invalid(
                f"{where}.to",
                "The to array is required for all personalization objects, and must have at "
                "least one email object with a valid email address.",
            )
        for j, rcpt in enumerate(to):
            address = rcpt.get("email") if isinstance(rcpt, dict) else None
            if not isinstance(address, str) or not _EMAIL_RE.match(address):
                raise _Invalid(f"{where}.to.{j}.email", "Does not contain a valid address.")
            if not isinstance(rcpt.get("name", ""), str):
                raise _Invalid(f"{where}.to.{j}.name", "Invalid type. Expected: string.")
            key = address.lower()
            if key in seen:
                raise _Invalid(
                    f"{where}.to",
                    "Each email address in the personalization block should be unique between "
                    f"to, cc, and bcc. We found the first duplicate instance of [{address}] in "
                    f"the {where}.to field.",
                )
            seen[key] = where
        for part in ("custom_args", "substitutions", "headers"):
            values = perso.get(part, {})
            if not isinstance(values, dict):
                raise _Invalid(f"{where}.{part}", "Invalid type. Expected: object.")
            for name, value in values.items():
                if not isinstance(value, str):
                    raise _Invalid(
                        f"{where}.{part}",
                        f"Invalid type. Expected: string, given: {type(value).__name__}.",
                    )
                if part == "headers" and name.lower() in _RESERVED:
                    raise _Invalid(f"{where}.headers", f"The header {name} is reserved.")
        if len(json.dumps(perso.get("substitutions", {})).encode()) > 10000:
            raise _Invalid(f"{where}.substitutions", "Substitutions may not exceed 10000 bytes.")
    sender = payload.get("from")
    if not isinstance(sender, dict) or not _EMAIL_RE.match(str(sender.get("email", ""))):
        raise _Invalid(
            "from.email",
            "The from object must be provided for every email send. It is an object that "
            "requires an email parameter, but may also contain a name parameter.",
        )
    reply_to = payload.get("reply_to")
    if reply_to is not None and not _EMAIL_RE.match(str(reply_to.get("email", ""))):
        raise _Invalid("reply_to.email", "Does not contain a valid address.")
    subject = payload.get("subject")
    if not (isinstance(subject, str) and subject) and not all(
        isinstance(p.get("subject"), str) and p["subject"] for p in persos
    ):
        raise _Invalid(
            "subject",
            "The subject is required. You can get around this requirement if you use a "
            "template with a subject defined or if every personalization has a subject defined.",
        )
    content = payload.get("content")
    if not isinstance(content, list) or not content:
        raise _Invalid(
            "content",
            "Unless a valid template_id is provided, the content parameter is required. There "
            "must be at least one defined content block.",
        )
    types = []
    for k, block in enumerate(content):
        if (
            not isinstance(block, dict)
            or not isinstance(block.get("value"), str)
            or not block["value"]
        ):
            raise _Invalid(
                f"content.{k}.value",
                "The content value must be a string at least one character in length.",
            )
        types.append(block.get("type"))
    if (
        "text/plain" in types
        and "text/html" in types
        and types.index("text/html") < types.index("text/plain")
    ):
        raise _Invalid(
            "content",
            "If present, text/plain and text/html may only be provided in the following order: "
            "text/plain, text/html.",
        )
    for name, value in (payload.get("headers") or {}).items():
        if not isinstance(value, str):
            raise _Invalid("headers", "Invalid type. Expected: string.")
        if name.lower() in _RESERVED:
            raise _Invalid("headers", f"The header {name} is reserved.")
    tracking = payload.get("tracking_settings", {})
    if not isinstance(tracking, dict):
        raise _Invalid("tracking_settings", "Invalid type. Expected: object.")
    for name, setting in tracking.items():
        where = f"tracking_settings.{name}"
        if not isinstance(setting, dict):
            raise _Invalid(where, "Invalid type. Expected: object.")
        for key, value in setting.items():
            expected = bool if key.startswith("enable") else str
            if not isinstance(value, expected):
                raise _Invalid(
                    f"{where}.{key}", f"Invalid type. Expected: {expected.__name__}, given: "
                    f"{type(value).__name__}.",
                )
    categories = payload.get("categories", [])
    if len(categories) > 10 or any(not isinstance(c, str) or len(c) > 255 for c in categories):
        raise _Invalid(
            "categories",
            "You may not have more than 10 categories per request, "
            "each a string of at most 255 characters.",
        )


class FakeSendGrid:
    def __init__(self, api_key: str = "SG.test-key-never-shown.abcdefghijklmnop") -> None:
        self.api_key = api_key
        self.accepted: list[Accepted] = []
        self.rejected: list[tuple[int, dict[str, Any]]] = []
        self.requests = 0
        self.delay = 0.0
        self.log: list[tuple[int | None, int, float]] = []  # (batch id, status, time.monotonic())
        self._canned: list[Canned] = []
        self._by_batch: dict[int, list[Any]] = {}  # batch id -> [Canned, times left or None]
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                fake._handle(self)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def fail_next(
        self, status: int, message: str = "", headers: dict[str, str] | None = None
    ) -> None:
        """Answer the next request with STATUS (429, 500, 413...) and a SendGrid-shaped body."""
        message = message or ("too many requests" if status == 429 else "internal server error")
        self._canned.append(Canned(status, _errors((None, message)), headers or {}))

    def fail_batch(
        self, batch_id: int, status: int, message: str = "", *, times: int | None = 1,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer the next TIMES requests of batch BATCH_ID (None: all of them) with STATUS."""
        message = message or ("too many requests" if status == 429 else "internal server error")
        self._by_batch[batch_id] = [Canned(status, _errors((None, message)), headers or {}), times]

    def clear_faults(self) -> None:
        """Answer normally again (SendGrid is back)."""
        with self._lock:
            self._canned.clear()
            self._by_batch.clear()

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        with self._lock:
            self.requests += 1
        if self.delay:
            time.sleep(self.delay)
        if handler.path != "/v3/mail/send":
            return self._reply(handler, 404, _errors((None, "not found")))
        length = int(handler.headers.get("Content-Length") or 0)
        if length >= MAX_BYTES:
            handler.close_connection = True
            return self._reply(handler, 413, _errors((None, "Payload Too Large")))
        body = handler.rfile.read(length)
        auth = handler.headers.get("Authorization", "")
        if not auth:
            return self._reply(handler, 401, _errors((None, "authorization required")))
        if auth != f"Bearer {self.api_key}":
            return self._reply(
                handler,
                401,
                _errors((None, "The provided authorization grant is invalid, expired, or revoked")),
            )
        try:
            payload = json.loads(body)
        except ValueError:
            payload = None
        batch_id = _batch_id(payload)
        if self._canned:
            canned = self._canned.pop(0)
            return self._reply(handler, canned.status, canned.body, canned.headers, batch_id)
        with self._lock:
            fault = self._by_batch.get(batch_id) if batch_id is not None else None
            if fault is not None and fault[1] is not None:
                fault[1] -= 1
                if fault[1] <= 0:
                    del self._by_batch[batch_id]
        if fault is not None:
            canned = fault[0]
            return self._reply(handler, canned.status, canned.body, canned.headers, batch_id)
        if payload is None:
            return self._reply(handler, 400, _errors((None, "Bad Request")), None, batch_id)
        try:
            validate(payload)
        except _Invalid as exc:
            return self._reply(handler, 400, _errors((exc.field, exc.message)), None, batch_id)
        message_id = secrets.token_urlsafe(16)
        self.accepted.append(Accepted(payload, dict(handler.headers.items()), message_id))
        self._reply(handler, 202, None, {"X-Message-Id": message_id}, batch_id)

    def _reply(
        self,
        handler: BaseHTTPRequestHandler,
        status: int,
        body: dict[str, Any] | None,
        headers: dict[str, str] | None = None,
        batch_id: int | None = None,
    ) -> None:
        if status >= 400 and body is not None:
            self.rejected.append((status, body))
        self.log.append((batch_id, status, time.monotonic()))
        data = json.dumps(body).encode() if body is not None else b""
        try:
            handler.send_response(status)
            for name, value in (headers or {}).items():
                handler.send_header(name, value)
            if data:
                handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout tests)


def _batch_id(payload: Any) -> int | None:
    """The ``batch_id`` custom arg of a request's first personalization, if it has one."""
    try:
        return int(payload["personalizations"][0]["custom_args"]["batch_id"])
    except (ValueError, KeyError, IndexError, TypeError):
        return None


@pytest.fixture
def fake_sendgrid() -> Iterator[FakeSendGrid]:
    """A running :class:`FakeSendGrid`, stopped after the test."""
    with FakeSendGrid() as server:
        yield server
