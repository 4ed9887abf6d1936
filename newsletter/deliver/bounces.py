"""Refusals that say the address does not exist: the reader is ``bounced`` on the list.

A permanent refusal saying so (``550 5.1.1``, "User unknown": :func:`hard_bounce`) marks the
reader ``bounced`` on the edition's list, in the consent history, as a bounce reported by
SendGrid's webhook does: later editions do not go to a dead address. Other refusals (content,
policy, size) concern that message only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from newsletter.audience.consent import STATUS_RANK, set_status
from newsletter.store.models import Edition, Membership

ORIGIN_SMTP = "smtp"  # the consent history's origin of a bounce the SMTP server reported
# RFC 3463's addressing statuses (5.1.x: bad mailbox, bad domain...) or the words servers use
# for it. Not "mailbox unavailable" alone, nor a 5.7.x (policy) or 5.3.x (size): those refuse a
# message, not an address.
_NO_SUCH_ADDRESS = re.compile(
    r"^5\d\d[ -]5\.1\.\d+\b|user unknown|unknown user|no such (?:user|mailbox|recipient)"
    r"|(?:mailbox|address|user) (?:does not exist|not found)",
    re.IGNORECASE,
)


def hard_bounce(reason: str) -> bool:
    """Whether a permanent refusal's REASON says the address does not exist."""
    return bool(_NO_SUCH_ADDRESS.search(reason))


def mark_bounced(
    session: Session, edition_id: int, refused: Iterable[tuple[int, str]]
) -> None:
    """Mark ``bounced`` (committed) the readers of REFUSED (subscriber id, reason) whose
    address the server said does not exist, on EDITION_ID's list."""
    ids = [subscriber_id for subscriber_id, why in refused if hard_bounce(why)]
    if not ids:
        return
    list_id = select(Edition.list_id).where(Edition.id == edition_id).scalar_subquery()
    for membership in session.scalars(
        select(Membership).where(Membership.list_id == list_id, Membership.subscriber_id.in_(ids))
    ):
        if STATUS_RANK["bounced"] > STATUS_RANK.get(membership.status, 0):
            set_status(session, membership, "bounced", "bounce", ORIGIN_SMTP)
    session.commit()
