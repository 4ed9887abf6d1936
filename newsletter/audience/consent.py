"""Consent: the suppression list, the consent history, opt-in and unsubscribe.

Every change of a membership's status made here is written to the consent history
(:class:`ConsentEvent`: what, when, from where). The rules, in one place:

- an address is one person whatever its case (``Ana@x.org`` is ``ana@x.org``: see
  :func:`~newsletter.store.models.email_key`);
- a suppressed address (:func:`suppress`, e.g. ``subscribers forget``) is never added again,
  in any case, by any import or form: it is kept only as a keyed hash of its lower-cased form;
- an unsubscribed, bounced or complained membership is never made active by an import;
- a sign-up is ``pending`` until the owner of the mailbox confirms it (double opt-in); a
  confirmation made after an unsubscribe brings the membership back only if its link was sent
  after that unsubscribe; bounced and complained memberships stay as they are.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

from sqlalchemy import select
from sqlalchemy.orm import Session

from newsletter.errors import ConfigError, InputError
from newsletter.store.models import (
    SUPPRESSED,
    ConsentEvent,
    MailingList,
    Membership,
    Subscriber,
    Suppression,
    email_key,
    utcnow,
)
from newsletter.tokens import ENV_SECRET_KEY, secret_key

LEGACY_KEY_ID = "sha256"  # unkeyed hashes kept by stores forgotten before revision 0004
CONFIRM_MAX_AGE = 7 * 24 * 3600  # seconds a confirmation link stays valid
ORIGIN_MAX = 60  # ConsentEvent.origin
# How strong a status is: a provider event only ever moves a membership up this scale.
STATUS_RANK = {"pending": 0, "active": 0, "unsubscribed": 1, "bounced": 2, "complained": 3}
MERGED = "merged"  # the consent-history action left by a subscriber merged into another
_CHUNK = 500


# -- keyed hashes -----------------------------------------------------------------------------


def address_hash(secret: str, email: str) -> str:
    """The keyed hash of an address as the suppression list keeps it: a hash of who it is
    (:func:`~newsletter.store.models.email_key`), so every spelling of it has this hash."""
    return _hmac(secret, b"suppression\x00identity\x00" + email_key(email).encode("utf-8"))


def key_id(secret: str) -> str:
    """A short public name for SECRET (and for hashing by :func:`address_hash`), stored next
    to each hash made with it."""
    return _hmac(secret, b"suppression-key-id\x00identity")[:16]


def client_hash(secret: str, client: str) -> str:
    """A keyed hash of a client IP address for the consent history (never the address)."""
    return _hmac(secret, b"client\x00" + client.encode())


def _hmac(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


# Before revision 0010 the list hashed an address as it was spelled (only the domain
# lower-cased), under another key id, or unkeyed before revision 0004. Such a hash is found
# again from the spelling given to `forget`, which is lost: it is looked for under the usual
# spellings of the address (see _spellings).


def _spelled_hash(secret: str, spelling: str) -> str:
    return _hmac(secret, b"suppression\x00" + spelling.encode("utf-8"))


def _spelled_key_id(secret: str) -> str:
    return _hmac(secret, b"suppression-key-id")[:16]


def _legacy_hash(spelling: str) -> str:
    return hashlib.sha256(spelling.encode("utf-8")).hexdigest()


def _spellings(email: str) -> set[str]:
    """EMAIL as given and as people usually write it: lower case, upper case, capitalised
    words (ana.ruiz, ANA.RUIZ, Ana.Ruiz); the domain stays lower-case, as it was hashed."""
    local, at, domain = email.rpartition("@")
    if not at:
        return {email}
    domain = domain.lower()
    return {email} | {f"{form}@{domain}" for form in (local.lower(), local.upper(), local.title())}


def _env_secret() -> str | None:
    return secret_key() if os.environ.get(ENV_SECRET_KEY, "").strip() else None


# -- the suppression list ---------------------------------------------------------------------


def suppressed_among(
    session: Session, emails: Iterable[str], secret: str | None = None
) -> set[str]:
    """Those of EMAILS (normalised) that are on the suppression list, in any case.

    SECRET defaults to NEWSLETTER_SECRET_KEY, which is only needed once the list is not empty.
    A list hashed under another key is refused (ConfigError): reading it with the wrong key
    would quietly let every suppressed address back in. An address found only under a hash of
    its spelling (made before revision 0010) gets its case-free hash added now, so that every
    other spelling of it is refused from then on.
    """
    emails = list(emails)
    keys = set(session.scalars(select(Suppression.key_id).distinct()))
    if not emails or not keys:
        return set()
    if keys - {LEGACY_KEY_ID}:
        secret = secret or _env_secret()
        if secret is None:
            raise ConfigError(
                f"set {ENV_SECRET_KEY} in the environment: the suppression list is kept as "
                "hashes made with it, and every import checks it"
            )
        if keys - {LEGACY_KEY_ID, key_id(secret), _spelled_key_id(secret)}:
            raise ConfigError(
                f"the suppression list was hashed with another {ENV_SECRET_KEY}: set the key it "
                "was made with (changing the key would let suppressed addresses back in)"
            )
    hashes: dict[str, set[str]] = {}  # hash -> the addresses of EMAILS it stands for
    spelled: set[str] = set()  # those of HASHES that hash a spelling

    def add(value: str, email: str) -> None:
        hashes.setdefault(value, set()).add(email)

    schemes: list[Callable[[str], str]] = []  # how older rows hashed a spelling
    if secret is not None:
        if key_id(secret) in keys:
            for e in emails:
                add(address_hash(secret, e), e)
        if _spelled_key_id(secret) in keys:
            schemes.append(partial(_spelled_hash, secret))
    if LEGACY_KEY_ID in keys:
        schemes.append(_legacy_hash)
    for e in emails:
        for spelling in _spellings(e) if schemes else ():
            for scheme in schemes:
                spelled.add(value := scheme(spelling))
                add(value, e)
    found: dict[str, str] = {}  # address -> why it is suppressed
    by_identity: set[str] = set()
    values = list(hashes)
    for i in range(0, len(values), _CHUNK):
        chunk = values[i : i + _CHUNK]
        for value, reason in session.execute(
            select(Suppression.address_hash, Suppression.reason).where(
                Suppression.address_hash.in_(chunk)
            )
        ):
            for e in hashes[value]:
                found.setdefault(e, reason)
                if value not in spelled:
                    by_identity.add(e)
    _add_identity_hashes(
        session, {e: reason for e, reason in found.items() if e not in by_identity}, secret
    )
    return set(found)


def _add_identity_hashes(session: Session, reasons: dict[str, str], secret: str | None) -> None:
    """Suppress every spelling of the addresses of REASONS, found under a spelling's hash."""
    secret = secret or _env_secret()
    if not reasons or secret is None:
        return
    rows = {address_hash(secret, e): reason for e, reason in reasons.items()}
    for value, reason in rows.items():
        session.add(Suppression(address_hash=value, key_id=key_id(secret), reason=reason))
    session.flush()


