"""The edition editor and its preview over HTTP, on SQLite and PostgreSQL: every action, its
CSRF check, a sent edition that no longer changes, adding an article by URL from a page served
on loopback, the preview's size warning, and a test send that is no delivery."""

from __future__ import annotations

import mailbox
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from newsletter import curate
from newsletter.audience.lists import ListConfig, load_lists
from newsletter.audience.subscribers import Member, sync_members
from newsletter.collect.article import CollectedArticle
from newsletter.collect.store import add_article, sync_source
from newsletter.config import SourceConfig
from newsletter.deliver.message import NO_EDITION
from newsletter.deliver.send import start_sending
from newsletter.editions import build_edition, get_edition, rewrite_item
from newsletter.enrich.pending import enrich_pending
from newsletter.store.models import ArticleTag, DeliveryBatch, Edition, EditionItem, MailingList
from newsletter.summarize.pending import summarize_pending
from newsletter.curate import edition_schedule

from .editor_support import EDITOR, editor_web_fixture, logged_in_fixture  # noqa: F401 (fixtures)
from .support.httpserver import LocalServer, Reply

ARTICLES = [  # list tag, title, text, language
    ("economie", "La banque centrale laisse son taux inchangé", "La banque centrale a laissé son taux directeur inchangé mardi. L’inflation reste contenue selon son conseil. Les analystes attendaient ce statu quo.", "fr"),
    ("economie", "Les exportations de phosphates progressent", "Les exportations de phosphates ont progressé de huit pour cent au troisième trimestre. La demande asiatique soutient les volumes. Les prix restent élevés.", "fr"),
    ("economie", "Le port enregistre un trafic record", "Le port a manipulé un volume record de conteneurs depuis janvier. Deux nouvelles lignes maritimes expliquent la hausse. Les terminaux approchent de leur capacité.", "fr"),
    ("culture", "Le festival de musique ouvre ses portes", "Le festival de musique a ouvert ses portes vendredi soir devant une foule nombreuse. Trente groupes joueront pendant quatre jours. Les billets sont presque épuisés.", "fr"),
    ("culture", "افتتاح معرض الكتاب في الرباط", "افتتح معرض الكتاب في الرباط يوم الخميس بمشاركة مئات الناشرين. ويستمر المعرض عشرة أيام. ويتوقع المنظمون أكثر من مليون زائر.", "ar"),
]

ARTICLE_PAGE = """<!doctype html>
<html lang="fr"><head><meta charset="utf-8">
<title>Le train à grande vitesse prolongé vers Marrakech - Le Quotidien</title>
<meta property="og:title" content="Le train à grande vitesse prolongé vers Marrakech">
<meta property="article:published_time" content="{published}">
</head><body>
<header><nav><a href="/">Accueil</a> <a href="/eco">Économie</a></nav></header>
<article>
<h1>Le train à grande vitesse prolongé vers Marrakech</h1>
<p>Le gouvernement a confirmé lundi le prolongement de la ligne à grande vitesse jusqu’à Marrakech,
un chantier de plusieurs années qui doit relier les deux villes en moins de trois heures.</p>
<p>Les travaux commenceront au printemps prochain, selon le ministre des transports, qui a présenté
le calendrier devant la commission parlementaire. Le financement associe l’État et plusieurs bailleurs.</p>
<p>Les opérateurs attendent une hausse nette du nombre de voyageurs, en particulier pendant l’été,
quand les liaisons actuelles sont saturées et que les trains affichent complet des semaines à l’avance.</p>
</article>
<footer>© Le Quotidien</footer>
</body></html>"""

NO_ARTICLE_PAGE = b"""<!doctype html><html><head><title>Accueil</title></head>
<body><nav><a href="/a">Rubriques</a></nav><p>Bienvenue.</p></body></html>"""


