"""The public archive over HTTP, on SQLite and PostgreSQL: only sent editions, no subscriber data."""

from __future__ import annotations

import dataclasses
import mailbox
import re
import shutil
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import feedparser
import pytest
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from newsletter.audience.lists import load_lists, sync_lists
from newsletter.audience.subscribers import Member, sync_members
from newsletter.collect.article import CollectedArticle
from newsletter.collect.store import add_article, sync_source
from newsletter.config import SourceConfig
from newsletter.deliver.outbox import OutboxBackend
from newsletter.deliver.send import send_edition
from newsletter.editions import approve, build_edition
from newsletter.enrich.pending import enrich_pending
from newsletter.render import SLOTS
from newsletter.store.db import Store
from newsletter.store.models import ArticleTag, Edition, utcnow
from newsletter.summarize.pending import summarize_pending
from newsletter.web import archive
from newsletter.web.archive import archive_routes, parse_day, public_html

from .conftest import ROOT
from .support.web import SECRET, web_config

BASE = "https://news.example.org"
LISTS = """
[[lists]]
slug = "revue"
name = "Revue de presse"
description = "Chaque matin, l'essentiel de la presse."
from_name = "Revue"
from_address = "revue@example.org"
tags = ["eco"]
language = "fr"

[[lists]]
slug = "nashra"
name = "النشرة"
from_name = "النشرة"
from_address = "nashra@example.org"
tags = ["eco"]
language = "ar"

[[lists]]
slug = "quiet"
name = "Quiet list"
from_name = "Quiet"
from_address = "quiet@example.org"
tags = ["eco"]
language = "en"
"""
ARTICLES = {
    "fr": [
        ("La banque centrale laisse son taux inchangé",
         "La banque centrale a laissé son taux directeur inchangé mardi. L’inflation reste "
         "contenue selon son conseil. Les analystes attendaient ce statu quo."),
        ("Le port enregistre un trafic record",
         "Le port a manipulé un volume record de conteneurs depuis janvier. Deux nouvelles "
         "lignes maritimes expliquent la hausse. Les terminaux approchent de leur capacité."),
    ],
    "ar": [
        ("البنك المركزي يبقي سعر الفائدة دون تغيير",
         "أبقى البنك المركزي سعر الفائدة الرئيسي دون تغيير يوم الثلاثاء. وقال مجلسه إن التضخم "
         "لا يزال تحت السيطرة. وكان المحللون يتوقعون هذا القرار."),
    ],
}
# What no archive page may show: the readers' addresses and names.
READERS = [
    Member(email="zoe.private@example.org", name="Zoé Confidentielle", language="fr"),
    Member(email="omar.hidden@example.net", name="Omar Secretname", language="fr"),
]
AR_READER = Member(email="salma.reader@example.com", name="سلمى المشتركة", language="ar")
SENT, ALSO_SENT, APPROVED, DRAFT = (date(2026, 11, d) for d in (25, 26, 27, 28))


