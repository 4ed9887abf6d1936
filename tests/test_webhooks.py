"""SendGrid's Event Webhook: signed with a key made here, stored once, statuses changed once."""

from __future__ import annotations

import base64
import json
import time
from datetime import date
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import func, select

from newsletter.store.db import Store
from newsletter.store.models import DeliveryBatch, Edition, MailingList, ProviderEvent

from .test_web_consent import (
    add,
    history,
    statuses,
    web_app,  # noqa: F401 - the `web` fixture
)

KEY = ec.generate_private_key(ec.SECP256R1())
PUBLIC = base64.b64encode(
    KEY.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
).decode()


def signed(body: bytes, timestamp: str | None = None, key: ec.EllipticCurvePrivateKey = KEY) -> dict[str, str]:
    timestamp = timestamp or str(int(time.time()))
    signature = key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {
        "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
        "Content-Type": "application/json",
    }


@pytest.fixture(autouse=True)
def webhook_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSLETTER_SENDGRID_WEBHOOK_KEY", PUBLIC)


def edition_of(store: Store, slug: str) -> int:
    with store.session() as session:
        list_id = session.scalar(select(MailingList.id).where(MailingList.slug == slug))
        edition = Edition(list_id=list_id, date=date(2026, 12, 1), status="sent")
        session.add(edition)
        session.flush()
        return edition.id


def event(kind: str, email: str, sid: int, edition: int, n: int, **extra: object) -> dict[str, object]:
    return {"email": email, "timestamp": 1764561600, "event": kind, "sg_event_id": f"ev-{n}",
            "sg_message_id": "m.1", "edition_id": str(edition), "subscriber_id": str(sid),
            "batch_id": "1", **extra}


def test_each_event_type_changes_statuses_once(web, store: Store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    people = ["hard@x.org", "soft@x.org", "invalid@x.org", "spam@x.org", "unsub@x.org",
              "group@x.org", "open@x.org", "other@x.org"]
    ids = add(store, tmp_path, "revue", *people)
    add(store, tmp_path, "digest", *people)
    revue = edition_of(store, "revue")
    batch = [
        event("bounce", "hard@x.org", ids["hard@x.org"], revue, 1, type="bounce"),
        event("bounce", "soft@x.org", ids["soft@x.org"], revue, 2, type="blocked"),
        event("dropped", "invalid@x.org", ids["invalid@x.org"], revue, 3, reason="Invalid"),
        event("spamreport", "spam@x.org", ids["spam@x.org"], revue, 4),
        event("unsubscribe", "unsub@x.org", ids["unsub@x.org"], revue, 5),
        event("group_unsubscribe", "group@x.org", ids["group@x.org"], revue, 6, asm_group_id=1),
        event("open", "open@x.org", ids["open@x.org"], revue, 7),
        event("dropped", "other@x.org", ids["other@x.org"], revue, 8, reason="Spam Content"),
    ]
    body = json.dumps(batch).encode()
    first = web.post("/webhooks/sendgrid", content=body, headers=signed(body))
    assert first.status_code == 200, first.text
    assert first.json()["new"] == 8 and first.json()["changed"] == 5
    expected = {
        "hard@x.org": "bounced", "soft@x.org": "active", "invalid@x.org": "bounced",
        "spam@x.org": "complained", "unsub@x.org": "unsubscribed", "group@x.org": "unsubscribed",
        "open@x.org": "active", "other@x.org": "active",
    }
    for email, status in expected.items():
        assert statuses(store, email) == {"revue": status, "digest": "active"}, email
    events_before = len(history(store))
    again = web.post("/webhooks/sendgrid", content=body, headers=signed(body))  # SendGrid retries
    assert again.json()["new"] == 0 and again.json()["duplicates"] == 8
    assert len(history(store)) == events_before
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(ProviderEvent)) == 8
    assert ("bounce", "webhook:sendgrid") in history(store)


