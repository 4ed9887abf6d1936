"""The fetcher against a real HTTP server on 127.0.0.1: conditional GET, redirects, limits."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest

import newsletter
from newsletter.collect.http import Fetcher
from newsletter.errors import FetchError

from .support.httpserver import LocalServer, Reply, Request


@pytest.fixture
def http_server() -> Iterator[LocalServer]:
    with LocalServer() as server:
        yield server


FEED = b"<?xml version='1.0'?><rss version='2.0'><channel><title>T</title></channel></rss>"
ETAG = '"v1"'
LAST_MODIFIED = "Wed, 28 May 2025 08:00:00 GMT"


def conditional(request: Request) -> Reply:
    headers = {
        "ETag": ETAG,
        "Last-Modified": LAST_MODIFIED,
        "Content-Type": "application/rss+xml; charset=utf-8",
    }
    if request.headers.get("If-None-Match") == ETAG:
        return Reply(304, headers=headers)
    if request.headers.get("If-Modified-Since") == LAST_MODIFIED:
        return Reply(304, headers=headers)
    return Reply(200, FEED, headers)


def test_fetch_returns_body_and_validators(http_server: LocalServer) -> None:
    url = http_server.route("/feed", conditional)
    with Fetcher(timeout=5) as fetcher:
        result = fetcher.fetch(url)
    assert result.status == 200 and not result.not_modified
    assert result.content == FEED and result.url == url
    assert result.etag == ETAG and result.last_modified == LAST_MODIFIED
    assert result.content_type == "application/rss+xml" and result.encoding == "utf-8"
    assert result.text().startswith("<?xml")


@pytest.mark.parametrize(
    "validators", [{"etag": ETAG}, {"last_modified": LAST_MODIFIED}], ids=["etag", "last-modified"]
)
def test_conditional_get_answered_304(http_server: LocalServer, validators: dict[str, str]) -> None:
    url = http_server.route("/feed", conditional)
    with Fetcher(timeout=5) as fetcher:
        result = fetcher.fetch(url, **validators)
    assert result.not_modified and result.status == 304 and result.content == b""
    sent = http_server.requests[-1].headers
    if "etag" in validators:
        assert sent["If-None-Match"] == ETAG
    else:
        assert sent["If-Modified-Since"] == LAST_MODIFIED


def test_redirects_followed_and_final_url_reported(http_server: LocalServer) -> None:
    final = http_server.route("/new/feed", Reply(200, FEED))
    http_server.route("/old", Reply(301, headers={"Location": "/moved"}))
    http_server.route("/moved", Reply(302, headers={"Location": final}))
    with Fetcher(timeout=5) as fetcher:
        result = fetcher.fetch(http_server.url("/old"))
    assert result.url == final and result.content == FEED


def test_redirect_loop_is_a_fetch_error(http_server: LocalServer) -> None:
    url = http_server.route("/loop", Reply(302, headers={"Location": "/loop"}))
    with Fetcher(timeout=5) as fetcher, pytest.raises(FetchError, match="redirects"):
        fetcher.fetch(url)


@pytest.mark.parametrize(
    ("status", "words"),
    [
        (500, "HTTP 500 Internal Server Error (the server failed; it will be retried"),
        (404, "HTTP 404 Not Found"),
        (403, "Forbidden"),
    ],
)
def test_http_errors(http_server: LocalServer, status: int, words: str) -> None:
    url = http_server.route("/feed", Reply(status, b"oops"))
    with Fetcher(timeout=5) as fetcher, pytest.raises(FetchError) as caught:
        fetcher.fetch(url)
    assert str(caught.value).startswith(f"{url}: ")
    assert words in str(caught.value)


def test_timeout(http_server: LocalServer) -> None:
    url = http_server.route("/slow", Reply(200, FEED, delay=1.5))
    with Fetcher(timeout=0.3) as fetcher, pytest.raises(FetchError) as caught:
        fetcher.fetch(url)
    assert str(caught.value).startswith(f"{url}: timed out after 0.3 s")


def test_oversized_body_with_content_length(http_server: LocalServer) -> None:
    url = http_server.route("/big", Reply(200, b"x" * 10_000))
    with Fetcher(timeout=5, max_bytes=2048) as fetcher, pytest.raises(FetchError) as caught:
        fetcher.fetch(url)
    assert "larger than 2,048 bytes" in str(caught.value)
    assert "collect.max_bytes" in str(caught.value)


def test_oversized_body_without_content_length(http_server: LocalServer) -> None:
    url = http_server.route("/big", Reply(200, chunks=[b"x" * 1000] * 10))
    with (
        Fetcher(timeout=5, max_bytes=2048) as fetcher,
        pytest.raises(FetchError, match="larger than 2,048"),
    ):
        fetcher.fetch(url)


def test_chunked_body_under_the_limit_is_read_whole(http_server: LocalServer) -> None:
    url = http_server.route("/chunks", Reply(200, chunks=[b"ab", b"cd", b"ef"]))
    with Fetcher(timeout=5) as fetcher:
        assert fetcher.fetch(url).content == b"abcdef"


def test_user_agent_names_the_project(http_server: LocalServer) -> None:
    url = http_server.route("/feed", Reply(200, FEED))
    with Fetcher(timeout=5) as fetcher:
        fetcher.fetch(url)
    agent = http_server.requests[-1].headers["User-Agent"]
    assert agent.startswith(f"newsletter/{newsletter.__version__}")
    with Fetcher(timeout=5, user_agent="MyPaper/1.0") as fetcher:
        fetcher.fetch(url)
    assert http_server.requests[-1].headers["User-Agent"] == "MyPaper/1.0"


def test_connection_refused() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/feed"
    with Fetcher(timeout=2) as fetcher, pytest.raises(FetchError) as caught:
        fetcher.fetch(url)
    assert str(caught.value).startswith(f"{url}: cannot connect")


@pytest.mark.parametrize(
    "url", ["ftp://example.com/feed", "example.com/feed", "http://", "http://exa mple.com:99999/"]
)
def test_bad_urls(url: str) -> None:
    with Fetcher(timeout=2) as fetcher, pytest.raises(FetchError) as caught:
        fetcher.fetch(url)
    assert str(caught.value).startswith(f"{url}: ")


def test_transport_can_be_injected() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, content=b"hello", headers={"Content-Type": "text/plain; charset=latin-1"}
        )

    with Fetcher(transport=httpx.MockTransport(handler)) as fetcher:
        result = fetcher.fetch("https://example.com/x")
    assert result.content == b"hello" and result.encoding == "latin-1"


# -- URLs typed in the web app: nothing private -----------------------------------------------


def test_public_only_refuses_loopback_and_private_addresses(http_server: LocalServer) -> None:
    url = http_server.route("/page", Reply(200, b"<html>ok</html>", {"Content-Type": "text/html"}))
    with Fetcher(timeout=5) as fetcher:
        assert fetcher.fetch(url).status == 200  # sources of newsletter.toml: the operator's choice
        with pytest.raises(FetchError, match=r"private, loopback or link-local.*web\.fetch_private = true"):
            fetcher.fetch(url, public_only=True)
        for address in ("http://10.1.2.3/", "http://169.254.169.254/latest/meta-data/", "http://[::1]/"):
            with pytest.raises(FetchError, match="not on the public web"):
                fetcher.fetch(address, public_only=True)


def test_public_only_checks_every_redirect() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"Location": "http://127.0.0.1:9/admin"})

    # public.invalid does not resolve: it counts as public; its redirect to loopback does not
    with Fetcher(timeout=5, transport=httpx.MockTransport(handler)) as fetcher:
        with pytest.raises(FetchError, match=r"http://127\.0\.0\.1:9/admin: the address is private"):
            fetcher.fetch("http://public.invalid/article", public_only=True)


def test_public_only_checks_the_address_it_connected_to(
    http_server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: the name resolved to a public address for the check, then to loopback."""
    url = http_server.route("/intranet", Reply(200, b"<html>secret</html>", {"Content-Type": "text/html"}))
    monkeypatch.setattr("newsletter.collect.http.public_host", lambda host: True)
    with Fetcher(timeout=5) as fetcher:
        with pytest.raises(FetchError, match=r"/intranet: the address is private") as refused:
            fetcher.fetch(url, public_only=True)
        assert refused.value.code == "url-private" and "secret" not in str(refused.value)
        assert fetcher.fetch(url).content == b"<html>secret</html>"  # the operator's own sources


def test_behind_a_proxy_only_the_check_before_the_request_applies(monkeypatch: pytest.MonkeyPatch) -> None:
    from newsletter.collect.http import _proxied

    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "https_proxy",
                 "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    assert not _proxied("https://journal.example/article")
    monkeypatch.setenv("https_proxy", "http://proxy.newsroom.internal:3128")
    assert _proxied("https://journal.example/article") and not _proxied("http://journal.example/a")
    monkeypatch.setenv("no_proxy", "journal.example")
    assert not _proxied("https://journal.example/article")


def test_public_host() -> None:
    from newsletter.collect.http import public_host

    assert not public_host("127.0.0.1") and not public_host("localhost") and not public_host("192.168.1.10")
    assert not public_host("::1") and not public_host("fd00::1") and not public_host("0.0.0.0")
    assert public_host("93.184.215.14") and public_host("2606:4700::1111")
    assert public_host("no-such-host.invalid")  # its fetch fails with its own message