@dataclass
class Desk:
    """A logged-in client with today's drafts of both test lists."""

    client: TestClient
    revue: int  # edition id of the French list's draft
    nashra: int  # the Arabic list's
    lists: dict[str, ListConfig]

    @property
    def csrf(self) -> str:
        return self.client.csrf  # type: ignore[attr-defined]

    def post(self, path: str, data: dict[str, str] | None = None, *, json: bool = False, token: bool = True):  # type: ignore[no-untyped-def]
        headers = {"Accept": "application/json", "X-CSRF-Token": self.csrf} if json else {}
        body = dict(data or {})
        if token and not json:
            body["csrf_token"] = self.csrf
        return self.client.post(path, data=body, headers=headers, follow_redirects=False)

    def edition(self, edition_id: int | None = None) -> Edition:
        with self.client.store.session() as session:  # type: ignore[attr-defined]
            edition = get_edition(session, edition_id or self.revue)
            for item in edition.items:
                _ = item.article.summary, item.article.title
            return edition

    def items(self, section: str, edition_id: int | None = None) -> list[EditionItem]:
        edition = self.edition(edition_id)
        return sorted((i for i in edition.items if i.section == section), key=lambda i: (i.position, i.id))

    def page(self, edition_id: int | None = None) -> str:
        response = self.client.get(f"/editor/editions/{edition_id or self.revue}")
        assert response.status_code == 200, response.text
        return response.text


@pytest.fixture
def desk(logged_in: TestClient) -> Desk:
    config = logged_in.config  # type: ignore[attr-defined]
    store = logged_in.store  # type: ignore[attr-defined]
    lists = {lc.slug: lc for lc in load_lists(config.folder(config.paths.subscribers) / "lists.toml")}
    collected = datetime.now(UTC) - timedelta(hours=1)
    today = datetime.now(UTC).date()
    with store.session() as session:
        wire = sync_source(session, SourceConfig(name="wire", label="L’Agence", url="https://wire.example/feed"), "https://wire.example/feed")
        for n, (tag, title, text, language) in enumerate(ARTICLES):
            article = add_article(session, wire, CollectedArticle(
                title=title, text=text, url=f"https://wire.example/{n}", language=language,
                published=collected - timedelta(minutes=n),
            ))
            assert article is not None
            article.collected_at = collected
            article.tags.append(ArticleTag(tag=tag, origin="feed"))
        session.flush()
        enrich_pending(session, config)
        summarize_pending(session, config)
        revue = build_edition(session, lists["revue"], today)
        nashra = build_edition(session, lists["nashra"], today)
        for slug, count in (("revue", 3), ("nashra", 2)):
            mailing_list = session.scalar(select(MailingList).where(MailingList.slug == slug))
            sync_members(session, mailing_list, [
                Member(email=f"{slug}{i}@example.org", name=f"Lecteur {i}", language="fr") for i in range(count)
            ], origin="test")
        session.commit()
        ids = revue.id, nashra.id
    return Desk(logged_in, *ids, lists)


@pytest.fixture
def site() -> Iterator[LocalServer]:
    with LocalServer() as server:
        server.route("/eco/tgv-marrakech", Reply(200, ARTICLE_PAGE.format(
            published=datetime.now(UTC).isoformat()).encode(), {"Content-Type": "text/html; charset=utf-8"}))
        server.route("/accueil", Reply(200, NO_ARTICLE_PAGE, {"Content-Type": "text/html; charset=utf-8"}))
        yield server


def messages(html: str) -> list[str]:
    return [re.sub(r"\s+", " ", m).strip() for m in re.findall(r'<p class="(?:notice|error)" role="\w+">(.*?)</p>', html, re.S)]


def part(html: str, element_id: str) -> str:
    """The HTML of the page's element ELEMENT_ID (a section or an item), to its end."""
    tail = html.split(f'id="{element_id}"', 1)[1]
    return tail.split("</li>" if element_id.startswith("item-") else "</section>", 1)[0]


def top(html: str) -> str:
    """The page above its first panel: the header, and the messages shown there."""
    return html.split('<section id="fields"', 1)[0]


def schedule_line(html: str) -> str:
    found = re.search(r'<p class="schedule">(.*?)</p>', html, re.S)
    assert found, "no schedule line"
    return re.sub(r"[ \t\n]+", " ", found.group(1)).strip()  # its no-break spaces kept


def set_clock(desk: Desk, moment: datetime) -> None:
    desk.client.clock.now = moment.timestamp()  # type: ignore[attr-defined]


# -- the page ----------------------------------------------------------------------------------


