"""The edition editor in Chromium against a real `newsletter serve` on the sample workspace:
log in, reorder by drag and by keyboard (and without JavaScript), edit a summary that a rebuild
keeps, add an article by URL from a local server, preview at both widths, approve and send to
the outbox, and find the sent edition in the public archive.

The tests share the module's workspace and server (tests/live_server.py): the French list's
draft is edited by the first tests, the Arabic list's draft is approved and sent by the last.
Each test reads the state it starts from instead of assuming what an earlier one left.
Screenshots: var/test-artifacts/test_browser_editor/ (see tests/live_server.py).
"""

from __future__ import annotations

import mailbox
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .live_server import LiveServer, Workspace, shoot
from .support.httpserver import LocalServer, Reply
from .test_editor_editions import ARTICLE_PAGE

EDITOR, PASSWORD, EMAIL = "salma", "correct horse battery", "salma@example.org"
NO_HORIZONTAL_SCROLL = "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
SEND_WAIT_SECONDS = 30.0  # a bound on the wait for the background send, not a speed check


@pytest.fixture(scope="module")
def editor_account(newsletter_workspace: Workspace) -> str:
    """An editor in the workspace's store, added the way a newsroom does it."""
    newsletter_workspace.cli("editors", "add", EDITOR, "--email", EMAIL,
                             input=f"{PASSWORD}\n{PASSWORD}\n")
    return EDITOR


@pytest.fixture(scope="module")
def article_site() -> Iterator[LocalServer]:
    """A newspaper's site on loopback, for adding an article by its URL."""
    with LocalServer() as server:
        body = ARTICLE_PAGE.format(published=time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()))
        server.route("/eco/tgv-marrakech", Reply(200, body.encode(), {"Content-Type": "text/html; charset=utf-8"}))
        yield server


def draft(server: LiveServer, slug: str) -> int:
    found = server.workspace.drafts.get(slug)
    if found is None:
        pytest.fail(f"the sample workspace built no draft for {slug}: {server.workspace.drafts}")
    return found.id


def log_in(page: Any, server: LiveServer, target: str) -> None:
    """Open TARGET, get sent to the login form, log in, and land back on TARGET; in French,
    the newsroom's language (headless Chromium asks for English)."""
    page.set_extra_http_headers({"Accept-Language": "fr-MA,fr;q=0.9"})
    page.goto(server.url + target)
    assert "/editor/login" in page.url
    page.get_by_label("Nom", exact=True).fill(EDITOR)
    page.get_by_label("Mot de passe", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(server.url + target)


def in_view(page: Any, selector: str) -> bool:
    """Whether the element SELECTOR is wholly inside the window, as the page is scrolled now."""
    return page.locator(selector).evaluate(
        "e => { const box = e.getBoundingClientRect();"
        " return box.top >= 0 && box.bottom <= window.innerHeight; }"
    )


def included_count(page: Any) -> int:
    """The header's count of included articles ("Articles inclus : 6")."""
    return int(re.findall(r"\d+", page.locator("#included-count").inner_text())[-1])


def order(page: Any, list_index: int) -> list[str]:
    return page.locator("ol[data-sortable]").nth(list_index).locator("li.item").evaluate_all(
        "items => items.map(li => li.dataset.item)"
    )


def longest_section(page: Any) -> int:
    """The index of a section with the most items (at least 3 in the sample's French draft)."""
    sizes = page.locator("ol[data-sortable]").evaluate_all("lists => lists.map(l => l.children.length)")
    best = max(range(len(sizes)), key=lambda i: sizes[i])
    assert sizes[best] >= 2, f"no section of the draft has two items to reorder: {sizes}"
    return best


def test_log_in_and_open_the_draft(live_server: LiveServer, editor_account: str, page: Any, artifacts: Path) -> None:
    edition = draft(live_server, "revue-fr")
    log_in(page, live_server, f"/editor/editions/{edition}")
    assert "Revue de presse" in page.locator("h1").inner_text()
    assert page.locator("html").get_attribute("lang") == "fr"
    assert page.locator("li.item").count() >= 3
    # an editor at 6:30 on a phone: the page fits the screen
    page.set_viewport_size({"width": 375, "height": 740})
    shoot(page, artifacts / "edition-375.png")
    assert page.evaluate(NO_HORIZONTAL_SCROLL), page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]")