def test_a_late_unsubscribe_does_not_hide_a_complaint(web, store: Store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ids = add(store, tmp_path, "revue", "a@x.org")
    revue = edition_of(store, "revue")
    body = json.dumps([event("spamreport", "a@x.org", ids["a@x.org"], revue, 1),
                       event("unsubscribe", "a@x.org", ids["a@x.org"], revue, 2)]).encode()
    assert web.post("/webhooks/sendgrid", content=body, headers=signed(body)).status_code == 200
    assert statuses(store, "a@x.org") == {"revue": "complained"}


@pytest.mark.parametrize("problem", ["missing", "other-key", "re-serialised", "stale", "garbage"])
def test_bad_signatures_change_nothing(web, store: Store, tmp_path: Path, problem: str) -> None:  # type: ignore[no-untyped-def]
    ids = add(store, tmp_path, "revue", "a@x.org")
    revue = edition_of(store, "revue")
    body = json.dumps([event("bounce", "a@x.org", ids["a@x.org"], revue, 1)]).encode()
    headers = signed(body)
    if problem == "missing":
        headers = {"Content-Type": "application/json"}
    elif problem == "other-key":
        headers = signed(body, key=ec.generate_private_key(ec.SECP256R1()))
    elif problem == "re-serialised":
        body = json.dumps(json.loads(body), indent=1).encode()
    elif problem == "stale":
        headers = signed(body, timestamp=str(int(time.time()) - 11 * 60))
    else:
        headers["X-Twilio-Email-Event-Webhook-Signature"] = "not base64!"
    response = web.post("/webhooks/sendgrid", content=body, headers=headers)
    assert response.status_code == 403
    assert statuses(store, "a@x.org") == {"revue": "active"}
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(ProviderEvent)) == 0


def test_unconfigured_key_answers_503(web, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("NEWSLETTER_SENDGRID_WEBHOOK_KEY")
    body = b"[]"
    assert web.post("/webhooks/sendgrid", content=body, headers=signed(body)).status_code == 503


def test_event_without_edition_applies_to_every_list(web, store: Store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ids = add(store, tmp_path, "revue", "a@x.org")
    add(store, tmp_path, "digest", "a@x.org")
    body = json.dumps([{"email": "a@x.org", "event": "bounce", "type": "bounce",
                        "sg_event_id": "z", "subscriber_id": str(ids["a@x.org"])}]).encode()
    assert web.post("/webhooks/sendgrid", content=body, headers=signed(body)).status_code == 200
    assert statuses(store, "a@x.org") == {"revue": "bounced", "digest": "bounced"}


def test_an_event_of_an_uncertain_batch_confirms_it_sent(web, store: Store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """SendGrid takes a request whole or not at all: any event of one of a batch's messages
    shows the batch went out. An uncertain batch becomes sent (and its edition with it, its
    other batches being sent); a batch an editor put back, and an event naming another
    edition, change nothing."""
    ids = add(store, tmp_path, "revue", "a@x.org", "b@x.org", "c@x.org")
    revue = edition_of(store, "revue")
    with store.session() as session:
        session.get(Edition, revue).status = "sending"
        for number, status, readers in [(1, "sent", ["a@x.org"]), (2, "uncertain", ["b@x.org"]),
                                        (3, "pending", ["c@x.org"])]:
            recipients = [ids[e] for e in readers]
            session.add(DeliveryBatch(
                edition_id=revue, number=number, status=status, recipients=recipients,
                first_subscriber_id=recipients[0], last_subscriber_id=recipients[-1],
                sent_count=1 if status == "sent" else 0,
                last_error="interrupted during the provider call" if status == "uncertain" else None,
            ))
        session.flush()
        batch_ids = dict(session.execute(select(DeliveryBatch.number, DeliveryBatch.id)).all())

    def post(*events: dict[str, object]) -> dict[str, object]:
        body = json.dumps(list(events)).encode()
        response = web.post("/webhooks/sendgrid", content=body, headers=signed(body))
        assert response.status_code == 200, response.text
        return response.json()

    forged = event("delivered", "b@x.org", ids["b@x.org"], revue + 1, 1, batch_id=str(batch_ids[2]))
    put_back = event("processed", "c@x.org", ids["c@x.org"], revue, 2, batch_id=str(batch_ids[3]))
    assert post(forged, put_back)["batches_confirmed"] == 0
    assert post(event("processed", "b@x.org", ids["b@x.org"], revue, 3,
                      batch_id=str(batch_ids[2])))["batches_confirmed"] == 1
    with store.session() as session:
        batches = {b.number: b for b in session.scalars(select(DeliveryBatch))}
        assert [batches[n].status for n in (1, 2, 3)] == ["sent", "sent", "pending"]
        assert batches[2].sent_count == 1
        assert batches[2].last_error.startswith("sent: the provider's events show it accepted")
        assert session.get(Edition, revue).status == "sending"  # batch 3 is still to go
        batches[3].status = "uncertain"
    assert post(event("delivered", "c@x.org", ids["c@x.org"], revue, 4,
                      batch_id=str(batch_ids[3])))["batches_confirmed"] == 1
    with store.session() as session:
        edition = session.get(Edition, revue)
        assert edition.status == "sent" and edition.sent_at is not None