def test_the_editor_shows_items_by_section_and_when_the_edition_goes_out(desk: Desk) -> None:
    send_at = curate.scheduled_send(desk.lists["revue"], desk.edition().date)
    assert send_at is not None
    set_clock(desk, send_at - timedelta(hours=1))  # before its send time, whatever the hour now
    html = desk.page()
    assert "Économie" in html and "Culture" in html
    assert html.index("Économie") < html.index("Culture")  # the list's order
    for title in ("La banque centrale laisse son taux inchangé", "Le festival de musique ouvre ses portes"):
        assert title in html
    assert "07:00 (Africa/Casablanca)" in html  # its send time in the list's time zone
    assert "une fois approuvé" in html  # review = required: approval needed
    assert f'name="csrf_token" value="{desk.csrf}"' in html
    eco = desk.items("economie")
    # the first item cannot go up, the last cannot go down, without JavaScript as with it
    assert re.search(rf'id="item-{eco[0].id}".*?data-direction="up"[^>]*disabled', html, re.S)
    assert not re.search(rf'id="item-{eco[1].id}".*?data-direction="up"[^>]*disabled.*?id="item-{eco[2].id}"', html, re.S)
    english = desk.client.get(f"/editor/editions/{desk.revue}", headers={"Accept-Language": "en"}).text
    assert "Add an article by its URL" in english and "07:00 (Africa/Casablanca) once approved" in english
    assert desk.client.get("/editor/editions/9999").status_code == 404
    assert desk.post("/editor/editions/9999/approve").status_code == 404
    assert desk.client.get("/editor/editions/9999/preview").status_code == 404


def test_a_draft_past_its_send_time_says_it_was_not_sent_and_whose_the_next_send_is(desk: Desk) -> None:
    day = desk.edition().date
    send_at = curate.scheduled_send(desk.lists["revue"], day)
    assert send_at is not None and send_at.strftime("%H:%M") == "07:00"
    tomorrow = day + timedelta(days=1)
    next_send = (f"Le prochain envoi de la lettre, {tomorrow} 07:00 (Africa/Casablanca), "
                 f"est pour son édition du {tomorrow}, pas pour celle-ci.")
    set_clock(desk, send_at + timedelta(hours=12, minutes=15))  # 19:15 in Casablanca
    line = schedule_line(desk.page())
    assert line.startswith(f"Brouillon\u00a0: son heure d’envoi, {day} 07:00 (Africa/Casablanca), "
                           "est passée et il n’a pas été envoyé. Approuvez-le, puis envoyez-le maintenant.")
    assert "une fois approuvé" not in line and "retenu" not in line
    assert line.endswith(next_send), line
    desk.post(f"/editor/editions/{desk.revue}/approve")
    line = schedule_line(desk.page())
    assert "est passée\u00a0: envoyez-la maintenant" in line and line.endswith(next_send), line
    set_clock(desk, send_at - timedelta(minutes=5))  # before it: no word of the next edition
    line = schedule_line(desk.page())
    assert "elle part à l’heure prévue, " + f"{day} 07:00" in line and "prochain envoi" not in line


def test_an_editions_send_time_is_the_next_of_its_day_else_its_first() -> None:
    twice = ListConfig(slug="deux", name="Deux", from_name="D", from_address="d@example.org",
                       tags=["t"], schedule="0 7,19 * * *", timezone="Africa/Casablanca")
    day = datetime(2026, 12, 1).date()
    at = lambda hour: datetime(2026, 12, 1, hour, 0, tzinfo=ZoneInfo("Africa/Casablanca"))  # noqa: E731
    morning = edition_schedule(twice, day, at(6))
    assert morning.send_at == at(7) and not morning.passed
    noon = edition_schedule(twice, day, at(12))  # 07:00 missed: the 19:00 send takes it
    assert noon.send_at == at(19) and not noon.passed and noon.next_send == at(19)
    night = edition_schedule(twice, day, at(20))  # its day's sends are all past
    assert night.send_at == at(7) and night.passed
    assert night.next_send == at(7) + timedelta(days=1) and night.next_day == day + timedelta(days=1)
    tomorrows = edition_schedule(twice, day + timedelta(days=1), at(12))
    assert tomorrows.send_at == at(7) + timedelta(days=1) and not tomorrows.passed