def test_reorder_by_drag_and_drop(live_server: LiveServer, editor_account: str, page: Any) -> None:
    edition = draft(live_server, "revue-fr")
    log_in(page, live_server, f"/editor/editions/{edition}")
    section = longest_section(page)
    before = order(page, section)
    first, last = before[0], before[-1]
    with page.expect_response(lambda r: r.url.endswith(f"/items/{last}/move") and r.status == 200):
        page.locator(f"#item-{last} .handle").drag_to(
            page.locator(f"#item-{first}"), target_position={"x": 40, "y": 5}  # its top half: before it
        )
    expected = [last, *before[:-1]]
    assert order(page, section) == expected
    assert page.locator(f"#item-{last} .place").inner_text() == "1"
    page.reload()
    assert order(page, section) == expected  # the store has it


def test_reorder_by_keyboard(live_server: LiveServer, editor_account: str, page: Any) -> None:
    edition = draft(live_server, "revue-fr")
    log_in(page, live_server, f"/editor/editions/{edition}")
    section = longest_section(page)
    before = order(page, section)
    top = before[0]
    down = page.locator(f"#item-{top} button[data-direction='down']")
    down.focus()
    with page.expect_response(lambda r: r.url.endswith(f"/items/{top}/move")):
        page.keyboard.press("Enter")
    expected = [before[1], top, *before[2:]]
    page.wait_for_function(
        "([id, place]) => document.querySelector('#item-' + id + ' .place').textContent === place",
        arg=[top, "2"],
    )
    assert order(page, section) == expected
    # the keyboard stays on the moved item, ready to move it again: on Down, or on Up at the end
    focused = page.evaluate("[document.activeElement.closest('li.item').dataset.item,"
                            " document.activeElement.dataset.direction]")
    assert focused == [top, "down" if len(before) > 2 else "up"]
    with page.expect_response(lambda r: r.url.endswith(f"/items/{top}/move")):
        page.keyboard.press("Enter")
    again = [before[1], before[2], top, *before[3:]] if len(before) > 2 else before
    page.wait_for_function(
        "([id, place]) => document.querySelector('#item-' + id + ' .place').textContent === place",
        arg=[top, str(again.index(top) + 1)],
    )
    page.reload()
    assert order(page, section) == again


def test_reorder_without_javascript(live_server: LiveServer, editor_account: str, browser: Any) -> None:
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.set_default_timeout(10_000)
        edition = draft(live_server, "revue-fr")
        log_in(page, live_server, f"/editor/editions/{edition}")
        section = longest_section(page)
        before = order(page, section)
        assert page.locator(".handle").count() == 0 or not page.locator(".handle").first.is_visible()
        page.locator(f"#item-{before[1]} button[data-direction='up']").click()  # a plain form post
        page.wait_for_load_state()
        assert page.url.endswith(f"#item-{before[1]}")
        assert order(page, section)[:2] == [before[1], before[0]]
        # its message is in the moved item, where the page landed, not at the top of the page
        assert "Déplacée en position 1" in page.locator(f"#item-{before[1]} .messages").inner_text()
        assert in_view(page, f"#item-{before[1]} .messages")
    finally:
        context.close()


