"""Fetching feeds and pages over HTTP: one ``httpx.Client``, polite and bounded.

``Fetcher.fetch`` sends conditional requests (If-None-Match / If-Modified-Since) so an
unchanged feed costs a 304, follows at most ``MAX_REDIRECTS`` redirects, streams the body and
gives up past ``max_bytes``. Every failure is a :class:`FetchError` whose message names the URL,
the reason and what happens next; the caller records it on the source and goes on.
"""

from __future__ import annotations

import ipaddress
import socket
import time
import urllib.request
from dataclasses import dataclass
from http import HTTPStatus
from types import TracebackType
from urllib.parse import urlsplit

import httpx

import newsletter
from newsletter.config import CollectConfig
from newsletter.errors import FetchError

MAX_REDIRECTS = 5
DEFAULT_USER_AGENT = f"newsletter/{newsletter.__version__} (+press-review digest)"
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/xml;q=0.9, "
    "text/html;q=0.9, text/xml;q=0.8, */*;q=0.5"
)
RETRY_LATER = "it will be retried at the next collect"
# A request extension: refuse hosts at private, loopback or link-local addresses (every hop).
PUBLIC_ONLY = "newsletter.public_only"
PRIVATE_SETTING = "web.fetch_private"


@dataclass
class FetchResult:
    """One response. ``url`` is the final URL after redirects; ``content`` is empty on a 304."""

    url: str
    status: int
    content: bytes = b""
    etag: str | None = None
    last_modified: str | None = None
    content_type: str = ""
    encoding: str | None = None  # the charset the server declared, if any
    not_modified: bool = False

    def text(self) -> str:
        """The body decoded with the declared charset (UTF-8 when none), never raising."""
        try:
            return self.content.decode(self.encoding or "utf-8", errors="replace")
        except LookupError:  # a charset Python does not know
            return self.content.decode("utf-8", errors="replace")


class Fetcher:
    """An HTTP client for collecting: ``with Fetcher(timeout=5) as f: f.fetch(url)``."""

    def __init__(
        self,
        timeout: float = 20,
        max_bytes: int = 5_000_000,
        user_agent: str = "",
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.user_agent = user_agent or DEFAULT_USER_AGENT
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout),
            follow_redirects=True,
            max_redirects=MAX_REDIRECTS,
            headers={"User-Agent": self.user_agent, "Accept": ACCEPT},
            transport=transport,
            event_hooks={"request": [_refuse_private]},
        )

    @classmethod
    def configured(cls, settings: CollectConfig) -> Fetcher:
        """A fetcher with the timeout, size limit and user agent of ``[collect]``."""
        return cls(timeout=settings.timeout, max_bytes=settings.max_bytes,
                   user_agent=settings.user_agent)

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def fetch(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None,
        public_only: bool = False,
    ) -> FetchResult:
        """GET URL; raises :class:`FetchError` for anything but a 2xx or a 304.

        PUBLIC_ONLY (for URLs an editor typed in the web app): a host, or a redirect's host,
        at a private, loopback or link-local address is refused, so that a page of the app
        cannot be used to reach the newsroom's internal services. The name is checked before
        each request and the address actually connected to before the body is read: a name
        that resolves to a public address for the check and to a private one for the
        connection (DNS rebinding) gets nothing read from that server.
        """
        scheme = urlsplit(url).scheme.lower()
        if scheme not in ("http", "https"):
            raise FetchError(
                f"{url}: not an http(s) URL (check the source URL in newsletter.toml)",
                code="url-not-web", url=url,
            )
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        try:
            extensions = {PUBLIC_ONLY: True} if public_only else None
            with self._client.stream("GET", url, headers=headers, extensions=extensions) as response:
                return self._read(url, response)
        except httpx.TimeoutException:
            raise FetchError(
                f"{url}: timed out after {self.timeout:g} s ({RETRY_LATER}; "
                "raise collect.timeout if the site is always slow)",
                code="fetch-timeout", url=url,
            ) from None
        except httpx.TooManyRedirects:
            raise FetchError(
                f"{url}: more than {MAX_REDIRECTS} redirects (a redirect loop? "
                "open the URL in a browser and use the final address)",
                code="fetch-redirects", url=url,
            ) from None
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise FetchError(
                f"{url}: invalid URL ({exc}; check the source URL)", code="url-invalid", url=url
            ) from None
        except httpx.ConnectError as exc:
            raise FetchError(
                f"{url}: cannot connect ({_reason(exc)}; check the address and the network, "
                f"{RETRY_LATER})",
                code="fetch-connect", url=url,
            ) from None
        except httpx.HTTPError as exc:  # RemoteProtocolError, ReadError, DecodingError...
            raise FetchError(
                f"{url}: {type(exc).__name__}: {_reason(exc)} ({RETRY_LATER})",
                code="fetch-broken", url=url,
            ) from None

    def _read(self, url: str, response: httpx.Response) -> FetchResult:
        final_url = str(response.url)
        headers = response.headers
        result = FetchResult(
            url=final_url,
            status=response.status_code,
            etag=headers.get("ETag"),
            last_modified=headers.get("Last-Modified"),
            content_type=headers.get("Content-Type", "").split(";")[0].strip().lower(),
            encoding=response.charset_encoding,
        )
        if response.request.extensions.get(PUBLIC_ONLY):
            _refuse_private_peer(final_url, response)
        if response.status_code == 304:
            result.not_modified = True
            return result
        if response.status_code >= 400:
            code, message = _status_problem(response.status_code)
            raise FetchError(f"{final_url}: {message}", code=code, url=final_url,
                             status=response.status_code)
        declared = headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise FetchError(self._too_large(final_url, f"{int(declared):,} bytes announced"),
                             code="fetch-too-large", url=final_url)
        chunks: list[bytes] = []
        size = 0
        deadline = time.monotonic() + 3 * self.timeout  # against a server dripping bytes
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > self.max_bytes:
                raise FetchError(self._too_large(final_url, "body still growing"),
                                 code="fetch-too-large", url=final_url)
            if time.monotonic() > deadline:
                raise FetchError(
                    f"{final_url}: timed out after {3 * self.timeout:g} s reading the body "
                    f"({RETRY_LATER})",
                    code="fetch-timeout", url=final_url,
                )
            chunks.append(chunk)
        result.content = b"".join(chunks)
        return result

    def _too_large(self, url: str, detail: str) -> str:
        return (
            f"{url}: response larger than {self.max_bytes:,} bytes ({detail}; "
            "raise collect.max_bytes if this is really the feed or the article)"
        )


