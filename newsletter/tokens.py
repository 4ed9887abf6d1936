"""Signed per-recipient tokens: the unsubscribe link of every message.

A token is ``<payload>.<signature>``, both URL-safe base64 without padding: the payload is
``<subscriber id>:<list slug>``, the signature an HMAC-SHA256 of it under
``NEWSLETTER_SECRET_KEY`` (with a purpose prefix, so a token made for something else never
reads as an unsubscribe token). Unsubscribe tokens never expire: a link in a mail read a year
later must still work. Changing the secret invalidates every link already sent.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
from urllib.parse import quote

from newsletter.errors import ConfigError, InputError

ENV_SECRET_KEY = "NEWSLETTER_SECRET_KEY"
MIN_SECRET_LENGTH = 16
_PURPOSE = b"unsubscribe\x00"
_SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_B64_RE = re.compile(r"^[A-Za-z0-9_-]+$")
_INVALID = "invalid or tampered unsubscribe link"


def secret_key() -> str:
    """The signing secret from the environment, or a ConfigError saying how to set it."""
    secret = os.environ.get(ENV_SECRET_KEY, "").strip()
    if len(secret) < MIN_SECRET_LENGTH:
        # Said the same way whichever command asks (send, serve, worker, daemon, forget): the
        # one secret serves them all, so it must be the same in every process of the newsroom.
        problem = "it is not set" if not secret else "it is too short"
        raise ConfigError(
            f"set {ENV_SECRET_KEY} in the environment ({problem}): a long random string of at "
            f"least {MIN_SECRET_LENGTH} characters, the same for every newsletter command and "
            "process; it signs unsubscribe links, sign-up confirmations and editors' sessions, "
            "and keys the hashes of forgotten addresses"
        )
    return secret


def derive_key(secret: str, purpose: str) -> str:
    """A key for PURPOSE made from SECRET: one secret in the environment, a separate key for
    each use (a session cookie can never be replayed as an unsubscribe token)."""
    return hmac.new(secret.encode("utf-8"), b"derive\x00" + purpose.encode(), hashlib.sha256).hexdigest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not _B64_RE.match(text):
        raise ValueError("not URL-safe base64")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64(data) != text:  # unused low bits set: another spelling of the same bytes
        raise ValueError("not canonical base64")
    return data


def _sign(secret: str, payload: bytes) -> bytes:
    return hmac.new(secret.encode("utf-8"), _PURPOSE + payload, hashlib.sha256).digest()


def make_unsubscribe_token(secret: str, subscriber_id: int, list_slug: str) -> str:
    """A URL-safe token naming SUBSCRIBER_ID on LIST_SLUG, signed with SECRET."""
    if subscriber_id < 0 or not _SLUG_RE.match(list_slug):
        raise ValueError(f"cannot sign subscriber {subscriber_id!r} of list {list_slug!r}")
    payload = f"{subscriber_id}:{list_slug}".encode("ascii")
    return f"{_b64(payload)}.{_b64(_sign(secret, payload))}"


def read_unsubscribe_token(secret: str, token: str) -> tuple[int, str]:
    """The (subscriber id, list slug) of TOKEN; InputError if it was not signed with SECRET."""
    try:
        encoded_payload, encoded_signature = token.strip().split(".")
        payload = _unb64(encoded_payload)
        signature = _unb64(encoded_signature)
    except (ValueError, binascii.Error):
        raise InputError(_INVALID) from None
    if not hmac.compare_digest(signature, _sign(secret, payload)):
        raise InputError(_INVALID)
    # Signed by us, so well formed; checked anyway so a leaked secret cannot crash the reader.
    ident, _, slug = payload.decode("ascii", "replace").partition(":")
    if not ident.isdigit() or not _SLUG_RE.match(slug):
        raise InputError(_INVALID)
    return int(ident), slug


def unsubscribe_url(base_url: str, token: str) -> str:
    """The public one-click unsubscribe address for TOKEN under the web app's BASE_URL."""
    return f"{base_url.rstrip('/')}/unsubscribe/{token}"


def list_unsubscribe_headers(url: str, mailto: str = "") -> dict[str, str]:
    """RFC 2369 List-Unsubscribe (URL, then mailto: when given), and RFC 8058 one-click when URL
    is https: the RFC allows no other scheme, and mailbox providers ignore the offer otherwise."""
    targets = [f"<{url}>"]
    if mailto:
        targets.append(f"<mailto:{quote(mailto, safe='@')}?subject=unsubscribe>")
    headers = {"List-Unsubscribe": ", ".join(targets)}
    if url.lower().startswith("https://"):
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return headers