def is_suppressed(session: Session, email: str, secret: str | None = None) -> bool:
    return bool(suppressed_among(session, [email], secret))


def suppress(session: Session, email: str, reason: str, secret: str | None = None) -> bool:
    """Put a normalised address (every spelling of it) on the suppression list; False when it
    already was."""
    secret = secret or secret_key()
    if is_suppressed(session, email, secret):
        return False
    session.add(Suppression(address_hash=address_hash(secret, email), key_id=key_id(secret),
                            reason=reason[:30]))
    session.flush()
    return True


# -- who an address or a link is --------------------------------------------------------------


def subscriber_by_address(session: Session, email: str) -> Subscriber | None:
    """The subscriber EMAIL belongs to, in any case (EMAIL need not be normalised)."""
    return session.scalar(select(Subscriber).where(Subscriber.email_key == email_key(email)))


def merged_origin(subscriber_id: int) -> str:
    """The origin of the consent-history line left when SUBSCRIBER_ID was merged into another."""
    return f"merge:subscriber-{subscriber_id}"


def current_subscriber_id(session: Session, subscriber_id: int) -> int | None:
    """SUBSCRIBER_ID, or the subscriber it was merged into; None when there is nobody.

    Revision 0010 merged subscribers whose addresses differed only in case: the links already
    mailed to a merged one (unsubscribe links never expire) must still act on the person.
    """
    if session.get(Subscriber, subscriber_id) is not None:
        return subscriber_id
    return session.scalar(
        select(ConsentEvent.subscriber_id)
        .where(ConsentEvent.action == MERGED, ConsentEvent.origin == merged_origin(subscriber_id))
        .order_by(ConsentEvent.id.desc())
        .limit(1)
    )


