"""Unsubscribe, double opt-in and the suppression list, through HTTP against the real app."""

from __future__ import annotations

import mailbox
import re
from email.header import decode_header, make_header
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from newsletter.audience.consent import make_confirm_token
from newsletter.audience.lists import load_lists, sync_lists
from newsletter.audience.subscribers import forget, import_file
from newsletter.store.db import Store
from newsletter.store.models import ConsentEvent, MailingList, Membership, Subscriber
from newsletter.tokens import make_unsubscribe_token
from newsletter.web import create_app

from .support.web import SECRET, Clock, web_config

NEWSROOM_SITE = "https://www.journal.example"  # the newsroom's own site, with a sign-up form
LISTS = """
[[lists]]
slug = "revue"
name = "Revue <de> presse"
description = "Chaque matin, l'essentiel <de> la presse."
from_name = "Revue"
from_address = "revue@example.org"
tags = ["maroc"]
language = "fr"

[[lists]]
slug = "digest"
name = "Digest"
from_name = "Digest"
from_address = "digest@example.org"
tags = ["maroc"]
language = "en"

[[lists]]
slug = "arabic"
name = "النشرة"
from_name = "النشرة"
from_address = "ar@example.org"
tags = ["maroc"]
language = "ar"
"""


@pytest.fixture(name="web")
def web_app(store: Store, make_config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    config = web_config(make_config, tmp_path, monkeypatch, LISTS, base_url="https://news.example.org",
                        signup_origins=[NEWSROOM_SITE])
    folder = tmp_path / "subscribers"
    with store.session() as session:
        sync_lists(session, load_lists(folder / "lists.toml"))
    clock = Clock()
    app = create_app(config, store, clock=clock)
    client = TestClient(app, base_url="https://news.example.org")
    client.clock = clock  # type: ignore[attr-defined]
    client.outbox = tmp_path / "outbox"  # type: ignore[attr-defined]
    return client


def add(store: Store, tmp_path: Path, slug: str, *emails: str) -> dict[str, int]:
    path = tmp_path / f"{slug}.csv"
    path.write_text("email\n" + "".join(f"{e}\n" for e in emails), encoding="utf-8")
    with store.session() as session:
        row = session.scalar(select(MailingList).where(MailingList.slug == slug))
        import_file(session, path, row)
        return {
            e: session.scalar(select(Subscriber.id).where(Subscriber.email == e)) for e in emails
        }


def statuses(store: Store, email: str) -> dict[str, str]:
    with store.session() as session:
        rows = session.execute(
            select(MailingList.slug, Membership.status)
            .join(Membership, Membership.list_id == MailingList.id)
            .join(Subscriber, Subscriber.id == Membership.subscriber_id)
            .where(Subscriber.email == email)
        )
        return dict(rows.all())


def history(store: Store) -> list[tuple[str, str]]:
    with store.session() as session:
        rows = session.execute(
            select(ConsentEvent.action, ConsentEvent.origin).order_by(ConsentEvent.id)
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


# -- unsubscribe ------------------------------------------------------------------------------


def test_get_shows_a_button_and_changes_nothing(web, store: Store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ids = add(store, tmp_path, "revue", "ann@example.org")
    token = make_unsubscribe_token(SECRET, ids["ann@example.org"], "revue")
    response = web.get(f"/unsubscribe/{token}")
    assert response.status_code == 200
    html = response.text
    assert '<html lang="fr" dir="ltr">' in html
    assert f'action="/unsubscribe/{token}"' in html and html.count("<button") == 1
    assert "Revue &lt;de&gt; presse" in html  # escaped
    assert statuses(store, "ann@example.org") == {"revue": "active"}


@pytest.mark.parametrize("language, said", [
    ("fr", "Ceci est une copie de la lettre"), ("en", "This is a copy"), ("ar", "هذه نسخة"),
])
def test_the_link_of_a_copy_addressed_to_nobody_says_where_to_go(  # type: ignore[no-untyped-def]
    web, language: str, said: str
) -> None:
    """The outbox's HTML copy and previews link to /unsubscribe, with no token (deliver.send)."""
    from newsletter.deliver.send import sample_unsubscribe_url

    path = urlsplit(sample_unsubscribe_url(web.app.state.config)).path
    response = web.get(path, headers={"Accept-Language": language})
    assert response.status_code == 200 and said in response.text


def test_one_click_post_with_the_exact_rfc8058_body(web, store: Store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ids = add(store, tmp_path, "revue", "ann@example.org")
    add(store, tmp_path, "digest", "ann@example.org")
    token = make_unsubscribe_token(SECRET, ids["ann@example.org"], "revue")
    response = web.post(
        f"/unsubscribe/{token}", content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200
    assert "set-cookie" not in response.headers
    assert statuses(store, "ann@example.org") == {"revue": "unsubscribed", "digest": "active"}
    assert ("unsubscribed", "one-click") in history(store)
    again = web.post(f"/unsubscribe/{token}", content=b"List-Unsubscribe=One-Click",
                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert again.status_code == 200  # idempotent
    assert history(store).count(("unsubscribed", "one-click")) == 1


def test_one_click_as_multipart(web, store: Store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ids = add(store, tmp_path, "revue", "ann@example.org")
    token = make_unsubscribe_token(SECRET, ids["ann@example.org"], "revue")
    response = web.post(f"/unsubscribe/{token}", files={"List-Unsubscribe": (None, "One-Click")})
    assert response.status_code == 200
    assert statuses(store, "ann@example.org") == {"revue": "unsubscribed"}


def test_form_post_and_all_lists(web, store: Store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ids = add(store, tmp_path, "revue", "ann@example.org", "bob@example.org")
    add(store, tmp_path, "digest", "ann@example.org", "bob@example.org")
    ann = make_unsubscribe_token(SECRET, ids["ann@example.org"], "revue")
    bob = make_unsubscribe_token(SECRET, ids["bob@example.org"], "digest")
    assert web.post(f"/unsubscribe/{ann}", data={"confirm": "1"}).status_code == 200
    assert statuses(store, "ann@example.org") == {"revue": "unsubscribed", "digest": "active"}
    response = web.post(f"/unsubscribe/{bob}", data={"confirm": "1", "all": "1"})
    assert response.status_code == 200 and "Done" in response.text  # the digest is in English
    assert statuses(store, "bob@example.org") == {"revue": "unsubscribed", "digest": "unsubscribed"}
    assert web.post(f"/unsubscribe/{ann}", content=b"").status_code == 400  # no choice made


@pytest.mark.parametrize("kind", ["forged", "tampered", "other-list", "unknown-list"])
def test_bad_tokens_change_nothing(web, store: Store, tmp_path: Path, kind: str) -> None:  # type: ignore[no-untyped-def]
    ids = add(store, tmp_path, "revue", "ann@example.org")
    sid = ids["ann@example.org"]
    good = make_unsubscribe_token(SECRET, sid, "revue")
    token = {
        "forged": make_unsubscribe_token("another-secret-of-some-length", sid, "revue"),
        "tampered": good[:-2] + ("AA" if not good.endswith("AA") else "BB"),
        # the payload of a token for another list with this token's signature
        "other-list": make_unsubscribe_token(SECRET, sid, "digest").split(".")[0]
        + "." + good.split(".")[1],
        "unknown-list": make_unsubscribe_token(SECRET, sid, "nope"),
    }[kind]
    for response in (
        web.get(f"/unsubscribe/{token}"),
        web.post(f"/unsubscribe/{token}", content=b"List-Unsubscribe=One-Click",
                 headers={"Content-Type": "application/x-www-form-urlencoded"}),
    ):
        assert response.status_code in (400, 404)
    assert statuses(store, "ann@example.org") == {"revue": "active"}
    assert history(store) == [("added", "csv:revue.csv")]


def test_arabic_pages_are_right_to_left(web, store: Store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ids = add(store, tmp_path, "arabic", "ann@example.org")
    token = make_unsubscribe_token(SECRET, ids["ann@example.org"], "arabic")
    html = web.get(f"/unsubscribe/{token}").text
    assert '<html lang="ar" dir="rtl">' in html and "إلغاء الاشتراك" in html


# -- double opt-in ----------------------------------------------------------------------------


def messages(outbox: Path) -> list[mailbox.mboxMessage]:
    path = outbox / "edition-0.mbox"
    if not path.exists():
        return []
    box = mailbox.mbox(path)
    try:
        return list(box)
    finally:
        box.close()


def confirm_links(outbox: Path) -> list[str]:
    links = []
    for msg in messages(outbox):
        text = msg.get_payload()[0].get_payload(decode=True).decode("utf-8")
        links.extend(re.findall(r"https://news\.example\.org(/confirm/\S+)", text))
    return links


def test_the_sign_up_page_names_and_describes_the_list(web) -> None:  # type: ignore[no-untyped-def]
    html = web.get("/subscribe?list=revue").text
    assert "Revue &lt;de&gt; presse" in html
    assert "Chaque matin, l&#39;essentiel &lt;de&gt; la presse." in html  # escaped, as the name
    assert 'class="description"' not in web.get("/subscribe?list=digest").text  # none given
    chooser = web.get("/subscribe", follow_redirects=False)  # no list named: choose in the archive
    assert chooser.status_code == 303 and chooser.headers["location"] == "/archive"
    assert web.get("/subscribe?list=nope").status_code == 404
    bad = web.post("/subscribe", data={"email": "nope", "list": "revue"})
    assert bad.status_code == 400 and "Chaque matin" in bad.text  # the form comes back whole


class _Inputs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: dict[str, dict[str, str | None]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "input":
            fields = dict(attrs)
            self.found[fields["name"] or ""] = fields


def inputs(html: str) -> dict[str, dict[str, str | None]]:
    """The form's inputs by name, each with its attributes (unescaped, as a browser reads them)."""
    parser = _Inputs()
    parser.feed(html)
    return parser.found


@pytest.mark.parametrize("slug, error", [
    ("revue", "Cette adresse électronique n’est pas valide."),
    ("arabic", "عنوان البريد الإلكتروني هذا غير صالح."),
])
def test_a_refused_sign_up_comes_back_as_the_reader_filled_it(  # type: ignore[no-untyped-def]
    web, store: Store, slug: str, error: str
) -> None:
    typed = {"email": "pas-une-adresse <b>", "name": 'Nour "<i>" El Idrissi', "list": slug}
    response = web.post("/subscribe", data=typed)
    assert response.status_code == 400
    html = response.text
    assert f'<p class="error" id="subscribe-error" role="alert">{error}</p>' in html
    fields = inputs(html)
    assert fields["email"]["value"] == "pas-une-adresse <b>"
    assert fields["email"]["aria-invalid"] == "true"
    assert fields["email"]["aria-describedby"] == "subscribe-error"
    assert fields["name"]["value"] == 'Nour "<i>" El Idrissi'
    assert fields["list"]["value"] == slug
    # escaped: the typed text is a value, never markup
    assert 'value="pas-une-adresse &lt;b&gt;"' in html
    assert 'value="Nour &#34;&lt;i&gt;&#34; El Idrissi"' in html and "<i>" not in html
    assert statuses(store, "pas-une-adresse <b>") == {} and messages(web.outbox) == []
    # the same form, first shown, is empty and accuses nothing
    first = web.get(f"/subscribe?list={slug}").text
    blank = inputs(first)
    assert blank["email"]["value"] == "" and blank["name"]["value"] == ""
    assert "aria-invalid" not in blank["email"] and 'role="alert"' not in first


def test_a_refused_json_sign_up_answers_as_before(web) -> None:  # type: ignore[no-untyped-def]
    bad = web.post("/subscribe", json={"email": "pas-une-adresse", "name": "Nour", "list": "revue"})
    assert bad.status_code == 400
    assert bad.json() == {"error": "Cette adresse électronique n’est pas valide.", "field": "email"}


def test_sign_up_without_a_list_offers_every_list(web) -> None:  # type: ignore[no-untyped-def]
    """A new site: nothing sent yet, and still every list to choose from (/ leads there too)."""
    for start in ("/subscribe", "/"):
        response = web.get(start)
        assert response.status_code == 200 and str(response.url).endswith("/archive")
        html = response.text
        for slug in ("revue", "digest", "arabic"):
            assert f'href="/subscribe?list={slug}">S’inscrire à cette lettre</a>' in html
        assert "Revue &lt;de&gt; presse" in html and 'lang="ar" dir="rtl">النشرة</span>' in html
        assert html.count("Aucune édition n’a encore été publiée.") == 3


def test_subscribe_then_confirm(web, store: Store) -> None:  # type: ignore[no-untyped-def]
    response = web.post("/subscribe", data={"email": " New@Example.ORG ", "list": "revue", "name": "Nour"})
    assert response.status_code == 200 and "confirmation" in response.text
    assert statuses(store, "New@example.org") == {"revue": "pending"}
    (link,) = confirm_links(web.outbox)
    (msg,) = messages(web.outbox)
    assert str(make_header(decode_header(msg["Subject"]))).startswith("Confirmez votre inscription")
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    page = web.get(link)
    assert page.status_code == 200 and "Revue &lt;de&gt; presse" in page.text
    assert '<a href="/archive/revue">Lire les éditions déjà parues</a>' in page.text
    assert statuses(store, "New@example.org") == {"revue": "active"}
    assert [a for a, _ in history(store)] == ["requested", "confirmed"]


def test_json_subscribe_and_same_answer_for_known_addresses(web, store: Store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    add(store, tmp_path, "digest", "known@example.org")
    answers = [
        web.post("/subscribe", json={"email": email, "list": "digest", "language": "en"})
        for email in ("known@example.org", "fresh@example.org")
    ]
    assert [a.status_code for a in answers] == [202, 202]
    assert answers[0].json() == answers[1].json()
    assert statuses(store, "known@example.org") == {"digest": "active"}
    assert len(confirm_links(web.outbox)) == 1  # only the new address gets mail
    bad = web.post("/subscribe", json={"email": "nope", "list": "digest"})
    assert bad.status_code == 400 and bad.json()["field"] == "email"
    assert web.post("/subscribe", json={"email": "a@example.org", "list": "x"}).status_code == 404


def test_the_newsrooms_own_site_may_post_the_sign_up_from_javascript(web, store: Store) -> None:  # type: ignore[no-untyped-def]
    preflight = {"Origin": NEWSROOM_SITE, "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "content-type"}
    allowed = web.options("/subscribe", headers=preflight)
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == NEWSROOM_SITE
    posted = web.post("/subscribe", json={"email": "lina@example.org", "list": "digest"},
                      headers={"Origin": NEWSROOM_SITE})
    assert posted.status_code == 202 and posted.headers["access-control-allow-origin"] == NEWSROOM_SITE
    assert statuses(store, "lina@example.org") == {"digest": "pending"}
    # another site gets no permission, and a bare OPTIONS is no way in
    other = web.options("/subscribe", headers={**preflight, "Origin": "https://elsewhere.example"})
    assert other.status_code == 400 and "access-control-allow-origin" not in other.headers
    assert web.options("/subscribe").status_code == 405


def test_subscribe_is_throttled(web, store: Store) -> None:  # type: ignore[no-untyped-def]
    for _ in range(5):
        assert web.post("/subscribe", data={"email": "flood@example.org", "list": "revue"}).status_code == 200
    assert len(confirm_links(web.outbox)) == 3  # per address: the rest answered alike, unsent
    codes = [
        web.post("/subscribe", data={"email": f"p{i}@example.org", "list": "revue"}).status_code
        for i in range(8)
    ]
    assert codes.count(429) == 3  # 10 per client per window


def test_expired_and_tampered_confirm_links_change_nothing(web, store: Store) -> None:  # type: ignore[no-untyped-def]
    web.post("/subscribe", data={"email": "late@example.org", "list": "revue"})
    (link,) = confirm_links(web.outbox)
    tampered = web.get(link[:-3] + "xyz")
    assert tampered.status_code == 400
    web.clock.now += 8 * 24 * 3600
    expired = web.get(link)
    assert expired.status_code == 410 and "expiré" in expired.text
    assert statuses(store, "late@example.org") == {"revue": "pending"}


def test_an_old_confirm_link_does_not_undo_an_unsubscribe(web, store: Store) -> None:  # type: ignore[no-untyped-def]
    web.post("/subscribe", data={"email": "u@example.org", "list": "revue"})
    (link,) = confirm_links(web.outbox)
    assert web.get(link).status_code == 200
    with store.session() as session:
        sid = session.scalar(select(Subscriber.id).where(Subscriber.email == "u@example.org"))
    web.post(f"/unsubscribe/{make_unsubscribe_token(SECRET, sid, 'revue')}", data={"confirm": "1"})
    assert web.get(link).status_code == 409
    assert statuses(store, "u@example.org") == {"revue": "unsubscribed"}
    # a new sign-up, confirmed with its new link, is the person's own new consent
    web.clock.now += 60
    issued = int(web.clock.now * 1000)
    fresh = make_confirm_token(SECRET, sid, "revue", issued)
    web.post("/subscribe", data={"email": "u@example.org", "list": "revue"})
    assert web.get(f"/confirm/{fresh}").status_code == 200
    assert statuses(store, "u@example.org") == {"revue": "active"}


def test_forgotten_address_is_never_added_again(web, store: Store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    add(store, tmp_path, "revue", "gone@example.org")
    with store.session() as session:
        assert forget(session, "gone@example.org") == 1
    answer = web.post("/subscribe", data={"email": "gone@example.org", "list": "revue"})
    assert answer.status_code == 200
    assert confirm_links(web.outbox) == []
    add(store, tmp_path, "digest", "gone@example.org")
    assert statuses(store, "gone@example.org") == {}
    with store.session() as session:
        assert session.scalar(select(Subscriber.id).where(Subscriber.email == "gone@example.org")) is None
    assert ("forgotten", "cli") in history(store)