def test_arabic_items_are_shown_right_to_left(desk: Desk) -> None:
    html = desk.page(desk.nashra)
    (item,) = desk.items("culture", desk.nashra)
    found = re.search(rf'id="item-{item.id}".*?<textarea name="summary"[^>]*lang="ar" dir="rtl"', html, re.S)
    assert found, "the Arabic item's summary is not right to left"
    assert re.search(r'<input type="text" name="subject"[^>]*lang="ar" dir="rtl"', html)
    assert "افتتاح معرض الكتاب في الرباط" in desk.client.get(f"/editor/editions/{desk.nashra}/email.html").text




# -- items -------------------------------------------------------------------------------------


def test_leave_out_and_include_an_item(desk: Desk) -> None:
    item = desk.items("economie")[1]
    count = len(desk.edition().items)
    assert f"Articles inclus\u00a0: {count}" in top(desk.page())
    response = desk.post(f"/editor/editions/{desk.revue}/items/{item.id}/include", {"included": "0"})
    assert response.status_code == 303
    assert response.headers["location"] == f"/editor/editions/{desk.revue}#item-{item.id}"
    assert not desk.items("economie")[1].included
    html = desk.client.get(response.headers["location"]).text
    assert messages(part(html, f"item-{item.id}")) == ["Écartée."]  # where the redirect lands
    assert messages(top(html)) == []
    assert re.search(rf'class="item excluded" id="item-{item.id}"', html)
    assert f"Articles inclus\u00a0: {count - 1}" in top(html)
    answer = desk.post(f"/editor/editions/{desk.revue}/items/{item.id}/include", {"included": "1"}, json=True)
    assert answer.status_code == 200 and answer.json()["included"] is True
    # the page's JavaScript shows the header's new count without a reload
    assert answer.json()["included_count"] == count
    assert answer.json()["included_text"] == f"Articles inclus\u00a0: {count}"
    assert desk.items("economie")[1].included


def test_each_items_buttons_are_named_after_its_title(desk: Desk) -> None:
    first, second = desk.items("economie")[:2]
    desk.post(f"/editor/editions/{desk.revue}/items/{second.id}/include", {"included": "0"})
    html = desk.page()
    for item, include in ((first, "Écarter"), (second, "Inclure")):
        title = item.article.title
        labels = re.findall(r'<button[^>]*aria-label="([^"]+)"', part(html, f"item-{item.id}"))
        assert labels == [f"Enregistrer\u00a0: {title}", f"Monter\u00a0: {title}",
                          f"Descendre\u00a0: {title}", f"{include}\u00a0: {title}",
                          f"Régénérer le résumé\u00a0: {title}"], labels
    # the names the page's JavaScript gives the include button when it flips
    assert f'data-include-label="Inclure\u00a0: {first.article.title}"' in part(html, f"item-{first.id}")
    assert f'data-exclude-label="Écarter\u00a0: {first.article.title}"' in part(html, f"item-{first.id}")


def test_move_up_and_down_with_forms_and_to_a_place(desk: Desk) -> None:
    first, second, third = (i.id for i in desk.items("economie"))
    response = desk.post(f"/editor/editions/{desk.revue}/items/{third}/move", {"direction": "up"})
    assert response.status_code == 303 and response.headers["location"].endswith(f"#item-{third}")
    html = desk.client.get(response.headers["location"]).text
    assert messages(part(html, f"item-{third}")) == ["Déplacée en position 2 sur 3."]
    assert messages(top(html)) == []
    assert [i.id for i in desk.items("economie")] == [first, third, second]
    desk.post(f"/editor/editions/{desk.revue}/items/{first}/move", {"direction": "up"})  # at the top: stays
    assert [i.id for i in desk.items("economie")] == [first, third, second]
    answer = desk.post(f"/editor/editions/{desk.revue}/items/{second}/move", {"to": "1"}, json=True)
    assert answer.json()["order"] == [second, first, third]
    assert answer.json()["place"] == 1 and "1 sur 3" in answer.json()["message"]
    bad = desk.post(f"/editor/editions/{desk.revue}/items/{second}/move", {}, json=True)
    assert bad.status_code == 409 and "direction" in bad.json()["error"]


