"""Short mails to a list's editors (``lists[].editors``): an edition held for review.

Sent the way the sign-up confirmation is (``newsletter/web/mail.py``): one
:func:`~newsletter.deliver.message.single_mail` through the configured mail backend (no
edition: the outbox writes ``edition-0.mbox``, SendGrid events map to no list), marked
``Auto-Submitted``. Editors are no
subscribers: no unsubscribe link and no List-Unsubscribe header. Written in English, like the
commands and logs the notice points to.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from newsletter.audience.lists import ListConfig
from newsletter.config import Config
from newsletter.deliver.message import MailBackend, Recipient, single_mail
from newsletter.store.models import Edition


def held_notice(
    list_config: ListConfig, edition: Edition, *, send_time: datetime, deadline: datetime,
    base_url: str = "",
) -> tuple[str, str, str]:
    """(subject, text, html) of the notice that EDITION was held at SEND_TIME; with BASE_URL
    (the web app's), a link to the edition's page in the editors' app."""
    tz = ZoneInfo(list_config.timezone)

    def when(moment: datetime, fmt: str) -> str:
        return f"{moment.astimezone(tz):{fmt} %Z} ({moment.astimezone(UTC):%H:%M} UTC)"

    included = sum(1 for item in edition.items if item.included)
    what = f"{included} items included" if edition.items else "no article: a 'nothing new' edition"
    by = f"{deadline.astimezone(tz):%H:%M %Z}"
    subject = f"[{list_config.name}] edition of {edition.date} held: approve it by {by}"
    paragraphs = [
        f'Edition #{edition.id} of "{list_config.name}" for {edition.date} was not approved by its '
        f"send time, {when(send_time, '%Y-%m-%d %H:%M')}: it is held, not sent (review = required).",
        f"Approve it by {when(deadline, '%H:%M')} and it goes out within a minute"
        + (f", in the editors' app: {base_url.rstrip('/')}/editor/editions/{edition.id}, or:" if base_url else ":"),
        f"  newsletter editions show {edition.id}\n  newsletter editions approve {edition.id}",
        "After that it is not sent unless an editor sends it by hand "
        f"('newsletter editions send {edition.id}').",
        f"{what.capitalize()}.",
    ]
    text = "\n\n".join(paragraphs) + "\n"
    body = "".join(
        f"<pre>{html.escape(p.strip())}</pre>" if p.startswith("  ") else f"<p>{_linked(p)}</p>"
        for p in paragraphs
    )
    page = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(subject)}'
        f"</title></head><body>{body}</body></html>"
    )
    return subject, text, page


def _linked(paragraph: str) -> str:
    """PARAGRAPH as HTML, its http(s) address a link."""
    words = [
        f'<a href="{html.escape(w.rstrip(","), quote=True)}">{html.escape(w.rstrip(","))}</a>'
        + ("," if w.endswith(",") else "")
        if w.startswith(("http://", "https://")) else html.escape(w)
        for w in paragraph.split(" ")
    ]
    return " ".join(words)


def send_held_notice(
    backend: MailBackend,
    config: Config,
    list_config: ListConfig,
    edition: Edition,
    *,
    send_time: datetime,
    deadline: datetime,
) -> list[str]:
    """Email LIST_CONFIG's editors that EDITION is held; the addresses mailed (none without
    editors). DeliveryError (from the backend) when it was not sent."""
    if not list_config.editors:
        return []
    subject, text, page = held_notice(
        list_config, edition, send_time=send_time, deadline=deadline, base_url=config.web.base_url
    )
    backend.send_batch(single_mail(
        list_config, config.web.base_url, subject=subject, html=page, text=text,
        recipients=[Recipient(address, "", "", 0) for address in list_config.editors],
        headers={"Auto-Submitted": "auto-generated"},
    ))
    return list(list_config.editors)