def test_leave_out_and_include_without_reloading(live_server: LiveServer, editor_account: str, page: Any) -> None:
    edition = draft(live_server, "revue-fr")
    log_in(page, live_server, f"/editor/editions/{edition}")
    item = page.locator("li.item").last
    item_id = item.get_attribute("data-item")
    title = item.get_attribute("data-title")
    assert not item.locator(".left-out").is_visible()
    count = included_count(page)
    page.evaluate("window.notReloaded = true")
    with page.expect_response(lambda r: r.url.endswith(f"/items/{item_id}/include")):
        item.get_by_role("button", name="Écarter").click()
    item.locator(".left-out").wait_for(state="visible")
    assert "excluded" in (item.get_attribute("class") or "")
    # the header counts it out at once, and the button is named for what it now does
    page.wait_for_function("n => document.getElementById('included-count').textContent.endsWith(n)",
                           arg=f"\u00a0: {count - 1}")
    button = item.locator("form.include button")
    assert button.get_attribute("aria-label") == f"Inclure\u00a0: {title}"
    with page.expect_response(lambda r: r.url.endswith(f"/items/{item_id}/include")):
        item.get_by_role("button", name="Inclure").click()
    item.locator(".left-out").wait_for(state="hidden")
    page.wait_for_function("n => document.getElementById('included-count').textContent.endsWith(n)",
                           arg=f"\u00a0: {count}")
    assert button.get_attribute("aria-label") == f"Écarter\u00a0: {title}"
    assert page.evaluate("window.notReloaded") is True
    page.reload()
    assert "excluded" not in (page.locator(f"#item-{item_id}").get_attribute("class") or "")


def test_edit_a_summary_and_keep_it_through_a_rebuild(live_server: LiveServer, editor_account: str, page: Any) -> None:
    edition = draft(live_server, "revue-fr")
    log_in(page, live_server, f"/editor/editions/{edition}")
    item = page.locator("li.item").first
    item_id = item.get_attribute("data-item")
    text = "Résumé réécrit par la rédaction, à 6 h 30, dans le navigateur."
    page.evaluate("window.notReloaded = true")
    summary = item.locator("textarea[name='summary']")
    summary.fill(text)
    with page.expect_response(lambda r: r.url.endswith(f"/items/{item_id}/text") and r.status == 200):
        summary.press("Tab")  # leaving the field saves it
    page.wait_for_function(
        "id => document.querySelector('#item-' + id + ' .save-state').textContent === 'Enregistré.'",
        arg=item_id,
    )
    assert page.evaluate("window.notReloaded") is True  # saved without reloading the page
    page.get_by_role("button", name="Reconstruire le brouillon").click()
    page.wait_for_load_state()
    assert "vos modifications conservées" in page.locator(".messages").inner_text()
    assert page.locator(f"#item-{item_id} textarea[name='summary']").input_value() == text


def test_add_an_article_by_its_url(
    live_server: LiveServer, editor_account: str, article_site: LocalServer, page: Any
) -> None:
    edition = draft(live_server, "revue-fr")
    log_in(page, live_server, f"/editor/editions/{edition}")
    page.get_by_label("Adresse de l’article").fill(article_site.url("/eco/tgv-marrakech"))
    page.get_by_label("Rubrique").select_option("transport")
    page.get_by_role("button", name="Ajouter l’article").click()
    page.wait_for_load_state()
    assert "Le train à grande vitesse prolongé vers Marrakech" in page.locator("#add .messages").inner_text()
    assert page.get_by_label("Adresse de l’article").input_value() == ""  # added: the field is free
    titles = page.locator("input[name='title']").evaluate_all("inputs => inputs.map(i => i.value)")
    assert "Le train à grande vitesse prolongé vers Marrakech" in titles
    assert article_site.requests and article_site.requests[-1].path == "/eco/tgv-marrakech"


