"""A fake OpenAI-compatible chat-completions endpoint on 127.0.0.1, scriptable per test.

    def test_x(fake_llm):
        fake_llm.reply = Answer("Le gouvernement a relevé le salaire minimum.")
        fake_llm.queue(Answer(status=500), Answer(status=429, headers={"Retry-After": "1"}))
        with LLMSummarizer(fake_llm.base_url, "test-model") as llm:
            llm.summarize(text, language="fr")
        body = fake_llm.requests[-1].body  # the JSON the client sent

``POST /v1/chat/completions`` checks the request like the real APIs (JSON object, a string
``model``, a non-empty list of ``messages`` with a role and string content; the bearer key
when :attr:`api_key` is set) and answers 400/401/404 with OpenAI's error shape
``{"error": {"message", "type", "param", "code"}}``. Otherwise it answers the next queued
:class:`Answer`, else :attr:`reply` (an Answer, or a function of the :class:`Call`
returning one), wrapped in a ``chat.completion`` body. An Answer can carry a status, a delay
(for timeouts), raw bytes (malformed JSON) or any JSON body (missing choices).
:attr:`max_in_flight` is the most requests it was answering at once.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

import pytest

PATH = "/v1/chat/completions"


@dataclass
class Call:
    """One request the fake received."""

    path: str
    headers: dict[str, str]
    body: Any  # the parsed JSON, or None when it was not JSON

    @property
    def system(self) -> str:
        return self.body["messages"][0]["content"]

    @property
    def user(self) -> str:
        return self.body["messages"][-1]["content"]


@dataclass
class Answer:
    content: str | None = "Résumé par défaut du faux modèle."
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering
    finish_reason: str = "stop"
    raw: bytes | None = None  # sent as is instead of a JSON body
    body: Any = None  # sent as JSON instead of the chat.completion wrapping CONTENT


Reply = Answer | Callable[[Call], Answer]


def error_body(message: str, type_: str = "invalid_request_error", code: str | None = None) -> Any:
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client that gave up
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class FakeLLM:
    def __init__(self, api_key: str = "") -> None:
        self.api_key = api_key  # when set, requests must carry "Authorization: Bearer <key>"
        self.reply: Reply = Answer()
        self.calls: list[Call] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._queued: list[Answer] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                fake._handle(self)

            def do_GET(self) -> None:
                fake._send(self, 405, error_body("Method Not Allowed"))

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def base_url(self) -> str:
        """What summarize.llm_base_url would hold: ``http://127.0.0.1:<port>/v1``."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    @property
    def requests(self) -> list[Call]:
        return self.calls

    def queue(self, *answers: Answer) -> None:
        """Answer the next requests with ANSWERS, in order, before going back to :attr:`reply`."""
        with self._lock:
            self._queued.extend(answers)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stopping.set()  # cut delays short
        self._httpd.shutdown()
        self._httpd.server_close()

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            self._answer(handler)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length)
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        call = Call(handler.path, dict(handler.headers.items()), body)
        with self._lock:
            self.calls.append(call)
        if handler.path != PATH:
            return self._send(handler, 404, error_body(f"Unknown request URL: POST {handler.path}"))
        if self.api_key and handler.headers.get("Authorization") != f"Bearer {self.api_key}":
            return self._send(
                handler,
                401,
                error_body("Incorrect API key provided.", "invalid_api_key", "invalid_api_key"),
            )
        problem = _invalid(body)
        if problem:
            return self._send(handler, 400, error_body(problem))
        with self._lock:
            queued = self._queued.pop(0) if self._queued else None
        answer = queued or (self.reply(call) if callable(self.reply) else self.reply)
        if answer.delay:
            self._stopping.wait(answer.delay)
        if answer.raw is not None:
            return self._send(handler, answer.status, answer.raw, answer.headers)
        if answer.body is not None or answer.status != 200:
            payload = (
                answer.body
                if answer.body is not None
                else error_body(f"fake failure {answer.status}", "server_error")
            )
            return self._send(handler, answer.status, payload, answer.headers)
        completion = {
            "id": f"chatcmpl-{len(self.calls)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": answer.content},
                    "finish_reason": answer.finish_reason,
                }
            ],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }
        self._send(handler, 200, completion, answer.headers)

    def _send(
        self,
        handler: BaseHTTPRequestHandler,
        status: int,
        body: Any,
        headers: dict[str, str] | None = None,
    ) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            for name, value in (headers or {}).items():
                handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up first (timeout tests)


def _invalid(body: Any) -> str:
    """What the real APIs would answer 400 for, or ''."""
    if not isinstance(body, dict):
        return "We could not parse the JSON body of your request."
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "you must provide a model parameter"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "'messages' must be a non-empty array"
    for i, message in enumerate(messages):
        if (
            not isinstance(message, dict)
            or message.get("role") not in ("system", "user", "assistant")
            or not isinstance(message.get("content"), str)
        ):
            return f"Invalid value for 'messages[{i}]'"
    if "max_tokens" in body and (not isinstance(body["max_tokens"], int) or body["max_tokens"] < 1):
        return "max_tokens must be a positive integer"
    return ""


@pytest.fixture
def fake_llm() -> Iterator[FakeLLM]:
    """A running :class:`FakeLLM` (no key required), stopped after the test."""
    with FakeLLM() as server:
        yield server
