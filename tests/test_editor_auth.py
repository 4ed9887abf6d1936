"""Editor accounts and the guard in front of every editor page: login, session cookie, CSRF,
throttling, and a walk over every route of the app proving none is open by mistake."""

from __future__ import annotations

import re
from datetime import date

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from newsletter.accounts import (
    add_editor,
    authenticate,
    find_editor,
    set_active,
    set_password,
)
from newsletter.cli import cli
from newsletter.errors import InputError
from newsletter.store.db import Store
from newsletter.store.models import Edition, MailingList
from newsletter.web.editor.base import safe_next

from .editor_support import (  # noqa: F401 (fixtures)
    BASE_URL,
    EDITOR,
    PASSWORD,
    csrf_of,
    editor_web_fixture,
    log_in,
    logged_in_fixture,
)

# What anyone may open: the public pages (the root leads to the archive), the webhook (signed),
# the login form, static files.
PUBLIC = {
    "/", "/healthz", "/subscribe", "/confirm/{token}", "/unsubscribe", "/unsubscribe/{token}", "/webhooks/sendgrid",
    "/editor/login",
}
PUBLIC_PREFIXES = ("/archive", "/static")
SAMPLE_PARAMS = {"token": "x", "id": "1", "item_id": "1", "slug": "revue", "date": "2026-11-30",
                 "name": "x", "path": "x"}


def _routes(app) -> list[tuple[str, Route]]:  # noqa: ANN001
    found = []
    for route in app.routes:
        if isinstance(route, Mount):
            if route.path.startswith(PUBLIC_PREFIXES):
                continue
            found += [(route.path + r.path, r) for r in _routes(route)]
        elif isinstance(route, Route):
            found.append((route.path, route))
    return found


def _fill(path: str) -> str:
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: SAMPLE_PARAMS.get(m.group(1), "1"), path)


def test_every_editor_route_refuses_anonymous_requests(editor_web: TestClient) -> None:
    routes = _routes(editor_web.app)
    editor_only = [(p, r) for p, r in routes if p not in PUBLIC and not p.startswith(PUBLIC_PREFIXES)]
    assert any(p == "/editor" for p, _ in editor_only)
    for path, route in editor_only:
        assert getattr(route.endpoint, "editor_only", False), f"{path} is not behind editor_route"
        for method in sorted(route.methods or {"GET"}):
            if method == "HEAD":
                continue
            response = editor_web.request(method, _fill(path), follow_redirects=False)
            if method == "GET":
                assert response.status_code == 303, (method, path, response.status_code)
                assert response.headers["location"].startswith("/editor/login?next=")
            else:
                assert response.status_code == 403, (method, path, response.status_code)


def test_login_opens_a_session_with_safe_cookie_flags(editor_web: TestClient) -> None:
    assert editor_web.get("/editor", follow_redirects=False).status_code == 303
    response = log_in(editor_web)
    assert response.status_code == 303 and response.headers["location"] == "/editor"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" in cookie
    page = editor_web.get("/editor")
    assert page.status_code == 200 and "Revue de presse" in page.text
    assert page.headers["cache-control"] == "no-store"


