"""A real HTTP server on 127.0.0.1 for tests: register routes, point the code at ``server.url()``.

    def test_x(http_server):
        http_server.route("/feed", Reply(body=b"<rss/>", headers={"ETag": '"v1"'}))
        http_server.route("/slow", lambda request: Reply(body=b"late", delay=2))
        fetch(http_server.url("/feed"))
        assert http_server.requests[-1].headers["User-Agent"].startswith("newsletter/")

A route is a :class:`Reply` or a function of the :class:`Request` returning one. Replies can
be delayed, streamed in chunks without a Content-Length, or lie about their length.
Use it as a context manager (``with LocalServer() as server:``), or declare the
``http_server`` fixture below in a test module or conftest.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class Request:
    method: str
    path: str  # with the query string
    headers: dict[str, str]


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering
    chunks: list[bytes] | None = None  # sent one by one, chunked, without Content-Length
    content_length: int | None = None  # announce this length instead of len(body)


Route = Reply | Callable[[Request], Reply]


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        # a client that gave up (timeout, size limit) resets the connection: expected here
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class LocalServer:
    """A threaded ``http.server`` on a free port of 127.0.0.1."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[Request] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                server._answer(self)

            def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
                pass

        self._httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def base(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str = "/") -> str:
        return self.base + path

    def route(self, path: str, reply: Route) -> str:
        """Answer GET PATH (query string ignored) with REPLY; returns the route's URL."""
        self.routes[path] = reply
        return self.url(path)

    def start(self) -> LocalServer:
        self._thread.start()
        return self

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        request = Request("GET", handler.path, dict(handler.headers.items()))
        self.requests.append(request)
        route = self.routes.get(handler.path.split("?", 1)[0])
        if route is None:
            reply = Reply(404, b"not found")
        else:
            reply = route(request) if callable(route) else route
        if reply.delay:
            time.sleep(reply.delay)
        try:
            handler.send_response(reply.status)
            for name, value in reply.headers.items():
                handler.send_header(name, value)
            if reply.chunks is not None:
                handler.send_header("Transfer-Encoding", "chunked")
                handler.end_headers()
                for chunk in reply.chunks:
                    handler.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                handler.wfile.write(b"0\r\n\r\n")
                return
            length = reply.content_length if reply.content_length is not None else len(reply.body)
            handler.send_header("Content-Length", str(length))
            handler.end_headers()
            if reply.status != 304:
                handler.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up first (timeouts, size limits): that is the point of the test


@pytest.fixture
def http_server() -> Iterator[LocalServer]:
    """A running :class:`LocalServer`, stopped after the test."""
    with LocalServer() as server:
        yield server