@pytest.fixture
def newsroom(store: Store, make_config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Lists revue (fr), nashra (ar) and quiet (en, nothing sent), with readers; revue has
    two sent editions, one approved and one draft; nashra one sent edition."""
    config = web_config(make_config, tmp_path, monkeypatch, LISTS, base_url=BASE)
    folder = tmp_path / "subscribers"
    lists = {lst.slug: lst for lst in load_lists(folder / "lists.toml")}
    collected = datetime.now(timezone.utc) - timedelta(hours=1)
    with store.session() as session:
        rows = sync_lists(session, list(lists.values()))
        sync_members(session, rows["revue"], READERS, origin="test")
        sync_members(session, rows["nashra"], [AR_READER], origin="test")
        source = sync_source(
            session, SourceConfig(name="wire", label="L’Agence", url="https://wire.example/feed"),
            "https://wire.example/feed",
        )
        for language, articles in ARTICLES.items():
            for n, (title, body) in enumerate(articles):
                article = add_article(session, source, CollectedArticle(
                    title=title, text=body, url=f"https://wire.example/{language}/{n}",
                    language=language, published=collected, categories=[],
                ))
                article.collected_at = collected
                article.tags.append(ArticleTag(tag="eco", origin="feed"))
        session.flush()
        enrich_pending(session, config)
        summarize_pending(session, config)
        # Every draft is built before any is sent: each then finds the same articles.
        revue = {day: build_edition(session, lists["revue"], day) for day in (SENT, ALSO_SENT, APPROVED, DRAFT)}
        nashra = build_edition(session, lists["nashra"], SENT)
        revue[ALSO_SENT].subject = "Notre revue du jeudi"
        for edition in (revue[SENT], revue[ALSO_SENT], revue[APPROVED], nashra):
            approve(edition)
        session.commit()
        backend = OutboxBackend(tmp_path / "outbox")
        for slug, edition in (("revue", revue[SENT]), ("nashra", nashra)):
            assert send_edition(session, config, lists[slug], edition.id, backend, SECRET).sent >= 1
        # The other sent one, marked by hand (its readers would be the same).
        revue[ALSO_SENT].status, revue[ALSO_SENT].sent_at = "sent", utcnow()
        session.commit()
    return config


@pytest.fixture
def web(newsroom, store: Store) -> TestClient:  # type: ignore[no-untyped-def]
    app = Starlette(routes=archive_routes(newsroom, store))
    return TestClient(app, base_url=BASE)


def leaks(html: str) -> list[str]:
    """What of the readers' data, slots or personal links HTML shows."""
    found = []
    for member in [*READERS, AR_READER]:
        found += [v for v in (member.email, member.name, member.email.split("@")[0]) if v in html]
    found += [s for s in SLOTS.values() if s in html]
    found += re.findall(r"/unsubscribe/[^\"'\s<]+", html)
    return found


def index_entries(html: str) -> list[str]:
    return re.findall(r"<li>(.*?)</li>", html, re.DOTALL)


def test_index_lists_every_list_and_links_the_sent_editions(web: TestClient) -> None:
    response = web.get("/archive", headers={"Accept-Language": "en"})
    assert response.status_code == 200
    html = response.text
    assert '<html lang="en" dir="ltr">' in html
    assert "Our lists: subscribe to one, or read their past editions online." in html
    assert 'href="/archive/revue"' in html and 'href="/archive/nashra"' in html
    assert 'lang="ar" dir="rtl">النشرة</a>' in html  # an Arabic name on an English page
    assert "Latest edition: November 26, 2026" in html  # the newest sent, not the approved one
    assert 'href="/subscribe?list=revue">Subscribe to this list</a>' in html
    assert 'lang="fr" dir="ltr">Chaque matin, l&#39;essentiel de la presse.</span>' in html
    # Nothing sent yet: the list is there to sign up to, with no link to editions it lacks.
    entries = index_entries(html)
    assert [re.search(r'dir="[a-z]+">([^<]+)<', e).group(1) for e in entries] == [
        "Quiet list", "Revue de presse", "النشرة",  # by name
    ]
    quiet = entries[0]
    assert 'href="/archive/quiet"' not in quiet and "Latest edition" not in quiet
    assert "No edition has been published yet." in quiet
    assert 'href="/subscribe?list=quiet">Subscribe to this list</a>' in quiet
    assert leaks(html) == []


def test_a_list_no_longer_declared_keeps_its_editions_but_not_its_sign_up(
    newsroom, store: Store, tmp_path: Path  # type: ignore[no-untyped-def]
) -> None:
    lists = tmp_path / "subscribers" / "lists.toml"
    lists.write_text(LISTS.split("[[lists]]\nslug = \"nashra\"")[0], encoding="utf-8")
    web = TestClient(Starlette(routes=archive_routes(newsroom, store)), base_url=BASE)
    html = web.get("/archive").text
    assert [e for e in index_entries(html) if "quiet" in e] == []  # neither sent nor declared
    (nashra,) = [e for e in index_entries(html) if "nashra" in e]
    assert 'href="/archive/nashra"' in nashra and "/subscribe" not in nashra
    assert 'href="/subscribe?list=revue"' in html


def test_a_new_site_offers_every_declared_list(
    store: Store, make_config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch  # type: ignore[no-untyped-def]
) -> None:
    """Nothing sent anywhere, and one list not even in the database yet: the front page is
    still where readers choose a list to sign up to."""
    config = web_config(make_config, tmp_path, monkeypatch, LISTS, base_url=BASE)
    with store.session() as session:
        sync_lists(session, [lst for lst in load_lists(tmp_path / "subscribers" / "lists.toml")
                             if lst.slug != "quiet"])
        session.commit()
    web = TestClient(Starlette(routes=archive_routes(config, store)), base_url=BASE)
    response = web.get("/archive")
    assert response.status_code == 200
    html = response.text
    assert '<html lang="fr" dir="ltr">' in html
    for slug in ("revue", "nashra", "quiet"):
        assert f'href="/subscribe?list={slug}">S’inscrire à cette lettre</a>' in html, slug
    assert 'lang="ar" dir="rtl">النشرة</span>' in html  # its own language, on a French page
    assert "href=\"/archive/" not in html  # no list has editions to show yet
    assert html.count("Aucune édition n’a encore été publiée.") == 3  # said of each list
    assert "Dernière édition" not in html


def test_an_index_without_any_list_says_nothing_is_published(
    store: Store, make_config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch  # type: ignore[no-untyped-def]
) -> None:
    config = web_config(make_config, tmp_path, monkeypatch, "lists = []\n", base_url=BASE)
    web = TestClient(Starlette(routes=archive_routes(config, store)), base_url=BASE)
    html = web.get("/archive", headers={"Accept-Language": "ar"}).text
    assert '<html lang="ar" dir="rtl">' in html and "<ul" not in html
    assert "لم يُنشر أي عدد بعد." in html


def test_the_site_root_leads_to_the_archive(web: TestClient) -> None:
    response = web.get("/", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/archive"


def test_index_in_french_by_default(web: TestClient) -> None:
    html = web.get("/archive").text
    assert '<html lang="fr" dir="ltr">' in html and "Archives" in html
    assert "Nos lettres\u00a0: inscrivez-vous, ou lisez en ligne les éditions déjà parues." in html
    assert "Dernière édition\u00a0: 26 novembre 2026" in html


def test_list_page_shows_sent_editions_newest_first(web: TestClient) -> None:
    response = web.get("/archive/revue")
    assert response.status_code == 200
    html = response.text
    days = re.findall(r'href="/archive/revue/(\d{4}-\d{2}-\d{2})"', html)
    assert days == ["2026-11-26", "2026-11-25"]  # approved (27) and draft (28) are not public
    assert "Notre revue du jeudi" in html  # the editor's subject
    assert "Revue de presse — mercredi 25 novembre 2026" in html  # the default one
    assert 'href="/subscribe?list=revue"' in html
    assert '<p class="description">Chaque matin, l&#39;essentiel de la presse.</p>' in html
    assert leaks(html) == []


def test_each_list_has_an_atom_feed_of_its_sent_editions(web: TestClient) -> None:
    response = web.get("/archive/revue/feed.xml")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/atom+xml")
    feed = feedparser.parse(response.content)
    assert not feed.bozo, feed.bozo_exception
    assert feed.version == "atom10" and feed.feed.language == "fr"
    assert feed.feed.title == "Revue de presse"
    assert feed.feed.subtitle == "Chaque matin, l'essentiel de la presse."
    assert feed.feed.link == f"{BASE}/archive/revue"
    # the sent editions only, newest first, each linking to its public page
    assert [e.link for e in feed.entries] == [f"{BASE}/archive/revue/{d}" for d in ("2026-11-26", "2026-11-25")]
    assert feed.entries[0].title == "Notre revue du jeudi"
    assert feed.feed.updated == max(e.updated for e in feed.entries)  # the latest send
    content = feed.entries[1].content[0].value
    assert '<a href="https://wire.example/fr/0">La banque centrale laisse son taux inchangé</a>' in content
    assert "<h2>Eco</h2>" in content and "<small>(L’Agence)</small>" in content
    assert leaks(response.text) == []
    assert 'type="application/atom+xml"' in web.get("/archive/revue").text  # found from the page


def test_feeds_of_other_lists(web: TestClient) -> None:
    arabic = feedparser.parse(web.get("/archive/nashra/feed.xml").content)
    assert arabic.feed.language == "ar" and len(arabic.entries) == 1
    quiet = web.get("/archive/quiet/feed.xml")  # nothing sent yet: a valid, empty feed
    assert quiet.status_code == 200 and feedparser.parse(quiet.content).entries == []
    assert web.get("/archive/nope/feed.xml").status_code == 404


def test_arabic_list_page_is_right_to_left(web: TestClient) -> None:
    html = web.get("/archive/nashra").text
    assert '<html lang="ar" dir="rtl">' in html
    assert "أعداد «النشرة»" in html and 'href="/archive/nashra/2026-11-25"' in html


def test_list_without_sent_editions_says_so(web: TestClient) -> None:
    response = web.get("/archive/quiet")
    assert response.status_code == 200
    assert "No edition has been published yet." in response.text


def test_list_pages_are_paginated(web: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(archive, "PAGE_SIZE", 1)
    first = web.get("/archive/revue").text
    assert re.findall(r'href="/archive/revue/([\d-]+)"', first) == ["2026-11-26"]
    assert 'href="?page=2"' in first and "Page 1 sur 2" in first
    second = web.get("/archive/revue?page=2").text
    assert re.findall(r'href="/archive/revue/([\d-]+)"', second) == ["2026-11-25"]
    assert 'href="?page=1"' in second and "?page=3" not in second
    for page in ("3", "0", "-1", "x", "1.5", ""):
        assert web.get(f"/archive/revue?page={page}").status_code == 404, page


def test_sent_edition_is_the_email_without_anything_personal(web: TestClient, tmp_path: Path) -> None:
    response = web.get("/archive/revue/2026-11-25")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in response.headers["content-security-policy"]
    html = response.text
    assert '<html lang="fr" dir="ltr"' in html
    assert "La banque centrale laisse son taux inchangé" in html
    assert 'href="https://wire.example/fr/0"' in html
    assert 'href="https://news.example.org/archive/revue"' in html  # "past editions" stays
    assert "Voir dans le navigateur" not in html  # this page is the browser
    assert "Se désinscrire" not in html  # no one's unsubscribe link
    assert "<script" not in html.lower()
    assert leaks(html) == []
    # ...while the mail each reader got carries their own name and link.
    box = mailbox.mbox(str(next((tmp_path / "outbox").glob("edition-*.mbox"))))
    mails = "".join(m.as_string() for m in box)
    box.close()
    assert "/unsubscribe/" in mails


def test_arabic_edition_is_right_to_left(web: TestClient) -> None:
    html = web.get("/archive/nashra/2026-11-25").text
    assert '<html lang="ar" dir="rtl"' in html
    assert "البنك المركزي يبقي سعر الفائدة دون تغيير" in html
    assert leaks(html) == []


@pytest.mark.parametrize("path", [
    "/archive/revue/2026-11-27",   # approved, not sent
    "/archive/revue/2026-11-28",   # draft
    "/archive/revue/2026-11-24",   # no edition that day
    "/archive/quiet/2026-11-25",   # a list that sent nothing
    "/archive/nope/2026-11-25",    # no such list
    "/archive/nope",
    "/archive/revue/2026-02-30",   # not a day
    "/archive/revue/25-11-2026",
    "/archive/revue/2026-11-25x",
    "/archive/revue/latest",
])
def test_what_is_not_public_is_not_found(web: TestClient, path: str) -> None:
    response = web.get(path)
    assert response.status_code == 404
    assert "Page introuvable." in response.text
    assert leaks(response.text) == []


def test_unsent_stays_hidden_whatever_its_state(web: TestClient, store: Store) -> None:
    with store.session() as session:
        edition = session.scalar(select(Edition).where(Edition.date == APPROVED))
        for status in ("held", "sending", "cancelled"):
            edition.status = status
            session.commit()
            assert web.get("/archive/revue/2026-11-27").status_code == 404, status
        edition.status = "sent"
        session.commit()
    assert web.get("/archive/revue/2026-11-27").status_code == 200


def test_public_html_fills_the_slots_neutrally() -> None:
    html = (f'<p>Bonjour {SLOTS["name"]}</p><p class="footer"><a href="https://x.example/archive">'
            f'Archive</a> · <a class="quiet" href="{SLOTS["unsubscribe_url"]}">Se désinscrire</a></p>'
            f'<p>{SLOTS["unsubscribe_url"]}</p>')
    assert public_html(html) == (
        '<p>Bonjour </p><p class="footer"><a href="https://x.example/archive">Archive</a></p><p>#</p>'
    )


def test_parse_day() -> None:
    assert parse_day("2026-11-25") == date(2026, 11, 25)
    assert [parse_day(v) for v in ("2026-13-01", "2026-1-01", "20261125", " 2026-11-25", "")] == [None] * 5


def test_a_template_broken_since_the_send_is_an_error_page(
    newsroom, store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture  # type: ignore[no-untyped-def]
) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    (templates / "email" / "default" / "body.mjml.j2").write_text("{% if %}", encoding="utf-8")
    config = dataclasses.replace(
        newsroom, paths=dataclasses.replace(newsroom.paths, templates=str(templates))
    )
    web = TestClient(Starlette(routes=archive_routes(config, store)), base_url=BASE)
    response = web.get("/archive/revue/2026-11-25")
    assert response.status_code == 500
    assert "Cette édition ne peut pas être affichée pour le moment." in response.text
    assert "body.mjml.j2, line 1" in caplog.text and "/archive/revue/2026-11-25" in caplog.text
    assert web.get("/archive/revue").status_code == 200  # the index still answers