def public_host(host: str) -> bool:
    """False when HOST is, or resolves to, an address that is not globally reachable (private,
    loopback, link-local, reserved). A name that does not resolve counts as public: its fetch
    fails on its own, with its own message."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError, OSError):
        return True
    return all(ipaddress.ip_address(str(info[4][0]).split("%")[0]).is_global for info in infos)


def private_refusal(url: str) -> str:
    return (
        f"{url}: the address is private, loopback or link-local, not on the public web: refused "
        f"(set {PRIVATE_SETTING} = true in newsletter.toml to let editors use intranet addresses)"
    )


def _refuse_private_peer(url: str, response: httpx.Response) -> None:
    """Refuse URL when the server answering it is at an address that is not public.

    Behind a proxy the peer is the proxy, so there the check before the request is all there is.
    """
    stream = response.extensions.get("network_stream")
    peer = stream.get_extra_info("server_addr") if stream is not None else None
    if not peer or _proxied(url):
        return
    if not ipaddress.ip_address(str(peer[0]).split("%")[0]).is_global:
        raise FetchError(private_refusal(url), code="url-private", url=url)


def _proxied(url: str) -> bool:
    """Does a proxy from the environment (HTTP_PROXY, ALL_PROXY..., less NO_PROXY) carry URL?"""
    parts = urlsplit(url)
    proxies = urllib.request.getproxies()
    if not (proxies.get(parts.scheme) or proxies.get("all")):
        return False
    return not urllib.request.proxy_bypass(parts.hostname or "")


def _refuse_private(request: httpx.Request) -> None:
    if request.extensions.get(PUBLIC_ONLY) and not public_host(request.url.host):
        url = str(request.url)
        raise FetchError(private_refusal(url), code="url-private", url=url)


def _status_problem(status: int) -> tuple[str, str]:
    """(code, message) for an HTTP error STATUS."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "error"
    if status in (404, 410):
        code, hint = "fetch-gone", "the address is gone; check the source URL"
    elif status in (401, 403):
        code = "fetch-forbidden"
        hint = "access refused; the site may block robots (try collect.user_agent) or need a login"
    elif status == 429:
        code = "fetch-busy"
        hint = f"too many requests; {RETRY_LATER} (raise the source's interval?)"
    elif status >= 500:
        code, hint = "fetch-server", f"the server failed; {RETRY_LATER}"
    else:
        code, hint = "fetch-refused", "the request was refused; check the source URL"
    return code, f"HTTP {status} {phrase} ({hint})"


def _reason(exc: Exception) -> str:
    text = str(exc).strip()
    return text or type(exc).__name__