# -- the consent history ----------------------------------------------------------------------


def record(
    session: Session,
    membership: Membership | None,
    action: str,
    origin: str,
    *,
    subscriber_id: int | None = None,
    list_id: int | None = None,
    client_ip_hash: str | None = None,
) -> None:
    """Add one line to the consent history."""
    session.add(
        ConsentEvent(
            membership_id=membership.id if membership else None,
            subscriber_id=membership.subscriber_id if membership else subscriber_id,
            list_id=membership.list_id if membership else list_id,
            action=action[:30],
            status=membership.status if membership else "",
            origin=origin[:ORIGIN_MAX],
            client_ip_hash=client_ip_hash,
        )
    )


def set_status(
    session: Session, membership: Membership, status: str, action: str, origin: str,
    client_ip_hash: str | None = None,
) -> bool:
    """Change a membership's status and record it; False (and nothing recorded) if unchanged."""
    if membership.status == status:
        return False
    membership.status = status
    membership.status_changed_at = utcnow()
    session.flush()
    record(session, membership, action, origin, client_ip_hash=client_ip_hash)
    return True


# -- unsubscribe ------------------------------------------------------------------------------


@dataclass
class Unsubscribed:
    """What an unsubscribe did: the list it was asked for, and how many memberships changed."""

    mailing_list: MailingList
    changed: int


def unsubscribe(
    session: Session, subscriber_id: int, list_slug: str, *, all_lists: bool = False,
    origin: str, client_ip_hash: str | None = None,
) -> Unsubscribed:
    """Unsubscribe a subscriber from a list (or from every list); idempotent.

    Raises InputError when the list does not exist. A subscriber who is gone (forgotten) or
    was never on the list changes nothing: there is nobody left to mail. A subscriber merged
    into another (same address in another case) is that other one.
    """
    mailing_list = session.scalar(select(MailingList).where(MailingList.slug == list_slug))
    if mailing_list is None:
        raise InputError(f"no list {list_slug!r}")
    current = current_subscriber_id(session, subscriber_id)
    if current is None:
        return Unsubscribed(mailing_list, 0)
    stmt = select(Membership).where(Membership.subscriber_id == current)
    if not all_lists:
        stmt = stmt.where(Membership.list_id == mailing_list.id)
    changed = 0
    for membership in session.scalars(stmt.with_for_update()):
        if membership.status in SUPPRESSED:
            continue
        set_status(session, membership, "unsubscribed", "unsubscribed", origin, client_ip_hash)
        changed += 1
    return Unsubscribed(mailing_list, changed)


# -- double opt-in ----------------------------------------------------------------------------

_PURPOSE = b"confirm\x00"
_B64 = re.compile(r"^[A-Za-z0-9_-]+$")
_PAYLOAD = re.compile(r"^(\d+):([a-z0-9][a-z0-9_-]*):(\d+)$")


