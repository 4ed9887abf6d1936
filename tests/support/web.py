"""What the web app tests share: a clock the test moves, and a configuration with lists."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from newsletter.config import Config
from . import ROOT

SECRET = "a-test-secret-that-is-long-enough"


class Clock:
    def __init__(self) -> None:
        self.now = time.time()  # the store stamps changes with the real time

    def __call__(self) -> float:
        return self.now


def web_config(
    make_config: Callable[..., Config], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lists: str,
    **web: Any,
) -> Config:
    """A configuration over TMP_PATH: subscribers/lists.toml holding LISTS, the repository's
    templates, an outbox folder, the [web] section WEB; NEWSLETTER_SECRET_KEY set."""
    monkeypatch.setenv("NEWSLETTER_SECRET_KEY", SECRET)
    folder = tmp_path / "subscribers"
    folder.mkdir()
    (folder / "lists.toml").write_text(lists, encoding="utf-8")
    return make_config(
        paths={"subscribers": str(folder), "templates": str(ROOT / "templates"),
               "outbox": str(tmp_path / "outbox")},
        web=web,
    )
