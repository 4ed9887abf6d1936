"""The dashboard, subscribers and sources pages over HTTP, on SQLite and PostgreSQL.

Each page and action through the real app with a logged-in editor; every change refused
without its CSRF token; collection writing the fetch history the source page shows, against a
feed served on loopback.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from markupsafe import escape
from sqlalchemy import func, select, update
from starlette.testclient import TestClient

from newsletter.accounts import add_editor
from newsletter.audience import consent
from newsletter.audience.lists import load_lists, sync_lists
from newsletter.audience.members import Member
from newsletter.audience.subscribers import sync_members
from newsletter.collect.opml import read_opml
from newsletter.collect.run import collect
from newsletter.collect.sources import PROBLEMS
from newsletter.collect.store import import_source
from newsletter.store.db import Store
from newsletter.store.models import (
    ConsentEvent,
    DeliveryBatch,
    Edition,
    MailingList,
    Membership,
    ProviderEvent,
    Source,
    SourceFetch,
    Subscriber,
)
from newsletter.web import create_app
from newsletter.web.i18n import translations

from .conftest import ROOT
from .editor_support import (  # noqa: F401 (fixtures)
    BASE_URL,
    LISTS,
    SECRET,
    Clock,
    csrf_of,
    editor_web_fixture,
    log_in,
    logged_in_fixture,
)
from .support.httpserver import LocalServer, Reply, Request, http_server  # noqa: F401 (fixture)
from .support.web import web_config

EN = {"Accept-Language": "en"}
# 2026-12-01 05:00 UTC is 06:00 in Casablanca (UTC+1): the revue list sends at 07:00 local.
MORNING = datetime(2026, 12, 1, 5, 0, tzinfo=UTC)


def _list_id(store: Store, slug: str) -> int:
    with store.session() as session:
        return session.scalar(select(MailingList.id).where(MailingList.slug == slug))


def _edition(store: Store, slug: str, day: date, status: str, **values: object) -> int:
    with store.session() as session:
        edition = Edition(list_id=_list_id(store, slug), date=day, status=status, **values)
        session.add(edition)
        session.commit()
        return edition.id


def _members(store: Store, slug: str, *rows: tuple[str, str]) -> dict[str, int]:
    with store.session() as session:
        mailing_list = session.scalar(select(MailingList).where(MailingList.slug == slug))
        sync_members(session, mailing_list, [Member(e, n) for e, n in rows], "csv:test.csv")
        session.commit()
        return dict(session.execute(select(Subscriber.email, Subscriber.id)).all())


def _section(html: str, marker: str) -> str:
    """The element of HTML that starts with the tag holding MARKER (an attribute)."""
    start = html.index(marker)
    tag = html.rfind("<", 0, start)
    name = re.match(r"<(\w+)", html[tag:]).group(1)
    end = html.index(f"</{name}>", start)
    return html[tag:end]


# -- the dashboard -------------------------------------------------------------------------------


def test_dashboard_shows_each_list_with_its_next_send_in_local_time_drafts_first(logged_in: TestClient) -> None:
    logged_in.clock.now = MORNING.timestamp()
    store = logged_in.store
    draft = _edition(store, "nashra", date(2026, 12, 1), "draft", subject="نشرة الصباح")
    page = logged_in.get("/editor", headers=EN)
    assert page.status_code == 200
    html = page.text
    # the list with a draft to review comes first
    assert html.index('data-list="nashra"') < html.index('data-list="revue"')
    revue = _section(html, 'data-list="revue"')
    assert "Tue 1 Dec 07:00" in revue and "Africa/Casablanca" in revue
    assert "06:00" in revue  # the draft, lead_minutes (60) before
    assert "No edition in progress." in revue
    nashra = _section(html, 'data-list="nashra"')
    assert f'href="/editor/editions/{draft}"' in nashra and "Draft: awaiting review" in nashra
    assert "نشرة الصباح" in nashra
    assert '<link rel="stylesheet" href="/static/pages.css">' in html
    assert logged_in.get("/static/pages.css").status_code == 200


def test_dashboard_shows_a_held_edition_and_a_sending_one_with_progress(logged_in: TestClient) -> None:
    logged_in.clock.now = MORNING.timestamp()
    store = logged_in.store
    held = _edition(store, "revue", date(2026, 11, 30), "held")
    sending = _edition(store, "nashra", date(2026, 12, 1), "sending")
    with store.session() as session:
        session.add_all([
            DeliveryBatch(edition_id=sending, number=1, first_subscriber_id=1, last_subscriber_id=2,
                          recipients=[1, 2], status="sent", sent_count=2),
            DeliveryBatch(edition_id=sending, number=2, first_subscriber_id=3, last_subscriber_id=4,
                          recipients=[3, 4], status="sent", sent_count=1),
            DeliveryBatch(edition_id=sending, number=3, first_subscriber_id=5, last_subscriber_id=6,
                          recipients=[5, 6], status="pending"),
            DeliveryBatch(edition_id=sending, number=4, first_subscriber_id=7, last_subscriber_id=8,
                          recipients=[7, 8], status="uncertain"),
        ])
        session.commit()
    html = logged_in.get("/editor", headers=EN).text
    revue = _section(html, 'data-list="revue"')
    assert f'href="/editor/editions/{held}"' in revue and ">Held<" in revue
    assert "Not approved by its send time" in revue
    nashra = _section(html, 'data-list="nashra"')
    assert f'href="/editor/editions/{sending}"' in nashra and ">Sending<" in nashra
    assert "3 of 8 recipients sent, batches 2/4" in nashra
    assert '<progress max="100" value="38">' in nashra
    assert "Failed or uncertain batches: 1." in nashra
    # a sending edition is also in the recent sends, with what has gone so far
    row = _section(html, f'data-edition="{sending}"')
    assert re.search(r'<td class="num">3</td>', row)


def test_a_draft_of_a_list_sent_without_review_awaits_no_one(  # type: ignore[no-untyped-def]
    store: Store, make_config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # nashra, the last list of LISTS, goes out as built: review = "auto"
    config = web_config(make_config, tmp_path, monkeypatch, LISTS + 'review = "auto"\n', base_url=BASE_URL)
    with store.session() as session:
        sync_lists(session, load_lists(tmp_path / "subscribers" / "lists.toml"))
        add_editor(session, "salma", "correct horse battery")
        session.commit()
    clock = Clock()
    client = TestClient(create_app(config, store, clock=clock), base_url=BASE_URL)
    assert log_in(client).status_code == 303
    clock.now = MORNING.timestamp()
    auto = _edition(store, "nashra", date(2026, 12, 1), "draft")
    reviewed = _edition(store, "revue", date(2026, 12, 1), "draft")
    html = client.get("/editor", headers=EN).text
    nashra, revue = _section(html, 'data-list="nashra"'), _section(html, 'data-list="revue"')
    assert f'href="/editor/editions/{auto}"' in nashra and "sent as built, without review" in nashra
    assert "Draft: goes out as built" in nashra and "awaiting review" not in nashra
    assert not nashra.startswith('<article class="card attention"')
    assert f'href="/editor/editions/{reviewed}"' in revue and "Draft: awaiting review" in revue
    assert revue.startswith('<article class="card attention"')
    french = _section(client.get("/editor").text, 'data-list="nashra"')
    assert "Brouillon\u00a0: sera envoyé tel quel" in french and "à relire" not in french
    # a held edition waits for an editor whatever the list's setting (it was held before)
    _edition(store, "nashra", date(2026, 11, 30), "held")
    held = _section(client.get("/editor", headers=EN).text, 'data-list="nashra"')
    assert held.startswith('<article class="card attention"')


def test_dashboard_recent_sends_count_delivered_bounced_and_unsubscribed(logged_in: TestClient) -> None:
    store = logged_in.store
    ids = _members(store, "revue", ("a@example.org", ""), ("b@example.org", ""), ("c@example.org", ""))
    sent_at = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)
    edition = _edition(store, "revue", date(2026, 11, 30), "sent", sent_at=sent_at)
    with store.session() as session:
        session.add(DeliveryBatch(edition_id=edition, number=1, first_subscriber_id=1, last_subscriber_id=3,
                                  recipients=list(ids.values()), status="sent", sent_count=3))
        session.add(ProviderEvent(provider="sendgrid", event_id="e1", type="bounce", email="a@example.org",
                                  subscriber_id=ids["a@example.org"], edition_id=edition,
                                  payload={"event": "bounce", "type": "bounce"}))
        session.commit()
    with store.session() as session:
        consent.unsubscribe(session, ids["b@example.org"], "revue", origin="one-click")
        session.execute(update(ConsentEvent).where(ConsentEvent.action == "unsubscribed")
                        .values(occurred_at=sent_at + timedelta(hours=2)))
        session.commit()
    html = logged_in.get("/editor", headers=EN).text
    row = _section(html, f'data-edition="{edition}"')
    cells = re.findall(r'<td class="num">(\d+)</td>', row)
    assert cells == ["3", "1", "0", "1"]  # delivered, bounced, complaints, unsubscribed


def test_dashboard_lists_sources_with_their_last_error(logged_in: TestClient) -> None:
    with logged_in.store.session() as session:
        session.add(Source(name="agence", kind="feed", url="https://agence.example/rss", origin="web",
                           last_error="https://agence.example/rss: HTTP 500", error_count=2,
                           last_fetched_at=datetime(2026, 12, 1, 4, 0, tzinfo=UTC)))
        session.commit()
    html = logged_in.get("/editor", headers=EN).text
    assert "https://agence.example/rss: HTTP 500" in html and "1 Dec 2026 04:00 UTC" in html


# -- subscribers -------------------------------------------------------------------------------


def test_search_by_address_or_name_any_case_paginated(logged_in: TestClient) -> None:
    store = logged_in.store
    _members(store, "revue", ("elodie.dupont@example.org", "Élodie Dupont"),
             ("karim@example.ma", "Karim Benali"), ("Z.Alaoui@example.ma", "Zineb Alaoui"))
    found = logged_in.get("/editor/subscribers", params={"q": "DUPONT"}, headers=EN).text
    assert "elodie.dupont@example.org" in found and "karim@example.ma" not in found
    assert "Subscribers found: 1" in found
    # by name, with Unicode case folding (É / é), and a part of the local part in any case
    assert "elodie.dupont@example.org" in logged_in.get("/editor/subscribers", params={"q": "élodie"}).text
    assert "Z.Alaoui@example.ma" in logged_in.get("/editor/subscribers", params={"q": "z.alaoui"}).text
    # LIKE wildcards are literal
    assert "Subscribers found: 0" in logged_in.get("/editor/subscribers", params={"q": "%"}, headers=EN).text
    _members(store, "nashra", *[(f"lecteur{i:02d}@example.org", f"Lecteur {i}") for i in range(60)])
    first = logged_in.get("/editor/subscribers", params={"q": "LECTEUR"}, headers=EN).text
    assert "Subscribers found: 60" in first and "page 1 of 2" in first
    assert first.count("/editor/subscribers/") - first.count("/editor/subscribers/import") == 50
    assert 'rel="next" href="/editor/subscribers?q=LECTEUR&amp;page=2"' in first
    second = logged_in.get("/editor/subscribers", params={"q": "LECTEUR", "page": "2"}, headers=EN).text
    assert "lecteur59@example.org" in second and "lecteur00@example.org" not in second


def test_subscriber_page_shows_lists_statuses_and_consent_history(logged_in: TestClient) -> None:
    store = logged_in.store
    ids = _members(store, "revue", ("salma.reader@example.org", "Salma"))
    with store.session() as session:
        mailing_list = session.scalar(select(MailingList).where(MailingList.slug == "nashra"))
        sync_members(session, mailing_list, [Member("salma.reader@example.org")], "csv:arabe.csv")
        consent.unsubscribe(session, ids["salma.reader@example.org"], "revue", origin="one-click")
        session.commit()
    page = logged_in.get(f"/editor/subscribers/{ids['salma.reader@example.org']}", headers=EN)
    assert page.status_code == 200
    html = page.text
    revue = _section(html, 'data-list="revue"')
    assert "Unsubscribed" in revue and "csv:test.csv" in revue
    assert "Active" in _section(html, 'data-list="nashra"')
    history = html[html.index("Consent history"):]
    assert history.index("one-click") < history.index("csv:test.csv")  # newest first
    assert "csv:arabe.csv" in history and "Added" in history
    assert logged_in.get("/editor/subscribers/999999").status_code == 404


# Past PostgreSQL's INTEGER ids, past SQLite's 64-bit ones, past anything.
TOO_LARGE = ("2147483648", "9223372036854775808", "99999999999999999999999")


def test_an_id_too_large_for_the_database_is_unknown_like_any_other(logged_in: TestClient) -> None:
    token = {"csrf_token": logged_in.csrf}
    for number in TOO_LARGE:
        for method, path in [
            ("GET", "/editor/editions/{}"), ("GET", "/editor/editions/{}/preview"),
            ("GET", "/editor/editions/{}/email.html"), ("POST", "/editor/editions/{}/approve"),
            ("POST", "/editor/editions/{}/items/1/text"),
            ("GET", "/editor/sources/{}"), ("POST", "/editor/sources/{}"),
            ("POST", "/editor/sources/{}/enabled"), ("GET", "/editor/subscribers/{}"),
        ]:
            data = token if method == "POST" else None
            unknown = logged_in.request(method, path.format(999999), data=data)
            answer = logged_in.request(method, path.format(number), data=data)
            assert answer.status_code == unknown.status_code == 404, (path, number)
            assert answer.text == unknown.text.replace("999999", number), (path, number)
        script = logged_in.post(f"/editor/editions/{number}/approve", data=token,
                                headers={"Accept": "application/json"})
        assert script.status_code == 404 and script.json() == {"error": f"Il n’y a pas d’édition {number}."}


def test_a_page_number_past_any_subscriber_shows_the_first_page(logged_in: TestClient) -> None:
    _members(logged_in.store, "revue", *[(f"lecteur{i:02d}@example.org", "") for i in range(60)])
    for page in (*TOO_LARGE, "0", "-3", "deux"):
        found = logged_in.get("/editor/subscribers", params={"page": page}, headers=EN)
        assert found.status_code == 200 and "page 1 of 2" in found.text, page
        assert "lecteur00@example.org" in found.text, page
    last = logged_in.get("/editor/subscribers", params={"page": "2147483647"}, headers=EN)
    assert last.status_code == 200 and "page 2147483647 of 2" in last.text  # past the end: empty


CSV = (
    b"email,name,language\n"
    b"nouvelle@example.org,Nouvelle Lectrice,fr\n"
    b"pas-une-adresse,Personne,fr\n"
    b"parti@example.org,Parti,fr\n"
    b"nouvelle@example.org,,\n"
)


def test_csv_import_reports_each_line_and_never_reactivates_an_unsubscribe(logged_in: TestClient) -> None:
    store = logged_in.store
    ids = _members(store, "revue", ("parti@example.org", "Parti"))
    with store.session() as session:
        consent.unsubscribe(session, ids["parti@example.org"], "revue", origin="form")
        session.commit()
    response = logged_in.post(
        "/editor/subscribers/import", headers=EN,
        data={"csrf_token": logged_in.csrf, "list": "revue"},
        files={"file": ("abonnés de novembre.csv", CSV, "text/csv")},
    )
    assert response.status_code == 200, response.text
    report = _section(response.text, 'id="import-report"')
    assert "Added: 1" in report and "Kept unsubscribed or suppressed: 1" in report and "Rows refused: 1" in report
    lines = re.findall(r'<tr class="(\w+)">\s*<td class="num">(\d+)</td>\s*<td>(.*?)</td>', report, re.DOTALL)
    assert [(kind, line) for kind, line, _ in lines] == [("refused", "3"), ("warning", "5")]
    assert "pas-une-adresse" in lines[0][2] and "already on line 2" in lines[1][2]
    # the same report in French (the interface's default), the problems too
    french = logged_in.post(
        "/editor/subscribers/import",
        data={"csrf_token": logged_in.csrf, "list": "revue"},
        files={"file": ("abonnés de novembre.csv", CSV, "text/csv")},
    )
    lines = re.findall(r'<tr class="(\w+)">\s*<td class="num">(\d+)</td>\s*<td>(.*?)</td>',
                       _section(french.text, 'id="import-report"'), re.DOTALL)
    assert lines[0][2].startswith("Refusée\u00a0: Adresse électronique invalide pas-une-adresse (")
    assert "nouvelle@example.org est déjà à la ligne 2\u00a0: les deux lignes sont fusionnées." in lines[1][2]
    with store.session() as session:
        statuses = dict(session.execute(
            select(Subscriber.email, Membership.status).join(Membership, Membership.subscriber_id == Subscriber.id)
        ).all())
        origin = session.scalar(select(Membership.origin).join(Subscriber).where(Subscriber.email == "nouvelle@example.org"))
    assert statuses == {"parti@example.org": "unsubscribed", "nouvelle@example.org": "active"}
    assert origin == "csv:abonnés-de-novembre.csv"


def test_csv_import_refuses_a_missing_list_an_unreadable_file_and_a_missing_token(logged_in: TestClient) -> None:
    store = logged_in.store
    no_list = logged_in.post("/editor/subscribers/import", headers=EN,
                             data={"csrf_token": logged_in.csrf, "list": "nope"},
                             files={"file": ("a.csv", CSV, "text/csv")})
    assert no_list.status_code == 400 and "Choose the list to import into." in no_list.text
    no_header = logged_in.post("/editor/subscribers/import", headers=EN,
                               data={"csrf_token": logged_in.csrf, "list": "revue"},
                               files={"file": ("a.csv", b"nom;adresse\nx;y\n", "text/csv")})
    assert no_header.status_code == 400
    assert ("The file could not be imported: The first line names no email column "
            "(columns found: &#39;nom&#39;, &#39;adresse&#39;).") in no_header.text
    assert "newsletter-upload-" not in no_header.text  # the temporary path is not shown
    forged = logged_in.post("/editor/subscribers/import", data={"list": "revue"},
                            files={"file": ("a.csv", CSV, "text/csv")})
    assert forged.status_code == 403
    with store.session() as session:
        assert session.scalar(select(Subscriber.id)) is None


# -- sources -----------------------------------------------------------------------------------


def _rss(*items: tuple[str, str]) -> bytes:
    body = "".join(
        f"<item><guid isPermaLink='false'>{guid}</guid><title>{title}</title>"
        f"<link>https://journal.example/{guid}</link><description><![CDATA[{title}. {TEXT}]]></description>"
        "<pubDate>Tue, 01 Dec 2026 05:00:00 +0000</pubDate></item>"
        for guid, title in items
    )
    return ("<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>Journal</title>"
            f"<language>fr</language>{body}</channel></rss>").encode()


TEXT = " ".join(
    ["La commune a inauguré samedi une nouvelle médiathèque de trois étages au cœur de la vieille ville."] * 12
)


@pytest.fixture(name="desk")
def desk_fixture(store: Store, make_config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
                 http_server: LocalServer) -> TestClient:
    """A logged-in editor over a configuration with one file source, a feed on loopback."""
    monkeypatch.setenv("NEWSLETTER_SECRET_KEY", SECRET)
    folder = tmp_path / "subscribers"
    folder.mkdir()
    (folder / "lists.toml").write_text(LISTS, encoding="utf-8")

    def feed(request: Request) -> Reply:
        headers = {"ETag": '"v1"', "Content-Type": "application/rss+xml"}
        if request.headers.get("If-None-Match") == '"v1"':
            return Reply(304, headers=headers)
        return Reply(200, _rss(("m-1", "Une médiathèque"), ("m-2", "Le marché couvert")), headers)

    config = make_config(
        paths={"subscribers": str(folder), "templates": str(ROOT / "templates"), "outbox": str(tmp_path / "outbox")},
        web={"base_url": BASE_URL, "fetch_private": True},  # feeds on loopback servers
        sources=[{"name": "journal", "label": "Le Journal", "url": http_server.route("/journal.xml", feed),
                  "tags": ["culture"]}],
    )
    with store.session() as session:
        sync_lists(session, load_lists(folder / "lists.toml"))
        add_editor(session, "salma", "correct horse battery")
        session.commit()
    client = TestClient(create_app(config, store, clock=Clock()), base_url=BASE_URL)
    assert log_in(client).status_code == 303
    client.csrf = csrf_of(client.get("/editor").text)  # type: ignore[attr-defined]
    client.config = config  # type: ignore[attr-defined]
    client.store = store  # type: ignore[attr-defined]
    client.server = http_server  # type: ignore[attr-defined]
    return client


def _source(store: Store, name: str) -> Source:
    with store.session() as session:
        source = session.scalar(select(Source).where(Source.name == name))
        session.expunge(source)
        return source


def test_sources_page_lists_file_sources_with_kind_url_tags_and_state(desk: TestClient) -> None:
    html = desk.get("/editor/sources", headers=EN).text
    row = _section(html, 'data-source="journal"')
    assert "Le Journal" in row and "newsletter.toml" in row and "Feed" in row
    assert desk.server.url("/journal.xml") in row and "culture" in row
    assert "Not collected yet" in row  # nothing has run yet
    journal = _source(desk.store, "journal")
    detail = desk.get(f"/editor/sources/{journal.id}", headers=EN).text
    assert "declared in newsletter.toml" in detail and f'action="/editor/sources/{journal.id}"' not in detail
    assert desk.get("/editor/sources/999999").status_code == 404


def test_a_source_badge_says_how_its_collection_goes(desk: TestClient) -> None:
    journal = _source(desk.store, "journal")

    def badge() -> tuple[str, ...]:
        row = _section(desk.get("/editor/sources", headers=EN).text, 'data-source="journal"')
        return re.search(r'class="badge state-([a-z-]+)">([^<]+)<', row).groups()

    assert badge() == ("new", "Not collected yet")
    with desk.store.session() as session:
        session.execute(update(Source).where(Source.id == journal.id).values(
            last_fetched_at=datetime(2026, 11, 30, tzinfo=UTC), error_count=2, last_error="HTTP 503"))
        session.commit()
    assert badge() == ("failing", "Failing")
    french = desk.get(f"/editor/sources/{journal.id}", headers={"Accept-Language": "fr"}).text
    assert "En échec" in french
    with desk.store.session() as session:
        session.execute(update(Source).where(Source.id == journal.id).values(error_count=0))
        session.commit()
    assert badge() == ("collected", "Collected")


def test_a_site_whose_article_was_added_by_address_is_not_called_an_import(desk: TestClient) -> None:
    with desk.store.session() as session:
        session.add(Source(name="url:exemple.ma", kind="page", url="https://exemple.ma/",
                           label="exemple.ma", tags=[], origin="import"))
        session.commit()
    site = _source(desk.store, "url:exemple.ma")
    page = desk.get(f"/editor/sources/{site.id}", headers=EN).text
    assert "Articles added by their address" in page and "An edition page" in page
    assert "Imported files" not in page and "newsletter import" not in page
    french = desk.get("/editor/sources", headers={"Accept-Language": "fr"}).text
    assert "Articles ajoutés par leur adresse" in french


def test_add_edit_and_disable_a_web_source(desk: TestClient) -> None:
    url = desk.server.url("/agence.xml")
    form = {"csrf_token": desk.csrf, "name": "agence", "label": "L’Agence", "kind": "feed", "url": url,
            "tags": "Economie, maroc, , economie", "language": "FR"}
    added = desk.post("/editor/sources", data=form, follow_redirects=False)
    assert added.status_code == 303
    agence = _source(desk.store, "agence")
    assert added.headers["location"] == f"/editor/sources/{agence.id}?done=added"
    assert (agence.origin, agence.kind, agence.url, agence.tags, agence.language, agence.enabled) == (
        "web", "feed", url, ["economie", "maroc"], "fr", True)
    page = desk.get(added.headers["location"], headers=EN).text
    assert "Source added" in page and "Web app" in page and f'action="/editor/sources/{agence.id}"' in page

    moved = desk.server.url("/agence/rss")
    edited = desk.post(f"/editor/sources/{agence.id}", follow_redirects=False, data={
        "csrf_token": desk.csrf, "label": "L’Agence (fil)", "kind": "page", "url": moved, "tags": "economie",
        "language": ""})
    assert edited.status_code == 303 and edited.headers["location"].endswith("?done=saved")
    agence = _source(desk.store, "agence")
    assert (agence.label, agence.kind, agence.url, agence.tags, agence.language) == (
        "L’Agence (fil)", "page", moved, ["economie"], "")

    off = desk.post(f"/editor/sources/{agence.id}/enabled", data={"csrf_token": desk.csrf, "enabled": "0"},
                    follow_redirects=False)
    assert off.status_code == 303 and not _source(desk.store, "agence").enabled
    assert "Disabled in the web app" in _section(desk.get("/editor/sources", headers=EN).text, 'data-source="agence"')
    desk.post(f"/editor/sources/{agence.id}/enabled", data={"csrf_token": desk.csrf, "enabled": "1"})
    assert _source(desk.store, "agence").enabled


@pytest.mark.parametrize(("field", "value", "message"), [
    ("url", "ftp://agence.example/rss", "must be an http:// or https:// address"),
    ("url", "https://", "must be an http:// or https:// address"),
    ("kind", "file", "local files are declared in newsletter.toml"),
    ("name", "L'Agence", "lower-case letters, digits, - or _"),
    ("name", "journal", "The name journal is already used by another source."),
    ("name", "import", "The name import is already used by another source."),
    ("language", "français", "The language must be a code such as fr, en or ar"),
    ("tags", "x" * 101, "is longer than 100 characters"),
])
def test_a_bad_source_is_refused_with_a_clear_message(desk: TestClient, field: str, value: str, message: str) -> None:
    form = {"csrf_token": desk.csrf, "name": "agence", "kind": "feed", "url": "https://agence.example/rss",
            "tags": "", "language": ""}
    form[field] = value
    response = desk.post("/editor/sources", data=form, headers=EN)
    assert response.status_code == 400 and message in response.text.replace("&#39;", "'")
    assert re.search(rf'name="{field}"[^>]*aria-invalid="true"', response.text), "the field is marked"
    with desk.store.session() as session:
        assert session.scalar(select(Source.id).where(Source.name == "agence")) is None


def test_a_site_page_given_as_a_feed_becomes_the_feed_it_announces(desk: TestClient) -> None:
    server, html = desk.server, {"Content-Type": "text/html; charset=utf-8"}
    server.route("/agence/", Reply(200, b'<html><head><link rel="alternate" type="application/rss+xml" '
                                        b'href="/agence/rss"></head><body>Accueil</body></html>', html))
    server.route("/agence/rss", Reply(200, _rss(("a-1", "Dépêche")), {"Content-Type": "application/rss+xml"}))
    form = {"csrf_token": desk.csrf, "name": "agence", "kind": "feed", "url": server.url("/agence/")}
    assert desk.post("/editor/sources", data=form, follow_redirects=False).status_code == 303
    assert _source(desk.store, "agence").url == server.url("/agence/rss")
    # a page that announces no feed is refused, in the editor's language, and nothing is saved
    server.route("/accueil", Reply(200, b"<html><body><p>Bienvenue</p></body></html>", html))
    refused = desk.post("/editor/sources", data={**form, "name": "accueil", "url": server.url("/accueil")})
    assert refused.status_code == 400 and "ni un flux RSS ou Atom ni une page qui en annonce un" in refused.text
    assert re.search(r'name="url"[^>]*aria-invalid="true"', refused.text)
    with desk.store.session() as session:
        assert session.scalar(select(Source.id).where(Source.name == "accueil")) is None
    # a feed found is checked like a typed one: the same feed twice is refused
    again = desk.post("/editor/sources", headers=EN, data={**form, "name": "agence-bis"})
    assert again.status_code == 400 and "already collected as the source agence" in again.text
    # an edit to a site's page finds its feed too
    server.route("/fil/", Reply(200, b'<html><head><link rel="alternate" type="application/rss+xml" '
                                     b'href="rss.xml"></head></html>', html))
    server.route("/fil/rss.xml", Reply(200, _rss(("f-1", "Fil")), {"Content-Type": "application/rss+xml"}))
    agence = _source(desk.store, "agence")
    edited = desk.post(f"/editor/sources/{agence.id}", follow_redirects=False,
                       data={"csrf_token": desk.csrf, "kind": "feed", "url": server.url("/fil/")})
    assert edited.status_code == 303 and _source(desk.store, "agence").url == server.url("/fil/rss.xml")


def test_the_fetch_history_counts_the_pages_robots_txt_refused(desk: TestClient) -> None:
    server = desk.server
    server.route("/robots.txt", Reply(200, b"User-agent: *\nDisallow: /abonnes/\n"))
    teaser = (f"<item><guid>t-1</guid><title>Le marché couvert rouvre</title>"
              f"<link>{server.url('/abonnes/marche')}</link><description>Le marché rouvre…</description></item>")
    server.route("/teasers.xml", Reply(200, ("<?xml version='1.0' encoding='utf-8'?><rss version='2.0'>"
                                             f"<channel><title>T</title>{teaser}</channel></rss>").encode(),
                                       {"Content-Type": "application/rss+xml"}))
    form = {"csrf_token": desk.csrf, "name": "teasers", "kind": "feed", "url": server.url("/teasers.xml")}
    assert desk.post("/editor/sources", data=form, follow_redirects=False).status_code == 303
    with desk.store.session() as session:
        collect(session, desk.config, names=["teasers"])
    page = desk.get(f"/editor/sources/{_source(desk.store, 'teasers').id}").text
    assert "Pages refusées par robots.txt\u00a0: 1 (l’extrait donné par le flux a été gardé)" in page
    assert "/abonnes/marche" not in [r.path for r in server.requests]


def test_a_feed_readers_opml_becomes_sources_and_the_sources_export_as_opml(desk: TestClient) -> None:
    desk.get("/editor/sources")  # gives the file's source its row
    journal = desk.server.url("/journal.xml")
    opml = f"""<?xml version="1.0" encoding="UTF-8"?><opml version="1.0"><head><title>Flux</title></head><body>
      <outline text="Économie"><outline type="rss" text="L’Agence — Éco" xmlUrl="https://agence.example/eco/rss"/></outline>
      <outline type="rss" text="Le Journal" xmlUrl="{journal}"/>
      <outline type="rss" text="Vieux lien" xmlUrl="ftp://ancien.example/flux"/>
      <outline type="rss" text="&lt;b&gt;Gras&lt;/b&gt;" xmlUrl="mailto:x@example.org"/>
    </body></opml>""".encode()
    response = desk.post("/editor/sources/import", data={"csrf_token": desk.csrf},
                         files={"file": ("feedly.opml", opml, "text/x-opml")})
    assert response.status_code == 200
    html = response.text
    assert "Sources ajoutées\u00a0: 1." in html and "agence-eco" in html
    refused = re.findall(r"<li>([^<]*)</li>", html.split("Non ajoutées", 1)[1])
    assert refused == ["Le Journal\u00a0: Cette URL est déjà collectée par la source journal.",
                       "Vieux lien\u00a0: L’URL doit être une adresse http:// ou https:// avec un nom "
                       "d’hôte\u00a0: ftp://ancien.example/flux",
                       "&lt;b&gt;Gras&lt;/b&gt;\u00a0: L’URL doit être une adresse http:// ou https:// "
                       "avec un nom d’hôte\u00a0: mailto:x@example.org"]  # each with its reason, in French
    with desk.store.session() as session:
        agence = session.scalar(select(Source).where(Source.url == "https://agence.example/eco/rss"))
        assert (agence.name, agence.label, agence.tags, agence.origin) == (
            "l-agence-eco", "L’Agence — Éco", ["economie"], "web")
        assert session.scalar(select(func.count(Source.id))) == 2  # journal and the new one
    # a file that is not OPML is refused with the next step
    bad = desk.post("/editor/sources/import", data={"csrf_token": desk.csrf},
                    files={"file": ("page.html", b"<html><body>x</body></html>", "text/html")})
    assert bad.status_code == 400 and "exportez les abonnements du lecteur de flux en OPML" in bad.text
    # and the sources go out as OPML, for a feed reader or a backup
    exported = desk.get("/editor/sources/export.opml")
    assert exported.headers["content-type"].startswith("text/x-opml")
    assert [(f.title, f.url, f.folder) for f in read_opml(exported.content)] == [
        ("Le Journal", journal, "culture"), ("L’Agence — Éco", "https://agence.example/eco/rss", "economie")]


def test_the_same_url_twice_is_refused(desk: TestClient) -> None:
    response = desk.post("/editor/sources", headers=EN, data={
        "csrf_token": desk.csrf, "name": "doublon", "kind": "feed", "url": desk.server.url("/journal.xml")})
    assert response.status_code == 400 and "already collected as the source journal" in response.text


def test_the_import_pseudo_source_cannot_be_switched_off(desk: TestClient) -> None:
    with desk.store.session() as session:
        imported = import_source(session)
        session.commit()
        source_id = imported.id
    refused = desk.post(f"/editor/sources/{source_id}/enabled", headers=EN,
                        data={"csrf_token": desk.csrf, "enabled": "0"})
    assert refused.status_code == 400
    assert "holds the files of &#39;newsletter import&#39;" in refused.text
    assert _source(desk.store, "import").enabled


def test_a_file_source_can_be_disabled_but_not_edited_and_the_file_sync_keeps_the_switch(desk: TestClient) -> None:
    desk.get("/editor/sources")  # gives the file's sources their rows
    journal = _source(desk.store, "journal")
    refused = desk.post(f"/editor/sources/{journal.id}", headers=EN, data={
        "csrf_token": desk.csrf, "kind": "feed", "url": "https://elsewhere.example/rss", "tags": ""})
    assert refused.status_code == 400
    assert "The source journal is declared in newsletter.toml: edit it there" in refused.text
    assert _source(desk.store, "journal").url == desk.server.url("/journal.xml")

    desk.post(f"/editor/sources/{journal.id}/enabled", data={"csrf_token": desk.csrf, "enabled": "0"})
    with desk.store.session() as session:
        assert collect(session, desk.config) == []  # nothing to collect: the only source is off
        (named,) = collect(session, desk.config, names=["journal"])  # the daemon's way: by name
    assert named.disabled and not desk.server.requests
    journal = _source(desk.store, "journal")
    assert not journal.enabled and journal.last_fetched_at is None  # the sync did not undo it
    desk.post(f"/editor/sources/{journal.id}/enabled", data={"csrf_token": desk.csrf, "enabled": "1"})
    with desk.store.session() as session:
        (report,) = collect(session, desk.config)
    assert report.new == 2 and _source(desk.store, "journal").enabled


def test_every_source_change_is_refused_without_its_csrf_token(desk: TestClient) -> None:
    desk.get("/editor/sources")
    journal = _source(desk.store, "journal")
    attempts = [
        ("/editor/sources", {"name": "agence", "kind": "feed", "url": "https://agence.example/rss"}),
        (f"/editor/sources/{journal.id}", {"kind": "feed", "url": "https://x.example/rss"}),
        (f"/editor/sources/{journal.id}/enabled", {"enabled": "0"}),
    ]
    for path, data in attempts:
        assert desk.post(path, data=data).status_code == 403
        assert desk.post(path, data={**data, "csrf_token": "forged"}).status_code == 403
    with desk.store.session() as session:
        assert session.scalars(select(Source.name)).all() == ["journal"]
        assert session.scalar(select(Source.enabled)) is True


def test_collection_records_each_fetch_and_the_source_page_shows_the_history(desk: TestClient) -> None:
    server = desk.server
    server.route("/agence.xml", Reply(200, _rss(("a-1", "Dépêche")), {"Content-Type": "application/rss+xml"}))
    server.route("/panne.xml", Reply(503, b"maintenance"))
    for name, url in (("agence", server.url("/agence.xml")), ("panne", server.url("/panne.xml"))):
        assert desk.post("/editor/sources", data={"csrf_token": desk.csrf, "name": name, "kind": "feed",
                                                 "url": url}, follow_redirects=False).status_code == 303
    with desk.store.session() as session:
        first = {r.name: r for r in collect(session, desk.config)}
        second = {r.name: r for r in collect(session, desk.config)}
    assert set(first) == {"journal", "agence", "panne"}  # the web sources are collected too
    assert (first["journal"].new, first["agence"].new, second["journal"].not_modified) == (2, 1, True)
    with desk.store.session() as session:
        rows = session.execute(
            select(Source.name, SourceFetch.outcome, SourceFetch.new_articles, SourceFetch.error)
            .join(Source, Source.id == SourceFetch.source_id).order_by(SourceFetch.id)
        ).all()
    history = {}
    for name, outcome, new, error in rows:
        history.setdefault(name, []).append((outcome, new, bool(error)))
    assert history == {
        "journal": [("ok", 2, False), ("not-modified", 0, False)],
        "agence": [("ok", 1, False), ("ok", 0, False)],
        "panne": [("error", 0, True), ("error", 0, True)],
    }
    panne = _source(desk.store, "panne")
    page = desk.get(f"/editor/sources/{panne.id}", headers=EN).text
    fetches = _section(page, 'class="fetches"')
    assert fetches.count('class="outcome-error"') == 2 and "HTTP 503" in fetches
    assert "Errors in a row" in page and ">2<" in page
    listing = _section(desk.get("/editor/sources", headers=EN).text, 'data-source="panne"')
    assert "HTTP 503" in listing and '<td class="num">2</td>' in listing


def test_a_collect_error_reads_in_the_editors_language_on_every_page_that_shows_it(desk: TestClient) -> None:
    server = desk.server
    missing = server.url("/abonnes/marche")
    teaser = (f"<item><guid>t-1</guid><title>Le marché couvert rouvre</title>"
              f"<link>{missing}</link><description>Le marché rouvre…</description></item>")
    server.route("/teasers.xml", Reply(200, ("<?xml version='1.0' encoding='utf-8'?><rss version='2.0'>"
                                             f"<channel><title>T</title>{teaser}</channel></rss>").encode(),
                                       {"Content-Type": "application/rss+xml"}))
    server.route("/panne.xml", Reply(404, b"not here"))
    for name, path in (("panne", "/panne.xml"), ("teasers", "/teasers.xml")):
        assert desk.post("/editor/sources", data={"csrf_token": desk.csrf, "name": name, "kind": "feed",
                                                 "url": server.url(path)}, follow_redirects=False).status_code == 303
    with desk.store.session() as session:
        collect(session, desk.config, names=["panne", "teasers"])
    panne, teasers = _source(desk.store, "panne"), _source(desk.store, "teasers")
    french = f"{server.url('/panne.xml')} n’existe pas (HTTP 404)\u00a0: vérifiez l’adresse."
    english = f"{server.url('/panne.xml')} does not exist (HTTP 404): check the address."
    fr, en = {"Accept-Language": "fr"}, EN
    for path in ("/editor/sources", "/editor"):
        assert french in desk.get(path, headers=fr).text, path
        page = desk.get(path, headers=en).text
        assert english in page and "the address is gone" not in page, path
    detail = desk.get(f"/editor/sources/{panne.id}", headers=fr).text
    assert french in _section(detail, 'class="facts"') and french in _section(detail, 'class="fetches"')
    assert english in _section(desk.get(f"/editor/sources/{panne.id}", headers=en).text, 'class="fetches"')
    # a teaser whose page failed: the page's problem, then what became of the teaser
    history = _section(desk.get(f"/editor/sources/{teasers.id}", headers=fr).text, 'class="fetches"')
    assert (f"{missing} n’existe pas (HTTP 404)\u00a0: vérifiez l’adresse. "
            "L’extrait donné par le flux a été gardé\u00a0; sa page sera demandée de nouveau.") in history


def _feed_source(desk: TestClient, name: str, path: str, reply: Reply) -> str:
    """Serve REPLY at PATH and add it as the feed source NAME in the app: its URL."""
    url = desk.server.route(path, reply)
    assert desk.post("/editor/sources", data={"csrf_token": desk.csrf, "name": name, "kind": "feed",
                                             "url": url}, follow_redirects=False).status_code == 303
    return url


def test_a_feeds_warnings_read_in_the_editors_language_and_in_full_on_every_page(desk: TestClient) -> None:
    """A malformed feed read all the same, with an entry skipped: both said, in the editor's
    language, to the end (the lists no longer cut a sentence of the catalog at 160 characters)."""
    item = "<item><guid>{}</guid><title>{}</title><link>{}</link><description>{}</description></item>"
    body = ("<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>A</title>"
            + item.format("a-1", "Le marché & la ville", desk.server.url("/a-1"), "Le marché couvert rouvre. " * 20)
            + "<item><guid>a-2</guid><link>" + desk.server.url("/a-2") + "</link></item></channel></rss>")
    url = _feed_source(desk, "abime", "/abime.xml", Reply(200, body.encode(), {"Content-Type": "application/rss+xml"}))
    with desk.store.session() as session:
        (report,) = collect(session, desk.config, names=["abime"])
    assert report.errors == [f"{url}: malformed feed, 1 entries recovered: line 1, column 122: not well-formed "
                             "(invalid token); 1 entries without title, link or text were skipped"]
    french = (f"{url} est un flux mal formé (XML mal formé, signe invalide)\u00a0; articles lus malgré tout\u00a0: 1. "
              "Il peut en manquer\u00a0: signalez-le à son éditeur. "
              f"Entrées de {url} écartées faute de titre, de lien ou de texte\u00a0: 1.")
    english = str(escape(
        f"{url} is a malformed feed (not well-formed (invalid token)); articles read from it all the same: 1. "
        f"Some may be missing: tell its publisher. Entries of {url} skipped for want of a title, a link or a "
        "text: 1."))
    assert len(french) > 160
    fr = {"Accept-Language": "fr"}
    for path in ("/editor/sources", "/editor"):
        assert french in desk.get(path, headers=fr).text, path
        assert english in desk.get(path, headers=EN).text, path
    detail = desk.get(f"/editor/sources/{_source(desk.store, 'abime').id}", headers=fr).text
    assert french in _section(detail, 'class="facts"') and french in _section(detail, 'class="fetches"')


def test_a_sources_bad_address_gives_a_next_step_for_the_source_not_for_a_pasted_address(
    desk: TestClient,
) -> None:
    """The catalog's sentences for an address an editor pastes (adding an article) say "paste";
    at a source's own address they say to fix the source, and at a teaser's page nothing."""
    server = desk.server
    loop, page_loop = server.url("/boucle.xml"), server.url("/2026/boucle")
    server.route("/2026/boucle", Reply(302, headers={"Location": page_loop}))
    _feed_source(desk, "boucle", "/boucle.xml", Reply(302, headers={"Location": loop}))
    teaser = f"<item><guid>t-1</guid><title>Le marché</title><link>{page_loop}</link><description>Le marché…</description></item>"
    _feed_source(desk, "extraits", "/extraits.xml", Reply(200, (
        "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>T</title>"
        f"{teaser}</channel></rss>").encode(), {"Content-Type": "application/rss+xml"}))
    with desk.store.session() as session:
        collect(session, desk.config, names=["boucle", "extraits"])
    french = (f"{loop} redirige trop de fois\u00a0: ouvrez-la dans un navigateur et donnez à la source "
              "l’adresse d’arrivée.")
    english = str(escape(f"{loop} redirects too many times: open it in a browser and give the source the "
                         "address it ends on."))
    fr = {"Accept-Language": "fr"}
    for path in ("/editor/sources", "/editor", f"/editor/sources/{_source(desk.store, 'boucle').id}"):
        page = desk.get(path, headers=fr).text
        assert french in page and "collez" not in page, path
        page = desk.get(path, headers=EN).text
        assert english in page and "paste" not in page, path
    history = _section(desk.get(f"/editor/sources/{_source(desk.store, 'extraits').id}", headers=fr).text,
                       'class="fetches"')
    assert (f"{page_loop} redirige trop de fois. L’extrait donné par le flux a été gardé\u00a0; "
            "sa page ne sera plus demandée.") in history


def test_the_lists_cut_only_a_message_said_as_stored(desk: TestClient) -> None:
    """A message without a code can be long (a library's reason): the lists cut it, the source's
    page shows it whole."""
    long = "https://long.example/rss: " + "an unusually long reason given by some library, " * 6
    with desk.store.session() as session:
        source = Source(name="long", kind="feed", url="https://long.example/rss", origin="web", tags=[],
                        last_error=long, error_count=1, last_fetched_at=datetime(2026, 12, 1, 4, 0, tzinfo=UTC))
        session.add(source)
        session.commit()
        source_id = source.id
    fr = {"Accept-Language": "fr"}
    for path in ("/editor/sources", "/editor"):
        page = desk.get(path, headers=fr).text
        assert long[:100] in page and long.strip() not in page, path
    assert long.strip() in _section(desk.get(f"/editor/sources/{source_id}", headers=fr).text, 'class="facts"')


def test_an_error_stored_without_a_code_shows_its_message_and_a_fetchs_other_errors_stay_reachable(
    desk: TestClient,
) -> None:
    """Rows from before error codes, and errors without one, show their stored (English) text;
    a fetch with several errors says its last in the editor's language and lists them all."""
    old = "https://vieux.example/rss: HTTP 500 Internal Server Error (the server failed; try again later)"
    with desk.store.session() as session:
        vieux = Source(name="vieux", kind="feed", url="https://vieux.example/rss", origin="web", tags=[],
                       last_error=old, error_count=1, last_fetched_at=datetime(2026, 12, 1, 4, 0, tzinfo=UTC))
        bavard = Source(name="bavard", kind="feed", url="https://bavard.example/rss", origin="web", tags=[],
                        last_error="https://bavard.example/b: HTTP 404", error_count=1,
                        last_error_code="fetch-gone",
                        last_error_params={"url": "https://bavard.example/b", "status": 404, "teaser": "final"})
        session.add_all([vieux, bavard])
        session.flush()
        session.add(SourceFetch(source_id=vieux.id, outcome="error", error=old))
        session.add(SourceFetch(source_id=bavard.id, outcome="error",
                                error="https://bavard.example/a: HTTP 404\nhttps://bavard.example/b: HTTP 404",
                                error_code="fetch-gone", error_params=bavard.last_error_params))
        session.commit()
        ids = vieux.id, bavard.id
    fr = {"Accept-Language": "fr"}
    for path in ("/editor/sources", "/editor"):
        assert old in desk.get(path, headers=fr).text, path
    page = desk.get(f"/editor/sources/{ids[0]}", headers=fr).text
    assert old in _section(page, 'class="facts"') and old in _section(page, 'class="fetches"')
    assert "<details>" not in page
    fetches = _section(desk.get(f"/editor/sources/{ids[1]}", headers=fr).text, 'class="fetches"')
    assert "https://bavard.example/b n’existe pas (HTTP 404)\u00a0: vérifiez l’adresse." in fetches
    assert "sa page ne sera plus demandée." in fetches
    assert "Toutes les erreurs de cette collecte (2)" in fetches
    assert "<li>https://bavard.example/a: HTTP 404</li><li>https://bavard.example/b: HTTP 404</li>" in fetches


# -- the French interface ----------------------------------------------------------------------


def test_source_refusals_are_translated_with_their_placeholders() -> None:
    french = translations("fr")
    for code, template in PROBLEMS.items():
        translated = french.gettext(template)
        assert translated != template, f"{code}: no French translation in pages.po"
        assert re.findall(r"\{\w+\}", translated) == re.findall(r"\{\w+\}", template), code


def test_pages_speak_french_by_default(desk: TestClient) -> None:
    assert "Ajouter une source" in desk.get("/editor/sources").text
    assert "Prochain envoi" in desk.get("/editor").text
    refused = desk.post("/editor/sources", data={"csrf_token": desk.csrf, "name": "Agence", "kind": "feed",
                                                 "url": "https://agence.example/rss"})
    assert "Le nom doit" in refused.text


def test_a_web_source_at_a_private_address_is_refused_unless_the_intranet_is_allowed(store: Store, make_config) -> None:
    from newsletter.collect.sources import SourceFields, SourceInputError, add_web_source

    fields = SourceFields(name="intranet", url="http://127.0.0.1:8080/feed.xml")
    with store.session() as session:
        with pytest.raises(SourceInputError) as refused:
            add_web_source(session, make_config(), fields)
        assert refused.value.code == "url-private" and "web.fetch_private = true" in str(refused.value)
        french = translations("fr").gettext(PROBLEMS["url-private"])
        assert french.startswith("L’adresse {url} est privée")
        assert "l’administrateur du site peut accepter des sources de l’intranet" in french
        for address in ("http://10.0.0.7/rss", "http://169.254.169.254/", "http://localhost/feed"):
            with pytest.raises(SourceInputError):
                add_web_source(session, make_config(), SourceFields(name="x", url=address))
        assert add_web_source(session, make_config(web={"fetch_private": True}), fields).origin == "web"
