"""Editions as a phone shows them, in Chromium: where the words of a mixed-script line land.

A source's name in the other script (a Latin name in an Arabic edition, an Arabic one in a
French edition) must not drag the date after it to the wrong side. Screenshots:
var/test-artifacts/test_browser_email/ (see tests/live_server.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from newsletter.render import render_edition

from .live_server import shoot
from .test_render import TEMPLATES, ar_edition, big_edition, en_edition, fr_edition

PHONE = {"width": 375, "height": 740}

# The left edge of each given piece of text inside the first element matching a selector.
LEFTS = """([selector, pieces]) => {
  const element = document.querySelector(selector);
  const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
  const lefts = {};
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (const piece of pieces) {
      const at = node.data.indexOf(piece);
      if (at < 0 || piece in lefts) continue;
      const range = document.createRange();
      range.setStart(node, at);
      range.setEnd(node, at + piece.length);
      lefts[piece] = range.getBoundingClientRect().left;
    }
  }
  return lefts;
}"""


def lefts(page: Any, selector: str, *pieces: str) -> dict[str, float]:
    found = page.evaluate(LEFTS, [selector, list(pieces)])
    assert set(found) == set(pieces), f"not all of {pieces} in {selector}: {found}"
    return found


def show(page: Any, html: str) -> None:
    page.set_viewport_size(PHONE)
    page.set_content(html)


def test_a_latin_source_keeps_the_date_after_it_in_an_arabic_line(
    page: Any, artifacts: Path
) -> None:
    view = ar_edition()
    view.sections[0].items[0].source = "Le Courrier de l'Économie"
    show(page, render_edition(view, TEMPLATES).html)
    shoot(page, artifacts / "ar-latin-source-375.png")
    at = lefts(page, ".meta", "Courrier", "27", "نونبر", "2026")
    # read right to left: the name, the dash, then "27 نونبر 2026"
    assert at["Courrier"] > at["27"] > at["نونبر"] > at["2026"], at


def test_an_arabic_source_keeps_the_date_after_it_in_a_french_line(
    page: Any, artifacts: Path
) -> None:
    view = fr_edition()
    view.sections[0].items[1].source = "هسبريس"
    show(page, render_edition(view, TEMPLATES).html)
    shoot(page, artifacts / "fr-arabic-source-375.png")
    second_meta = ".item:nth-of-type(2) .meta"
    at = lefts(page, second_meta, "هسبريس", "28", "novembre")
    assert at["هسبريس"] < at["28"] < at["novembre"], at


@pytest.mark.parametrize("edition", [fr_edition, en_edition, ar_edition, lambda: big_edition(12)])
def test_editions_fit_a_phone(page: Any, artifacts: Path, edition: Any) -> None:
    view = edition()
    show(page, render_edition(view, TEMPLATES).html)
    shoot(page, artifacts / f"{view.list_slug}-{view.language}-375.png")
    scroll, client = page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert scroll <= client, f"the edition is {scroll} px wide on a {client} px screen"