def test_a_refused_url_is_explained_next_to_its_form_on_a_phone(
    live_server: LiveServer, editor_account: str, article_site: LocalServer, page: Any, artifacts: Path
) -> None:
    edition = draft(live_server, "revue-fr")
    log_in(page, live_server, f"/editor/editions/{edition}")
    page.set_viewport_size({"width": 375, "height": 740})
    gone = article_site.url("/gone")  # the newspaper's site answers 404
    page.get_by_label("Adresse de l’article").fill(gone)
    page.get_by_role("button", name="Ajouter l’article").click()
    page.wait_for_url(re.compile(r"#add$"))
    page.wait_for_load_state()
    message = page.locator("#add .messages .error")
    assert message.inner_text().startswith("Article non ajouté") and gone in message.inner_text()
    # where the editor is: the message and the field, which still holds what was pasted
    assert in_view(page, "#add .messages") and in_view(page, "#add input[name='url']")
    assert page.get_by_label("Adresse de l’article").input_value() == gone
    assert page.locator(".edition > .messages").count() == 0  # nothing at the top, out of sight
    assert page.evaluate(NO_HORIZONTAL_SCROLL)
    shoot(page, artifacts / "refused-url-375.png", full_page=False)


def test_preview_at_a_desktop_and_a_phone_width(
    live_server: LiveServer, editor_account: str, page: Any, artifacts: Path
) -> None:
    edition = draft(live_server, "revue-fr")
    log_in(page, live_server, f"/editor/editions/{edition}/preview")
    assert re.search(r"Taille de la partie HTML\u00a0: [\d,\u202f\u00a0]+ Ko", page.locator("#size").inner_text())
    assert "Revue de presse" in page.locator("pre.text-part").inner_text()
    for width in (600, 375):
        frame_element = page.locator(f"#frame-{width}")
        frame = frame_element.element_handle().content_frame()
        frame.wait_for_load_state()
        assert frame.evaluate("document.documentElement.clientWidth") == width
        assert f"Bonjour {EDITOR}" in frame.locator("body").inner_text()
        frame_element.screenshot(path=str(artifacts / f"preview-{width}.png"))
        if width == 375:
            scroll = frame.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
            assert frame.evaluate(NO_HORIZONTAL_SCROLL), f"the email is {scroll[0]} px wide in a {scroll[1]} px frame"
    shoot(page, artifacts / "preview.png")


def test_approve_send_to_the_outbox_and_find_it_in_the_archive(
    live_server: LiveServer, editor_account: str, page: Any, artifacts: Path
) -> None:
    workspace = live_server.workspace
    edition = draft(live_server, "nashra-ar")
    day = workspace.drafts["nashra-ar"].day
    log_in(page, live_server, f"/editor/editions/{edition}")
    assert page.locator("li.item textarea[name='summary']").first.get_attribute("dir") == "rtl"
    page.get_by_role("button", name="Approuver", exact=True).click()
    page.wait_for_load_state()
    assert page.locator(".badge.status-approved").count() == 1
    page.once("dialog", lambda dialog: dialog.accept())  # "send to every subscriber now?"
    page.get_by_role("button", name="Envoyer maintenant").click()
    page.wait_for_load_state()
    deadline = time.monotonic() + SEND_WAIT_SECONDS
    while page.locator(".badge.status-sent").count() == 0 and time.monotonic() < deadline:
        time.sleep(0.2)
        page.reload()
    assert page.locator(".badge.status-sent").count() == 1, page.locator(".edition-head").inner_text()
    shoot(page, artifacts / "sent.png")
    assert page.locator("form[action$='/approve'], form[action$='/rebuild']").count() == 0  # read-only
    box = mailbox.mbox(str(workspace.outbox / f"edition-{edition}.mbox"))
    try:
        recipients = sorted(m["To"] for m in box)
    finally:
        box.close()
    assert len(recipients) == 3 and any("fatima.zahra@example.ma" in r for r in recipients)
    # the public archive: the list's page links the edition, whose page is the email
    page.goto(f"{live_server.url}/archive/nashra-ar")
    assert page.locator(f"a[href$='/archive/nashra-ar/{day}']").count() >= 1
    response = page.goto(f"{live_server.url}/archive/nashra-ar/{day}")
    assert response is not None and response.status == 200
    assert page.locator("html").get_attribute("dir") == "rtl"
    assert "النشرة" in page.content() and "fatima.zahra" not in page.content()
    shoot(page, artifacts / "archive.png")
