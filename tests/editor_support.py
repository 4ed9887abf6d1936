"""Fixtures for the editor pages: the real app over the test store, an editor, a logged-in client.

Import them in a test module (``from .editor_support import editor_web_fixture, logged_in_fixture``).
``editor_web`` is an anonymous TestClient on https://news.example.org (so the session cookie is
Secure); ``logged_in`` is the same client after a real login as EDITOR / PASSWORD, with
``client.csrf`` holding the session's CSRF token for POSTs.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from newsletter.accounts import add_editor
from newsletter.audience.lists import load_lists, sync_lists
from newsletter.store.db import Store
from newsletter.web import create_app

from .support.web import SECRET, Clock, web_config

EDITOR, PASSWORD = "salma", "correct horse battery"
BASE_URL = "https://news.example.org"
LISTS = """
[[lists]]
slug = "revue"
name = "Revue de presse"
from_name = "Revue"
from_address = "revue@example.org"
tags = ["economie", "culture"]
language = "fr"
schedule = "0 7 * * *"
timezone = "Africa/Casablanca"
review = "required"

[[lists]]
slug = "nashra"
name = "النشرة"
from_name = "النشرة"
from_address = "ar@example.org"
tags = ["culture"]
language = "ar"
"""


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html) or re.search(
        r'<meta name="csrf-token" content="([^"]+)"', html
    )
    assert found, "no CSRF token on the page"
    return found.group(1)


def log_in(client: TestClient, name: str = EDITOR, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    page = client.get("/editor/login")
    return client.post(
        "/editor/login",
        data={"name": name, "password": password, "csrf_token": csrf_of(page.text), "next": "/editor"},
        follow_redirects=False,
    )


@pytest.fixture(name="editor_web")
def editor_web_fixture(store: Store, make_config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    # fetch_private: the pages added by URL are on loopback servers
    config = web_config(make_config, tmp_path, monkeypatch, LISTS, base_url=BASE_URL, fetch_private=True)
    folder = tmp_path / "subscribers"
    with store.session() as session:
        sync_lists(session, load_lists(folder / "lists.toml"))
        add_editor(session, EDITOR, PASSWORD, email="salma@example.org")
        session.commit()
    clock = Clock()
    client = TestClient(create_app(config, store, clock=clock), base_url=BASE_URL)
    client.clock = clock  # type: ignore[attr-defined]
    client.config = config  # type: ignore[attr-defined]
    client.store = store  # type: ignore[attr-defined]
    client.outbox = tmp_path / "outbox"  # type: ignore[attr-defined]
    return client


@pytest.fixture(name="logged_in")
def logged_in_fixture(editor_web: TestClient) -> TestClient:
    response = log_in(editor_web)
    assert response.status_code == 303, response.text
    editor_web.csrf = csrf_of(editor_web.get("/editor").text)  # type: ignore[attr-defined]
    return editor_web