def test_an_edited_title_and_summary_persist_through_a_rebuild(desk: Desk) -> None:
    item = desk.items("economie")[0]
    own_title = item.article.title
    answer = desk.post(
        f"/editor/editions/{desk.revue}/items/{item.id}/text",
        {"title": own_title, "summary": "Statu quo attendu : le taux reste à 2,75 %."}, json=True,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["summary_edited"] and not answer.json()["title_edited"]  # same title: no override
    rebuilt = desk.post(f"/editor/editions/{desk.revue}/rebuild")
    assert rebuilt.status_code == 303
    assert any("vos modifications conservées" in m for m in messages(desk.client.get(rebuilt.headers["location"]).text))
    again = next(i for i in desk.items("economie") if i.id == item.id)
    assert again.summary_override == "Statu quo attendu : le taux reste à 2,75 %."
    assert again.title_override is None
    assert "Statu quo attendu : le taux reste à 2,75 %." in desk.page()
    # "regenerate": the machine's summary again, the rewrite dropped
    answer = desk.post(f"/editor/editions/{desk.revue}/items/{item.id}/regenerate", json=True)
    assert answer.status_code == 200 and answer.json()["summary"] == item.article.summary.text
    assert next(i for i in desk.items("economie") if i.id == item.id).summary_override is None


def test_subject_preheader_and_intro(desk: Desk) -> None:
    response = desk.post(f"/editor/editions/{desk.revue}/fields", {
        "subject": " La revue du matin ", "preheader": "Taux, phosphates et festival", "intro": "Bonne lecture."})
    assert response.status_code == 303
    edition = desk.edition()
    assert (edition.subject, edition.preheader, edition.intro) == ("La revue du matin", "Taux, phosphates et festival", "Bonne lecture.")
    too_long = desk.post(f"/editor/editions/{desk.revue}/fields", {"subject": "x" * 301}, json=True)
    assert too_long.status_code == 409 and "300" in too_long.json()["error"]


def test_every_action_refuses_a_missing_or_wrong_csrf_token(desk: Desk) -> None:
    item = desk.items("economie")[0]
    base = f"/editor/editions/{desk.revue}"
    actions = {
        "/fields": {"subject": "forged"}, "/items": {"url": "https://x.example/a"},
        f"/items/{item.id}/text": {"summary": "forged"}, f"/items/{item.id}/include": {"included": "0"},
        f"/items/{item.id}/move": {"direction": "down"}, f"/items/{item.id}/regenerate": {},
        "/rebuild": {}, "/approve": {}, "/unapprove": {}, "/send": {}, "/test": {"address": "x@example.org"},
    }
    for path, data in actions.items():
        assert desk.post(base + path, data, token=False).status_code == 403, path
        assert desk.post(base + path, {**data, "csrf_token": "wrong"}, token=False).status_code == 403, path
        forged = desk.client.post(base + path, data=data, headers={"X-CSRF-Token": "wrong"})
        assert forged.status_code == 403, path
    edition = desk.edition()
    assert edition.status == "draft" and edition.subject == ""
    assert all(i.included and i.summary_override is None for i in edition.items)
    assert [i.id for i in desk.items("economie")][0] == item.id


# -- adding an article by URL ------------------------------------------------------------------


def test_add_an_article_by_url_from_a_page(desk: Desk, site: LocalServer) -> None:
    url = site.url("/eco/tgv-marrakech")
    response = desk.post(f"/editor/editions/{desk.revue}/items", {"url": url, "section": "economie"})
    assert response.status_code == 303 and response.headers["location"].endswith("#add")
    html = desk.client.get(response.headers["location"]).text
    assert any("Le train à grande vitesse prolongé vers Marrakech" in m and "ajouté" in m for m in messages(html))
    eco = desk.items("economie")
    added = eco[-1]  # at the end of its section
    assert added.article.url == url and added.included and added.edited
    assert added.article.summary is not None and "Marrakech" in added.article.summary.text
    assert added.article.language == "fr" and added.article.source.name == "url:127.0.0.1"
    assert added.article.source.origin == "import"  # never collected
    # a rebuild keeps it, though no collect brought it
    desk.post(f"/editor/editions/{desk.revue}/rebuild")
    assert desk.items("economie")[-1].id == added.id
    # the same URL again: not fetched twice, not added twice
    fetched = len(site.requests)
    again = desk.post(f"/editor/editions/{desk.revue}/items", {"url": url}, json=True)
    assert again.status_code == 200 and again.json()["already"] and again.json()["item"] == added.id
    assert len(site.requests) == fetched and len(desk.items("economie")) == len(eco)


def test_a_page_that_cannot_be_added_is_named_with_the_reason(desk: Desk, site: LocalServer) -> None:
    with LocalServer() as gone:
        unreachable = gone.url("/article")
    loop = site.url("/boucle")
    site.route("/boucle", Reply(302, headers={"Location": loop}))
    before = len(desk.edition().items)
    for url, reason in (  # in the editor's language, with what to do in the app
        (site.url("/gone"), "n’existe pas (HTTP 404) : vérifiez l’adresse"),  # spaces collapsed
        (site.url("/accueil"), "Aucun texte d’article n’a été trouvé"),
        (unreachable, "Impossible de joindre"),
        ("javascript:alert(1)", "n’est pas une adresse web : collez l’adresse de l’article"),
        (loop, "redirige trop de fois : ouvrez-la dans un navigateur et collez l’adresse d’arrivée"),
    ):
        response = desk.post(f"/editor/editions/{desk.revue}/items", {"url": url})
        assert response.status_code == 303 and response.headers["location"].endswith("#add")
        html = desk.client.get(response.headers["location"]).text
        (shown,) = messages(html)
        assert shown.startswith("Article non ajouté") and url in shown and reason in shown, shown
        assert messages(part(html, "add")) == [shown]  # next to the form, where the redirect lands
        assert "newsletter.toml" not in shown and "check the source URL" not in shown, shown
        answer = desk.post(f"/editor/editions/{desk.revue}/items", {"url": url}, json=True)
        assert answer.status_code == 409 and url in answer.json()["error"]
    empty = desk.post(f"/editor/editions/{desk.revue}/items", {"url": " "}, json=True)
    assert empty.json()["error"].startswith("Article non ajouté\u00a0: Collez l’adresse de l’article")
    assert len(desk.edition().items) == before


def test_a_refused_url_stays_in_the_form_as_text(desk: Desk, site: LocalServer) -> None:
    gone = site.url("/gone")
    desk.post(f"/editor/editions/{desk.revue}/items", {"url": gone, "section": "culture"})
    form = part(desk.page(), "add")
    assert f'name="url" value="{gone}"' in form
    assert '<option value="culture" selected>' in form and '<option value="economie">' in form
    # what was typed comes back as text, never as markup
    forged = 'javascript:"><b id="forged">x</b>'
    desk.post(f"/editor/editions/{desk.revue}/items", {"url": forged})
    html = desk.page()
    assert 'id="forged"' not in html
    assert 'name="url" value="javascript:&#34;&gt;&lt;b id=&#34;forged&#34;&gt;x&lt;/b&gt;"' in part(html, "add")
    # a success empties the field, the next page shows nothing of the earlier refusal
    assert 'name="url" value=""' in part(desk.page(), "add")


def test_a_message_shows_on_its_own_editions_page_and_at_the_top_when_its_form_is_gone(desk: Desk) -> None:
    base = f"/editor/editions/{desk.revue}"
    desk.post(base + "/test", {"address": "relecture@example.org"})
    assert messages(desk.page(desk.nashra)) == []  # another edition's page: not its message
    assert messages(part(desk.page(), "test")) == ["Test envoyé à relecture@example.org."]
    desk.post(base + "/approve")
    response = desk.post(base + "/items", {"url": "https://x.example/a"})  # a stale form
    assert response.headers["location"].endswith("#add")
    html = desk.client.get(response.headers["location"]).text
    assert 'id="add"' not in html  # approved: no add form, the message is at the top
    assert [m for m in messages(top(html)) if m.startswith("Article non ajouté")], messages(html)


# -- approval, sending, a sent edition -----------------------------------------------------------


def outbox(desk: Desk, edition_id: int) -> list:  # type: ignore[type-arg]
    path = desk.client.outbox / f"edition-{edition_id}.mbox"  # type: ignore[attr-defined]
    if not path.exists():
        return []
    box = mailbox.mbox(str(path))
    try:
        return list(box)
    finally:
        box.close()


def batches(desk: Desk) -> int:
    with desk.client.store.session() as session:  # type: ignore[attr-defined]
        return int(session.scalar(select(func.count()).select_from(DeliveryBatch)) or 0)


def test_approve_unapprove_then_send_now_through_the_outbox(desk: Desk) -> None:
    base = f"/editor/editions/{desk.revue}"
    assert desk.post(base + "/send", json=True).status_code == 409  # a draft is not sent
    assert desk.post(base + "/approve").status_code == 303
    html = desk.page()
    assert desk.edition().status == "approved" and "Approuvée" in html
    assert "<form" not in html.split('id="items"')[1].split('id="review"')[0]  # read-only now
    refused = desk.post(f"{base}/items/{desk.items('economie')[0].id}/text", {"summary": "x"}, json=True)
    # the app's next step, not the command line's ('newsletter editions unapprove N')
    assert refused.status_code == 409
    assert refused.json()["error"] == "Cette édition est approuvée\u00a0: remettez-la en brouillon pour la modifier."
    assert desk.post(base + "/unapprove").status_code == 303 and desk.edition().status == "draft"
    desk.post(base + "/approve")
    with desk.client.store.session() as session:  # type: ignore[attr-defined]
        # planned by a send that stopped (a worker's, or a process that died): still sending
        start_sending(session, desk.client.config, get_edition(session, desk.revue))  # type: ignore[attr-defined]
    html = desk.page()
    assert "0 lots envoyés sur 1" in html and 'http-equiv="refresh"' in html
    assert "Reprendre l’envoi" in html
    response = desk.post(base + "/send")
    assert response.status_code == 303
    # The send ran after the answer (the test client waits for it): three readers, one batch.
    edition = desk.edition()
    assert edition.status == "sent" and batches(desk) == 1
    assert sorted(m["To"] for m in outbox(desk, desk.revue)) == [f"Lecteur {i} <revue{i}@example.org>" for i in range(3)]
    html = desk.client.get(response.headers["location"]).text
    assert "Messages envoyés\u00a0: 3" in html
    # sending again sends nothing more, and says so
    again = desk.post(base + "/send")
    assert len(outbox(desk, desk.revue)) == 3
    sent_on = re.search(r"Envoyée le (\S+ \S+) \(Africa/Casablanca\)", html)
    assert sent_on, html
    said = f"Édition déjà envoyée le {sent_on[1]} (Africa/Casablanca)\u00a0: rien n’a été renvoyé."
    shown = messages(top(desk.client.get(again.headers["location"]).text))
    assert shown == [said.replace("\u00a0", " ")]  # messages() collapses spaces
    stale = desk.post(base + "/send", json=True)
    assert stale.status_code == 409 and stale.json() == {"error": said}
    assert len(outbox(desk, desk.revue)) == 3 and batches(desk) == 1


def test_a_sent_edition_cannot_be_edited(desk: Desk) -> None:
    base = f"/editor/editions/{desk.revue}"
    desk.post(base + "/approve")
    desk.post(base + "/send")
    item = desk.items("economie")[0]
    for path, data in {
        f"/items/{item.id}/text": {"summary": "trop tard"}, f"/items/{item.id}/include": {"included": "0"},
        f"/items/{item.id}/move": {"direction": "down"}, f"/items/{item.id}/regenerate": {},
        "/fields": {"subject": "trop tard"}, "/rebuild": {}, "/items": {"url": "https://x.example/a"},
        "/unapprove": {}, "/approve": {},
    }.items():
        answer = desk.post(base + path, data, json=True)
        assert answer.status_code == 409, path
        assert "(état\u00a0: envoyée)" in answer.json()["error"], path
    form = desk.post(f"{base}/items/{item.id}/text", {"summary": "trop tard"})
    assert form.status_code == 303
    shown = messages(desk.client.get(form.headers["location"]).text)
    assert "Cette édition ne peut plus changer (état : envoyée)." in shown
    edition = desk.edition()
    assert edition.status == "sent" and edition.subject == ""
    assert all(i.summary_override is None and i.included for i in edition.items)
    html = desk.page()
    assert "<form" not in html.split('id="items"')[1].split('id="test"')[0]  # no action but the test send
    assert "ne peut plus changer" in html


def test_a_test_send_lands_in_the_outbox_and_is_no_delivery(desk: Desk) -> None:
    base = f"/editor/editions/{desk.revue}"
    html = desk.page()
    assert 'name="address" value="salma@example.org"' in html  # the editor's own, by default
    response = desk.post(base + "/test", {"address": "relecture@example.org"})
    assert response.status_code == 303
    assert "Test envoyé à relecture@example.org." in messages(desk.client.get(response.headers["location"]).text)
    (message,) = outbox(desk, NO_EDITION)
    assert message["To"] == f"{EDITOR} <relecture@example.org>"
    assert message["Subject"].startswith("[test] ") and message["X-Newsletter-Test"] == f"edition {desk.revue}"
    html_part = message.get_payload()[1].get_payload(decode=True).decode()
    assert f"Bonjour {EDITOR}" in html_part and "La banque centrale laisse son taux inchangé" in html_part
    assert batches(desk) == 0 and outbox(desk, desk.revue) == [] and desk.edition().status == "draft"
    # blank: the editor's address
    desk.post(base + "/test", {"address": ""})
    assert [m["To"] for m in outbox(desk, 0)][-1] == f"{EDITOR} <salma@example.org>"
    bad = desk.post(base + "/test", {"address": "not an address"}, json=True)
    assert bad.status_code == 409 and "not an address" not in bad.json().get("message", "")
    # a refusal shows next to the form, the address typed still in it
    refused = desk.post(base + "/test", {"address": "not an address"})
    assert refused.headers["location"].endswith("#test")
    form = part(desk.client.get(refused.headers["location"]).text, "test")
    assert messages(form)[-1].startswith("Test non envoyé"), messages(form)
    assert 'name="address" value="not an address"' in form
    assert 'name="address" value="salma@example.org"' in part(desk.page(), "test")  # then the default


# -- the preview -------------------------------------------------------------------------------


def test_preview_frames_text_part_and_size(desk: Desk) -> None:
    response = desk.client.get(f"/editor/editions/{desk.revue}/preview")
    assert response.status_code == 200
    html = response.text
    for width in (600, 375):
        assert re.search(rf'<iframe id="frame-{width}"[^>]*src="/editor/editions/{desk.revue}/email.html"[^>]*width="{width}"', html)
    assert "Partie texte brut" in html and "La banque centrale laisse son taux inchangé" in html
    size = re.search(r"Taille de la partie HTML\u00a0: ([\d,]+) Ko", html)
    assert size and 0 < float(size.group(1).replace(",", ".")) < 90
    assert 'class="size warning"' not in html
    email = desk.client.get(f"/editor/editions/{desk.revue}/email.html")
    assert email.status_code == 200 and email.headers["x-frame-options"] == "SAMEORIGIN"
    assert "script-src 'none'" in email.headers["content-security-policy"]
    assert f"Bonjour {EDITOR}" in email.text and "%%" not in email.text  # the slots are filled
    with desk.client.store.session() as session:  # type: ignore[attr-defined]
        expected = curate.preview(desk.client.config, desk.lists["revue"],  # type: ignore[attr-defined]
                                  get_edition(session, desk.revue), name=EDITOR)
    assert email.text == expected.html  # the very HTML a send renders, for a sample recipient


def test_the_size_warning_starts_above_90_kb(desk: Desk) -> None:
    assert not curate.size_warning(90 * 1024) and curate.size_warning(90 * 1024 + 1)
    assert curate.GMAIL_CLIP_BYTES == 102 * 1024
    desk.post(f"/editor/editions/{desk.revue}/fields", {"intro": "Un long éditorial. " * 260})
    html = desk.client.get(f"/editor/editions/{desk.revue}/preview").text
    assert 'class="size warning"' not in html  # ~5 KB more: still far from the limit
    with desk.client.store.session() as session:  # type: ignore[attr-defined]
        edition = get_edition(session, desk.revue)
        for item in edition.items:  # a summary far longer than any editor would write
            rewrite_item(edition, item.id, summary="Une phrase de résumé assez longue. " * 700)
    html = desk.client.get(f"/editor/editions/{desk.revue}/preview").text
    size = float(re.search(r"Taille de la partie HTML\u00a0: ([\d\u202f\u00a0,]+) Ko", html).group(1)
                 .replace("\u202f", "").replace("\u00a0", "").replace(",", "."))
    assert size > 90
    assert 'class="size warning" id="size" role="alert"' in html and "Gmail tronque" in html
