"""The public pages in Chromium against a real `newsletter serve`: sign up, and a phone's width.

Screenshots: var/test-artifacts/test_browser_smoke/ (see tests/live_server.py).
"""

from __future__ import annotations

import mailbox
from pathlib import Path
from typing import Any

import pytest

from newsletter.web.pages import text

from .live_server import LiveServer, shoot

PHONE = {"width": 375, "height": 740}
NO_HORIZONTAL_SCROLL = "document.documentElement.scrollWidth <= document.documentElement.clientWidth"


def widths(page: Any) -> tuple[int, int]:
    return page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )


def test_subscribe_form_in_chromium(live_server: LiveServer, page: Any) -> None:
    page.goto(f"{live_server.url}/subscribe?list=revue-fr")
    assert page.locator("html").get_attribute("lang") == "fr"
    assert "Revue de presse" in page.locator("h1").inner_text()
    page.get_by_label("Adresse électronique").fill("lectrice.navigateur@example.org")
    page.get_by_label("Nom (facultatif)").fill("Lectrice Navigateur")
    page.get_by_role("button", name="S’inscrire").click()
    page.wait_for_load_state()
    assert page.locator("main p").inner_text() == text("check_mailbox", "fr")
    # The confirmation mail went to the workspace's outbox, to that address.
    box = mailbox.mbox(str(live_server.workspace.outbox / "edition-0.mbox"))
    recipients = [m["To"] for m in box]
    box.close()
    assert any("lectrice.navigateur@example.org" in (to or "") for to in recipients)


@pytest.mark.parametrize("slug, direction", [("revue-fr", "ltr"), ("nashra-ar", "rtl")])
def test_subscribe_page_fits_a_phone(
    live_server: LiveServer, page: Any, artifacts: Path, slug: str, direction: str
) -> None:
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/subscribe?list={slug}")
    assert page.locator("html").get_attribute("dir") == direction
    shoot(page, artifacts / f"subscribe-{slug}-375.png")
    scroll, client = widths(page)
    assert page.evaluate(NO_HORIZONTAL_SCROLL), f"page is {scroll} px wide in a {client} px screen"


def test_the_scroll_check_sees_a_page_too_wide(page: Any) -> None:
    page.set_viewport_size(PHONE)
    page.set_content('<!doctype html><meta name="viewport" content="width=device-width">'
                     '<div style="width: 600px">a table laid out for desktops</div>')
    scroll, client = widths(page)
    assert scroll > 600 and client == 375 and not page.evaluate(NO_HORIZONTAL_SCROLL)


def test_a_sent_edition_is_read_in_the_archive(live_server: LiveServer, page: Any, artifacts: Path) -> None:
    workspace = live_server.workspace
    draft = workspace.drafts["revue-fr"]
    workspace.cli("editions", "approve", str(draft.id))
    workspace.cli("editions", "send", str(draft.id))
    page.goto(f"{live_server.url}/archive")
    shoot(page, artifacts / "archive-index.png")
    page.get_by_role("link", name="Revue de presse").click()
    shoot(page, artifacts / "archive-list.png")
    page.locator(f'a[href="/archive/revue-fr/{draft.day}"]').click()
    page.wait_for_load_state()
    assert page.url == f"{live_server.url}/archive/revue-fr/{draft.day}"
    assert page.locator("html").get_attribute("lang") == "fr"
    assert page.locator("h1").first.inner_text() == "Revue de presse"
    shoot(page, artifacts / "archive-edition-1280.png")
    page.set_viewport_size(PHONE)
    shoot(page, artifacts / "archive-edition-375.png")
    scroll, client = widths(page)
    assert page.evaluate(NO_HORIZONTAL_SCROLL), f"page is {scroll} px wide in a {client} px screen"
    html = page.content()
    csv = (workspace.root / "subscribers" / "revue-fr.csv").read_text(encoding="utf-8")
    readers = [value for line in csv.splitlines()[1:] for value in line.split(",")[:2] if value]
    assert readers and [value for value in readers if value in html] == []
    assert "/unsubscribe/" not in html
    assert page.context.cookies() == []  # public pages set no cookie