class ExpiredTokenError(InputError):
    """A well-signed confirmation link that is too old."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not _B64.match(text):
        raise ValueError("not URL-safe base64")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64(data) != text:
        raise ValueError("not canonical base64")
    return data


def _sign(secret: str, payload: bytes) -> bytes:
    return hmac.new(secret.encode("utf-8"), _PURPOSE + payload, hashlib.sha256).digest()


def make_confirm_token(secret: str, subscriber_id: int, list_slug: str, issued_ms: int) -> str:
    """A signed link token confirming SUBSCRIBER_ID on LIST_SLUG, issued at ISSUED_MS (epoch ms)."""
    payload = f"{subscriber_id}:{list_slug}:{issued_ms}".encode("ascii")
    return f"{_b64(payload)}.{_b64(_sign(secret, payload))}"


def read_confirm_token(
    secret: str, token: str, now: float | None = None, max_age: int = CONFIRM_MAX_AGE
) -> tuple[int, str, int]:
    """(subscriber id, list slug, issued ms) of TOKEN; InputError if forged, ExpiredTokenError
    if older than MAX_AGE seconds."""
    try:
        encoded_payload, encoded_signature = token.split(".")
        payload, signature = _unb64(encoded_payload), _unb64(encoded_signature)
    except (ValueError, binascii.Error):
        raise InputError("invalid or tampered confirmation link") from None
    if not hmac.compare_digest(signature, _sign(secret, payload)):
        raise InputError("invalid or tampered confirmation link")
    match = _PAYLOAD.match(payload.decode("ascii", "replace"))
    if match is None:
        raise InputError("invalid or tampered confirmation link")
    issued = int(match[3])
    now = time.time() if now is None else now
    if now * 1000 - issued > max_age * 1000:
        raise ExpiredTokenError("this confirmation link has expired: subscribe again")
    return int(match[1]), match[2], issued


def request_subscription(
    session: Session, mailing_list: MailingList, email: str, *, name: str = "",
    language: str = "", origin: str = "form", client_ip_hash: str | None = None,
    secret: str,
) -> Subscriber | None:
    """Record a sign-up; the Subscriber to send a confirmation link to, or None to send nothing.

    EMAIL is normalised. Nothing is sent for a suppressed address, an active membership, or a
    bounced or complained one. A new person gets a pending membership; a known person (the
    address in any case) keeps their name, language and address as first spelled (a form must
    not rename someone else).
    """
    if is_suppressed(session, email, secret):
        return None
    subscriber = subscriber_by_address(session, email)
    if subscriber is None:
        subscriber = Subscriber(email=email, email_key=email_key(email), name=name[:200],
                                language=language[:16])
        session.add(subscriber)
        session.flush()
    membership = session.scalar(
        select(Membership).where(
            Membership.list_id == mailing_list.id, Membership.subscriber_id == subscriber.id
        )
    )
    if membership is None:
        membership = Membership(
            list_id=mailing_list.id, subscriber_id=subscriber.id, status="pending",
            origin=origin[:40],
        )
        session.add(membership)
        session.flush()
    elif membership.status in ("active", "bounced", "complained"):
        return None
    record(session, membership, "requested", origin, client_ip_hash=client_ip_hash)
    return subscriber


def confirm(
    session: Session, subscriber_id: int, list_slug: str, issued_ms: int, *,
    origin: str = "link", client_ip_hash: str | None = None,
) -> Membership | None:
    """Activate the membership a confirmation link names; the membership, or None if gone.

    A pending membership becomes active; an unsubscribed one only when the link was issued
    after the unsubscribe (an old link must not undo it); bounced and complained stay. A
    subscriber merged into another (same address in another case) is that other one.
    """
    current = current_subscriber_id(session, subscriber_id)
    if current is None:
        return None
    membership = session.scalar(
        select(Membership)
        .join(MailingList, MailingList.id == Membership.list_id)
        .where(Membership.subscriber_id == current, MailingList.slug == list_slug)
        .with_for_update()
    )
    if membership is None:
        return None
    issued = datetime.fromtimestamp(issued_ms / 1000, UTC)
    if membership.status == "pending" or (
        membership.status == "unsubscribed" and membership.status_changed_at < issued
    ):
        set_status(session, membership, "active", "confirmed", origin, client_ip_hash)
    return membership