def test_cookie_is_not_secure_over_plain_http(store: Store, make_config, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from newsletter.web import create_app

    from .editor_support import SECRET

    monkeypatch.setenv("NEWSLETTER_SECRET_KEY", SECRET)
    (tmp_path / "subscribers").mkdir()
    (tmp_path / "subscribers" / "lists.toml").write_text("", encoding="utf-8")
    config = make_config(web={"base_url": "http://localhost:8000"},
                         paths={"subscribers": str(tmp_path / "subscribers"),
                                "templates": str(editor_web_templates())})
    client = TestClient(create_app(config, store), base_url="http://localhost:8000")
    cookie = client.get("/editor/login").headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie


def editor_web_templates():  # noqa: ANN201
    from .conftest import ROOT

    return ROOT / "templates"


def test_wrong_password_and_unknown_name_look_the_same(editor_web: TestClient) -> None:
    wrong = log_in(editor_web, password="not the password")
    unknown = log_in(editor_web, name="nobody")
    assert wrong.status_code == unknown.status_code == 401
    assert "Nom ou mot de passe incorrect." in wrong.text
    assert editor_web.get("/editor", follow_redirects=False).status_code == 303


def test_login_without_or_with_a_forged_csrf_token_is_refused(editor_web: TestClient) -> None:
    editor_web.get("/editor/login")
    for token in (None, "forged"):
        data = {"name": EDITOR, "password": PASSWORD, **({"csrf_token": token} if token else {})}
        response = editor_web.post("/editor/login", data=data, follow_redirects=False)
        assert response.status_code == 403
    assert editor_web.get("/editor", follow_redirects=False).status_code == 303


def test_post_without_or_with_a_wrong_csrf_token_changes_nothing(logged_in: TestClient) -> None:
    assert logged_in.post("/editor/logout", follow_redirects=False).status_code == 403
    assert logged_in.post("/editor/logout", data={"csrf_token": "wrong"}, follow_redirects=False).status_code == 403
    assert logged_in.post("/editor/logout", headers={"X-CSRF-Token": "wrong"}, follow_redirects=False).status_code == 403
    assert logged_in.get("/editor").status_code == 200  # still logged in
    response = logged_in.post("/editor/logout", data={"csrf_token": logged_in.csrf}, follow_redirects=False)
    assert response.status_code == 303
    assert logged_in.get("/editor", follow_redirects=False).status_code == 303


def test_the_csrf_token_changes_at_login(editor_web: TestClient) -> None:
    before = csrf_of(editor_web.get("/editor/login").text)
    log_in(editor_web)
    assert csrf_of(editor_web.get("/editor").text) != before


def test_failed_logins_are_throttled_per_name(editor_web: TestClient) -> None:
    for _ in range(5):
        assert log_in(editor_web, password="guess").status_code == 401
    blocked = log_in(editor_web)  # even the right password, for now
    assert blocked.status_code == 429 and "15 minutes" in blocked.text
    editor_web.clock.now += 901  # the window has passed
    assert log_in(editor_web).status_code == 303


def test_failed_logins_are_throttled_per_client(editor_web: TestClient) -> None:
    for i in range(20):
        assert log_in(editor_web, name=f"someone{i}", password="guess").status_code == 401
    assert log_in(editor_web).status_code == 429


def test_a_new_password_or_a_disabled_account_ends_open_sessions(logged_in: TestClient) -> None:
    with logged_in.store.session() as session:
        set_password(session, EDITOR, "another long password")
        session.commit()
    assert logged_in.get("/editor", follow_redirects=False).status_code == 303
    assert log_in(logged_in, password="another long password").status_code == 303
    with logged_in.store.session() as session:
        set_active(session, EDITOR, False)
        session.commit()
    assert logged_in.get("/editor", follow_redirects=False).status_code == 303
    assert log_in(logged_in, password="another long password").status_code == 401


def test_login_goes_back_to_the_page_asked_for_and_only_on_this_site(editor_web: TestClient) -> None:
    redirect = editor_web.get("/editor?x=1", follow_redirects=False).headers["location"]
    page = editor_web.get(redirect)
    assert 'name="next" value="/editor?x=1"' in page.text
    assert safe_next("//evil.example/x") == "/editor"
    assert safe_next("https://evil.example/") == "/editor"
    assert safe_next("/\\evil.example") == "/editor"
    assert safe_next("/editor/editions/3") == "/editor/editions/3"


def test_interface_is_french_by_default_and_english_on_request(editor_web: TestClient) -> None:
    page = editor_web.get("/editor/login")
    assert 'lang="fr"' in page.text and "Se connecter" in page.text
    english = editor_web.get("/editor/login", headers={"Accept-Language": "en-GB,en;q=0.8"})
    assert 'lang="en"' in english.text and "Log in" in english.text


def test_accounts_library(store: Store) -> None:
    with store.session() as session:
        editor = add_editor(session, "amine", "a long enough password", language="en")
        assert editor.password_hash.startswith("$argon2id$")
        assert "a long enough password" not in editor.password_hash
        with pytest.raises(InputError, match="already exists"):
            add_editor(session, "amine", "another long password")
        with pytest.raises(InputError, match="at least 10"):
            add_editor(session, "short", "123")
        with pytest.raises(InputError, match="no spaces"):
            add_editor(session, "two words", "a long enough password")
        assert authenticate(session, "amine", "a long enough password") is editor
        assert editor.last_login_at is not None
        assert authenticate(session, "amine", "wrong") is None
        assert authenticate(session, "nobody", "a long enough password") is None
        assert authenticate(session, "bad name!", "x" * 5000) is None


def test_editors_add_prompts_for_the_password(store: Store, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "newsletter.toml"
    config.write_text(f'[database]\nurl = "{store.url}"\n', encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(cli, ["--config", str(config), "editors", "add", "nadia", "--language", "en"],
                           input="a long enough password\na long enough password\n")
    assert result.exit_code == 0, result.output
    assert "a long enough password" not in result.output.replace("Password", "")
    with store.session() as session:
        assert find_editor(session, "nadia").language == "en"
        assert authenticate(session, "nadia", "a long enough password") is not None
    listed = runner.invoke(cli, ["--config", str(config), "editors", "list"])
    assert "nadia" in listed.output


@pytest.mark.parametrize(
    "args, said",
    [
        (["add", "nadia"], "already exists"),
        (["add", "bad name!"], "bad name!"),
        (["add", "karim", "--email", "not-an-address"], "invalid email address 'not-an-address'"),
        (["passwd", "nobody"], "no editor named 'nobody'"),
    ],
)
def test_editors_commands_refuse_before_asking_for_a_password(
    store: Store, tmp_path, args: list[str], said: str  # type: ignore[no-untyped-def]
) -> None:
    config = tmp_path / "newsletter.toml"
    config.write_text(f'[database]\nurl = "{store.url}"\n', encoding="utf-8")
    with store.session() as session:
        add_editor(session, "nadia", "a long enough password")
        session.commit()
    result = CliRunner().invoke(cli, ["--config", str(config), "editors", *args],
                                input="a long enough password\na long enough password\n")
    assert result.exit_code == 1 and said in result.output, result.output
    assert "Password" not in result.output  # nothing was asked


# -- a refused change says so, in the editor's language --------------------------------------------


def _draft(store: Store) -> int:
    with store.session() as session:
        list_id = session.scalar(select(MailingList.id).where(MailingList.slug == "revue"))
        edition = Edition(list_id=list_id, date=date(2026, 12, 1), status="draft")
        session.add(edition)
        session.commit()
        return edition.id


def _subject(store: Store, edition_id: int) -> str:
    with store.session() as session:
        return session.get(Edition, edition_id).subject


def _log_out_and_in_elsewhere(client: TestClient) -> str:
    """The stale token of a page opened before the editor logged out and in in another tab."""
    stale = client.csrf
    assert client.post("/editor/logout", data={"csrf_token": stale}).status_code == 200
    assert log_in(client).status_code == 303
    return stale


def test_a_form_sent_from_a_stale_page_gets_a_page_with_the_way_back_and_its_text(
    logged_in: TestClient,
) -> None:
    edition = _draft(logged_in.store)
    page = f"/editor/editions/{edition}"
    stale = _log_out_and_in_elsewhere(logged_in)
    typed = {"subject": "Le marché ce matin", "intro": "Deux lignes\nd’introduction <b>", "csrf_token": stale}
    refused = logged_in.post(f"{page}/fields", data=typed, headers={"Referer": BASE_URL + page},
                             follow_redirects=False)
    assert refused.status_code == 403 and refused.headers["content-type"].startswith("text/html")
    assert refused.headers["cache-control"] == "no-store"
    html = refused.text
    assert 'lang="fr"' in html and "La page avait expiré" in html and "Rien n’a été modifié" in html
    assert f'<a href="{page}">Revenir à la page</a>' in html
    assert "Se déconnecter" in html  # the editor layout, logged in (the other tab's session)
    assert ">Le marché ce matin</textarea>" in html
    assert "Deux lignes\nd’introduction &lt;b&gt;</textarea>" in html  # escaped, line kept
    assert "csrf" not in html.split("Votre texte")[1].lower()  # the token is not shown back
    assert _subject(logged_in.store, edition) == ""
    english = logged_in.post(f"{page}/fields", data=typed, follow_redirects=False,
                             headers={"Referer": BASE_URL + page, "Accept-Language": "en"})
    assert english.status_code == 403 and "The page had expired" in english.text


def test_the_pages_javascript_gets_the_refusal_as_json_in_the_editors_language(
    logged_in: TestClient,
) -> None:
    edition = _draft(logged_in.store)
    stale = _log_out_and_in_elsewhere(logged_in)
    url = f"/editor/editions/{edition}/fields"
    script = {"Accept": "application/json", "X-CSRF-Token": stale}
    refused = logged_in.post(url, data={"subject": "x"}, headers=script)
    assert refused.status_code == 403
    assert refused.json() == {"error": "Cette page a expiré. Rechargez-la (copiez d’abord votre "
                                       "texte), puis refaites la modification."}
    english = logged_in.post(url, data={"subject": "x"}, headers={**script, "Accept-Language": "en"})
    assert english.json()["error"].startswith("This page has expired. Reload it")
    fresh = csrf_of(logged_in.get("/editor").text)
    assert logged_in.post("/editor/logout", data={"csrf_token": fresh}).status_code == 200
    ended = logged_in.post(url, data={"subject": "x"}, headers=script)
    assert ended.status_code == 403
    assert ended.json()["error"].startswith("Votre session a pris fin. Reconnectez-vous")
    assert _subject(logged_in.store, edition) == ""


def test_a_form_sent_after_the_session_ended_leads_to_the_login_then_back(logged_in: TestClient) -> None:
    edition = _draft(logged_in.store)
    page = f"/editor/editions/{edition}"
    token = logged_in.csrf
    assert logged_in.post("/editor/logout", data={"csrf_token": token}).status_code == 200
    refused = logged_in.post(f"{page}/fields", data={"summary": "x", "title": "Mon titre", "csrf_token": token},
                             headers={"Referer": BASE_URL + page}, follow_redirects=False)
    assert refused.status_code == 403 and "Votre session a pris fin" in refused.text
    login = f"/editor/login?next=/editor/editions/{edition}"
    assert f'<a href="{login}">Se reconnecter et revenir à la page</a>' in refused.text
    assert ">Mon titre</textarea>" in refused.text and "Se déconnecter" not in refused.text
    form = logged_in.get(login).text
    assert f'name="next" value="{page}"' in form
    back = logged_in.post("/editor/login", data={"name": EDITOR, "password": PASSWORD, "next": page,
                                                 "csrf_token": csrf_of(form)}, follow_redirects=False)
    assert back.headers["location"] == page and _subject(logged_in.store, edition) == ""


@pytest.mark.parametrize("referer", [
    "https://evil.example/editor/editions/1",  # another site
    "https://evil.example/editor",
    BASE_URL + "//evil.example/editor",  # a path that a browser reads as another host
    BASE_URL + "/archive",  # not an editor page
    BASE_URL + "/editorial",
    BASE_URL + "/editor/subscribers/import",  # the answer to a POST: no page to go back to
    "",  # none sent
])
def test_the_way_back_is_an_editor_page_of_this_site_only(logged_in: TestClient, referer: str) -> None:
    stale = _log_out_and_in_elsewhere(logged_in)
    headers = {"Referer": referer} if referer else {}
    refused = logged_in.post("/editor/sources", data={"csrf_token": stale, "summary": "planted text"},
                             headers=headers, follow_redirects=False)
    assert refused.status_code == 403
    assert '<a href="/editor">Revenir au tableau de bord</a>' in refused.text
    assert "planted text" not in refused.text  # a forged form's text is never shown back


def test_the_way_back_keeps_the_pages_query(logged_in: TestClient) -> None:
    stale = _log_out_and_in_elsewhere(logged_in)
    page = "/editor/subscribers?q=dupont&page=2"
    refused = logged_in.post("/editor/logout", data={"csrf_token": stale}, headers={"Referer": BASE_URL + page})
    assert refused.status_code == 403
    assert '<a href="/editor/subscribers?q=dupont&amp;page=2">' in refused.text
