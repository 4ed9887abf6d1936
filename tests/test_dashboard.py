"""The dashboard's reading of the store (newsletter.dashboard), on SQLite and PostgreSQL: which
editions each list shows and in what order, delivery progress, and how a send is counted."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from newsletter.audience.lists import ListConfig, sync_lists
from newsletter.dashboard import list_cards, recent_sends
from newsletter.store.db import Store
from newsletter.store.models import (
    Article,
    ConsentEvent,
    DeliveryBatch,
    Edition,
    EditionItem,
    ProviderEvent,
    Subscriber,
)

REVUE = ListConfig(slug="revue", name="Revue", from_name="R", from_address="r@example.org",
                   tags=["economie"], schedule="0 7 * * *", timezone="Africa/Casablanca")
DIGEST = ListConfig(slug="digest", name="Digest", from_name="D", from_address="d@example.org",
                    tags=["economie"], language="en", schedule="30 6 * * mon-fri", timezone="Europe/Paris",
                    review="auto")
NOW = datetime(2026, 12, 1, 5, 0, tzinfo=UTC)  # a Tuesday


def _lists(store: Store) -> dict[str, int]:
    with store.session() as session:
        rows = sync_lists(session, [REVUE, DIGEST])
        session.commit()
        return {slug: row.id for slug, row in rows.items()}


def _edition(store: Store, list_id: int, day: date, status: str, **values: object) -> int:
    with store.session() as session:
        edition = Edition(list_id=list_id, date=day, status=status, **values)
        session.add(edition)
        session.commit()
        return edition.id


def test_lists_show_their_next_times_in_their_zone_and_drafts_come_first(store: Store) -> None:
    ids = _lists(store)
    old = _edition(store, ids["digest"], date(2026, 11, 20), "draft")  # beyond the week: left out
    draft = _edition(store, ids["digest"], date(2026, 12, 1), "draft")
    approved = _edition(store, ids["revue"], date(2026, 12, 1), "approved")
    with store.session() as session:
        cards = list_cards(session, [REVUE, DIGEST], NOW)
    assert [c.slug for c in cards] == ["digest", "revue"]  # the earlier send first
    digest, revue = cards
    assert not digest.awaiting_review  # review = "auto": its draft goes out as built
    assert [e.id for e in digest.editions] == [draft] and old not in [e.id for e in revue.editions]
    assert [e.id for e in revue.editions] == [approved] and not revue.awaiting_review
    assert revue.next_send.isoformat() == "2026-12-01T07:00:00+01:00"
    assert revue.next_draft.isoformat() == "2026-12-01T06:00:00+01:00"
    assert digest.next_send.isoformat() == "2026-12-01T06:30:00+01:00"
    assert str(digest.next_send.tzinfo) == "Europe/Paris"


def test_held_first_then_drafts_and_a_sending_edition_with_its_progress(store: Store) -> None:
    ids = _lists(store)
    sent = _edition(store, ids["revue"], date(2026, 11, 28), "sent", sent_at=NOW - timedelta(days=3))
    draft = _edition(store, ids["revue"], date(2026, 12, 1), "draft")
    held = _edition(store, ids["revue"], date(2026, 11, 30), "held")
    sending = _edition(store, ids["revue"], date(2026, 11, 29), "sending")
    with store.session() as session:
        for number, (status, count) in enumerate([("sent", 3), ("sent", 2), ("pending", 0), ("failed", 0)], 1):
            session.add(DeliveryBatch(edition_id=sending, number=number, first_subscriber_id=number,
                                      last_subscriber_id=number, recipients=[10 * number + i for i in range(3)],
                                      status=status, sent_count=count))
        session.add(DeliveryBatch(edition_id=sent, number=1, first_subscriber_id=1, last_subscriber_id=4,
                                  recipients=[1, 2, 3, 4], status="sent", sent_count=4))
        session.commit()
        (revue,) = list_cards(session, [REVUE], NOW)
    assert [(e.id, e.status) for e in revue.editions] == [
        (held, "held"), (draft, "draft"), (sending, "sending")]
    progress = revue.editions[2].progress
    assert (progress.sent, progress.planned, progress.batches_sent, progress.batches_total) == (5, 12, 2, 4)
    assert (progress.percent, progress.problems) == (42, 1)
    assert revue.last_sent is not None and revue.last_sent.id == sent and revue.last_sent.progress.sent == 4


def _subscribers(store: Store, *emails: str) -> dict[str, int]:
    with store.session() as session:
        session.add_all([Subscriber(email=e) for e in emails])
        session.commit()
        return dict(session.execute(select(Subscriber.email, Subscriber.id)).all())


def test_a_send_counts_delivered_bounces_complaints_and_unsubscribes(store: Store) -> None:
    ids = _lists(store)
    people = _subscribers(store, *(f"p{i}@example.org" for i in range(8)))
    first_at, second_at = NOW - timedelta(days=2), NOW - timedelta(days=1)
    first = _edition(store, ids["revue"], date(2026, 11, 29), "sent", sent_at=first_at)
    second = _edition(store, ids["revue"], date(2026, 11, 30), "sent", sent_at=second_at)
    other = _edition(store, ids["digest"], date(2026, 11, 30), "sent", sent_at=second_at)

    def event(n: int, edition: int, kind: str, person: int | None, **payload: object) -> ProviderEvent:
        email = f"p{person}@example.org" if person is not None else ""
        return ProviderEvent(provider="sendgrid", event_id=f"e{n}", type=kind, email=email,
                             subscriber_id=people[email] if email else None, edition_id=edition,
                             payload={"event": kind, **payload})

    def link(person: int, list_id: int, when: datetime, origin: str = "one-click") -> ConsentEvent:
        return ConsentEvent(subscriber_id=people[f"p{person}@example.org"], list_id=list_id,
                            action="unsubscribed", status="unsubscribed", origin=origin, occurred_at=when)

    with store.session() as session:
        session.add_all([
            DeliveryBatch(edition_id=first, number=1, first_subscriber_id=1, last_subscriber_id=8,
                          recipients=list(people.values()), status="sent", sent_count=8),
            DeliveryBatch(edition_id=second, number=1, first_subscriber_id=1, last_subscriber_id=5,
                          recipients=list(people.values())[:5], status="sent", sent_count=5),
            DeliveryBatch(edition_id=second, number=2, first_subscriber_id=6, last_subscriber_id=8,
                          recipients=list(people.values())[5:], status="uncertain", sent_count=0),
            event(1, first, "bounce", 0, type="bounce"),
            event(2, first, "bounce", 0, type="bounce"),  # the same person again: counted once
            event(3, first, "bounce", 1, type="blocked"),  # temporary: not a bounce
            event(4, first, "dropped", 2, reason="Bounced Address"),
            event(5, first, "spamreport", 3),
            event(6, first, "delivered", 4),
            event(7, second, "unsubscribe", 5),
            # a forgotten person's event keeps its type and loses the rest
            ProviderEvent(provider="sendgrid", event_id="e8", type="bounce", email="", subscriber_id=None,
                          edition_id=second, payload={}),
            link(6, ids["revue"], first_at + timedelta(hours=5)),  # after the first edition
            link(7, ids["revue"], second_at + timedelta(hours=1), origin="form"),  # after the second
            link(5, ids["revue"], second_at + timedelta(hours=2)),  # same person as e7: once
            link(4, ids["revue"], first_at - timedelta(hours=1)),  # before either: not counted
            link(3, ids["digest"], second_at + timedelta(hours=1)),  # another list
            ConsentEvent(subscriber_id=people["p2@example.org"], list_id=ids["revue"], action="unsubscribed",
                         status="unsubscribed", origin="webhook:sendgrid", occurred_at=first_at + timedelta(hours=1)),
        ])
        session.commit()
        sends = {s.edition_id: s for s in recent_sends(session)}
    assert list(sends) == [other, second, first]  # newest first (same day: the later one)
    counted = {k: (s.delivered, s.bounced, s.complained, s.unsubscribed) for k, s in sends.items()}
    assert counted == {first: (8, 2, 1, 1), second: (5, 1, 0, 2), other: (0, 0, 0, 1)}


def test_messages_sent_add_up_the_batches_sent_at_once_and_after_a_retry(store: Store) -> None:
    from newsletter.report import recent_editions

    ids = _lists(store)
    retried = _edition(store, ids["revue"], date(2026, 11, 29), "sent", sent_at=NOW - timedelta(days=2))
    plain = _edition(store, ids["revue"], date(2026, 11, 30), "sent", sent_at=NOW - timedelta(days=1))
    later = NOW - timedelta(days=2, minutes=-5)  # a batch put back once keeps its not_before
    batches = [(retried, 10, None), (retried, 7, later), (retried, 1, later),
               (plain, 6, None), (plain, 7, None)]
    with store.session() as session:
        for number, (edition, count, not_before) in enumerate(batches, 1):
            session.add(DeliveryBatch(
                edition_id=edition, number=number, first_subscriber_id=number,
                last_subscriber_id=number, recipients=list(range(count)), status="sent",
                sent_count=count, not_before=not_before,
            ))
        session.commit()
        states = {e.id: e for e in recent_editions(session, ids=[retried, plain])}
        (card,) = list_cards(session, [REVUE], NOW)
    assert (states[retried].recipients_sent, states[plain].recipients_sent) == (18, 13)
    assert states[retried].batches == {"sent": 3} and states[plain].batches == {"sent": 2}
    assert card.last_sent is not None and card.last_sent.progress.sent == 13


def _article(session) -> int:  # noqa: ANN001
    article = Article(url="https://wire.example/1", title="Un article", text="Un texte.", content_hash="h1")
    session.add(article)
    session.flush()
    return article.id


def test_attention_lists_due_editions_left_unsent_past_their_grace_window(store: Store) -> None:
    from newsletter.report import attention_editions

    ids = _lists(store)  # revue (required) sends at 07:00 Casablanca: 06:00 UTC, window to 06:30
    day = date(2026, 11, 30)
    approved = _edition(store, ids["revue"], day, "approved")
    held = _edition(store, ids["revue"], date(2026, 11, 29), "held")
    draft = _edition(store, ids["digest"], day, "draft")  # digest: auto, 06:30 Paris = 05:30 UTC
    _edition(store, ids["digest"], date(2026, 11, 27), "draft")  # no item, send_empty off: no mail
    required = _edition(store, ids["revue"], date(2026, 11, 28), "draft")  # gets held, not sent
    with store.session() as session:
        session.add(EditionItem(edition_id=draft, article_id=_article(session), section="eco",
                                position=1, included=True))
        session.commit()
        before = {e.id: e for e in attention_editions(session, [REVUE, DIGEST], datetime(2026, 11, 30, 6, 1, tzinfo=UTC))}
        after = {e.id: e for e in attention_editions(session, [REVUE, DIGEST], datetime(2026, 11, 30, 6, 31, tzinfo=UTC))}
        plain = attention_editions(session)  # without the lists: held and uncertain only
    assert set(before) == {held, draft} and before[draft].overdue and not before[held].overdue
    assert set(after) == {held, draft, approved} and after[approved].overdue
    assert after[approved].send_deadline == datetime(2026, 11, 30, 6, 30, tzinfo=UTC)
    assert after[held].send_deadline == datetime(2026, 11, 29, 6, 30, tzinfo=UTC)
    assert required not in after and [e.id for e in plain] == [held]
