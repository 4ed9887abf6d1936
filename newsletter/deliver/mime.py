"""One standard email per recipient of a :class:`MailBatch` (the outbox and SMTP backends).

Every message is ``multipart/alternative``, text first then HTML (a reader shows the last part
it can), UTF-8 bodies in quoted-printable or base64 (whichever is shorter), and carries From and
To with display names (RFC 2047 encoded when not ASCII), Reply-To, Subject, Date, a unique
Message-ID, List-Id, and the recipient's ``List-Unsubscribe`` with RFC 8058 one-click.

Serialised with :data:`POLICY`: ``email.policy.SMTP`` (CRLF, 78-column folding), except that
List-Unsubscribe, List-Post, ... are folded only between their ``<...>`` targets: the stock
folder turns a URL longer than a line into encoded words, which mail clients then ignore.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP as _SMTP
from email.policy import EmailPolicy
from email.utils import format_datetime, make_msgid
from typing import Any

from newsletter.deliver.message import MailBatch, Recipient
from newsletter.errors import DeliveryError
from newsletter.render.view import RenderedEdition, personalize
from newsletter.tokens import list_unsubscribe_headers

# Headers the builder owns: a batch or recipient may not set them through ``headers``.
RESERVED_HEADERS = frozenset(
    {
        "from", "to", "cc", "bcc", "reply-to", "subject", "date", "message-id", "sender",
        "mime-version", "content-type", "content-transfer-encoding", "return-path",
    }
)  # fmt: skip
_URL_LIST_HEADERS = frozenset(
    {"list-unsubscribe", "list-subscribe", "list-help", "list-post", "list-owner", "list-archive"}
)


class _Policy(EmailPolicy):
    """SMTP policy that folds ASCII ``<url>, <url>`` list headers only after their commas."""

    def _fold(self, name: str, value: Any, refold_binary: bool = False) -> str:
        text = str(value)
        if name.lower() in _URL_LIST_HEADERS and text.isascii():
            targets = [t.strip() for t in re.split(r",\s*", text) if t.strip()]
            return f"{name}: " + ("," + self.linesep + " ").join(targets) + self.linesep
        return super()._fold(name, value, refold_binary)  # type: ignore[misc]


POLICY: EmailPolicy = _Policy() + _SMTP


def list_id(batch: MailBatch) -> str:
    """RFC 2919 List-Id: ``"List Name" <slug.domain>``, or the one given in the batch headers."""
    for name, value in batch.headers.items():
        if name.lower() == "list-id":
            return value
    ident = f"<{batch.list_slug}.{batch.message_id_domain}>"
    if not batch.list_name:
        return ident
    if batch.list_name.isascii():
        phrase = batch.list_name.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{phrase}" {ident}'
    # Encoded words are not allowed inside quotes: leave the phrase bare, the policy encodes it.
    return f"{batch.list_name} {ident}"


def recipient_headers(recipient: Recipient) -> dict[str, str]:
    """The recipient's own headers: List-Unsubscribe(-Post) for its URL unless it brings them;
    none without a URL (a notice to a list's editor, who is no subscriber)."""
    headers = list_unsubscribe_headers(recipient.unsubscribe_url) if recipient.unsubscribe_url else {}
    _merge(headers, recipient.headers)
    return headers


def _merge(into: dict[str, str], extra: dict[str, str]) -> None:
    """Add EXTRA to INTO, replacing any header of the same name whatever its case."""
    for name, value in extra.items():
        for existing in [k for k in into if k.lower() == name.lower()]:
            del into[existing]
        into[name] = value


def _address(name: str, email: str, what: str) -> Address:
    try:
        return Address(display_name=name, addr_spec=email)
    except (ValueError, IndexError, HeaderParseError) as exc:
        raise DeliveryError(f"{what}: {email!r} is not a usable email address ({exc})") from None


def _cte(body: str) -> str:
    """Quoted-printable for mostly-ASCII text (French), base64 for the rest (Arabic)."""
    data = body.encode("utf-8")
    high = sum(1 for b in data if b >= 0x80)
    return "quoted-printable" if high * 6 <= len(data) else "base64"


def _add_body(part: EmailMessage, body: str, subtype: str) -> None:
    cte = _cte(body)
    if subtype == "plain":
        part.set_content(body, subtype=subtype, charset="utf-8", cte=cte)
    else:
        part.add_alternative(body, subtype=subtype, charset="utf-8", cte=cte)


def _protect_from_lines(msg: EmailMessage) -> None:
    """Write a quoted-printable line start "From " as "=46rom ": same text once decoded, but no
    mbox file or MTA will mangle it into ">From "."""
    for part in msg.walk():
        if part.get("Content-Transfer-Encoding", "").lower() == "quoted-printable":
            payload = part.get_payload()
            if isinstance(payload, str) and "From " in payload:
                part.set_payload(re.sub(r"(?m)^From ", "=46rom ", payload))


def build_message(
    batch: MailBatch, recipient: Recipient, *, now: datetime | None = None
) -> EmailMessage:
    """The complete message of BATCH for RECIPIENT, slots filled (see ``render.personalize``)."""
    rendered = RenderedEdition(subject=batch.subject, mjml="", html=batch.html, text=batch.text)
    html, text = personalize(
        rendered, name=recipient.name, unsubscribe_url=recipient.unsubscribe_url
    )
    msg = EmailMessage(policy=POLICY)
    where = f"batch {batch.batch_id} of edition {batch.edition_id}"
    msg["From"] = _address(batch.from_name, batch.from_address, f"{where}: sender")
    to = _address(recipient.name, recipient.email, f"{where}: subscriber {recipient.subscriber_id}")
    msg["To"] = to
    if batch.reply_to:
        msg["Reply-To"] = _address("", batch.reply_to, f"{where}: reply-to")
    msg["Subject"] = batch.subject
    msg["Date"] = format_datetime(now or datetime.now(UTC))
    msg["Message-ID"] = make_msgid(domain=batch.message_id_domain)
    headers = {"List-Id": list_id(batch)}
    _merge(headers, batch.headers)
    _merge(headers, recipient_headers(recipient))
    for name, value in headers.items():
        if name.lower() in RESERVED_HEADERS:
            raise DeliveryError(f"{where}: header {name!r} is set by the mail builder, not by hand")
        try:
            msg[name] = value
        except ValueError as exc:  # CR or LF in a value: header injection
            raise DeliveryError(f"{where}: header {name!r} is invalid: {exc}") from None
    _add_body(msg, text, "plain")
    _add_body(msg, html, "html")
    for part in msg.iter_parts():
        del part["MIME-Version"]  # add_alternative leaves one on the part; it belongs on top only
    _protect_from_lines(msg)
    return msg


def build_messages(batch: MailBatch) -> list[tuple[Recipient, EmailMessage]]:
    """Every message of BATCH, all built before any is sent: a bad address stops the batch
    before the first message leaves, so nobody is mailed twice when it is fixed and resent."""
    now = datetime.now(UTC)
    return [(r, build_message(batch, r, now=now)) for r in batch.recipients]
