"""Whatever happens, in any order, a suppressed address is never among a send's recipients,
and a person (their address in any case) is on a list at most once."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, event, select
from sqlalchemy.orm import Session

from newsletter.audience import consent, events
from newsletter.audience.lists import ListConfig, sync_lists
from newsletter.audience.subscribers import Member, forget, sync_members
from newsletter.store.models import Base, Membership, Subscriber

SECRET = "a-test-secret-that-is-long-enough"
# Who an address is: the addresses below differ only in the case of ASCII letters.
email_key = str.lower
EMAILS = ["a@x.org", "A@x.org", "b@x.org", "B.b@x.org", "b.B@x.org", "c@x.org"]
LISTS = ["one", "two"]

operation = st.one_of(
    st.tuples(st.just("import"), st.sampled_from(LISTS), st.lists(st.sampled_from(EMAILS), max_size=3)),
    st.tuples(st.just("subscribe"), st.sampled_from(LISTS), st.sampled_from(EMAILS)),
    st.tuples(st.just("confirm"), st.sampled_from(LISTS), st.sampled_from(EMAILS)),
    st.tuples(st.just("confirm_old_link"), st.sampled_from(LISTS), st.sampled_from(EMAILS)),
    st.tuples(st.just("unsubscribe"), st.sampled_from(LISTS), st.sampled_from(EMAILS)),
    st.tuples(st.just("unsubscribe_all"), st.sampled_from(LISTS), st.sampled_from(EMAILS)),
    st.tuples(st.sampled_from(["bounce", "spamreport", "unsubscribe_event"]),
              st.sampled_from(LISTS), st.sampled_from(EMAILS)),
    st.tuples(st.just("forget"), st.just(""), st.sampled_from(EMAILS)),
)


def _session() -> Session:
    engine = create_engine("sqlite://")
    event.listen(engine, "connect", lambda conn, _: conn.execute("PRAGMA foreign_keys=ON"))
    Base.metadata.create_all(engine)
    return Session(engine)


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSLETTER_SECRET_KEY", SECRET)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(operation, max_size=12))
def test_suppressed_addresses_are_never_recipients(ops: list[tuple[str, str, object]]) -> None:
    start_ms = int(time.time() * 1000) - 1000  # links mailed before anything below happened
    session = _session()
    rows = sync_lists(session, [
        ListConfig(slug=s, name=s, from_name=s, from_address="n@x.org", tags=["t"]) for s in LISTS
    ])
    forgotten: set[str] = set()
    blocked: set[tuple[str, str]] = set()  # bounced or complained on that list: final
    unsubscribed: set[tuple[str, str]] = set()  # until the person confirms a newer link
    seq = 0

    def sid(email: str) -> int | None:
        return next((i for i, e in session.execute(select(Subscriber.id, Subscriber.email))
                     if email_key(e) == email_key(email)), None)

    def lists_of(email: str) -> set[str]:
        names = {row.id: s for s, row in rows.items()}
        return {
            names[i] for i in session.scalars(
                select(Membership.list_id).where(Membership.subscriber_id == sid(email))
            )
        }

    def spelled(email: str) -> str:
        """EMAIL as the store spells it: what a mail went to, and a provider's event names."""
        stored = session.scalar(select(Subscriber.email).where(Subscriber.id == sid(email)))
        return stored or email

    for kind, slug, arg in ops:
        seq += 1
        if kind == "import":
            sync_members(session, rows[slug], [Member(e) for e in arg], "csv:x.csv")  # type: ignore[union-attr]
            continue
        email = str(arg)
        who = email_key(email)
        if kind == "forget":
            forget(session, email)
            forgotten.add(who)
        elif kind == "subscribe":
            consent.request_subscription(session, rows[slug], email, secret=SECRET)
        elif kind in ("confirm", "confirm_old_link") and sid(email) is not None:
            issued = int(time.time() * 1000) + 1 if kind == "confirm" else start_ms
            before = session.scalar(select(Membership.status).where(
                Membership.subscriber_id == sid(email), Membership.list_id == rows[slug].id))
            membership = consent.confirm(session, sid(email), slug, issued)
            if kind == "confirm" and membership is not None and membership.status == "active":
                unsubscribed.discard((slug, who))
            if kind == "confirm_old_link" and before == "unsubscribed":
                assert membership is not None and membership.status == "unsubscribed"
        elif kind in ("unsubscribe", "unsubscribe_all") and sid(email) is not None:
            changed = consent.unsubscribe(session, sid(email), slug, all_lists=kind.endswith("all"),
                                          origin="form")
            for s in lists_of(email) & set(LISTS if kind.endswith("all") else [slug]):
                unsubscribed.add((s, who))
            assert changed.changed >= 0
        elif kind in ("bounce", "spamreport", "unsubscribe_event"):
            name = "unsubscribe" if kind == "unsubscribe_event" else kind
            events.record_events(session, [{
                "event": name, "type": "bounce", "email": spelled(email), "sg_event_id": f"e{seq}",
            }])
            for s in lists_of(email):  # no edition in the event: every list of the address
                (unsubscribed if name == "unsubscribe" else blocked).add((s, who))
        session.flush()
        active = [
            (slug_, email_key(email_))
            for slug_, email_ in session.execute(
                select(Membership.list_id, Subscriber.email)
                .join(Subscriber, Subscriber.id == Membership.subscriber_id)
                .where(Membership.status == "active")
            )
        ]
        assert len(set(active)) == len(active), (ops, active)  # nobody gets an edition twice
        people = [email_key(e) for e in session.scalars(select(Subscriber.email))]
        assert len(set(people)) == len(people), (ops, people)
        names = {row.id: s for s, row in rows.items()}
        for list_id, address in active:
            pair = (names[list_id], address)
            assert address not in forgotten, (ops, pair)
            assert pair not in blocked, (ops, pair)
            assert pair not in unsubscribed, (ops, pair)
    session.close()
    session.get_bind().dispose()
